#include "fastpath/table/log_bank.h"

#include <map>
#include <mutex>
#include <vector>

namespace warpdns::fastpath {

size_t LogRing::Drain(const std::function<void(const LogRecord&)>& fn) {
  const uint64_t head = head_.load(std::memory_order_acquire);
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  const size_t n = head - tail;
  for (; tail != head; ++tail) fn(records_[tail % kRecords]);
  tail_.store(tail, std::memory_order_release);
  return n;
}

struct LogBank::State {
  std::mutex mu;          // guards the registries
  std::mutex drain_mu;    // one drainer at a time
  std::vector<std::unique_ptr<LogRing>> rings;
  std::vector<LogRing*> free;
  std::map<std::string, uint16_t> names;
  std::vector<SinkFn> sinks{SinkFn()};  // index 0: none
};

LogBank& LogBank::Get() {
  static LogBank* bank = new LogBank;  // never destroyed: workers may outlive statics
  return *bank;
}

LogBank::State& LogBank::state() const {
  static State* s = new State;
  return *s;
}

LogRing* LogBank::AddRing() {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (!s.free.empty()) {
    LogRing* r = s.free.back();
    s.free.pop_back();
    return r;
  }
  s.rings.push_back(std::make_unique<LogRing>());
  return s.rings.back().get();
}

void LogBank::ReleaseRing(LogRing* ring) {
  if (ring == nullptr) return;
  State& s = state();
  std::lock_guard lock(s.mu);
  s.free.push_back(ring);
}

uint16_t LogBank::Sink(const std::string& name, SinkFn fn) {
  State& s = state();
  std::lock_guard lock(s.mu);
  auto it = s.names.find(name);
  if (it != s.names.end()) return it->second;
  if (s.sinks.size() > UINT16_MAX) return 0;
  const auto id = static_cast<uint16_t>(s.sinks.size());
  s.sinks.push_back(std::move(fn));
  s.names.emplace(name, id);
  return id;
}

size_t LogBank::Drain(const std::function<void(const std::string&)>& write) {
  State& s = state();
  std::lock_guard drain(s.drain_mu);
  std::vector<LogRing*> rings;
  std::vector<SinkFn> sinks;
  {
    std::lock_guard lock(s.mu);
    for (const auto& r : s.rings) rings.push_back(r.get());
    sinks = s.sinks;
  }
  size_t n = 0;
  for (LogRing* r : rings) {
    n += r->Drain([&](const LogRecord& rec) {
      if (rec.sink < sinks.size() && sinks[rec.sink]) write(sinks[rec.sink](rec));
    });
  }
  return n;
}

uint64_t LogBank::Dropped() const {
  State& s = state();
  std::lock_guard lock(s.mu);
  uint64_t n = 0;
  for (const auto& r : s.rings) n += r->dropped();
  return n;
}

}  // namespace warpdns::fastpath
