// Counters the fast path keeps for slow-path metrics (a cache plugin's hits,
// say): every worker owns a row and is its row's only writer, so a hit costs
// one plain store to a line no other core writes. The slow path names a
// counter once (Id) and sums the rows at scrape time (Sum).
#ifndef WARPDNS_FASTPATH_TABLE_COUNTER_BANK_H_
#define WARPDNS_FASTPATH_TABLE_COUNTER_BANK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace warpdns::fastpath {

class CounterBank {
 public:
  static constexpr size_t kCounters = 1024;  // id 0 means "none"
  static constexpr size_t kRows = 256;

  using Row = std::atomic<uint64_t>*;

  // The process's bank.
  static CounterBank& Get();

  // A row for one worker (nullptr when all are taken); rows are never
  // returned, a restarted worker takes a new one. Any thread.
  Row AddRow();
  // The id named `name`, the same for the same name across reloads (0 when
  // the bank is full). Slow path.
  uint16_t Id(const std::string& name);
  // The total of counter `id` over every row. Any thread.
  uint64_t Sum(uint16_t id) const;

  // Fast path: the row's owner only; never blocks.
  static void Bump(Row row, uint16_t id) noexcept {
    std::atomic<uint64_t>& c = row[id];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

 private:
  CounterBank() = default;
  struct State;
  State& state() const;
};

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_TABLE_COUNTER_BANK_H_
