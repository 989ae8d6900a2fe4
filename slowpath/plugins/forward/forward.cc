// forward: sends queries to upstream resolvers over UDP, TCP or TLS with
// health checking and failover (CoreDNS plugin/forward).
#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <memory>
#include <random>

#include "slowpath/chain/plugin.h"
#include "slowpath/upstream/tls.h"
#include "slowpath/upstream/upstream.h"

namespace warpdns::slowpath::forward {
namespace {

using namespace std::chrono_literals;
using upstream::Clock;
using upstream::Duration;
using upstream::HealthChecker;
using upstream::Net;
using upstream::Upstream;

constexpr size_t kMaxUpstreams = 15;
// CoreDNS's defaultTimeout: the whole query, over every upstream tried.
constexpr Duration kQueryDeadline = 5s;

enum class Policy { kRandom, kRoundRobin, kSequential };

struct Options {
  wire::Name from;
  std::vector<wire::Name> except;
  bool force_tcp = false;
  bool prefer_udp = false;
  uint32_t max_fails = 2;
  Duration expire = 10s;
  int max_idle_conns = 0;
  Duration read_timeout = 2s;
  Policy policy = Policy::kRandom;
  HealthChecker::Options health;
  int64_t max_concurrent = 0;
  std::string max_concurrent_text;  // as written, for the error
  std::vector<int> next_rcodes;
  std::vector<int> failover_rcodes;
  bool failfast = false;
};

std::mt19937& Rng() {
  thread_local std::mt19937 rng{std::random_device{}()};
  return rng;
}

// Go's error text: lowercase first letter.
std::string ErrorText(const std::error_code& ec) {
  if (ec == std::errc::timed_out) return "i/o timeout";
  std::string text = ec.message();
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

class Forward : public Plugin {
 public:
  Forward(Options options, std::vector<std::shared_ptr<Upstream>> upstreams)
      : options_(std::move(options)), upstreams_(std::move(upstreams)) {
    if (options_.max_fails != 0) health_ = std::make_unique<HealthChecker>(options_.health);
  }

  std::string_view Name() const override { return "forward"; }

  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    if (!Match(req.QName())) co_return co_await Next(req, w);

    // Counted for the whole query, as CoreDNS's deferred decrement.
    struct InFlight {
      std::atomic<int64_t>* n;
      ~InFlight() {
        if (n != nullptr) n->fetch_sub(1, std::memory_order_relaxed);
      }
    } in_flight{nullptr};
    if (options_.max_concurrent > 0) {
      in_flight.n = &concurrent_;
      if (concurrent_.fetch_add(1, std::memory_order_relaxed) + 1 > options_.max_concurrent) {
        upstream::Stats::CountMaxConcurrentReject();
        co_return Result{wire::rcode::kRefused,
                         "concurrent queries exceeded maximum " + options_.max_concurrent_text};
      }
    }

    const size_t n = upstreams_.size();
    std::array<Upstream*, kMaxUpstreams> list;
    List(list.data());
    const Clock::time_point deadline = Clock::now() + kQueryDeadline;
    std::string upstream_error;
    size_t fails = 0;
    uint32_t failed = 0;  // bit k: upstreams_[k] failed an exchange for this query
    size_t i = 0;
    while (Clock::now() < deadline) {
      if (i >= n) {  // wrapped around: start over
        i = 0;
        fails = 0;
      }
      Upstream* u = list[i++];
      if (u->Down(options_.max_fails)) {
        if (++fails < n) continue;
        // All down: assume the health checks are what is broken and try a
        // random upstream anyway, unless told to fail fast.
        upstream::Stats::CountHealthcheckBroken();
        u = upstreams_[Rng()() % n].get();
        if (options_.failfast) break;
      }

      Net net = options_.force_tcp     ? Net::kTcp
                : options_.prefer_udp  ? Net::kUdp
                : req.proto == Proto::kUdp ? Net::kUdp
                                           : Net::kTcp;
      const uint16_t udp_size = std::max(req.UdpSize(), wire::kMinUdpSize);
      const Clock::time_point start = Clock::now();
      upstream::ExchangeResult r;
      for (;;) {
        r = co_await u->Exchange(req.msg, net, udp_size, options_.read_timeout);
        // prefer_udp asked for UDP: a truncated answer is retried once over TCP.
        if (!r.error && r.reply.header.tc() && options_.prefer_udp && net == Net::kUdp) {
          net = Net::kTcp;
          continue;
        }
        break;
      }

      if (r.error) {
        upstream_error = std::string(net == Net::kUdp && !u->endpoint().tls ? "read udp " : "read tcp ") +
                         u->addr() + ": " + ErrorText(r.error);
        // Find out whether it is our upstream that is broken.
        if (health_) health_->Check(Shared(u));
        // A refused exchange is the answer a probe would get: it counts as a
        // failed health check, so under load a dead upstream is down within
        // milliseconds instead of after two more probe intervals.
        if (health_ && upstream::Refused(r.error)) {
          u->AddFail();
          u->stats().HealthcheckFailure();
        }
        // CoreDNS goes round the list again until the health checks have
        // marked every upstream down (about a second for refused
        // connections); one failed exchange with each upstream is enough to
        // answer SERVFAIL (or let serve_stale answer) at once.
        failed |= 1u << Index(u);
        if (fails < n && !AllFailedOrDown(failed)) continue;
        break;
      }
      u->stats().Reply(r.reply.Rcode(), Clock::now() - start);

      if (!ReplyMatches(req, r.reply)) {
        wire::Message formerr = wire::MakeReply(req.msg);
        formerr.SetRcode(wire::rcode::kFormErr);
        w.WriteMsg(formerr);
        co_return Result{};
      }
      const int rcode = r.reply.Rcode();
      // failover: the next upstream, until each has answered one of these (or failed);
      // then the last reply is the answer (CoreDNS would go round again until the
      // deadline).
      if (Contains(options_.failover_rcodes, rcode)) {
        failed |= 1u << Index(u);
        if (!AllFailedOrDown(failed)) continue;
      }
      if (Contains(options_.next_rcodes, rcode) && next() != nullptr &&
          next()->Name() == "forward") {
        co_return co_await Next(req, w);
      }
      req.metadata["forward/upstream"] = u->addr();
      w.WriteMsg(r.reply);
      co_return Result{};
    }
    if (!upstream_error.empty()) co_return Result{wire::rcode::kServFail, upstream_error};
    co_return Result{wire::rcode::kServFail, "no healthy proxies"};
  }

 private:
  bool Match(const wire::Name& qname) const {
    if (!qname.IsSubdomainOf(options_.from)) return false;
    if (qname.Equals(options_.from)) return true;
    for (const wire::Name& e : options_.except) {
      if (qname.IsSubdomainOf(e)) return false;
    }
    return true;
  }

  size_t Index(const Upstream* u) const {
    size_t k = 0;
    while (upstreams_[k].get() != u) ++k;
    return k;
  }

  bool AllFailedOrDown(uint32_t failed) const {
    for (size_t k = 0; k < upstreams_.size(); ++k) {
      if (!(failed & (1u << k)) && !upstreams_[k]->Down(options_.max_fails)) return false;
    }
    return true;
  }

  // CoreDNS's request.Match: one question, a response, same name and type.
  static bool ReplyMatches(const Request& req, const wire::Message& reply) {
    return reply.question.size() == 1 && reply.header.qr() &&
           reply.question[0].name.Equals(req.QName()) && reply.question[0].type == req.QType();
  }

  static bool Contains(const std::vector<int>& v, int x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  }

  // The order to try upstreams in, by policy.
  void List(Upstream** out) {
    const size_t n = upstreams_.size();
    for (size_t k = 0; k < n; ++k) out[k] = upstreams_[k].get();
    switch (options_.policy) {
      case Policy::kRandom:
        if (n == 2) {
          if (Rng()() % 2 == 0) std::swap(out[0], out[1]);
        } else if (n > 2) {
          std::shuffle(out, out + n, Rng());
        }
        break;
      case Policy::kRoundRobin: {
        // The chosen one first, then the others in configured order.
        const size_t pick = (robin_.fetch_add(1, std::memory_order_relaxed) + 1) % n;
        Upstream* first = out[pick];
        std::move_backward(out, out + pick, out + pick + 1);
        out[0] = first;
        break;
      }
      case Policy::kSequential:
        break;
    }
  }

  std::shared_ptr<Upstream> Shared(Upstream* u) const {
    for (const auto& s : upstreams_) {
      if (s.get() == u) return s;
    }
    return nullptr;
  }

  const Options options_;
  const std::vector<std::shared_ptr<Upstream>> upstreams_;
  std::unique_ptr<HealthChecker> health_;  // after upstreams_: probes stop before they go
  std::atomic<int64_t> concurrent_{0};
  std::atomic<uint32_t> robin_{0};
};

// plugin.Host(s).NormalizeExact(): the zones of a server-block-like key (a
// CIDR off the octet boundary expands to several).
bool NormalizeZones(const config::Token& t, std::vector<wire::Name>* out) {
  std::vector<config::Address> addresses;
  std::string unused;
  if (!config::ParseAddressKey(t, 53, &addresses, &unused) || addresses.empty()) return false;
  for (const config::Address& a : addresses) {
    wire::Name zone;
    if (!wire::Name::FromText(a.zone, &zone)) return false;
    out->push_back(std::move(zone));
  }
  return true;
}

bool ParseInt(const std::string& text, int64_t* out) {
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && p == end;
}

// miekg/dns's StringToRcode, looked up in upper case as CoreDNS does.
bool RcodeFromString(std::string_view text, int* rcode) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "NOTIMPL") upper = "NOTIMP";
  for (int rc = 0; rc <= 23; ++rc) {
    if (wire::RcodeToString(rc) == upper) {
      *rcode = rc;
      return true;
    }
  }
  return false;
}

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  auto fail = [&](const config::Token& at, const std::string& message) {
    *error = "plugin/forward: " + config::ErrorAt(at, message);
    return nullptr;
  };
  auto arg_error = [&](const config::Token& at) {
    *error = "plugin/forward: " + config::ArgErrorAt(at);
    return nullptr;
  };
  if (d.args.size() < 2) return arg_error(d.args.empty() ? d.name : d.args.back());

  Options options;
  std::vector<wire::Name> from;
  if (!NormalizeZones(d.args[0], &from)) {
    return fail(d.args[0], "unable to normalize '" + d.args[0].text + "'");
  }
  options.from = from[0];  // one zone only: CoreDNS warns and keeps the first
  if (from.size() > 1) {
    ctx.host->Log("[WARNING] plugin/forward: Unsupported CIDR notation: '" + d.args[0].text +
                  "' expands to multiple zones. Using only '" + options.from.ToText() + "'.");
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

  std::vector<std::string> tls_args;
  std::string tls_servername;
  options.health.domain = wire::Name();  // "."
  for (const config::Directive& opt : d.block) {
    const std::string& key = opt.name.text;
    const std::vector<config::Token>& a = opt.args;
    auto one_arg = [&]() -> const config::Token* { return a.size() == 1 ? &a[0] : nullptr; };
    std::string why;  // time.ParseDuration's error
    auto duration = [&](const config::Token& t, Duration* out) {
      int64_t ns = 0;
      if (!config::ParseDuration(t.text, &ns, &why)) return false;
      *out = Duration(ns);
      return true;
    };
    if (key == "except") {
      if (a.empty()) return arg_error(opt.name);
      for (const config::Token& t : a) {
        // Every zone a CIDR expands to.
        if (!NormalizeZones(t, &options.except)) {
          return fail(t, "unable to normalize '" + t.text + "'");
        }
      }
    } else if (key == "force_tcp" || key == "prefer_udp") {
      if (!a.empty()) return arg_error(a[0]);
      (key == "force_tcp" ? options.force_tcp : options.prefer_udp) = true;
    } else if (key == "max_fails" || key == "max_concurrent" || key == "max_idle_conns") {
      const config::Token* t = one_arg();
      if (t == nullptr) return arg_error(a.empty() ? opt.name : a[1]);
      int64_t v = 0;
      if (!ParseInt(t->text, &v)) {
        return fail(*t, "strconv.Atoi: parsing \"" + t->text + "\": invalid syntax");
      }
      if (v < 0) return fail(*t, key + " can't be negative: " + t->text);
      if (key == "max_fails") {
        options.max_fails = static_cast<uint32_t>(v);
      } else if (key == "max_idle_conns") {
        options.max_idle_conns = static_cast<int>(v);
      } else {
        options.max_concurrent = v;
        options.max_concurrent_text = t->text;
      }
    } else if (key == "expire" || key == "read_timeout") {
      const config::Token* t = one_arg();
      if (t == nullptr) return arg_error(a.empty() ? opt.name : a[1]);
      Duration v;
      if (!duration(*t, &v)) return fail(*t, why);
      if (v < Duration::zero()) return fail(*t, key + " can't be negative: " + t->text);
      (key == "expire" ? options.expire : options.read_timeout) = v;
    } else if (key == "health_check") {
      if (a.empty()) return arg_error(opt.name);
      if (!duration(a[0], &options.health.interval)) {
        return fail(a[0], why);
      }
      if (options.health.interval < Duration::zero()) {
        return fail(a[0], "health_check can't be negative: " + a[0].text);
      }
      for (size_t k = 1; k < a.size(); ++k) {
        if (a[k].text == "no_rec") {
          options.health.recursion_desired = false;
        } else if (a[k].text == "domain" && k + 1 < a.size()) {
          ++k;
          if (!wire::Name::FromText(a[k].text, &options.health.domain)) {
            return fail(a[k], "health_check: invalid domain name " + a[k].text);
          }
          options.health.domain.ToLower();  // CoreDNS lower-cases the probe's name
        } else if (a[k].text == "domain") {
          return arg_error(a[k]);
        } else {
          return fail(a[k], "health_check: unknown option " + a[k].text);
        }
      }
    } else if (key == "tls") {
      if (a.size() > 3) return arg_error(a[3]);
      for (const config::Token& t : a) tls_args.push_back(t.text);
    } else if (key == "tls_servername") {
      const config::Token* t = one_arg();
      if (t == nullptr) return arg_error(a.empty() ? opt.name : a[1]);
      tls_servername = t->text;
    } else if (key == "policy") {
      const config::Token* t = one_arg();
      if (t == nullptr) return arg_error(a.empty() ? opt.name : a[1]);
      if (t->text == "random") {
        options.policy = Policy::kRandom;
      } else if (t->text == "round_robin") {
        options.policy = Policy::kRoundRobin;
      } else if (t->text == "sequential") {
        options.policy = Policy::kSequential;
      } else {
        return fail(*t, "unknown policy '" + t->text + "'");
      }
    } else if (key == "next" || key == "failover") {
      if (a.empty()) return arg_error(opt.name);
      for (const config::Token& t : a) {
        int rcode = 0;
        if (!RcodeFromString(t.text, &rcode)) return fail(t, t.text + " is not a valid rcode");
        if (key == "failover" && rcode == wire::rcode::kNoError) {
          return fail(t, "NoError cannot be used in failover");
        }
        (key == "next" ? options.next_rcodes : options.failover_rcodes).push_back(rcode);
      }
    } else if (key == "failfast_all_unhealthy_upstreams") {
      if (!a.empty()) return arg_error(a[0]);
      options.failfast = true;
    } else {
      return fail(opt.name, "unknown property '" + key + "'");
    }
  }
  options.health.net = options.force_tcp ? Net::kTcp : Net::kUdp;

  // TLS upstreams verify with the `tls` files (CERT KEY, CA, or CERT KEY CA;
  // none: system roots) and the server name of tls_servername.
  std::shared_ptr<upstream::TlsContext> tls;
  // CoreDNS reads the `tls` files while parsing, whether or not an upstream uses them.
  if (!tls_args.empty() ||
      std::any_of(endpoints.begin(), endpoints.end(), [](const auto& e) { return e.tls; })) {
    std::string cert, key, ca;
    if (tls_args.size() == 1) ca = tls_args[0];
    if (tls_args.size() >= 2) cert = tls_args[0], key = tls_args[1];
    if (tls_args.size() == 3) ca = tls_args[2];
    tls = upstream::TlsContext::Create(cert, key, ca, tls_servername, &reason);
    if (!tls) return fail(d.name, reason);
  }

  std::vector<std::shared_ptr<Upstream>> upstreams;
  for (upstream::Endpoint& e : endpoints) {
    auto stats = std::make_shared<upstream::Stats>(e.addr, true);
    auto u = std::make_shared<Upstream>(std::move(e), tls, std::move(stats));
    u->SetExpire(options.expire);
    u->SetMaxIdle(options.max_idle_conns);
    upstreams.push_back(std::move(u));
  }
  return std::make_unique<Forward>(std::move(options), std::move(upstreams));
}

const Registrar kRegistrar({"forward", Setup, false});

}  // namespace
}  // namespace warpdns::slowpath::forward
