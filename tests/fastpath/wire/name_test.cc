#include "fastpath/wire/name.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace warpdns::fastpath::wire {
namespace {

Name N(std::string_view text) {
  Name n;
  EXPECT_TRUE(Name::FromText(text, &n)) << text;
  return n;
}

std::vector<uint8_t> Wire(const Name& n) { return {n.data(), n.data() + n.size()}; }

// A message whose first 12 octets are a zeroed header, followed by `body`.
std::vector<uint8_t> Msg(std::vector<uint8_t> body) {
  std::vector<uint8_t> m(12 + body.size(), 0);
  std::copy(body.begin(), body.end(), m.begin() + 12);
  return m;
}

// Runs ReadName and SkipName (both overloads) at `offset` and checks they
// agree on the outcome and the advanced offset.
ParseError Read(const std::vector<uint8_t>& m, size_t offset, Name* out, size_t* end = nullptr) {
  size_t off = offset;
  ParseError err = ReadName(m.data(), m.size(), &off, out);
  size_t skip_off = offset;
  EXPECT_EQ(SkipName(m.data(), m.size(), &skip_off), err);
  size_t skip_off2 = offset;
  size_t name_len = 0;
  EXPECT_EQ(SkipName(m.data(), m.size(), &skip_off2, &name_len), err);
  if (err == ParseError::kOk) {
    EXPECT_EQ(skip_off, off);
    EXPECT_EQ(skip_off2, off);
    EXPECT_EQ(name_len, out->size());
  } else {
    EXPECT_EQ(off, offset) << "offset must not move on error";
    EXPECT_TRUE(out->IsRoot()) << "a failed read leaves the root";
  }
  if (end != nullptr) *end = off;
  return err;
}

TEST(NameText, RoundTrips) {
  EXPECT_EQ(N("www.example.org").ToText(), "www.example.org.");
  EXPECT_EQ(N("www.example.org.").ToText(), "www.example.org.");
  EXPECT_EQ(N(".").ToText(), ".");
  EXPECT_TRUE(N(".").IsRoot());
  EXPECT_EQ(N(".").size(), 1u);
  EXPECT_EQ(N("WwW.Example.ORG").ToText(), "WwW.Example.ORG.");
  EXPECT_EQ(N("WwW.Example.ORG").ToLowerText(), "www.example.org.");
  EXPECT_EQ(Wire(N("ab.c")), (std::vector<uint8_t>{2, 'a', 'b', 1, 'c', 0}));
}

TEST(NameText, Escapes) {
  // "\." inside a label is a literal dot.
  Name n = N("a\\.b.example.");
  EXPECT_EQ(n.LabelCount(), 2);
  EXPECT_EQ(n.FirstLabel(), "a.b");
  EXPECT_EQ(n.ToText(), "a\\.b.example.");
  // \DDD decimal escapes.
  n = N("\\000\\007x\\255.example");
  EXPECT_EQ(n.FirstLabel(), std::string_view("\0\7x\xff", 4));
  EXPECT_EQ(n.ToText(), "\\000\\007x\\255.example.");
  EXPECT_EQ(N("\\046").FirstLabel(), ".");
  EXPECT_EQ(N("\\046").ToText(), "\\..");
  // dig's specials.
  EXPECT_EQ(N("a\\\"b").ToText(), "a\\\"b.");
  EXPECT_EQ(N("a\\\\b").ToText(), "a\\\\b.");
  EXPECT_EQ(N("\\(\\)\\;\\@\\$").ToText(), "\\(\\)\\;\\@\\$.");
  EXPECT_EQ(N("\\(\\)\\;\\@\\$").FirstLabel(), "();@$");
  // Space and DEL are non-printable for dig.
  EXPECT_EQ(N("a\\ b").ToText(), "a\\032b.");
  EXPECT_EQ(N("a\\127").ToText(), "a\\127.");
  // Unescaped specials other than '.' are taken literally.
  EXPECT_EQ(N("a@b").FirstLabel(), "a@b");
  EXPECT_EQ(N("a@b").ToText(), "a\\@b.");
  // Round trip through text for every octet value.
  for (int c = 0; c < 256; ++c) {
    Name w;
    ASSERT_TRUE(w.PrependLabel(std::string(1, static_cast<char>(c))));
    Name back;
    ASSERT_TRUE(Name::FromText(w.ToText(), &back)) << w.ToText();
    EXPECT_EQ(Wire(back), Wire(w)) << c;
  }
}

TEST(NameText, Rejects) {
  Name n;
  EXPECT_FALSE(Name::FromText("", &n));
  EXPECT_FALSE(Name::FromText("a..b", &n));
  EXPECT_FALSE(Name::FromText(".a", &n));
  EXPECT_FALSE(Name::FromText("..", &n));
  EXPECT_FALSE(Name::FromText("a\\", &n));
  EXPECT_FALSE(Name::FromText("a\\25", &n));
  EXPECT_FALSE(Name::FromText("a\\256", &n));
  EXPECT_FALSE(Name::FromText("a\\1x3", &n));
  EXPECT_TRUE(Name::FromText(std::string(63, 'a'), &n));
  EXPECT_FALSE(Name::FromText(std::string(64, 'a'), &n));
}

TEST(NameText, MaxLength) {
  std::string l63(63, 'a');
  // 3 * 64 + (1 + 61) + root = 255.
  std::string max = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b');
  Name n;
  ASSERT_TRUE(Name::FromText(max, &n));
  EXPECT_EQ(n.size(), 255u);
  EXPECT_EQ(n.LabelCount(), 4);
  EXPECT_FALSE(Name::FromText(max + "b", &n));
  EXPECT_FALSE(Name::FromText("c." + max, &n));
  // 127 one-octet labels: 254 + root = 255.
  std::string many;
  for (int i = 0; i < 127; ++i) many += "x.";
  ASSERT_TRUE(Name::FromText(many, &n));
  EXPECT_EQ(n.size(), 255u);
  EXPECT_EQ(n.LabelCount(), 127);
  EXPECT_FALSE(Name::FromText("y." + many, &n));
}

TEST(Name, FromWire) {
  const uint8_t ok[] = {3, 'w', 'w', 'w', 0};
  Name n;
  ASSERT_TRUE(Name::FromWire(ok, sizeof(ok), &n));
  EXPECT_EQ(n.ToText(), "www.");
  EXPECT_FALSE(Name::FromWire(ok, sizeof(ok) - 1, &n));  // no root
  const uint8_t trailing[] = {1, 'a', 0, 7};
  EXPECT_FALSE(Name::FromWire(trailing, sizeof(trailing), &n));
  EXPECT_EQ(WireNameLength(trailing, sizeof(trailing)), 3u);
  const uint8_t pointer[] = {1, 'a', 0xc0, 0};
  EXPECT_FALSE(Name::FromWire(pointer, sizeof(pointer), &n));
  EXPECT_EQ(WireNameLength(pointer, sizeof(pointer)), 0u);
  const uint8_t root[] = {0};
  ASSERT_TRUE(Name::FromWire(root, 1, &n));
  EXPECT_TRUE(n.IsRoot());
  EXPECT_FALSE(Name::FromWire(root, 0, &n));
}

TEST(Name, Accessors) {
  Name n = N("*.Sub.Example.org");
  EXPECT_EQ(n.LabelCount(), 4);
  EXPECT_TRUE(n.IsWildcard());
  EXPECT_FALSE(N("a*.b").IsWildcard());
  EXPECT_EQ(n.FirstLabel(), "*");
  EXPECT_EQ(n.Parent().ToText(), "Sub.Example.org.");
  EXPECT_EQ(N(".").Parent().ToText(), ".");
  EXPECT_EQ(N("org").Parent().ToText(), ".");
  EXPECT_EQ(n.Suffix(2).ToText(), "Example.org.");
  EXPECT_EQ(n.Suffix(0).ToText(), ".");
  EXPECT_EQ(n.Suffix(4).ToText(), n.ToText());
  EXPECT_EQ(n.Suffix(9).ToText(), n.ToText());
  EXPECT_EQ(N(".").LabelCount(), 0);
  EXPECT_EQ(N(".").FirstLabel(), "");
  EXPECT_EQ(n.Lowercased().ToText(), "*.sub.example.org.");
  EXPECT_EQ(n.ToText(), "*.Sub.Example.org.");  // Lowercased() copies
  n.ToLower();
  EXPECT_EQ(n.ToText(), "*.sub.example.org.");
}

TEST(Name, PrependLabel) {
  Name n = N("example.org");
  ASSERT_TRUE(n.PrependLabel("www"));
  EXPECT_EQ(n.ToText(), "www.example.org.");
  EXPECT_FALSE(n.PrependLabel(""));
  EXPECT_FALSE(n.PrependLabel(std::string(64, 'x')));
  Name root;
  ASSERT_TRUE(root.PrependLabel("a.b"));  // a literal dot in the label
  EXPECT_EQ(root.ToText(), "a\\.b.");
  // Grow to exactly 255 octets, then fail.
  Name big;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(big.PrependLabel(std::string(63, 'a')));
  EXPECT_FALSE(big.PrependLabel(std::string(62, 'b')));
  ASSERT_TRUE(big.PrependLabel(std::string(61, 'b')));
  EXPECT_EQ(big.size(), 255u);
  EXPECT_FALSE(big.PrependLabel("c"));
  EXPECT_EQ(big.size(), 255u);
}

TEST(Name, EqualsIgnoresCase) {
  EXPECT_EQ(N("WWW.EXAMPLE.ORG"), N("www.example.org"));
  EXPECT_TRUE(N("a-very-long-label-with-Caps.Example.ORG").Equals(
      N("A-VERY-LONG-LABEL-WITH-caps.example.org")));
  EXPECT_FALSE(N("www.example.org").Equals(N("www.example.com")));
  EXPECT_FALSE(N("www.example.org").Equals(N("ww.example.org")));
  EXPECT_FALSE(N("a-very-long-label-with-Caps.Example.ORG").Equals(
      N("a-very-long-label-with-Caps.Example.ORH")));
  EXPECT_TRUE(N(".").Equals(N(".")));
  // Octets that differ by 0x20 but are not letters must not compare equal.
  EXPECT_FALSE(N("a@").Equals(N("a`")));
  EXPECT_FALSE(N("[").Equals(N("{")));
  EXPECT_FALSE(N("\\192").Equals(N("\\224")));  // 0xc0 vs 0xe0
  for (int c = 0; c < 256; ++c) {
    for (int d = 0; d < 256; ++d) {
      Name a, b;
      a.PrependLabel(std::string("abcdefg") + static_cast<char>(c));
      b.PrependLabel(std::string("ABCDEFG") + static_cast<char>(d));
      bool want = ToLowerOctet(static_cast<uint8_t>(c)) == ToLowerOctet(static_cast<uint8_t>(d));
      ASSERT_EQ(a.Equals(b), want) << c << " " << d;
    }
  }
}

TEST(Name, HashIgnoresCase) {
  EXPECT_EQ(HashName(N("WWW.Example.ORG")), HashName(N("www.example.org")));
  EXPECT_EQ(HashName(N("a-very-long-label-with-Caps.Example.ORG")),
            HashName(N("A-VERY-LONG-LABEL-WITH-CAPS.EXAMPLE.ORG")));
  EXPECT_NE(HashName(N("www.example.org")), HashName(N("www.example.com")));
  EXPECT_NE(HashName(N("a")), HashName(N("b")));
  EXPECT_EQ(NameHash{}(N("A")), NameHash{}(N("a")));
}

TEST(Name, IsSubdomainOf) {
  Name zone = N("Example.org");
  EXPECT_TRUE(N("www.example.ORG").IsSubdomainOf(zone));
  EXPECT_TRUE(N("a.b.c.example.org").IsSubdomainOf(zone));
  EXPECT_TRUE(N("example.org").IsSubdomainOf(zone));
  EXPECT_TRUE(N("example.org").IsSubdomainOf(N(".")));
  EXPECT_TRUE(N(".").IsSubdomainOf(N(".")));
  EXPECT_FALSE(N("xexample.org").IsSubdomainOf(zone));
  EXPECT_FALSE(N("org").IsSubdomainOf(zone));
  EXPECT_FALSE(N(".").IsSubdomainOf(zone));
  EXPECT_FALSE(N("example.com").IsSubdomainOf(zone));
  // A label whose text ends like the zone is not a boundary.
  EXPECT_TRUE(N("a\\.example.org").IsSubdomainOf(N("org")));
  EXPECT_FALSE(N("a\\.example.org").IsSubdomainOf(N("example.org")));
}

TEST(Name, CanonicalOrderRfc4034) {
  // RFC 4034 section 6.1, in canonical order.
  const std::vector<std::string> ordered = {
      "example",        "a.example",   "yljkjljk.a.example", "Z.a.example",
      "zABC.a.EXAMPLE", "z.example",   "\\001.z.example",    "*.z.example",
      "\\200.z.example",
  };
  std::vector<Name> names;
  for (const auto& s : ordered) names.push_back(N(s));
  for (size_t i = 0; i < names.size(); ++i) {
    for (size_t j = 0; j < names.size(); ++j) {
      int c = names[i].CanonicalCompare(names[j]);
      if (i < j) {
        EXPECT_LT(c, 0) << ordered[i] << " vs " << ordered[j];
      } else if (i == j) {
        EXPECT_EQ(c, 0) << ordered[i];
      } else {
        EXPECT_GT(c, 0) << ordered[i] << " vs " << ordered[j];
      }
    }
  }
  std::vector<Name> shuffled = names;
  std::mt19937 rng(42);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  std::sort(shuffled.begin(), shuffled.end(),
            [](const Name& a, const Name& b) { return a.CanonicalCompare(b) < 0; });
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(shuffled[i].ToText(), names[i].ToText());
  EXPECT_EQ(N("A.Example").CanonicalCompare(N("a.example")), 0);
  EXPECT_LT(N(".").CanonicalCompare(N("a")), 0);
}

// ---------------------------------------------------------------------------
// Wire reading.

TEST(ReadName, Uncompressed) {
  auto m = Msg({3, 'W', 'w', 'W', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0, 0xaa});
  Name n;
  size_t end;
  ASSERT_EQ(Read(m, 12, &n, &end), ParseError::kOk);
  EXPECT_EQ(n.ToText(), "WwW.example.");  // case preserved
  EXPECT_EQ(end, 12u + 13u);
  auto root = Msg({0});
  ASSERT_EQ(Read(root, 12, &n, &end), ParseError::kOk);
  EXPECT_TRUE(n.IsRoot());
  EXPECT_EQ(end, 13u);
}

TEST(ReadName, Compressed) {
  // 12: example.org.   25: www + ptr(12)   31: ptr(25)
  auto m = Msg({7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0,
                3, 'w', 'w', 'w', 0xc0, 12,
                0xc0, 25});
  Name n;
  size_t end;
  ASSERT_EQ(Read(m, 25, &n, &end), ParseError::kOk);
  EXPECT_EQ(n.ToText(), "www.example.org.");
  EXPECT_EQ(end, 31u);  // just past the first pointer
  ASSERT_EQ(Read(m, 31, &n, &end), ParseError::kOk);
  EXPECT_EQ(n.ToText(), "www.example.org.");
  EXPECT_EQ(end, 33u);
  // Pointer into the middle of a name (to "org").
  auto m2 = m;
  m2.push_back(0xc0);
  m2.push_back(20);
  ASSERT_EQ(Read(m2, 33, &n, &end), ParseError::kOk);
  EXPECT_EQ(n.ToText(), "org.");
}

TEST(ReadName, PointerLoop) {
  // 12: "a" then a pointer back to 12: backward each time, but a loop.
  auto m = Msg({1, 'a', 0xc0, 12});
  Name n;
  EXPECT_EQ(Read(m, 12, &n), ParseError::kPointerLoop);
  // 12: "x" root; 15: "y" then a pointer at 17 to 15: backward, yet it
  // leads to the same pointer again.
  auto m2 = Msg({1, 'x', 0, 1, 'y', 0xc0, 15});
  EXPECT_EQ(Read(m2, 15, &n), ParseError::kPointerLoop);
  // Chain of pointers each strictly earlier than the previous target is fine.
  auto chain = Msg({0, 0xc0, 12, 0xc0, 13, 0xc0, 15});
  EXPECT_EQ(Read(chain, 17, &n), ParseError::kOk);
  EXPECT_TRUE(n.IsRoot());
  // Labels between hops: 19 -> 17 -> 13 ("q") -> ptr at 15 -> 12 (root).
  auto back = Msg({0, 1, 'q', 0xc0, 12, 0xc0, 13, 0xc0, 17});
  EXPECT_EQ(Read(back, 19, &n), ParseError::kOk);
  EXPECT_EQ(n.ToText(), "q.");
}

TEST(ReadName, SelfPointer) {
  auto m = Msg({0xc0, 12});
  Name n;
  EXPECT_EQ(Read(m, 12, &n), ParseError::kPointerForward);
}

TEST(ReadName, ForwardPointer) {
  auto m = Msg({0xc0, 14, 0});
  Name n;
  EXPECT_EQ(Read(m, 12, &n), ParseError::kPointerForward);
}

TEST(ReadName, PointerOutOfRange) {
  auto m = Msg({0xc0, 200});
  Name n;
  EXPECT_EQ(Read(m, 12, &n), ParseError::kPointerOutOfRange);
  auto m2 = Msg({1, 'a', 0xff, 0xff});
  EXPECT_EQ(Read(m2, 12, &n), ParseError::kPointerOutOfRange);
}

TEST(ReadName, ReservedLabelTypes) {
  // A length octet of 64 is the 0x40 (extended) label type on the wire, so a
  // "64-octet label" can only show up as a bad label type.
  std::vector<uint8_t> body = {64};
  body.insert(body.end(), 64, 'a');
  body.push_back(0);
  Name n;
  EXPECT_EQ(Read(Msg(body), 12, &n), ParseError::kBadLabelType);
  EXPECT_EQ(Read(Msg({0x41, 0}), 12, &n), ParseError::kBadLabelType);
  EXPECT_EQ(Read(Msg({0x80, 0}), 12, &n), ParseError::kBadLabelType);
  EXPECT_EQ(Read(Msg({1, 'a', 0xbf, 0}), 12, &n), ParseError::kBadLabelType);
  // 63 is the longest label.
  std::vector<uint8_t> ok = {63};
  ok.insert(ok.end(), 63, 'a');
  ok.push_back(0);
  EXPECT_EQ(Read(Msg(ok), 12, &n), ParseError::kOk);
  EXPECT_EQ(n.size(), 65u);
}

TEST(ReadName, NameTooLong) {
  // 255 octets is the limit, 256 is one too many.
  auto build = [](int last_label) {
    std::vector<uint8_t> body;
    for (int i = 0; i < 3; ++i) {
      body.push_back(63);
      body.insert(body.end(), 63, 'a');
    }
    body.push_back(static_cast<uint8_t>(last_label));
    body.insert(body.end(), last_label, 'b');
    body.push_back(0);
    return Msg(body);
  };
  Name n;
  EXPECT_EQ(Read(build(61), 12, &n), ParseError::kOk);
  EXPECT_EQ(n.size(), 255u);
  EXPECT_EQ(Read(build(62), 12, &n), ParseError::kNameTooLong);
  // Too long only once decompressed: 12: 200 octets of labels; then a
  // 60-octet label pointing to it (61 + 201 = 262).
  std::vector<uint8_t> body;
  for (int i = 0; i < 4; ++i) {
    body.push_back(49);
    body.insert(body.end(), 49, 'c');
  }
  body.push_back(0);  // 201 octets at 12
  size_t second = 12 + body.size();
  body.push_back(60);
  body.insert(body.end(), 60, 'd');
  body.push_back(0xc0);
  body.push_back(12);
  auto m = Msg(body);
  EXPECT_EQ(Read(m, 12, &n), ParseError::kOk);
  EXPECT_EQ(Read(m, second, &n), ParseError::kNameTooLong);
}

TEST(ReadName, Truncated) {
  Name n;
  EXPECT_EQ(Read(Msg({3, 'w', 'w'}), 12, &n), ParseError::kTruncated);
  EXPECT_EQ(Read(Msg({3, 'w', 'w', 'w'}), 12, &n), ParseError::kTruncated);  // no root
  EXPECT_EQ(Read(Msg({1, 'a', 0xc0}), 12, &n), ParseError::kTruncated);      // half pointer
  EXPECT_EQ(Read(Msg({}), 12, &n), ParseError::kTruncated);
}

TEST(ReadName, NeverReadsPastTheEnd) {
  // Every prefix of a valid compressed message must fail cleanly (run under
  // ASan to make this meaningful).
  auto m = Msg({7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0,
                3, 'w', 'w', 'w', 0xc0, 12});
  for (size_t len = 12; len < m.size(); ++len) {
    std::vector<uint8_t> prefix(m.begin(), m.begin() + len);
    Name n;
    size_t off = 25;
    if (len <= 25) continue;
    EXPECT_NE(ReadName(prefix.data(), prefix.size(), &off, &n), ParseError::kOk) << len;
  }
}

}  // namespace
}  // namespace warpdns::fastpath::wire
