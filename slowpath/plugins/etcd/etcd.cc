// etcd: SkyDNS service discovery from etcd v3 (CoreDNS plugin/etcd),
// answered from a watched copy of the keys instead of one etcd read per
// query.
#include <openssl/ssl.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "config/corefile.h"
#include "fastpath/table/generation.h"
#include "slowpath/chain/clock.h"
#include "slowpath/chain/plugin.h"
#include "slowpath/plugins/etcd/lookup.h"
#include "slowpath/plugins/etcd/watcher.h"

namespace warpdns::slowpath::etcd {
namespace {

constexpr char kDefaultEndpoint[] = "http://localhost:2379";
// Setup waits this long for the first read, so that a server starting
// next to a healthy etcd answers from its first query.
constexpr int64_t kFirstReadWaitMs = 5000;

// How many Host::Resolve calls deep this request is (see the file plugin).
int ResolveDepth(const Request& req) {
  auto it = req.metadata.find("warpdns/resolve_depth");
  return it == req.metadata.end() ? 0 : std::atoi(it->second.c_str());
}

struct Zone {
  std::string text;  // lowercase FQDN
  wire::Name name;
};

struct Options {
  std::vector<Zone> zones;
  bool fallthrough = false;
  std::vector<Zone> fall_zones;  // empty with fallthrough: every name
  LookupOptions lookup;
};

// The longest zone containing `name`, or null.
const Zone* Match(const std::vector<Zone>& zones, const wire::Name& name) {
  const Zone* best = nullptr;
  for (const Zone& z : zones) {
    if (name.IsSubdomainOf(z.name) &&
        (best == nullptr || z.name.LabelCount() > best->name.LabelCount())) {
      best = &z;
    }
  }
  return best;
}

class Etcd : public Plugin {
 public:
  Etcd(Options options, std::unique_ptr<Watcher> watcher, Host* host, uint16_t source)
      : options_(std::move(options)), watcher_(std::move(watcher)), host_(host), source_(source) {}

  std::string_view Name() const override { return "etcd"; }
  // Answers depend on the query and the snapshot (whose changes bump the
  // data generation), except those ServeDns marks not memoizable.
  bool Deterministic() const override { return true; }

  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    const Zone* zone = Match(options_.zones, req.QName());
    if (zone == nullptr) co_return co_await Next(req, w);

    Response r;
    bool resolved = false;  // through the server: another chain's data
    // The generation first: a snapshot published meanwhile makes the reply
    // stale at once, never the other way round.
    if (source_ != 0) req.DependsOn(source_, fastpath::SourceGeneration(source_));
    if (std::shared_ptr<const Snapshot> snapshot = watcher_->Current()) {
      const int depth = ResolveDepth(req);
      const bool dnssec_ok = req.Do();
      Resolver resolve = [this, depth, dnssec_ok, &resolved](
                             const wire::Name& name, uint16_t type) -> Task<wire::Message> {
        resolved = true;
        co_return co_await host_->Resolve(name, type, dnssec_ok, depth + 1);
      };
      r = co_await Lookup(*snapshot, options_.lookup, zone->text, req.QName(), req.QType(), resolve,
                          MonotonicNs());
    } else {
      // Nothing read from etcd yet: what CoreDNS answers when etcd fails.
      r.rcode = wire::rcode::kServFail;
      r.error = "plugin/etcd: no data from etcd yet: " + watcher_->LastError();
    }
    if (r.rcode == wire::rcode::kNxDomain && FallsThrough(req.QName())) {
      co_return co_await Next(req, w);
    }
    // Only what the snapshot alone decides may be replayed: not a TTL a lease
    // counts down, not another chain's answer, not an SOA whose serial is the
    // clock (CoreDNS's).
    if (resolved || r.leased || r.answer.empty()) req.memoizable = false;
    wire::Message m = wire::MakeReply(req.msg);
    m.header.SetFlag(wire::flag::kAa, true);
    if (!r.answer.empty()) {
      m.header.SetFlag(wire::flag::kTc, r.truncated);
      m.answer = std::move(r.answer);
      m.additional = std::move(r.extra);
    } else {
      // NXDOMAIN, NODATA and SERVFAIL carry the zone's SOA (BackendError).
      m.SetRcode(r.rcode);
      m.authority.push_back(Soa(zone->text, static_cast<uint32_t>(std::time(nullptr))));
    }
    w.WriteMsg(m);
    // Written either way; a SERVFAIL's cause goes to the errors plugin.
    co_return Result{wire::rcode::kNoError, r.error};
  }

 private:
  bool FallsThrough(const wire::Name& qname) const {
    if (!options_.fallthrough) return false;
    return options_.fall_zones.empty() || Match(options_.fall_zones, qname) != nullptr;
  }

  const Options options_;
  const std::unique_ptr<Watcher> watcher_;
  Host* const host_;
  const uint16_t source_;  // fastpath::SourceId of this copy; 0: none left
};

// Zones as server block keys spell them (a CIDR stands for its reverse zones).
bool ParseZones(const std::vector<config::Token>& args, std::vector<Zone>* out,
                std::string* error) {
  for (const config::Token& t : args) {
    std::vector<config::Address> addresses;
    if (!config::ParseAddressKey(t, 53, &addresses, error)) return false;
    for (config::Address& a : addresses) {
      Zone& z = out->emplace_back();
      z.text = std::move(a.zone);
      wire::Name::FromText(z.text, &z.name);
    }
  }
  return true;
}

// CoreDNS's parseTTL: seconds, or a Go duration ("30s", "1h"), whole seconds.
bool ParseTtl(const std::string& text, uint32_t* out) {
  int64_t ns = 0;
  const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
  if (!config::ParseDuration(digits ? text + "s" : text, &ns) || ns < 0) return false;
  const int64_t seconds = ns / 1'000'000'000;
  if (seconds > std::numeric_limits<uint32_t>::max()) return false;
  *out = static_cast<uint32_t>(seconds);
  return true;
}

// Checks the files of `tls` load (cert with key, CA), as Go's tls config
// would at startup; etcd connections would otherwise fail later.
bool CheckTls(const Transport::Tls& tls, std::string* error) {
  for (const std::string* path : {&tls.cert, &tls.key, &tls.ca}) {
    if (!path->empty() && !std::ifstream(*path)) {
      *error = "open " + *path + ": no such file or directory";
      return false;
    }
  }
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                        SSL_CTX_free);
  if (!tls.cert.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx.get(), tls.cert.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx.get(), tls.key.c_str(), SSL_FILETYPE_PEM) != 1 ||
       SSL_CTX_check_private_key(ctx.get()) != 1)) {
    *error = "could not load TLS cert: " + tls.cert + " and " + tls.key;
    return false;
  }
  if (!tls.ca.empty() && SSL_CTX_load_verify_locations(ctx.get(), tls.ca.c_str(), nullptr) != 1) {
    *error = "failed to read CA certificate " + tls.ca;
    return false;
  }
  return true;
}

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  auto fail = [&](const config::Token& at, const std::string& message) {
    *error = "plugin/etcd: " + config::ErrorAt(at, message);
    return nullptr;
  };
  // Options take the arguments they know; a further one reads, as in
  // CoreDNS, as the next property.
  auto unknown = [&](const config::Token& t) {
    return fail(t, "unknown property '" + t.text + "'");
  };

  Options options;
  std::string zone_error;
  if (d.args.empty()) {
    for (const std::string& z : ctx.zones) {
      Zone& zone = options.zones.emplace_back();
      zone.text = z;
      wire::Name::FromText(z, &zone.name);
    }
  } else if (!ParseZones(d.args, &options.zones, &zone_error)) {
    *error = "plugin/etcd: " + zone_error;
    return nullptr;
  }

  WatcherConfig watch;
  watch.host = ctx.host;
  std::vector<config::Token> endpoints;
  for (const config::Directive& opt : d.block) {
    const std::string& key = opt.name.text;
    const std::vector<config::Token>& args = opt.args;
    auto path_of = [&](const config::Token& t) {
      return t.text.starts_with('/') || ctx.root.empty() ? t.text : ctx.root + "/" + t.text;
    };
    if (key == "stubzones" || key == "debug") {
      // Obsolete and ignored, as in CoreDNS.
      if (!args.empty()) return unknown(args[0]);
    } else if (key == "upstream") {
      // Obsolete: external names are always resolved through this server.
    } else if (key == "fallthrough") {
      options.fallthrough = true;
      if (!ParseZones(args, &options.fall_zones, &zone_error)) {
        *error = "plugin/etcd: " + zone_error;
        return nullptr;
      }
    } else if (key == "path") {
      if (args.empty()) {
        *error = "plugin/etcd: " + config::ArgErrorAt(opt.name);
        return nullptr;
      }
      if (args.size() > 1) return unknown(args[1]);
      options.lookup.path = args[0].text;
    } else if (key == "endpoint") {
      if (args.empty()) {
        *error = "plugin/etcd: " + config::ArgErrorAt(opt.name);
        return nullptr;
      }
      endpoints = args;
    } else if (key == "tls") {
      if (args.size() > 3) {
        return fail(opt.name, "maximum of three arguments allowed for TLS config, found " +
                                  std::to_string(args.size()));
      }
      // CERT KEY [CACERT], or just CACERT, or nothing (the system's CAs).
      watch.tls = Transport::Tls{true, "", "", ""};
      if (args.size() >= 2) {
        watch.tls.cert = path_of(args[0]);
        watch.tls.key = path_of(args[1]);
      }
      if (args.size() % 2 == 1) watch.tls.ca = path_of(args.back());
      std::string tls_error;
      if (!CheckTls(watch.tls, &tls_error)) return fail(opt.name, tls_error);
    } else if (key == "credentials") {
      if (args.empty()) {
        *error = "plugin/etcd: " + config::ArgErrorAt(opt.name);
        return nullptr;
      }
      if (args.size() != 2) {
        return fail(opt.name, "credentials requires 2 arguments, username and password");
      }
      watch.username = args[0].text;
      watch.password = args[1].text;
    } else if (key == "min-lease-ttl" || key == "max-lease-ttl") {
      if (args.empty()) {
        *error = "plugin/etcd: " + config::ArgErrorAt(opt.name);
        return nullptr;
      }
      if (args.size() > 1) return unknown(args[1]);
      uint32_t& ttl =
          key == "min-lease-ttl" ? options.lookup.min_lease_ttl : options.lookup.max_lease_ttl;
      if (!ParseTtl(args[0].text, &ttl)) {
        return fail(args[0], "invalid " + key +
                                 " value: invalid TTL format, use format like '30', '30s', "
                                 "'5m', '1h', or '2h30m'");
      }
    } else {
      return unknown(opt.name);
    }
  }

  // Endpoints are URLs; a bare host:port speaks TLS when `tls` is given.
  if (endpoints.empty()) watch.endpoints.push_back(kDefaultEndpoint);
  for (const config::Token& t : endpoints) {
    std::string url = t.text;
    if (url.find("://") == std::string::npos) {
      url = (watch.tls.enabled ? "https://" : "http://") + url;
    } else if (!url.starts_with("http://") && !url.starts_with("https://")) {
      return fail(t, "endpoint '" + t.text + "': only http:// and https:// are supported");
    }
    while (url.ends_with('/')) url.pop_back();
    watch.endpoints.push_back(std::move(url));
  }
  // Every lookup path lies under "/PATH" (msg.Path cleans it the same way).
  watch.prefix = CleanPath("/" + options.lookup.path);

  // Named by where the plugin is configured: the same across reloads.
  watch.source = fastpath::SourceId("etcd " + ctx.directive.name.file + ":" +
                                    std::to_string(ctx.directive.name.line));
  const uint16_t source = watch.source;
  auto watcher = std::make_unique<Watcher>(std::move(watch));
  watcher->WaitForFirstRound(kFirstReadWaitMs);
  return std::make_unique<Etcd>(std::move(options), std::move(watcher), ctx.host, source);
}

const Registrar kRegistrar({"etcd", Setup, true});

}  // namespace
}  // namespace warpdns::slowpath::etcd
