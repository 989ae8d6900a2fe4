#include "slowpath/plugins/kubernetes/lookup.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <set>
#include <string_view>
#include <tuple>
#include <unordered_set>

namespace warpdns::slowpath::kubernetes {
namespace {

constexpr std::string_view kSvc = "svc";
constexpr std::string_view kPod = "pod";
constexpr char kDnsSchemaVersion[] = "1.1.0";
constexpr uint32_t kDnsVersionTtl = 28800;
constexpr uint32_t kMaxSoaTtl = 300;
// A CNAME chain stops growing once it holds more records than this.
constexpr size_t kMaxChain = 7;

// CoreDNS's errNoItems, errNsNotExposed and errInvalidRequest: all three are
// name errors (NXDOMAIN); kNone is a name that exists.
enum class Err : uint8_t { kNone, kNoItems, kNsNotExposed, kInvalidRequest };

// CoreDNS's msg.Service: one candidate record.
struct Entry {
  std::string host;  // an IP address, or a domain name (a CNAME target)
  int32_t port = 0;  // -1: no port, so no SRV
  uint32_t ttl = 0;
  std::string text;  // the dns-version TXT
  wire::Name key;    // the name the entry stands for: SRV, NS and PTR targets
};

enum class HostType : uint8_t { kA, kAaaa, kCname, kTxt };

HostType TypeOf(const Entry& e, Ip* ip) {
  if (ParseIp(e.host, ip)) return IsV4(*ip) ? HostType::kA : HostType::kAaaa;
  return e.text.empty() ? HostType::kCname : HostType::kTxt;
}

char Lower(char c) { return static_cast<char>(wire::ToLowerOctet(static_cast<uint8_t>(c))); }

bool EqualFold(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return Lower(x) == Lower(y); });
}

// The labels of `name`, left to right, lowercased (state.Name() in CoreDNS).
std::vector<std::string> Labels(const wire::Name& name) {
  std::vector<std::string> out;
  for (const uint8_t* p = name.data(); *p != 0; p += *p + 1) {
    std::string label(reinterpret_cast<const char*>(p + 1), *p);
    for (char& c : label) c = Lower(c);
    out.push_back(std::move(label));
  }
  return out;
}

// `labels` (left to right) in front of `suffix`; false if that is no name.
bool Join(std::initializer_list<std::string_view> labels, const wire::Name& suffix,
          wire::Name* out) {
  *out = suffix;
  for (auto it = std::rbegin(labels); it != std::rend(labels); ++it) {
    if (it->empty() || !out->PrependLabel(*it)) return false;
  }
  return true;
}

wire::Name MustName(std::string_view text) {
  wire::Name name;
  wire::Name::FromText(text, &name);
  return name;
}

void Append16(uint16_t v, std::vector<uint8_t>* out) {
  out->push_back(static_cast<uint8_t>(v >> 8));
  out->push_back(static_cast<uint8_t>(v));
}

void Append32(uint32_t v, std::vector<uint8_t>* out) {
  Append16(static_cast<uint16_t>(v >> 16), out);
  Append16(static_cast<uint16_t>(v), out);
}

void AppendName(const wire::Name& name, std::vector<uint8_t>* out) {
  out->insert(out->end(), name.data(), name.data() + name.size());
}

wire::Rr MakeRr(const wire::Name& owner, uint16_t type, uint32_t ttl) {
  wire::Rr rr;
  rr.name = owner;
  rr.type = type;
  rr.ttl = ttl;
  return rr;
}

wire::Rr AddressRr(const wire::Name& owner, uint32_t ttl, const Ip& ip) {
  const bool v4 = IsV4(ip);
  wire::Rr rr = MakeRr(owner, v4 ? wire::type::kA : wire::type::kAaaa, ttl);
  rr.rdata.assign(ip.begin() + (v4 ? 12 : 0), ip.end());
  return rr;
}

wire::Rr NameRr(const wire::Name& owner, uint16_t type, uint32_t ttl, const wire::Name& target) {
  wire::Rr rr = MakeRr(owner, type, ttl);
  AppendName(target, &rr.rdata);
  return rr;
}

bool InZones(const wire::Name& name, const std::vector<wire::Name>& zones) {
  return std::any_of(zones.begin(), zones.end(),
                     [&](const wire::Name& z) { return name.IsSubdomainOf(z); });
}

// "_http" -> "http": the port and protocol labels of an SRV name.
std::string StripUnderscore(const std::string& s) { return s.starts_with('_') ? s.substr(1) : s; }

bool MatchPortAndProtocol(const std::string& want_port, const std::string& port,
                          const std::string& want_protocol, const std::string& protocol) {
  return (want_port.empty() || EqualFold(want_port, port)) &&
         (want_protocol.empty() || EqualFold(want_protocol, protocol));
}

// dnsutil.ExtractAddressFromReverse: the address a full reverse name spells.
bool AddressFromReverse(const std::vector<std::string>& labels, Ip* out) {
  const size_t n = labels.size();
  const bool v4 = n >= 2 && labels[n - 2] == "in-addr" && labels[n - 1] == "arpa";
  const bool v6 = n >= 2 && labels[n - 2] == "ip6" && labels[n - 1] == "arpa";
  if (!v4 && !v6) return false;
  std::vector<std::string> reversed(labels.rbegin() + 2, labels.rend());
  std::string text;
  if (v4) {
    for (const std::string& l : reversed) text += (text.empty() ? "" : ".") + l;
    return ParseIp(text, out) && IsV4(*out);
  }
  // Four nibbles a group; labels past the last whole group are ignored.
  for (size_t group = 0; group < reversed.size() / 4; ++group) {
    if (group > 0) text += ':';
    for (size_t i = 0; i < 4; ++i) text += reversed[group * 4 + i];
  }
  return ParseIp(text, out);
}

struct RecordRequest {
  std::string port;
  std::string protocol;
  std::string endpoint;
  std::string service;
  std::string ns;
  std::string pod_or_svc;
};

// The answers of one zone for one question. `zone_` is spelled as in the
// question, so owners and targets keep the client's case.
class Backend {
 public:
  Backend(const Snapshot& snapshot, const Config& config, const wire::Name& zone)
      : s_(snapshot), c_(config), zone_(zone) {
    Join({"ns", "dns"}, zone_, &ns_name_);
  }

  wire::Rr Soa() const {
    wire::Rr rr = MakeRr(zone_, wire::type::kSoa, std::min(c_.ttl, kMaxSoaTtl));
    wire::Name mbox;
    Join({"hostmaster"}, zone_, &mbox);
    AppendName(ns_name_, &rr.rdata);
    AppendName(mbox, &rr.rdata);
    for (uint32_t v : {static_cast<uint32_t>(s_.modified), 7200u, 1800u, 86400u, c_.ttl}) {
      Append32(v, &rr.rdata);
    }
    return rr;
  }

  // plugin.A and plugin.AAAA: address records, following ExternalName
  // CNAMEs inside the zone; a CNAME leaving the zone sets *external.
  Err Address(const wire::Name& name, uint16_t qtype, const std::vector<wire::Rr>& previous,
              std::vector<wire::Rr>* records, std::optional<wire::Name>* external) const {
    std::vector<Entry> entries;
    // The apex has no entries of its own (checkForApex finds none under
    // apex.dns either), so every name goes through Services.
    if (Err err = Services(name, qtype, &entries); err != Err::kNone) return err;
    std::unordered_set<std::string> seen;
    for (const Entry& e : entries) {
      Ip ip;
      switch (TypeOf(e, &ip)) {
        case HostType::kCname: {
          wire::Name target;
          // A CNAME to the name itself or below it would loop.
          if (!wire::Name::FromText(e.host, &target) || target.IsSubdomainOf(name)) continue;
          if (previous.size() > kMaxChain || IsDuplicateCname(target, previous)) continue;
          wire::Rr cname = NameRr(name, wire::type::kCname, e.ttl, target);
          if (target.IsSubdomainOf(zone_)) {
            std::vector<wire::Rr> chain = previous;
            chain.push_back(cname);
            std::vector<wire::Rr> next;
            std::optional<wire::Name> next_external;
            if (Address(target, qtype, chain, &next, &next_external) == Err::kNone &&
                !next.empty()) {
              records->push_back(std::move(cname));
              records->insert(records->end(), next.begin(), next.end());
              if (next_external) *external = next_external;
            }
            continue;
          }
          records->push_back(std::move(cname));
          *external = target;
          continue;
        }
        case HostType::kA:
        case HostType::kAaaa: {
          const uint16_t type = IsV4(ip) ? wire::type::kA : wire::type::kAaaa;
          if (type != qtype || !seen.insert(e.host).second) continue;
          records->push_back(AddressRr(name, e.ttl, ip));
          break;
        }
        case HostType::kTxt:
          break;
      }
    }
    return Err::kNone;
  }

  // plugin.SRV: priority 0, weights shared out per CoreDNS (every entry
  // counts 100, the portless ones too), targets the entries' names with
  // their addresses in the additional section.
  Err Srv(const wire::Name& name, std::vector<wire::Rr>* records,
          std::vector<wire::Rr>* extra) const {
    std::vector<Entry> entries;
    if (Err err = Services(name, wire::type::kSrv, &entries); err != Err::kNone) return err;
    const int total = 100 * static_cast<int>(entries.size());
    // (target, address, port): an SRV per target and port, an address
    // record per target and address.
    std::set<std::tuple<std::string, std::string, uint16_t>> dup;
    auto first = [&dup](std::tuple<std::string, std::string, uint16_t> item) {
      return dup.insert(std::move(item)).second;
    };
    for (const Entry& e : entries) {
      if (e.port == -1) continue;
      double share = 100.0 / static_cast<double>(total);
      share *= 100;
      const uint16_t weight = std::max<uint16_t>(1, static_cast<uint16_t>(std::floor(share)));
      Ip ip;
      const HostType t = TypeOf(e, &ip);
      if (t != HostType::kA && t != HostType::kAaaa) continue;
      const uint16_t port = static_cast<uint16_t>(e.port);
      const std::string target = e.key.ToText();
      if (first({target, "", port})) {
        wire::Rr rr = MakeRr(name, wire::type::kSrv, e.ttl);
        Append16(0, &rr.rdata);
        Append16(weight, &rr.rdata);
        Append16(port, &rr.rdata);
        AppendName(e.key, &rr.rdata);
        records->push_back(std::move(rr));
      }
      if (first({target, e.host, 0})) extra->push_back(AddressRr(e.key, e.ttl, ip));
    }
    return Err::kNone;
  }

  Err Txt(const wire::Name& name, std::vector<wire::Rr>* records) const {
    std::vector<Entry> entries;
    if (Err err = Services(name, wire::type::kTxt, &entries); err != Err::kNone) return err;
    for (const Entry& e : entries) {
      wire::Rr rr = MakeRr(name, wire::type::kTxt, e.ttl);
      rr.rdata.push_back(static_cast<uint8_t>(e.text.size()));
      rr.rdata.insert(rr.rdata.end(), e.text.begin(), e.text.end());
      records->push_back(std::move(rr));
    }
    return Err::kNone;
  }

  // plugin.CNAME: the first entry, if it names a host.
  Err Cname(const wire::Name& name, std::vector<wire::Rr>* records) const {
    std::vector<Entry> entries;
    if (Err err = Services(name, wire::type::kCname, &entries); err != Err::kNone) return err;
    Ip ip;
    wire::Name target;
    if (!entries.empty() && !ParseIp(entries[0].host, &ip) &&
        wire::Name::FromText(entries[0].host, &target)) {
      records->push_back(NameRr(name, wire::type::kCname, entries[0].ttl, target));
    }
    return Err::kNone;
  }

  Err Ptr(const wire::Name& name, std::vector<wire::Rr>* records) const {
    std::vector<Entry> entries;
    if (Err err = Reverse(name, &entries); err != Err::kNone) return err;
    std::unordered_set<std::string> seen;
    for (const Entry& e : entries) {
      if (!seen.insert(e.host).second) continue;
      records->push_back(NameRr(name, wire::type::kPtr, e.ttl, e.key));
    }
    return Err::kNone;
  }

  // plugin.NS at the apex: the names of this server's services, with their
  // addresses in the additional section.
  Err Ns(const wire::Name& name, std::vector<wire::Rr>* records,
         std::vector<wire::Rr>* extra) const {
    std::vector<wire::Name> seen;
    for (const auto& [ns, ip] : NsAddrs()) {
      extra->push_back(AddressRr(ns, c_.ttl, ip));
      if (std::find(seen.begin(), seen.end(), ns) != seen.end()) continue;
      seen.push_back(ns);
      records->push_back(NameRr(name, wire::type::kNs, c_.ttl, ns));
    }
    return Err::kNone;
  }

  // Kubernetes.Services: the entries for `name` when asked for `qtype`.
  Err Services(const wire::Name& name, uint16_t qtype, std::vector<Entry>* out) const {
    if (qtype == wire::type::kTxt) {
      const std::vector<std::string> base = Base(name);
      if (base.size() == 1 && base[0] == "dns-version") {
        out->push_back({"", 0, kDnsVersionTtl, kDnsSchemaVersion, name});
        return Err::kNone;
      }
      // Another type's records make the name exist: NODATA, else NXDOMAIN.
      std::vector<Entry> found;
      Records(name, &found);
      return found.empty() ? Err::kNoItems : Err::kNone;
    }
    if (name == ns_name_) {
      for (const auto& [ns, ip] : NsAddrs()) {
        if ((IsV4(ip) ? wire::type::kA : wire::type::kAaaa) == qtype) {
          out->push_back({IpText(ip), 0, c_.ttl, "", name});
        }
      }
      return Err::kNone;
    }
    Err err = Records(name, out);
    // SRV for ExternalName services is not implemented in CoreDNS.
    if (qtype == wire::type::kSrv) {
      std::erase_if(*out, [](const Entry& e) {
        Ip ip;
        return TypeOf(e, &ip) == HostType::kCname;
      });
    }
    return err;
  }

 private:
  static std::string IpText(const Ip& ip) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(IsV4(ip) ? AF_INET : AF_INET6, ip.data() + (IsV4(ip) ? 12 : 0), text, sizeof(text));
    return text;
  }

  static bool IsDuplicateCname(const wire::Name& target, const std::vector<wire::Rr>& previous) {
    return std::any_of(previous.begin(), previous.end(), [&](const wire::Rr& rr) {
      wire::Name t;
      return rr.type == wire::type::kCname &&
             wire::Name::FromWire(rr.rdata.data(), rr.rdata.size(), &t) && t == target;
    });
  }

  // The labels left of the zone, lowercased.
  std::vector<std::string> Base(const wire::Name& name) const {
    std::vector<std::string> labels = Labels(name);
    labels.resize(labels.size() - zone_.LabelCount());
    return labels;
  }

  // Listed in `namespaces` (if set) and present in the API.
  bool NamespaceExposed(const std::string& ns) const {
    return (c_.namespaces.empty() || c_.namespaces.contains(ns)) && !s_.namespaces.Get(ns).empty();
  }

  // An endpoint's label: its hostname, else (endpoint_pod_names) its pod's
  // name, else its address with dashes.
  std::string EndpointHostname(const EndpointAddress& a) const {
    if (!a.hostname.empty()) return a.hostname;
    if (c_.endpoint_pod_names && !a.target_ref_name.empty()) return a.target_ref_name;
    std::string label = a.ip;
    const bool v6 = label.find(':') != std::string::npos;
    std::replace(label.begin(), label.end(), v6 ? ':' : '.', '-');
    if (v6 && label.ends_with('-')) label += '0';
    return label;
  }

  // parseRequest: _port._protocol.service.namespace.pod|svc.zone,
  // endpoint.service.namespace.pod|svc.zone, service.namespace.pod|svc.zone.
  Err ParseRequest(const wire::Name& name, RecordRequest* r) const {
    const std::vector<std::string> segs = Base(name);
    // The apex, svc.<zone> and pod.<zone> have no records: NODATA.
    if (segs.empty() || (segs.size() == 1 && (segs[0] == kSvc || segs[0] == kPod))) {
      return Err::kNone;
    }
    int last = static_cast<int>(segs.size()) - 1;
    r->pod_or_svc = segs[last];
    if (r->pod_or_svc != kPod && r->pod_or_svc != kSvc) return Err::kInvalidRequest;
    if (--last < 0) return Err::kNone;
    r->ns = segs[last];
    if (--last < 0) return Err::kNone;
    r->service = segs[last];
    if (--last < 0) return Err::kNone;
    switch (last) {
      case 0:
        r->endpoint = segs[0];
        break;
      case 1:
        r->protocol = StripUnderscore(segs[1]);
        r->port = StripUnderscore(segs[0]);
        break;
      default:  // too many labels
        return Err::kInvalidRequest;
    }
    return Err::kNone;
  }

  Err Records(const wire::Name& name, std::vector<Entry>* out) const {
    RecordRequest r;
    if (Err err = ParseRequest(name, &r); err != Err::kNone) return err;
    if (r.pod_or_svc.empty()) return Err::kNone;
    static const wire::Name kV4Arpa = MustName("in-addr.arpa."), kV6Arpa = MustName("ip6.arpa.");
    for (const wire::Name* arpa : {&kV4Arpa, &kV6Arpa}) {
      if (name.IsSubdomainOf(*arpa) && !(name == *arpa)) return Err::kNoItems;
    }
    if (!NamespaceExposed(r.ns)) return Err::kNsNotExposed;
    return r.pod_or_svc == kPod ? FindPods(r, out) : FindServices(r, out);
  }

  Err FindServices(const RecordRequest& r, std::vector<Entry>* out) const {
    if (r.service.empty()) return Err::kNone;  // the namespace itself: NODATA
    Err err = Err::kNoItems;
    const std::string key = r.service + "." + r.ns;
    const auto& slices = s_.endpoints_by_service.Get(key);
    for (const auto& svc : s_.services.Get(key)) {
      // ignore empty_service: a ClusterIP service without ready endpoints
      // does not exist.
      if (c_.ignore_empty_service && !svc->IsExternalName() && !svc->Headless() &&
          std::all_of(slices.begin(), slices.end(),
                      [](const auto& ep) { return ep->addresses.empty(); })) {
        continue;
      }
      wire::Name svc_name;
      if (!Join({svc->name, svc->ns, kSvc}, zone_, &svc_name)) continue;
      if (svc->IsExternalName()) {
        // No endpoints, and no port or protocol names, below an ExternalName.
        if (!r.endpoint.empty() || !r.port.empty() || !r.protocol.empty()) continue;
        Entry e{svc->external_name, 0, c_.ttl, "", svc_name};
        Ip ip;
        if (TypeOf(e, &ip) == HostType::kCname) {
          out->push_back(std::move(e));
          err = Err::kNone;
        }
        continue;
      }
      if (svc->Headless() || !r.endpoint.empty()) {
        for (const auto& ep : slices) {
          for (const EndpointAddress& a : ep->addresses) {
            const std::string hostname = EndpointHostname(a);
            if (!r.endpoint.empty() && !EqualFold(r.endpoint, hostname)) continue;
            for (const Port& p : ep->ports) {
              if (!MatchPortAndProtocol(r.port, p.name, r.protocol, p.protocol)) continue;
              Entry e{a.ip, p.port, c_.ttl, "", {}};
              if (!Join({hostname}, svc_name, &e.key)) continue;
              err = Err::kNone;
              out->push_back(std::move(e));
            }
          }
        }
        continue;
      }
      for (const Port& p : svc->ports) {
        if (!MatchPortAndProtocol(r.port, p.name, r.protocol, p.protocol)) continue;
        err = Err::kNone;
        for (const std::string& ip : svc->cluster_ips) {
          out->push_back({ip, p.port, c_.ttl, "", svc_name});
        }
      }
    }
    return err;
  }

  Err FindPods(const RecordRequest& r, std::vector<Entry>* out) const {
    if (c_.pod_mode == PodMode::kDisabled) return Err::kNoItems;
    if (r.service.empty()) return Err::kNone;  // the namespace itself: NODATA
    // a-b-c-d is IPv4; anything else is IPv6 with dashes for colons.
    std::string ip = r.service;
    const bool v4 =
        std::count(ip.begin(), ip.end(), '-') == 3 && ip.find("--") == std::string::npos;
    std::replace(ip.begin(), ip.end(), '-', v4 ? '.' : ':');
    Entry e{ip, 0, c_.ttl, "", {}};
    // Labels after the pod's are ignored, as in CoreDNS.
    if (!Join({r.service, r.ns, kPod}, zone_, &e.key)) return Err::kNoItems;
    if (c_.pod_mode == PodMode::kInsecure) {
      Ip parsed;
      if (!ParseIp(ip, &parsed)) return Err::kNoItems;
      out->push_back(std::move(e));
      return Err::kNone;
    }
    Err err = Err::kNoItems;
    for (const auto& pod : s_.pods_by_ip.Get(ip)) {
      if (pod->ip == ip && EqualFold(r.ns, pod->ns)) {
        out->push_back(e);
        err = Err::kNone;
      }
    }
    return err;
  }

  // Kubernetes.Reverse: a service's cluster IP names the
  // service; otherwise every endpoint with the address names itself.
  Err Reverse(const wire::Name& name, std::vector<Entry>* out) const {
    Ip ip;
    if (!AddressFromReverse(Labels(name), &ip)) {
      std::vector<Entry> unused;
      return Records(name, &unused);
    }
    const std::string key = IpKey(ip);
    for (const auto& svc : s_.services_by_ip.Get(key)) {
      if (!c_.namespaces.empty() && !NamespaceExposed(svc->ns)) continue;
      Entry e{"", 0, c_.ttl, "", {}};
      if (!Join({svc->name, svc->ns, kSvc}, c_.primary_zone, &e.key)) continue;
      e.host = e.key.ToText();
      out->push_back(std::move(e));
      return Err::kNone;
    }
    for (const auto& ep : s_.endpoints_by_ip.Get(key)) {
      if (!c_.namespaces.empty() && !NamespaceExposed(ep->ns)) continue;
      for (const EndpointAddress& a : ep->addresses) {
        Ip address;
        if (!ParseIp(a.ip, &address) || address != ip) continue;
        Entry e{"", 0, c_.ttl, "", {}};
        if (!Join({EndpointHostname(a), ep->service, ep->ns, kSvc}, c_.primary_zone, &e.key)) {
          continue;
        }
        e.host = e.key.ToText();
        out->push_back(std::move(e));
      }
    }
    return out->empty() ? Err::kNoItems : Err::kNone;
  }

  // nsAddrs: the services whose endpoints are this server's addresses (a
  // headless one by its endpoints' names), else ns.dns.<zone> with the
  // addresses themselves.
  std::vector<std::pair<wire::Name, Ip>> NsAddrs() const {
    std::vector<std::pair<wire::Name, Ip>> out;
    for (const Ip& local : c_.local_ips) {
      for (const auto& ep : s_.endpoints_by_ip.Get(IpKey(local))) {
        for (const auto& svc : s_.services.Get(ep->Index())) {
          wire::Name svc_name;
          if (!Join({svc->name, svc->ns, kSvc}, zone_, &svc_name)) continue;
          if (svc->Headless()) {
            for (const EndpointAddress& a : ep->addresses) {
              wire::Name n;
              Ip ip;
              if (Join({EndpointHostname(a)}, svc_name, &n) && ParseIp(a.ip, &ip)) {
                out.emplace_back(n, ip);
              }
            }
            continue;
          }
          for (const std::string& text : svc->cluster_ips) {
            Ip ip;
            if (ParseIp(text, &ip)) out.emplace_back(svc_name, ip);
          }
        }
      }
    }
    if (out.empty()) {
      for (const Ip& local : c_.local_ips) out.emplace_back(ns_name_, local);
    }
    return out;
  }

  const Snapshot& s_;
  const Config& c_;
  const wire::Name zone_;
  wire::Name ns_name_;  // ns.dns.<zone>
};

}  // namespace

Answer Lookup(const Snapshot& snapshot, const Config& config, const wire::Name& qname,
              uint16_t qtype) {
  Answer a;
  const wire::Name* match = nullptr;
  for (const wire::Name& z : config.zones) {
    if (qname.IsSubdomainOf(z) && (match == nullptr || z.LabelCount() > match->LabelCount())) {
      match = &z;
    }
  }
  if (match == nullptr) {
    a.action = Answer::Action::kNext;
    return a;
  }
  const wire::Name zone = qname.Suffix(match->LabelCount());
  const bool apex = qname.LabelCount() == zone.LabelCount();
  const Backend b(snapshot, config, zone);
  Err err = Err::kNone;
  switch (qtype) {
    case wire::type::kAxfr:
    case wire::type::kIxfr:
      a.action = Answer::Action::kRefuse;
      return a;
    case wire::type::kA:
    case wire::type::kAaaa:
      err = b.Address(qname, qtype, {}, &a.answer, &a.external);
      break;
    case wire::type::kTxt:
      err = b.Txt(qname, &a.answer);
      break;
    case wire::type::kCname:
      err = b.Cname(qname, &a.answer);
      break;
    case wire::type::kPtr:
      err = b.Ptr(qname, &a.answer);
      break;
    case wire::type::kSrv:
      err = b.Srv(qname, &a.answer, &a.additional);
      break;
    case wire::type::kMx: {
      // No Kubernetes name has MX records: NODATA or NXDOMAIN.
      std::vector<Entry> unused;
      err = b.Services(qname, qtype, &unused);
      break;
    }
    case wire::type::kSoa:
      // Only the apex has the SOA; any other name is NODATA, existing or not.
      if (apex) a.answer.push_back(b.Soa());
      break;
    case wire::type::kNs:
      if (apex) {
        err = b.Ns(qname, &a.answer, &a.additional);
        break;
      }
      [[fallthrough]];
    default: {
      // A fake A lookup tells NODATA from NXDOMAIN.
      std::vector<wire::Rr> unused;
      std::optional<wire::Name> unused_external;
      err = b.Address(qname, wire::type::kA, {}, &unused, &unused_external);
      break;
    }
  }
  if (err != Err::kNone) {
    if (InZones(qname, config.fallthrough)) {
      a = Answer();
      a.action = Answer::Action::kNext;
      return a;
    }
    // Before the first sync a missing name may just not be known yet.
    a = Answer();
    a.rcode = snapshot.synced ? wire::rcode::kNxDomain : wire::rcode::kServFail;
    a.authority.push_back(b.Soa());
    return a;
  }
  if (a.answer.empty()) {
    a = Answer();
    a.authority.push_back(b.Soa());
  }
  return a;
}

}  // namespace warpdns::slowpath::kubernetes
