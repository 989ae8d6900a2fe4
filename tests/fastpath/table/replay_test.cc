// BuildReplay/ReplayInto: the fast path's aged and shuffled answers are the
// memoized reply with every TTL and the order of each A/AAAA and MX run
// changed, and nothing else.
#include "fastpath/table/replay.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "fastpath/wire/message.h"

namespace warpdns::fastpath {
namespace {

namespace wire = ::warpdns::fastpath::wire;
using Bytes = std::vector<uint8_t>;
constexpr int64_t kSecond = 1'000'000'000;

wire::Name N(const std::string& text) {
  wire::Name n;
  EXPECT_TRUE(wire::Name::FromText(text, &n));
  return n;
}

wire::Rr A(const std::string& owner, uint8_t last, uint32_t ttl) {
  return {N(owner), wire::type::kA, wire::qclass::kIn, ttl, {10, 0, 0, last}};
}

wire::Rr Mx(const std::string& owner, uint16_t pref, const std::string& host, uint32_t ttl) {
  wire::Name h = N(host);
  Bytes rdata = {static_cast<uint8_t>(pref >> 8), static_cast<uint8_t>(pref)};
  rdata.insert(rdata.end(), h.data(), h.data() + h.size());
  return {N(owner), wire::type::kMx, wire::qclass::kIn, ttl, rdata};
}

Bytes Pack(const wire::Message& m) {
  Bytes out;
  EXPECT_GT(wire::WriteMessage(m, 65535, &out), 0u);
  return out;
}

wire::Message Reply(const std::string& qname, uint16_t qtype) {
  wire::Message m;
  m.header.id = 0x1234;
  m.header.SetFlag(wire::flag::kQr, true);
  m.question.push_back({N(qname), qtype, wire::qclass::kIn});
  return m;
}

// Replays `reply` with `meta` and parses the result.
wire::Message Replayed(const Bytes& reply, const Bytes& meta, int64_t now, uint64_t* random) {
  Bytes out(reply.size(), 0xee);
  out[0] = reply[0];
  out[1] = reply[1];
  EXPECT_TRUE(ReplayInto(meta.data(), reply.data() + 2, reply.size() - 2, now, random,
                         out.data()));
  wire::Message m;
  EXPECT_EQ(wire::ParseMessage(out.data(), out.size(), &m), wire::ParseError::kOk);
  return m;
}

std::vector<uint8_t> LastOctets(const std::vector<wire::Rr>& rrs) {
  std::vector<uint8_t> out;
  for (const wire::Rr& rr : rrs) out.push_back(rr.rdata.back());
  return out;
}

TEST(ReplayTest, AgingSetsEveryTtlToWhatIsLeft) {
  wire::Message m = Reply("www.example.org.", wire::type::kA);
  m.answer = {A("www.example.org.", 1, 30)};
  m.authority = {{N("example.org."), wire::type::kNs, wire::qclass::kIn, 30,
                  [] { wire::Name n = N("ns1.example.org."); return Bytes(n.data(), n.data() + n.size()); }()}};
  m.additional = {A("ns1.example.org.", 9, 30)};
  m.edns.present = true;
  m.edns.udp_size = 1232;
  const Bytes reply = Pack(m);
  ReplaySpec spec;
  spec.aging = true;
  spec.stored_ns = 100 * kSecond;
  spec.ttl = 30;
  spec.fresh_until_ns = spec.stored_ns + 30 * kSecond;
  Bytes meta;
  ASSERT_TRUE(BuildReplay(reply.data(), reply.size(), spec, &meta));
  uint64_t random = 1;
  // CoreDNS's item.ttl: whole seconds elapsed.
  for (auto [elapsed_ms, want] : {std::pair{0, 30}, {999, 30}, {1000, 29}, {29999, 1}}) {
    const wire::Message got = Replayed(reply, meta, spec.stored_ns + elapsed_ms * 1'000'000LL, &random);
    ASSERT_EQ(got.answer.size(), 1u);
    EXPECT_EQ(got.answer[0].ttl, static_cast<uint32_t>(want)) << elapsed_ms;
    EXPECT_EQ(got.authority[0].ttl, static_cast<uint32_t>(want));
    EXPECT_EQ(got.additional[0].ttl, static_cast<uint32_t>(want));
    EXPECT_TRUE(got.edns.present) << "the OPT record is not a TTL";
    EXPECT_EQ(got.edns.udp_size, 1232);
  }
  // Expired: no answer, the slow path decides.
  Bytes out(reply.size());
  EXPECT_FALSE(ReplayInto(meta.data(), reply.data() + 2, reply.size() - 2,
                          spec.fresh_until_ns, &random, out.data()));
}

TEST(ReplayTest, KeepTtlSendsTheStoredTtl) {
  wire::Message m = Reply("www.example.org.", wire::type::kA);
  m.answer = {A("www.example.org.", 1, 300)};
  const Bytes reply = Pack(m);
  ReplaySpec spec{.aging = true, .keepttl = true, .stored_ns = 0,
                  .fresh_until_ns = 300 * kSecond, .ttl = 300};
  Bytes meta;
  ASSERT_TRUE(BuildReplay(reply.data(), reply.size(), spec, &meta));
  uint64_t random = 1;
  EXPECT_EQ(Replayed(reply, meta, 200 * kSecond, &random).answer[0].ttl, 300u);
}

TEST(ReplayTest, ShufflesTheAddressAndMxRunsAsCoreDns) {
  wire::Message m = Reply("www.example.org.", wire::type::kA);
  // CoreDNS's order after round_robin: CNAMEs, the rest, addresses, MX.
  m.answer = {A("www.example.org.", 1, 60), A("www.example.org.", 2, 60),
              A("www.example.org.", 3, 60), A("www.example.org.", 4, 60)};
  // Targets compressed against the question, outside the run; records of
  // different lengths.
  m.additional = {Mx("www.example.org.", 10, "a.example.org.", 60),
                  Mx("www.example.org.", 20, "bb.example.org.", 60),
                  Mx("www.example.org.", 30, "ccc.example.org.", 60)};
  const Bytes reply = Pack(m);
  ReplaySpec spec{.aging = true, .stored_ns = 0, .fresh_until_ns = 60 * kSecond, .ttl = 60,
                  .shuffle = true};
  Bytes meta;
  ASSERT_TRUE(BuildReplay(reply.data(), reply.size(), spec, &meta));
  uint64_t random = 0x1234567;
  std::set<std::vector<uint8_t>> address_orders;
  std::set<std::vector<uint16_t>> mx_orders;
  for (int i = 0; i < 2000; ++i) {
    const wire::Message got = Replayed(reply, meta, 5 * kSecond, &random);
    std::vector<uint8_t> addresses = LastOctets(got.answer);
    address_orders.insert(addresses);
    std::sort(addresses.begin(), addresses.end());
    ASSERT_EQ(addresses, (std::vector<uint8_t>{1, 2, 3, 4}));
    // Each MX record kept its RDATA whole (the target parses and matches
    // its preference) and its aged TTL at its new place.
    ASSERT_EQ(got.additional.size(), 3u);
    std::vector<uint16_t> prefs;
    for (const wire::Rr& rr : got.additional) {
      const uint16_t pref = static_cast<uint16_t>(rr.rdata[0] << 8 | rr.rdata[1]);
      const std::string target = pref == 10 ? "a" : pref == 20 ? "bb" : "ccc";
      wire::Name name;
      ASSERT_TRUE(wire::Name::FromWire(rr.rdata.data() + 2, rr.rdata.size() - 2, &name));
      EXPECT_TRUE(name.Equals(N(target + ".example.org."))) << pref;
      EXPECT_EQ(rr.ttl, 55u);
      prefs.push_back(pref);
    }
    mx_orders.insert(prefs);
    for (const wire::Rr& rr : got.answer) EXPECT_EQ(rr.ttl, 55u);
  }
  // A shuffle, not a rotation: every order of both runs comes up.
  EXPECT_EQ(address_orders.size(), 24u);
  EXPECT_EQ(mx_orders.size(), 6u);
}

TEST(ReplayTest, WithoutAgingOnlyTheOrderChanges) {
  wire::Message m = Reply("www.example.org.", wire::type::kA);
  m.answer = {A("www.example.org.", 1, 60), A("www.example.org.", 2, 70)};
  const Bytes reply = Pack(m);
  ReplaySpec spec{.shuffle = true};
  Bytes meta;
  ASSERT_TRUE(BuildReplay(reply.data(), reply.size(), spec, &meta));
  uint64_t random = 7;
  std::set<std::vector<uint8_t>> orders;
  for (int i = 0; i < 64; ++i) {
    const wire::Message got = Replayed(reply, meta, INT64_MAX - 1, &random);
    orders.insert(LastOctets(got.answer));
    // Each record keeps its own TTL.
    for (const wire::Rr& rr : got.answer) EXPECT_EQ(rr.ttl, rr.rdata.back() == 1 ? 60u : 70u);
  }
  EXPECT_EQ(orders.size(), 2u);
}

TEST(ReplayTest, RefusesWhatAShuffleWouldBreak) {
  // The additional A record's owner is compressed against an MX target in
  // the run: moving the MX records would change that name.
  wire::Message m = Reply("example.org.", wire::type::kMx);
  m.answer = {Mx("example.org.", 10, "mx1.example.org.", 60),
              Mx("example.org.", 20, "mx2.example.org.", 60)};
  m.additional = {A("mx1.example.org.", 1, 60)};
  const Bytes reply = Pack(m);
  Bytes meta;
  EXPECT_FALSE(BuildReplay(reply.data(), reply.size(), ReplaySpec{.shuffle = true}, &meta));
  // Without a shuffle the same reply only ages.
  EXPECT_TRUE(BuildReplay(reply.data(), reply.size(),
                          ReplaySpec{.aging = true, .fresh_until_ns = 1, .ttl = 60}, &meta));
  // Addresses that are not contiguous were not ordered by round_robin.
  wire::Message split = Reply("www.example.org.", wire::type::kA);
  split.answer = {A("www.example.org.", 1, 60),
                  {N("www.example.org."), wire::type::kTxt, wire::qclass::kIn, 60, {1, 'x'}},
                  A("www.example.org.", 2, 60)};
  const Bytes split_reply = Pack(split);
  EXPECT_FALSE(
      BuildReplay(split_reply.data(), split_reply.size(), ReplaySpec{.shuffle = true}, &meta));
  // Malformed octets.
  Bytes cut(reply.begin(), reply.end() - 3);
  EXPECT_FALSE(BuildReplay(cut.data(), cut.size(), ReplaySpec{.aging = true}, &meta));
}

TEST(ReplayTest, OnlyNoErrorRepliesAreShuffled) {
  wire::Message m = Reply("www.example.org.", wire::type::kA);
  m.header.set_rcode(wire::rcode::kNxDomain);
  m.additional = {A("x.example.org.", 1, 60), A("x.example.org.", 2, 60)};
  const Bytes reply = Pack(m);
  Bytes meta;
  ASSERT_TRUE(BuildReplay(reply.data(), reply.size(), ReplaySpec{.shuffle = true}, &meta));
  uint64_t random = 1;
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(LastOctets(Replayed(reply, meta, 0, &random).additional),
              (std::vector<uint8_t>{1, 2}));
  }
}

}  // namespace
}  // namespace warpdns::fastpath
