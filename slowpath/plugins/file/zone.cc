#include "slowpath/plugins/file/zone.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <utility>

// clang-format off
// stdbool.h first: without it ldns/common.h defines true and false as macros.
#include <stdbool.h>
#include <ldns/ldns.h>
// clang-format on

namespace warpdns::slowpath::file {

namespace {

namespace type = wire::type;

// CoreDNS gives up following an in-zone CNAME chain after this many hops and
// returns what it has (lookup.go: `if i > 8`).
constexpr int kMaxChain = 8;

struct CanonicalLess {
  bool operator()(const wire::Name& a, const wire::Name& b) const noexcept {
    return a.CanonicalCompare(b) < 0;
  }
};

using RrSet = std::vector<wire::Rr>;
// One owner name's records by type (CoreDNS's tree.Elem).
using Node = std::map<uint16_t, RrSet>;
// Canonical (RFC 4034 6.1) order, so NSEC predecessors are map predecessors.
using Tree = std::map<wire::Name, Node, CanonicalLess>;
using Elem = Tree::value_type;

// Length of the uncompressed name at rdata[off], 0 if malformed.
size_t NameLength(const std::vector<uint8_t>& rdata, size_t off) {
  return off < rdata.size() ? wire::WireNameLength(rdata.data() + off, rdata.size() - off) : 0;
}

bool NameAt(const wire::Rr& rr, size_t off, wire::Name* out) {
  size_t n = NameLength(rr.rdata, off);
  return n != 0 && wire::Name::FromWire(rr.rdata.data() + off, n, out);
}

void LowercaseNameAt(std::vector<uint8_t>* rdata, size_t off) {
  size_t n = NameLength(*rdata, off);
  for (size_t i = off; i < off + n;) {
    uint8_t len = (*rdata)[i];
    for (size_t j = i + 1; j <= i + len; ++j) (*rdata)[j] = wire::ToLowerOctet((*rdata)[j]);
    i += len + 1;
  }
}

// Offset of the domain name in RDATA that lookups follow (NS, CNAME and DNAME
// targets, MX exchange, SRV/SVCB target), or nullopt. CoreDNS lowercases
// these on insert, except the DNAME target.
std::optional<size_t> TargetOffset(uint16_t t) {
  switch (t) {
    case type::kNs:
    case type::kCname:
    case type::kDname:
      return 0;
    case type::kMx:
    case type::kSvcb:
    case type::kHttps:
      return 2;
    case type::kSrv:
      return 6;
    default:
      return std::nullopt;
  }
}

bool Target(const wire::Rr& rr, wire::Name* out) {
  std::optional<size_t> off = TargetOffset(rr.type);
  return off.has_value() && NameAt(rr, *off, out);
}

uint16_t TypeCovered(const wire::Rr& sig) {
  return sig.rdata.size() < 2 ? 0 : static_cast<uint16_t>(sig.rdata[0] << 8 | sig.rdata[1]);
}

// rrutil.SubTypeSignature: the RRSIGs of `sigs` covering `covered`.
RrSet SigsCovering(const RrSet& sigs, uint16_t covered) {
  RrSet out;
  for (const wire::Rr& s : sigs) {
    if (s.type == type::kRrsig && TypeCovered(s) == covered) out.push_back(s);
  }
  return out;
}

void Append(RrSet* to, const RrSet& from) { to->insert(to->end(), from.begin(), from.end()); }

const RrSet& TypeOf(const Elem& e, uint16_t t) {
  static const RrSet kEmpty;
  auto it = e.second.find(t);
  return it == e.second.end() ? kEmpty : it->second;
}

// tree.Elem.TypeForWildcard: copies with the owner set to qname.
RrSet TypeForWildcard(const Elem& e, uint16_t t, const wire::Name& qname) {
  RrSet out = TypeOf(e, t);
  for (wire::Rr& rr : out) rr.name = qname;
  return out;
}

// typeFromElem: type `t` of `e` plus, with DO, its signatures.
RrSet TypeWithSigs(const Elem& e, uint16_t t, bool dnssec_ok) {
  RrSet out = TypeOf(e, t);
  if (dnssec_ok) Append(&out, SigsCovering(TypeOf(e, type::kRrsig), t));
  return out;
}

// RFC 6672 substitution: qname's labels below `owner` followed by `target`.
// False when qname is not strictly below owner or the result is too long.
bool SubstituteDname(const wire::Name& qname, const wire::Name& owner, const wire::Name& target,
                     wire::Name* out) {
  if (!qname.IsSubdomainOf(owner) || qname == owner) return false;
  size_t prefix = qname.size() - owner.size();
  if (prefix + target.size() > wire::kMaxNameLength) return false;
  std::vector<uint8_t> buf(qname.data(), qname.data() + prefix);
  buf.insert(buf.end(), target.data(), target.data() + target.size());
  return wire::Name::FromWire(buf.data(), buf.size(), out);
}

void SetOutcome(Outcome o, LookupResult* r) {
  r->outcome = o;
  r->authoritative = o != Outcome::kDelegation;
  r->rcode = o == Outcome::kNameError       ? wire::rcode::kNxDomain
             : o == Outcome::kServerFailure ? wire::rcode::kServFail
                                            : wire::rcode::kNoError;
}

// "*.<parent>"; false when that would be too long.
bool WildcardOf(const wire::Name& parent, wire::Name* out) {
  *out = parent;
  return out->PrependLabel("*");
}

}  // namespace

struct Zone::Impl {
  wire::Name origin;
  std::optional<wire::Rr> soa;
  RrSet sig_soa;
  RrSet ns;
  RrSet sig_ns;
  Tree tree;
  size_t count = 0;

  // zone.Insert: normalises case and files apex SOA/NS (and their RRSIGs)
  // outside the tree, as CoreDNS does.
  bool Insert(wire::Rr rr, std::string* error);

  const Elem* Search(const wire::Name& name) const {
    auto it = tree.find(name);
    return it == tree.end() ? nullptr : &*it;
  }
  // Greatest name <= `name` (tree.Prev).
  const Elem* Prev(const wire::Name& name) const {
    auto it = tree.upper_bound(name);
    return it == tree.begin() ? nullptr : &*std::prev(it);
  }
  // Smallest name >= `name` (tree.Next).
  const Elem* Next(const wire::Name& name) const {
    auto it = tree.lower_bound(name);
    return it == tree.end() ? nullptr : &*it;
  }

  RrSet Soa(bool dnssec_ok) const {
    RrSet out{*soa};
    if (dnssec_ok) Append(&out, sig_soa);
    return out;
  }
  RrSet Ns(bool dnssec_ok) const {
    RrSet out = ns;
    if (dnssec_ok) Append(&out, sig_ns);
    return out;
  }

  RrSet Glue(const RrSet& nsrrs, bool dnssec_ok) const;
  RrSet AdditionalProcessing(const RrSet& answer, bool dnssec_ok) const;
  bool CloserEntExists(const wire::Name& qname, const wire::Name& wildcard) const;
  const Elem* ClosestEncloser(const wire::Name& qname) const;
  void ChaseCname(const Elem& elem, RrSet rrs, uint16_t qtype, bool dnssec_ok,
                  LookupResult* r) const;
};

bool Zone::Impl::Insert(wire::Rr rr, std::string* error) {
  rr.name.ToLower();
  if (std::optional<size_t> off = TargetOffset(rr.type); off && rr.type != type::kDname) {
    LowercaseNameAt(&rr.rdata, *off);
  }
  ++count;
  switch (rr.type) {
    case type::kNs:
      if (rr.name == origin) {
        ns.push_back(std::move(rr));
        return true;
      }
      break;
    case type::kSoa:
      LowercaseNameAt(&rr.rdata, 0);
      LowercaseNameAt(&rr.rdata, NameLength(rr.rdata, 0));
      soa = std::move(rr);
      return true;
    case type::kNsec3:
    case type::kNsec3Param:
      *error = "NSEC3 zone is not supported, dropping RR: " + rr.name.ToText() +
               " for zone: " + origin.ToText();
      return false;
    case type::kRrsig:
      if (TypeCovered(rr) == type::kSoa) {
        sig_soa.push_back(std::move(rr));
        return true;
      }
      if (TypeCovered(rr) == type::kNs && rr.name == origin) {
        sig_ns.push_back(std::move(rr));
        return true;
      }
      break;
    default:
      break;
  }
  wire::Name owner = rr.name;
  uint16_t t = rr.type;
  tree[owner][t].push_back(std::move(rr));
  return true;
}

RrSet Zone::Impl::Glue(const RrSet& nsrrs, bool dnssec_ok) const {
  RrSet glue;
  for (const wire::Rr& rr : nsrrs) {
    wire::Name target;
    // Only in-bailiwick names are glue (lookup.go Glue).
    if (rr.type != type::kNs || !Target(rr, &target) || !target.IsSubdomainOf(rr.name)) continue;
    const Elem* e = Search(target);
    if (e == nullptr) continue;
    for (uint16_t t : {type::kA, type::kAaaa}) Append(&glue, TypeWithSigs(*e, t, dnssec_ok));
  }
  return glue;
}

RrSet Zone::Impl::AdditionalProcessing(const RrSet& answer, bool dnssec_ok) const {
  RrSet extra;
  for (const wire::Rr& rr : answer) {
    wire::Name target;
    if (rr.type != type::kMx && rr.type != type::kSrv && rr.type != type::kSvcb &&
        rr.type != type::kHttps) {
      continue;
    }
    if (!Target(rr, &target) || !target.IsSubdomainOf(origin)) continue;
    const Elem* e = Search(target);
    if (e == nullptr) continue;
    for (uint16_t t : {type::kA, type::kAaaa}) Append(&extra, TypeWithSigs(*e, t, dnssec_ok));
  }
  return extra;
}

// closerENTExists: a name at or below a strict ancestor of qname that is
// itself strictly below the wildcard's parent makes that ancestor the closest
// encloser, so the shallower wildcard does not apply (RFC 4592 2.2.1).
bool Zone::Impl::CloserEntExists(const wire::Name& qname, const wire::Name& wildcard) const {
  wire::Name parent = wildcard.Parent();
  for (wire::Name name = qname.Parent(); !name.IsRoot(); name = name.Parent()) {
    if (name == parent || !name.IsSubdomainOf(parent)) return false;
    const Elem* x = Next(name);
    if (x != nullptr && x->first.IsSubdomainOf(name)) return true;
  }
  return false;
}

// ClosestEncloser: the deepest existing node among qname and its ancestors
// (down to two labels), else the apex. Empty non-terminals are not nodes.
const Elem* Zone::Impl::ClosestEncloser(const wire::Name& qname) const {
  for (wire::Name name = qname; name.LabelCount() > 1; name = name.Parent()) {
    if (const Elem* e = Search(name)) return e;
  }
  return Search(origin);
}

// externalLookup: `rrs` starts with the CNAME owned by (or synthesised at)
// `elem`; follows the chain through existing nodes of this zone.
void Zone::Impl::ChaseCname(const Elem& elem, RrSet rrs, uint16_t qtype, bool dnssec_ok,
                            LookupResult* r) const {
  if (dnssec_ok) Append(&rrs, SigsCovering(TypeOf(elem, type::kRrsig), type::kCname));
  auto by_server = [&](const wire::Name& target, const Elem* e) {
    // CoreDNS asks the server itself for targets that are not nodes here, and
    // always for NS (and SOA of the apex), which live outside its tree.
    return e == nullptr || qtype == type::kNs || (qtype == type::kSoa && target == origin);
  };
  r->authority = Ns(dnssec_ok);
  wire::Name target;
  Target(rrs.front(), &target);
  const Elem* e = Search(target);
  for (int hops = 0; !by_server(target, e);) {
    const RrSet& cname = TypeOf(*e, type::kCname);
    if (cname.empty()) {
      Append(&rrs, TypeWithSigs(*e, qtype, dnssec_ok));
      r->answer = std::move(rrs);
      return;
    }
    Append(&rrs, TypeWithSigs(*e, type::kCname, dnssec_ok));
    Target(cname.front(), &target);
    e = Search(target);
    if (++hops > kMaxChain && !by_server(target, e)) {
      r->answer = std::move(rrs);
      return;
    }
  }
  r->external_cname = true;
  r->external_target = target;
  r->answer = std::move(rrs);
}

Zone::Zone(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Zone::~Zone() = default;

const wire::Name& Zone::origin() const { return impl_->origin; }

uint32_t Zone::Serial() const {
  const std::vector<uint8_t>& rd = impl_->soa->rdata;
  size_t off = NameLength(rd, 0);
  off += NameLength(rd, off);
  if (off + 4 > rd.size()) return 0;
  return uint32_t{rd[off]} << 24 | uint32_t{rd[off + 1]} << 16 | uint32_t{rd[off + 2]} << 8 |
         rd[off + 3];
}

size_t Zone::RecordCount() const { return impl_->count; }

std::unique_ptr<Zone> Zone::FromRecords(const wire::Name& origin, std::vector<wire::Rr> rrs,
                                        std::string* error) {
  auto impl = std::make_unique<Impl>();
  impl->origin = origin.Lowercased();
  for (wire::Rr& rr : rrs) {
    if (!impl->Insert(std::move(rr), error)) return nullptr;
  }
  if (!impl->soa) {
    *error = "no SOA record for origin " + impl->origin.ToText();
    return nullptr;
  }
  return std::unique_ptr<Zone>(new Zone(std::move(impl)));
}

namespace {

// The TTL of records that give none, before any record or $TTL does
// (miekg/dns's default, and so CoreDNS's).
constexpr uint32_t kDefaultTtl = 3600;
// What ldns is told to give records without a TTL, to tell them apart from
// records that state one (no zone file states this one).
constexpr uint32_t kNoTtl = UINT32_MAX;

bool FromLdns(const ldns_rr* rr, wire::Rr* out) {
  const ldns_rdf* owner = ldns_rr_owner(rr);
  if (!wire::Name::FromWire(ldns_rdf_data(owner), ldns_rdf_size(owner), &out->name)) return false;
  out->type = static_cast<uint16_t>(ldns_rr_get_type(rr));
  out->rclass = static_cast<uint16_t>(ldns_rr_get_class(rr));
  out->ttl = ldns_rr_ttl(rr);
  out->rdata.clear();
  // ldns keeps each RDATA field in wire form (names uncompressed).
  for (size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
    const ldns_rdf* f = ldns_rr_rdf(rr, i);
    out->rdata.insert(out->rdata.end(), ldns_rdf_data(f), ldns_rdf_data(f) + ldns_rdf_size(f));
  }
  return true;
}

// Reads a master file one record at a time with ldns (rather than with
// ldns_zone_new_frm_fp_l, which leaks the records read before a syntax
// error). TTLs follow miekg/dns: a record without one takes the $TTL, else
// the last TTL stated, else kDefaultTtl. Returns an ldns status; *line is
// the line reached.
ldns_status ReadRecords(FILE* fp, const wire::Name& origin, std::vector<wire::Rr>* rrs, int* line) {
  ldns_rdf* current_origin = ldns_dname_new_frm_data(origin.size(), origin.data());
  ldns_rdf* prev_owner = ldns_rdf_clone(current_origin);
  uint32_t directive_ttl = 0;
  bool have_directive_ttl = false;
  uint32_t last_ttl = kDefaultTtl;
  ldns_status status = LDNS_STATUS_OK;
  while (status == LDNS_STATUS_OK && !std::feof(fp)) {
    uint32_t ttl = kNoTtl;
    ldns_rr* rr = nullptr;
    ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &current_origin, &prev_owner, line);
    if (s == LDNS_STATUS_OK) {
      if (ldns_rr_ttl(rr) == kNoTtl) {
        ldns_rr_set_ttl(rr, have_directive_ttl ? directive_ttl : last_ttl);
      } else {
        last_ttl = ldns_rr_ttl(rr);
      }
      rrs->emplace_back();
      if (!FromLdns(rr, &rrs->back())) status = LDNS_STATUS_DOMAINNAME_OVERFLOW;
      ldns_rr_free(rr);
    } else if (s == LDNS_STATUS_SYNTAX_TTL) {
      directive_ttl = ttl;
      have_directive_ttl = true;
    } else if (s == LDNS_STATUS_SYNTAX_INCLUDE) {
      status = LDNS_STATUS_SYNTAX_INCLUDE_ERR_NOTIMPL;
    } else if (s != LDNS_STATUS_SYNTAX_EMPTY && s != LDNS_STATUS_SYNTAX_ORIGIN) {
      status = s;
    }
  }
  ldns_rdf_deep_free(current_origin);
  ldns_rdf_deep_free(prev_owner);
  return status;
}

}  // namespace

std::unique_ptr<Zone> Zone::Load(const std::string& path, const wire::Name& origin,
                                 std::string* error) {
  FILE* fp = std::fopen(path.c_str(), "r");
  if (fp == nullptr) {
    *error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  std::vector<wire::Rr> rrs;
  int line = 0;  // ldns counts the newlines it has read
  ldns_status s = ReadRecords(fp, origin, &rrs, &line);
  std::fclose(fp);
  if (s != LDNS_STATUS_OK) {
    *error = path + ":" + std::to_string(line) + ": " + ldns_get_errorstr_by_id(s);
    return nullptr;
  }
  if (std::none_of(rrs.begin(), rrs.end(),
                   [](const wire::Rr& rr) { return rr.type == type::kSoa; })) {
    *error = "file \"" + path + "\" has no SOA record for origin " + origin.ToLowerText();
    return nullptr;
  }
  std::string what;
  std::unique_ptr<Zone> z = FromRecords(origin, std::move(rrs), &what);
  if (z == nullptr) *error = path + ": " + what;
  return z;
}

LookupResult Zone::Lookup(const wire::Name& qname_in, uint16_t qtype, bool dnssec_ok) const {
  const Impl& z = *impl_;
  // CoreDNS works on the lowercased qname: synthesised owners are lowercase.
  const wire::Name qname = qname_in.Lowercased();
  LookupResult r;
  auto finish = [&r](Outcome o) {
    SetOutcome(o, &r);
    return std::move(r);
  };

  if (qname == z.origin) {
    if (qtype == type::kSoa) {
      r.answer = z.Soa(dnssec_ok);
      r.authority = z.Ns(dnssec_ok);
      return finish(Outcome::kSuccess);
    }
    if (qtype == type::kNs) {
      r.answer = z.Ns(dnssec_ok);
      r.additional = z.Glue(r.answer, dnssec_ok);  // technically not glue
      return finish(Outcome::kSuccess);
    }
  }

  // From the apex down to qname, one label at a time: DNAMEs and delegations
  // on the way take over; missing names remember the wildcard at their level.
  const Elem* elem = nullptr;
  const Elem* wild = nullptr;
  const int q_labels = qname.LabelCount();
  for (int n = z.origin.LabelCount(); n <= q_labels; ++n) {
    const wire::Name parts = qname.Suffix(n);
    elem = z.Search(parts);
    if (elem == nullptr) {
      wire::Name wildcard;
      if (!parts.IsRoot() && WildcardOf(parts.Parent(), &wildcard)) {
        if (const Elem* w = z.Search(wildcard)) wild = w;
      }
      continue;
    }

    if (const RrSet& dnames = TypeOf(*elem, type::kDname); !dnames.empty()) {
      wire::Name owner_target;
      wire::Name synthesized;
      if (NameAt(dnames.front(), 0, &owner_target) &&
          SubstituteDname(qname, dnames.front().name, owner_target, &synthesized)) {
        wire::Rr cname;
        cname.name = qname;
        cname.type = type::kCname;
        cname.ttl = dnames.front().ttl;
        cname.rdata.assign(synthesized.data(), synthesized.data() + synthesized.size());
        if (qtype == type::kCname) {
          r.answer = {cname};
          r.authority = z.Ns(dnssec_ok);
        } else {
          z.ChaseCname(*elem, {cname}, qtype, dnssec_ok, &r);
        }
        RrSet answer = TypeWithSigs(*elem, type::kDname, dnssec_ok);
        Append(&answer, r.answer);
        r.answer = std::move(answer);
        return finish(Outcome::kSuccess);
      }
    }

    if (const RrSet& nsrrs = TypeOf(*elem, type::kNs); !nsrrs.empty()) {
      // The DS of a delegation is parent-side data: answer it from here.
      if (qtype == type::kDs && n == q_labels) continue;
      r.additional = z.Glue(nsrrs, dnssec_ok);
      r.authority = nsrrs;
      if (dnssec_ok) Append(&r.authority, TypeWithSigs(*elem, type::kDs, true));
      return finish(Outcome::kDelegation);
    }
  }

  if (elem != nullptr) {  // qname itself exists
    if (const RrSet& cname = TypeOf(*elem, type::kCname); !cname.empty() && qtype != type::kCname) {
      z.ChaseCname(*elem, cname, qtype, dnssec_ok, &r);
      return finish(Outcome::kSuccess);
    }
    RrSet rrs = TypeOf(*elem, qtype);
    if (rrs.empty()) {
      r.authority = z.Soa(dnssec_ok);
      if (dnssec_ok) Append(&r.authority, TypeWithSigs(*elem, type::kNsec, true));
      return finish(Outcome::kNoData);
    }
    r.additional = z.AdditionalProcessing(rrs, dnssec_ok);
    if (dnssec_ok) Append(&rrs, SigsCovering(TypeOf(*elem, type::kRrsig), qtype));
    r.answer = std::move(rrs);
    r.authority = z.Ns(dnssec_ok);
    return finish(Outcome::kSuccess);
  }

  if (wild != nullptr && !z.CloserEntExists(qname, wild->first)) {
    if (RrSet cname = TypeForWildcard(*wild, type::kCname, qname);
        !cname.empty() && qtype != type::kCname) {
      z.ChaseCname(*wild, std::move(cname), qtype, dnssec_ok, &r);
      return finish(Outcome::kSuccess);
    }
    RrSet rrs = TypeForWildcard(*wild, qtype, qname);
    if (rrs.empty()) {
      r.authority = z.Soa(dnssec_ok);
      if (dnssec_ok) Append(&r.authority, TypeWithSigs(*wild, type::kNsec, true));
      return finish(Outcome::kNoData);
    }
    r.additional = z.AdditionalProcessing(rrs, dnssec_ok);
    r.authority = z.Ns(dnssec_ok);
    if (dnssec_ok) {
      // The NSEC proving no closer match exists.
      if (const Elem* deny = z.Prev(qname)) {
        Append(&r.authority, TypeWithSigs(*deny, type::kNsec, true));
      }
      Append(&rrs, SigsCovering(TypeForWildcard(*wild, type::kRrsig, qname), qtype));
    }
    r.answer = std::move(rrs);
    return finish(Outcome::kSuccess);
  }

  // A name below qname makes it an empty non-terminal: NOERROR, not NXDOMAIN.
  Outcome outcome = Outcome::kNameError;
  if (const Elem* x = z.Next(qname); x != nullptr && x->first.IsSubdomainOf(qname)) {
    outcome = Outcome::kSuccess;
  }
  r.authority = z.Soa(dnssec_ok);
  if (dnssec_ok) {
    const Elem* deny = z.Prev(qname);
    if (deny != nullptr) {
      Append(&r.authority, TypeWithSigs(*deny, type::kNsec, true));
      // Wildcard denial, only for NXDOMAIN.
      const Elem* ce = outcome == Outcome::kNameError ? z.ClosestEncloser(qname) : nullptr;
      wire::Name wildcard;
      if (ce != nullptr && WildcardOf(ce->first, &wildcard)) {
        const Elem* ss = z.Prev(wildcard);
        if (ss != nullptr && !(ss->first == deny->first)) {
          Append(&r.authority, TypeWithSigs(*ss, type::kNsec, true));
        }
      }
    }
  }
  return finish(outcome);
}

void Zone::ResolveExternal(const wire::Message* upstream, bool dnssec_ok,
                           LookupResult* result) const {
  // doLookup's mapping of the server's answer to a result.
  Outcome o = Outcome::kSuccess;
  if (upstream == nullptr) {
    o = Outcome::kServerFailure;
  } else {
    Append(&result->answer, upstream->answer);
    int rc = upstream->Rcode();
    if (rc == wire::rcode::kNxDomain) {
      o = Outcome::kNameError;
    } else if (rc == wire::rcode::kServFail) {
      o = Outcome::kServerFailure;
    } else if (rc == wire::rcode::kNoError && upstream->answer.empty()) {
      o = Outcome::kNoData;
    }
  }
  // z.authority(): SOA for negative answers (RFC 2308), NS otherwise.
  result->authority = (o == Outcome::kNameError || o == Outcome::kNoData) ? impl_->Soa(dnssec_ok)
                                                                          : impl_->Ns(dnssec_ok);
  SetOutcome(o, result);
  result->external_cname = false;
}

std::vector<wire::Rr> Zone::AllRecords() const {
  const Impl& z = *impl_;
  std::vector<wire::Rr> out = z.Soa(true);
  Append(&out, z.Ns(true));
  for (const auto& [name, node] : z.tree) {
    for (const auto& [t, rrs] : node) Append(&out, rrs);
  }
  out.push_back(*z.soa);
  return out;
}

}  // namespace warpdns::slowpath::file
