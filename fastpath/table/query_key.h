// The lookup key of the fast path's answer table: everything in a query that
// a deterministic chain's reply depends on, in one flat octet string.
//
//   dst port (2) | flags (2) | qname as received (case kept) | qtype (2) |
//   qclass (2) | EDNS: 0, or 1 + UDP size (2) + OPT TTL (ext rcode, version,
//   DO and Z: 4)
//
// The ID is not part of it (the reply gets the query's), nor are EDNS
// options: the server drops them from replies (wire::MakeReply), and no
// deterministic plugin reads them. Only the simple shape a resolver or load
// generator sends is keyed: one question, no answer or authority records, at
// most one additional record which is a root OPT, and nothing after it. Any
// other query is served by the slow path, which knows every rule.
#ifndef WARPDNS_FASTPATH_TABLE_QUERY_KEY_H_
#define WARPDNS_FASTPATH_TABLE_QUERY_KEY_H_

#include <cstddef>
#include <cstdint>

namespace warpdns::fastpath {

struct QueryKey {
  static constexpr size_t kMaxLen = 2 + 2 + 255 + 4 + 7;

  uint64_t hash = 0;
  uint16_t len = 0;
  bool dnssec_ok = false;  // the OPT's DO bit (also in `bytes`), for the metrics
  uint8_t bytes[kMaxLen];
};

// Builds the key of the DNS message `msg` (`len` octets, the UDP payload)
// sent to `dst_port` (host order). Returns false for anything but the simple
// shape above, or a malformed one: the caller punts it. Fast path: any
// thread; never blocks or allocates.
bool MakeQueryKey(const uint8_t* msg, size_t len, uint16_t dst_port, QueryKey* key) noexcept;

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_TABLE_QUERY_KEY_H_
