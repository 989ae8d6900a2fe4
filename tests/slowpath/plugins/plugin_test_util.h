// Test doubles for plugin tests: a Host that records what plugins ask of it,
// a ResponseWriter that keeps what was written, a scriptable next plugin, and
// setup of a plugin from Corefile text through the registry.
#ifndef WARPDNS_TESTS_SLOWPATH_PLUGINS_PLUGIN_TEST_UTIL_H_
#define WARPDNS_TESTS_SLOWPATH_PLUGINS_PLUGIN_TEST_UTIL_H_

#include <arpa/inet.h>
#include <time.h>

#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/corefile.h"
#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::testutil {

namespace wire = ::warpdns::fastpath::wire;

class FakeHost : public Host {
 public:
  struct PeriodicTask {
    int64_t period_ms;
    std::function<void()> run;
  };

  bool AddHttpEndpoint(const std::string&, const std::string&, HttpHandler, std::string*) override {
    return true;
  }
  void Every(int64_t period_ms, std::function<void()> task) override {
    tasks.push_back({period_ms, std::move(task)});
  }
  void OnShutdown(std::function<void()> hook) override {
    shutdown_hooks.push_back(std::move(hook));
  }
  void Log(std::string_view line) override {
    std::lock_guard lock(mu_);
    lines_.emplace_back(line);
  }
  Task<wire::Message> Resolve(const wire::Name&, uint16_t, bool, int) override {
    co_return wire::Message{};
  }

  // Runs every periodic task once, as if each period had elapsed.
  void RunTasks() {
    for (PeriodicTask& t : tasks) t.run();
  }
  void RunShutdown() {
    for (auto& hook : shutdown_hooks) hook();
  }
  std::vector<std::string> Lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }
  void ClearLines() {
    std::lock_guard lock(mu_);
    lines_.clear();
  }

  std::vector<PeriodicTask> tasks;
  std::vector<std::function<void()>> shutdown_hooks;

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

class RecordingWriter : public ResponseWriter {
 public:
  void WriteMsg(const wire::Message& reply) override { replies.push_back(reply); }
  bool Written() const override { return !replies.empty(); }
  const wire::Message& reply() const { return replies.back(); }

  std::vector<wire::Message> replies;
};

// The next plugin in a test chain: runs `handler` and counts the calls.
class StubPlugin : public Plugin {
 public:
  using Handler = std::function<Result(Request&, ResponseWriter&)>;
  explicit StubPlugin(Handler handler) : handler_(std::move(handler)) {}
  std::string_view Name() const override { return "stub"; }
  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    ++calls;
    co_return handler_(req, w);
  }

  int calls = 0;

 private:
  Handler handler_;
};

// Returns `rcode` (and `error`) without writing anything.
inline std::unique_ptr<StubPlugin> ReturnRcode(int rcode, std::string error = "") {
  return std::make_unique<StubPlugin>([rcode, error](Request&, ResponseWriter&) {
    return Result{rcode, error};
  });
}

// Writes `reply` adjusted to the query (ID, question) and returns NOERROR.
inline std::unique_ptr<StubPlugin> WriteReply(std::function<void(wire::Message*)> fill) {
  return std::make_unique<StubPlugin>([fill](Request& req, ResponseWriter& w) {
    wire::Message reply = wire::MakeReply(req.msg);
    fill(&reply);
    w.WriteMsg(reply);
    return Result{};
  });
}

inline wire::Name MustName(std::string_view text) {
  wire::Name name;
  if (!wire::Name::FromText(text, &name)) throw std::invalid_argument(std::string(text));
  return name;
}

inline wire::Rr MakeRr(std::string_view owner, uint16_t type, uint32_t ttl,
                       std::vector<uint8_t> rdata) {
  wire::Rr rr;
  rr.name = MustName(owner);
  rr.type = type;
  rr.ttl = ttl;
  rr.rdata = std::move(rdata);
  return rr;
}

inline sockaddr_storage SockAddr(const std::string& ip, uint16_t port) {
  sockaddr_storage ss{};
  if (ip.find(':') == std::string::npos) {
    auto& a4 = reinterpret_cast<sockaddr_in&>(ss);
    a4.sin_family = AF_INET;
    a4.sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &a4.sin_addr);
  } else {
    auto& a6 = reinterpret_cast<sockaddr_in6&>(ss);
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(port);
    inet_pton(AF_INET6, ip.c_str(), &a6.sin6_addr);
  }
  return ss;
}

inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// A query as the server hands it to a chain: RD set, from 10.240.0.1:40212
// over UDP to 127.0.0.1:53, received now.
inline Request MakeRequest(std::string_view qname, uint16_t qtype,
                           uint16_t qclass = wire::qclass::kIn) {
  Request req;
  req.msg.header.id = 4242;
  req.msg.header.SetFlag(wire::flag::kRd, true);
  req.msg.header.qdcount = 1;
  req.msg.question.push_back({MustName(qname), qtype, qclass});
  req.remote = SockAddr("10.240.0.1", 40212);
  req.local = SockAddr("127.0.0.1", 53);
  req.server = "dns://:53";
  req.zone = ".";
  req.start_ns = NowNs();
  return req;
}

// Plugins set up from Corefile text, with the parsed file kept alive.
struct Loaded {
  config::Corefile corefile;
  std::vector<std::unique_ptr<Plugin>> plugins;  // the non-null setup results
  std::string error;                             // parse or setup error

  Plugin* get() const { return plugins.empty() ? nullptr : plugins.front().get(); }
};

// Parses `corefile` and runs the registered setup of `name` for each of its
// directives in the first server block, as the chain builder does.
inline Loaded Load(std::string_view corefile, std::string_view name, Host* host,
                   const std::string& root = "") {
  Loaded out;
  auto parsed = config::ParseCorefile(corefile, "Corefile", {}, &out.error);
  if (!parsed) return out;
  out.corefile = std::move(*parsed);
  const PluginSpec* spec = FindPlugin(name);
  if (spec == nullptr) {
    out.error = "plugin " + std::string(name) + " is not registered";
    return out;
  }
  const config::ServerBlock& block = out.corefile.blocks.at(0);
  std::vector<std::string> zones;
  for (const config::Address& a : block.addresses) zones.push_back(a.zone);
  for (const config::Directive& d : block.directives) {
    if (d.name.text != name) continue;
    SetupContext ctx{d, block, zones, root, {}, host};
    std::unique_ptr<Plugin> plugin = spec->setup(ctx, &out.error);
    if (!out.error.empty()) return out;
    if (plugin != nullptr) out.plugins.push_back(std::move(plugin));
  }
  return out;
}

}  // namespace warpdns::slowpath::testutil

#endif  // WARPDNS_TESTS_SLOWPATH_PLUGINS_PLUGIN_TEST_UTIL_H_
