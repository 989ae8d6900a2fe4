// Micro-benchmarks of the answer table's per-packet work: building the key
// from a query, and looking the answer up in tables of realistic sizes.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "fastpath/rcu/rcu.h"
#include "fastpath/table/answer_table.h"
#include "fastpath/table/query_key.h"

namespace warpdns::fastpath {
namespace {

using Bytes = std::vector<uint8_t>;

// A query for `label`.example.org A with RD, optionally with what dig and
// most resolvers add: EDNS 1232 with DO and a client cookie.
Bytes Query(const std::string& label, bool edns) {
  Bytes b = {0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, static_cast<uint8_t>(edns ? 1 : 0)};
  b.push_back(static_cast<uint8_t>(label.size()));
  b.insert(b.end(), label.begin(), label.end());
  for (const char* l : {"example", "org"}) {
    b.push_back(static_cast<uint8_t>(std::strlen(l)));
    b.insert(b.end(), l, l + std::strlen(l));
  }
  b.insert(b.end(), {0, 0, 1, 0, 1});
  if (edns) {
    b.insert(b.end(),
             {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});
  }
  return b;
}

// "h123": built by appending, as "h" + std::to_string(i) trips GCC 12's
// -Wrestrict false positive at -O3.
std::string Label(char prefix, size_t i) {
  std::string label(1, prefix);
  label += std::to_string(i);
  return label;
}

void BM_MakeQueryKey(benchmark::State& state) {
  const Bytes q = Query("www", state.range(0) != 0);
  QueryKey key;
  for (auto _ : state) {
    benchmark::DoNotOptimize(MakeQueryKey(q.data(), q.size(), 53, &key));
    benchmark::DoNotOptimize(key);
  }
}
BENCHMARK(BM_MakeQueryKey)->ArgName("edns")->Arg(0)->Arg(1);

// A key without the unused tail of QueryKey::bytes, so that a million of them
// fit in memory and stream from it in order.
struct PackedKey {
  uint64_t hash;
  uint16_t len;
  uint8_t bytes[46];
};

PackedKey Pack(const QueryKey& k) {
  PackedKey p;
  p.hash = k.hash;
  p.len = k.len;
  std::memcpy(p.bytes, k.bytes, k.len);
  return p;
}

// A table of `entries` answers (slots: twice that, rounded up) and the keys
// to look up in a shuffled order: those of the entries, or, for `misses`,
// as many keys that are not in the table.
struct Fixture {
  std::unique_ptr<rcu::Domain> domain;
  std::unique_ptr<rcu::Reclaimer> reclaimer;
  std::unique_ptr<AnswerTable> table;
  std::vector<PackedKey> lookups;

  Fixture(size_t entries, bool misses) {
    std::string error;
    domain = rcu::Domain::Create(1, &error);
    reclaimer = std::make_unique<rcu::Reclaimer>(*domain);
    table = std::make_unique<AnswerTable>(std::bit_ceil(2 * entries), 1);
    // A typical A answer: header, question, one compressed answer record.
    QueryKey key;
    for (size_t i = 0; i < entries; ++i) {
      const Bytes q = Query(Label('h', i), true);
      MakeQueryKey(q.data(), q.size(), 53, &key);
      Bytes reply = q;
      reply.resize(q.size() - 23);  // the OPT goes, a record comes
      reply[2] |= 0x80;
      reply[7] = 1;
      reply[11] = 0;
      reply.insert(reply.end(), {0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2,
                                 static_cast<uint8_t>(i)});
      table->Insert(key, reply.data(), reply.size(), *reclaimer);
      if (!misses) lookups.push_back(Pack(key));
    }
    for (size_t i = 0; misses && i < entries; ++i) {
      const Bytes q = Query(Label('m', i), true);
      MakeQueryKey(q.data(), q.size(), 53, &key);
      lookups.push_back(Pack(key));
    }
    std::shuffle(lookups.begin(), lookups.end(), std::mt19937_64(1));
    reclaimer->Drain();
  }
};

// Built once per size: the benchmark library calls a benchmark several times
// while it settles on an iteration count, and a million inserts take a while.
const Fixture& GetFixture(size_t entries, bool misses) {
  static std::map<std::pair<size_t, bool>, std::unique_ptr<Fixture>> cache;
  std::unique_ptr<Fixture>& f = cache[{entries, misses}];
  if (!f) f = std::make_unique<Fixture>(entries, misses);
  return *f;
}

void RunAnswer(benchmark::State& state, bool misses) {
  const Fixture& f = GetFixture(static_cast<size_t>(state.range(0)), misses);
  uint8_t out[AnswerTable::kMaxReply + 2];
  const uint8_t id[2] = {0x56, 0x78};
  AnswerTable::Context ctx;
  QueryKey key;
  size_t i = 0, answered = 0;
  for (auto _ : state) {
    // The worker builds the key on its stack: copying it in keeps it there.
    const PackedKey& p = f.lookups[i];
    key.hash = p.hash;
    key.len = p.len;
    std::memcpy(key.bytes, p.bytes, sizeof(p.bytes));
    const size_t len = f.table->Answer(key, id, out, sizeof(out), ctx);
    benchmark::DoNotOptimize(len);
    answered += len != 0;
    if (++i == f.lookups.size()) i = 0;
  }
  state.counters["hit_rate"] =
      static_cast<double>(answered) / static_cast<double>(state.iterations());
  state.counters["evictions"] = static_cast<double>(f.table->evictions());
}

void BM_AnswerHit(benchmark::State& state) { RunAnswer(state, false); }
void BM_AnswerMiss(benchmark::State& state) { RunAnswer(state, true); }
BENCHMARK(BM_AnswerHit)->ArgName("entries")->Arg(10'000)->Arg(1'000'000);
BENCHMARK(BM_AnswerMiss)->ArgName("entries")->Arg(10'000)->Arg(1'000'000);

}  // namespace
}  // namespace warpdns::fastpath
