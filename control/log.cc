#include "control/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "fastpath/table/log_bank.h"

namespace warpdns::control {
namespace {

constexpr size_t kMaxBacklog = 16 << 20;  // bytes queued before lines are dropped
constexpr auto kFlushInterval = std::chrono::milliseconds(5);

class Writer {
 public:
  Writer() : thread_([this] { Run(); }) {}

  void Append(std::string_view line) {
    std::lock_guard lock(mu_);
    if (pending_.size() + line.size() + 1 > kMaxBacklog) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    pending_.append(line);
    pending_.push_back('\n');
  }

  void Flush() {
    std::unique_lock lock(write_mu_);
    WriteOut();
  }

  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  // Swaps the queue out under the short lock, writes it outside of it. The
  // fast path's lines (its workers' rings) join the queue first.
  void WriteOut() {
    fastpath::LogBank::Get().Drain([this](const std::string& line) { Append(line); });
    {
      std::lock_guard lock(mu_);
      out_.swap(pending_);
    }
    size_t off = 0;
    while (off < out_.size()) {
      ssize_t n = write(STDOUT_FILENO, out_.data() + off, out_.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // stdout closed: nothing more to do with these lines
      off += static_cast<size_t>(n);
    }
    out_.clear();
  }

  [[noreturn]] void Run() {
    for (;;) {
      std::this_thread::sleep_for(kFlushInterval);
      std::unique_lock lock(write_mu_);
      WriteOut();
    }
  }

  std::mutex mu_;        // pending_
  std::mutex write_mu_;  // out_ and the order of writes
  std::string pending_;
  std::string out_;
  std::atomic<uint64_t> dropped_{0};
  std::thread thread_;
};

Writer& GetWriter() {
  // Never destroyed: any thread may log until the process exits.
  static Writer* writer = [] {
    auto* w = new Writer;
    return w;
  }();
  return *writer;
}

}  // namespace

void LogLine(std::string_view line) { GetWriter().Append(line); }

void FlushLog() { GetWriter().Flush(); }

uint64_t DroppedLogLines() { return GetWriter().dropped() + fastpath::LogBank::Get().Dropped(); }

}  // namespace warpdns::control
