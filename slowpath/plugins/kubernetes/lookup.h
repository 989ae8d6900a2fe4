// The answers of the Kubernetes DNS specification (schema 1.1.0) exactly as
// CoreDNS's kubernetes plugin gives them (handler.go, kubernetes.go, parse.go,
// reverse.go, ns.go and plugin/backend_lookup.go): a pure function of the
// cluster snapshot, the configuration and the question.
#ifndef WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_LOOKUP_H_
#define WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_LOOKUP_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fastpath/wire/message.h"
#include "slowpath/plugins/kubernetes/snapshot.h"

namespace warpdns::slowpath::kubernetes {

namespace wire = ::warpdns::fastpath::wire;

enum class PodMode : uint8_t { kDisabled, kInsecure, kVerified };

// The Corefile options answers depend on.
struct Config {
  std::vector<wire::Name> zones;  // lowercase; the longest match serves a name
  wire::Name primary_zone;        // the first non-reverse zone: PTR targets live there
  uint32_t ttl = 5;
  PodMode pod_mode = PodMode::kDisabled;
  bool endpoint_pod_names = false;
  bool ignore_empty_service = false;
  std::set<std::string> namespaces;  // `namespaces`; empty: every namespace
  // `fallthrough` zones ("." when none are listed); empty: no fallthrough.
  std::vector<wire::Name> fallthrough;
  // This server's own addresses: ns.dns.<zone> and the apex NS are the
  // services whose endpoints are these addresses.
  std::vector<Ip> local_ips;
};

struct Answer {
  enum class Action : uint8_t {
    kWrite,   // write a reply with `rcode` and the sections below
    kNext,    // not ours (another zone) or falling through: call the next plugin
    kRefuse,  // AXFR/IXFR: REFUSED, left for the server to write
  };
  Action action = Action::kWrite;
  int rcode = wire::rcode::kNoError;  // NOERROR, NXDOMAIN or SERVFAIL (not synced)
  std::vector<wire::Rr> answer;
  std::vector<wire::Rr> authority;
  std::vector<wire::Rr> additional;
  // Set when the answer ends in a CNAME (an ExternalName service) to a name
  // outside the zone: the caller resolves (external, qtype) through the
  // server itself and appends that answer section, as CoreDNS's upstream does.
  std::optional<wire::Name> external;
};

Answer Lookup(const Snapshot& snapshot, const Config& config, const wire::Name& qname,
              uint16_t qtype);

}  // namespace warpdns::slowpath::kubernetes

#endif  // WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_LOOKUP_H_
