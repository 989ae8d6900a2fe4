// A writer publishes new versions in a tight loop while readers verify every
// version they see: a torn read or a read of a freed version fails the
// checksum (and ASan or TSan report it in sanitizer builds).
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fastpath/rcu/rcu.h"

namespace warpdns::fastpath::rcu {
namespace {

std::atomic<int64_t> live_versions{0};

uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

class Version {
 public:
  explicit Version(uint64_t seq) : seq_(seq) {
    for (size_t i = 0; i < words_.size(); ++i) words_[i] = Mix(seq * words_.size() + i);
    checksum_ = Checksum();
    live_versions.fetch_add(1, std::memory_order_relaxed);
  }
  ~Version() {
    // Poison through volatile so the stores survive dead-store elimination: a
    // reader still looking at a freed version then sees a bad checksum.
    volatile uint64_t* w = words_.data();
    for (size_t i = 0; i < words_.size(); ++i) w[i] = 0xdeaddeaddeaddeadULL;
    live_versions.fetch_sub(1, std::memory_order_relaxed);
  }

  uint64_t seq() const { return seq_; }
  bool Intact() const { return Checksum() == checksum_; }

 private:
  uint64_t Checksum() const {
    uint64_t c = seq_;
    for (uint64_t w : words_) c = Mix(c ^ w);
    return c;
  }

  uint64_t seq_;
  std::array<uint64_t, 48> words_;  // several cache lines: tearing would show
  uint64_t checksum_;
};

struct ReaderStats {
  uint64_t reads = 0;
  uint64_t versions_seen = 0;
  uint64_t bad = 0;
  uint64_t went_backwards = 0;
};

class RcuConcurrencyTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(RcuConcurrencyTest, WriterPublishesWhileReadersVerify) {
  constexpr int kReaders = 2;
  const uint32_t max_readers = GetParam();  // == kReaders: DPDK's check-all path; more: selective
  const auto kDuration = std::chrono::milliseconds(700);

  std::string error;
  std::unique_ptr<Domain> domain = Domain::Create(max_readers, &error);
  ASSERT_NE(domain, nullptr) << error;
  std::vector<ReaderHandle> handles;
  for (uint32_t id = 0; id < kReaders; ++id) {
    std::optional<ReaderHandle> h = domain->Register(id);
    ASSERT_TRUE(h.has_value());
    handles.push_back(std::move(*h));
  }

  uint64_t published_count = 0;
  size_t max_pending = 0;
  {
    Reclaimer reclaimer(*domain);
    Published<Version> current(std::make_unique<Version>(0));
    std::atomic<bool> stop{false};
    std::array<ReaderStats, kReaders> stats{};
    std::vector<std::thread> readers;
    for (int r = 0; r < kReaders; ++r) {
      readers.emplace_back([&, r] {
        ReaderHandle& rcu = handles[r];
        ReaderStats& s = stats[r];
        uint64_t last_seq = 0;
        rcu.Online();
        for (uint64_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
          const Version& v = current.Get();
          // Hold the reference across a second full check: the writer keeps
          // publishing and reclaiming meanwhile.
          if (!v.Intact() || !v.Intact()) ++s.bad;
          if (v.seq() < last_seq) ++s.went_backwards;
          if (v.seq() != last_seq) ++s.versions_seen;
          last_seq = v.seq();
          ++s.reads;
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

    const auto deadline = std::chrono::steady_clock::now() + kDuration;
    while (std::chrono::steady_clock::now() < deadline) {
      current.Publish(std::make_unique<Version>(++published_count), reclaimer);
      reclaimer.ReclaimReady();
      max_pending = std::max(max_pending, reclaimer.pending());
    }
    stop.store(true);
    for (std::thread& t : readers) t.join();

    for (int r = 0; r < kReaders; ++r) {
      EXPECT_EQ(stats[r].bad, 0u) << "reader " << r;
      EXPECT_EQ(stats[r].went_backwards, 0u) << "reader " << r;
      EXPECT_GT(stats[r].reads, 1000u) << "reader " << r;
      EXPECT_GT(stats[r].versions_seen, 10u) << "reader " << r;
    }
    reclaimer.Drain();
    EXPECT_EQ(live_versions.load(), 1) << "only the current version is left";
    EXPECT_EQ(current.Get().seq(), published_count);
  }
  EXPECT_EQ(live_versions.load(), 0);
  EXPECT_GT(published_count, 1000u);
  // The writer never waits, so versions pile up only while a reader is
  // descheduled (two cores, three threads); they must not grow without bound.
  EXPECT_LT(max_pending, published_count);
  RecordProperty("published", std::to_string(published_count));
  RecordProperty("max_pending", std::to_string(max_pending));
}

INSTANTIATE_TEST_SUITE_P(ReaderSlots, RcuConcurrencyTest, ::testing::Values(2u, 5u));

}  // namespace
}  // namespace warpdns::fastpath::rcu
