// A DNS server: one listen address (transport + bind address + port) and the
// server blocks registered on it, with CoreDNS's server-level rules
// (core/dnsserver/server.go) in front of the plugin chains.
#ifndef WARPDNS_SLOWPATH_CHAIN_SERVER_H_
#define WARPDNS_SLOWPATH_CHAIN_SERVER_H_

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath {

// One server block's plugins, linked in plugin.cfg order.
struct Chain {
  std::vector<std::string> zones;
  std::vector<std::unique_ptr<Plugin>> plugins;
  Plugin* head() const { return plugins.empty() ? nullptr : plugins.front().get(); }
  // Every plugin is Deterministic(): replies may be memoized.
  bool Deterministic() const { return ReplayableBefore(nullptr); }
  // Every plugin before `p` is Deterministic() and `p` is in the chain; with
  // `p` null, every plugin of a non-empty chain.
  bool ReplayableBefore(const Plugin* p) const {
    for (const auto& q : plugins) {
      if (q.get() == p) return true;
      if (!q->Deterministic()) return false;
    }
    return p == nullptr && !plugins.empty();
  }
};

// Why a packet was not served normally, and recovered plugin failures.
// Counted per listen address and kept across reloads (the Server is
// rebuilt, the counters are not); exported as metrics. Parse reasons mirror
// wire::ParseError.
struct ServerCounters {
  std::array<std::atomic<uint64_t>, static_cast<size_t>(wire::ParseError::kCount)> formerr{};
  std::atomic<uint64_t> dropped_short{0};     // shorter than a header: no reply possible
  std::atomic<uint64_t> dropped_response{0};  // QR set: never answer a response
  std::atomic<uint64_t> notimp{0};            // opcode other than QUERY/NOTIFY
  std::atomic<uint64_t> panics{0};            // a plugin threw: SERVFAIL
};

// Collects the reply a chain writes, serialised to the transport's size
// limit: CoreDNS's scrub writer (truncation with TC to the client's UDP size,
// and, given the query's EDNS, its OPT reflected in the reply).
class BufferWriter : public ResponseWriter {
 public:
  BufferWriter(size_t max_size, std::vector<uint8_t>* out, wire::Message* keep = nullptr,
               const wire::Edns* query_edns = nullptr)
      : max_size_(max_size), out_(out), keep_(keep), query_edns_(query_edns) {}
  void WriteMsg(const wire::Message& reply) override;
  bool Written() const override { return written_; }
  size_t Len() const override { return out_->size(); }

 private:
  size_t max_size_;
  std::vector<uint8_t>* out_;
  wire::Message* keep_;
  const wire::Edns* query_edns_;
  bool written_ = false;
};

class Server {
 public:
  // `label` is CoreDNS's server label, "dns://:53" or "dns://127.0.0.1:53".
  Server(std::string label, std::shared_ptr<ServerCounters> counters)
      : label_(std::move(label)), counters_(std::move(counters)) {}
  // Counters of its own (tests, internal servers).
  explicit Server(std::string label)
      : Server(std::move(label), std::make_shared<ServerCounters>()) {}

  const std::string& label() const { return label_; }
  // Registers `chain` for `zone` (lowercase FQDN). Several configs may share
  // a zone only through views (not supported yet): the config parser
  // already rejects duplicates.
  void AddZone(const std::string& zone, std::shared_ptr<Chain> chain);
  // Loading chaos, forward or proxy on a listener accepts non-IN classes.
  void AllowNonInClasses() { class_chaos_ = true; }
  // No reply of this server may be replayed by the fast path (it shares its
  // port with a server bound to another address).
  void ForbidMemoizing() { memoizing_forbidden_ = true; }
  std::vector<std::string> Zones() const;
  // Every chain registered, once each.
  std::vector<std::shared_ptr<Chain>> Chains() const;

  enum class Admission { kDrop, kReply, kServe };

  // The synchronous first half of serving a raw query received on `proto`:
  // miekg/dns's accept rules and the parse. kDrop: send nothing. kReply:
  // *reply holds the reject reply (FORMERR, NOTIMP). kServe: *req is ready
  // for Respond(). `pkt` is not referenced afterwards. Thread-safe.
  Admission Admit(const uint8_t* pkt, size_t len, const sockaddr_storage& remote,
                  const sockaddr_storage& local, Proto proto, Request* req,
                  std::vector<uint8_t>* reply);

  // Serves an admitted request and serialises the reply for its transport
  // into *reply (left empty when nothing is to be sent). Runs on the event
  // loop of the calling thread; `req` and `reply` must outlive it.
  Task<void> Respond(Request& req, std::vector<uint8_t>* reply);

  // Whether the reply just produced for `req` may be memoized: a
  // deterministic chain wrote a NOERROR or NXDOMAIN reply without TC.
  static bool Memoizable(const Request& req, const std::vector<uint8_t>& reply);
  // What of Memoizable does not depend on the reply.
  static bool MayMemoize(const Request& req);
  // How the fast path replays `req`'s memoizable reply and what it counts.
  static const fastpath::ReplaySpec& Replay(const Request& req) { return req.replay; }

  // Admit, then Respond: the whole path for tests and simple callers.
  Task<void> Handle(std::vector<uint8_t> pkt, sockaddr_storage remote, sockaddr_storage local,
                    Proto proto, std::vector<uint8_t>* reply);

  // Runs a parsed request through routing and the chains (ServeDNS).
  Task<void> Serve(Request& req, ResponseWriter& w);

  const ServerCounters& counters() const { return *counters_; }
  // Requests admitted and not yet answered: a retired configuration is
  // freed only once this drops to zero.
  int64_t in_flight() const { return in_flight_.load(std::memory_order_acquire); }

 private:
  // Picks the chain for a question (longest zone, DS to the parent, "." as
  // the catch-all). False when no block serves it.
  bool Route(const Request& req, const Chain** chain, std::string* zone) const;

  std::string label_;
  std::map<std::string, std::vector<std::shared_ptr<Chain>>> zones_;
  bool class_chaos_ = false;
  bool memoizing_forbidden_ = false;
  std::shared_ptr<ServerCounters> counters_;
  std::atomic<int64_t> in_flight_{0};
};

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_CHAIN_SERVER_H_
