#include "fastpath/wire/message.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fastpath/wire/constants.h"
#include "fastpath/wire/name.h"

namespace warpdns::fastpath::wire {
namespace {

using Bytes = std::vector<uint8_t>;

Name N(std::string_view text) {
  Name n;
  EXPECT_TRUE(Name::FromText(text, &n)) << text;
  return n;
}

Bytes NameBytes(std::string_view text) {
  Name n = N(text);
  return Bytes(n.data(), n.data() + n.size());
}

Bytes Cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Hand-built packets: every octet is explicit, so malformed input is easy.
class Packet {
 public:
  Packet& Header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns,
                 uint16_t ar) {
    return U16(id).U16(flags).U16(qd).U16(an).U16(ns).U16(ar);
  }
  Packet& Name(std::string_view text) { return Raw(NameBytes(text)); }
  Packet& Label(std::string_view label) {
    U8(static_cast<uint8_t>(label.size()));
    bytes.insert(bytes.end(), label.begin(), label.end());
    return *this;
  }
  Packet& Ptr(size_t off) { return U16(static_cast<uint16_t>(0xc000 | off)); }
  Packet& U8(uint8_t v) {
    bytes.push_back(v);
    return *this;
  }
  Packet& U16(uint16_t v) { return U8(v >> 8).U8(v & 0xff); }
  Packet& U32(uint32_t v) { return U16(v >> 16).U16(v & 0xffff); }
  Packet& Raw(const Bytes& b) {
    bytes.insert(bytes.end(), b.begin(), b.end());
    return *this;
  }
  // type, class, ttl (after the owner name has been written).
  Packet& RrHead(uint16_t type, uint16_t rclass, uint32_t ttl) {
    return U16(type).U16(rclass).U32(ttl);
  }
  // A complete record with an uncompressed owner and literal RDATA.
  Packet& Rr(std::string_view owner, uint16_t type, uint32_t ttl, const Bytes& rdata,
             uint16_t rclass = qclass::kIn) {
    Name(owner).RrHead(type, rclass, ttl).U16(static_cast<uint16_t>(rdata.size()));
    return Raw(rdata);
  }
  // OPT with owner root. `ttl` carries ext rcode, version and flags.
  Packet& Opt(uint16_t udp, uint32_t ttl, const Bytes& options) {
    return U8(0).RrHead(type::kOpt, udp, ttl).U16(static_cast<uint16_t>(options.size()))
        .Raw(options);
  }
  size_t size() const { return bytes.size(); }
  const uint8_t* data() const { return bytes.data(); }

  Bytes bytes;
};

constexpr uint16_t kRdFlag = flag::kRd;

// Typical stub query: www.example.org A, EDNS 1232 with DO and a client
// cookie.
Packet TypicalQuery() {
  Packet p;
  p.Header(0xbeef, kRdFlag, 1, 0, 0, 1).Name("www.example.org").U16(type::kA).U16(qclass::kIn);
  p.Opt(1232, kEdnsDoBit, {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});
  return p;
}

Rr MakeRr(std::string_view owner, uint16_t type, uint32_t ttl, Bytes rdata) {
  Rr rr;
  rr.name = N(owner);
  rr.type = type;
  rr.ttl = ttl;
  rr.rdata = std::move(rdata);
  return rr;
}

Rr A(std::string_view owner, uint8_t last) { return MakeRr(owner, type::kA, 300, {192, 0, 2, last}); }

Bytes Txt(size_t len, char fill = 'x') {
  Bytes b = {static_cast<uint8_t>(len)};
  b.insert(b.end(), len, static_cast<uint8_t>(fill));
  return b;
}

// The records of a written message, located by walking the wire.
struct WireRr {
  uint16_t type;
  size_t rdata_offset;
  uint16_t rdlen;
};

std::vector<WireRr> WalkRecords(const Bytes& m) {
  Header h;
  EXPECT_EQ(ReadHeader(m.data(), m.size(), &h), ParseError::kOk);
  size_t off = kHeaderSize;
  for (int i = 0; i < h.qdcount; ++i) {
    EXPECT_EQ(SkipName(m.data(), m.size(), &off), ParseError::kOk);
    off += 4;
  }
  std::vector<WireRr> out;
  for (int i = 0; i < h.ancount + h.nscount + h.arcount; ++i) {
    EXPECT_EQ(SkipName(m.data(), m.size(), &off), ParseError::kOk);
    WireRr w;
    w.type = static_cast<uint16_t>((m[off] << 8) | m[off + 1]);
    w.rdlen = static_cast<uint16_t>((m[off + 8] << 8) | m[off + 9]);
    w.rdata_offset = off + 10;
    off += 10 + w.rdlen;
    out.push_back(w);
  }
  return out;
}

void ExpectSameRrs(const std::vector<Rr>& a, const std::vector<Rr>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name.ToText(), b[i].name.ToText()) << i;
    EXPECT_EQ(a[i].type, b[i].type) << i;
    EXPECT_EQ(a[i].rclass, b[i].rclass) << i;
    EXPECT_EQ(a[i].ttl, b[i].ttl) << i;
    EXPECT_EQ(a[i].rdata, b[i].rdata) << i;
  }
}

void ExpectSameMessage(const Message& a, const Message& b) {
  EXPECT_EQ(a.header.id, b.header.id);
  EXPECT_EQ(a.header.flags, b.header.flags);
  ASSERT_EQ(a.question.size(), b.question.size());
  for (size_t i = 0; i < a.question.size(); ++i) {
    EXPECT_EQ(a.question[i].name.ToText(), b.question[i].name.ToText());
    EXPECT_EQ(a.question[i].type, b.question[i].type);
    EXPECT_EQ(a.question[i].qclass, b.question[i].qclass);
  }
  ExpectSameRrs(a.answer, b.answer);
  ExpectSameRrs(a.authority, b.authority);
  ExpectSameRrs(a.additional, b.additional);
  EXPECT_EQ(a.edns.present, b.edns.present);
  EXPECT_EQ(a.edns.udp_size, b.edns.udp_size);
  EXPECT_EQ(a.edns.ext_rcode, b.edns.ext_rcode);
  EXPECT_EQ(a.edns.version, b.edns.version);
  EXPECT_EQ(a.edns.flags, b.edns.flags);
  EXPECT_EQ(a.edns.options, b.edns.options);
}

// ---------------------------------------------------------------------------
// Constants.

TEST(Constants, TypeNames) {
  const std::pair<uint16_t, const char*> known[] = {
      {1, "A"},        {2, "NS"},      {5, "CNAME"},    {6, "SOA"},        {12, "PTR"},
      {13, "HINFO"},   {15, "MX"},     {16, "TXT"},     {28, "AAAA"},      {29, "LOC"},
      {33, "SRV"},     {35, "NAPTR"},  {39, "DNAME"},   {41, "OPT"},       {43, "DS"},
      {46, "RRSIG"},   {47, "NSEC"},   {48, "DNSKEY"},  {50, "NSEC3"},     {51, "NSEC3PARAM"},
      {52, "TLSA"},    {59, "CDS"},    {60, "CDNSKEY"}, {63, "ZONEMD"},    {64, "SVCB"},
      {65, "HTTPS"},   {99, "SPF"},    {250, "TSIG"},   {251, "IXFR"},     {252, "AXFR"},
      {255, "ANY"},    {257, "CAA"},
  };
  for (const auto& [value, text] : known) {
    EXPECT_EQ(TypeToString(value), text);
    uint16_t t = 0;
    ASSERT_TRUE(TypeFromString(text, &t)) << text;
    EXPECT_EQ(t, value);
  }
  EXPECT_EQ(TypeToString(12345), "TYPE12345");
  EXPECT_EQ(TypeToString(0), "TYPE0");
  uint16_t t = 0;
  EXPECT_TRUE(TypeFromString("aaaa", &t));
  EXPECT_EQ(t, type::kAaaa);
  EXPECT_TRUE(TypeFromString("nsec3param", &t));
  EXPECT_EQ(t, type::kNsec3Param);
  EXPECT_TRUE(TypeFromString("TYPE65535", &t));
  EXPECT_EQ(t, 65535);
  EXPECT_TRUE(TypeFromString("type1", &t));
  EXPECT_EQ(t, 1);
  EXPECT_FALSE(TypeFromString("TYPE65536", &t));
  EXPECT_FALSE(TypeFromString("TYPE", &t));
  EXPECT_FALSE(TypeFromString("TYPE1x", &t));
  EXPECT_FALSE(TypeFromString("TYPE-1", &t));
  EXPECT_FALSE(TypeFromString("bogus", &t));
  EXPECT_FALSE(TypeFromString("", &t));
  for (uint32_t v = 0; v <= 0xffff; ++v) {
    uint16_t back = 0;
    ASSERT_TRUE(TypeFromString(TypeToString(static_cast<uint16_t>(v)), &back)) << v;
    ASSERT_EQ(back, v);
  }
}

TEST(Constants, ClassNames) {
  EXPECT_EQ(ClassToString(1), "IN");
  EXPECT_EQ(ClassToString(3), "CH");
  EXPECT_EQ(ClassToString(4), "HS");
  EXPECT_EQ(ClassToString(254), "NONE");
  EXPECT_EQ(ClassToString(255), "ANY");
  EXPECT_EQ(ClassToString(2), "CLASS2");
  EXPECT_EQ(ClassToString(1234), "CLASS1234");
}

TEST(Constants, RcodeNames) {
  const char* names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
                         "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"};
  for (int i = 0; i <= 10; ++i) EXPECT_EQ(RcodeToString(i), names[i]);
  EXPECT_EQ(RcodeToString(rcode::kBadVers), "BADVERS");
  EXPECT_EQ(RcodeToString(17), "BADKEY");
  EXPECT_EQ(RcodeToString(18), "BADTIME");
  EXPECT_EQ(RcodeToString(19), "BADMODE");
  EXPECT_EQ(RcodeToString(20), "BADNAME");
  EXPECT_EQ(RcodeToString(21), "BADALG");
  EXPECT_EQ(RcodeToString(22), "BADTRUNC");
  EXPECT_EQ(RcodeToString(23), "BADCOOKIE");
  EXPECT_EQ(RcodeToString(11), "RCODE11");
  EXPECT_EQ(RcodeToString(15), "RCODE15");
  EXPECT_EQ(RcodeToString(24), "RCODE24");
  EXPECT_EQ(RcodeToString(4095), "RCODE4095");
}

TEST(Constants, ParseErrorNames) {
  std::set<std::string_view> seen;
  for (int i = 0; i < static_cast<int>(ParseError::kCount); ++i) {
    std::string_view name = ParseErrorName(static_cast<ParseError>(i));
    EXPECT_FALSE(name.empty());
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(seen.insert(name).second) << name;
  }
  EXPECT_EQ(ParseErrorName(ParseError::kOk), "ok");
  EXPECT_EQ(ParseErrorName(ParseError::kPointerLoop), "pointer_loop");
  EXPECT_EQ(ParseErrorName(ParseError::kCount), "unknown");
}

// ---------------------------------------------------------------------------
// Header.

TEST(Header, ReadAndFlags) {
  Packet p;
  p.Header(0x1234, 0, 1, 2, 3, 4);
  Header h;
  ASSERT_EQ(ReadHeader(p.data(), p.size(), &h), ParseError::kOk);
  EXPECT_EQ(h.id, 0x1234);
  EXPECT_EQ(h.qdcount, 1);
  EXPECT_EQ(h.ancount, 2);
  EXPECT_EQ(h.nscount, 3);
  EXPECT_EQ(h.arcount, 4);
  EXPECT_EQ(ReadHeader(p.data(), 11, &h), ParseError::kShortHeader);
  EXPECT_EQ(ReadHeader(p.data(), 0, &h), ParseError::kShortHeader);

  Header f;
  const uint16_t flags[] = {flag::kQr, flag::kAa, flag::kTc, flag::kRd,
                            flag::kRa, flag::kZ,  flag::kAd, flag::kCd};
  for (uint16_t fl : flags) {
    f.flags = 0;
    f.SetFlag(fl, true);
    EXPECT_EQ(f.flags, fl);
    EXPECT_EQ(f.qr(), fl == flag::kQr);
    EXPECT_EQ(f.aa(), fl == flag::kAa);
    EXPECT_EQ(f.tc(), fl == flag::kTc);
    EXPECT_EQ(f.rd(), fl == flag::kRd);
    EXPECT_EQ(f.ra(), fl == flag::kRa);
    EXPECT_EQ(f.z(), fl == flag::kZ);
    EXPECT_EQ(f.ad(), fl == flag::kAd);
    EXPECT_EQ(f.cd(), fl == flag::kCd);
    f.SetFlag(fl, false);
    EXPECT_EQ(f.flags, 0);
  }
  f.set_opcode(opcode::kUpdate);
  f.set_rcode(rcode::kNxDomain);
  EXPECT_EQ(f.opcode(), 5);
  EXPECT_EQ(f.rcode(), 3);
  f.set_rcode(rcode::kBadVers);  // only the low 4 bits fit
  EXPECT_EQ(f.rcode(), 0);
  EXPECT_EQ(f.opcode(), 5);
}

TEST(Header, AllFlagsRoundTripThroughWriter) {
  const uint16_t flags[] = {flag::kQr, flag::kAa, flag::kTc, flag::kRd,
                            flag::kRa, flag::kZ,  flag::kAd, flag::kCd};
  for (int mask = 0; mask < 256; ++mask) {
    Message m;
    m.header.id = static_cast<uint16_t>(mask * 257);
    for (int b = 0; b < 8; ++b) m.header.SetFlag(flags[b], mask & (1 << b));
    m.header.set_opcode(mask % 16);
    m.header.set_rcode((mask / 16) % 16);
    m.question.push_back({N("example.org"), type::kA, qclass::kIn});
    Bytes out;
    ASSERT_GT(WriteMessage(m, 512, &out), 0u);
    Message back;
    ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
    EXPECT_EQ(back.header.flags, m.header.flags) << mask;
    EXPECT_EQ(back.header.id, m.header.id);
    EXPECT_EQ(back.header.opcode(), mask % 16);
    EXPECT_EQ(back.header.rcode(), (mask / 16) % 16);
  }
}

// ---------------------------------------------------------------------------
// ParseQuery.

TEST(ParseQuery, TypicalWithEdns) {
  Packet p = TypicalQuery();
  QueryView q;
  ASSERT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kOk);
  EXPECT_EQ(q.header.id, 0xbeef);
  EXPECT_TRUE(q.header.rd());
  EXPECT_FALSE(q.header.qr());
  EXPECT_EQ(q.qname.ToText(), "www.example.org.");
  EXPECT_EQ(q.qtype, type::kA);
  EXPECT_EQ(q.qclass, qclass::kIn);
  EXPECT_EQ(q.question_end, 12u + 17u + 4u);
  ASSERT_TRUE(q.edns.present);
  EXPECT_EQ(q.edns.udp_size, 1232);
  EXPECT_TRUE(q.edns.dnssec_ok());
  EXPECT_EQ(q.edns.version, 0);
  EXPECT_EQ(q.edns.ext_rcode, 0);
  EXPECT_EQ(q.edns.options_len, 12);
  EXPECT_EQ(q.edns.options_offset, p.size() - 12);
  EXPECT_EQ(Bytes(p.data() + q.edns.options_offset, p.data() + p.size()),
            (Bytes{0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(ParseQuery, WithoutEdnsAndCasePreserved) {
  Packet p;
  p.Header(1, 0, 1, 0, 0, 0).Name("WwW.ExAmple.ORG").U16(type::kAaaa).U16(qclass::kCh);
  QueryView q;
  q.edns.present = true;  // must be reset
  ASSERT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kOk);
  EXPECT_FALSE(q.edns.present);
  EXPECT_EQ(q.qname.ToText(), "WwW.ExAmple.ORG.");
  EXPECT_EQ(q.qtype, type::kAaaa);
  EXPECT_EQ(q.qclass, qclass::kCh);
  EXPECT_EQ(q.question_end, p.size());
}

TEST(ParseQuery, EdnsFields) {
  Packet p;
  p.Header(1, 0, 1, 0, 0, 1).U8(0).U16(type::kNs).U16(qclass::kIn);
  // ext rcode 0x12, version 1, DO plus an undefined Z bit; udp size < 512
  // is reported as sent.
  p.Opt(200, 0x12018001, {});
  QueryView q;
  ASSERT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kOk);
  EXPECT_TRUE(q.qname.IsRoot());
  ASSERT_TRUE(q.edns.present);
  EXPECT_EQ(q.edns.udp_size, 200);
  EXPECT_EQ(q.edns.ext_rcode, 0x12);
  EXPECT_EQ(q.edns.version, 1);
  EXPECT_EQ(q.edns.flags, 0x8001);
  EXPECT_TRUE(q.edns.dnssec_ok());
  EXPECT_EQ(q.edns.options_len, 0);
}

TEST(ParseQuery, SkipsOtherRecords) {
  // NOTIFY-like: SOA in the answer section with a compressed owner, an
  // unknown record and a TSIG-like record around the OPT.
  Packet p;
  p.Header(7, opcode::kNotify << 11, 1, 1, 1, 3).Name("example.org").U16(type::kSoa).U16(1);
  p.Ptr(12).RrHead(type::kSoa, 1, 60).U16(3).U8(0).U8(0).U8(0);  // length-only check
  p.Rr("x.example.org", 65280, 0, {1, 2, 3});
  p.Rr("a.b", type::kA, 1, {1, 2, 3, 4});
  p.Opt(4096, 0, {0, 12, 0, 2, 0, 0});
  p.Rr("key.example", 250, 0, Bytes(30, 0));
  QueryView q;
  ASSERT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kOk);
  EXPECT_EQ(q.header.opcode(), opcode::kNotify);
  EXPECT_EQ(q.qtype, type::kSoa);
  ASSERT_TRUE(q.edns.present);
  EXPECT_EQ(q.edns.udp_size, 4096);
}

TEST(ParseQuery, OptOutsideAdditionalIsNotEdns) {
  Packet p;
  p.Header(7, 0, 1, 1, 0, 0).Name("example.org").U16(type::kA).U16(1);
  p.Opt(4096, 0, {});
  QueryView q;
  ASSERT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kOk);
  EXPECT_FALSE(q.edns.present);
}

TEST(ParseQuery, OptOwnerMayBeACompressedRoot) {
  Packet p;
  p.Header(7, 0, 1, 0, 0, 1).Name("a").U16(type::kA).U16(1);  // root octet at 14
  p.Ptr(14).RrHead(type::kOpt, 1400, 0).U16(0);
  QueryView q;
  ASSERT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kOk);
  EXPECT_TRUE(q.edns.present);
  EXPECT_EQ(q.edns.udp_size, 1400);
}

TEST(ParseQuery, ShortHeader) {
  Packet p = TypicalQuery();
  QueryView q;
  for (size_t len = 0; len < 12; ++len) {
    EXPECT_EQ(ParseQuery(p.data(), len, &q), ParseError::kShortHeader) << len;
  }
}

TEST(ParseQuery, Qdcount) {
  for (uint16_t qd : {0, 2, 65535}) {
    Packet p;
    p.Header(1, 0, qd, 0, 0, 0).Name("a.b").U16(1).U16(1).Name("c.d").U16(1).U16(1);
    QueryView q;
    EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kBadQdcount) << qd;
  }
}

TEST(ParseQuery, TruncatedQuestion) {
  Packet p;
  p.Header(1, 0, 1, 0, 0, 0).Name("www.example.org").U16(1).U16(1);
  QueryView q;
  for (size_t len = 12; len < p.size(); ++len) {
    EXPECT_EQ(ParseQuery(p.data(), len, &q), ParseError::kTruncated) << len;
  }
  EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kOk);
}

TEST(ParseQuery, EveryPrefixFailsCleanly) {
  Packet p = TypicalQuery();
  QueryView q;
  for (size_t len = 0; len < p.size(); ++len) {
    ParseError err = ParseQuery(p.data(), len, &q);
    EXPECT_NE(err, ParseError::kOk) << len;
  }
}

TEST(ParseQuery, NameErrorsInQuestion) {
  QueryView q;
  {
    Packet p;
    p.Header(1, 0, 1, 0, 0, 0).Ptr(12).U16(1).U16(1);  // self pointer
    EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kPointerForward);
  }
  {
    Packet p;
    p.Header(1, 0, 1, 0, 0, 0).Ptr(300).U16(1).U16(1);
    EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kPointerOutOfRange);
  }
  {
    Packet p;
    p.Header(1, 0, 1, 0, 0, 0).U8(0x40).U16(1).U16(1);
    EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kBadLabelType);
  }
  {
    Packet p;
    p.Header(1, 0, 1, 0, 0, 0);
    for (int i = 0; i < 5; ++i) p.Label(std::string(60, 'a'));
    p.U8(0).U16(1).U16(1);
    EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kNameTooLong);
  }
}

TEST(ParseQuery, CompressionLoopInAnswerOwner) {
  // The question at 12 is "a"; the answer owner is "b" + pointer to itself's
  // label.
  Packet p;
  p.Header(1, 0, 1, 1, 0, 0).Name("a").U16(1).U16(1);
  size_t owner = p.size();
  p.Label("b").Ptr(owner).RrHead(type::kA, 1, 0).U16(4).U32(0);
  QueryView q;
  EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kPointerLoop);
  EXPECT_EQ(q.qname.ToText(), "a.");  // the question was parsed first
}

TEST(ParseQuery, RecordRunningPastTheEnd) {
  Packet p;
  p.Header(1, 0, 1, 1, 0, 0).Name("a").U16(1).U16(1);
  p.Name("a").RrHead(type::kA, 1, 0).U16(10).U32(0);  // says 10, has 4
  QueryView q;
  EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kTruncated);
  // Counts promising more records than present.
  Packet p2;
  p2.Header(1, 0, 1, 0, 2, 0).Name("a").U16(1).U16(1).Rr("a", type::kA, 0, {1, 2, 3, 4});
  EXPECT_EQ(ParseQuery(p2.data(), p2.size(), &q), ParseError::kTruncated);
  // A record header cut short.
  Packet p3;
  p3.Header(1, 0, 1, 0, 0, 1).Name("a").U16(1).U16(1).U8(0).U16(type::kOpt).U16(512);
  EXPECT_EQ(ParseQuery(p3.data(), p3.size(), &q), ParseError::kTruncated);
}

TEST(ParseQuery, TwoOpts) {
  Packet p;
  p.Header(1, 0, 1, 0, 0, 2).Name("a").U16(1).U16(1).Opt(1232, 0, {}).Opt(1232, 0, {});
  QueryView q;
  EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kBadOpt);
}

TEST(ParseQuery, OptOwnerNotRoot) {
  Packet p;
  p.Header(1, 0, 1, 0, 0, 1).Name("a").U16(1).U16(1);
  p.Name("a").RrHead(type::kOpt, 1232, 0).U16(0);
  QueryView q;
  EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kBadOpt);
  // Also when the owner is a pointer to a non-root name.
  Packet p2;
  p2.Header(1, 0, 1, 0, 0, 1).Name("a").U16(1).U16(1);
  p2.Ptr(12).RrHead(type::kOpt, 1232, 0).U16(0);
  EXPECT_EQ(ParseQuery(p2.data(), p2.size(), &q), ParseError::kBadOpt);
}

TEST(ParseQuery, OptOptionLengths) {
  QueryView q;
  const Bytes bad_options[] = {
      {0, 10, 0, 8, 1, 2, 3, 4},           // option longer than the RDATA
      {0, 10, 0, 0, 0, 12},                // 2 stray octets after an option
      {0, 10},                             // half an option header
      {0, 10, 0xff, 0xff, 1, 2, 3, 4, 5},  // huge length
  };
  for (const Bytes& opts : bad_options) {
    Packet p;
    p.Header(1, 0, 1, 0, 0, 1).Name("a").U16(1).U16(1).Opt(1232, 0, opts);
    EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kBadOpt);
    Message m;
    EXPECT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kBadOpt);
  }
  // Exactly filled, several options including an empty one: fine.
  Packet p;
  p.Header(1, 0, 1, 0, 0, 1).Name("a").U16(1).U16(1)
      .Opt(1232, 0, {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 12, 0, 0, 0xfd, 0xe9, 0, 1, 9});
  EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kOk);
  EXPECT_EQ(q.edns.options_len, 21);
  // An OPT whose RDATA runs past the packet is a truncation.
  Packet p2;
  p2.Header(1, 0, 1, 0, 0, 1).Name("a").U16(1).U16(1).U8(0).RrHead(type::kOpt, 512, 0).U16(8)
      .U32(0);
  EXPECT_EQ(ParseQuery(p2.data(), p2.size(), &q), ParseError::kTruncated);
}

TEST(ParseQuery, TrailingGarbageIsIgnored) {
  // miekg/dns (and so CoreDNS) answers a query with octets after its last
  // record; so do both of our parsers.
  Packet p = TypicalQuery();
  p.U8(0).U8(0);
  QueryView q;
  EXPECT_EQ(ParseQuery(p.data(), p.size(), &q), ParseError::kOk);
  EXPECT_EQ(q.header.id, 0xbeef);
  EXPECT_EQ(q.qname.ToText(), "www.example.org.");
  EXPECT_TRUE(q.edns.present);
  Message m;
  EXPECT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kOk);
  EXPECT_TRUE(m.edns.present);
  Packet p2;
  p2.Header(1, 0, 1, 0, 0, 0).Name("a").U16(1).U16(1).U8(0);
  EXPECT_EQ(ParseQuery(p2.data(), p2.size(), &q), ParseError::kOk);
  EXPECT_EQ(q.qname.ToText(), "a.");
}

// ---------------------------------------------------------------------------
// ParseMessage.

TEST(ParseMessage, QueryMatchesParseQuery) {
  Packet p = TypicalQuery();
  Message m;
  ASSERT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kOk);
  EXPECT_EQ(m.header.id, 0xbeef);
  EXPECT_EQ(m.header.arcount, 1);  // header counts as on the wire
  ASSERT_EQ(m.question.size(), 1u);
  EXPECT_EQ(m.question[0].name.ToText(), "www.example.org.");
  EXPECT_TRUE(m.additional.empty());  // the OPT moved into edns
  ASSERT_TRUE(m.edns.present);
  EXPECT_EQ(m.edns.udp_size, 1232);
  EXPECT_TRUE(m.edns.dnssec_ok());
  EXPECT_EQ(m.edns.options, (Bytes{0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(ParseMessage, EdnsRoundTripIsByteExact) {
  // Options (cookie, padding, an unknown one) and the undefined flag bits go
  // through ParseMessage -> WriteMessage untouched; a simple query is
  // reproduced octet for octet.
  Packet p;
  p.Header(0x4242, kRdFlag | flag::kAd, 1, 0, 0, 1).Name("Example.COM").U16(type::kDnskey)
      .U16(qclass::kIn);
  p.Opt(1400, 0x00007fff,
        {0, 10, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
         0, 12, 0, 3, 0, 0, 0,
         0xfd, 0xe9, 0, 0});
  Message m;
  ASSERT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kOk);
  EXPECT_EQ(m.edns.flags, 0x7fff);
  Bytes out;
  ASSERT_EQ(WriteMessage(m, 65535, &out), p.size());
  EXPECT_EQ(out, p.bytes);
}

TEST(ParseMessage, ExtendedRcode) {
  Packet p;
  p.Header(1, flag::kQr | 0x0006, 1, 0, 0, 1).Name("a").U16(1).U16(1).Opt(1232, 0x01000000, {});
  Message m;
  ASSERT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kOk);
  EXPECT_EQ(m.Rcode(), 0x16);  // 22: BADTRUNC
  EXPECT_EQ(RcodeToString(m.Rcode()), "BADTRUNC");
}

TEST(ParseMessage, DecompressesRdataNames) {
  Packet p;
  p.Header(9, flag::kQr | flag::kAa, 1, 10, 1, 0);
  p.Name("www.example.org").U16(type::kA).U16(1);  // 12: www, 16: example.org
  const size_t www = 12, example = 16;
  auto rr = [&](uint16_t type) -> Packet& { return p.Ptr(www).RrHead(type, 1, 300); };
  // CNAME web.example.org (label + pointer).
  rr(type::kCname).U16(6).Label("web").Ptr(example);
  // MX 10 mail.example.org.
  rr(type::kMx).U16(9).U16(10).Label("mail").Ptr(example);
  // NS, PTR, DNAME: pointers only.
  rr(type::kNs).U16(2).Ptr(example);
  rr(type::kPtr).U16(2).Ptr(www);
  rr(type::kDname).U16(2).Ptr(example);
  // SRV with a compressed target (not allowed by RFC 2782, but decoded).
  rr(type::kSrv).U16(8).U16(1).U16(2).U16(3).Ptr(example);
  // NAPTR: order, pref, flags "U", service "E2U+sip", regexp "", replacement.
  rr(type::kNaptr).U16(4 + 2 + 8 + 1 + 2).U16(100).U16(10).Label("U").Label("E2U+sip").U8(0)
      .Ptr(example);
  // RRSIG: 18 fixed octets, signer (compressed here), signature.
  rr(type::kRrsig).U16(18 + 2 + 3).U16(type::kA).U8(8).U8(3).U32(300).U32(2).U32(1).U16(7)
      .Ptr(example).U8(0xaa).U8(0xbb).U8(0xcc);
  // NSEC: next name compressed, bitmap.
  rr(type::kNsec).U16(2 + 3).Ptr(www).U8(0).U8(1).U8(0x40);
  // Unknown type whose RDATA looks like a pointer: kept as is.
  rr(65280).U16(2).Ptr(www);
  // Authority: SOA with both names compressed.
  p.Ptr(example).RrHead(type::kSoa, 1, 3600).U16(2 + 3 + 2 + 20).Ptr(example).Label("ns").Ptr(example)
      .U32(2024010101).U32(7200).U32(3600).U32(1209600).U32(300);

  Message m;
  ASSERT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kOk);
  ASSERT_EQ(m.answer.size(), 10u);
  ASSERT_EQ(m.authority.size(), 1u);
  for (const Rr& r : m.answer) EXPECT_EQ(r.name.ToText(), "www.example.org.");
  const Bytes ex = NameBytes("example.org");
  const Bytes u16_10 = {0, 10};
  EXPECT_EQ(m.answer[0].rdata, NameBytes("web.example.org"));
  EXPECT_EQ(m.answer[1].rdata, Cat({u16_10, NameBytes("mail.example.org")}));
  EXPECT_EQ(m.answer[2].rdata, ex);
  EXPECT_EQ(m.answer[3].rdata, NameBytes("www.example.org"));
  EXPECT_EQ(m.answer[4].rdata, ex);
  EXPECT_EQ(m.answer[5].rdata, Cat({{0, 1, 0, 2, 0, 3}, ex}));
  EXPECT_EQ(m.answer[6].rdata,
            Cat({{0, 100, 0, 10, 1, 'U', 7, 'E', '2', 'U', '+', 's', 'i', 'p', 0}, ex}));
  EXPECT_EQ(m.answer[7].rdata, Cat({{0, 1, 8, 3, 0, 0, 1, 44, 0, 0, 0, 2, 0, 0, 0, 1, 0, 7}, ex,
                                    {0xaa, 0xbb, 0xcc}}));
  EXPECT_EQ(m.answer[8].rdata, Cat({NameBytes("www.example.org"), {0, 1, 0x40}}));
  EXPECT_EQ(m.answer[9].rdata, (Bytes{0xc0, 12}));
  EXPECT_EQ(m.authority[0].rdata,
            Cat({ex, NameBytes("ns.example.org"),
                 {0x78, 0xa3, 0xf1, 0x75, 0, 0, 0x1c, 0x20, 0, 0, 0x0e, 0x10, 0, 0x12, 0x75, 0,
                  0, 0, 1, 0x2c}}));
  EXPECT_EQ(RrToText(m.authority[0]),
            "example.org.\t3600\tIN\tSOA\texample.org. ns.example.org. 2024010101 7200 3600 "
            "1209600 300");
}

TEST(ParseMessage, BadRdata) {
  struct Case {
    const char* what;
    uint16_t type;
    Bytes rdata;
  };
  const Case cases[] = {
      {"A 5 octets", type::kA, {1, 2, 3, 4, 5}},
      {"A 3 octets", type::kA, {1, 2, 3}},
      {"AAAA 4 octets", type::kAaaa, {1, 2, 3, 4}},
      {"SOA 19 trailing", type::kSoa, Cat({NameBytes("a"), NameBytes("b"), Bytes(19, 0)})},
      {"SOA 21 trailing", type::kSoa, Cat({NameBytes("a"), NameBytes("b"), Bytes(21, 0)})},
      {"SOA one name", type::kSoa, Cat({NameBytes("a"), Bytes(20, 0)})},
      {"MX 1 octet", type::kMx, {0}},
      {"MX no name", type::kMx, {0, 10}},
      {"CNAME extra octet", type::kCname, Cat({NameBytes("a.b"), {7}})},
      {"CNAME name past rdata", type::kCname, {1, 'a'}},
      {"SRV short", type::kSrv, {0, 1, 0, 2, 0}},
      {"TXT string overruns", type::kTxt, {5, 'a', 'b'}},
      {"HINFO one string", type::kHinfo, {1, 'a'}},
      {"NAPTR short", type::kNaptr, {0, 1, 0, 2, 1}},
      {"RRSIG short", type::kRrsig, Bytes(17, 0)},
      {"DS short", type::kDs, {0, 1, 8}},
  };
  for (const Case& c : cases) {
    Packet p;
    p.Header(1, flag::kQr, 0, 1, 0, 0);
    if (std::string_view(c.what) == "CNAME name past rdata") {
      // The name's root octet sits just after the RDATA.
      p.Name("x").RrHead(c.type, 1, 0).U16(2).U8(1).U8('a').U8(0);
      Message m;
      EXPECT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kBadRdata) << c.what;
      continue;
    }
    p.Rr("x", c.type, 0, c.rdata);
    Message m;
    EXPECT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kBadRdata) << c.what;
  }
}

TEST(ParseMessage, EmptyRdataIsAllowed) {
  // RFC 2136 prerequisites and deletions carry RDLENGTH 0 for any type.
  Packet p;
  p.Header(1, opcode::kUpdate << 11, 1, 0, 2, 0).Name("example.org").U16(type::kSoa).U16(1);
  p.Rr("www.example.org", type::kA, 0, {}, qclass::kAny);
  p.Rr("www.example.org", type::kMx, 0, {}, qclass::kAny);
  Message m;
  ASSERT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kOk);
  ASSERT_EQ(m.authority.size(), 2u);
  EXPECT_TRUE(m.authority[0].rdata.empty());
  EXPECT_EQ(m.authority[0].rclass, qclass::kAny);
  EXPECT_EQ(RrToText(m.authority[1]), "www.example.org.\t0\tANY\tMX\t\\# 0");
}

TEST(ParseMessage, NameErrorsInRdataPropagate) {
  Packet p;
  p.Header(1, flag::kQr, 0, 1, 0, 0);
  p.Name("x").RrHead(type::kCname, 1, 0).U16(4);
  size_t at = p.size();
  p.Label("a").Ptr(at);
  Message m;
  EXPECT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kPointerLoop);
}

TEST(ParseMessage, OptChecks) {
  Message m;
  {
    Packet p;
    p.Header(1, 0, 1, 0, 0, 2).Name("a").U16(1).U16(1).Opt(1232, 0, {}).Opt(512, 0, {});
    EXPECT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kBadOpt);
  }
  {
    Packet p;
    p.Header(1, 0, 1, 0, 0, 1).Name("a").U16(1).U16(1).Name("a").RrHead(type::kOpt, 1, 0).U16(0);
    EXPECT_EQ(ParseMessage(p.data(), p.size(), &m), ParseError::kBadOpt);
  }
}

TEST(ParseMessage, Errors) {
  Message m;
  Packet p = TypicalQuery();
  EXPECT_EQ(ParseMessage(p.data(), 11, &m), ParseError::kShortHeader);
  EXPECT_EQ(ParseMessage(p.data(), 20, &m), ParseError::kTruncated);
  // Any qdcount is fine for ParseMessage.
  Packet q;
  q.Header(1, 0, 0, 0, 0, 0);
  EXPECT_EQ(ParseMessage(q.data(), q.size(), &m), ParseError::kOk);
  Packet q2;
  q2.Header(1, 0, 2, 0, 0, 0).Name("a").U16(1).U16(1).Ptr(12).U16(28).U16(1);
  ASSERT_EQ(ParseMessage(q2.data(), q2.size(), &m), ParseError::kOk);
  ASSERT_EQ(m.question.size(), 2u);
  EXPECT_EQ(m.question[1].name.ToText(), "a.");
  EXPECT_EQ(m.question[1].type, type::kAaaa);
}

// ---------------------------------------------------------------------------
// WriteMessage.

Message SampleResponse() {
  Message m;
  m.header.id = 77;
  m.header.SetFlag(flag::kQr, true);
  m.header.SetFlag(flag::kAa, true);
  m.question.push_back({N("www.example.org"), type::kA, qclass::kIn});
  for (uint8_t i = 1; i <= 4; ++i) m.answer.push_back(A("www.example.org", i));
  m.authority.push_back(MakeRr("example.org", type::kNs, 3600, NameBytes("ns1.example.org")));
  m.authority.push_back(MakeRr("example.org", type::kNs, 3600, NameBytes("ns2.example.org")));
  m.additional.push_back(A("ns1.example.org", 53));
  m.additional.push_back(A("ns2.example.org", 54));
  m.edns.present = true;
  m.edns.udp_size = 1232;
  return m;
}

size_t UncompressedSize(const Message& m) {
  size_t n = kHeaderSize;
  for (const Question& q : m.question) n += q.name.size() + 4;
  for (const auto* s : {&m.answer, &m.authority, &m.additional}) {
    for (const Rr& r : *s) n += r.name.size() + 10 + r.rdata.size();
  }
  if (m.edns.present) n += 11 + m.edns.options.size();
  return n;
}

TEST(WriteMessage, CompressionShrinksAndReparses) {
  Message m = SampleResponse();
  Bytes out;
  bool truncated = true;
  size_t n = WriteMessage(m, 65535, &out, &truncated);
  ASSERT_EQ(n, out.size());
  EXPECT_FALSE(truncated);
  const size_t uncompressed = UncompressedSize(m);
  // Owners: 4 x (17 -> 2) + 2 x (13 -> 2) + 2 x (17 -> 2); NS rdata 2 x (17 -> 6).
  EXPECT_EQ(n, uncompressed - 4 * 15 - 2 * 11 - 2 * 15 - 2 * 11);
  Message back;
  ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
  ExpectSameMessage(m, back);
  EXPECT_EQ(back.header.ancount, 4);
  EXPECT_EQ(back.header.nscount, 2);
  EXPECT_EQ(back.header.arcount, 3);
  // Writing the re-parsed message gives the same octets.
  Bytes again;
  WriteMessage(back, 65535, &again);
  EXPECT_EQ(again, out);
}

TEST(WriteMessage, CompressionIsCaseSensitiveLikeMiekg) {
  Message m;
  m.question.push_back({N("WWW.Example.ORG"), type::kA, qclass::kIn});
  m.answer.push_back(A("www.example.org", 1));
  Bytes out;
  WriteMessage(m, 512, &out);
  // No suffix has the same spelling, so the owner is written in full.
  EXPECT_EQ(out.size(), 12u + 17 + 4 + 17 + 10 + 4);
  Message back;
  ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
  EXPECT_EQ(back.answer[0].name.ToText(), "www.example.org.");
}

TEST(WriteMessage, RdataCompressionOnlyForRfc1035Types) {
  Message m;
  m.question.push_back({N("example.org"), type::kAny, qclass::kIn});
  const Bytes ex = NameBytes("example.org");
  auto add = [&](uint16_t type, Bytes rdata) {
    m.answer.push_back(MakeRr("example.org", type, 60, std::move(rdata)));
  };
  add(type::kNs, ex);                                            // 0: compressed
  add(type::kMx, Cat({{0, 5}, NameBytes("mail.example.org")}));  // 1: compressed
  add(type::kSoa, Cat({ex, NameBytes("h.example.org"), Bytes(20, 1)}));  // 2
  add(type::kCname, NameBytes("x.example.org"));                 // 3: compressed
  add(type::kPtr, ex);                                           // 4
  add(type::kSrv, Cat({{0, 1, 0, 2, 0, 3}, ex}));                // 5: never
  add(type::kDname, ex);                                         // 6: never
  Bytes rrsig = Cat({Bytes(18, 0), NameBytes("EXAMPLE.org"), {1, 2, 3}});
  add(type::kRrsig, rrsig);                                      // 7: never, case kept
  Bytes nsec = Cat({NameBytes("A.Example.ORG"), {0, 1, 0x40}});
  add(type::kNsec, nsec);                                        // 8: never, case kept
  add(type::kNaptr, Cat({{0, 1, 0, 1, 0, 0, 0}, ex}));           // 9: never
  Bytes out;
  ASSERT_GT(WriteMessage(m, 65535, &out), 0u);
  std::vector<WireRr> rrs = WalkRecords(out);
  ASSERT_EQ(rrs.size(), 10u);
  EXPECT_EQ(rrs[0].rdlen, 2);
  EXPECT_EQ(rrs[1].rdlen, 2 + 5 + 2);
  EXPECT_EQ(rrs[2].rdlen, 2 + 4 + 20);
  EXPECT_EQ(rrs[3].rdlen, 2 + 2);
  EXPECT_EQ(rrs[4].rdlen, 2);
  auto rdata = [&](int i) {
    return Bytes(out.begin() + rrs[i].rdata_offset,
                 out.begin() + rrs[i].rdata_offset + rrs[i].rdlen);
  };
  EXPECT_EQ(rdata(5), m.answer[5].rdata);
  EXPECT_EQ(rdata(6), ex);
  EXPECT_EQ(rdata(7), rrsig);
  EXPECT_EQ(rdata(8), nsec);
  EXPECT_EQ(rdata(9), m.answer[9].rdata);
  Message back;
  ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
  ExpectSameRrs(back.answer, m.answer);
}

TEST(WriteMessage, MalformedStoredRdataIsCopied) {
  Message m;
  m.answer.push_back(MakeRr("a", type::kNs, 1, {3, 'a', 'b'}));  // not a name
  Bytes out;
  ASSERT_GT(WriteMessage(m, 512, &out), 0u);
  std::vector<WireRr> rrs = WalkRecords(out);
  ASSERT_EQ(rrs.size(), 1u);
  EXPECT_EQ(rrs[0].rdlen, 3);
}

Message BigResponse(int records) {
  Message m;
  m.header.SetFlag(flag::kQr, true);
  m.question.push_back({N("big.example.org"), type::kTxt, qclass::kIn});
  for (int i = 0; i < records; ++i) {
    m.answer.push_back(MakeRr("big.example.org", type::kTxt, 60, Txt(100, 'a' + i % 26)));
  }
  m.edns.present = true;
  m.edns.udp_size = 512;
  m.edns.options = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  return m;
}

TEST(WriteMessage, TruncatesTo512KeepingOpt) {
  Message m = BigResponse(30);
  Bytes out;
  bool truncated = false;
  size_t n = WriteMessage(m, 512, &out, &truncated);
  ASSERT_GT(n, 0u);
  EXPECT_LE(n, 512u);
  EXPECT_TRUE(truncated);
  Message back;
  ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
  EXPECT_TRUE(back.header.tc());
  ASSERT_TRUE(back.edns.present);
  EXPECT_EQ(back.edns.options, m.edns.options);
  // Header 12, question 21, OPT 23; each record 2 + 10 + 101 = 113.
  EXPECT_EQ(back.answer.size(), (512u - 12 - 21 - 23) / 113);
  EXPECT_EQ(back.header.arcount, 1);
}

TEST(WriteMessage, TcpLimitKeepsEverything) {
  Message m = BigResponse(300);
  Bytes out;
  bool truncated = true;
  size_t n = WriteMessage(m, kMaxMessageSize, &out, &truncated);
  ASSERT_GT(n, 512u);
  EXPECT_FALSE(truncated);
  Message back;
  ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
  EXPECT_FALSE(back.header.tc());
  EXPECT_EQ(back.answer.size(), 300u);
  ExpectSameRrs(back.answer, m.answer);
  // Larger limits are clamped to 65535.
  EXPECT_EQ(WriteMessage(m, 1 << 20, &out), n);
}

TEST(WriteMessage, ExactFit) {
  Message m = SampleResponse();
  Bytes out;
  size_t full = WriteMessage(m, 65535, &out);
  bool truncated = true;
  EXPECT_EQ(WriteMessage(m, full, &out, &truncated), full);
  EXPECT_FALSE(truncated);
  EXPECT_LT(WriteMessage(m, full - 1, &out, &truncated), full - 1);
  EXPECT_TRUE(truncated);
  Message back;
  ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
  EXPECT_EQ(back.additional.size(), 1u);  // the last A was dropped
  EXPECT_TRUE(back.edns.present);
}

TEST(WriteMessage, StopsAtFirstRecordThatDoesNotFit) {
  Message m;
  m.question.push_back({N("a.example"), type::kA, qclass::kIn});
  m.answer.push_back(A("a.example", 1));
  m.authority.push_back(MakeRr("example", type::kTxt, 1, Txt(255)));  // too big
  m.additional.push_back(A("a.example", 2));  // would fit on its own
  Bytes out;
  bool truncated = false;
  ASSERT_GT(WriteMessage(m, 200, &out, &truncated), 0u);
  EXPECT_TRUE(truncated);
  Message back;
  ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
  EXPECT_EQ(back.answer.size(), 1u);
  EXPECT_EQ(back.authority.size(), 0u);
  EXPECT_EQ(back.additional.size(), 0u);
  EXPECT_TRUE(back.header.tc());
  EXPECT_FALSE(back.edns.present);
}

TEST(WriteMessage, PreexistingTcRetained) {
  Message m = SampleResponse();
  m.header.SetFlag(flag::kTc, true);
  Bytes out;
  bool truncated = true;
  WriteMessage(m, 65535, &out, &truncated);
  EXPECT_FALSE(truncated);
  Header h;
  ASSERT_EQ(ReadHeader(out.data(), out.size(), &h), ParseError::kOk);
  EXPECT_TRUE(h.tc());
}

TEST(WriteMessage, NothingFits) {
  Message m = SampleResponse();
  Bytes out = {1, 2, 3};
  bool truncated = true;
  // Header 12 + question 21 + OPT 11 = 44.
  EXPECT_EQ(WriteMessage(m, 43, &out, &truncated), 0u);
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(truncated);
  EXPECT_EQ(WriteMessage(m, 11, &out), 0u);
  EXPECT_EQ(WriteMessage(m, 44, &out, &truncated), 44u);
  EXPECT_TRUE(truncated);
}

TEST(WriteMessage, ExtendedRcode) {
  Message m = SampleResponse();
  m.SetRcode(rcode::kBadVers);
  EXPECT_EQ(m.header.rcode(), 0);
  EXPECT_EQ(m.edns.ext_rcode, 1);
  EXPECT_EQ(m.Rcode(), 16);
  Bytes out;
  WriteMessage(m, 65535, &out);
  Message back;
  ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
  EXPECT_EQ(back.Rcode(), rcode::kBadVers);
  QueryView q;  // the fast-path view sees the same bits
  ASSERT_EQ(ParseQuery(out.data(), out.size(), &q), ParseError::kOk);
  EXPECT_EQ(q.edns.ext_rcode, 1);
  // Back to a small rcode clears the extended bits.
  m.SetRcode(rcode::kNxDomain);
  EXPECT_EQ(m.edns.ext_rcode, 0);
  EXPECT_EQ(m.Rcode(), 3);
  // Without OPT only the low bits reach the wire.
  Message plain;
  plain.question.push_back({N("a"), type::kA, qclass::kIn});
  plain.SetRcode(23);  // BADCOOKIE
  WriteMessage(plain, 512, &out);
  ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
  EXPECT_FALSE(back.edns.present);
  EXPECT_EQ(back.Rcode(), 23 & 0xf);
}

TEST(WriteMessage, ManyNamesDoNotOverflowTheCompressionTable) {
  Message m;
  m.question.push_back({N("example.org"), type::kA, qclass::kIn});
  for (int i = 0; i < 2000; ++i) {
    Rr r = A("example.org", static_cast<uint8_t>(i));
    r.name.PrependLabel("h" + std::to_string(i));
    m.answer.push_back(r);
  }
  Bytes out;
  bool truncated = true;
  size_t n = WriteMessage(m, 65535, &out, &truncated);
  ASSERT_GT(n, 0u);
  EXPECT_FALSE(truncated);
  Message back;
  ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
  ExpectSameRrs(back.answer, m.answer);
}

TEST(WriteMessage, FuzzedPacketsRoundTrip) {
  // Mutated packets must never crash the parsers; whatever ParseMessage
  // accepts must write and re-parse to the same message.
  Message seed_msg = SampleResponse();
  seed_msg.answer.push_back(MakeRr("www.example.org", type::kMx, 5,
                                   Cat({{0, 1}, NameBytes("mx.example.org")})));
  Bytes seed;
  WriteMessage(seed_msg, 65535, &seed);
  std::mt19937 rng(1234);
  int accepted = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    Bytes pkt = seed;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) pkt[rng() % pkt.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) pkt.resize(rng() % pkt.size());
    QueryView q;
    (void)ParseQuery(pkt.data(), pkt.size(), &q);
    Message m;
    if (ParseMessage(pkt.data(), pkt.size(), &m) != ParseError::kOk) continue;
    ++accepted;
    for (const auto* s : {&m.answer, &m.authority, &m.additional}) {
      for (const Rr& r : *s) EXPECT_FALSE(RrToText(r).empty());
    }
    Bytes out;
    size_t n = WriteMessage(m, 65535, &out);
    if (n == 0) continue;
    Message back;
    ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk) << iter;
    // Compression keeps every name's spelling, so a second write is identical.
    Bytes out2;
    WriteMessage(back, 65535, &out2);
    ASSERT_EQ(out2, out) << iter;
  }
  EXPECT_GT(accepted, 100);
}

TEST(WriteMessage, CompressionPreservesTheCaseOfEveryName) {
  // A 0x20-randomised question must not change the spelling of answer owners.
  Message m;
  m.header.SetFlag(flag::kQr, true);
  Question q;
  ASSERT_TRUE(Name::FromText("WwW.ExAmple.org.", &q.name));
  q.type = type::kA;
  m.question.push_back(q);
  Rr a;
  ASSERT_TRUE(Name::FromText("www.example.org.", &a.name));
  a.type = type::kA;
  a.ttl = 60;
  a.rdata = {192, 0, 2, 1};
  m.answer.push_back(a);
  Bytes out;
  ASSERT_GT(WriteMessage(m, 512, &out), 0u);
  Message back;
  ASSERT_EQ(ParseMessage(out.data(), out.size(), &back), ParseError::kOk);
  EXPECT_EQ(back.question[0].name.ToText(), "WwW.ExAmple.org.");
  EXPECT_EQ(back.answer[0].name.ToText(), "www.example.org.");
  // The shared suffix with the same spelling ("org.") is still compressed.
  EXPECT_LT(out.size(), 12u + 21u + 4u + 17u + 10u + 4u);
}

// ---------------------------------------------------------------------------
// MakeReply.

TEST(MakeReply, CopiesWhatCoreDnsCopies) {
  Message q;
  q.header.id = 4321;
  q.header.SetFlag(flag::kRd, true);
  q.header.SetFlag(flag::kCd, true);
  q.header.SetFlag(flag::kAd, true);
  q.question.push_back({N("Www.Example.org"), type::kAaaa, qclass::kIn});
  q.edns.present = true;
  q.edns.udp_size = 4096;
  q.edns.version = 0;
  q.edns.flags = kEdnsDoBit | 0x0001;
  q.edns.options = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  Message r = MakeReply(q);
  EXPECT_EQ(r.header.id, 4321);
  EXPECT_TRUE(r.header.qr());
  EXPECT_TRUE(r.header.rd());
  EXPECT_TRUE(r.header.cd());
  EXPECT_FALSE(r.header.ad());
  EXPECT_FALSE(r.header.aa());
  EXPECT_EQ(r.header.opcode(), opcode::kQuery);
  EXPECT_EQ(r.Rcode(), rcode::kNoError);
  ASSERT_EQ(r.question.size(), 1u);
  EXPECT_EQ(r.question[0].name.ToText(), "Www.Example.org.");
  EXPECT_EQ(r.question[0].type, type::kAaaa);
  EXPECT_TRUE(r.answer.empty());
  ASSERT_TRUE(r.edns.present);
  EXPECT_EQ(r.edns.udp_size, 4096);
  EXPECT_EQ(r.edns.version, 0);
  EXPECT_EQ(r.edns.flags, kEdnsDoBit);
  EXPECT_TRUE(r.edns.options.empty());

  q.edns.present = false;
  q.edns.flags = 0;
  r = MakeReply(q);
  EXPECT_FALSE(r.edns.present);
  q.edns.present = true;
  r = MakeReply(q);
  EXPECT_TRUE(r.edns.present);
  EXPECT_FALSE(r.edns.dnssec_ok());
}

TEST(MakeReply, OpcodeAndQuestions) {
  Message q;
  q.header.set_opcode(opcode::kNotify);
  q.header.SetFlag(flag::kRd, true);
  q.question.push_back({N("a"), type::kSoa, qclass::kIn});
  q.question.push_back({N("b"), type::kSoa, qclass::kIn});
  Message r = MakeReply(q);
  EXPECT_EQ(r.header.opcode(), opcode::kNotify);
  EXPECT_FALSE(r.header.rd());  // miekg/dns copies RD/CD for QUERY only
  ASSERT_EQ(r.question.size(), 1u);  // and only the first question
  EXPECT_EQ(r.question[0].name.ToText(), "a.");
  EXPECT_TRUE(MakeReply(Message{}).question.empty());
}

// ---------------------------------------------------------------------------
// RrToText.

TEST(RrToText, CommonTypes) {
  EXPECT_EQ(RrToText(A("www.example.org", 1)), "www.example.org.\t300\tIN\tA\t192.0.2.1");
  EXPECT_EQ(RrToText(MakeRr("v6.example.org", type::kAaaa, 60,
                            {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})),
            "v6.example.org.\t60\tIN\tAAAA\t2001:db8::1");
  EXPECT_EQ(RrToText(MakeRr("example.org", type::kNs, 3600, NameBytes("ns1.example.org"))),
            "example.org.\t3600\tIN\tNS\tns1.example.org.");
  EXPECT_EQ(RrToText(MakeRr("w.example.org", type::kCname, 1, NameBytes("x.example.org"))),
            "w.example.org.\t1\tIN\tCNAME\tx.example.org.");
  EXPECT_EQ(RrToText(MakeRr("1.2.0.192.in-addr.arpa", type::kPtr, 1, NameBytes("h.example"))),
            "1.2.0.192.in-addr.arpa.\t1\tIN\tPTR\th.example.");
  EXPECT_EQ(RrToText(MakeRr("example.org", type::kMx, 300,
                            Cat({{0, 10}, NameBytes("mail.example.org")}))),
            "example.org.\t300\tIN\tMX\t10 mail.example.org.");
  EXPECT_EQ(RrToText(MakeRr("example.org", type::kSoa, 300,
                            Cat({NameBytes("ns.example.org"), NameBytes("hostmaster.example.org"),
                                 {0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5}}))),
            "example.org.\t300\tIN\tSOA\tns.example.org. hostmaster.example.org. 1 2 3 4 5");
  EXPECT_EQ(RrToText(MakeRr("_sip._udp.example.org", type::kSrv, 60,
                            Cat({{0, 10, 0, 60, 0x13, 0xc4}, NameBytes("sip.example.org")}))),
            "_sip._udp.example.org.\t60\tIN\tSRV\t10 60 5060 sip.example.org.");
  EXPECT_EQ(RrToText(MakeRr("d.example", type::kDname, 60, NameBytes("e.example"))),
            "d.example.\t60\tIN\tDNAME\te.example.");
}

TEST(RrToText, Txt) {
  Bytes rdata = Cat({{11}, {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'},
                     {6, 'a', '"', 'b', '\\', 'c', 0x0a}, {0}});
  EXPECT_EQ(RrToText(MakeRr("t.example", type::kTxt, 5, rdata)),
            "t.example.\t5\tIN\tTXT\t\"hello world\" \"a\\\"b\\\\c\\010\" \"\"");
}

TEST(RrToText, Dnssec) {
  Bytes digest = {0x2b, 0xb1, 0x83, 0xaf, 0x5f, 0x22, 0x58, 0x81, 0x79, 0xa5,
                  0x3b, 0x0a, 0x98, 0x63, 0x1f, 0xad, 0x1a, 0x29, 0x21, 0x18};
  EXPECT_EQ(RrToText(MakeRr("dskey.example.com", type::kDs, 86400,
                            Cat({{0xec, 0x45, 5, 1}, digest}))),
            "dskey.example.com.\t86400\tIN\tDS\t60485 5 1 "
            "2BB183AF5F22588179A53B0A98631FAD1A292118");
  EXPECT_EQ(RrToText(MakeRr("example.com", type::kDnskey, 86400, {1, 1, 3, 8, 3, 1, 0, 1, 0xff})),
            "example.com.\t86400\tIN\tDNSKEY\t257 3 8 AwEAAf8=");
  // 2024-02-01 00:00:00 and 2024-01-01 00:00:00 UTC.
  Bytes rrsig = Cat({{0, 1, 8, 3, 0, 0, 1, 44}, {0x65, 0xba, 0xdf, 0x00}, {0x65, 0x92, 0x00, 0x80},
                     {0x30, 0x39}, NameBytes("Example.com"), {1, 2, 3, 4, 5}});
  EXPECT_EQ(RrToText(MakeRr("www.example.com", type::kRrsig, 300, rrsig)),
            "www.example.com.\t300\tIN\tRRSIG\tA 8 3 300 20240201000000 20240101000000 12345 "
            "Example.com. AQIDBAU=");
  // RFC 4034 section 4.3 example.
  Bytes bitmap = {0x00, 0x06, 0x40, 0x01, 0x00, 0x00, 0x00, 0x03,
                  0x04, 0x1b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                  0x00, 0x00, 0x00, 0x00, 0x20};
  EXPECT_EQ(RrToText(MakeRr("alfa.example.com", type::kNsec, 86400,
                            Cat({NameBytes("host.example.com"), bitmap}))),
            "alfa.example.com.\t86400\tIN\tNSEC\thost.example.com. A MX RRSIG NSEC TYPE1234");
}

TEST(RrToText, UnknownAndMalformed) {
  Rr r = MakeRr("x.example", 65280, 0, {0x0a, 0, 0, 1});
  r.rclass = qclass::kCh;
  EXPECT_EQ(RrToText(r), "x.example.\t0\tCH\tTYPE65280\t\\# 4 0A000001");
  EXPECT_EQ(RrToText(MakeRr("x.example", type::kA, 0, {1, 2, 3})),
            "x.example.\t0\tIN\tA\t\\# 3 010203");
  EXPECT_EQ(RrToText(MakeRr("x.example", type::kNsec3, 0, {1, 0, 0, 0})),
            "x.example.\t0\tIN\tNSEC3\t\\# 4 01000000");
  // A malformed NSEC bitmap (window length 0) falls back too.
  EXPECT_EQ(RrToText(MakeRr("x", type::kNsec, 0, {0, 0, 0})), "x.\t0\tIN\tNSEC\t\\# 3 000000");
}

}  // namespace
}  // namespace warpdns::fastpath::wire
