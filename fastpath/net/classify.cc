#include "fastpath/net/classify.h"

#include <cstring>

#include "fastpath/net/checksum.h"
#include "fastpath/net/headers.h"

namespace warpdns::fastpath::net {
namespace {

constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6Routing = 43;
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint8_t kIpv6DestOptions = 60;
constexpr uint8_t kIpv6Unspecified[kIpv6AddrLen] = {};

void Verdict(FrameInfo* info, FrameKind kind, Reason reason) noexcept {
  info->kind = kind;
  info->reason = reason;
}

void ClassifyArp(const uint8_t* frame, uint16_t len, const LocalAddresses& local,
                 FrameInfo* info) noexcept {
  if (static_cast<uint32_t>(len - info->l3_offset) < arp::kLen) {
    return Verdict(info, FrameKind::kDrop, Reason::kTruncated);
  }
  const uint8_t* a = frame + info->l3_offset;
  if (Load16(a + arp::kHwType) != arp::kHwEthernet ||
      Load16(a + arp::kProtoType) != eth::kTypeIpv4) {
    return Verdict(info, FrameKind::kException, Reason::kArpNotForUs);
  }
  if (a[arp::kHwLen] != kMacLen || a[arp::kProtoLen] != kIpv4AddrLen) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadArp);
  }
  if (Load16(a + arp::kOp) != arp::kOpRequest || !local.HasIpv4(a + arp::kTargetIp) ||
      // A gratuitous ARP announces the sender; answering it would claim a conflict.
      LoadRaw32(a + arp::kSenderIp) == LoadRaw32(a + arp::kTargetIp)) {
    return Verdict(info, FrameKind::kException, Reason::kArpNotForUs);
  }
  return Verdict(info, FrameKind::kArpRequestForUs, Reason::kNone);
}

// The UDP part shared by both IP versions: `ip_payload_len` is what the IP
// header says follows it.
void ClassifyUdp(const uint8_t* frame, const LocalAddresses& local, uint32_t ip_payload_len,
                 FrameInfo* info) noexcept {
  if (ip_payload_len < udp::kHeaderLen) return Verdict(info, FrameKind::kDrop, Reason::kTruncated);
  const uint8_t* u = frame + info->l4_offset;
  const uint16_t udp_len = Load16(u + udp::kLen);
  if (udp_len < udp::kHeaderLen || udp_len > ip_payload_len) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadUdpLength);
  }
  if (!local.IsDnsPort(Load16(u + udp::kDstPort))) {
    return Verdict(info, FrameKind::kException, Reason::kOtherPort);
  }
  if (Load16(u + udp::kSrcPort) == 0) return Verdict(info, FrameKind::kDrop, Reason::kBadSource);
  if (info->ipv6 && Load16(u + udp::kChecksum) == 0) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadUdpChecksum);
  }
  // Checked last: a frame for our IP but another MAC is someone else's copy
  // (promiscuous capture); the kernel would ignore it as PACKET_OTHERHOST.
  if (std::memcmp(frame + eth::kDst, local.mac().data(), kMacLen) != 0) {
    return Verdict(info, FrameKind::kException, Reason::kNotForUs);
  }
  info->payload_offset = static_cast<uint16_t>(info->l4_offset + udp::kHeaderLen);
  info->payload_len = static_cast<uint16_t>(udp_len - udp::kHeaderLen);
  return Verdict(info, FrameKind::kDnsQuery, Reason::kNone);
}

void ClassifyIpv4(const uint8_t* frame, uint16_t len, const LocalAddresses& local,
                  FrameInfo* info) noexcept {
  const uint32_t avail = len - info->l3_offset;
  if (avail < ipv4::kMinHeaderLen) return Verdict(info, FrameKind::kDrop, Reason::kTruncated);
  const uint8_t* ip = frame + info->l3_offset;
  const uint32_t header_len = (ip[ipv4::kVersionIhl] & 0x0f) * 4u;
  if ((ip[ipv4::kVersionIhl] >> 4) != 4 || header_len < ipv4::kMinHeaderLen) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadIpHeader);
  }
  const uint32_t total_len = Load16(ip + ipv4::kTotalLen);
  // total_len < avail is Ethernet padding of a short packet, not an error.
  if (total_len > avail) return Verdict(info, FrameKind::kDrop, Reason::kBadIpLength);
  if (header_len > total_len) return Verdict(info, FrameKind::kDrop, Reason::kBadIpHeader);
  if (local.verify_ipv4_checksum() && Fold(Sum(ip, header_len)) != 0xffff) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadIpChecksum);
  }
  if (!local.HasIpv4(ip + ipv4::kDst)) {
    return Verdict(info, FrameKind::kException, Reason::kNotForUs);
  }
  if ((Load16(ip + ipv4::kFragment) & (ipv4::kFlagMf | ipv4::kOffsetMask)) != 0) {
    return Verdict(info, FrameKind::kException, Reason::kFragment);
  }
  if (ip[ipv4::kProto] != kProtoUdp) return Verdict(info, FrameKind::kException, Reason::kNotUdp);
  // Multicast (class D), limited broadcast and 0.0.0.0 cannot be replied to.
  const uint32_t src = LoadRaw32(ip + ipv4::kSrc);
  if ((ip[ipv4::kSrc] & 0xf0) == 0xe0 || src == 0xffffffffu || src == 0) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadSource);
  }
  info->l4_offset = static_cast<uint16_t>(info->l3_offset + header_len);
  return ClassifyUdp(frame, local, total_len - header_len, info);
}

// RFC 4861 7.1.1 validity checks, then: is the target ours and can we answer
// with a unicast advertisement?
void ClassifyNeighborSolicit(const uint8_t* frame, const LocalAddresses& local, uint16_t icmp_len,
                             FrameInfo* info) noexcept {
  const uint8_t* ip = frame + info->l3_offset;
  const uint8_t* icmp = frame + info->l4_offset;
  if (ip[ipv6::kHopLimit] != nd::kHopLimit || icmp[nd::kCode] != 0 || icmp_len < nd::kOptions ||
      icmp[nd::kTarget] == 0xff) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadNeighborSolicit);
  }
  const uint32_t addr_sum = Sum(ip + ipv6::kSrc, 2 * kIpv6AddrLen);
  if (Fold(PseudoHeaderSum(addr_sum, kProtoIcmpv6, icmp_len) + Sum(icmp, icmp_len)) != 0xffff) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadNeighborSolicit);
  }
  bool has_source_link_addr = false;
  for (uint32_t off = nd::kOptions; off < icmp_len;) {
    if (icmp_len - off < 2 || icmp[off + 1] == 0) {
      return Verdict(info, FrameKind::kDrop, Reason::kBadNeighborSolicit);
    }
    const uint32_t opt_len = icmp[off + 1] * nd::kOptionUnit;
    if (opt_len > icmp_len - off) {
      return Verdict(info, FrameKind::kDrop, Reason::kBadNeighborSolicit);
    }
    if (icmp[off] == nd::kOptSourceLinkAddr) has_source_link_addr = true;
    off += opt_len;
  }
  const bool dad = std::memcmp(ip + ipv6::kSrc, kIpv6Unspecified, kIpv6AddrLen) == 0;
  if (dad && has_source_link_addr) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadNeighborSolicit);
  }
  if (!local.HasIpv6(icmp + nd::kTarget)) {
    return Verdict(info, FrameKind::kException, Reason::kNotForUs);
  }
  // Duplicate address detection by another node: the kernel decides what to do.
  if (dad) return Verdict(info, FrameKind::kException, Reason::kIcmpv6Other);
  return Verdict(info, FrameKind::kNeighborSolicitForUs, Reason::kNone);
}

void ClassifyIpv6(const uint8_t* frame, uint16_t len, const LocalAddresses& local,
                  FrameInfo* info) noexcept {
  const uint32_t avail = len - info->l3_offset;
  if (avail < ipv6::kHeaderLen) return Verdict(info, FrameKind::kDrop, Reason::kTruncated);
  const uint8_t* ip = frame + info->l3_offset;
  if ((ip[ipv6::kVersionClassFlow] >> 4) != 6) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadIpHeader);
  }
  const uint16_t payload_len = Load16(ip + ipv6::kPayloadLen);
  if (ipv6::kHeaderLen + payload_len > avail) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadIpLength);
  }
  info->ipv6 = true;
  info->l4_offset = static_cast<uint16_t>(info->l3_offset + ipv6::kHeaderLen);
  const uint8_t next = ip[ipv6::kNextHeader];
  if (next == kProtoIcmpv6) {
    if (payload_len >= 1 && frame[info->l4_offset + nd::kType] == nd::kTypeSolicit) {
      return ClassifyNeighborSolicit(frame, local, payload_len, info);
    }
    return Verdict(info, FrameKind::kException, Reason::kIcmpv6Other);
  }
  if (!local.HasIpv6(ip + ipv6::kDst)) {
    return Verdict(info, FrameKind::kException, Reason::kNotForUs);
  }
  if (next == kIpv6Fragment) return Verdict(info, FrameKind::kException, Reason::kFragment);
  if (next == kIpv6HopByHop || next == kIpv6Routing || next == kIpv6DestOptions) {
    return Verdict(info, FrameKind::kException, Reason::kExtensionHeader);
  }
  if (next != kProtoUdp) return Verdict(info, FrameKind::kException, Reason::kNotUdp);
  if (ip[ipv6::kSrc] == 0xff || std::memcmp(ip + ipv6::kSrc, kIpv6Unspecified, kIpv6AddrLen) == 0) {
    return Verdict(info, FrameKind::kDrop, Reason::kBadSource);
  }
  return ClassifyUdp(frame, local, payload_len, info);
}

}  // namespace

void ClassifyFrame(const uint8_t* frame, uint16_t len, const LocalAddresses& local,
                   FrameInfo* info) noexcept {
  *info = FrameInfo{};
  if (len < eth::kHeaderLen) return Verdict(info, FrameKind::kDrop, Reason::kTruncated);
  uint16_t type = Load16(frame + eth::kType);
  info->l3_offset = eth::kHeaderLen;
  if (type == eth::kTypeVlan) {
    if (len < eth::kHeaderLen + eth::kVlanTagLen) {
      return Verdict(info, FrameKind::kDrop, Reason::kTruncated);
    }
    type = Load16(frame + eth::kType + eth::kVlanTagLen);
    info->l3_offset = eth::kHeaderLen + eth::kVlanTagLen;
  }
  switch (type) {
    case eth::kTypeIpv4:
      return ClassifyIpv4(frame, len, local, info);
    case eth::kTypeIpv6:
      return ClassifyIpv6(frame, len, local, info);
    case eth::kTypeArp:
      return ClassifyArp(frame, len, local, info);
    default:
      return Verdict(info, FrameKind::kException, Reason::kOtherEthertype);
  }
}

const char* ReasonName(Reason reason) noexcept {
  switch (reason) {
    case Reason::kNone:
      return "none";
    case Reason::kOtherEthertype:
      return "other_ethertype";
    case Reason::kArpNotForUs:
      return "arp_not_for_us";
    case Reason::kNotForUs:
      return "not_for_us";
    case Reason::kFragment:
      return "fragment";
    case Reason::kExtensionHeader:
      return "extension_header";
    case Reason::kNotUdp:
      return "not_udp";
    case Reason::kIcmpv6Other:
      return "icmpv6_other";
    case Reason::kOtherPort:
      return "other_port";
    case Reason::kTruncated:
      return "truncated";
    case Reason::kBadIpHeader:
      return "bad_ip_header";
    case Reason::kBadIpLength:
      return "bad_ip_length";
    case Reason::kBadIpChecksum:
      return "bad_ip_checksum";
    case Reason::kBadUdpLength:
      return "bad_udp_length";
    case Reason::kBadUdpChecksum:
      return "bad_udp_checksum";
    case Reason::kBadSource:
      return "bad_source";
    case Reason::kBadArp:
      return "bad_arp";
    case Reason::kBadNeighborSolicit:
      return "bad_neighbor_solicit";
    case Reason::kCount:
      break;
  }
  return "unknown";
}

}  // namespace warpdns::fastpath::net
