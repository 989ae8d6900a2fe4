// Cycles per packet of each fast-path stage, for the pprof plugin's
// /debug/fastpath/stages endpoint. Off unless a profile is being taken: a
// worker then pays one relaxed load per burst. While on, each worker reads
// the TSC at its stage boundaries once per burst and adds the burst's cycles
// per packet to histograms in a row of its own (single writer).
#ifndef WARPDNS_FASTPATH_PROFILE_STAGE_PROFILE_H_
#define WARPDNS_FASTPATH_PROFILE_STAGE_PROFILE_H_

#include <x86intrin.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace warpdns::fastpath {

enum class Stage : uint8_t {
  kReceive,  // recvmmsg / rte_eth_rx_burst
  kKey,      // classify and build the answer table keys
  kAnswer,   // look up and write the answers (misses handed to the slow path)
  kSend,     // sendmmsg / rte_eth_tx_burst
  kCount
};

class StageProfile {
 public:
  static constexpr size_t kStages = static_cast<size_t>(Stage::kCount);
  // Bucket k counts bursts that cost [2^k, 2^(k+1)) cycles per packet.
  static constexpr size_t kBuckets = 24;

  struct Row {
    std::string worker;
    std::atomic<uint64_t> bursts[kStages][kBuckets];
    std::atomic<uint64_t> packets[kStages];
    std::atomic<uint64_t> cycles[kStages];
  };

  static StageProfile& Get();

  // A row named `worker` ("socket dns://:53#0", "dpdk 1"). Any thread.
  Row* AddRow(const std::string& worker);

  // True while a profile is being taken. Fast path: any thread; never
  // blocks.
  static bool On() noexcept { return on_.load(std::memory_order_relaxed); }
  static uint64_t Cycles() noexcept { return __rdtsc(); }
  // Adds one burst's `cycles` spent in `stage` on `packets` packets. Fast
  // path: the row's owner only; never blocks.
  static void Record(Row* row, Stage stage, uint64_t cycles, uint64_t packets) noexcept {
    if (row == nullptr || packets == 0) return;
    const auto s = static_cast<size_t>(stage);
    const uint64_t per = cycles / packets;
    const size_t b = per == 0 ? 0 : std::min<size_t>(63 - __builtin_clzll(per), kBuckets - 1);
    Add(row->bursts[s][b], 1);
    Add(row->packets[s], packets);
    Add(row->cycles[s], cycles);
  }

  // Profiles for `seconds` and returns the report (text). One at a time;
  // blocks the caller. Slow path.
  std::string Take(double seconds);

 private:
  StageProfile() = default;
  static void Add(std::atomic<uint64_t>& c, uint64_t n) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  static std::atomic<bool> on_;
  struct State;
  State& state() const;
};

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_PROFILE_STAGE_PROFILE_H_
