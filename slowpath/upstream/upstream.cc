#include "slowpath/upstream/upstream.h"

#include <asio.hpp>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <unordered_map>

#include "slowpath/upstream/tls.h"

namespace warpdns::slowpath::upstream {
namespace {

constexpr uint16_t kDnsPort = 53;
constexpr uint16_t kTlsPort = 853;
constexpr Duration kMinDialTimeout = std::chrono::seconds(1);
constexpr Duration kMaxDialTimeout = std::chrono::seconds(30);
// How often a thread's cache drops the pools of upstreams nobody used for
// longer than their expiry (removed plugins, say).
constexpr Duration kSweepInterval = std::chrono::seconds(10);

std::atomic<uint64_t> next_upstream_id{1};
std::atomic<uint64_t> next_cache_serial{1};

uint16_t RandomId() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return static_cast<uint16_t>(rng());
}

std::string HostPort(const asio::ip::address& ip, uint16_t port) {
  if (ip.is_v6()) return "[" + ip.to_string() + "]:" + std::to_string(port);
  return ip.to_string() + ":" + std::to_string(port);
}

bool ParsePort(std::string_view text, uint16_t* port) {
  if (text.empty() || text.size() > 5) return false;
  uint32_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v == 0 || v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

// "IP", "IP:PORT" or "[V6]:PORT" (Go's net.SplitHostPort then ParseIP).
bool ParseHostPort(std::string_view text, uint16_t default_port, asio::ip::address* ip,
                   uint16_t* port) {
  asio::error_code ec;
  std::string host(text);
  *port = default_port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find("]:");
    if (close == std::string_view::npos || !ParsePort(text.substr(close + 2), port)) return false;
    host = std::string(text.substr(1, close - 1));
  } else if (asio::ip::make_address(host, ec), ec) {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || !ParsePort(text.substr(colon + 1), port)) return false;
    host = std::string(text.substr(0, colon));
  }
  *ip = asio::ip::make_address(host.substr(0, host.find('%')), ec);
  return !ec;
}

// What one exchange holds exclusively: a connected socket. `gen` changes
// whenever the connection changes hands, so a late deadline timer never
// closes a connection that has moved on to another query.
struct UdpConn {
  explicit UdpConn(const asio::any_io_executor& ex) : socket(ex) {}
  asio::ip::udp::socket socket;
  Clock::time_point used;
  uint64_t gen = 0;
};

struct StreamConn {
  explicit StreamConn(const asio::any_io_executor& ex) : socket(ex) {}
  asio::ip::tcp::socket socket;
  std::unique_ptr<TlsStream> tls;  // declared after socket: destroyed first
  Clock::time_point used;
  uint64_t gen = 0;
};

// Idle connections of one upstream, newest at the back: taken from the back
// (the warmest, as CoreDNS's LIFO cache), expired from the front.
template <typename Conn>
class IdleList {
 public:
  std::shared_ptr<Conn> Take(Clock::time_point now, Duration expire) {
    while (!conns_.empty() && now - conns_.front()->used > expire) conns_.pop_front();
    if (conns_.empty()) return nullptr;
    std::shared_ptr<Conn> c = std::move(conns_.back());
    conns_.pop_back();
    return c;
  }
  void Put(std::shared_ptr<Conn> c, int max_idle) {
    if (max_idle > 0 && static_cast<int>(conns_.size()) >= max_idle) conns_.pop_front();
    conns_.push_back(std::move(c));
  }
  bool empty() const { return conns_.empty(); }
  void Expire(Clock::time_point now, Duration expire) {
    while (!conns_.empty() && now - conns_.front()->used > expire) conns_.pop_front();
  }

 private:
  std::deque<std::shared_ptr<Conn>> conns_;
};

struct Pool {
  IdleList<UdpConn> udp;
  IdleList<StreamConn> stream;
  Clock::time_point used;
  Duration expire{};
};

// One thread's pools on one event loop.
struct Slot {
  std::unordered_map<uint64_t, Pool> pools;  // by Upstream::id()
  Clock::time_point last_sweep;

  Pool& For(uint64_t upstream, Duration expire, Clock::time_point now) {
    if (now - last_sweep > kSweepInterval) {
      last_sweep = now;
      for (auto it = pools.begin(); it != pools.end();) {
        it->second.udp.Expire(now, it->second.expire);
        it->second.stream.Expire(now, it->second.expire);
        const bool idle = now - it->second.used > it->second.expire;
        it = idle && it->second.udp.empty() && it->second.stream.empty() ? pools.erase(it)
                                                                         : std::next(it);
      }
    }
    Pool& p = pools[upstream];
    p.used = now;
    p.expire = expire;
    return p;
  }
};

// The connection cache of one event loop (an Asio service, so it lives and
// dies with the io_context and closes its sockets while the loop exists).
// Each thread running the loop has its own slot: the TCP listener runs one
// loop on several threads, and a coroutine may resume on another thread
// than it started on, which is fine: the slot is only ever touched by the
// thread it belongs to, and sockets are bound to the loop, not the thread.
class ConnCache : public asio::execution_context::service {
 public:
  inline static asio::execution_context::id id;

  explicit ConnCache(asio::execution_context& ctx)
      : asio::execution_context::service(ctx), serial_(next_cache_serial.fetch_add(1)) {}

  static Slot& ForThisThread(const asio::any_io_executor& ex) {
    ConnCache& cache =
        asio::use_service<ConnCache>(asio::query(ex, asio::execution::context));
    // A serial, not the address: a new loop may reuse a destroyed one's.
    thread_local uint64_t cached_serial = 0;
    thread_local Slot* cached_slot = nullptr;
    if (cached_serial != cache.serial_) {
      std::lock_guard lock(cache.mu_);
      std::unique_ptr<Slot>& slot = cache.slots_[std::this_thread::get_id()];
      if (!slot) slot = std::make_unique<Slot>();
      cached_serial = cache.serial_;
      cached_slot = slot.get();
    }
    return *cached_slot;
  }

 private:
  void shutdown() override {
    std::lock_guard lock(mu_);
    slots_.clear();
  }

  const uint64_t serial_;
  std::mutex mu_;  // guards slots_ (a thread's first use only)
  std::unordered_map<std::thread::id, std::unique_ptr<Slot>> slots_;
};

// Closes `conn`'s socket at `deadline` unless the exchange finished first
// (the generation moved on). Works for any operation, TLS included, because
// closing the socket aborts whatever is pending on it.
template <typename Conn>
class Watchdog {
 public:
  Watchdog(const asio::any_io_executor& ex, std::shared_ptr<Conn> conn,
           Clock::time_point deadline)
      : timer_(ex, deadline) {
    const uint64_t gen = conn->gen;
    timer_.async_wait([conn = std::move(conn), gen](const asio::error_code& ec) {
      if (!ec && conn->gen == gen) {
        asio::error_code ignored;
        conn->socket.close(ignored);
      }
    });
  }
  ~Watchdog() { timer_.cancel(); }
  bool Expired() const { return timer_.expiry() <= Clock::now(); }

 private:
  asio::steady_timer timer_;
};

std::error_code Timeout() { return std::make_error_code(std::errc::timed_out); }

// A closed-by-peer cached connection: CoreDNS's ErrCachedClosed.
bool PeerClosed(const std::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

// The nameservers of a resolv.conf-format file as "IP:53" (resolv.conf has
// no port). False if the file cannot be read.
bool ReadResolvConf(const std::string& path, std::vector<std::string>* servers) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key, value;
    if (!(fields >> key >> value) || key != "nameserver") continue;
    asio::error_code ec;
    asio::ip::address ip = asio::ip::make_address(value.substr(0, value.find('%')), ec);
    if (ec) continue;
    servers->push_back(HostPort(ip, kDnsPort));
  }
  return true;
}

}  // namespace

bool Refused(const std::error_code& error) {
  return error == asio::error::connection_refused || error == asio::error::connection_reset;
}

bool ParseTo(const std::vector<std::string>& args, std::vector<Endpoint>* out,
             std::string* error) {
  for (const std::string& arg : args) {
    std::string_view text = arg;
    bool tls = false;
    if (text.starts_with("dns://")) {
      text.remove_prefix(6);
    } else if (text.starts_with("tls://")) {
      text.remove_prefix(6);
      tls = true;
    } else if (const size_t scheme = text.find("://"); scheme != std::string_view::npos) {
      *error = "unsupported transport " + std::string(text.substr(0, scheme)) + ":// in \"" +
               arg + "\"";
      return false;
    }
    if (text.empty()) {
      *error = "invalid address: \"" + arg + "\"";
      return false;
    }
    Endpoint e;
    e.tls = tls;
    std::string host(text);
    if (const size_t pct = host.find('%'); tls && pct != std::string::npos) {
      // tls://IP%NAME[:PORT]: the TLS server name of this upstream.
      std::string rest = host.substr(pct + 1);
      const size_t colon = rest.find(':');
      e.server_name = rest.substr(0, colon);
      host = host.substr(0, pct) + (colon == std::string::npos ? "" : rest.substr(colon));
    }
    if (ParseHostPort(host, tls ? kTlsPort : kDnsPort, &e.ip, &e.port)) {
      e.addr = HostPort(e.ip, e.port);
      out->push_back(std::move(e));
      continue;
    }
    std::vector<std::string> servers;
    if (!ReadResolvConf(std::string(text), &servers)) {
      *error = "not an IP address or file: \"" + std::string(text) + "\"";
      return false;
    }
    for (const std::string& s : servers) {
      Endpoint f;
      ParseHostPort(s, kDnsPort, &f.ip, &f.port);
      f.addr = s;
      out->push_back(std::move(f));
    }
  }
  if (out->empty()) {
    *error = "no nameservers found";
    return false;
  }
  return true;
}

Upstream::Upstream(Endpoint endpoint, std::shared_ptr<TlsContext> tls,
                   std::shared_ptr<Stats> stats)
    : id_(next_upstream_id.fetch_add(1)),
      endpoint_(std::move(endpoint)),
      tls_(std::move(tls)),
      stats_(std::move(stats)),
      avg_dial_ns_(std::chrono::duration_cast<Duration>(kMaxDialTimeout / 2).count()) {}

Upstream::~Upstream() = default;

Duration Upstream::DialTimeout() const {
  const Duration avg(avg_dial_ns_.load(std::memory_order_relaxed));
  if (avg < kMinDialTimeout) return kMinDialTimeout;
  if (avg < kMaxDialTimeout / 2) return 2 * avg;
  return kMaxDialTimeout;
}

void Upstream::RecordDial(Duration took) {
  const int64_t avg = avg_dial_ns_.load(std::memory_order_relaxed);
  avg_dial_ns_.fetch_add((took.count() - avg) / 4, std::memory_order_relaxed);
}

Task<ExchangeResult> Upstream::Exchange(const wire::Message& query, Net net, uint16_t udp_size,
                                        Duration timeout) {
  ExchangeResult result;
  std::vector<uint8_t> packet;
  if (wire::WriteMessage(query, wire::kMaxMessageSize, &packet) == 0) {
    result.error = std::make_error_code(std::errc::message_size);
    co_return result;
  }
  const uint16_t id = RandomId();
  packet[0] = static_cast<uint8_t>(id >> 8);
  packet[1] = static_cast<uint8_t>(id);
  conns_.fetch_add(1, std::memory_order_relaxed);
  if (net == Net::kUdp && !endpoint_.tls) {
    result = co_await ExchangeUdp(packet, id, udp_size, timeout);
  } else {
    result = co_await ExchangeStream(packet, id, timeout);
  }
  conns_.fetch_sub(1, std::memory_order_relaxed);
  if (!result.error) {
    result.reply.header.id = query.header.id;
  } else if (result.truncated_udp) {
    // The reply did not fit: its header (flags and rcode as the upstream set
    // them) with TC=1 and no records makes the client retry over TCP
    // (CoreDNS's truncateResponse).
    const uint16_t flags = result.reply.header.flags;
    result.error = {};
    result.reply = wire::MakeReply(query);
    result.reply.header.flags = flags;
    result.reply.header.SetFlag(wire::flag::kTc, true);
  }
  co_return result;
}

Task<ExchangeResult> Upstream::ExchangeUdp(std::vector<uint8_t>& packet, uint16_t id,
                                           uint16_t udp_size, Duration timeout) {
  ExchangeResult result;
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  const Clock::time_point now = Clock::now();
  const Clock::time_point deadline = now + timeout;
  std::shared_ptr<UdpConn> conn =
      ConnCache::ForThisThread(ex).For(id_, expire_, now).udp.Take(now, expire_);
  stats_->ConnCache(ConnProto::kUdp, conn != nullptr);
  if (!conn) {
    conn = std::make_shared<UdpConn>(ex);
    asio::error_code ec;
    const asio::ip::udp::endpoint to(endpoint_.ip, endpoint_.port);
    // An upstream port in the ephemeral range can be handed out as our own
    // source port: such a socket would read its own query back.
    for (int attempt = 0;; ++attempt) {
      conn->socket.close(ec);
      conn->socket.open(to.protocol(), ec);
      if (!ec) conn->socket.connect(to, ec);
      if (ec || conn->socket.local_endpoint(ec) != to) break;
      if (attempt == 2) {
        ec = asio::error::address_in_use;
        break;
      }
    }
    if (ec) {
      result.error = ec;
      co_return result;
    }
  }
  Watchdog<UdpConn> watchdog(ex, conn, deadline);
  asio::error_code send_ec;
  co_await conn->socket.async_send(asio::buffer(packet),
                                   asio::redirect_error(asio::use_awaitable, send_ec));
  if (send_ec) {
    result.error = watchdog.Expired() ? Timeout() : send_ec;
    co_return result;
  }
  // One octet more than allowed tells an oversized reply apart.
  std::vector<uint8_t> buffer(size_t{udp_size} + 1);
  for (;;) {
    asio::error_code ec;
    const size_t n = co_await conn->socket.async_receive(
        asio::buffer(buffer), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      // An ICMP port unreachable arrives here as connection_refused.
      result.error = watchdog.Expired() ? Timeout() : ec;
      co_return result;
    }
    // Stray datagrams (late replies to an earlier, timed-out query on this
    // socket) are skipped.
    if (n < 12 || ((buffer[0] << 8) | buffer[1]) != id) continue;
    if (n > udp_size) {
      result.error = std::make_error_code(std::errc::message_size);
      result.truncated_udp = true;
      result.reply.header.flags = static_cast<uint16_t>((buffer[2] << 8) | buffer[3]);
      break;
    }
    if (wire::ParseMessage(buffer.data(), n, &result.reply) != wire::ParseError::kOk) {
      result.error = std::make_error_code(std::errc::bad_message);
      co_return result;
    }
    break;
  }
  ++conn->gen;
  conn->used = Clock::now();
  // Looked up again: the coroutine may have resumed on another thread.
  ConnCache::ForThisThread(ex).For(id_, expire_, conn->used).udp.Put(std::move(conn), max_idle_);
  co_return result;
}

Task<ExchangeResult> Upstream::ExchangeStream(std::vector<uint8_t>& packet, uint16_t id,
                                              Duration timeout) {
  ExchangeResult result;
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  const ConnProto proto = endpoint_.tls ? ConnProto::kTls : ConnProto::kTcp;
  const uint8_t prefix[2] = {static_cast<uint8_t>(packet.size() >> 8),
                             static_cast<uint8_t>(packet.size())};
  packet.insert(packet.begin(), prefix, prefix + 2);
  for (;;) {
    const Clock::time_point now = Clock::now();
    std::shared_ptr<StreamConn> conn =
        ConnCache::ForThisThread(ex).For(id_, expire_, now).stream.Take(now, expire_);
    const bool cached = conn != nullptr;
    stats_->ConnCache(proto, cached);
    if (!conn) {
      conn = std::make_shared<StreamConn>(ex);
      Watchdog<StreamConn> watchdog(ex, conn, now + DialTimeout());
      std::error_code ec;
      const asio::ip::tcp::endpoint to(endpoint_.ip, endpoint_.port);
      co_await conn->socket.async_connect(to, asio::redirect_error(asio::use_awaitable, ec));
      // TCP's simultaneous open can connect a socket to itself likewise.
      if (!ec && conn->socket.local_endpoint(ec) == to) ec = asio::error::connection_refused;
      if (!ec && endpoint_.tls) {
        if (!tls_) {
          result.error = std::make_error_code(std::errc::protocol_not_supported);
          co_return result;
        }
        conn->tls = tls_->NewStream(conn->socket, endpoint_.server_name, endpoint_.ip.to_string());
        ec = co_await conn->tls->Handshake();
      }
      if (ec) {
        result.error = watchdog.Expired() ? Timeout() : ec;
        co_return result;
      }
      RecordDial(Clock::now() - now);
      ++conn->gen;
    }
    Watchdog<StreamConn> watchdog(ex, conn, Clock::now() + timeout);
    std::error_code ec;
    if (conn->tls) {
      ec = co_await conn->tls->Write(packet.data(), packet.size());
    } else {
      co_await asio::async_write(conn->socket, asio::buffer(packet),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    std::vector<uint8_t> reply;
    while (!ec) {
      uint8_t len[2];
      if (conn->tls) {
        ec = co_await conn->tls->Read(len, 2);
      } else {
        co_await asio::async_read(conn->socket, asio::buffer(len),
                                  asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec) break;
      reply.resize((len[0] << 8) | len[1]);
      if (conn->tls) {
        ec = co_await conn->tls->Read(reply.data(), reply.size());
      } else {
        co_await asio::async_read(conn->socket, asio::buffer(reply),
                                  asio::redirect_error(asio::use_awaitable, ec));
      }
      if (ec) break;
      if (reply.size() >= 12 && ((reply[0] << 8) | reply[1]) == id) break;
    }
    if (ec) {
      // The upstream closed a connection we kept: dial afresh, uncounted.
      if (cached && PeerClosed(ec) && !watchdog.Expired()) continue;
      result.error = watchdog.Expired() ? Timeout() : ec;
      co_return result;
    }
    if (wire::ParseMessage(reply.data(), reply.size(), &result.reply) != wire::ParseError::kOk) {
      result.error = std::make_error_code(std::errc::bad_message);
      co_return result;
    }
    ++conn->gen;
    conn->used = Clock::now();
    ConnCache::ForThisThread(ex).For(id_, expire_, conn->used).stream.Put(std::move(conn),
                                                                         max_idle_);
    co_return result;
  }
}

HealthChecker::HealthChecker(Options options)
    : options_(std::move(options)), work_(io_.get_executor()), thread_([this] { io_.run(); }) {}

HealthChecker::~HealthChecker() {
  io_.stop();
  thread_.join();
}

void HealthChecker::Check(std::shared_ptr<Upstream> u) {
  if (!u->TryStartProbing()) return;
  asio::co_spawn(io_, ProbeLoop(std::move(u)), asio::detached);
}

Task<void> HealthChecker::ProbeLoop(std::shared_ptr<Upstream> u) {
  wire::Message probe;
  probe.header.SetFlag(wire::flag::kRd, options_.recursion_desired);
  probe.header.qdcount = 1;
  probe.question.push_back({options_.domain, wire::type::kNs, wire::qclass::kIn});
  asio::steady_timer timer(io_);
  for (;;) {
    ExchangeResult r =
        co_await u->Exchange(probe, options_.net, wire::kMinUdpSize, options_.timeout);
    // Any reply at all, even SERVFAIL, means the upstream is there.
    if (!r.error) {
      u->ResetFails();
      u->StopProbing();
      co_return;
    }
    u->AddFail();
    u->stats().HealthcheckFailure();
    timer.expires_after(options_.interval);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

}  // namespace warpdns::slowpath::upstream
