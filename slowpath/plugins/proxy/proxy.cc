// proxy: the 2017 forwarding plugin (CoreDNS plugin/proxy, removed in 1.5.0),
// kept for Corefiles such as `proxy . /etc/resolv.conf`. Same upstream engine
// as forward; proxy's own selection, failure accounting and HTTP health checks.
#include <algorithm>
#include <asio.hpp>
#include <atomic>
#include <charconv>
#include <memory>
#include <random>

#include "slowpath/chain/plugin.h"
#include "slowpath/upstream/upstream.h"

namespace warpdns::slowpath::proxy {
namespace {

using namespace std::chrono_literals;
using upstream::Clock;
using upstream::Duration;
using upstream::Net;
using upstream::Upstream;

constexpr size_t kMaxUpstreams = 15;
// How long one query keeps trying hosts (proxy's tryDuration).
constexpr Duration kTryDuration = 16s;
constexpr Duration kExchangeTimeout = 5s;
constexpr Duration kHttpCheckTimeout = 5s;

enum class Policy { kRandom, kLeastConn, kRoundRobin, kFirst };

std::mt19937& Rng() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return rng;
}

// One `proxy FROM TO...` line.
struct Group {
  wire::Name from;
  std::vector<wire::Name> except;
  std::vector<std::shared_ptr<Upstream>> hosts;
  Policy policy = Policy::kRandom;
  bool spray = false;
  bool force_tcp = false;
  int32_t max_fails = 1;
  Duration fail_timeout = 10s;
  std::string check_path;  // HTTP health check; empty: none
  uint16_t check_port = 0;
  Duration check_interval = 30s;
  std::atomic<uint32_t> robin{0};

  bool Down(const Upstream& u) const {
    return max_fails != 0 && static_cast<int64_t>(u.fails()) >= max_fails;
  }

  bool Allowed(const wire::Name& qname) const {
    if (qname.Equals(from)) return true;
    for (const wire::Name& e : except) {
      if (qname.IsSubdomainOf(e)) return false;
    }
    return true;
  }

  // healthcheck.Select: the policy's pick among hosts that are up; with
  // `spray` any host at random when none is.
  Upstream* Select(Host* host) {
    const size_t n = hosts.size();
    auto spray_pick = [&]() -> Upstream* {
      if (!spray) return nullptr;
      Upstream* u = hosts[Rng()() % n].get();
      host->Log("[WARNING] All hosts reported as down, spraying to target: " + u->addr());
      return u;
    };
    if (n == 1) return Down(*hosts[0]) ? spray_pick() : hosts[0].get();
    Upstream* pick = nullptr;
    switch (policy) {
      case Policy::kRandom: {
        int count = 0;  // reservoir sampling over the hosts that are up
        for (const auto& h : hosts) {
          if (Down(*h)) continue;
          if (++count == 1 || static_cast<int>(Rng()() % count) == count - 1) pick = h.get();
        }
        break;
      }
      case Policy::kLeastConn: {
        int64_t least = INT64_MAX;
        int count = 0;
        for (const auto& h : hosts) {
          if (Down(*h)) continue;
          const int64_t c = h->conns();
          if (c < least) {
            least = c;
            pick = h.get();
            count = 1;
          } else if (c == least) {
            ++count;
            if (static_cast<int>(Rng()() % count) == count - 1) pick = h.get();
          }
        }
        break;
      }
      case Policy::kRoundRobin: {
        const size_t start = (robin.fetch_add(1, std::memory_order_relaxed) + 1) % n;
        for (size_t k = 0; k < n && pick == nullptr; ++k) {
          Upstream* h = hosts[(start + k) % n].get();
          if (!Down(*h)) pick = h;
        }
        break;
      }
      case Policy::kFirst:
        for (const auto& h : hosts) {
          if (!Down(*h)) {
            pick = h.get();
            break;
          }
        }
        break;
    }
    return pick != nullptr ? pick : spray_pick();
  }
};

class Proxy : public Plugin {
 public:
  Proxy(std::vector<std::unique_ptr<Group>> groups, Host* host)
      : groups_(std::move(groups)),
        host_(host),
        work_(io_.get_executor()),
        thread_([this] { io_.run(); }) {
    for (const auto& g : groups_) {
      if (!g->check_path.empty()) asio::co_spawn(io_, CheckLoop(g.get()), asio::detached);
    }
  }

  ~Proxy() override {
    io_.stop();
    thread_.join();
  }

  std::string_view Name() const override { return "proxy"; }

  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    Group* g = Match(req.QName());
    if (g == nullptr) co_return co_await Next(req, w);
    const Net net = g->force_tcp || req.proto != Proto::kUdp ? Net::kTcp : Net::kUdp;
    const uint16_t udp_size = std::max(req.UdpSize(), wire::kMinUdpSize);
    const Clock::time_point start = Clock::now();
    std::string backend_error;
    while (Clock::now() - start < kTryDuration) {
      Upstream* u = g->Select(host_);
      if (u == nullptr) co_return Result{wire::rcode::kServFail, "unreachable backend: no upstream host"};
      upstream::ExchangeResult r = co_await u->Exchange(req.msg, net, udp_size, kExchangeTimeout);
      if (!r.error) {
        if (r.reply.question.size() != 1 || !r.reply.header.qr() ||
            !r.reply.question[0].name.Equals(req.QName()) ||
            r.reply.question[0].type != req.QType()) {
          wire::Message formerr = wire::MakeReply(req.msg);
          formerr.SetRcode(wire::rcode::kFormErr);
          w.WriteMsg(formerr);
          co_return Result{};
        }
        w.WriteMsg(r.reply);
        co_return Result{};
      }
      backend_error = r.error == std::errc::timed_out ? "i/o timeout" : r.error.message();
      // A timeout may be the upstream's upstream dropping the query: try
      // again without holding it against this host.
      if (r.error == std::errc::timed_out) continue;
      u->AddFail();
      // The failure counts for fail_timeout only.
      asio::co_spawn(io_, ForgetLater(Shared(*g, u), g->fail_timeout), asio::detached);
    }
    co_return Result{wire::rcode::kServFail, "unreachable backend: " + backend_error};
  }

 private:
  // The group with the longest FROM that matches and does not except the name.
  Group* Match(const wire::Name& qname) const {
    Group* best = nullptr;
    for (const auto& g : groups_) {
      if (!qname.IsSubdomainOf(g->from) || !g->Allowed(qname)) continue;
      if (best == nullptr || g->from.size() > best->from.size()) best = g.get();
    }
    return best;
  }

  static std::shared_ptr<Upstream> Shared(const Group& g, Upstream* u) {
    for (const auto& h : g.hosts) {
      if (h.get() == u) return h;
    }
    return nullptr;
  }

  Task<void> ForgetLater(std::shared_ptr<Upstream> u, Duration after) {
    asio::steady_timer timer(io_, after);
    co_await timer.async_wait(asio::use_awaitable);
    u->ForgetFail();
  }

  // Every interval, GET http://HOST:PORT/PATH of each host: 2xx/3xx resets
  // its fails, anything else (or no answer) adds one.
  Task<void> CheckLoop(Group* g) {
    asio::steady_timer timer(io_);
    for (;;) {
      for (const auto& h : g->hosts) {
        if (h->TryStartProbing()) asio::co_spawn(io_, HttpCheck(g, h), asio::detached);
      }
      timer.expires_after(g->check_interval);
      co_await timer.async_wait(asio::use_awaitable);
    }
  }

  Task<void> HttpCheck(Group* g, std::shared_ptr<Upstream> h) {
    // Shared with the deadline handler, which may run after we are done.
    auto socket_ptr = std::make_shared<asio::ip::tcp::socket>(io_);
    asio::ip::tcp::socket& socket = *socket_ptr;
    asio::steady_timer deadline(io_, kHttpCheckTimeout);
    deadline.async_wait([socket_ptr](const asio::error_code& ec) {
      asio::error_code ignored;
      if (!ec) socket_ptr->close(ignored);
    });
    asio::error_code ec;
    co_await socket.async_connect({h->endpoint().ip, g->check_port},
                                  asio::redirect_error(asio::use_awaitable, ec));
    const std::string request = "GET " + g->check_path + " HTTP/1.0\r\nHost: " +
                                h->endpoint().ip.to_string() + ":" +
                                std::to_string(g->check_port) + "\r\n\r\n";
    if (!ec) {
      co_await asio::async_write(socket, asio::buffer(request),
                                 asio::redirect_error(asio::use_awaitable, ec));
    }
    std::string response;
    if (!ec) {
      co_await asio::async_read_until(socket, asio::dynamic_buffer(response), "\r\n",
                                      asio::redirect_error(asio::use_awaitable, ec));
    }
    deadline.cancel();
    // "HTTP/1.x NNN ..."
    int status = 0;
    if (!ec && response.size() > 12) {
      std::from_chars(response.data() + 9, response.data() + 12, status);
    }
    if (status >= 200 && status < 400) {
      h->ResetFails();
    } else {
      h->AddFail();
      host_->Log("[WARNING] Host " + h->addr() + " health check " +
                 (ec ? "probe failed: " + ec.message()
                     : "returned HTTP code " + std::to_string(status)));
    }
    h->StopProbing();
  }

  const std::vector<std::unique_ptr<Group>> groups_;
  Host* host_;
  // Fail expiry and HTTP checks run here, off the query path.
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

bool NormalizeZone(const config::Token& t, wire::Name* out) {
  std::vector<config::Address> addresses;
  std::string unused;
  if (!config::ParseAddressKey(t, 53, &addresses, &unused) || addresses.empty()) return false;
  return wire::Name::FromText(addresses[0].zone, out);
}

std::unique_ptr<Group> ParseGroup(const config::Directive& d, std::string* error) {
  auto fail = [&](const config::Token& at, const std::string& message) {
    *error = "plugin/proxy: " + config::ErrorAt(at, message);
    return nullptr;
  };
  auto arg_error = [&](const config::Token& at) {
    *error = "plugin/proxy: " + config::ArgErrorAt(at);
    return nullptr;
  };
  if (d.args.size() < 2) return arg_error(d.args.empty() ? d.name : d.args.back());
  auto g = std::make_unique<Group>();
  if (!NormalizeZone(d.args[0], &g->from)) {
    return fail(d.args[0], "unable to normalize '" + d.args[0].text + "'");
  }
  std::vector<std::string> to;
  for (size_t k = 1; k < d.args.size(); ++k) to.push_back(d.args[k].text);
  std::vector<upstream::Endpoint> endpoints;
  std::string reason;
  if (!upstream::ParseTo(to, &endpoints, &reason)) return fail(d.args[1], reason);
  if (endpoints.size() > kMaxUpstreams) {
    return fail(d.args[1], "more than " + std::to_string(kMaxUpstreams) + " TOs configured: " +
                               std::to_string(endpoints.size()));
  }
  for (const upstream::Endpoint& e : endpoints) {
    if (e.tls) return fail(d.args[1], "tls:// upstreams need forward, not proxy");
  }

  for (const config::Directive& opt : d.block) {
    const std::string& key = opt.name.text;
    const std::vector<config::Token>& a = opt.args;
    if (key == "policy") {
      if (a.size() != 1) return arg_error(a.empty() ? opt.name : a[1]);
      const std::string& p = a[0].text;
      if (p == "random") {
        g->policy = Policy::kRandom;
      } else if (p == "least_conn") {
        g->policy = Policy::kLeastConn;
      } else if (p == "round_robin") {
        g->policy = Policy::kRoundRobin;
      } else if (p == "first" || p == "always_first") {
        g->policy = Policy::kFirst;
      } else {
        return arg_error(a[0]);
      }
    } else if (key == "fail_timeout") {
      if (a.size() != 1) return arg_error(a.empty() ? opt.name : a[1]);
      int64_t ns = 0;
      if (std::string why; !config::ParseDuration(a[0].text, &ns, &why)) {
        return fail(a[0], why);
      }
      g->fail_timeout = Duration(ns);
    } else if (key == "max_fails") {
      if (a.size() != 1) return arg_error(a.empty() ? opt.name : a[1]);
      const std::string& t = a[0].text;
      int v = 0;
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc() || p != t.data() + t.size()) {
        return fail(a[0], "strconv.Atoi: parsing \"" + t + "\": invalid syntax");
      }
      g->max_fails = v;
    } else if (key == "health_check") {
      if (a.empty() || a.size() > 2) return arg_error(a.empty() ? opt.name : a[2]);
      const std::string& target = a[0].text;
      const size_t colon = target.rfind(':');
      int port = 0;
      if (colon == std::string::npos) {
        return fail(a[0], "address " + target + ": missing port in address");
      }
      auto [p, ec] = std::from_chars(target.data() + colon + 1, target.data() + target.size(), port);
      if (ec != std::errc() || p != target.data() + target.size() || port <= 0 || port > 65535) {
        return fail(a[0], "invalid health check port in " + target);
      }
      g->check_path = target.substr(0, colon);
      if (g->check_path.empty() || g->check_path[0] != '/') g->check_path = "/" + g->check_path;
      g->check_port = static_cast<uint16_t>(port);
      if (a.size() == 2) {
        int64_t ns = 0;
        if (!config::ParseDuration(a[1].text, &ns) || ns <= 0) {
          return fail(a[1], "time: invalid duration \"" + a[1].text + "\"");
        }
        g->check_interval = Duration(ns);
      }
    } else if (key == "except") {
      if (a.empty()) return arg_error(opt.name);
      for (const config::Token& t : a) {
        wire::Name zone;
        if (!NormalizeZone(t, &zone)) return fail(t, "unable to normalize '" + t.text + "'");
        g->except.push_back(zone);
      }
    } else if (key == "spray") {
      g->spray = true;
    } else if (key == "protocol") {
      if (a.empty()) return arg_error(opt.name);
      if (a[0].text == "dns") {
        if (a.size() > 2 || (a.size() == 2 && a[1].text != "force_tcp")) {
          return fail(a[1], "only force_tcp allowed as parameter to dns");
        }
        g->force_tcp = a.size() == 2;
      } else if (a[0].text == "https_google" || a[0].text == "grpc") {
        return fail(a[0], "protocol " + a[0].text + " is not supported by warpdns");
      } else {
        return fail(a[0], "invalid protocol: " + a[0].text);
      }
    } else {
      return fail(opt.name, "unknown property '" + key + "'");
    }
  }
  for (upstream::Endpoint& e : endpoints) {
    // proxy's CoreDNS metrics are not forward's: counted, not exported.
    auto stats = std::make_shared<upstream::Stats>(e.addr, false);
    g->hosts.push_back(std::make_shared<Upstream>(std::move(e), nullptr, std::move(stats)));
  }
  return g;
}

// CoreDNS reads every proxy line of a block into one plugin (the longest
// FROM wins), so the first line's setup takes them all.
std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive* first = nullptr;
  for (const config::Directive& d : ctx.block.directives) {
    if (d.name.text == ctx.directive.name.text) {
      first = &d;
      break;
    }
  }
  if (first != &ctx.directive) return nullptr;
  std::vector<std::unique_ptr<Group>> groups;
  for (const config::Directive& d : ctx.block.directives) {
    if (d.name.text != ctx.directive.name.text) continue;
    std::unique_ptr<Group> g = ParseGroup(d, error);
    if (!g) return nullptr;
    groups.push_back(std::move(g));
  }
  return std::make_unique<Proxy>(std::move(groups), ctx.host);
}

const Registrar kRegistrar({"proxy", Setup, false});

}  // namespace
}  // namespace warpdns::slowpath::proxy
