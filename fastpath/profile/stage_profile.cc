#include "fastpath/profile/stage_profile.h"

#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "fastpath/table/replay.h"

namespace warpdns::fastpath {

std::atomic<bool> StageProfile::on_{false};

struct StageProfile::State {
  std::mutex mu;       // rows
  std::mutex take_mu;  // one profile at a time
  std::deque<Row> rows;
};

StageProfile& StageProfile::Get() {
  static StageProfile* p = new StageProfile;  // never destroyed: workers may outlive statics
  return *p;
}

StageProfile::State& StageProfile::state() const {
  static State* s = new State;
  return *s;
}

StageProfile::Row* StageProfile::AddRow(const std::string& worker) {
  State& s = state();
  std::lock_guard lock(s.mu);
  Row& r = s.rows.emplace_back();
  r.worker = worker;
  return &r;
}

namespace {

struct Snapshot {
  uint64_t bursts[StageProfile::kStages][StageProfile::kBuckets];
  uint64_t packets[StageProfile::kStages];
  uint64_t cycles[StageProfile::kStages];
};

Snapshot Read(const StageProfile::Row& r) {
  Snapshot s;
  for (size_t st = 0; st < StageProfile::kStages; ++st) {
    for (size_t b = 0; b < StageProfile::kBuckets; ++b) {
      s.bursts[st][b] = r.bursts[st][b].load(std::memory_order_relaxed);
    }
    s.packets[st] = r.packets[st].load(std::memory_order_relaxed);
    s.cycles[st] = r.cycles[st].load(std::memory_order_relaxed);
  }
  return s;
}

constexpr const char* kStageNames[] = {"receive", "key", "answer", "send"};

}  // namespace

std::string StageProfile::Take(double seconds) {
  State& s = state();
  std::lock_guard take(s.take_mu);
  std::vector<std::pair<const Row*, Snapshot>> before;
  {
    std::lock_guard lock(s.mu);
    for (const Row& r : s.rows) before.emplace_back(&r, Read(r));
  }
  const int64_t t0 = MonotonicNs();
  const uint64_t c0 = Cycles();
  on_.store(true, std::memory_order_relaxed);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  on_.store(false, std::memory_order_relaxed);
  const double ghz = static_cast<double>(Cycles() - c0) / static_cast<double>(MonotonicNs() - t0);

  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "# fast-path cycles per packet by stage over %.1f s (TSC %.2f GHz)\n"
                "# bucket 2^k: bursts that cost [2^k, 2^(k+1)) cycles per packet\n",
                seconds, ghz);
  std::string out = buf;
  std::lock_guard lock(s.mu);
  for (const Row& r : s.rows) {
    Snapshot was{};
    for (const auto& [row, snap] : before) {
      if (row == &r) was = snap;
    }
    const Snapshot now = Read(r);
    bool header = false;
    for (size_t st = 0; st < kStages; ++st) {
      const uint64_t packets = now.packets[st] - was.packets[st];
      if (packets == 0) continue;
      if (!header) {
        out += "worker " + r.worker + "\n";
        header = true;
      }
      const uint64_t cycles = now.cycles[st] - was.cycles[st];
      std::snprintf(buf, sizeof(buf), "  %-7s packets %llu  cycles/packet %.0f  bursts:",
                    kStageNames[st], static_cast<unsigned long long>(packets),
                    static_cast<double>(cycles) / static_cast<double>(packets));
      out += buf;
      for (size_t b = 0; b < kBuckets; ++b) {
        const uint64_t n = now.bursts[st][b] - was.bursts[st][b];
        if (n == 0) continue;
        std::snprintf(buf, sizeof(buf), " 2^%zu:%llu", b, static_cast<unsigned long long>(n));
        out += buf;
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace warpdns::fastpath
