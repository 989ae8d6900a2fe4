// Answers from a snapshot with CoreDNS's etcd semantics (plugin/etcd
// ServeDNS over plugin/backend_lookup.go): one function from (snapshot,
// question) to a response, so the slow path and whatever prebuilds answers
// for the fast path give the same answer for the same data version.
#ifndef WARPDNS_SLOWPATH_PLUGINS_ETCD_LOOKUP_H_
#define WARPDNS_SLOWPATH_PLUGINS_ETCD_LOOKUP_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fastpath/wire/message.h"
#include "slowpath/chain/task.h"
#include "slowpath/plugins/etcd/snapshot.h"

namespace warpdns::slowpath::etcd {

namespace wire = ::warpdns::fastpath::wire;

struct LookupOptions {
  std::string path = "skydns";     // the `path` option as written
  uint32_t min_lease_ttl = 30;     // a lease's remaining time is clamped to
  uint32_t max_lease_ttl = 86400;  // [min, max] before it caps a TTL
};

// Resolves a name outside the zone through the server itself (CNAME, SRV
// and MX targets), CoreDNS's upstream.Lookup.
using Resolver = std::function<Task<wire::Message>(const wire::Name& name, uint16_t type)>;

struct Response {
  // NOERROR with `answer` (NODATA when empty), NXDOMAIN or SERVFAIL; the
  // caller adds the zone's SOA to the authority section unless answering.
  int rcode = wire::rcode::kNoError;
  std::vector<wire::Rr> answer;
  std::vector<wire::Rr> extra;
  bool truncated = false;  // an upstream answer was truncated
  std::string error;       // for SERVFAIL: why (a value that is not JSON, ...)
  bool leased = false;     // a TTL counts down a lease: the answer changes with time
};

// The answer to (qname, qtype) in `zone` (lowercase FQDN, one of the
// plugin's zones containing qname) at time `now_ns` (CLOCK_MONOTONIC; lease
// TTLs count down from it).
Task<Response> Lookup(const Snapshot& snapshot, const LookupOptions& options,
                      const std::string& zone, const wire::Name& qname, uint16_t qtype,
                      const Resolver& resolve, int64_t now_ns);

// The zone's synthesized SOA: ns.dns.ZONE hostmaster.ZONE SERIAL 7200 1800
// 86400 30, TTL 30.
wire::Rr Soa(const std::string& zone, uint32_t serial);

}  // namespace warpdns::slowpath::etcd

#endif  // WARPDNS_SLOWPATH_PLUGINS_ETCD_LOOKUP_H_
