// Turns a classified request frame into its reply in place: ARP replies,
// neighbour advertisements, and the L2-L4 headers around a DNS answer that the
// caller has written over the query's payload. The 802.1Q tag, if any, stays.
#ifndef WARPDNS_FASTPATH_NET_REPLY_H_
#define WARPDNS_FASTPATH_NET_REPLY_H_

#include <cstdint>

#include "fastpath/net/classify.h"
#include "fastpath/net/local_addresses.h"

namespace warpdns::fastpath::net {

enum class ChecksumMode : uint8_t {
  // IPv4 header and UDP checksums computed here.
  kSoftware,
  // As kSoftware, but UDP over IPv4 is sent with checksum 0, which RFC 768
  // allows; IPv6 still gets a real one (RFC 8200 8.1).
  kSoftwareNoUdp4,
  // For a port with IPv4 and UDP checksum offload: the IPv4 header checksum is
  // left 0 and the UDP checksum field holds the pseudo-header sum, as DPDK's
  // RTE_MBUF_F_TX_UDP_CKSUM wants. The caller sets the mbuf's ol_flags
  // (RTE_MBUF_F_TX_IPV4 | _IP_CKSUM or _IPV6, | _UDP_CKSUM), l2_len and l3_len.
  kOffload,
};

struct ReplyOptions {
  ChecksumMode checksum = ChecksumMode::kSoftware;
  uint8_t hop_limit = 64;  // IPv4 TTL or IPv6 hop limit
};

// Completes a DNS reply: `query` is the ClassifyFrame result (kDnsQuery) for
// `frame`, and the caller has written `dns_len` octets of answer at
// query.payload_offset. Swaps MACs, IP addresses and ports; sets lengths, hop
// limit and checksums per `options`. IPv4: ID 0 with DF, an atomic datagram
// (RFC 6864 4.1; DNS avoids fragments, RFC 9715), TOS 0, and any options of
// the query overwritten with End-of-Options (a reply must not echo them).
// IPv6: traffic class and flow label 0. Returns the reply's frame length, or 0
// if `dns_len` does not fit the IP or UDP length fields (drop the frame).
// Fast path: any thread, for a frame it owns; never blocks or allocates.
uint16_t FinishUdpReply(uint8_t* frame, const FrameInfo& query, uint16_t dns_len,
                        const ReplyOptions& options) noexcept;

// Turns an ARP request classified kArpRequestForUs into the reply from
// `local`'s MAC. Returns the reply's frame length (the request's, without
// Ethernet padding). Fast path: any thread; never blocks or allocates.
uint16_t BuildArpReply(uint8_t* frame, const FrameInfo& request,
                       const LocalAddresses& local) noexcept;

// Turns a neighbour solicitation classified kNeighborSolicitForUs into a
// solicited neighbour advertisement (S and O set, not a router) with a target
// link-layer address option, sent unicast back to the solicitor. The reply may
// be longer than the request: `capacity` is the room from `frame` on. Returns
// the reply's frame length, or 0 if it does not fit. Fast path: any thread;
// never blocks or allocates.
uint16_t BuildNeighborAdvert(uint8_t* frame, uint16_t capacity, const FrameInfo& solicit,
                             const LocalAddresses& local) noexcept;

}  // namespace warpdns::fastpath::net

#endif  // WARPDNS_FASTPATH_NET_REPLY_H_
