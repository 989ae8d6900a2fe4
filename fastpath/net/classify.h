// Sorts a received Ethernet frame into what the fast path answers itself (DNS
// queries over UDP, ARP and neighbour solicitations for our addresses), what
// goes to the kernel's exception interface, and what is dropped. Knows L2-L4
// only: the DNS payload is handed on as an offset and a length.
#ifndef WARPDNS_FASTPATH_NET_CLASSIFY_H_
#define WARPDNS_FASTPATH_NET_CLASSIFY_H_

#include <cstdint>

#include "fastpath/net/local_addresses.h"

namespace warpdns::fastpath::net {

enum class FrameKind : uint8_t {
  kDnsQuery,              // UDP to one of our addresses and DNS ports
  kArpRequestForUs,       // answer with BuildArpReply
  kNeighborSolicitForUs,  // answer with BuildNeighborAdvert
  kException,             // valid, but for the kernel's stack (see Reason)
  kDrop,                  // malformed (see Reason)
};

// Why a frame is kException or kDrop; kNone for the other kinds. Small dense
// values so that workers can keep one counter per reason.
enum class Reason : uint8_t {
  kNone,
  // kException
  kOtherEthertype,   // not IPv4, IPv6 or ARP (LLDP, ...); stacked VLAN tags
  kArpNotForUs,      // ARP replies, requests for other addresses, non-IPv4 ARP
  kNotForUs,         // another destination IP, or a DNS query to another unicast MAC
  kFragment,         // IPv4 fragment, or an IPv6 fragment header
  kExtensionHeader,  // IPv6 hop-by-hop, routing or destination options header
  kNotUdp,           // TCP, ICMP and every other protocol
  kIcmpv6Other,      // ICMPv6 but not a neighbour solicitation we answer (DAD too)
  kOtherPort,        // UDP to a port that is not a DNS port
  // kDrop
  kTruncated,           // a header runs past the end of the frame or of its packet
  kBadIpHeader,         // wrong IP version or IPv4 header length
  kBadIpLength,         // IP length field larger than the frame
  kBadIpChecksum,       // only when LocalAddresses::verify_ipv4_checksum()
  kBadUdpLength,        // UDP length < 8 or beyond the IP payload
  kBadUdpChecksum,      // UDP over IPv6 with checksum 0 (RFC 8200 8.1)
  kBadSource,           // source port 0, or a multicast, broadcast or unspecified source
  kBadArp,              // ARP for IPv4 over Ethernet with wrong lengths
  kBadNeighborSolicit,  // fails the validity checks of RFC 4861 7.1.1
  kCount,
};

// Short stable name ("not_udp"), for metric labels and logs.
const char* ReasonName(Reason reason) noexcept;

// The verdict and the header offsets the reply builders need. Offsets are from
// the start of the frame.
struct FrameInfo {
  FrameKind kind = FrameKind::kDrop;
  Reason reason = Reason::kNone;
  bool ipv6 = false;            // kDnsQuery: IPv6, else IPv4
  uint16_t l3_offset = 0;       // all but early drops: 14, or 18 behind an 802.1Q tag
  uint16_t l4_offset = 0;       // kDnsQuery (UDP), kNeighborSolicitForUs (ICMPv6)
  uint16_t payload_offset = 0;  // kDnsQuery: the DNS message
  uint16_t payload_len = 0;     // kDnsQuery: from the UDP length (Ethernet padding excluded)
};

// Classifies one received frame of `len` octets into `info` (all of it is
// overwritten; an out-parameter because FrameInfo lives in the worker's burst
// arrays, and returning it in registers costs store-forwarding stalls).
// Checks what it relies on:
// every length field against the frame, IPv4 header length and (optionally)
// checksum, neighbour solicitations as RFC 4861 7.1.1 asks. Does not verify
// UDP checksums (the NIC does, or veth leaves them partial). IPv4 options are
// accepted; IPv4 fragments and IPv6 extension headers go to the exception path.
// Fast path: any thread; reads only `frame` and `local`; never blocks or
// allocates.
void ClassifyFrame(const uint8_t* frame, uint16_t len, const LocalAddresses& local,
                   FrameInfo* info) noexcept;

}  // namespace warpdns::fastpath::net

#endif  // WARPDNS_FASTPATH_NET_CLASSIFY_H_
