#include "fastpath/net/reply.h"

#include <algorithm>
#include <cstring>

#include "fastpath/net/checksum.h"
#include "fastpath/net/headers.h"

namespace warpdns::fastpath::net {
namespace {

template <size_t N>
void SwapBytes(uint8_t* a, uint8_t* b) noexcept {
  uint8_t tmp[N];
  std::memcpy(tmp, a, N);
  std::memcpy(a, b, N);
  std::memcpy(b, tmp, N);
}

// The reply goes back where the request came from, from our MAC.
void SetEthernetReply(uint8_t* frame, const uint8_t* dst_mac,
                      const LocalAddresses& local) noexcept {
  std::memmove(frame + eth::kDst, dst_mac, kMacLen);
  std::memcpy(frame + eth::kSrc, local.mac().data(), kMacLen);
}

}  // namespace

uint16_t FinishUdpReply(uint8_t* frame, const FrameInfo& query, uint16_t dns_len,
                        const ReplyOptions& options) noexcept {
  const uint32_t l4_len = udp::kHeaderLen + dns_len;
  const uint32_t frame_len = query.l4_offset + l4_len;
  // The IP and UDP length fields are smaller than the frame length.
  if (frame_len > UINT16_MAX) return 0;
  uint8_t* ip = frame + query.l3_offset;
  uint8_t* u = frame + query.l4_offset;
  const uint32_t ip_header_len = query.l4_offset - query.l3_offset;
  const auto udp_len = static_cast<uint16_t>(l4_len);

  // Checksums are built from the received addresses and ports (their sums do
  // not change when they are swapped) and from the new fields in registers,
  // never by re-reading headers just written.
  const uint32_t addr_sum =
      query.ipv6 ? Sum(ip + ipv6::kSrc, 2 * kIpv6AddrLen) : Sum(ip + ipv4::kSrc, 2 * kIpv4AddrLen);
  const uint32_t port_sum = Sum(u + udp::kSrcPort, 4);

  SwapBytes<kMacLen>(frame + eth::kDst, frame + eth::kSrc);
  SwapBytes<2>(u + udp::kSrcPort, u + udp::kDstPort);
  Store16(u + udp::kLen, udp_len);
  Store16(u + udp::kChecksum, 0);

  bool udp_checksum = true;
  if (query.ipv6) {
    SwapBytes<kIpv6AddrLen>(ip + ipv6::kSrc, ip + ipv6::kDst);
    Store16(ip + ipv6::kVersionClassFlow, 0x6000);
    Store16(ip + ipv6::kVersionClassFlow + 2, 0);
    Store16(ip + ipv6::kPayloadLen, udp_len);
    ip[ipv6::kHopLimit] = options.hop_limit;
  } else {
    const uint8_t version_ihl = ip[ipv4::kVersionIhl];
    const auto total_len = static_cast<uint16_t>(ip_header_len + l4_len);
    SwapBytes<kIpv4AddrLen>(ip + ipv4::kSrc, ip + ipv4::kDst);
    ip[ipv4::kVersionIhl + 1] = 0;  // TOS: no DSCP, and never reflect the query's ECN bits
    Store16(ip + ipv4::kTotalLen, total_len);
    Store16(ip + ipv4::kId, 0);
    Store16(ip + ipv4::kFragment, ipv4::kFlagDf);
    ip[ipv4::kTtl] = options.hop_limit;
    Store16(ip + ipv4::kChecksum, 0);
    std::fill(ip + ipv4::kMinHeaderLen, ip + ip_header_len, 0);  // End of Option List
    if (options.checksum != ChecksumMode::kOffload) {
      // ID 0 and the zeroed TOS and options add nothing.
      StoreChecksum(ip + ipv4::kChecksum,
                    addr_sum + FieldSum(static_cast<uint16_t>(version_ihl << 8)) +
                        FieldSum(total_len) + FieldSum(ipv4::kFlagDf) +
                        FieldSum(static_cast<uint16_t>(options.hop_limit << 8 | kProtoUdp)));
    }
    udp_checksum = options.checksum != ChecksumMode::kSoftwareNoUdp4;
  }

  const uint32_t pseudo_sum = PseudoHeaderSum(addr_sum, kProtoUdp, udp_len);
  if (options.checksum == ChecksumMode::kOffload) {
    const uint16_t partial = Fold(pseudo_sum);
    std::memcpy(u + udp::kChecksum, &partial, sizeof(partial));
  } else if (udp_checksum) {
    StoreUdpChecksum(u + udp::kChecksum,
                     pseudo_sum + port_sum + FieldSum(udp_len) + Sum(u + udp::kHeaderLen, dns_len));
  }
  return static_cast<uint16_t>(frame_len);
}

uint16_t BuildArpReply(uint8_t* frame, const FrameInfo& request,
                       const LocalAddresses& local) noexcept {
  uint8_t* a = frame + request.l3_offset;
  SetEthernetReply(frame, a + arp::kSenderMac, local);
  Store16(a + arp::kOp, arp::kOpReply);
  std::memcpy(a + arp::kTargetMac, a + arp::kSenderMac, kMacLen);
  SwapBytes<kIpv4AddrLen>(a + arp::kSenderIp, a + arp::kTargetIp);
  std::memcpy(a + arp::kSenderMac, local.mac().data(), kMacLen);
  return static_cast<uint16_t>(request.l3_offset + arp::kLen);
}

uint16_t BuildNeighborAdvert(uint8_t* frame, uint16_t capacity, const FrameInfo& solicit,
                             const LocalAddresses& local) noexcept {
  constexpr uint16_t kAdvertLen = nd::kOptions + nd::kOptionUnit;  // one TLLA option
  const uint32_t frame_len = solicit.l4_offset + kAdvertLen;
  if (frame_len > capacity) return 0;
  uint8_t* ip = frame + solicit.l3_offset;
  uint8_t* icmp = frame + solicit.l4_offset;

  SetEthernetReply(frame, frame + eth::kSrc, local);
  Store16(ip + ipv6::kVersionClassFlow, 0x6000);
  Store16(ip + ipv6::kVersionClassFlow + 2, 0);
  Store16(ip + ipv6::kPayloadLen, kAdvertLen);
  ip[ipv6::kHopLimit] = nd::kHopLimit;
  // To the solicitor, from the address it asked about (the target, unchanged
  // at the same offset in the advertisement).
  std::memcpy(ip + ipv6::kDst, ip + ipv6::kSrc, kIpv6AddrLen);
  std::memcpy(ip + ipv6::kSrc, icmp + nd::kTarget, kIpv6AddrLen);

  icmp[nd::kType] = nd::kTypeAdvert;
  icmp[nd::kCode] = 0;
  Store16(icmp + nd::kChecksum, 0);
  std::memset(icmp + nd::kFlags, 0, 4);
  icmp[nd::kFlags] = nd::kFlagSolicited | nd::kFlagOverride;
  uint8_t* opt = icmp + nd::kOptions;
  opt[0] = nd::kOptTargetLinkAddr;
  opt[1] = 1;  // in 8-octet units
  std::memcpy(opt + 2, local.mac().data(), kMacLen);
  // Rare enough to sum what was just written.
  StoreChecksum(icmp + nd::kChecksum,
                PseudoHeaderSum(Sum(ip + ipv6::kSrc, 2 * kIpv6AddrLen), kProtoIcmpv6, kAdvertLen) +
                    Sum(icmp, kAdvertLen));
  return static_cast<uint16_t>(frame_len);
}

}  // namespace warpdns::fastpath::net
