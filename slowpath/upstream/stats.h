// Per-upstream counters, kept in atomics on the query path and exported at
// scrape time as CoreDNS's forward metrics, by the 1.7-1.11 names
// coredns_forward_requests_total{to}, _responses_total{rcode,to},
// _request_duration_seconds{rcode,to}, _healthcheck_failures_total{to},
// _healthcheck_broken_total, _max_concurrent_rejects_total,
// _conn_cache_hits_total{proto,to}, _conn_cache_misses_total{proto,to}, and
// by the names that replaced some of them (1.12 on): coredns_proxy_
// request_duration_seconds, _healthcheck_failures_total, _conn_cache_hits_total
// and _conn_cache_misses_total, each with proxy_name="forward".
#ifndef WARPDNS_SLOWPATH_UPSTREAM_STATS_H_
#define WARPDNS_SLOWPATH_UPSTREAM_STATS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace warpdns::slowpath::upstream {

// Connection kinds as the conn_cache metrics label them.
enum class ConnProto : uint8_t { kUdp, kTcp, kTls, kCount };

class Stats {
 public:
  // `exported` false: counted but not scraped (proxy, whose CoreDNS metrics
  // differ). Several Stats with the same `to` are summed at scrape time.
  Stats(std::string to, bool exported);
  ~Stats();
  Stats(const Stats&) = delete;
  Stats& operator=(const Stats&) = delete;

  // A reply came back: requests_total, responses_total and the duration.
  void Reply(int rcode, std::chrono::nanoseconds took);
  void HealthcheckFailure() { hc_failures_.fetch_add(1, std::memory_order_relaxed); }
  void ConnCache(ConnProto proto, bool hit) {
    (hit ? cache_hits_ : cache_misses_)[static_cast<size_t>(proto)].fetch_add(
        1, std::memory_order_relaxed);
  }

  // Process-wide counters without an upstream label.
  static void CountHealthcheckBroken();
  static void CountMaxConcurrentReject();

  static constexpr int kRcodes = 24;   // rcodes above are counted as the last one
  static constexpr int kBuckets = 16;  // CoreDNS's TimeBuckets: 0.25ms * 2^k

  struct Histogram {
    std::array<std::atomic<uint64_t>, kBuckets> buckets{};  // non-cumulative
    std::atomic<uint64_t> count{0};
    std::atomic<uint64_t> sum_ns{0};
  };

 private:
  friend class StatsCollector;

  const std::string to_;
  const bool exported_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> hc_failures_{0};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(ConnProto::kCount)> cache_hits_{};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(ConnProto::kCount)> cache_misses_{};
  std::array<Histogram, kRcodes> by_rcode_;
};

}  // namespace warpdns::slowpath::upstream

#endif  // WARPDNS_SLOWPATH_UPSTREAM_STATS_H_
