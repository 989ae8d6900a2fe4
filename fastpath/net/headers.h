// Layout of the L2-L4 headers the fast path reads and writes, as offsets into
// a frame, with unaligned big-endian loads and stores. Offsets instead of
// packed structs: frames come from mbufs, AF_XDP umem or test vectors at any
// alignment, and memcpy-based access has no aliasing or alignment UB.
#ifndef WARPDNS_FASTPATH_NET_HEADERS_H_
#define WARPDNS_FASTPATH_NET_HEADERS_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace warpdns::fastpath::net {

inline constexpr size_t kMacLen = 6;
inline constexpr size_t kIpv4AddrLen = 4;
inline constexpr size_t kIpv6AddrLen = 16;

namespace eth {
inline constexpr size_t kDst = 0;
inline constexpr size_t kSrc = 6;
inline constexpr size_t kType = 12;
inline constexpr size_t kHeaderLen = 14;
inline constexpr size_t kVlanTagLen = 4;  // TPID (at kType) + TCI
inline constexpr uint16_t kTypeIpv4 = 0x0800;
inline constexpr uint16_t kTypeArp = 0x0806;
inline constexpr uint16_t kTypeVlan = 0x8100;
inline constexpr uint16_t kTypeIpv6 = 0x86dd;
}  // namespace eth

// ARP for IPv4 over Ethernet (RFC 826), relative to the L3 offset.
namespace arp {
inline constexpr size_t kHwType = 0;
inline constexpr size_t kProtoType = 2;
inline constexpr size_t kHwLen = 4;
inline constexpr size_t kProtoLen = 5;
inline constexpr size_t kOp = 6;
inline constexpr size_t kSenderMac = 8;
inline constexpr size_t kSenderIp = 14;
inline constexpr size_t kTargetMac = 18;
inline constexpr size_t kTargetIp = 24;
inline constexpr size_t kLen = 28;
inline constexpr uint16_t kHwEthernet = 1;
inline constexpr uint16_t kOpRequest = 1;
inline constexpr uint16_t kOpReply = 2;
}  // namespace arp

// Relative to the L3 offset.
namespace ipv4 {
inline constexpr size_t kVersionIhl = 0;
inline constexpr size_t kTotalLen = 2;
inline constexpr size_t kId = 4;
inline constexpr size_t kFragment = 6;  // 3 flag bits + 13-bit offset
inline constexpr size_t kTtl = 8;
inline constexpr size_t kProto = 9;
inline constexpr size_t kChecksum = 10;
inline constexpr size_t kSrc = 12;
inline constexpr size_t kDst = 16;
inline constexpr size_t kMinHeaderLen = 20;
inline constexpr uint16_t kFlagDf = 0x4000;
inline constexpr uint16_t kFlagMf = 0x2000;
inline constexpr uint16_t kOffsetMask = 0x1fff;
}  // namespace ipv4

// Relative to the L3 offset.
namespace ipv6 {
inline constexpr size_t kVersionClassFlow = 0;
inline constexpr size_t kPayloadLen = 4;
inline constexpr size_t kNextHeader = 6;
inline constexpr size_t kHopLimit = 7;
inline constexpr size_t kSrc = 8;
inline constexpr size_t kDst = 24;
inline constexpr size_t kHeaderLen = 40;
}  // namespace ipv6

inline constexpr uint8_t kProtoIcmpv6 = 58;
inline constexpr uint8_t kProtoUdp = 17;

// Relative to the L4 offset.
namespace udp {
inline constexpr size_t kSrcPort = 0;
inline constexpr size_t kDstPort = 2;
inline constexpr size_t kLen = 4;
inline constexpr size_t kChecksum = 6;
inline constexpr size_t kHeaderLen = 8;
}  // namespace udp

// ICMPv6 neighbour discovery (RFC 4861), relative to the L4 offset.
namespace nd {
inline constexpr size_t kType = 0;
inline constexpr size_t kCode = 1;
inline constexpr size_t kChecksum = 2;
inline constexpr size_t kFlags = 4;  // NA: R, S, O in the top bits
inline constexpr size_t kTarget = 8;
inline constexpr size_t kOptions = 24;
inline constexpr size_t kOptionUnit = 8;  // option lengths count 8-octet units
inline constexpr uint8_t kTypeSolicit = 135;
inline constexpr uint8_t kTypeAdvert = 136;
inline constexpr uint8_t kOptSourceLinkAddr = 1;
inline constexpr uint8_t kOptTargetLinkAddr = 2;
inline constexpr uint8_t kFlagSolicited = 0x40;
inline constexpr uint8_t kFlagOverride = 0x20;
inline constexpr uint8_t kHopLimit = 255;  // RFC 4861: ND messages are never forwarded
}  // namespace nd

inline uint16_t Load16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline void Store16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
// IPv4 addresses stay in network order: compared and copied, never computed on.
inline uint32_t LoadRaw32(const uint8_t* p) noexcept {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

}  // namespace warpdns::fastpath::net

#endif  // WARPDNS_FASTPATH_NET_HEADERS_H_
