#include "fastpath/table/counter_bank.h"

#include <map>
#include <memory>
#include <mutex>

namespace warpdns::fastpath {

struct CounterBank::State {
  std::mutex mu;  // guards names and row creation; never taken by a worker
  std::map<std::string, uint16_t> names;
  std::atomic<size_t> rows{0};
  std::unique_ptr<std::atomic<uint64_t>[]> cells{new std::atomic<uint64_t>[kRows * kCounters]()};
};

CounterBank& CounterBank::Get() {
  static CounterBank* bank = new CounterBank;  // never destroyed: workers may outlive statics
  return *bank;
}

CounterBank::State& CounterBank::state() const {
  static State* s = new State;
  return *s;
}

CounterBank::Row CounterBank::AddRow() {
  State& s = state();
  std::lock_guard lock(s.mu);
  const size_t r = s.rows.load(std::memory_order_relaxed);
  if (r == kRows) return nullptr;
  s.rows.store(r + 1, std::memory_order_release);
  return s.cells.get() + r * kCounters;
}

uint16_t CounterBank::Id(const std::string& name) {
  State& s = state();
  std::lock_guard lock(s.mu);
  auto it = s.names.find(name);
  if (it != s.names.end()) return it->second;
  if (s.names.size() + 1 >= kCounters) return 0;
  const auto id = static_cast<uint16_t>(s.names.size() + 1);
  s.names.emplace(name, id);
  return id;
}

uint64_t CounterBank::Sum(uint16_t id) const {
  const State& s = state();
  uint64_t total = 0;
  const size_t rows = s.rows.load(std::memory_order_acquire);
  for (size_t r = 0; r < rows; ++r) {
    total += s.cells[r * kCounters + id].load(std::memory_order_relaxed);
  }
  return total;
}

}  // namespace warpdns::fastpath
