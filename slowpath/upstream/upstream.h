// The upstream engine shared by forward and proxy: one upstream server (its
// address, transport, connection cache, health state and counters) and the
// asynchronous exchange of one query with it.
//
// Exchanges run on the event loop of the calling coroutine. Idle connections
// are cached per event loop and per thread (see ConnCache in upstream.cc), so
// the query path takes no shared lock; health state is atomic.
#ifndef WARPDNS_SLOWPATH_UPSTREAM_UPSTREAM_H_
#define WARPDNS_SLOWPATH_UPSTREAM_UPSTREAM_H_

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "fastpath/wire/message.h"
#include "slowpath/chain/task.h"
#include "slowpath/upstream/stats.h"

namespace warpdns::slowpath::upstream {

namespace wire = ::warpdns::fastpath::wire;
using Clock = std::chrono::steady_clock;
using Duration = std::chrono::nanoseconds;

// One TO entry after parsing.
struct Endpoint {
  std::string addr;  // "127.0.0.1:53", "[::1]:853": the `to` label
  asio::ip::address ip;
  uint16_t port = 53;
  bool tls = false;
  std::string server_name;  // per-upstream TLS name (tls://IP%NAME), "" = none
};

// CoreDNS's parse.HostPortOrFile: each argument is IP, IP:PORT, [V6]:PORT,
// dns://..., tls://IP[%NAME][:PORT] (default port 853) or a resolv.conf-format
// file whose `nameserver` lines are taken (port 53). On error returns false
// and sets *error to CoreDNS's message ("not an IP address or file: ...").
bool ParseTo(const std::vector<std::string>& args, std::vector<Endpoint>* out, std::string* error);

class TlsContext;  // tls.h; null when no upstream uses TLS

// How an exchange reaches the upstream. TLS endpoints always use TLS.
enum class Net : uint8_t { kUdp, kTcp };

struct ExchangeResult {
  std::error_code error;  // set: no usable reply (network error, timeout)
  wire::Message reply;    // the reply with the query's ID restored
  bool truncated_udp = false;  // the UDP reply overflowed the buffer: reply is an empty TC=1 one
};

// True if `error` says nothing listens there (ICMP port unreachable, a TCP
// reset or refused connect). Asio's errors have a category of their own.
bool Refused(const std::error_code& error);

class Upstream {
 public:
  Upstream(Endpoint endpoint, std::shared_ptr<TlsContext> tls, std::shared_ptr<Stats> stats);
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  const std::string& addr() const { return endpoint_.addr; }
  const Endpoint& endpoint() const { return endpoint_; }
  Stats& stats() { return *stats_; }

  // Idle connections unused for longer than this are closed, not reused
  // (CoreDNS's `expire`). `max_idle` caps idle connections per loop and
  // thread (0 = no cap).
  void SetExpire(Duration expire) { expire_ = expire; }
  void SetMaxIdle(int max_idle) { max_idle_ = max_idle; }

  // Sends `query` under a fresh random ID and waits at most `timeout` for the
  // reply whose ID matches (other replies are ignored); connecting has its
  // own adaptive timeout. `udp_size` is the receive buffer for UDP (CoreDNS:
  // max(client's size, 512)). A cached TCP connection the upstream closed is
  // replaced transparently.
  Task<ExchangeResult> Exchange(const wire::Message& query, Net net, uint16_t udp_size,
                                Duration timeout);

  // Health: CoreDNS's fails counter, reset by a successful probe.
  uint32_t fails() const { return fails_.load(std::memory_order_relaxed); }
  bool Down(uint32_t max_fails) const { return max_fails != 0 && fails() > max_fails; }
  void AddFail() { fails_.fetch_add(1, std::memory_order_relaxed); }
  void ResetFails() { fails_.store(0, std::memory_order_relaxed); }
  // Takes one fail back (proxy's fail_timeout), never below zero.
  void ForgetFail() {
    uint32_t f = fails_.load(std::memory_order_relaxed);
    while (f > 0 && !fails_.compare_exchange_weak(f, f - 1, std::memory_order_relaxed)) {
    }
  }
  // In-flight exchanges (proxy's least_conn).
  int64_t conns() const { return conns_.load(std::memory_order_relaxed); }

  // True if this call started probing (one probe loop per upstream).
  bool TryStartProbing() { return !probing_.exchange(true, std::memory_order_acq_rel); }
  void StopProbing() { probing_.store(false, std::memory_order_release); }

 private:
  Task<ExchangeResult> ExchangeUdp(std::vector<uint8_t>& packet, uint16_t id, uint16_t udp_size,
                                   Duration timeout);
  Task<ExchangeResult> ExchangeStream(std::vector<uint8_t>& packet, uint16_t id, Duration timeout);
  // CoreDNS's adaptive dial timeout: twice the running average of connect
  // times, between 1s and 30s.
  Duration DialTimeout() const;
  void RecordDial(Duration took);

  const uint64_t id_;
  const Endpoint endpoint_;
  const std::shared_ptr<TlsContext> tls_;
  const std::shared_ptr<Stats> stats_;
  Duration expire_ = std::chrono::seconds(10);
  int max_idle_ = 0;
  std::atomic<uint32_t> fails_{0};
  std::atomic<int64_t> conns_{0};
  std::atomic<bool> probing_{false};
  std::atomic<int64_t> avg_dial_ns_;
};

// Probes upstreams after a failed exchange on a private event loop thread,
// CoreDNS's lazy health check: the first probe at once, then one every
// `interval` until a probe gets any reply at all (even SERVFAIL); each failed
// probe counts one fail. One checker per plugin instance; its destructor
// stops the probes.
class HealthChecker {
 public:
  struct Options {
    Duration interval = std::chrono::milliseconds(500);
    Duration timeout = std::chrono::seconds(1);
    bool recursion_desired = true;  // no_rec clears RD
    wire::Name domain;              // the probe asks `domain IN NS`, default "."
    Net net = Net::kUdp;            // force_tcp probes over TCP
  };
  explicit HealthChecker(Options options);
  ~HealthChecker();

  // Starts probing `u` unless it is already being probed. Thread-safe.
  void Check(std::shared_ptr<Upstream> u);

 private:
  Task<void> ProbeLoop(std::shared_ptr<Upstream> u);

  const Options options_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace warpdns::slowpath::upstream

#endif  // WARPDNS_SLOWPATH_UPSTREAM_UPSTREAM_H_
