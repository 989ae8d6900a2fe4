#include "fastpath/table/query_key.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fastpath/wire/constants.h"
#include "fastpath/wire/message.h"
#include "fastpath/wire/name.h"

namespace warpdns::fastpath {
namespace {

using Bytes = std::vector<uint8_t>;

void Put16(Bytes* b, uint16_t v) {
  b->push_back(static_cast<uint8_t>(v >> 8));
  b->push_back(static_cast<uint8_t>(v));
}

Bytes NameBytes(std::string_view text) {
  wire::Name n;
  EXPECT_TRUE(wire::Name::FromText(text, &n)) << text;
  return Bytes(n.data(), n.data() + n.size());
}

// A query built field by field, so each test changes exactly one thing.
struct Query {
  uint16_t id = 0x1234;
  uint16_t flags = wire::flag::kRd;
  uint16_t qdcount = 1;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  std::optional<uint16_t> arcount;  // default: 1 with EDNS, else 0
  Bytes qname = NameBytes("www.example.org");
  uint16_t qtype = 1;
  uint16_t qclass = 1;
  bool edns = true;
  Bytes opt_owner = {0};
  uint16_t opt_type = 41;
  uint16_t udp_size = 1232;
  uint8_t ext_rcode = 0;
  uint8_t version = 0;
  uint16_t edns_flags = 0;
  Bytes options;                    // raw option TLVs
  std::optional<uint16_t> rdlen;    // default: options.size()
  Bytes trailing;

  Bytes Wire() const {
    Bytes b;
    Put16(&b, id);
    Put16(&b, flags);
    Put16(&b, qdcount);
    Put16(&b, ancount);
    Put16(&b, nscount);
    Put16(&b, arcount.value_or(edns ? 1 : 0));
    b.insert(b.end(), qname.begin(), qname.end());
    Put16(&b, qtype);
    Put16(&b, qclass);
    if (edns) {
      b.insert(b.end(), opt_owner.begin(), opt_owner.end());
      Put16(&b, opt_type);
      Put16(&b, udp_size);
      b.push_back(ext_rcode);
      b.push_back(version);
      Put16(&b, edns_flags);
      Put16(&b, rdlen.value_or(static_cast<uint16_t>(options.size())));
      b.insert(b.end(), options.begin(), options.end());
    }
    b.insert(b.end(), trailing.begin(), trailing.end());
    return b;
  }
};

Bytes Cookie() { return {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}; }

// The key's used octets, or nullopt when MakeQueryKey rejects the packet.
std::optional<std::string> KeyOf(const Bytes& pkt, uint16_t port = 53) {
  QueryKey key;
  if (!MakeQueryKey(pkt.data(), pkt.size(), port, &key)) return std::nullopt;
  EXPECT_LE(key.len, QueryKey::kMaxLen);
  // Equal octets must hash equal: recompute through a second key.
  QueryKey again;
  EXPECT_TRUE(MakeQueryKey(pkt.data(), pkt.size(), port, &again));
  EXPECT_EQ(key.hash, again.hash);
  return std::string(reinterpret_cast<const char*>(key.bytes), key.len);
}

uint64_t HashOf(const Bytes& pkt, uint16_t port = 53) {
  QueryKey key;
  EXPECT_TRUE(MakeQueryKey(pkt.data(), pkt.size(), port, &key));
  return key.hash;
}

TEST(QueryKeyTest, LayoutOfAPlainQuery) {
  Query q;
  q.edns = false;
  const std::optional<std::string> key = KeyOf(q.Wire(), 5353);
  ASSERT_TRUE(key.has_value());
  std::string want = {0x14, static_cast<char>(0xe9), 0x01, 0x00};
  const Bytes name = NameBytes("www.example.org");
  want.append(name.begin(), name.end());
  want += std::string{0, 1, 0, 1, 0};
  EXPECT_EQ(*key, want);
}

TEST(QueryKeyTest, LayoutWithEdns) {
  Query q;
  q.udp_size = 4096;
  q.edns_flags = wire::kEdnsDoBit;
  const std::optional<std::string> key = KeyOf(q.Wire());
  ASSERT_TRUE(key.has_value());
  // The tail: EDNS marker, UDP size, then ext rcode, version and flags.
  EXPECT_EQ(key->substr(key->size() - 7),
            (std::string{1, 0x10, 0, 0, 0, static_cast<char>(0x80), 0}));
}

TEST(QueryKeyTest, RootQueryOfMinimumLength) {
  Query q;
  q.edns = false;
  q.qname = {0};
  ASSERT_EQ(q.Wire().size(), 17u);
  EXPECT_TRUE(KeyOf(q.Wire()).has_value());
}

TEST(QueryKeyTest, IdDoesNotMatter) {
  Query a, b;
  b.id = 0xbeef;
  EXPECT_EQ(KeyOf(a.Wire()), KeyOf(b.Wire()));
  EXPECT_EQ(HashOf(a.Wire()), HashOf(b.Wire()));
}

TEST(QueryKeyTest, EdnsOptionsDoNotMatter) {
  Query plain, cookie, two;
  cookie.options = Cookie();
  two.options = Cookie();
  two.options.insert(two.options.end(), {0, 12, 0, 3, 0, 0, 0});  // padding
  EXPECT_EQ(KeyOf(plain.Wire()), KeyOf(cookie.Wire()));
  EXPECT_EQ(KeyOf(plain.Wire()), KeyOf(two.Wire()));
  EXPECT_EQ(HashOf(plain.Wire()), HashOf(cookie.Wire()));
}

// The same through the wire library's writer, as a resolver's query looks.
TEST(QueryKeyTest, WrittenQueriesDifferingInIdAndCookieShareAKey) {
  wire::Message m;
  m.header.id = 1;
  m.header.SetFlag(wire::flag::kRd, true);
  wire::Question question;
  ASSERT_TRUE(wire::Name::FromText("Www.Example.Org", &question.name));
  question.type = 28;
  m.question.push_back(question);
  m.edns.present = true;
  m.edns.udp_size = 1232;
  m.edns.flags = wire::kEdnsDoBit;
  Bytes a, b;
  ASSERT_GT(wire::WriteMessage(m, 65535, &a), 0u);
  m.header.id = 0xfffe;
  m.edns.options = Cookie();
  ASSERT_GT(wire::WriteMessage(m, 65535, &b), 0u);
  ASSERT_NE(a, b);
  ASSERT_TRUE(KeyOf(a).has_value());
  EXPECT_EQ(KeyOf(a), KeyOf(b));
}

// Everything a reply can depend on splits the key.
TEST(QueryKeyTest, DifferentKeys) {
  const Query base;
  std::vector<std::pair<std::string, Query>> variants;
  auto add = [&](std::string what, auto change) {
    Query q = base;
    change(q);
    variants.emplace_back(std::move(what), q);
  };
  add("qname case", [](Query& q) { q.qname = NameBytes("WWW.example.org"); });
  add("qname", [](Query& q) { q.qname = NameBytes("ww.example.org"); });
  add("qtype", [](Query& q) { q.qtype = 28; });
  add("qclass", [](Query& q) { q.qclass = 3; });
  add("RD clear", [](Query& q) { q.flags = 0; });
  add("CD", [](Query& q) { q.flags |= wire::flag::kCd; });
  add("AD", [](Query& q) { q.flags |= wire::flag::kAd; });
  add("no EDNS", [](Query& q) { q.edns = false; });
  add("UDP size", [](Query& q) { q.udp_size = 4096; });
  add("UDP size 512", [](Query& q) { q.udp_size = 512; });
  add("DO", [](Query& q) { q.edns_flags = wire::kEdnsDoBit; });
  add("EDNS Z bit", [](Query& q) { q.edns_flags = 0x0001; });
  add("ext rcode", [](Query& q) { q.ext_rcode = 1; });

  const std::optional<std::string> base_key = KeyOf(base.Wire());
  ASSERT_TRUE(base_key.has_value());
  std::vector<std::string> keys = {*base_key};
  for (const auto& [what, q] : variants) {
    const std::optional<std::string> key = KeyOf(q.Wire());
    ASSERT_TRUE(key.has_value()) << what;
    for (const std::string& other : keys) EXPECT_NE(*key, other) << what;
    EXPECT_NE(HashOf(q.Wire()), HashOf(base.Wire())) << what;
    keys.push_back(*key);
  }
  EXPECT_NE(KeyOf(base.Wire(), 53), KeyOf(base.Wire(), 5353)) << "dst port";
  EXPECT_NE(HashOf(base.Wire(), 53), HashOf(base.Wire(), 5353)) << "dst port";
}

TEST(QueryKeyTest, LongestNameAccepted) {
  Query q;
  q.qname.clear();
  for (int len : {63, 63, 63, 61}) {
    q.qname.push_back(static_cast<uint8_t>(len));
    q.qname.insert(q.qname.end(), len, 'a');
  }
  q.qname.push_back(0);
  ASSERT_EQ(q.qname.size(), 255u);
  const std::optional<std::string> key = KeyOf(q.Wire());
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->size(), QueryKey::kMaxLen) << "the largest key fills the buffer exactly";
}

struct Rejected {
  const char* what;
  void (*change)(Query&);
};

class QueryKeyRejectTest : public ::testing::TestWithParam<Rejected> {};

TEST_P(QueryKeyRejectTest, Rejected) {
  Query q;
  GetParam().change(q);
  EXPECT_FALSE(KeyOf(q.Wire()).has_value()) << GetParam().what;
}

Bytes Label(int len) {
  Bytes b = {static_cast<uint8_t>(len)};
  b.insert(b.end(), len, 'x');
  return b;
}

const Rejected kRejected[] = {
    {"QR", [](Query& q) { q.flags |= wire::flag::kQr; }},
    {"opcode NOTIFY", [](Query& q) { q.flags |= 4 << 11; }},
    {"opcode IQUERY", [](Query& q) { q.flags |= 1 << 11; }},
    {"qdcount 0", [](Query& q) { q.qdcount = 0; }},
    {"qdcount 2",
     [](Query& q) {
       q.qdcount = 2;
       q.edns = false;
       q.trailing = NameBytes("example.org");
       q.trailing.insert(q.trailing.end(), {0, 1, 0, 1});
     }},
    {"ancount 1", [](Query& q) { q.ancount = 1; }},
    {"nscount 1", [](Query& q) { q.nscount = 1; }},
    {"arcount 2", [](Query& q) { q.arcount = 2; }},
    {"compressed qname", [](Query& q) { q.qname = {3, 'w', 'w', 'w', 0xc0, 0x0c}; }},
    {"pointer as qname", [](Query& q) { q.qname = {0xc0, 0x0c}; }},
    {"extended label type", [](Query& q) { q.qname = {0x41, 0}; }},
    {"label of 64",
     [](Query& q) {
       q.qname = Label(64);
       q.qname.push_back(0);
     }},
    {"name of 256",
     [](Query& q) {
       q.qname.clear();
       for (int len : {63, 63, 63, 62}) {
         const Bytes l = Label(len);
         q.qname.insert(q.qname.end(), l.begin(), l.end());
       }
       q.qname.push_back(0);
     }},
    {"OPT owner not root", [](Query& q) { q.opt_owner = {1, 'a', 0}; }},
    {"additional not OPT", [](Query& q) { q.opt_type = 1; }},
    {"OPT rdlen past the end", [](Query& q) { q.rdlen = 12; }},
    {"OPT rdlen short of the end",
     [](Query& q) {
       q.options = Cookie();
       q.rdlen = 4;
     }},
    {"option longer than the rdata",
     [](Query& q) { q.options = {0, 10, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8}; }},
    {"option header cut", [](Query& q) { q.options = {0, 10, 0}; }},
    {"EDNS version 1", [](Query& q) { q.version = 1; }},
    {"trailing octet with EDNS", [](Query& q) { q.trailing = {0}; }},
    {"trailing octet without EDNS",
     [](Query& q) {
       q.edns = false;
       q.trailing = {0};
     }},
    {"OPT record cut",
     [](Query& q) {
       q.edns = false;
       q.arcount = 1;
       q.trailing = {0, 0, 41, 4, 0xd0, 0, 0, 0, 0};  // 9 of its 11 octets
     }},
};

INSTANTIATE_TEST_SUITE_P(Shapes, QueryKeyRejectTest, ::testing::ValuesIn(kRejected),
                         [](const ::testing::TestParamInfo<Rejected>& info) {
                           std::string name;
                           for (const char* c = info.param.what; *c != '\0'; ++c) {
                             name += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
                           }
                           return name;
                         });

TEST(QueryKeyTest, TruncatedPacketsRejected) {
  // Every proper prefix of a valid query is rejected, with or without EDNS.
  for (bool edns : {false, true}) {
    Query q;
    q.edns = edns;
    q.options = Cookie();
    const Bytes full = q.Wire();
    ASSERT_TRUE(KeyOf(full).has_value());
    for (size_t len = 0; len < full.size(); ++len) {
      const Bytes prefix(full.begin(), full.begin() + len);
      EXPECT_FALSE(KeyOf(prefix).has_value()) << "edns " << edns << " len " << len;
    }
  }
}

TEST(QueryKeyTest, QuestionCutInsideQtype) {
  Query q;
  q.edns = false;
  Bytes pkt = q.Wire();
  pkt.resize(pkt.size() - 3);  // name complete, one octet of qtype
  EXPECT_FALSE(KeyOf(pkt).has_value());
}

}  // namespace
}  // namespace warpdns::fastpath
