// An authoritative zone held in memory, answering with CoreDNS file-plugin
// semantics (RFC 1034 lookup, RFC 4592 wildcards, delegations with glue,
// empty non-terminals, in-zone CNAME chasing, DNSSEC records for DO=1 on a
// pre-signed zone).
#ifndef WARPDNS_SLOWPATH_PLUGINS_FILE_ZONE_H_
#define WARPDNS_SLOWPATH_PLUGINS_FILE_ZONE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fastpath/wire/message.h"

namespace warpdns::slowpath::file {

namespace wire = ::warpdns::fastpath::wire;

struct LookupResult {
  int rcode = wire::rcode::kNoError;  // NOERROR, NXDOMAIN or SERVFAIL
  bool authoritative = true;          // false for referrals
  std::vector<wire::Rr> answer;
  std::vector<wire::Rr> authority;
  std::vector<wire::Rr> additional;
  // Set when the answer ends in a CNAME whose target is outside this zone:
  // the plugin resolves the target through the server itself and appends it.
  bool external_cname = false;
  wire::Name external_target;
};

class Zone {
 public:
  // Loads an RFC 1035 master file with ldns. `origin` is the zone apex; the
  // file must contain its SOA. Sets *error ("file:line: what") and returns
  // nullptr on a syntax error, a missing SOA or records outside the origin.
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

  // Every record, apex SOA first and last (AXFR order); for transfer later.
  std::vector<wire::Rr> AllRecords() const;

 private:
  struct Impl;
  explicit Zone(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace warpdns::slowpath::file

#endif  // WARPDNS_SLOWPATH_PLUGINS_FILE_ZONE_H_
