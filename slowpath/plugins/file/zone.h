// An authoritative zone held in memory, answering with CoreDNS file-plugin
// semantics (plugin/file/lookup.go): RFC 1034 lookup, RFC 4592 wildcards,
// delegations with glue, empty non-terminals, DNAME synthesis, in-zone CNAME
// chasing, DNSSEC records for DO=1 on a pre-signed (NSEC) zone.
#ifndef WARPDNS_SLOWPATH_PLUGINS_FILE_ZONE_H_
#define WARPDNS_SLOWPATH_PLUGINS_FILE_ZONE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fastpath/wire/message.h"

namespace warpdns::slowpath::file {

namespace wire = ::warpdns::fastpath::wire;

// CoreDNS's file.Result: what kind of answer a lookup produced.
enum class Outcome : uint8_t {
  kSuccess,        // NOERROR with data, or an empty non-terminal (NOERROR, SOA)
  kNameError,      // NXDOMAIN
  kDelegation,     // referral: AA=0, NS (+DS) in authority, glue in additional
  kNoData,         // NOERROR, SOA in authority
  kServerFailure,  // SERVFAIL
};

struct LookupResult {
  Outcome outcome = Outcome::kSuccess;
  int rcode = wire::rcode::kNoError;  // NOERROR, NXDOMAIN or SERVFAIL, from outcome
  bool authoritative = true;          // false for referrals
  std::vector<wire::Rr> answer;
  std::vector<wire::Rr> authority;
  std::vector<wire::Rr> additional;
  // Set when a CNAME (or DNAME-synthesised CNAME) points at a name that is
  // not a node of this zone (or the question is NS, or SOA for the apex): the
  // plugin resolves external_target through the server itself and finishes
  // with Zone::ResolveExternal, as CoreDNS's doLookup does.
  bool external_cname = false;
  wire::Name external_target;
};

class Zone {
 public:
  // Loads an RFC 1035 master file with ldns. `origin` is the zone apex. Sets
  // *error ("file:line: what") and returns nullptr on a syntax error, a file
  // without SOA or an NSEC3 record (NSEC3 zones are not supported). Like
  // CoreDNS, owner names and the names in NS, SOA, CNAME, MX, SRV, SVCB and
  // HTTPS RDATA are lowercased; records outside the origin are kept (they
  // are reachable only as CNAME targets, as in CoreDNS).
  static std::unique_ptr<Zone> Load(const std::string& path, const wire::Name& origin,
                                    std::string* error);
  // Builds from records (secondary zones, tests). Same checks as Load.
  static std::unique_ptr<Zone> FromRecords(const wire::Name& origin, std::vector<wire::Rr> rrs,
                                           std::string* error);
  ~Zone();

  const wire::Name& origin() const;
  uint32_t Serial() const;
  size_t RecordCount() const;

  // Answers one question. Thread-safe (the zone is immutable once built).
  LookupResult Lookup(const wire::Name& qname, uint16_t qtype, bool dnssec_ok) const;

  // Completes a result with external_cname set from the server's answer for
  // (external_target, qtype): appends its answer section and takes rcode and
  // authority from its outcome (NXDOMAIN, SERVFAIL, NODATA or data).
  // `upstream` is null when the resolution failed (SERVFAIL).
  void ResolveExternal(const wire::Message* upstream, bool dnssec_ok, LookupResult* result) const;

  // Every record, apex SOA first and last (AXFR order); for transfer later.
  std::vector<wire::Rr> AllRecords() const;

 private:
  struct Impl;
  explicit Zone(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace warpdns::slowpath::file

#endif  // WARPDNS_SLOWPATH_PLUGINS_FILE_ZONE_H_
