#include "fastpath/net/checksum.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

#include "tests/fastpath/net/frame_builder.h"

namespace warpdns::fastpath::net {
namespace {

using test_frames::Bytes;
using test_frames::Cat;
using test_frames::Get16;
using test_frames::RefChecksum;
using test_frames::Slice;

Bytes RandomBytes(std::mt19937& rng, size_t len) {
  Bytes b(len);
  for (uint8_t& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

TEST(ChecksumTest, MatchesReferenceAtEveryLengthAndAlignment) {
  std::mt19937 rng(7);
  for (size_t len = 0; len < 300; ++len) {
    for (size_t misalign : {0, 1}) {
      const Bytes data = RandomBytes(rng, len + misalign);
      Bytes out(2);
      StoreChecksum(out.data(), Sum(data.data() + misalign, len));
      EXPECT_EQ(Get16(out, 0), RefChecksum(Slice(data, misalign, len))) << len << " " << misalign;
    }
  }
}

TEST(ChecksumTest, EvenPiecesAddUp) {
  std::mt19937 rng(8);
  for (size_t first = 0; first < 64; first += 2) {
    const Bytes a = RandomBytes(rng, first);
    const Bytes b = RandomBytes(rng, 1 + rng() % 100);
    Bytes out(2);
    StoreChecksum(out.data(), Sum(a.data(), a.size()) + Sum(b.data(), b.size()));
    EXPECT_EQ(Get16(out, 0), RefChecksum(Cat({a, b})));
  }
}

TEST(ChecksumTest, AllOnesData) {
  // The largest sums: 0xffff words fold to 0xffff, checksum 0.
  const Bytes ones(1500, 0xff);
  Bytes out(2);
  StoreChecksum(out.data(), Sum(ones.data(), ones.size()) + Sum(ones.data(), 40));
  EXPECT_EQ(Get16(out, 0), 0);
  StoreUdpChecksum(out.data(), Sum(ones.data(), ones.size()));
  EXPECT_EQ(Get16(out, 0), 0xffff);
}

TEST(ChecksumTest, PseudoHeaders) {
  std::mt19937 rng(9);
  const Bytes addrs4 = RandomBytes(rng, 8);
  const Bytes addrs6 = RandomBytes(rng, 32);
  const Bytes l4 = RandomBytes(rng, 77);
  Bytes out(2);
  StoreChecksum(out.data(),
                PseudoHeaderSum(Sum(addrs4.data(), 8), 17, 77) + Sum(l4.data(), l4.size()));
  EXPECT_EQ(
      Get16(out, 0),
      RefChecksum(Cat(
          {test_frames::Ipv4PseudoHeader(Slice(addrs4, 0, 4), Slice(addrs4, 4, 4), 17, 77), l4})));
  StoreChecksum(out.data(),
                PseudoHeaderSum(Sum(addrs6.data(), 32), 58, 1234) + Sum(l4.data(), l4.size()));
  EXPECT_EQ(Get16(out, 0),
            RefChecksum(Cat({test_frames::Ipv6PseudoHeader(Slice(addrs6, 0, 16),
                                                           Slice(addrs6, 16, 16), 58, 1234),
                             l4})));
}

TEST(ChecksumTest, FieldSumMatchesReadingTheField) {
  for (uint16_t v : {0x0000, 0x0001, 0x4500, 0xabcd, 0xffff}) {
    const Bytes field = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
    EXPECT_EQ(FieldSum(v), Sum(field.data(), 2)) << v;
  }
}

}  // namespace
}  // namespace warpdns::fastpath::net
