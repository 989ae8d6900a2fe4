// CoreDNS's per-request DNS metrics (coredns_dns_requests_total,
// _responses_total, _do_requests_total and the size and duration histograms)
// for the answers the fast path gives. The slow path names a label set once
// (a slot: server, zone, type, rcode, plugin) and memoizes the slot's id with
// the reply; every answer then costs its worker a few plain stores into its
// own row, and a scrape adds the rows up (Sum) and folds the growth into the
// prometheus families, so a fast-path answer counts exactly as a slow-path
// one.
#ifndef WARPDNS_FASTPATH_TABLE_STATS_BANK_H_
#define WARPDNS_FASTPATH_TABLE_STATS_BANK_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace warpdns::fastpath {

class StatsBank {
 public:
  static constexpr size_t kSlots = 2048;  // id 0 means "none"
  static constexpr size_t kRows = 256;
  // CoreDNS's size buckets (plugin/metrics/vars): 0 100 200 300 400 511 1023
  // 2047 4095 8291 16e3 32e3 48e3 64e3, then +Inf.
  static constexpr size_t kSizeBounds = 14;
  // CoreDNS's duration buckets: 0.25ms doubling 16 times, then +Inf.
  static constexpr size_t kDurationBounds = 16;

  template <typename T>
  struct Counts {
    T requests[2];  // by family: [0] IPv4 (in a Slot: unused, see Count), [1] IPv6
    T do_requests;
    T request_size[kSizeBounds + 1];  // non-cumulative, last is +Inf
    T request_size_sum;
    T response_size[kSizeBounds + 1];
    T response_size_sum;
    T duration[kDurationBounds + 1];
    T duration_sum_ns;
  };
  using Slot = Counts<std::atomic<uint64_t>>;
  using Totals = Counts<uint64_t>;
  using Row = Slot*;

  // The process's bank.
  static StatsBank& Get();

  // A row for one worker, nullptr when all are taken. A released row is
  // handed out again with its counts kept (they are already part of the
  // sums). Any thread.
  Row AddRow();
  // The worker that had `row` writes no more to it. Any thread.
  void ReleaseRow(Row row);
  // The id of the label set `name`, the same across reloads (0 when full).
  // Slow path.
  uint16_t Id(const std::string& name);
  // Every row's counts of slot `id` added up. Any thread.
  Totals Sum(uint16_t id) const;

  // Fast path: any thread; never blocks.
  static size_t SizeBucket(size_t octets) noexcept {
    constexpr uint32_t kBounds[kSizeBounds] = {0,    100,  200,   300,   400,   511,   1023,
                                               2047, 4095, 8291, 16000, 32000, 48000, 64000};
    size_t k = 0;
    while (k < kSizeBounds && octets > kBounds[k]) ++k;
    return k;
  }
  static size_t DurationBucket(int64_t ns) noexcept {
    // Bound k is 250us << k.
    int64_t bound = 250'000;
    size_t k = 0;
    while (k < kDurationBounds && ns > bound) {
      bound <<= 1;
      ++k;
    }
    return k;
  }

  // Counts one request and its reply in slot `id` of `row`. `family` is 1
  // (IPv4) or 2 (IPv6). Fast path: the row's owner only; never blocks.
  static void Count(Row row, uint16_t id, int family, bool dnssec_ok, size_t request_len,
                    size_t reply_len) noexcept {
    Slot& s = row[id];
    // IPv4 requests are the rest of the request size histogram's count.
    if (family == 2) Add(s.requests[1], 1);
    if (dnssec_ok) Add(s.do_requests, 1);
    Add(s.request_size[SizeBucket(request_len)], 1);
    Add(s.request_size_sum, request_len);
    Add(s.response_size[SizeBucket(reply_len)], 1);
    Add(s.response_size_sum, reply_len);
  }
  // Counts `n` requests of duration `ns`, in bucket DurationBucket(ns), in
  // slot `id` of `row`. Fast path: the row's owner only; never blocks.
  static void CountDuration(Row row, uint16_t id, int64_t ns, size_t bucket,
                            uint64_t n = 1) noexcept {
    Slot& s = row[id];
    Add(s.duration[bucket], n);
    Add(s.duration_sum_ns, static_cast<uint64_t>(ns) * n);
  }

 private:
  StatsBank() = default;
  struct State;
  State& state() const;

  // Single writer: a relaxed load and store, no locked instruction.
  static void Add(std::atomic<uint64_t>& c, uint64_t n) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_TABLE_STATS_BANK_H_
