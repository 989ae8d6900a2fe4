// A cache flood: a million distinct names through a cache of 10,000 entries
// while a hot set of 100 names keeps being asked. Memory must stay bounded
// and the hot set must keep being served from the cache.
#include <gtest/gtest.h>
#include <malloc.h>

#include <string>

#include "slowpath/plugins/cache/cache.h"
#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::cache {
namespace {

constexpr int kColdNames = 1'000'000;
constexpr int kHotNames = 100;
constexpr int kHotPerCold = 2;   // hot queries between two cold names
constexpr int kWarmup = 50'000;  // cold names before memory is measured

class Counting : public StoreObserver {
 public:
  void OnInsert(uint64_t, const EntryPtr&) override { ++inserts; }
  void OnRemove(uint64_t) override { ++removes; }
  int64_t inserts = 0;
  int64_t removes = 0;
};

TEST(CacheFloodTest, HotSetSurvivesAMillionDistinctNames) {
  Config config;
  config.zones = {"."};
  config.success_capacity = 10'000;
  Cache cache(config, [] { return 1000 * kSecond; });  // time stands still: nothing expires
  Counting observer;
  cache.success().set_observer(&observer);
  testutil::StubPlugin backend([](Request& req, ResponseWriter& w) {
    wire::Message m = wire::MakeReply(req.msg);
    wire::Rr& rr = m.answer.emplace_back();
    rr.name = req.QName();
    rr.type = wire::type::kA;
    rr.ttl = 3600;
    rr.rdata = {192, 0, 2, 1};
    w.WriteMsg(m);
    return Result{};
  });
  cache.SetNext(&backend);

  int64_t hot_queries = 0;
  int64_t hot_hits = 0;
  size_t heap_after_warmup = 0;
  RunSync([&]() -> Task<void> {
    Request req = testutil::MakeRequest("x.flood.test.", wire::type::kA);
    auto ask = [&](const std::string& name) -> Task<void> {
      wire::Name::FromText(name, &req.msg.question[0].name);
      testutil::RecordingWriter w;
      co_await cache.ServeDns(req, w);
    };
    for (int i = 0; i < kColdNames; ++i) {
      co_await ask("c" + std::to_string(i) + ".flood.test.");
      for (int k = 0; k < kHotPerCold; ++k) {
        const int before = backend.calls;
        co_await ask("h" + std::to_string((i * kHotPerCold + k) % kHotNames) + ".flood.test.");
        ++hot_queries;
        hot_hits += backend.calls == before;
      }
      if (i == kWarmup) heap_after_warmup = mallinfo2().uordblks;
    }
  }());
  const size_t heap_at_end = mallinfo2().uordblks;

  const double hit_ratio = static_cast<double>(hot_hits) / static_cast<double>(hot_queries);
  RecordProperty("hot_hit_ratio", std::to_string(hit_ratio));
  EXPECT_GT(hit_ratio, 0.99);
  // Bounded: never more than the capacity, every insert beyond it evicted.
  EXPECT_EQ(cache.success().Capacity(), 9984u);
  EXPECT_LE(cache.success().Size(), cache.success().Capacity());
  EXPECT_EQ(observer.inserts - observer.removes, static_cast<int64_t>(cache.success().Size()));
  EXPECT_GE(observer.inserts, kColdNames);
  // The heap does not grow with the number of names once the cache is full.
  EXPECT_LT(heap_at_end, heap_after_warmup + heap_after_warmup / 10)
      << "after warm-up " << heap_after_warmup << " at end " << heap_at_end;
  std::printf("hot hit ratio %.5f, %ld hot queries, heap %zu -> %zu bytes, %zu entries\n",
              hit_ratio, static_cast<long>(hot_queries), heap_after_warmup, heap_at_end,
              cache.success().Size());
}

}  // namespace
}  // namespace warpdns::slowpath::cache
