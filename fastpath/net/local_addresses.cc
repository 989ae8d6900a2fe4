#include "fastpath/net/local_addresses.h"

namespace warpdns::fastpath::net {

bool LocalAddresses::AddIpv4(const Ipv4Address& addr) noexcept {
  if (HasIpv4(addr.data())) return true;
  if (ipv4_count_ == kMaxIpv4) return false;
  ipv4_[ipv4_count_++] = LoadRaw32(addr.data());
  return true;
}

bool LocalAddresses::AddIpv6(const Ipv6Address& addr) noexcept {
  if (HasIpv6(addr.data())) return true;
  if (ipv6_count_ == kMaxIpv6) return false;
  ipv6_[ipv6_count_++] = addr;
  return true;
}

bool LocalAddresses::AddDnsPort(uint16_t port) noexcept {
  if (IsDnsPort(port)) return true;
  if (port_count_ == kMaxPorts) return false;
  ports_[port_count_++] = port;
  return true;
}

}  // namespace warpdns::fastpath::net
