#include "fastpath/net/classify.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>

#include "fastpath/net/local_addresses.h"
#include "tests/fastpath/net/frame_builder.h"

namespace warpdns::fastpath::net {
namespace {

using namespace test_frames;  // NOLINT(build/namespaces): test fixtures only
using test_frames::Classify;  // overloaded below

FrameInfo Classify(const Bytes& frame, const LocalAddresses& local = OurAddresses()) {
  return Classify(frame.data(), frame.size(), local);
}

void ExpectVerdict(const Bytes& frame, FrameKind kind, Reason reason,
                   const LocalAddresses& local = OurAddresses()) {
  const FrameInfo info = Classify(frame, local);
  EXPECT_EQ(info.kind, kind);
  EXPECT_EQ(info.reason, reason) << ReasonName(info.reason);
}

Bytes TcpSegment(uint16_t dst_port) {
  Bytes tcp(20, 0);
  Put16(tcp, 0, kClientPort);
  Put16(tcp, 2, dst_port);
  tcp[12] = 5 << 4;
  return tcp;
}

TEST(ClassifyTest, Ipv4UdpQuery) {
  const Bytes frame = UdpQuery(Udp4Spec(), Payload(33));
  const FrameInfo info = Classify(frame);
  EXPECT_EQ(info.kind, FrameKind::kDnsQuery);
  EXPECT_EQ(info.reason, Reason::kNone);
  EXPECT_FALSE(info.ipv6);
  EXPECT_EQ(info.l3_offset, 14);
  EXPECT_EQ(info.l4_offset, 34);
  EXPECT_EQ(info.payload_offset, 42);
  EXPECT_EQ(info.payload_len, 33);
}

TEST(ClassifyTest, SecondDnsPort) {
  EXPECT_EQ(Classify(UdpQuery(Udp4Spec(), Payload(20), 1053)).kind, FrameKind::kDnsQuery);
}

TEST(ClassifyTest, EthernetPaddingIsNotPayload) {
  Bytes frame = UdpQuery(Udp4Spec(), Payload(4));  // 46 octets: padded to 60 on the wire
  frame.resize(60, 0);
  const FrameInfo info = Classify(frame);
  EXPECT_EQ(info.kind, FrameKind::kDnsQuery);
  EXPECT_EQ(info.payload_len, 4);
}

TEST(ClassifyTest, VlanTaggedIpv4) {
  IpSpec s = Udp4Spec();
  s.vlan = true;
  const FrameInfo info = Classify(UdpQuery(s, Payload(40)));
  EXPECT_EQ(info.kind, FrameKind::kDnsQuery);
  EXPECT_EQ(info.l3_offset, 18);
  EXPECT_EQ(info.l4_offset, 38);
  EXPECT_EQ(info.payload_offset, 46);
  EXPECT_EQ(info.payload_len, 40);
}

TEST(ClassifyTest, StackedVlanTagsAreExceptions) {
  IpSpec s = Udp4Spec();
  s.vlan = true;
  Bytes frame = UdpQuery(s, Payload(40));
  Put16(frame, 16, 0x8100);  // inner TPID where the EtherType would be
  ExpectVerdict(frame, FrameKind::kException, Reason::kOtherEthertype);
  Put16(frame, 12, 0x88a8);  // 802.1ad outer tag
  ExpectVerdict(frame, FrameKind::kException, Reason::kOtherEthertype);
}

TEST(ClassifyTest, Ipv4OptionsAccepted) {
  IpSpec s = Udp4Spec();
  s.ip_options = {0x94, 0x04, 0x00, 0x00};  // Router Alert
  const FrameInfo info = Classify(UdpQuery(s, Payload(30)));
  EXPECT_EQ(info.kind, FrameKind::kDnsQuery);
  EXPECT_EQ(info.l4_offset, 38);
  EXPECT_EQ(info.payload_offset, 46);
}

TEST(ClassifyTest, TcpToDnsPortIsException) {
  IpSpec s = Udp4Spec();
  s.proto = 6;
  s.l4 = TcpSegment(53);
  ExpectVerdict(IpFrame(s), FrameKind::kException, Reason::kNotUdp);
}

TEST(ClassifyTest, IcmpIsException) {
  IpSpec s = Udp4Spec();
  s.proto = 1;
  s.l4 = {8, 0, 0xf7, 0xff, 0, 0, 0, 0};  // echo request
  ExpectVerdict(IpFrame(s), FrameKind::kException, Reason::kNotUdp);
}

TEST(ClassifyTest, OtherUdpPortIsException) {
  ExpectVerdict(UdpQuery(Udp4Spec(), Payload(20), 123), FrameKind::kException, Reason::kOtherPort);
}

TEST(ClassifyTest, OtherDestinationIsException) {
  IpSpec s = Udp4Spec();
  s.dst_ip = ToBytes(kOtherIp4);
  ExpectVerdict(UdpQuery(s, Payload(20)), FrameKind::kException, Reason::kNotForUs);
  s = Udp4Spec();
  s.dst_ip = {10, 99, 0, 255};  // subnet broadcast
  ExpectVerdict(UdpQuery(s, Payload(20)), FrameKind::kException, Reason::kNotForUs);
}

TEST(ClassifyTest, QueryToOurIpButAnotherMacIsException) {
  IpSpec s = Udp4Spec();
  s.dst_mac = {0x02, 0, 0, 0, 0, 0x09};
  ExpectVerdict(UdpQuery(s, Payload(20)), FrameKind::kException, Reason::kNotForUs);
  s.dst_mac = kBroadcastMac;
  ExpectVerdict(UdpQuery(s, Payload(20)), FrameKind::kException, Reason::kNotForUs);
}

TEST(ClassifyTest, Ipv4Fragments) {
  IpSpec s = Udp4Spec();
  s.fragment = 0x2000;  // MF, offset 0: the first fragment
  ExpectVerdict(UdpQuery(s, Payload(20)), FrameKind::kException, Reason::kFragment);
  s.fragment = 0x00b9;  // last fragment, offset 1480
  s.l4 = Payload(20);
  ExpectVerdict(IpFrame(s), FrameKind::kException, Reason::kFragment);
  s.fragment = 0x4000;  // DF alone is not a fragment
  EXPECT_EQ(Classify(UdpQuery(s, Payload(20))).kind, FrameKind::kDnsQuery);
}

TEST(ClassifyTest, ShortFrames) {
  const Bytes frame = UdpQuery(Udp4Spec(), Payload(20));
  for (uint16_t len : {0, 1, 13}) {
    EXPECT_EQ(Classify(frame.data(), len, OurAddresses()).reason, Reason::kTruncated) << len;
  }
  for (uint16_t len : {14, 33}) {  // Ethernet header, but not all of IPv4's
    EXPECT_EQ(Classify(frame.data(), len, OurAddresses()).reason, Reason::kTruncated) << len;
  }
  IpSpec s = Udp4Spec();
  s.vlan = true;
  const Bytes tagged = UdpQuery(s, Payload(20));
  for (uint16_t len : {14, 17, 37}) {
    EXPECT_EQ(Classify(tagged.data(), len, OurAddresses()).reason, Reason::kTruncated) << len;
  }
}

TEST(ClassifyTest, Ipv4LengthErrors) {
  const Bytes good = UdpQuery(Udp4Spec(), Payload(20));
  Bytes frame = good;
  frame.pop_back();  // total length now exceeds the frame
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadIpLength);

  frame = good;
  frame[14] = 0x44;  // IHL 4
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadIpHeader);
  frame[14] = 0x55;  // version 5
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadIpHeader);
  frame[14] = 0x4f;  // IHL 15 (60 octets) > total length 48
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadIpHeader);

  frame = good;
  Put16(frame, 16, 20 + 7);  // IP payload too short for a UDP header
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kTruncated);

  frame = good;
  Put16(frame, 38, 7);  // UDP length < 8
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadUdpLength);
  Put16(frame, 38, 8 + 21);  // beyond the IP payload
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadUdpLength);
  Put16(frame, 38, 8 + 5);  // shorter than the IP payload: trailing octets ignored
  const FrameInfo info = Classify(frame);
  EXPECT_EQ(info.kind, FrameKind::kDnsQuery);
  EXPECT_EQ(info.payload_len, 5);
}

TEST(ClassifyTest, Ipv4ChecksumVerifiedOnlyWhenAsked) {
  Bytes frame = UdpQuery(Udp4Spec(), Payload(20));
  LocalAddresses verify = OurAddresses();
  verify.set_verify_ipv4_checksum(true);
  EXPECT_EQ(Classify(frame, verify).kind, FrameKind::kDnsQuery);
  frame[24] ^= 0x01;  // checksum
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadIpChecksum, verify);
  EXPECT_EQ(Classify(frame).kind, FrameKind::kDnsQuery);
}

TEST(ClassifyTest, UnanswerableSources) {
  Bytes frame = UdpQuery(Udp4Spec(), Payload(20));
  Put16(frame, 34, 0);  // source port 0
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadSource);
  for (const Bytes& src : {Bytes{224, 0, 0, 251}, Bytes{255, 255, 255, 255}, Bytes{0, 0, 0, 0}}) {
    IpSpec s = Udp4Spec();
    s.src_ip = src;
    ExpectVerdict(UdpQuery(s, Payload(20)), FrameKind::kDrop, Reason::kBadSource);
  }
  IpSpec s = Udp6Spec();
  s.src_ip = SolicitedNode(kClientIp6);
  ExpectVerdict(UdpQuery(s, Payload(20)), FrameKind::kDrop, Reason::kBadSource);
  s.src_ip = ToBytes(kUnspecifiedIp6);
  ExpectVerdict(UdpQuery(s, Payload(20)), FrameKind::kDrop, Reason::kBadSource);
}

TEST(ClassifyTest, ArpRequestForUs) {
  const Bytes frame = ArpFrame(1, kClientMac, kClientIp4, MacAddress{}, kOurIp4);
  const FrameInfo info = Classify(frame);
  EXPECT_EQ(info.kind, FrameKind::kArpRequestForUs);
  EXPECT_EQ(info.l3_offset, 14);
  Bytes padded = frame;
  padded.resize(60, 0);
  EXPECT_EQ(Classify(padded).kind, FrameKind::kArpRequestForUs);
  const Bytes tagged = ArpFrame(1, kClientMac, kClientIp4, MacAddress{}, kOurIp4, /*vlan=*/true);
  EXPECT_EQ(Classify(tagged).kind, FrameKind::kArpRequestForUs);
  EXPECT_EQ(Classify(tagged).l3_offset, 18);
}

TEST(ClassifyTest, ArpNotForUs) {
  ExpectVerdict(ArpFrame(1, kClientMac, kClientIp4, MacAddress{}, kOtherIp4), FrameKind::kException,
                Reason::kArpNotForUs);
  // A reply (to a request the kernel sent through the exception path).
  ExpectVerdict(ArpFrame(2, kClientMac, kClientIp4, kOurMac, kOurIp4), FrameKind::kException,
                Reason::kArpNotForUs);
  // Gratuitous ARP for our own address: someone else claims it.
  ExpectVerdict(ArpFrame(1, kClientMac, kOurIp4, MacAddress{}, kOurIp4), FrameKind::kException,
                Reason::kArpNotForUs);
  Bytes frame = ArpFrame(1, kClientMac, kClientIp4, MacAddress{}, kOurIp4);
  Put16(frame, 14, 6);  // IEEE 802 hardware type
  ExpectVerdict(frame, FrameKind::kException, Reason::kArpNotForUs);
}

TEST(ClassifyTest, MalformedArp) {
  Bytes frame = ArpFrame(1, kClientMac, kClientIp4, MacAddress{}, kOurIp4);
  ExpectVerdict(Slice(frame, 0, frame.size() - 1), FrameKind::kDrop, Reason::kTruncated);
  frame[18] = 8;  // hardware address length
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadArp);
}

TEST(ClassifyTest, Ipv6UdpQuery) {
  const Bytes frame = UdpQuery(Udp6Spec(), Payload(45));
  const FrameInfo info = Classify(frame);
  EXPECT_EQ(info.kind, FrameKind::kDnsQuery);
  EXPECT_TRUE(info.ipv6);
  EXPECT_EQ(info.l3_offset, 14);
  EXPECT_EQ(info.l4_offset, 54);
  EXPECT_EQ(info.payload_offset, 62);
  EXPECT_EQ(info.payload_len, 45);

  IpSpec s = Udp6Spec();
  s.vlan = true;
  const FrameInfo tagged = Classify(UdpQuery(s, Payload(45)));
  EXPECT_EQ(tagged.kind, FrameKind::kDnsQuery);
  EXPECT_EQ(tagged.payload_offset, 66);
}

TEST(ClassifyTest, Ipv6Exceptions) {
  IpSpec s = Udp6Spec();
  s.dst_ip = ToBytes(kOtherIp6);
  ExpectVerdict(UdpQuery(s, Payload(20)), FrameKind::kException, Reason::kNotForUs);

  s = Udp6Spec();
  s.proto = 6;
  s.l4 = TcpSegment(53);
  ExpectVerdict(IpFrame(s), FrameKind::kException, Reason::kNotUdp);

  const Bytes udp = UdpDatagram(Udp6Spec(), kClientPort, 53, Payload(20));
  s = Udp6Spec();
  s.proto = 44;
  s.l4 = Cat({{17, 0, 0, 0, 0, 0, 0, 1}, udp});
  ExpectVerdict(IpFrame(s), FrameKind::kException, Reason::kFragment);
  for (uint8_t ext : {0, 43, 60}) {
    s.proto = ext;
    s.l4 = Cat({{17, 0, 1, 4, 0, 0, 0, 0}, udp});
    ExpectVerdict(IpFrame(s), FrameKind::kException, Reason::kExtensionHeader);
  }

  const Bytes echo = Icmpv6Frame(Udp6Spec(), 128, 0, {0, 1, 0, 1});
  ExpectVerdict(echo, FrameKind::kException, Reason::kIcmpv6Other);
}

TEST(ClassifyTest, Ipv6Malformed) {
  const Bytes good = UdpQuery(Udp6Spec(), Payload(20));
  Bytes frame = good;
  frame.pop_back();
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadIpLength);
  ExpectVerdict(Slice(good, 0, 53), FrameKind::kDrop, Reason::kTruncated);
  frame = good;
  frame[14] = 0x40;
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadIpHeader);
  frame = good;
  Put16(frame, 60, 0);  // UDP checksum 0 is not allowed over IPv6
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadUdpChecksum);
  frame = good;
  Put16(frame, 18, 7);  // payload length < UDP header
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kTruncated);
}

TEST(ClassifyTest, NeighborSolicitForUs) {
  const Bytes frame = NeighborSolicit(kOurIp6);
  const FrameInfo info = Classify(frame);
  EXPECT_EQ(info.kind, FrameKind::kNeighborSolicitForUs);
  EXPECT_EQ(info.l3_offset, 14);
  EXPECT_EQ(info.l4_offset, 54);
  // Unicast (neighbour unreachability detection) and without the option.
  IpSpec s = Udp6Spec();
  Bytes unicast = Icmpv6Frame(s, 135, 0, Cat({{0, 0, 0, 0}, ToBytes(kOurIp6)}));
  EXPECT_EQ(Classify(unicast).kind, FrameKind::kNeighborSolicitForUs);
  EXPECT_EQ(Classify(NeighborSolicit(kOurIp6, true, /*vlan=*/true)).kind,
            FrameKind::kNeighborSolicitForUs);
}

TEST(ClassifyTest, NeighborSolicitNotForUs) {
  ExpectVerdict(NeighborSolicit(kOtherIp6), FrameKind::kException, Reason::kNotForUs);
  // Duplicate address detection for our address: the kernel's business.
  ExpectVerdict(NeighborSolicit(kOurIp6, /*with_slla=*/false, false, kUnspecifiedIp6),
                FrameKind::kException, Reason::kIcmpv6Other);
}

TEST(ClassifyTest, InvalidNeighborSolicitsAreDropped) {
  const Bytes good = NeighborSolicit(kOurIp6);
  Bytes frame = good;
  frame[21] = 64;  // hop limit: it was forwarded by a router
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadNeighborSolicit);
  frame = good;
  frame[56] ^= 0xff;  // checksum
  ExpectVerdict(frame, FrameKind::kDrop, Reason::kBadNeighborSolicit);

  // Each of these with a correct checksum.
  IpSpec s = Udp6Spec();
  const Bytes target = ToBytes(kOurIp6);
  ExpectVerdict(Icmpv6Frame(s, 135, 1, Cat({{0, 0, 0, 0}, target})), FrameKind::kDrop,
                Reason::kBadNeighborSolicit);  // code 1
  ExpectVerdict(Icmpv6Frame(s, 135, 0, Cat({{0, 0, 0, 0}, Slice(target, 0, 12)})), FrameKind::kDrop,
                Reason::kBadNeighborSolicit);  // too short
  ExpectVerdict(Icmpv6Frame(s, 135, 0, Cat({{0, 0, 0, 0}, SolicitedNode(kOurIp6)})),
                FrameKind::kDrop, Reason::kBadNeighborSolicit);  // multicast target
  ExpectVerdict(Icmpv6Frame(s, 135, 0, Cat({{0, 0, 0, 0}, target, {1, 0, 0, 0, 0, 0, 0, 0}})),
                FrameKind::kDrop, Reason::kBadNeighborSolicit);  // option length 0
  ExpectVerdict(Icmpv6Frame(s, 135, 0, Cat({{0, 0, 0, 0}, target, {1, 2, 0, 0, 0, 0, 0, 0}})),
                FrameKind::kDrop, Reason::kBadNeighborSolicit);  // option past the end
  ExpectVerdict(NeighborSolicit(kOurIp6, /*with_slla=*/true, false, kUnspecifiedIp6),
                FrameKind::kDrop, Reason::kBadNeighborSolicit);  // DAD with a source address
}

TEST(ClassifyTest, OtherEthertypesAreExceptions) {
  IpSpec s;
  s.dst_mac = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e};
  ExpectVerdict(Cat({EthernetHeader(s, 0x88cc), Payload(46)}), FrameKind::kException,
                Reason::kOtherEthertype);  // LLDP
}

TEST(ClassifyTest, ReasonNamesAreDistinct) {
  std::set<std::string> names;
  for (int r = 0; r < static_cast<int>(Reason::kCount); ++r) {
    const std::string name = ReasonName(static_cast<Reason>(r));
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

// Every truncation and random corruption of valid frames: no out-of-bounds
// read (ASan), and what claims a DNS payload lies inside the frame.
TEST(ClassifyTest, TruncatedAndCorruptFramesStayInBounds) {
  IpSpec tagged = Udp4Spec();
  tagged.vlan = true;
  const std::vector<Bytes> seeds = {UdpQuery(Udp4Spec(), Payload(40)),
                                    UdpQuery(Udp6Spec(), Payload(40)), UdpQuery(tagged, Payload(9)),
                                    ArpFrame(1, kClientMac, kClientIp4, MacAddress{}, kOurIp4),
                                    NeighborSolicit(kOurIp6)};
  std::mt19937 rng(4);
  const LocalAddresses local = OurAddresses();
  for (const Bytes& seed : seeds) {
    for (size_t len = 0; len <= seed.size(); ++len) {
      // A heap copy of exactly `len` octets, so ASan sees any overread.
      const Bytes frame = Slice(seed, 0, len);
      const FrameInfo info = Classify(frame.data(), len, local);
      if (info.kind == FrameKind::kDnsQuery) {
        EXPECT_LE(info.payload_offset + info.payload_len, len);
      }
    }
    for (int i = 0; i < 2000; ++i) {
      Bytes frame = seed;
      for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
        frame[rng() % frame.size()] = static_cast<uint8_t>(rng());
      }
      frame.resize(rng() % (frame.size() + 1));
      const FrameInfo info = Classify(frame.data(), frame.size(), local);
      if (info.kind == FrameKind::kDnsQuery) {
        EXPECT_LE(info.payload_offset + info.payload_len, frame.size());
      }
    }
  }
}

TEST(LocalAddressesTest, CapacityAndDuplicates) {
  LocalAddresses local;
  for (uint8_t i = 0; i < LocalAddresses::kMaxIpv4; ++i) EXPECT_TRUE(local.AddIpv4({10, 0, 0, i}));
  EXPECT_TRUE(local.AddIpv4({10, 0, 0, 0}));  // already there
  EXPECT_FALSE(local.AddIpv4({10, 0, 1, 0}));
  const Ipv4Address last = {10, 0, 0, LocalAddresses::kMaxIpv4 - 1};
  EXPECT_TRUE(local.HasIpv4(last.data()));
  const Ipv4Address absent = {10, 0, 1, 0};
  EXPECT_FALSE(local.HasIpv4(absent.data()));

  for (uint8_t i = 0; i < LocalAddresses::kMaxIpv6; ++i) {
    Ipv6Address a = kOurIp6;
    a[15] = i;
    EXPECT_TRUE(local.AddIpv6(a));
  }
  Ipv6Address absent6 = kOurIp6;
  absent6[14] = 1;
  EXPECT_FALSE(local.AddIpv6(absent6));
  EXPECT_FALSE(local.HasIpv6(absent6.data()));

  for (uint16_t p = 1; p <= LocalAddresses::kMaxPorts; ++p) EXPECT_TRUE(local.AddDnsPort(p));
  EXPECT_TRUE(local.AddDnsPort(1));
  EXPECT_FALSE(local.AddDnsPort(53));
  EXPECT_FALSE(local.IsDnsPort(53));
  EXPECT_TRUE(local.IsDnsPort(LocalAddresses::kMaxPorts));
}

}  // namespace
}  // namespace warpdns::fastpath::net
