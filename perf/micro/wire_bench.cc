// Micro-benchmarks of the wire library: the per-packet query parse and the
// slow-path writer.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "fastpath/wire/message.h"
#include "fastpath/wire/name.h"

namespace warpdns::fastpath::wire {
namespace {

void Put(std::vector<uint8_t>* b, std::initializer_list<uint8_t> bytes) {
  b->insert(b->end(), bytes);
}

void PutName(std::vector<uint8_t>* b, const char* text) {
  Name n;
  Name::FromText(text, &n);
  b->insert(b->end(), n.data(), n.data() + n.size());
}

// A stub resolver's query: www.example.org A, EDNS 1232 with DO and a client
// cookie (what dig and most resolvers send).
std::vector<uint8_t> TypicalQuery() {
  std::vector<uint8_t> b;
  Put(&b, {0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1});
  PutName(&b, "www.example.org");
  Put(&b, {0, 1, 0, 1});
  Put(&b, {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});
  return b;
}

void BM_ParseQuery(benchmark::State& state) {
  std::vector<uint8_t> pkt = TypicalQuery();
  QueryView q;
  for (auto _ : state) {
    ParseError err = ParseQuery(pkt.data(), pkt.size(), &q);
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(q);
  }
}
BENCHMARK(BM_ParseQuery);

// A query carrying compressed names (NOTIFY/UPDATE-like): the question
// cannot point anywhere but the header, so the pointers are in the record
// owners, one of them two hops deep, plus an OPT.
void BM_ParseQueryCompressedName(benchmark::State& state) {
  std::vector<uint8_t> b;
  Put(&b, {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 2, 0, 0, 0, 1});
  PutName(&b, "www.example.org");  // at 12; "example.org" at 16
  Put(&b, {0, 1, 0, 1});
  // Answer 1: owner "mail" + ptr(16), A.
  Put(&b, {4, 'm', 'a', 'i', 'l', 0xc0, 16, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1});
  // Answer 2: owner "x" + ptr(33) -> "mail" + ptr(16): two hops.
  Put(&b, {1, 'x', 0xc0, 33, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 2});
  Put(&b, {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0});
  QueryView q;
  if (ParseQuery(b.data(), b.size(), &q) != ParseError::kOk) {
    state.SkipWithError("bad test packet");
    return;
  }
  for (auto _ : state) {
    ParseError err = ParseQuery(b.data(), b.size(), &q);
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(q);
  }
}
BENCHMARK(BM_ParseQueryCompressedName);

// Decoding a compressed name alone (two pointer hops).
void BM_ReadNameCompressed(benchmark::State& state) {
  std::vector<uint8_t> b(12, 0);
  PutName(&b, "www.example.org");
  Put(&b, {4, 'm', 'a', 'i', 'l', 0xc0, 16});  // at 29
  Put(&b, {1, 'x', 0xc0, 29});                 // at 36
  Name n;
  for (auto _ : state) {
    size_t off = 36;
    ParseError err = ReadName(b.data(), b.size(), &off, &n);
    benchmark::DoNotOptimize(err);
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_ReadNameCompressed);

void BM_WriteMessage(benchmark::State& state) {
  Message m;
  m.header.id = 0x1234;
  m.header.flags = flag::kQr | flag::kAa | flag::kRd;
  Question q;
  Name::FromText("www.example.org", &q.name);
  q.type = type::kA;
  m.question.push_back(q);
  for (uint8_t i = 1; i <= 4; ++i) {
    Rr rr;
    rr.name = q.name;
    rr.type = type::kA;
    rr.ttl = 300;
    rr.rdata = {192, 0, 2, i};
    m.answer.push_back(rr);
  }
  m.edns.present = true;
  m.edns.udp_size = 1232;
  std::vector<uint8_t> out;
  out.reserve(512);
  for (auto _ : state) {
    size_t n = WriteMessage(m, 1232, &out);
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_WriteMessage);

void BM_NameEquals(benchmark::State& state) {
  Name a, b;
  Name::FromText("WWW.Example.ORG", &a);
  Name::FromText("www.example.org", &b);
  for (auto _ : state) {
    benchmark::DoNotOptimize(a);
    bool eq = a.Equals(b);
    benchmark::DoNotOptimize(eq);
  }
}
BENCHMARK(BM_NameEquals);

void BM_HashName(benchmark::State& state) {
  Name a;
  Name::FromText("WWW.Example.ORG", &a);
  for (auto _ : state) {
    benchmark::DoNotOptimize(a);
    uint64_t h = HashName(a);
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_HashName);

}  // namespace
}  // namespace warpdns::fastpath::wire
