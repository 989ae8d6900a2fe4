#include "fastpath/table/stats_bank.h"

#include <map>
#include <memory>
#include <mutex>
#include <vector>

namespace warpdns::fastpath {

struct StatsBank::State {
  std::mutex mu;  // guards everything but the rows' cells; never taken by a worker
  std::map<std::string, uint16_t> names;
  std::vector<Row> free;
  // Rows handed out so far; a reader sums rows_[0, count).
  std::unique_ptr<Slot[]> rows[kRows];
  std::atomic<size_t> count{0};
};

StatsBank& StatsBank::Get() {
  static StatsBank* bank = new StatsBank;  // never destroyed: workers may outlive statics
  return *bank;
}

StatsBank::State& StatsBank::state() const {
  static State* s = new State;
  return *s;
}

StatsBank::Row StatsBank::AddRow() {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (!s.free.empty()) {
    Row row = s.free.back();
    s.free.pop_back();
    return row;
  }
  const size_t r = s.count.load(std::memory_order_relaxed);
  if (r == kRows) return nullptr;
  s.rows[r].reset(new Slot[kSlots]());
  s.count.store(r + 1, std::memory_order_release);
  return s.rows[r].get();
}

void StatsBank::ReleaseRow(Row row) {
  if (row == nullptr) return;
  State& s = state();
  std::lock_guard lock(s.mu);
  s.free.push_back(row);
}

uint16_t StatsBank::Id(const std::string& name) {
  State& s = state();
  std::lock_guard lock(s.mu);
  auto it = s.names.find(name);
  if (it != s.names.end()) return it->second;
  if (s.names.size() + 1 >= kSlots) return 0;
  const auto id = static_cast<uint16_t>(s.names.size() + 1);
  s.names.emplace(name, id);
  return id;
}

StatsBank::Totals StatsBank::Sum(uint16_t id) const {
  const State& s = state();
  Totals t{};
  const size_t rows = s.count.load(std::memory_order_acquire);
  auto add = [](uint64_t& to, const std::atomic<uint64_t>& from) {
    to += from.load(std::memory_order_relaxed);
  };
  for (size_t r = 0; r < rows; ++r) {
    const Slot& slot = s.rows[r][id];
    add(t.requests[1], slot.requests[1]);
    add(t.do_requests, slot.do_requests);
    for (size_t k = 0; k <= kSizeBounds; ++k) {
      add(t.request_size[k], slot.request_size[k]);
      add(t.response_size[k], slot.response_size[k]);
    }
    add(t.request_size_sum, slot.request_size_sum);
    add(t.response_size_sum, slot.response_size_sum);
    for (size_t k = 0; k <= kDurationBounds; ++k) add(t.duration[k], slot.duration[k]);
    add(t.duration_sum_ns, slot.duration_sum_ns);
  }
  uint64_t requests = 0;
  for (size_t k = 0; k <= kSizeBounds; ++k) requests += t.request_size[k];
  t.requests[0] = requests - t.requests[1];
  return t;
}

}  // namespace warpdns::fastpath
