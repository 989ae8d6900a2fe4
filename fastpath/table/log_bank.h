// The `log` plugin's lines for the answers the fast path gives. A worker
// writes what a line needs (the key, the client, the reply's flags, sizes and
// duration) into a ring of its own; a control thread drains every ring, and
// the plugin's sink formats each line as it does the slow path's. A worker
// never waits: when its ring is full the line is dropped and counted.
#ifndef WARPDNS_FASTPATH_TABLE_LOG_BANK_H_
#define WARPDNS_FASTPATH_TABLE_LOG_BANK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "fastpath/table/query_key.h"

namespace warpdns::fastpath {

// Who asked: `addr` points at 4 (family 1) or 16 (family 2) octets in network
// order, valid for the duration of the AnswerTable::Answer call.
struct Client {
  int family = 1;
  const uint8_t* addr = nullptr;
  uint16_t port = 0;  // host order
};

struct LogRecord {
  uint16_t sink;         // LogBank::Sink id
  uint16_t id;           // the query's ID, host order
  uint16_t request_len;  // the query's octets
  uint16_t reply_len;    // the reply's octets
  uint16_t rsize;        // the reply's uncompressed length ({rsize})
  uint16_t reply_flags;  // the reply's header flags, rcode included
  uint16_t port;
  uint8_t family;
  uint8_t addr[16];
  int64_t duration_ns;
  uint16_t key_len;
  uint8_t key[QueryKey::kMaxLen];
};

// A single-producer, single-consumer ring of LogRecords. The producer
// reserves records (Reserve), fills them, and makes them visible together
// (Publish), so a burst's durations can be written after its answers.
class LogRing {
 public:
  static constexpr size_t kRecords = 4096;

  // The next free record after the `reserved` ones not yet published, or
  // nullptr (full: the caller drops the line and counts it). Fast path: the
  // owning worker only; never blocks.
  LogRecord* Reserve(size_t reserved) noexcept {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    // The consumer's position is read again only when the last one read
    // says the ring is full.
    if (head + reserved - tail_seen_ >= kRecords) {
      tail_seen_ = tail_.load(std::memory_order_acquire);
      if (head + reserved - tail_seen_ >= kRecords) {
        dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return nullptr;
      }
    }
    return &records_[(head + reserved) % kRecords];
  }
  // The `n` records after the published ones, in order. Fast path: the
  // owning worker only.
  LogRecord& Reserved(size_t n) noexcept {
    return records_[(head_.load(std::memory_order_relaxed) + n) % kRecords];
  }
  // Makes the `n` reserved records visible to the consumer. Fast path: the
  // owning worker only; never blocks.
  void Publish(size_t n) noexcept {
    head_.store(head_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }

  // Consumer: calls `fn` on every published record. Returns how many.
  size_t Drain(const std::function<void(const LogRecord&)>& fn);
  uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

 private:
  // Producer's line: what it writes and its view of the consumer.
  alignas(64) std::atomic<uint64_t> head_{0};
  uint64_t tail_seen_ = 0;
  std::atomic<uint64_t> dropped_{0};
  alignas(64) std::atomic<uint64_t> tail_{0};
  std::unique_ptr<LogRecord[]> records_{new LogRecord[kRecords]};
};

class LogBank {
 public:
  // Formats a record as its line.
  using SinkFn = std::function<std::string(const LogRecord&)>;

  // The process's bank.
  static LogBank& Get();

  // A ring for one worker; a released ring is handed out again (what it
  // still holds is drained all the same). Any thread.
  LogRing* AddRing();
  void ReleaseRing(LogRing* ring);

  // The id of the sink named `name` (a format and where it writes), the same
  // across reloads; `fn` is kept for the first registration of a name. 0
  // when there are too many. Slow path.
  uint16_t Sink(const std::string& name, SinkFn fn);

  // Formats every record of every ring with its sink and hands the lines to
  // `write`; returns the records drained. Any thread, one at a time.
  size_t Drain(const std::function<void(const std::string&)>& write);
  // Lines dropped because a ring was full, over all rings. Any thread.
  uint64_t Dropped() const;

 private:
  LogBank() = default;
  struct State;
  State& state() const;
};

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_TABLE_LOG_BANK_H_
