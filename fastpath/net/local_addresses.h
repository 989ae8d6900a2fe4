// The addresses and DNS ports a fast-path port answers for: fixed-size arrays
// (no heap), small enough to copy into every worker and compare linearly.
#ifndef WARPDNS_FASTPATH_NET_LOCAL_ADDRESSES_H_
#define WARPDNS_FASTPATH_NET_LOCAL_ADDRESSES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fastpath/net/headers.h"

namespace warpdns::fastpath::net {

using MacAddress = std::array<uint8_t, kMacLen>;
using Ipv4Address = std::array<uint8_t, kIpv4AddrLen>;  // network order
using Ipv6Address = std::array<uint8_t, kIpv6AddrLen>;

// Filled once by setup (config or port bring-up), then read-only: workers read
// it with no synchronisation, so it must not change while they run (publish a
// new copy instead).
class LocalAddresses {
 public:
  static constexpr size_t kMaxIpv4 = 8;
  static constexpr size_t kMaxIpv6 = 8;
  static constexpr size_t kMaxPorts = 4;

  // Setup only. Each returns false when its table is full; duplicates are kept
  // once.
  void set_mac(const MacAddress& mac) noexcept { mac_ = mac; }
  bool AddIpv4(const Ipv4Address& addr) noexcept;
  bool AddIpv6(const Ipv6Address& addr) noexcept;
  bool AddDnsPort(uint16_t port) noexcept;  // host order

  // When set, ClassifyFrame drops IPv4 packets whose header checksum is wrong
  // (off by default: NICs verify it, and the UDP checksum covers the addresses).
  void set_verify_ipv4_checksum(bool on) noexcept { verify_ipv4_checksum_ = on; }

  // Fast path: any thread, never blocks. Addresses are read from frame bytes.
  const MacAddress& mac() const noexcept { return mac_; }
  bool verify_ipv4_checksum() const noexcept { return verify_ipv4_checksum_; }
  bool HasIpv4(const uint8_t* addr) const noexcept {
    const uint32_t a = LoadRaw32(addr);
    for (size_t i = 0; i < ipv4_count_; ++i) {
      if (ipv4_[i] == a) return true;
    }
    return false;
  }
  bool HasIpv6(const uint8_t* addr) const noexcept {
    for (size_t i = 0; i < ipv6_count_; ++i) {
      if (std::memcmp(ipv6_[i].data(), addr, kIpv6AddrLen) == 0) return true;
    }
    return false;
  }
  bool IsDnsPort(uint16_t port) const noexcept {
    for (size_t i = 0; i < port_count_; ++i) {
      if (ports_[i] == port) return true;
    }
    return false;
  }

 private:
  MacAddress mac_{};
  uint8_t ipv4_count_ = 0;
  uint8_t ipv6_count_ = 0;
  uint8_t port_count_ = 0;
  bool verify_ipv4_checksum_ = false;
  std::array<uint32_t, kMaxIpv4> ipv4_{};  // network order, as LoadRaw32 reads them
  std::array<uint16_t, kMaxPorts> ports_{};
  std::array<Ipv6Address, kMaxIpv6> ipv6_{};
};

}  // namespace warpdns::fastpath::net

#endif  // WARPDNS_FASTPATH_NET_LOCAL_ADDRESSES_H_
