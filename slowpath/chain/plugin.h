// The slow-path plugin chain: CoreDNS's handler contract in C++.
#ifndef WARPDNS_SLOWPATH_CHAIN_PLUGIN_H_
#define WARPDNS_SLOWPATH_CHAIN_PLUGIN_H_

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/corefile.h"
#include "fastpath/table/replay.h"
#include "fastpath/wire/message.h"
#include "slowpath/chain/task.h"

namespace warpdns::slowpath {

namespace wire = ::warpdns::fastpath::wire;

enum class Proto : uint8_t { kUdp, kTcp, kTls, kHttps, kGrpc };
std::string_view ProtoName(Proto p);  // "udp", "tcp" (tls/https/grpc log as "tcp")

struct Chain;

// One query as the chain sees it (CoreDNS's request.Request).
class Plugin;

struct Request {
  wire::Message msg;               // the parsed query (mutable: rewrite, bufsize)
  sockaddr_storage remote{};
  sockaddr_storage local{};
  Proto proto = Proto::kUdp;
  size_t size = 0;                 // request length in octets
  std::string server;              // listener label, "dns://:53"
  std::string zone;                // the block zone that matched ("." ...)
  int64_t start_ns = 0;            // CLOCK_MONOTONIC at receive
  std::map<std::string, std::string> metadata;
  // The plugin currently serving the request (set by Plugin::Next): a writer
  // records it as the `plugin` label of coredns_dns_responses_total.
  std::string_view active_plugin;
  // The chain that served the request (null: the server answered itself).
  const Chain* chain = nullptr;
  // Cleared by a plugin whose answer for this request depended on more than
  // the query and the data (an answer resolved through another chain).
  bool memoizable = true;
  // The publisher's prebuild asked, not a client: nothing is counted or logged.
  bool prebuild = false;
  // A plugin's lookup through the server (Host::Resolve), not a client's
  // query: not counted or logged either (the client's query is, once).
  bool internal = false;
  // A client sent it: what the metrics count and the log shows.
  bool FromClient() const { return !prebuild && !internal; }
  // How the fast path may replay the reply (cache aging, loadbalance
  // shuffles), filled in by the plugins that make it vary.
  fastpath::ReplaySpec replay;
  // The plugin that answered from a snapshot of its own (a cache hit): the
  // reply may be memoized if every plugin before it is Deterministic(),
  // whatever those after it are.
  const Plugin* replay_from = nullptr;

  const wire::Name& QName() const { return msg.question.at(0).name; }
  std::string QNameText() const;   // lowercased, with trailing dot
  uint16_t QType() const { return msg.question.at(0).type; }
  uint16_t QClass() const { return msg.question.at(0).qclass; }
  bool Do() const { return msg.edns.present && msg.edns.dnssec_ok(); }
  // CoreDNS's Size(): 512 without OPT on UDP (min 512 with one), 65535 on TCP.
  uint16_t UdpSize() const;
  std::string RemoteIp() const;    // "127.0.0.1", "::1"
  uint16_t RemotePort() const;
  std::string LocalIp() const;
  uint16_t LocalPort() const;
  int Family() const;              // 1 IPv4, 2 IPv6
  // The reply depends on data `source` at `generation` (fastpath/table/
  // generation.h), read before the source's copy: the fast path will skip
  // it once the source has changed. A reply depending on two sources is
  // not memoized.
  void DependsOn(uint16_t source, uint32_t generation);
};

// Where a plugin writes its answer. Wrappers (log, metrics, rewrite) wrap it.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // Sends the reply. Fills in nothing: callers build complete messages (see
  // wire::MakeReply). Truncation to the client's size happens here.
  virtual void WriteMsg(const wire::Message& reply) = 0;
  virtual bool Written() const = 0;
  // Octets sent to the client (after compression and truncation); wrappers
  // delegate to the writer they wrap.
  virtual size_t Len() const { return 0; }
};

// CoreDNS's (rcode, error) return. Rcodes SERVFAIL, REFUSED, FORMERR and
// NOTIMP mean "nothing was written, the caller must"; others mean written.
struct Result {
  int rcode = wire::rcode::kNoError;
  std::string error;  // empty: no error
};

// True for the four "caller must write" rcodes: the negation of CoreDNS's
// plugin.ClientWrite, named for what the caller has to do.
bool CallerMustWrite(int rcode);

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual std::string_view Name() const = 0;
  // A coroutine: plugins that wait (forward, backends) co_await on the
  // event loop of the thread serving the request.
  virtual Task<Result> ServeDns(Request& req, ResponseWriter& w) = 0;
  // True when the reply depends only on the query's bytes and the data (the
  // generation of fastpath::DataGeneration()): no client address, clock,
  // randomness or side effect, except what Request::replay describes and
  // the fast path reproduces (a cache's TTL aging, loadbalance's shuffle).
  // A chain made only of such plugins may have its UDP replies memoized
  // for the fast path.
  virtual bool Deterministic() const { return false; }
  // Questions whose answers are worth building before anyone asks: the owner
  // names and types this plugin answers from its data, and one NODATA type
  // per name. Appended to `out` while it holds fewer than `limit`. The
  // publisher's prebuild runs them through the chain (deterministic chains
  // only) whenever the data changes.
  virtual void PrebuildQuestions(std::vector<wire::Question>* /*out*/, size_t /*limit*/) const {}
  // Called once after the chain is linked.
  void SetNext(Plugin* next) { next_ = next; }
  Plugin* next() const { return next_; }

 protected:
  // NextOrFailure: SERVFAIL "plugin/<name>: no next plugin found" at the end.
  Task<Result> Next(Request& req, ResponseWriter& w);

 private:
  Plugin* next_ = nullptr;
};

// Process-wide services a plugin may register during setup (HTTP endpoints,
// background tasks, shutdown hooks). Implemented by control/.
class Host {
 public:
  virtual ~Host() = default;
  // Registers an HTTP handler at ADDRESS ("127.0.0.1:8080", ":8080") + path.
  // The handler returns (status, body).
  // Called with the request's query string (after '?', empty if none).
  using HttpHandler = std::function<std::pair<int, std::string>(const std::string& query)>;
  virtual bool AddHttpEndpoint(const std::string& address, const std::string& path,
                               HttpHandler handler, std::string* error) = 0;
  // Runs `task` every `period_ms` on a background thread until shutdown.
  virtual void Every(int64_t period_ms, std::function<void()> task) = 0;
  // Called at shutdown (SIGTERM), before listeners close, in order.
  virtual void OnShutdown(std::function<void()> hook) = 0;
  // Writes one log line to stdout ("[INFO] ...", "[ERROR] ...").
  virtual void Log(std::string_view line) = 0;
  // Resolves a question through this server's own routing and chains (the
  // file plugin's "upstream = self" for out-of-zone CNAME targets). `depth`
  // guards against loops: callers pass their own depth + 1.
  virtual Task<wire::Message> Resolve(const wire::Name& name, uint16_t type, bool dnssec_ok,
                                      int depth) = 0;
  // The `reload` plugin: poll the Corefile every interval (plus jitter).
  virtual void EnableReload(int64_t /*interval_ms*/, int64_t /*jitter_ms*/) {}
  // A plugin that can be not ready (kubernetes before its first sync)
  // registers how to ask; the `ready` plugin reports them all.
  virtual void AddReadyCheck(std::string /*plugin*/, std::function<bool()> /*is_ready*/) {}
  // Names of the plugins not ready now (sorted, each once); "lameduck"
  // while shutting down. Unless `recheck`, a plugin once ready is not asked
  // again (`monitor until-ready`).
  virtual std::vector<std::string> NotReady(bool /*recheck*/) { return {}; }
};

// What a plugin's setup sees: the directive, the block and the host.
struct SetupContext {
  const config::Directive& directive;
  const config::ServerBlock& block;
  std::vector<std::string> zones;  // the block's zones, lowercase FQDN
  std::string root;                // `root` plugin directory ("" = cwd); set by root
  std::vector<std::string> bind;   // `bind` addresses (empty = all); set by bind
  Host* host = nullptr;
};

// Setup returns a plugin for the query path, or nullptr for setup-only
// directives (health, root, ...). On error sets *error ("plugin/NAME: FILE:LINE
// - Error during parsing: ...") and returns nullptr.
using SetupFn = std::function<std::unique_ptr<Plugin>(SetupContext& ctx, std::string* error)>;

struct PluginSpec {
  std::string_view name;
  SetupFn setup;
  bool once_per_block = false;  // "this plugin can only be used once per Server Block"
};

// Registry of implemented plugins. Each plugin registers itself from its own
// folder with a static Registrar (see slowpath/plugins/*/).
void RegisterPlugin(PluginSpec spec);
const PluginSpec* FindPlugin(std::string_view name);
std::vector<std::string_view> RegisteredPluginNames();

struct Registrar {
  explicit Registrar(PluginSpec spec) { RegisterPlugin(std::move(spec)); }
};

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_CHAIN_PLUGIN_H_
