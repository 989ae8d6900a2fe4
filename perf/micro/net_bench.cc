// Micro-benchmarks of the L2-L4 frame code on a typical DNS exchange: a
// stub's query (www.example.org A, EDNS with a cookie) in one Ethernet frame,
// and its reply built in place.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fastpath/net/classify.h"
#include "fastpath/net/reply.h"

namespace warpdns::fastpath::net {
namespace {

constexpr size_t kRoom = 2048;  // as in an mbuf
constexpr uint16_t kTypicalAnswerLen = 100;

const MacAddress kOurMac = {0x02, 0, 0, 0, 0, 0x01};
const Ipv4Address kOurIp4 = {10, 99, 0, 1};
const Ipv6Address kOurIp6 = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

LocalAddresses Local() {
  LocalAddresses local;
  local.set_mac(kOurMac);
  local.AddIpv4(kOurIp4);
  local.AddIpv6(kOurIp6);
  local.AddDnsPort(53);
  return local;
}

// Appends octets at a running offset into a fixed buffer.
class Writer {
 public:
  explicit Writer(std::vector<uint8_t>* buf) : buf_(*buf) {}
  Writer& Put(std::initializer_list<uint8_t> bytes) {
    for (uint8_t b : bytes) buf_[len_++] = b;
    return *this;
  }
  template <size_t N>
  Writer& Put(const std::array<uint8_t, N>& bytes) {
    for (uint8_t b : bytes) buf_[len_++] = b;
    return *this;
  }
  size_t len() const { return len_; }

 private:
  std::vector<uint8_t>& buf_;
  size_t len_ = 0;
};

// The query frame in a kRoom buffer (zero after the frame). Checksums are
// left 0: the classifier does not verify them.
std::vector<uint8_t> QueryFrame(bool ipv6) {
  constexpr uint16_t kDnsLen = 56;
  constexpr uint16_t kUdpLen = 8 + kDnsLen;
  std::vector<uint8_t> f(kRoom);
  Writer w(&f);
  w.Put(kOurMac).Put({0x02, 0, 0, 0, 0, 0x02});
  if (ipv6) {
    w.Put({0x86, 0xdd, 0x60, 0, 0, 0, 0, kUdpLen, 17, 64});
    w.Put({0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}).Put(kOurIp6);
  } else {
    w.Put({0x08, 0x00, 0x45, 0, 0, 20 + kUdpLen, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 10, 99, 0, 2})
        .Put(kOurIp4);
  }
  // A nonzero UDP checksum: 0 is invalid over IPv6.
  w.Put({0x9c, 0x40, 0, 53, 0, kUdpLen, 0xab, 0xcd});
  const size_t dns_start = w.len();
  w.Put({0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1});
  w.Put({3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0, 0, 1, 0, 1});
  w.Put({0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});
  if (w.len() - dns_start != kDnsLen) std::abort();
  return f;
}

uint16_t QueryLen(bool ipv6) { return ipv6 ? 14 + 40 + 8 + 56 : 14 + 20 + 8 + 56; }

void BM_Classify(benchmark::State& state) {
  const bool ipv6 = state.range(0) != 0;
  const std::vector<uint8_t> frame = QueryFrame(ipv6);
  const LocalAddresses local = Local();
  FrameInfo info;
  for (auto _ : state) {
    ClassifyFrame(frame.data(), QueryLen(ipv6), local, &info);
    benchmark::DoNotOptimize(info);
  }
}
BENCHMARK(BM_Classify)->ArgName("ipv6")->Arg(0)->Arg(1);

// Finishing the same frame over and over: each call swaps the addresses back,
// which costs the same as the first time.
void BM_FinishUdpReply(benchmark::State& state) {
  const bool ipv6 = state.range(0) != 0;
  const auto mode = static_cast<ChecksumMode>(state.range(1));
  const auto answer_len = static_cast<uint16_t>(state.range(2));
  std::vector<uint8_t> frame = QueryFrame(ipv6);
  FrameInfo info;
  ClassifyFrame(frame.data(), QueryLen(ipv6), Local(), &info);
  const ReplyOptions options{mode};
  for (auto _ : state) {
    uint16_t len = FinishUdpReply(frame.data(), info, answer_len, options);
    benchmark::DoNotOptimize(len);
    benchmark::ClobberMemory();
  }
}
// Modes: 0 software checksums, 1 no UDP checksum over IPv4, 2 offload.
BENCHMARK(BM_FinishUdpReply)
    ->ArgNames({"ipv6", "mode", "answer"})
    ->ArgsProduct({{0}, {0, 1, 2}, {kTypicalAnswerLen, 512, 1232}})
    ->ArgsProduct({{1}, {0, 2}, {kTypicalAnswerLen, 512, 1232}});

// The per-packet L2-L4 work for one query: classify the received frame, then
// finish the reply. Each iteration first restores the query's headers (a
// 42/62-octet copy, part of the measured time) as the next packet would bring.
void BM_ClassifyAndFinish(benchmark::State& state) {
  const bool ipv6 = state.range(0) != 0;
  const auto mode = static_cast<ChecksumMode>(state.range(1));
  const std::vector<uint8_t> query = QueryFrame(ipv6);
  std::vector<uint8_t> frame = query;
  const LocalAddresses local = Local();
  const ReplyOptions options{mode};
  const size_t header_len = ipv6 ? 62 : 42;
  FrameInfo info;
  for (auto _ : state) {
    std::memcpy(frame.data(), query.data(), header_len);
    ClassifyFrame(frame.data(), QueryLen(ipv6), local, &info);
    if (info.kind != FrameKind::kDnsQuery) {
      state.SkipWithError("not classified as a query");
      break;
    }
    uint16_t len = FinishUdpReply(frame.data(), info, kTypicalAnswerLen, options);
    benchmark::DoNotOptimize(len);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_ClassifyAndFinish)
    ->ArgNames({"ipv6", "mode"})
    ->ArgsProduct({{0}, {0, 1, 2}})
    ->Args({1, 0});

}  // namespace
}  // namespace warpdns::fastpath::net
