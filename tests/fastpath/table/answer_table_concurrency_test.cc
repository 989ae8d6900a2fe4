// One writer replaces answers and publishes whole new TableSets in a tight
// loop while readers look up answers and check every octet of them: a torn
// entry or a read of a freed entry or table fails the check (and ASan or TSan
// report it in sanitizer builds).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fastpath/rcu/rcu.h"
#include "fastpath/table/answer_table.h"
#include "fastpath/table/query_key.h"
#include "fastpath/table/table_set.h"

namespace warpdns::fastpath {
namespace {

constexpr int kKeys = 64;
constexpr size_t kSlots = 256;
constexpr size_t kHeader = 12;

std::vector<QueryKey> MakeKeys() {
  std::vector<QueryKey> keys(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    const std::string label = "host" + std::to_string(i);
    std::vector<uint8_t> q = {0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
    q.push_back(static_cast<uint8_t>(label.size()));
    q.insert(q.end(), label.begin(), label.end());
    q.insert(q.end(), {0, 0, 1, 0, 1});
    EXPECT_TRUE(MakeQueryKey(q.data(), q.size(), 53, &keys[i]));
  }
  return keys;
}

// The reply for key `index` at `version`: a length that changes with the
// version, and after the header the version (8 octets) followed by octets
// that all derive from index and version. A reader can check every octet.
size_t ReplyLen(uint64_t version) { return kHeader + 8 + 16 + version % 997; }

uint8_t Fill(int index, uint64_t version) {
  return static_cast<uint8_t>(index * 37 + version * 11 + 1);
}

std::vector<uint8_t> MakeReply(int index, uint64_t version) {
  std::vector<uint8_t> r(ReplyLen(version), Fill(index, version));
  std::memset(r.data(), 0, kHeader);
  r[2] = 0x81;
  r[3] = 0x80;
  std::memcpy(r.data() + kHeader, &version, 8);
  return r;
}

// Checks a reply without its ID, as an entry holds it; returns its version,
// or nullopt if it is inconsistent.
std::optional<uint64_t> CheckReply(int index, const uint8_t* r, size_t len) {
  constexpr size_t kAfterId = kHeader - 2;
  if (len < kAfterId + 8 || r[0] != 0x81 || r[1] != 0x80) return std::nullopt;
  uint64_t version;
  std::memcpy(&version, r + kAfterId, 8);
  if (len + 2 != ReplyLen(version)) return std::nullopt;
  const uint8_t fill = Fill(index, version);
  for (size_t i = kAfterId + 8; i < len; ++i) {
    if (r[i] != fill) return std::nullopt;
  }
  return version;
}

struct ReaderStats {
  uint64_t lookups = 0;
  uint64_t hits = 0;
  uint64_t bad = 0;
  uint64_t went_backwards = 0;
  uint64_t tables_seen = 0;
};

TEST(AnswerTableConcurrencyTest, WriterReplacesAndRepublishesWhileReadersVerify) {
  constexpr int kReaders = 3;
  const auto kDuration = std::chrono::milliseconds(1500);
  const std::vector<QueryKey> keys = MakeKeys();

  std::string error;
  std::unique_ptr<rcu::Domain> domain = rcu::Domain::Create(kReaders + 1, &error);
  ASSERT_NE(domain, nullptr) << error;
  std::vector<rcu::ReaderHandle> handles;
  for (int r = 0; r < kReaders; ++r) {
    std::optional<rcu::ReaderHandle> h = domain->RegisterAny();
    ASSERT_TRUE(h.has_value());
    handles.push_back(std::move(*h));
  }

  uint64_t inserts = 0;
  uint64_t failed_inserts = 0;  // no ASSERT while readers run: it would skip the joins
  uint64_t tables_published = 0;
  size_t max_pending = 0;
  std::vector<ReaderStats> stats(kReaders);
  {
    rcu::Reclaimer reclaimer(*domain);
    uint64_t generation = 1;
    auto first = std::make_unique<TableSet>(kSlots, generation);
    TableSet* writable = first.get();
    rcu::Published<TableSet> tables(std::move(first));
    std::atomic<bool> stop{false};

    std::vector<std::thread> readers;
    for (int r = 0; r < kReaders; ++r) {
      readers.emplace_back([&, r] {
        rcu::ReaderHandle& rcu = handles[r];
        ReaderStats& s = stats[r];
        std::mt19937 rng(r + 1);
        std::vector<uint64_t> last_version(kKeys, 0);
        uint64_t last_generation = 0;
        std::vector<uint8_t> out(AnswerTable::kMaxReply + 2);
        const uint8_t id[2] = {0x5a, 0xa5};
        AnswerTable::Context ctx;
        rcu.Online();
        for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
          const TableSet& set = tables.Get();
          const uint64_t gen = set.answers.generation();
          if (gen < last_generation) ++s.went_backwards;
          if (gen != last_generation) ++s.tables_seen;
          last_generation = gen;
          const int index = static_cast<int>(rng() % kKeys);
          ++s.lookups;
          const size_t len = set.answers.Answer(keys[index], id, out.data(), out.size(), ctx);
          if (len != 0) {
            ++s.hits;
            const std::optional<uint64_t> version =
                out[0] == id[0] && out[1] == id[1] ? CheckReply(index, out.data() + 2, len - 2)
                                                   : std::nullopt;
            if (!version) {
              ++s.bad;
            } else {
              // Versions only grow, across tables too: a table is filled
              // only after every insert into the one it replaced.
              if (*version < last_version[index]) ++s.went_backwards;
              last_version[index] = *version;
            }
            // Read an entry in place too, while the writer goes on.
            const AnswerTable::Entry* e = set.answers.Find(keys[index]);
            if (e != nullptr && !CheckReply(index, e->reply(), e->reply_len)) ++s.bad;
          }
          rcu.Quiescent();
          // Now and then go offline, as an idle worker does.
          if (i % 4096 == 4095) {
            rcu.Offline();
            std::this_thread::yield();
            rcu.Online();
          }
        }
        rcu.Offline();
      });
    }

    std::mt19937 rng(99);
    uint64_t version = 0;
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + kDuration;
    auto next_publish = start;
    while (std::chrono::steady_clock::now() < deadline) {
      for (int n = 0; n < 256; ++n) {
        const int index = static_cast<int>(rng() % kKeys);
        const std::vector<uint8_t> reply = MakeReply(index, ++version);
        if (!writable->answers.Insert(keys[index], reply.data(), reply.size(), reclaimer)) {
          ++failed_inserts;
        }
        ++inserts;
      }
      reclaimer.ReclaimReady();
      max_pending = std::max(max_pending, reclaimer.pending());
      // A new generation every millisecond: a whole table, half filled
      // before it is published, goes in and the old one is retired.
      if (std::chrono::steady_clock::now() >= next_publish) {
        next_publish += std::chrono::milliseconds(1);
        auto next = std::make_unique<TableSet>(kSlots, ++generation);
        for (int index = 0; index < kKeys; index += 2) {
          const std::vector<uint8_t> reply = MakeReply(index, ++version);
          if (!next->answers.Insert(keys[index], reply.data(), reply.size(), reclaimer)) {
            ++failed_inserts;
          }
        }
        writable = next.get();
        tables.Publish(std::move(next), reclaimer);
        ++tables_published;
      }
    }
    stop.store(true);
    for (std::thread& t : readers) t.join();

    reclaimer.Drain();
    EXPECT_GE(writable->answers.size(), static_cast<size_t>(kKeys / 2)) << "prefilled at least";
    EXPECT_EQ(writable->answers.evictions(), 0u) << "a quarter full: no window fills up";
  }

  for (int r = 0; r < kReaders; ++r) {
    EXPECT_EQ(stats[r].bad, 0u) << "reader " << r;
    EXPECT_EQ(stats[r].went_backwards, 0u) << "reader " << r;
    EXPECT_GT(stats[r].lookups, 1000u) << "reader " << r;
    EXPECT_GT(stats[r].hits, stats[r].lookups / 4) << "reader " << r;
    EXPECT_GT(stats[r].tables_seen, 10u) << "reader " << r;
  }
  EXPECT_EQ(failed_inserts, 0u);
  EXPECT_GT(inserts, 10000u);
  EXPECT_GT(tables_published, 50u);
  // The writer never waits, so retired objects pile up only while a reader
  // is descheduled; they must not grow without bound.
  EXPECT_LT(max_pending, inserts);
  RecordProperty("inserts", std::to_string(inserts));
  RecordProperty("tables_published", std::to_string(tables_published));
  RecordProperty("max_pending", std::to_string(max_pending));
  RecordProperty("reader0_lookups", std::to_string(stats[0].lookups));
  RecordProperty("reader0_hits", std::to_string(stats[0].hits));
  RecordProperty("reader0_tables_seen", std::to_string(stats[0].tables_seen));
}

}  // namespace
}  // namespace warpdns::fastpath
