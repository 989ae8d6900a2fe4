// Hand-built Ethernet frames for the fastpath/net tests, with checksums from a
// deliberately naive reference implementation (big-endian 16-bit words over
// one contiguous buffer) that shares no code with fastpath/net/checksum.h.
#ifndef WARPDNS_TESTS_FASTPATH_NET_FRAME_BUILDER_H_
#define WARPDNS_TESTS_FASTPATH_NET_FRAME_BUILDER_H_

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "fastpath/net/classify.h"
#include "fastpath/net/local_addresses.h"

namespace warpdns::fastpath::net::test_frames {

using Bytes = std::vector<uint8_t>;

inline const MacAddress kOurMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline const MacAddress kClientMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
inline const MacAddress kBroadcastMac = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
inline const Ipv4Address kOurIp4 = {10, 99, 0, 1};
inline const Ipv4Address kClientIp4 = {10, 99, 0, 2};
inline const Ipv4Address kOtherIp4 = {10, 99, 0, 3};
inline const Ipv6Address kOurIp6 = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
inline const Ipv6Address kClientIp6 = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
inline const Ipv6Address kOtherIp6 = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};
inline const Ipv6Address kUnspecifiedIp6 = {};
constexpr uint16_t kClientPort = 40000;

// Ours: kOurMac, kOurIp4, kOurIp6, DNS ports 53 and 1053.
inline LocalAddresses OurAddresses() {
  LocalAddresses local;
  local.set_mac(kOurMac);
  local.AddIpv4(kOurIp4);
  local.AddIpv6(kOurIp6);
  local.AddDnsPort(53);
  local.AddDnsPort(1053);
  return local;
}

// ClassifyFrame as a value, for EXPECTs.
inline FrameInfo Classify(const uint8_t* frame, size_t len, const LocalAddresses& local) {
  FrameInfo info;
  ClassifyFrame(frame, static_cast<uint16_t>(len), local, &info);
  return info;
}

inline uint16_t Get16(const Bytes& b, size_t off) {
  return static_cast<uint16_t>(b.at(off) << 8 | b.at(off + 1));
}
inline void Put16(Bytes& b, size_t off, uint16_t v) {
  b.at(off) = static_cast<uint8_t>(v >> 8);
  b.at(off + 1) = static_cast<uint8_t>(v);
}
inline Bytes Slice(const Bytes& b, size_t off, size_t len) {
  return Bytes(b.begin() + off, b.begin() + off + len);
}
template <typename Array>
Bytes ToBytes(const Array& a) {
  return Bytes(a.begin(), a.end());
}
inline Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// RFC 1071, the textbook way: the complement of the folded sum of big-endian
// 16-bit words, an odd last octet padded with zero. Host order result.
inline uint16_t RefChecksum(const Bytes& data) {
  uint64_t sum = 0;
  for (size_t i = 0; i < data.size(); i += 2) {
    sum += static_cast<uint64_t>(data[i]) << 8;
    if (i + 1 < data.size()) sum += data[i + 1];
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

inline Bytes Be16(size_t v) { return {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }

inline Bytes Ipv4PseudoHeader(const Bytes& src, const Bytes& dst, uint8_t proto, size_t l4_len) {
  return Cat({src, dst, {0, proto}, Be16(l4_len)});
}
inline Bytes Ipv6PseudoHeader(const Bytes& src, const Bytes& dst, uint8_t proto, size_t l4_len) {
  return Cat({src, dst, Be16(0), Be16(l4_len), {0, 0, 0, proto}});
}

// A DNS-looking payload of `len` octets; the net code never looks inside.
inline Bytes Payload(size_t len, uint8_t seed = 1) {
  Bytes p(len);
  for (size_t i = 0; i < len; ++i) p[i] = static_cast<uint8_t>(seed + i * 7);
  return p;
}

struct IpSpec {
  bool ipv6 = false;
  bool vlan = false;
  uint16_t vlan_tci = 0x2064;  // priority 1, VLAN 100
  MacAddress dst_mac = kOurMac;
  MacAddress src_mac = kClientMac;
  Bytes src_ip = ToBytes(kClientIp4);  // set both IPs for IPv6
  Bytes dst_ip = ToBytes(kOurIp4);
  uint8_t proto = 17;  // IPv4 protocol or IPv6 next header
  uint8_t tos = 0;     // IPv4 TOS / IPv6 traffic class
  uint8_t ttl = 64;
  uint16_t fragment = 0;  // IPv4 flags + offset
  Bytes ip_options;       // IPv4, a multiple of 4 octets
  Bytes l4;               // everything after the IP header
};

inline Bytes EthernetHeader(const IpSpec& s, uint16_t type) {
  Bytes h = Cat({ToBytes(s.dst_mac), ToBytes(s.src_mac)});
  if (s.vlan) h = Cat({h, Be16(0x8100), Be16(s.vlan_tci)});
  return Cat({h, Be16(type)});
}

// An IPv4 or IPv6 frame with correct lengths and IPv4 header checksum.
inline Bytes IpFrame(const IpSpec& s) {
  if (!s.ipv6) {
    const size_t hlen = 20 + s.ip_options.size();
    Bytes ip = Cat({{static_cast<uint8_t>(0x40 | hlen / 4), s.tos},
                    Be16(hlen + s.l4.size()),
                    Be16(0x1234),  // ID
                    Be16(s.fragment),
                    {s.ttl, s.proto},
                    Be16(0),  // checksum, below
                    s.src_ip,
                    s.dst_ip,
                    s.ip_options});
    Put16(ip, 10, RefChecksum(ip));
    return Cat({EthernetHeader(s, 0x0800), ip, s.l4});
  }
  const Bytes version_class_flow = {static_cast<uint8_t>(0x60 | s.tos >> 4),
                                    static_cast<uint8_t>(s.tos << 4 | 0x0a), 0xbc, 0xde};
  return Cat({EthernetHeader(s, 0x86dd),
              version_class_flow,
              Be16(s.l4.size()),
              {s.proto, s.ttl},
              s.src_ip,
              s.dst_ip,
              s.l4});
}

// A UDP datagram (header + payload) with a correct checksum for `s`'s addresses.
inline Bytes UdpDatagram(const IpSpec& s, uint16_t src_port, uint16_t dst_port,
                         const Bytes& payload) {
  const size_t len = 8 + payload.size();
  Bytes u = Cat({Be16(src_port), Be16(dst_port), Be16(len), Be16(0), payload});
  const Bytes pseudo = s.ipv6 ? Ipv6PseudoHeader(s.src_ip, s.dst_ip, 17, len)
                              : Ipv4PseudoHeader(s.src_ip, s.dst_ip, 17, len);
  const uint16_t c = RefChecksum(Cat({pseudo, u}));
  Put16(u, 6, c == 0 ? 0xffff : c);
  return u;
}

inline IpSpec Udp4Spec() { return IpSpec{}; }
inline IpSpec Udp6Spec() {
  IpSpec s;
  s.ipv6 = true;
  s.src_ip = ToBytes(kClientIp6);
  s.dst_ip = ToBytes(kOurIp6);
  return s;
}

// A UDP query frame from the client to us (port `dst_port`).
inline Bytes UdpQuery(IpSpec s, const Bytes& payload, uint16_t dst_port = 53) {
  s.l4 = UdpDatagram(s, kClientPort, dst_port, payload);
  return IpFrame(s);
}

// An ARP packet for IPv4 over Ethernet.
inline Bytes ArpFrame(uint16_t op, const MacAddress& sender_mac, const Ipv4Address& sender_ip,
                      const MacAddress& target_mac, const Ipv4Address& target_ip,
                      bool vlan = false) {
  IpSpec s;
  s.vlan = vlan;
  s.dst_mac = kBroadcastMac;
  s.src_mac = sender_mac;
  return Cat({EthernetHeader(s, 0x0806),
              Be16(1),
              Be16(0x0800),
              {6, 4},
              Be16(op),
              ToBytes(sender_mac),
              ToBytes(sender_ip),
              ToBytes(target_mac),
              ToBytes(target_ip)});
}

// An ICMPv6 message (type, code, body after the checksum) inside IPv6, with a
// correct checksum; hop limit 255 as neighbour discovery requires.
inline Bytes Icmpv6Frame(IpSpec s, uint8_t type, uint8_t code, const Bytes& body) {
  s.ipv6 = true;
  s.proto = 58;
  s.ttl = 255;
  Bytes icmp = Cat({{type, code, 0, 0}, body});
  Put16(icmp, 2, RefChecksum(Cat({Ipv6PseudoHeader(s.src_ip, s.dst_ip, 58, icmp.size()), icmp})));
  s.l4 = icmp;
  return IpFrame(s);
}

// The solicited-node multicast address for `target` (RFC 4291 2.7.1).
inline Bytes SolicitedNode(const Ipv6Address& target) {
  return {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, target[13], target[14], target[15]};
}

// A neighbour solicitation from the client for `target`, to its
// solicited-node group, with a source link-layer address option unless
// `with_slla` is false.
inline Bytes NeighborSolicit(const Ipv6Address& target, bool with_slla = true, bool vlan = false,
                             const Ipv6Address& src = kClientIp6) {
  IpSpec s = Udp6Spec();
  s.vlan = vlan;
  s.dst_mac = {0x33, 0x33, 0xff, target[13], target[14], target[15]};
  s.src_ip = ToBytes(src);
  s.dst_ip = SolicitedNode(target);
  Bytes body = Cat({{0, 0, 0, 0}, ToBytes(target)});
  if (with_slla) body = Cat({body, {1, 1}, ToBytes(kClientMac)});
  return Icmpv6Frame(s, 135, 0, body);
}

}  // namespace warpdns::fastpath::net::test_frames

#endif  // WARPDNS_TESTS_FASTPATH_NET_FRAME_BUILDER_H_
