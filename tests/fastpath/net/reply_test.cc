#include "fastpath/net/reply.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "fastpath/net/classify.h"
#include "tests/fastpath/net/frame_builder.h"

namespace warpdns::fastpath::net {
namespace {

using namespace test_frames;  // NOLINT(build/namespaces): test fixtures only

// Room for replies longer than their query, as an mbuf has tailroom.
constexpr size_t kRoom = 2048;

struct Query {
  Bytes buf;
  FrameInfo info;
};

Query Classified(const Bytes& frame) {
  Query q{frame, Classify(frame.data(), frame.size(), OurAddresses())};
  q.buf.resize(kRoom);
  return q;
}

// Writes `answer` over the query's payload and finishes the reply; returns
// the reply frame trimmed to its length.
Bytes Finish(Query& q, const Bytes& answer, ReplyOptions options = {}) {
  EXPECT_EQ(q.info.kind, FrameKind::kDnsQuery);
  std::copy(answer.begin(), answer.end(), q.buf.begin() + q.info.payload_offset);
  const uint16_t len =
      FinishUdpReply(q.buf.data(), q.info, static_cast<uint16_t>(answer.size()), options);
  EXPECT_EQ(len, q.info.payload_offset + answer.size());
  return Slice(q.buf, 0, len);
}

// What a client would check of an IPv4 reply, with the reference checksum.
void ExpectIpv4Reply(const Bytes& r, size_t l3, const Bytes& answer, bool udp_checksum = true) {
  EXPECT_EQ(Slice(r, 0, 6), ToBytes(kClientMac));
  EXPECT_EQ(Slice(r, 6, 6), ToBytes(kOurMac));
  const size_t hlen = (r[l3] & 0x0f) * 4;
  const size_t l4 = l3 + hlen;
  EXPECT_EQ(r[l3 + 1], 0) << "TOS";
  EXPECT_EQ(Get16(r, l3 + 2), hlen + 8 + answer.size());
  EXPECT_EQ(Get16(r, l3 + 4), 0) << "ID";
  EXPECT_EQ(Get16(r, l3 + 6), 0x4000) << "DF, no fragment";
  EXPECT_EQ(r[l3 + 8], 64) << "TTL";
  EXPECT_EQ(r[l3 + 9], 17);
  EXPECT_EQ(RefChecksum(Slice(r, l3, hlen)), 0) << "IPv4 header checksum";
  EXPECT_EQ(Slice(r, l3 + 12, 4), ToBytes(kOurIp4));
  EXPECT_EQ(Slice(r, l3 + 16, 4), ToBytes(kClientIp4));
  EXPECT_EQ(Get16(r, l4), 53);
  EXPECT_EQ(Get16(r, l4 + 2), kClientPort);
  EXPECT_EQ(Get16(r, l4 + 4), 8 + answer.size());
  EXPECT_EQ(Slice(r, l4 + 8, answer.size()), answer);
  const Bytes udp = Slice(r, l4, 8 + answer.size());
  if (udp_checksum) {
    EXPECT_NE(Get16(r, l4 + 6), 0);
    EXPECT_EQ(RefChecksum(Cat(
                  {Ipv4PseudoHeader(ToBytes(kOurIp4), ToBytes(kClientIp4), 17, udp.size()), udp})),
              0)
        << "UDP checksum";
  } else {
    EXPECT_EQ(Get16(r, l4 + 6), 0);
  }
}

void ExpectIpv6Reply(const Bytes& r, size_t l3, const Bytes& answer) {
  EXPECT_EQ(Slice(r, 0, 6), ToBytes(kClientMac));
  EXPECT_EQ(Slice(r, 6, 6), ToBytes(kOurMac));
  EXPECT_EQ(Get16(r, l3), 0x6000) << "version 6, traffic class 0";
  EXPECT_EQ(Get16(r, l3 + 2), 0) << "flow label";
  EXPECT_EQ(Get16(r, l3 + 4), 8 + answer.size());
  EXPECT_EQ(r[l3 + 6], 17);
  EXPECT_EQ(r[l3 + 7], 64);
  EXPECT_EQ(Slice(r, l3 + 8, 16), ToBytes(kOurIp6));
  EXPECT_EQ(Slice(r, l3 + 24, 16), ToBytes(kClientIp6));
  const size_t l4 = l3 + 40;
  EXPECT_EQ(Get16(r, l4), 53);
  EXPECT_EQ(Get16(r, l4 + 2), kClientPort);
  EXPECT_EQ(Get16(r, l4 + 4), 8 + answer.size());
  EXPECT_EQ(Slice(r, l4 + 8, answer.size()), answer);
  const Bytes udp = Slice(r, l4, 8 + answer.size());
  EXPECT_NE(Get16(r, l4 + 6), 0);
  EXPECT_EQ(RefChecksum(Cat(
                {Ipv6PseudoHeader(ToBytes(kOurIp6), ToBytes(kClientIp6), 17, udp.size()), udp})),
            0)
      << "UDP checksum";
}

TEST(FinishUdpReplyTest, Ipv4LongerAndShorterAnswers) {
  for (size_t answer_len : {12, 33, 200, 1400}) {  // odd lengths exercise the checksum's last octet
    IpSpec s = Udp4Spec();
    s.tos = 0x03;  // ECN CE must not be reflected
    s.ttl = 3;
    Query q = Classified(UdpQuery(s, Payload(40)));
    const Bytes answer = Payload(answer_len, 9);
    ExpectIpv4Reply(Finish(q, answer), 14, answer);
  }
}

TEST(FinishUdpReplyTest, Ipv4WithoutUdpChecksum) {
  Query q = Classified(UdpQuery(Udp4Spec(), Payload(40)));
  const Bytes answer = Payload(77);
  ExpectIpv4Reply(Finish(q, answer, {ChecksumMode::kSoftwareNoUdp4}), 14, answer,
                  /*udp_checksum=*/false);
}

TEST(FinishUdpReplyTest, Ipv4ComputedZeroChecksumIsSentAsOnes) {
  // Choose the answer's last word so that the UDP checksum computes to 0.
  Bytes answer = Payload(30);
  answer[28] = answer[29] = 0;
  Query probe = Classified(UdpQuery(Udp4Spec(), Payload(40)));
  const Bytes first = Finish(probe, answer);
  const uint16_t c = Get16(first, 40);
  answer[28] = static_cast<uint8_t>(c >> 8);
  answer[29] = static_cast<uint8_t>(c);
  Query q = Classified(UdpQuery(Udp4Spec(), Payload(40)));
  const Bytes r = Finish(q, answer);
  EXPECT_EQ(Get16(r, 40), 0xffff);
  ExpectIpv4Reply(r, 14, answer);
}

TEST(FinishUdpReplyTest, Ipv4OptionsAreErased) {
  IpSpec s = Udp4Spec();
  s.ip_options = {0x94, 0x04, 0x00, 0x00, 0x07, 0x07, 0x04, 0x00};  // Router Alert, Record Route
  Query q = Classified(UdpQuery(s, Payload(40)));
  ASSERT_EQ(q.info.l4_offset, 42);
  const Bytes answer = Payload(50);
  const Bytes r = Finish(q, answer);
  EXPECT_EQ(r[14], 0x47) << "IHL kept";
  EXPECT_EQ(Slice(r, 34, 8), Bytes(8, 0)) << "End of Option List";
  ExpectIpv4Reply(r, 14, answer);
}

TEST(FinishUdpReplyTest, VlanTagIsKept) {
  IpSpec s = Udp4Spec();
  s.vlan = true;
  Query q = Classified(UdpQuery(s, Payload(40)));
  const Bytes answer = Payload(60);
  const Bytes r = Finish(q, answer);
  EXPECT_EQ(Get16(r, 12), 0x8100);
  EXPECT_EQ(Get16(r, 14), s.vlan_tci);
  EXPECT_EQ(Get16(r, 16), 0x0800);
  ExpectIpv4Reply(r, 18, answer);

  IpSpec s6 = Udp6Spec();
  s6.vlan = true;
  Query q6 = Classified(UdpQuery(s6, Payload(40)));
  const Bytes r6 = Finish(q6, answer);
  EXPECT_EQ(Get16(r6, 14), s6.vlan_tci);
  ExpectIpv6Reply(r6, 18, answer);
}

TEST(FinishUdpReplyTest, Ipv6AlwaysHasAChecksum) {
  for (ChecksumMode mode : {ChecksumMode::kSoftware, ChecksumMode::kSoftwareNoUdp4}) {
    for (size_t answer_len : {12, 101, 1200}) {
      IpSpec s = Udp6Spec();
      s.tos = 0xb8;  // EF: not reflected
      Query q = Classified(UdpQuery(s, Payload(40)));
      const Bytes answer = Payload(answer_len, 3);
      ExpectIpv6Reply(Finish(q, answer, {mode}), 14, answer);
    }
  }
}

TEST(FinishUdpReplyTest, OffloadLeavesPseudoHeaderSums) {
  const Bytes answer = Payload(90);
  Query q = Classified(UdpQuery(Udp4Spec(), Payload(40)));
  Bytes r = Finish(q, answer, {ChecksumMode::kOffload});
  EXPECT_EQ(Get16(r, 24), 0) << "IPv4 header checksum left to the NIC";
  // The NIC adds the datagram to the stored (uncomplemented) pseudo-header sum.
  const uint16_t pseudo4 = static_cast<uint16_t>(
      ~RefChecksum(Ipv4PseudoHeader(ToBytes(kOurIp4), ToBytes(kClientIp4), 17, 98)));
  EXPECT_EQ(Get16(r, 40), pseudo4);

  Query q6 = Classified(UdpQuery(Udp6Spec(), Payload(40)));
  r = Finish(q6, answer, {ChecksumMode::kOffload});
  const uint16_t pseudo6 = static_cast<uint16_t>(
      ~RefChecksum(Ipv6PseudoHeader(ToBytes(kOurIp6), ToBytes(kClientIp6), 17, 98)));
  EXPECT_EQ(Get16(r, 60), pseudo6);
}

TEST(FinishUdpReplyTest, HopLimitOption) {
  Query q = Classified(UdpQuery(Udp6Spec(), Payload(40)));
  ReplyOptions options;
  options.hop_limit = 255;
  EXPECT_EQ(Finish(q, Payload(20), options)[21], 255);
}

TEST(FinishUdpReplyTest, AnswerTooLongForLengthFields) {
  Query q = Classified(UdpQuery(Udp4Spec(), Payload(40)));
  EXPECT_EQ(FinishUdpReply(q.buf.data(), q.info, 65535 - 28, {}), 0);  // frame length > 65535
  const Bytes before = q.buf;
  EXPECT_EQ(FinishUdpReply(q.buf.data(), q.info, 65535 - 8, {}), 0);
  EXPECT_EQ(q.buf, before) << "frame untouched on failure";
}

TEST(ArpReplyTest, ReplyFromOurMac) {
  for (bool vlan : {false, true}) {
    Bytes frame = ArpFrame(1, kClientMac, kClientIp4, MacAddress{}, kOurIp4, vlan);
    frame.resize(60, 0);  // padded on the wire
    const FrameInfo info = Classify(frame.data(), frame.size(), OurAddresses());
    ASSERT_EQ(info.kind, FrameKind::kArpRequestForUs);
    const uint16_t len = BuildArpReply(frame.data(), info, OurAddresses());
    const size_t a = vlan ? 18 : 14;
    EXPECT_EQ(len, a + 28);
    EXPECT_EQ(Slice(frame, 0, 6), ToBytes(kClientMac));
    EXPECT_EQ(Slice(frame, 6, 6), ToBytes(kOurMac));
    EXPECT_EQ(Get16(frame, a - 2), 0x0806);
    EXPECT_EQ(Slice(frame, a, 6), (Bytes{0x00, 0x01, 0x08, 0x00, 6, 4}));
    EXPECT_EQ(Get16(frame, a + 6), 2) << "reply";
    EXPECT_EQ(Slice(frame, a + 8, 6), ToBytes(kOurMac));
    EXPECT_EQ(Slice(frame, a + 14, 4), ToBytes(kOurIp4));
    EXPECT_EQ(Slice(frame, a + 18, 6), ToBytes(kClientMac));
    EXPECT_EQ(Slice(frame, a + 24, 4), ToBytes(kClientIp4));
    // The client sees a reply, not a request for us.
    EXPECT_EQ(Classify(frame.data(), len, OurAddresses()).reason, Reason::kArpNotForUs);
  }
}

TEST(NeighborAdvertTest, SolicitedAdvertWithTargetLinkAddress) {
  for (bool vlan : {false, true}) {
    for (bool with_slla : {false, true}) {
      Bytes frame = NeighborSolicit(kOurIp6, with_slla, vlan);
      const FrameInfo info = Classify(frame.data(), frame.size(), OurAddresses());
      ASSERT_EQ(info.kind, FrameKind::kNeighborSolicitForUs);
      frame.resize(kRoom);
      const uint16_t len = BuildNeighborAdvert(frame.data(), kRoom, info, OurAddresses());
      const size_t l3 = vlan ? 18 : 14;
      const size_t l4 = l3 + 40;
      ASSERT_EQ(len, l4 + 32);
      frame.resize(len);
      EXPECT_EQ(Slice(frame, 0, 6), ToBytes(kClientMac));
      EXPECT_EQ(Slice(frame, 6, 6), ToBytes(kOurMac));
      EXPECT_EQ(Get16(frame, l3 - 2), 0x86dd);
      if (vlan) {
        EXPECT_EQ(Get16(frame, 14), IpSpec{}.vlan_tci);
      }
      EXPECT_EQ(Get16(frame, l3), 0x6000);
      EXPECT_EQ(Get16(frame, l3 + 4), 32);
      EXPECT_EQ(frame[l3 + 6], 58);
      EXPECT_EQ(frame[l3 + 7], 255);
      EXPECT_EQ(Slice(frame, l3 + 8, 16), ToBytes(kOurIp6));
      EXPECT_EQ(Slice(frame, l3 + 24, 16), ToBytes(kClientIp6));
      EXPECT_EQ(frame[l4], 136);
      EXPECT_EQ(frame[l4 + 1], 0);
      EXPECT_EQ(Slice(frame, l4 + 4, 4), (Bytes{0x60, 0, 0, 0})) << "S and O, not R";
      EXPECT_EQ(Slice(frame, l4 + 8, 16), ToBytes(kOurIp6));
      EXPECT_EQ(Slice(frame, l4 + 24, 8), Cat({{2, 1}, ToBytes(kOurMac)}));
      const Bytes icmp = Slice(frame, l4, 32);
      EXPECT_EQ(
          RefChecksum(Cat({Ipv6PseudoHeader(ToBytes(kOurIp6), ToBytes(kClientIp6), 58, 32), icmp})),
          0);
    }
  }
}

TEST(NeighborAdvertTest, NoRoom) {
  Bytes frame = NeighborSolicit(kOurIp6, /*with_slla=*/false);
  const FrameInfo info = Classify(frame.data(), frame.size(), OurAddresses());
  ASSERT_EQ(info.kind, FrameKind::kNeighborSolicitForUs);
  EXPECT_EQ(
      BuildNeighborAdvert(frame.data(), static_cast<uint16_t>(frame.size()), info, OurAddresses()),
      0);
}

}  // namespace
}  // namespace warpdns::fastpath::net
