#include "fastpath/table/answer_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fastpath/rcu/rcu.h"
#include "fastpath/table/query_key.h"

namespace warpdns::fastpath {
namespace {

using Bytes = std::vector<uint8_t>;

// A key with a chosen hash, to place entries in chosen slots. The octets
// still tell keys apart: equal hashes alone must not make a hit.
QueryKey KeyWithHash(uint64_t hash, uint32_t tag) {
  QueryKey key;
  key.hash = hash;
  key.len = 8;
  std::memset(key.bytes, 0, key.len);
  std::memcpy(key.bytes, &tag, sizeof(tag));
  return key;
}

// A key made the real way, from a query for `qname` (one label).
QueryKey KeyFor(const std::string& label, uint16_t qtype = 1) {
  Bytes q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  q.push_back(static_cast<uint8_t>(label.size()));
  q.insert(q.end(), label.begin(), label.end());
  q.insert(q.end(), {0, static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), 0, 1});
  QueryKey key;
  EXPECT_TRUE(MakeQueryKey(q.data(), q.size(), 53, &key)) << label;
  return key;
}

// A reply of `len` octets: ID 0xabcd, then octets that depend on `seed`.
Bytes Reply(size_t len, uint8_t seed) {
  Bytes r(len);
  for (size_t i = 0; i < len; ++i) r[i] = static_cast<uint8_t>(seed + i * 7);
  if (len >= 2) {
    r[0] = 0xab;
    r[1] = 0xcd;
  }
  return r;
}

Bytes ReplyOf(const AnswerTable::Entry* e) { return Bytes(e->reply(), e->reply() + e->reply_len); }

class AnswerTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    domain_ = rcu::Domain::Create(1, &error);
    ASSERT_NE(domain_, nullptr) << error;
    reader_.emplace(*domain_->Register(0));
    reclaimer_ = std::make_unique<rcu::Reclaimer>(*domain_);
  }
  void TearDown() override {
    reader_.reset();  // offline: the reclaimer's destructor must not wait on it
    reclaimer_.reset();
  }

  bool Insert(AnswerTable& t, const QueryKey& key, const Bytes& reply) {
    return t.Insert(key, reply.data(), reply.size(), *reclaimer_);
  }

  std::unique_ptr<rcu::Domain> domain_;
  std::optional<rcu::ReaderHandle> reader_;
  std::unique_ptr<rcu::Reclaimer> reclaimer_;
};

TEST_F(AnswerTableTest, SlotsRoundUpToAPowerOfTwoOfAtLeastTheProbeWindow) {
  EXPECT_EQ(AnswerTable(1000, 1).slots(), 1024u);
  EXPECT_EQ(AnswerTable(1024, 1).slots(), 1024u);
  EXPECT_EQ(AnswerTable(1, 1).slots(), AnswerTable::kProbe);
  EXPECT_EQ(AnswerTable(0, 1).slots(), AnswerTable::kProbe);
}

TEST_F(AnswerTableTest, GenerationIsKept) {
  AnswerTable t(16, 42);
  EXPECT_EQ(t.generation(), 42u);
}

TEST_F(AnswerTableTest, InsertFindAnswer) {
  AnswerTable t(1024, 1);
  const QueryKey www = KeyFor("www");
  const Bytes reply = Reply(45, 3);
  EXPECT_EQ(t.Find(www), nullptr);
  EXPECT_EQ(t.size(), 0u);

  ASSERT_TRUE(Insert(t, www, reply));
  EXPECT_EQ(t.size(), 1u);
  const AnswerTable::Entry* e = t.Find(www);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->hash, www.hash);
  ASSERT_EQ(e->key_len, www.len);
  EXPECT_EQ(std::memcmp(e->key(), www.bytes, www.len), 0);
  EXPECT_EQ(ReplyOf(e), Bytes(reply.begin() + 2, reply.end())) << "stored without its ID";

  const uint8_t id[2] = {0x01, 0x02};
  AnswerTable::Context ctx;
  Bytes out(reply.size() + 10, 0xee);
  ASSERT_EQ(t.Answer(www, id, out.data(), out.size(), ctx), reply.size());
  Bytes want = reply;
  want[0] = 0x01;
  want[1] = 0x02;
  EXPECT_EQ(Bytes(out.begin(), out.begin() + reply.size()), want) << "the query's ID";
  EXPECT_EQ(out[reply.size()], 0xee) << "nothing written past the answer";

  // Capacity: exactly enough works, one octet less is a miss and writes nothing.
  Bytes exact(reply.size(), 0);
  EXPECT_EQ(t.Answer(www, id, exact.data(), exact.size(), ctx), reply.size());
  EXPECT_EQ(exact, want);
  Bytes small(reply.size() - 1, 0x55);
  EXPECT_EQ(t.Answer(www, id, small.data(), small.size(), ctx), 0u);
  EXPECT_EQ(small, Bytes(reply.size() - 1, 0x55));

  // Other keys miss, also one differing only in qtype.
  EXPECT_EQ(t.Find(KeyFor("ftp")), nullptr);
  EXPECT_EQ(t.Find(KeyFor("www", 28)), nullptr);
  EXPECT_EQ(t.Answer(KeyFor("ftp"), id, out.data(), out.size(), ctx), 0u);
  EXPECT_EQ(reclaimer_->pending(), 0u) << "a new key retires nothing";
}

// An answer with a metrics slot counts in the worker's row, and its duration
// at the end of the burst; a worker without a row leaves it to the slow path.
TEST_F(AnswerTableTest, CountedAnswersNeedARow) {
  AnswerTable t(64, 1);
  const QueryKey www = KeyFor("www");
  const Bytes reply = Reply(45, 3);
  const uint16_t slot = StatsBank::Get().Id("answer-table-test");
  // The size counted is the one the slow path reported (CoreDNS's, uncompressed).
  ASSERT_TRUE(t.Insert(www, reply.data(), reply.size(), *reclaimer_, nullptr, 0,
                       {.stats = slot, .rsize = 61}));
  const uint8_t id[2] = {0, 1};
  Bytes out(reply.size());
  AnswerTable::Context ctx;
  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const Client client{2, v6, 5353};
  EXPECT_EQ(t.Answer(www, id, out.data(), out.size(), ctx, 30, client), 0u);
  ctx.stats = StatsBank::Get().AddRow();
  ctx.now_ns = 1000;
  EXPECT_EQ(t.Answer(www, id, out.data(), out.size(), ctx, 30, client), reply.size());
  EXPECT_EQ(ctx.burst_count, 1u);
  ctx.FinishBurst(1000 + 300'000);
  EXPECT_EQ(ctx.burst_count, 0u);
  const StatsBank::Totals totals = StatsBank::Get().Sum(slot);
  EXPECT_EQ(totals.requests[1], 1u);
  EXPECT_EQ(totals.request_size_sum, 30u);
  EXPECT_EQ(totals.response_size_sum, 61u);
  EXPECT_EQ(totals.duration[1], 1u);  // 0.3 ms: the 0.5 ms bucket
  StatsBank::Get().ReleaseRow(ctx.stats);
}

// A logged answer reserves a record in the worker's ring; the burst's end
// gives it its duration and makes it visible to the drainer.
TEST_F(AnswerTableTest, LoggedAnswersGoToTheWorkersRing) {
  AnswerTable t(64, 1);
  const QueryKey www = KeyFor("www");
  const Bytes reply = Reply(45, 3);
  const uint16_t sink = LogBank::Get().Sink("answer-table-test", [](const LogRecord& r) {
    return "id " + std::to_string(r.id) + " port " + std::to_string(r.port) + " took " +
           std::to_string(r.duration_ns) + " rsize " + std::to_string(r.rsize) + " addr " +
           std::to_string(r.addr[3]);
  });
  ASSERT_NE(sink, 0);
  ASSERT_TRUE(t.Insert(www, reply.data(), reply.size(), *reclaimer_, nullptr, 0,
                       {.log = sink, .rsize = 77}));
  const uint8_t id[2] = {1, 2};
  const uint8_t v4[4] = {192, 0, 2, 9};
  Bytes out(reply.size());
  AnswerTable::Context ctx;
  EXPECT_EQ(t.Answer(www, id, out.data(), out.size(), ctx, 30, {1, v4, 4000}), 0u) << "no ring";
  LogRing ring;
  ctx.log = &ring;
  ctx.now_ns = 5000;
  EXPECT_EQ(t.Answer(www, id, out.data(), out.size(), ctx, 30, {1, v4, 4000}), reply.size());
  std::vector<std::string> lines;
  auto collect = [&](const std::string& line) { lines.push_back(line); };
  EXPECT_EQ(ring.Drain([&](const LogRecord&) { lines.push_back("early"); }), 0u)
      << "nothing visible before the burst ends";
  ctx.FinishBurst(5000 + 42);
  EXPECT_EQ(ring.Drain([&](const LogRecord& r) {
    collect(std::string(reinterpret_cast<const char*>(r.key) + 5, 3) + " " +
            std::to_string(r.reply_len) + " " + std::to_string(r.duration_ns));
  }), 1u);
  EXPECT_EQ(lines, std::vector<std::string>{"www 45 42"});
}

// An answer made from a source is skipped once the source has changed; the
// rest of the table stays.
TEST_F(AnswerTableTest, ChangedSourceRetiresOnlyItsAnswers) {
  AnswerTable t(64, 1);
  const uint16_t source = SourceId("answer-table-test");
  ASSERT_NE(source, 0);
  const QueryKey svc = KeyFor("svc");
  const QueryKey www = KeyFor("www");
  const Bytes reply = Reply(45, 3);
  ASSERT_TRUE(t.Insert(svc, reply.data(), reply.size(), *reclaimer_, nullptr, 0,
                       {.source = source, .source_gen = SourceGeneration(source)}));
  ASSERT_TRUE(Insert(t, www, reply));
  const uint8_t id[2] = {0, 1};
  Bytes out(reply.size());
  AnswerTable::Context ctx;
  EXPECT_EQ(t.Answer(svc, id, out.data(), out.size(), ctx), reply.size());
  const uint64_t changes = DataChanges();
  BumpSourceGeneration(source);
  EXPECT_GT(DataChanges(), changes);
  EXPECT_EQ(t.Answer(svc, id, out.data(), out.size(), ctx), 0u);
  EXPECT_EQ(t.Answer(www, id, out.data(), out.size(), ctx), reply.size());
  // The new reply, made at the new generation, takes the key's place.
  ASSERT_TRUE(t.Insert(svc, reply.data(), reply.size(), *reclaimer_, nullptr, 0,
                       {.source = source, .source_gen = SourceGeneration(source)}));
  EXPECT_EQ(t.Answer(svc, id, out.data(), out.size(), ctx), reply.size());
}

TEST(LogRingTest, AFullRingDropsAndCounts) {
  LogRing ring;
  size_t reserved = 0;
  while (ring.Reserve(reserved) != nullptr) ++reserved;
  EXPECT_EQ(reserved, LogRing::kRecords);
  EXPECT_EQ(ring.dropped(), 1u);
  ring.Publish(reserved);
  EXPECT_EQ(ring.Drain([](const LogRecord&) {}), reserved);
  EXPECT_NE(ring.Reserve(0), nullptr);
}

TEST_F(AnswerTableTest, ManyKeys) {
  AnswerTable t(4096, 1);
  constexpr int kKeys = 1000;  // a quarter full: no window fills up
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(Insert(t, KeyFor("k" + std::to_string(i)), Reply(20 + i % 50, i)));
  }
  EXPECT_EQ(t.size(), static_cast<size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) {
    const Bytes reply = Reply(20 + i % 50, i);
    const AnswerTable::Entry* e = t.Find(KeyFor("k" + std::to_string(i)));
    ASSERT_NE(e, nullptr) << i;
    EXPECT_EQ(ReplyOf(e), Bytes(reply.begin() + 2, reply.end())) << i;
  }
  EXPECT_EQ(t.Find(KeyFor("k" + std::to_string(kKeys))), nullptr);
}

TEST_F(AnswerTableTest, EqualHashDifferentKeyIsAMiss) {
  AnswerTable t(64, 1);
  ASSERT_TRUE(Insert(t, KeyWithHash(5, 1), Reply(20, 1)));
  EXPECT_EQ(t.Find(KeyWithHash(5, 2)), nullptr);
  QueryKey shorter = KeyWithHash(5, 1);
  shorter.len = 7;
  EXPECT_EQ(t.Find(shorter), nullptr);
  ASSERT_TRUE(Insert(t, KeyWithHash(5, 2), Reply(20, 2)));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(ReplyOf(t.Find(KeyWithHash(5, 1)))[0], Reply(20, 1)[2]);
  EXPECT_EQ(ReplyOf(t.Find(KeyWithHash(5, 2)))[0], Reply(20, 2)[2]);
}

TEST_F(AnswerTableTest, ReplaceRetiresTheOldEntryUntilReadersMoveOn) {
  AnswerTable t(64, 1);
  const QueryKey key = KeyFor("www");
  ASSERT_TRUE(Insert(t, key, Reply(30, 1)));

  reader_->Online();
  const AnswerTable::Entry* old = t.Find(key);
  ASSERT_NE(old, nullptr);

  ASSERT_TRUE(Insert(t, key, Reply(40, 2)));
  EXPECT_EQ(t.size(), 1u) << "a replacement is not a new entry";
  EXPECT_EQ(t.evictions(), 0u);
  const AnswerTable::Entry* now = t.Find(key);
  ASSERT_NE(now, nullptr);
  EXPECT_NE(now, old);
  EXPECT_EQ(now->reply_len, 38u);
  EXPECT_EQ(reclaimer_->pending(), 1u);

  // The reader still holds the old entry: it must stay intact (ASan would
  // report a read of freed memory here).
  EXPECT_EQ(reclaimer_->ReclaimReady(), 0u);
  const Bytes old_reply = Reply(30, 1);
  EXPECT_EQ(ReplyOf(old), Bytes(old_reply.begin() + 2, old_reply.end()));

  reader_->Quiescent();
  EXPECT_EQ(reclaimer_->ReclaimReady(), 1u) << "freed once the reader reported";
  EXPECT_EQ(reclaimer_->pending(), 0u);
  reader_->Offline();

  // With no reader online the grace period is over at once.
  ASSERT_TRUE(Insert(t, key, Reply(50, 3)));
  EXPECT_EQ(reclaimer_->ReclaimReady(), 1u);
  EXPECT_EQ(t.Find(key)->reply_len, 48u);
}

TEST_F(AnswerTableTest, ReplyLengthLimits) {
  AnswerTable t(64, 1);
  EXPECT_FALSE(Insert(t, KeyFor("a"), Reply(0, 0)));
  EXPECT_FALSE(Insert(t, KeyFor("a"), Reply(11, 0))) << "shorter than a header";
  EXPECT_TRUE(Insert(t, KeyFor("b"), Reply(12, 0)));
  EXPECT_TRUE(Insert(t, KeyFor("c"), Reply(AnswerTable::kMaxReply + 2, 0)));
  EXPECT_FALSE(Insert(t, KeyFor("d"), Reply(AnswerTable::kMaxReply + 3, 0)));
  EXPECT_FALSE(Insert(t, KeyFor("e"), Reply(65535, 0)));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.Find(KeyFor("a")), nullptr);
  EXPECT_EQ(t.Find(KeyFor("d")), nullptr);
  ASSERT_NE(t.Find(KeyFor("c")), nullptr);
  EXPECT_EQ(t.Find(KeyFor("c"))->reply_len, AnswerTable::kMaxReply);

  // A rejected replacement keeps the old entry.
  EXPECT_FALSE(Insert(t, KeyFor("b"), Reply(AnswerTable::kMaxReply + 3, 0)));
  ASSERT_NE(t.Find(KeyFor("b")), nullptr);
  EXPECT_EQ(t.Find(KeyFor("b"))->reply_len, 10u);
  EXPECT_EQ(reclaimer_->pending(), 0u);
}

TEST_F(AnswerTableTest, FullProbeWindowEvicts) {
  AnswerTable t(1024, 1);
  constexpr uint64_t kHome = 100;
  // kProbe keys with one home slot fill its window.
  for (uint32_t i = 0; i < AnswerTable::kProbe; ++i) {
    ASSERT_TRUE(Insert(t, KeyWithHash(kHome | (uint64_t{i} << 40), i), Reply(20, i)));
  }
  EXPECT_EQ(t.size(), AnswerTable::kProbe);
  EXPECT_EQ(t.evictions(), 0u);
  for (uint32_t i = 0; i < AnswerTable::kProbe; ++i) {
    EXPECT_NE(t.Find(KeyWithHash(kHome | (uint64_t{i} << 40), i)), nullptr) << i;
  }

  // One more: it takes the slot its hash bits 40+ pick (here 3), the one
  // there is gone.
  const QueryKey extra = KeyWithHash(kHome | (uint64_t{3} << 40), 100);
  ASSERT_TRUE(Insert(t, extra, Reply(20, 100)));
  EXPECT_EQ(t.evictions(), 1u);
  EXPECT_EQ(t.size(), AnswerTable::kProbe) << "an eviction is not a new entry";
  EXPECT_EQ(reclaimer_->pending(), 1u) << "the victim is retired";
  EXPECT_NE(t.Find(extra), nullptr);
  EXPECT_EQ(t.Find(KeyWithHash(kHome | (uint64_t{3} << 40), 3)), nullptr);
  int found = 0;
  for (uint32_t i = 0; i < AnswerTable::kProbe; ++i) {
    found += t.Find(KeyWithHash(kHome | (uint64_t{i} << 40), i)) != nullptr;
  }
  EXPECT_EQ(found, static_cast<int>(AnswerTable::kProbe) - 1);

  // Replacing a key that is in the full window is not an eviction.
  ASSERT_TRUE(Insert(t, extra, Reply(30, 101)));
  EXPECT_EQ(t.evictions(), 1u);
  EXPECT_EQ(t.Find(extra)->reply_len, 28u);
  EXPECT_EQ(reclaimer_->ReclaimReady(), 2u);

  // The neighbouring home slot's window overlaps: 7 of its 8 slots are taken.
  const QueryKey neighbour = KeyWithHash(kHome + 1, 200);
  ASSERT_TRUE(Insert(t, neighbour, Reply(20, 200)));
  EXPECT_EQ(t.evictions(), 1u);
  EXPECT_NE(t.Find(neighbour), nullptr);
}

TEST_F(AnswerTableTest, WindowWrapsAroundTheEnd) {
  AnswerTable t(8, 1);  // every window is the whole table
  for (uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(Insert(t, KeyWithHash(7, i), Reply(20, i)));
  EXPECT_EQ(t.evictions(), 0u);
  for (uint32_t i = 0; i < 8; ++i) EXPECT_NE(t.Find(KeyWithHash(7, i)), nullptr) << i;
  ASSERT_TRUE(Insert(t, KeyWithHash(0, 99), Reply(20, 99)));
  EXPECT_EQ(t.evictions(), 1u);
  EXPECT_EQ(t.size(), 8u);
  EXPECT_NE(t.Find(KeyWithHash(0, 99)), nullptr);
}

// Entries still in the table when it goes are freed by its destructor, those
// retired by the reclaimer (LeakSanitizer checks both in the ASan build).
TEST_F(AnswerTableTest, DestructionFreesEverything) {
  auto t = std::make_unique<AnswerTable>(16, 1);
  for (uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(Insert(*t, KeyWithHash(i, i), Reply(100, i)));
  ASSERT_TRUE(Insert(*t, KeyWithHash(1, 1), Reply(100, 9)));
  t.reset();
  EXPECT_EQ(reclaimer_->Drain(), 1u);
}

}  // namespace
}  // namespace warpdns::fastpath
