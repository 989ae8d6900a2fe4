#include "slowpath/plugins/kubernetes/kubernetes.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "config/corefile.h"
#include "fastpath/table/generation.h"
#include "slowpath/plugins/kubernetes/selector.h"

namespace warpdns::slowpath::kubernetes {
namespace {

constexpr int64_t kDefaultStartupTimeoutMs = 5000;
constexpr int64_t kWaitLogIntervalMs = 500;
constexpr uint32_t kMaxTtl = 3600;

// How many Host::Resolve calls deep this request is (see the file plugin).
int ResolveDepth(const Request& req) {
  auto it = req.metadata.find("warpdns/resolve_depth");
  return it == req.metadata.end() ? 0 : std::atoi(it->second.c_str());
}

bool IsLoopback(const Ip& ip) {
  static const Ip kV6Loopback = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return IsV4(ip) ? ip[12] == 127 : ip == kV6Loopback;
}

// CoreDNS's boundIPs: the `bind` addresses, else every interface address,
// loopback excluded.
std::vector<Ip> LocalIps(const std::vector<std::string>& bind) {
  std::vector<Ip> out;
  auto add = [&out](const Ip& ip) {
    if (!IsLoopback(ip)) out.push_back(ip);
  };
  if (!bind.empty()) {
    for (const std::string& b : bind) {
      Ip ip;
      if (ParseIp(b, &ip)) add(ip);
    }
    return out;
  }
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr) continue;
    Ip ip{};
    if (a->ifa_addr->sa_family == AF_INET) {
      ip[10] = ip[11] = 0xff;
      std::memcpy(ip.data() + 12, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, 4);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      std::memcpy(ip.data(), &reinterpret_cast<sockaddr_in6*>(a->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    add(ip);
  }
  freeifaddrs(list);
  return out;
}

// Zones as server block keys spell them (a CIDR stands for its reverse zones).
bool ParseZones(const std::vector<config::Token>& args, std::vector<wire::Name>* out,
                std::string* error) {
  for (const config::Token& t : args) {
    std::vector<config::Address> addresses;
    if (!config::ParseAddressKey(t, 53, &addresses, error)) return false;
    for (const config::Address& a : addresses) {
      out->emplace_back();
      wire::Name::FromText(a.zone, &out->back());
    }
  }
  return true;
}

bool IsReverse(const wire::Name& zone) {
  wire::Name v4, v6;
  wire::Name::FromText("in-addr.arpa.", &v4);
  wire::Name::FromText("ip6.arpa.", &v6);
  return zone.IsSubdomainOf(v4) || zone.IsSubdomainOf(v6);
}

std::string Join(const std::vector<config::Token>& args) {
  std::string out;
  for (const config::Token& t : args) out += (out.empty() ? "" : " ") + t.text;
  return out;
}

// The options of one `kubernetes` directive.
struct Options {
  Config config;
  std::string endpoint;
  std::string tls_cert, tls_key, tls_ca;
  std::string kubeconfig, kubeconfig_context;
  const config::Token* kubeconfig_at = nullptr;
  std::string labels, namespace_labels;
  bool endpoints = true;
  int64_t startup_timeout_ms = kDefaultStartupTimeoutMs;
};

// Parses the directive into *o; returns an error message ("" if none).
std::string Parse(const SetupContext& ctx, Options* o) {
  const config::Directive& d = ctx.directive;
  auto fail = [](const config::Token& at, const std::string& message) {
    return "plugin/kubernetes: " + config::ErrorAt(at, message);
  };
  auto arg_error = [](const config::Directive& opt) {
    return "plugin/kubernetes: " +
           config::ArgErrorAt(opt.args.empty() ? opt.name : opt.args.back());
  };
  std::string error;
  Config& c = o->config;
  if (!ParseZones(d.args, &c.zones, &error)) return "plugin/kubernetes: " + error;
  if (d.args.empty()) {
    for (const std::string& z : ctx.zones) {
      c.zones.emplace_back();
      wire::Name::FromText(z, &c.zones.back());
    }
  }
  for (wire::Name& z : c.zones) z.ToLower();
  for (const config::Directive& opt : d.block) {
    const std::string& key = opt.name.text;
    const size_t n = opt.args.size();
    if (key == "endpoint_pod_names") {
      if (n != 0) return arg_error(opt);
      c.endpoint_pod_names = true;
    } else if (key == "pods") {
      if (n != 1) return arg_error(opt);
      const std::string& mode = opt.args[0].text;
      if (mode == "disabled") {
        c.pod_mode = PodMode::kDisabled;
      } else if (mode == "insecure") {
        c.pod_mode = PodMode::kInsecure;
      } else if (mode == "verified") {
        c.pod_mode = PodMode::kVerified;
      } else {
        return fail(opt.args[0], "wrong value for pods: " + mode +
                                     ",  must be one of: disabled, verified, insecure");
      }
    } else if (key == "namespaces") {
      if (n == 0) return arg_error(opt);
      for (const config::Token& t : opt.args) c.namespaces.insert(t.text);
    } else if (key == "endpoint") {
      if (n == 0) return arg_error(opt);
      o->endpoint = opt.args[0].text;
      if (n > 1) {
        ctx.host->Log(
            "[WARNING] plugin/kubernetes: Multiple endpoints have been deprecated, only "
            "the first specified endpoint '" +
            o->endpoint + "' is used");
      }
    } else if (key == "tls") {
      if (n != 3) return arg_error(opt);
      o->tls_cert = opt.args[0].text;
      o->tls_key = opt.args[1].text;
      o->tls_ca = opt.args[2].text;
    } else if (key == "kubeconfig") {
      if (n != 1 && n != 2) return arg_error(opt);
      o->kubeconfig = opt.args[0].text;
      o->kubeconfig_context = n == 2 ? opt.args[1].text : "";
      o->kubeconfig_at = &opt.name;
    } else if (key == "labels" || key == "namespace_labels") {
      if (n == 0) return arg_error(opt);
      const std::string text = Join(opt.args);
      std::string why;
      if (!ParseSelector(text, key == "labels" ? &o->labels : &o->namespace_labels, &why)) {
        return fail(opt.name, "unable to parse " +
                                  std::string(key == "labels" ? "label" : "namespace_label") +
                                  " selector value: '" + text + "': " + why);
      }
    } else if (key == "fallthrough") {
      if (n == 0) {
        c.fallthrough.emplace_back();  // the root: every name
      } else if (!ParseZones(opt.args, &c.fallthrough, &error)) {
        return "plugin/kubernetes: " + error;
      }
    } else if (key == "ttl") {
      if (n == 0) return arg_error(opt);
      const std::string& text = opt.args[0].text;
      char* end = nullptr;
      errno = 0;
      const long ttl = std::strtol(text.c_str(), &end, 10);
      if (text.empty() || *end != '\0' || errno != 0) {
        return fail(opt.args[0], "strconv.Atoi: parsing \"" + text + "\": invalid syntax");
      }
      if (ttl < 0 || ttl > kMaxTtl) {
        return fail(opt.args[0], "ttl must be in range [0, 3600]: " + std::to_string(ttl));
      }
      c.ttl = static_cast<uint32_t>(ttl);
    } else if (key == "noendpoints") {
      if (n != 0) return arg_error(opt);
      o->endpoints = false;
    } else if (key == "ignore") {
      // A bare `ignore` is accepted and means nothing, as in CoreDNS.
      if (n > 0 && opt.args[0].text != "empty_service") {
        return fail(opt.args[0], "unable to parse ignore value: '" + opt.args[0].text + "'");
      }
      if (n > 0) c.ignore_empty_service = true;
    } else if (key == "startup_timeout") {
      if (n != 1) return arg_error(opt);
      if (!config::ParseDuration(opt.args[0].text, &o->startup_timeout_ms) ||
          o->startup_timeout_ms < 0) {
        return fail(opt.args[0], "unable to parse startup_timeout: time: invalid duration \"" +
                                     opt.args[0].text + "\"");
      }
      o->startup_timeout_ms /= 1'000'000;
    } else if (key == "apiserver_qps" || key == "apiserver_burst" ||
               key == "apiserver_max_inflight") {
      // client-go's request throttling: one list and one watch per resource
      // at a time has nothing to throttle, so the values are checked only.
      if (n != 1) return arg_error(opt);
      char* end = nullptr;
      std::strtod(opt.args[0].text.c_str(), &end);
      if (*end != '\0' || opt.args[0].text.empty()) {
        return fail(opt.args[0], "unable to parse " + key + ": '" + opt.args[0].text + "'");
      }
    } else if (key == "cidrs") {
      // CoreDNS 0.9's option: PTR queries for these ranges are answered
      // here; they become reverse zones of the plugin.
      if (n == 0) return arg_error(opt);
      for (const config::Token& t : opt.args) {
        if (t.text.find('/') == std::string::npos) return fail(t, "invalid cidr: " + t.text);
        std::vector<wire::Name> reverse;
        if (!ParseZones({t}, &reverse, &error)) return fail(t, "invalid cidr: " + t.text);
        c.zones.insert(c.zones.end(), reverse.begin(), reverse.end());
      }
    } else {
      return fail(opt.name, "unknown property '" + key + "'");
    }
  }
  if (!c.namespaces.empty() && !o->namespace_labels.empty()) {
    return fail(d.name, "namespaces and namespace_labels cannot both be set");
  }
  auto primary = std::find_if(c.zones.begin(), c.zones.end(),
                              [](const wire::Name& z) { return !IsReverse(z); });
  if (primary == c.zones.end()) return fail(d.name, "non-reverse zone name must be used");
  c.primary_zone = *primary;
  c.local_ips = LocalIps(ctx.bind);
  return "";
}

// client-go's choice: a kubeconfig, else the endpoint, else in-cluster.
std::string MakeApiConfig(const SetupContext& ctx, const Options& o, ApiConfig* api) {
  std::string error;
  if (!o.kubeconfig.empty()) {
    std::string path = o.kubeconfig;
    if (!path.starts_with('/') && !ctx.root.empty()) path = ctx.root + "/" + path;
    if (!KubeconfigConfig(path, o.kubeconfig_context, api, &error)) {
      return "plugin/kubernetes: " + config::ErrorAt(*o.kubeconfig_at, error);
    }
    return "";
  }
  if (o.endpoint.empty()) {
    if (!InClusterConfig(api, &error)) {
      return "plugin/kubernetes: " + config::ErrorAt(ctx.directive.name, error);
    }
    return "";
  }
  api->server = o.endpoint.find("://") == std::string::npos ? "https://" + o.endpoint : o.endpoint;
  while (api->server.ends_with('/')) api->server.pop_back();
  api->cert_file = o.tls_cert;
  api->key_file = o.tls_key;
  api->ca_file = o.tls_ca;
  return "";
}

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  Options o;
  *error = Parse(ctx, &o);
  if (!error->empty()) return nullptr;
  Controller::Options co;
  *error = MakeApiConfig(ctx, o, &co.api);
  if (!error->empty()) return nullptr;
  co.labels = o.labels;
  co.namespace_labels = o.namespace_labels;
  co.endpoints = o.endpoints;
  co.pods = o.config.pod_mode == PodMode::kVerified;
  co.host = ctx.host;
  // Named by where the plugin is configured: the same across reloads. Two
  // instances sharing an id only retire each other's answers more often.
  co.source = fastpath::SourceId("kubernetes " + ctx.directive.name.file + ":" +
                                 std::to_string(ctx.directive.name.line));
  const uint16_t source = co.source;
  auto controller = std::make_unique<Controller>(std::move(co));
  // Serving waits (up to startup_timeout) for the first sync, as CoreDNS's
  // OnStartup does; until then unknown names are SERVFAIL, not NXDOMAIN.
  for (int64_t left = o.startup_timeout_ms; left > 0; left -= kWaitLogIntervalMs) {
    if (controller->WaitSynced(std::min(left, kWaitLogIntervalMs))) break;
    if (left <= kWaitLogIntervalMs) {
      ctx.host->Log("[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API");
    } else {
      ctx.host->Log("[INFO] plugin/kubernetes: waiting for Kubernetes API before starting server");
    }
  }
  auto plugin =
      std::make_unique<Kubernetes>(std::move(o.config), std::move(controller), ctx.host, source);
  // The `ready` plugin reports us until the first list of every resource;
  // the plugin lives as long as the configuration that holds this check.
  ctx.host->AddReadyCheck("kubernetes", [p = plugin.get()] { return p->Ready(); });
  return plugin;
}

const Registrar kRegistrar({"kubernetes", Setup, true});

}  // namespace

Task<Result> Kubernetes::ServeDns(Request& req, ResponseWriter& w) {
  // The generation first: a snapshot published meanwhile makes the reply
  // stale at once, never the other way round.
  if (source_ != 0) req.DependsOn(source_, fastpath::SourceGeneration(source_));
  const std::shared_ptr<const Snapshot> snapshot = controller_->Current();
  Answer a = Lookup(*snapshot, config_, req.QName(), req.QType());
  if (a.action == Answer::Action::kNext) co_return co_await Next(req, w);
  if (a.action == Answer::Action::kRefuse) co_return Result{wire::rcode::kRefused, ""};
  if (a.external) {
    // An ExternalName target outside the zone, resolved through the server:
    // the reply depends on another chain too.
    req.memoizable = false;
    const wire::Message target =
        co_await host_->Resolve(*a.external, req.QType(), req.Do(), ResolveDepth(req) + 1);
    a.answer.insert(a.answer.end(), target.answer.begin(), target.answer.end());
  }
  wire::Message reply = wire::MakeReply(req.msg);
  reply.header.SetFlag(wire::flag::kAa, true);
  reply.SetRcode(a.rcode);
  reply.answer = std::move(a.answer);
  reply.authority = std::move(a.authority);
  reply.additional = std::move(a.additional);
  w.WriteMsg(reply);
  co_return Result{};
}

}  // namespace warpdns::slowpath::kubernetes
