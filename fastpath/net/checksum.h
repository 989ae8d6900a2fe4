// The Internet checksum (RFC 1071) over frame bytes, on DPDK's rte_raw_cksum.
// Sums are kept in memory byte order (the checksum is byte-order independent,
// RFC 1071 2.(B)), so a folded sum is stored with memcpy, never byte-swapped.
// All functions: fast path, any thread, never block or allocate.
#ifndef WARPDNS_FASTPATH_NET_CHECKSUM_H_
#define WARPDNS_FASTPATH_NET_CHECKSUM_H_

#include <rte_ip.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace warpdns::fastpath::net {

// Ones'-complement sum of [data, data + len), folded to 16 bits. Pieces of one
// checksum may be added together (then Fold again) if every piece but the last
// has an even length.
inline uint32_t Sum(const uint8_t* data, size_t len) noexcept { return rte_raw_cksum(data, len); }

inline uint16_t Fold(uint32_t sum) noexcept {
  sum = (sum >> 16) + (sum & 0xffff);
  sum += sum >> 16;
  return static_cast<uint16_t>(sum);
}

// Stores the checksum for `sum` (its complement) at `p`.
inline void StoreChecksum(uint8_t* p, uint32_t sum) noexcept {
  uint16_t c = static_cast<uint16_t>(~Fold(sum));
  std::memcpy(p, &c, sizeof(c));
}

// Stores a UDP checksum: as StoreChecksum, but a computed 0 is sent as 0xffff
// because 0 means "no checksum" (RFC 768).
inline void StoreUdpChecksum(uint8_t* p, uint32_t sum) noexcept {
  uint16_t c = static_cast<uint16_t>(~Fold(sum));
  if (c == 0) c = 0xffff;
  std::memcpy(p, &c, sizeof(c));
}

// A host-order 16-bit field as Sum would have read it from the frame: lets
// fields still in registers join a sum without a store and a reload (which,
// right after the store, stalls on store-to-load forwarding).
inline uint32_t FieldSum(uint16_t host_value) noexcept {
  return std::endian::native == std::endian::little ? __builtin_bswap16(host_value) : host_value;
}

// Sum of the pseudo-header of an upper-layer packet of `l4_len` octets and
// protocol `proto`, given `addr_sum`, the Sum of the source and destination
// addresses. The same words for IPv4 (RFC 768) and IPv6 (RFC 8200 8.1): the
// zero octets add nothing.
inline uint32_t PseudoHeaderSum(uint32_t addr_sum, uint8_t proto, uint16_t l4_len) noexcept {
  return addr_sum + FieldSum(proto) + FieldSum(l4_len);
}

}  // namespace warpdns::fastpath::net

#endif  // WARPDNS_FASTPATH_NET_CHECKSUM_H_
