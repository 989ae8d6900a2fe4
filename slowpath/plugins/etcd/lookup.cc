#include "slowpath/plugins/etcd/lookup.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace warpdns::slowpath::etcd {
namespace {

namespace type = wire::type;

constexpr uint32_t kDefaultTtl = 300;     // neither the value nor a lease sets one
constexpr int64_t kDefaultPriority = 10;  // priority 0 in a value
constexpr uint32_t kMinTtl = 30;          // Etcd.MinTTL: the SOA's minimum and TTL
// A CNAME chain stops after this many CNAMEs (len(previousRecords) > 7).
constexpr size_t kMaxChain = 7;

enum class Status : uint8_t { kOk, kNotFound, kError };

// One service a lookup found, with its effective TTL and priority.
struct Found {
  const Record* record;
  uint32_t ttl;
  int64_t priority;
  const Service& s() const { return *record->service; }
};

struct Services {
  Status status = Status::kOk;
  std::vector<Found> list;
  std::string error;
};

std::vector<std::string_view> SplitSlash(std::string_view s) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t slash = s.find('/', start);
    parts.push_back(s.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) return parts;
    start = slash + 1;
  }
}

// dnsutil.Join(label, zone): "apex.dns" and "skydns.local." make
// "apex.dns.skydns.local.".
std::string JoinZone(std::string_view label, const std::string& zone) {
  return std::string(label) + (zone == "." ? "." : "." + zone);
}

// Whether a service takes part in an answer of type qtype (shouldInclude):
// only TXT may come from a service without a host.
bool ShouldInclude(const Service& s, uint16_t qtype) {
  return (qtype == type::kTxt && !s.text.empty()) || !s.host.empty();
}

// msg.Group: among the shallowest keys that have a group, that group and
// the services without one; everything if the shallowest disagree. The
// quirks of CoreDNS's loop (it stops at the first shallower key without a
// group) are kept.
std::vector<Found> Group(std::vector<Found> sx) {
  if (sx.empty()) return sx;
  auto slashes_of = [](const Found& f) {
    return static_cast<size_t>(std::count(f.record->key.begin(), f.record->key.end(), '/'));
  };
  std::string group = sx[0].s().group;
  size_t slashes = slashes_of(sx[0]);
  std::vector<size_t> length(sx.size(), 0);
  for (size_t i = 0; i < sx.size(); ++i) {
    const size_t x = slashes_of(sx[i]);
    length[i] = x;
    if (x < slashes) {
      if (sx[i].s().group.empty()) break;
      slashes = x;
      group = sx[i].s().group;
    }
  }
  if (group.empty()) return sx;
  std::vector<Found> ret;
  for (size_t i = 0; i < sx.size(); ++i) {
    const std::string& g = sx[i].s().group;
    if (g.empty()) {
      ret.push_back(sx[i]);
      continue;
    }
    if (length[i] == slashes && g != group) return sx;
    if (g == group) ret.push_back(sx[i]);
  }
  return ret;
}

wire::Rr NewRr(const wire::Name& owner, uint16_t rrtype, uint32_t ttl) {
  wire::Rr rr;
  rr.name = owner;
  rr.type = rrtype;
  rr.ttl = ttl;
  return rr;
}

void AppendName(const wire::Name& name, std::vector<uint8_t>* out) {
  out->insert(out->end(), name.data(), name.data() + name.size());
}

void Append16(uint16_t v, std::vector<uint8_t>* out) {
  out->push_back(static_cast<uint8_t>(v >> 8));
  out->push_back(static_cast<uint8_t>(v));
}

void Append32(uint32_t v, std::vector<uint8_t>* out) {
  Append16(static_cast<uint16_t>(v >> 16), out);
  Append16(static_cast<uint16_t>(v), out);
}

wire::Rr NameRr(const wire::Name& owner, uint16_t rrtype, uint32_t ttl, const wire::Name& target) {
  wire::Rr rr = NewRr(owner, rrtype, ttl);
  AppendName(target, &rr.rdata);
  return rr;
}

wire::Rr AddressRr(const wire::Name& owner, uint32_t ttl, const uint8_t* address, size_t len) {
  wire::Rr rr = NewRr(owner, len == 4 ? type::kA : type::kAaaa, ttl);
  rr.rdata.assign(address, address + len);
  return rr;
}

// A name a value names (a host, a key's domain): absent if it is not one
// (CoreDNS would build a record it then cannot send).
std::optional<wire::Name> ToName(const std::string& text) {
  wire::Name name;
  if (!wire::Name::FromText(text, &name)) return std::nullopt;
  return name;
}

// The services of one etcd backend view: the snapshot read the way
// CoreDNS's etcd plugin reads etcd, one query at a time.
class Backend {
 public:
  Backend(const Snapshot& snapshot, const LookupOptions& options, const std::string& zone,
          const Resolver& resolve, int64_t now_ns)
      : snapshot_(snapshot), options_(options), zone_(zone), resolve_(resolve), now_ns_(now_ns) {
    wire::Name::FromText(zone, &zone_name_);
  }

  Task<Response> Answer(const wire::Name& qname, uint16_t qtype);

 private:
  Services Records(const std::string& name, bool exact, uint16_t qtype) const;
  Services ServicesFor(const std::string& name, bool exact, uint16_t qtype) const {
    Services found = Records(name, exact, qtype);
    if (found.status == Status::kOk) found.list = Group(std::move(found.list));
    return found;
  }
  // The zone's own name asks apex.dns.ZONE first (checkForApex).
  Services CheckForApex(const std::string& name, uint16_t qtype) const {
    if (name != zone_) return ServicesFor(name, false, qtype);
    Services apex = ServicesFor(JoinZone("apex.dns", zone_), false, qtype);
    return apex.status == Status::kOk ? apex : ServicesFor(name, false, qtype);
  }
  uint32_t Ttl(const Record& record) const;

  // A, AAAA and TXT: the addresses or texts of qname, following name hosts
  // as CNAMEs (`chain`, the CNAME targets so far, lives in the caller's frame).
  Task<Status> Follow(const wire::Name& owner, uint16_t qtype,
                      const std::vector<std::string>& chain, std::vector<wire::Rr>* records,
                      bool* truncated, std::string* error);
  // SRV (mail = false) and MX (mail = true).
  Task<Status> Targets(const wire::Name& owner, bool mail, std::vector<wire::Rr>* records,
                       std::vector<wire::Rr>* extra, std::string* error);
  Status Exact(const wire::Name& owner, uint16_t qtype, std::vector<wire::Rr>* records,
               std::string* error) const;
  Status Ns(const wire::Name& owner, std::vector<wire::Rr>* records, std::vector<wire::Rr>* extra,
            std::string* error) const;
  // The A and AAAA records of a target outside the zone, for the additional
  // section (CNAMEs of the AAAA lookup left out, as CoreDNS does).
  Task<void> ExternalAddresses(const wire::Name& target, std::vector<wire::Rr>* extra);

  const Snapshot& snapshot_;
  const LookupOptions& options_;
  const std::string& zone_;
  wire::Name zone_name_;
  const Resolver& resolve_;
  const int64_t now_ns_;
  mutable bool leased_ = false;  // a lease capped a TTL (Ttl is const: a lookup's note)

 public:
  bool leased() const { return leased_; }
};

uint32_t Backend::Ttl(const Record& record) const {
  // The lease's remaining time, clamped, caps the value's TTL.
  uint32_t lease_ttl = 0;
  if (record.lease != nullptr) {
    const int64_t deadline = record.lease->deadline_ns.load(std::memory_order_relaxed);
    if (deadline != 0) {
      leased_ = true;
      const int64_t left = std::max<int64_t>(0, (deadline - now_ns_ + 999'999'999) / 1'000'000'000);
      // Not std::clamp: a Corefile may give min > max.
      lease_ttl = static_cast<uint32_t>(std::min<int64_t>(
          std::max<int64_t>(left, options_.min_lease_ttl), options_.max_lease_ttl));
    }
  }
  const uint32_t value_ttl = record.service->ttl;
  if (lease_ttl == 0 && value_ttl == 0) return kDefaultTtl;
  if (lease_ttl == 0) return value_ttl;
  if (value_ttl == 0) return lease_ttl;
  return std::min(lease_ttl, value_ttl);
}

Services Backend::Records(const std::string& name, bool exact, uint16_t qtype) const {
  bool star = false;
  const std::string path = PathWithWildcard(name, options_.path, &star);
  // A prefix read of PATH/ and, if that finds nothing, PATH itself.
  std::vector<const Record*> kvs;
  if (!exact) {
    snapshot_.ForEachWithPrefix(path == "/" ? path : path + "/",
                                [&](const Record& r) { kvs.push_back(&r); });
  }
  if (kvs.empty()) {
    if (const Record* r = snapshot_.Find(path)) kvs.push_back(r);
  }
  Services out;
  if (kvs.empty()) {
    out.status = Status::kNotFound;
    return out;
  }
  const std::string name_path = PathOf(name, options_.path);
  const std::vector<std::string_view> name_parts = SplitSlash(name_path);
  for (const Record* r : kvs) {
    if (star) {
      const std::vector<std::string_view> key_parts = SplitSlash(r->key);
      bool match = name_parts.size() <= key_parts.size();
      for (size_t i = 0; match && i < name_parts.size(); ++i) {
        if (name_parts[i] == "*" || name_parts[i] == "any") continue;
        match = key_parts[i] == name_parts[i];
      }
      if (!match) continue;
    }
    if (!r->service) {
      out.status = Status::kError;
      out.error = r->key + ": " + r->error;
      out.list.clear();
      return out;
    }
    if (!ShouldInclude(*r->service, qtype)) continue;
    out.list.push_back(
        {r, Ttl(*r), r->service->priority == 0 ? kDefaultPriority : r->service->priority});
  }
  return out;
}

// GCC 12 takes the inlined allocation of this coroutine's frame (asio's
// recycling allocator, both ways) for a mismatched new/delete.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
Task<Status> Backend::Follow(const wire::Name& owner, uint16_t qtype,
                             const std::vector<std::string>& chain, std::vector<wire::Rr>* records,
                             bool* truncated, std::string* error) {
  const std::string name = owner.ToLowerText();
  Services services =
      qtype == type::kTxt ? ServicesFor(name, false, qtype) : CheckForApex(name, qtype);
  if (services.status != Status::kOk) {
    *error = services.error;
    co_return services.status;
  }
  std::set<std::string> dup;  // hosts (A, AAAA) or texts (TXT) answered
  for (const Found& f : services.list) {
    std::array<uint8_t, 16> address;
    size_t address_len = 0;
    switch (ClassifyHost(f.s(), &address, &address_len)) {
      case HostKind::kName: {
        const std::string target_text = Fqdn(f.s().host);
        const std::optional<wire::Name> target = ToName(target_text);
        // x CNAME x, or x CNAME y.x, would loop.
        if (!target || target->IsSubdomainOf(owner)) continue;
        if (chain.size() > kMaxChain) continue;
        if (std::find(chain.begin(), chain.end(), target_text) != chain.end()) continue;
        wire::Rr cname = NameRr(owner, type::kCname, f.ttl, *target);
        if (target->IsSubdomainOf(zone_name_)) {
          std::vector<std::string> next_chain = chain;
          next_chain.push_back(target_text);
          std::vector<wire::Rr> next;
          bool next_truncated = false;
          std::string ignored;
          const Status st =
              co_await Follow(*target, qtype, next_chain, &next, &next_truncated, &ignored);
          // Only a chain that ends in records is an answer.
          if (st == Status::kOk && !next.empty()) {
            records->push_back(std::move(cname));
            records->insert(records->end(), next.begin(), next.end());
          }
          if (next_truncated) *truncated = true;
          continue;
        }
        wire::Message m = co_await resolve_(*target, qtype);
        if (qtype != type::kTxt && m.header.tc()) *truncated = true;
        records->push_back(std::move(cname));
        records->insert(records->end(), m.answer.begin(), m.answer.end());
        break;
      }
      case HostKind::kA:
      case HostKind::kAaaa:
        if (qtype == (address_len == 4 ? type::kA : type::kAaaa) && dup.insert(f.s().host).second) {
          records->push_back(AddressRr(owner, f.ttl, address.data(), address_len));
        }
        break;
      case HostKind::kText:
        if (qtype == type::kTxt && dup.insert(f.s().text).second) {
          wire::Rr txt = NewRr(owner, type::kTxt, f.ttl);
          for (const std::string& piece : Split255(f.s().text)) {
            txt.rdata.push_back(static_cast<uint8_t>(piece.size()));
            txt.rdata.insert(txt.rdata.end(), piece.begin(), piece.end());
          }
          records->push_back(std::move(txt));
        }
        break;
    }
  }
  co_return Status::kOk;
}
#pragma GCC diagnostic pop

Task<void> Backend::ExternalAddresses(const wire::Name& target, std::vector<wire::Rr>* extra) {
  wire::Message a = co_await resolve_(target, type::kA);
  extra->insert(extra->end(), a.answer.begin(), a.answer.end());
  wire::Message aaaa = co_await resolve_(target, type::kAaaa);
  for (wire::Rr& rr : aaaa.answer) {
    if (rr.type != type::kCname) extra->push_back(std::move(rr));
  }
}

Task<Status> Backend::Targets(const wire::Name& owner, bool mail, std::vector<wire::Rr>* records,
                              std::vector<wire::Rr>* extra, std::string* error) {
  const uint16_t qtype = mail ? type::kMx : type::kSrv;
  Services services = ServicesFor(owner.ToLowerText(), false, qtype);
  if (services.status != Status::kOk) {
    *error = services.error;
    co_return services.status;
  }
  // SRV weights are shares of their priority's total (a weight of 0
  // counting as 100), floored, at least 1.
  std::map<int64_t, int64_t> weight_sums;
  for (const Found& f : services.list) {
    weight_sums[f.priority] += f.s().weight == 0 ? 100 : f.s().weight;
  }
  // (name, port or preference, address) already added.
  std::set<std::tuple<std::string, uint16_t, std::string>> dup;
  std::set<std::string> looked_up;  // name targets whose addresses were added
  auto strip = [](const Found& f, const std::string& host) {
    const std::string fqdn = Fqdn(host);
    return f.s().target_strip > 0 ? TargetStrip(fqdn, f.s().target_strip) : fqdn;
  };
  for (const Found& f : services.list) {
    if (mail ? !f.s().mail : f.s().port == -1) continue;  // -1: no port (kubernetes)
    uint16_t weight = 0;
    if (!mail) {
      const double share = 100.0 / static_cast<double>(weight_sums[f.priority]) *
                           static_cast<double>(f.s().weight == 0 ? 100 : f.s().weight);
      weight = std::isfinite(share) && share >= 1
                   ? static_cast<uint16_t>(std::min(65535.0, std::floor(share)))
                   : 1;
    }
    const uint16_t priority = static_cast<uint16_t>(f.priority);
    const uint16_t port = static_cast<uint16_t>(f.s().port);
    auto record = [&](const wire::Name& target) {
      wire::Rr rr = NewRr(owner, qtype, f.ttl);
      Append16(priority, &rr.rdata);
      if (!mail) {
        Append16(weight, &rr.rdata);
        Append16(port, &rr.rdata);
      }
      AppendName(target, &rr.rdata);
      return rr;
    };
    std::array<uint8_t, 16> address;
    size_t address_len = 0;
    switch (ClassifyHost(f.s(), &address, &address_len)) {
      case HostKind::kName: {
        const std::string target_text = strip(f, f.s().host);
        const std::optional<wire::Name> target = ToName(target_text);
        if (!target) continue;
        records->push_back(record(*target));
        if (!looked_up.insert(target_text).second) continue;
        if (!target->IsSubdomainOf(zone_name_)) {
          co_await ExternalAddresses(*target, extra);
          continue;
        }
        // Inside the zone: its A records (CoreDNS does not add AAAA here).
        std::vector<wire::Rr> addresses;
        const std::vector<std::string> no_chain;
        bool unused_truncated = false;
        std::string ignored;
        if (co_await Follow(*target, type::kA, no_chain, &addresses, &unused_truncated, &ignored) ==
            Status::kOk) {
          extra->insert(extra->end(), addresses.begin(), addresses.end());
        }
        break;
      }
      case HostKind::kA:
      case HostKind::kAaaa: {
        // An address host: the target is the key's own name.
        const std::string domain = DomainOf(f.record->key);
        const std::string target_text = strip(f, domain);
        const std::optional<wire::Name> target = ToName(target_text);
        if (!target) continue;
        if (dup.insert({target_text, mail ? priority : port, ""}).second) {
          records->push_back(record(*target));
        }
        // MX names the address after the unstripped domain, SRV after the target.
        const std::string& address_owner = mail ? domain : target_text;
        const std::optional<wire::Name> owner_name = mail ? ToName(domain) : target;
        if (owner_name && dup.insert({address_owner, 0, f.s().host}).second) {
          extra->push_back(AddressRr(*owner_name, f.ttl, address.data(), address_len));
        }
        break;
      }
      case HostKind::kText:
        break;
    }
  }
  co_return Status::kOk;
}

Status Backend::Exact(const wire::Name& owner, uint16_t qtype, std::vector<wire::Rr>* records,
                      std::string* error) const {
  // CNAME and PTR read the exact key only.
  Services services = ServicesFor(owner.ToLowerText(), true, qtype);
  if (services.status != Status::kOk) {
    *error = services.error;
    return services.status;
  }
  std::set<std::string> dup;
  for (const Found& f : services.list) {
    std::array<uint8_t, 16> address;
    size_t address_len = 0;
    const HostKind kind = ClassifyHost(f.s(), &address, &address_len);
    if (kind == HostKind::kName || kind == HostKind::kText) {
      const std::optional<wire::Name> target = ToName(Fqdn(f.s().host));
      if (target && dup.insert(f.s().host).second) {
        records->push_back(NameRr(owner, qtype, f.ttl, *target));
      }
    }
    if (qtype == type::kCname) break;  // only the first service counts
  }
  return Status::kOk;
}

Status Backend::Ns(const wire::Name& owner, std::vector<wire::Rr>* records,
                   std::vector<wire::Rr>* extra, std::string* error) const {
  // The zone's name servers live at ns.dns.ZONE, as addresses.
  Services services = ServicesFor(JoinZone("ns.dns", zone_), false, type::kNs);
  if (services.status != Status::kOk) {
    *error = services.error;
    return services.status;
  }
  std::set<std::string> seen;
  for (const Found& f : services.list) {
    std::array<uint8_t, 16> address;
    size_t address_len = 0;
    const HostKind kind = ClassifyHost(f.s(), &address, &address_len);
    if (kind == HostKind::kName) {
      *error = "NS record must be an IP address: " + f.s().host;
      return Status::kError;
    }
    if (kind == HostKind::kText) continue;
    std::string ns_text = Fqdn(DomainOf(f.record->key));
    if (f.s().target_strip > 0) ns_text = TargetStrip(ns_text, f.s().target_strip);
    const std::optional<wire::Name> ns = ToName(ns_text);
    if (!ns) continue;
    extra->push_back(AddressRr(*ns, f.ttl, address.data(), address_len));
    if (seen.insert(ns_text).second) records->push_back(NameRr(owner, type::kNs, f.ttl, *ns));
  }
  return Status::kOk;
}

Task<Response> Backend::Answer(const wire::Name& qname, uint16_t qtype) {
  Response r;
  Status st = Status::kOk;
  const std::string name = qname.ToLowerText();
  switch (qtype) {
    case type::kA:
    case type::kAaaa:
    case type::kTxt: {
      const std::vector<std::string> no_chain;
      st = co_await Follow(qname, qtype, no_chain, &r.answer, &r.truncated, &r.error);
      break;
    }
    case type::kCname:
    case type::kPtr:
      st = Exact(qname, qtype, &r.answer, &r.error);
      break;
    case type::kMx:
    case type::kSrv:
      st = co_await Targets(qname, qtype == type::kMx, &r.answer, &r.extra, &r.error);
      break;
    case type::kSoa:
      r.answer.push_back(Soa(zone_, static_cast<uint32_t>(std::time(nullptr))));
      break;
    case type::kNs:
      if (name == zone_) {
        st = Ns(qname, &r.answer, &r.extra, &r.error);
        break;
      }
      [[fallthrough]];
    default: {
      // Only whether the name exists matters: NODATA or NXDOMAIN.
      Services services = CheckForApex(name, qtype);
      st = services.status;
      r.error = services.error;
    }
  }
  if (st != Status::kOk || r.answer.empty()) {
    r.rcode = st == Status::kNotFound ? wire::rcode::kNxDomain
              : st == Status::kError  ? wire::rcode::kServFail
                                      : wire::rcode::kNoError;
    r.answer.clear();
    r.extra.clear();
    r.truncated = false;
  }
  co_return r;
}

}  // namespace

Task<Response> Lookup(const Snapshot& snapshot, const LookupOptions& options,
                      const std::string& zone, const wire::Name& qname, uint16_t qtype,
                      const Resolver& resolve, int64_t now_ns) {
  Backend backend(snapshot, options, zone, resolve, now_ns);
  Response r = co_await backend.Answer(qname, qtype);
  r.leased = backend.leased();
  co_return r;
}

wire::Rr Soa(const std::string& zone, uint32_t serial) {
  wire::Name origin;
  wire::Name ns;
  wire::Name mbox;
  wire::Name::FromText(zone, &origin);
  wire::Name::FromText(JoinZone("ns.dns", zone), &ns);
  wire::Name::FromText(JoinZone("hostmaster", zone), &mbox);
  wire::Rr rr = NewRr(origin, type::kSoa, kMinTtl);
  AppendName(ns, &rr.rdata);
  AppendName(mbox, &rr.rdata);
  for (uint32_t v : {serial, 7200u, 1800u, 86400u, kMinTtl}) Append32(v, &rr.rdata);
  return rr;
}

}  // namespace warpdns::slowpath::etcd
