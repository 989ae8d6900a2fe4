#include "slowpath/publish/publisher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fastpath/rcu/rcu.h"
#include "fastpath/table/answer_table.h"
#include "fastpath/table/generation.h"
#include "fastpath/table/query_key.h"
#include "fastpath/table/table_set.h"

namespace warpdns::slowpath {
namespace {

using fastpath::AnswerTable;
using fastpath::QueryKey;
using Bytes = std::vector<uint8_t>;

QueryKey KeyFor(const std::string& label) {
  Bytes q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  q.push_back(static_cast<uint8_t>(label.size()));
  q.insert(q.end(), label.begin(), label.end());
  q.insert(q.end(), {0, 0, 1, 0, 1});
  QueryKey key;
  EXPECT_TRUE(fastpath::MakeQueryKey(q.data(), q.size(), 53, &key)) << label;
  return key;
}

Bytes Reply(size_t len, uint8_t fill) {
  Bytes r(len, fill);
  r[0] = 0xab;
  r[1] = 0xcd;
  return r;
}

PublisherOptions SmallOptions() {
  PublisherOptions o;
  o.answer_slots = 1024;
  o.max_readers = 4;
  return o;
}

// Reads the published tables as a fast-path worker does: online around the
// access, so the publisher cannot free what is being read.
class Reader {
 public:
  explicit Reader(Publisher& p) : publisher_(p), handle_(p.RegisterReader()) {
    EXPECT_TRUE(handle_.has_value());
  }

  // The reply (after the ID) for `key` in the current tables, or nullopt.
  std::optional<Bytes> Lookup(const QueryKey& key) {
    handle_->Online();
    std::optional<Bytes> out;
    if (const AnswerTable::Entry* e = publisher_.tables().Get().answers.Find(key)) {
      out.emplace(e->reply(), e->reply() + e->reply_len);
    }
    handle_->Offline();
    return out;
  }

  uint64_t Generation() {
    handle_->Online();
    const uint64_t g = publisher_.tables().Get().answers.generation();
    handle_->Offline();
    return g;
  }

  bool Current() {
    handle_->Online();
    const bool current = publisher_.tables().Get().Current();
    handle_->Offline();
    return current;
  }

 private:
  Publisher& publisher_;
  std::optional<fastpath::rcu::ReaderHandle> handle_;
};

TEST(PublisherTest, StartsWithOneEmptyCurrentTable) {
  Publisher p(SmallOptions());
  Reader reader(p);
  const Publisher::Stats s = p.stats();
  EXPECT_EQ(s.published, 1u);
  EXPECT_EQ(s.memoized, 0u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.slots, 1024u);
  EXPECT_EQ(reader.Generation(), fastpath::DataGeneration());
  EXPECT_TRUE(reader.Current());
  EXPECT_FALSE(reader.Lookup(KeyFor("www")).has_value());
}

TEST(PublisherTest, MemoizeThenFlushIsVisible) {
  Publisher p(SmallOptions());
  Reader reader(p);
  const Bytes reply = Reply(40, 7);
  p.Memoize(KeyFor("www"), reply.data(), reply.size(), fastpath::DataGeneration());
  p.Flush();
  const std::optional<Bytes> got = reader.Lookup(KeyFor("www"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, Bytes(reply.begin() + 2, reply.end()));
  EXPECT_FALSE(reader.Lookup(KeyFor("ftp")).has_value());
  const Publisher::Stats s = p.stats();
  EXPECT_EQ(s.memoized, 1u);
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.published, 1u);
}

TEST(PublisherTest, ManyMemoizesFromSeveralThreads) {
  Publisher p(SmallOptions());
  Reader reader(p);
  const uint64_t gen = fastpath::DataGeneration();
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const Bytes reply = Reply(20 + i, static_cast<uint8_t>(t));
        p.Memoize(KeyFor("t" + std::to_string(t) + "k" + std::to_string(i)), reply.data(),
                  reply.size(), gen);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  p.Flush();
  for (int t = 0; t < 2; ++t) {
    for (int i = 0; i < 200; ++i) {
      const std::optional<Bytes> got =
          reader.Lookup(KeyFor("t" + std::to_string(t) + "k" + std::to_string(i)));
      ASSERT_TRUE(got.has_value()) << t << " " << i;
      EXPECT_EQ(got->size(), 18u + i);
    }
  }
  EXPECT_EQ(p.stats().memoized, 400u);
  EXPECT_EQ(p.stats().entries, 400u);
}

TEST(PublisherTest, MemoizeReplaces) {
  Publisher p(SmallOptions());
  Reader reader(p);
  const uint64_t gen = fastpath::DataGeneration();
  const Bytes first = Reply(30, 1), second = Reply(50, 2);
  p.Memoize(KeyFor("www"), first.data(), first.size(), gen);
  p.Flush();
  p.Memoize(KeyFor("www"), second.data(), second.size(), gen);
  p.Flush();
  const std::optional<Bytes> got = reader.Lookup(KeyFor("www"));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, Bytes(second.begin() + 2, second.end()));
  EXPECT_EQ(p.stats().memoized, 2u);
  EXPECT_EQ(p.stats().entries, 1u);
}

TEST(PublisherTest, NewGenerationPublishesAFreshTable) {
  Publisher p(SmallOptions());
  Reader reader(p);
  const uint64_t old_gen = fastpath::DataGeneration();
  const Bytes reply = Reply(40, 7);
  p.Memoize(KeyFor("old"), reply.data(), reply.size(), old_gen);
  p.Flush();
  ASSERT_TRUE(reader.Lookup(KeyFor("old")).has_value());

  fastpath::BumpDataGeneration();
  const uint64_t new_gen = fastpath::DataGeneration();
  ASSERT_GT(new_gen, old_gen);
  // Until the publisher swaps, readers see the old table as stale.
  if (reader.Generation() == old_gen) {
    EXPECT_FALSE(reader.Current());
  }

  // Made under the old data: dropped, not served under the new.
  p.Memoize(KeyFor("stale"), reply.data(), reply.size(), old_gen);
  p.Memoize(KeyFor("new"), reply.data(), reply.size(), new_gen);
  p.Flush();
  EXPECT_EQ(reader.Generation(), new_gen);
  EXPECT_TRUE(reader.Current());
  EXPECT_FALSE(reader.Lookup(KeyFor("old")).has_value()) << "old entries are gone";
  EXPECT_FALSE(reader.Lookup(KeyFor("stale")).has_value());
  EXPECT_TRUE(reader.Lookup(KeyFor("new")).has_value());
  const Publisher::Stats s = p.stats();
  EXPECT_EQ(s.published, 2u);
  EXPECT_EQ(s.memoized, 2u);
  EXPECT_EQ(s.dropped, 1u);
  EXPECT_EQ(s.entries, 1u) << "stats follow the new table";
}

TEST(PublisherTest, IdlePublisherNoticesANewGeneration) {
  Publisher p(SmallOptions());
  Reader reader(p);
  fastpath::BumpDataGeneration();
  const uint64_t gen = fastpath::DataGeneration();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (p.stats().published < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(p.stats().published, 2u);
  EXPECT_EQ(reader.Generation(), gen);
}

TEST(PublisherTest, FutureGenerationIsDroppedToo) {
  // A memoize made under a generation the publisher has not seen yet (it
  // raced with a bump) does not go into the table of the current one.
  Publisher p(SmallOptions());
  Reader reader(p);
  const Bytes reply = Reply(40, 7);
  p.Memoize(KeyFor("www"), reply.data(), reply.size(), fastpath::DataGeneration() + 1000);
  p.Flush();
  EXPECT_FALSE(reader.Lookup(KeyFor("www")).has_value());
  EXPECT_EQ(p.stats().dropped, 1u);
}

TEST(PublisherTest, TooLongOrTooShortRepliesAreDropped) {
  Publisher p(SmallOptions());
  Reader reader(p);
  const uint64_t gen = fastpath::DataGeneration();
  const Bytes longest = Reply(AnswerTable::kMaxReply + 2, 1);
  const Bytes too_long = Reply(AnswerTable::kMaxReply + 3, 1);
  const Bytes too_short = Reply(11, 1);
  p.Memoize(KeyFor("a"), too_long.data(), too_long.size(), gen);
  EXPECT_EQ(p.stats().dropped, 1u) << "dropped before it is queued";
  p.Memoize(KeyFor("b"), too_short.data(), too_short.size(), gen);
  p.Memoize(KeyFor("c"), longest.data(), longest.size(), gen);
  p.Flush();
  EXPECT_FALSE(reader.Lookup(KeyFor("a")).has_value());
  EXPECT_FALSE(reader.Lookup(KeyFor("b")).has_value());
  EXPECT_TRUE(reader.Lookup(KeyFor("c")).has_value());
  const Publisher::Stats s = p.stats();
  EXPECT_EQ(s.dropped, 2u);
  EXPECT_EQ(s.memoized, 1u);
}

TEST(PublisherTest, FullQueueDrops) {
  PublisherOptions o = SmallOptions();
  o.max_queued = 0;
  Publisher p(o);
  const Bytes reply = Reply(40, 7);
  p.Memoize(KeyFor("www"), reply.data(), reply.size(), fastpath::DataGeneration());
  p.Flush();
  EXPECT_EQ(p.stats().dropped, 1u);
  EXPECT_EQ(p.stats().memoized, 0u);
}

TEST(PublisherTest, EvictionsShowInStats) {
  PublisherOptions o = SmallOptions();
  o.answer_slots = AnswerTable::kProbe;  // one probe window covers the table
  Publisher p(o);
  const uint64_t gen = fastpath::DataGeneration();
  const Bytes reply = Reply(40, 7);
  for (size_t i = 0; i <= AnswerTable::kProbe; ++i) {
    p.Memoize(KeyFor("k" + std::to_string(i)), reply.data(), reply.size(), gen);
  }
  p.Flush();
  const Publisher::Stats s = p.stats();
  EXPECT_EQ(s.slots, AnswerTable::kProbe);
  EXPECT_EQ(s.entries, AnswerTable::kProbe);
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(s.memoized, AnswerTable::kProbe + 1);
}

TEST(PublisherTest, ReadersRegisterUpToTheLimit) {
  PublisherOptions o = SmallOptions();
  o.max_readers = 2;
  Publisher p(o);
  std::optional<fastpath::rcu::ReaderHandle> a = p.RegisterReader();
  std::optional<fastpath::rcu::ReaderHandle> b = p.RegisterReader();
  EXPECT_TRUE(a.has_value());
  EXPECT_TRUE(b.has_value());
  EXPECT_FALSE(p.RegisterReader().has_value());
  a.reset();
  EXPECT_TRUE(p.RegisterReader().has_value());
}

// A reader holding the table across a generation change keeps it intact
// until it reports (ASan reports a read of the freed table otherwise).
TEST(PublisherTest, RetiredTableOutlivesItsReader) {
  Publisher p(SmallOptions());
  std::optional<fastpath::rcu::ReaderHandle> h = p.RegisterReader();
  ASSERT_TRUE(h.has_value());
  const Bytes reply = Reply(40, 7);
  p.Memoize(KeyFor("www"), reply.data(), reply.size(), fastpath::DataGeneration());
  p.Flush();

  h->Online();
  const fastpath::TableSet& held = p.tables().Get();
  fastpath::BumpDataGeneration();
  p.Memoize(KeyFor("x"), reply.data(), reply.size(), fastpath::DataGeneration());
  p.Flush();
  EXPECT_EQ(p.stats().published, 2u);
  // Give the publisher a few of its 10 ms rounds to try reclaiming.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const AnswerTable::Entry* e = held.answers.Find(KeyFor("www"));
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(Bytes(e->reply(), e->reply() + e->reply_len), Bytes(reply.begin() + 2, reply.end()));
  EXPECT_FALSE(held.Current());
  h->Quiescent();
  h->Offline();
}

}  // namespace
}  // namespace warpdns::slowpath
