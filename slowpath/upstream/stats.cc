#include "slowpath/upstream/stats.h"

#include <algorithm>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include "fastpath/wire/constants.h"
#include "slowpath/metrics/metrics.h"

namespace warpdns::slowpath::upstream {

namespace wire = ::warpdns::fastpath::wire;

// The live Stats objects and the process-wide counters, exported by one
// collector registered on first use.
class StatsCollector {
 public:
  static StatsCollector& Get() {
    static StatsCollector* c = new StatsCollector;  // never destroyed: scrapes may race exit
    return *c;
  }

  void Add(Stats* s) {
    std::lock_guard lock(mu_);
    live_.insert(s);
  }
  void Remove(Stats* s) {
    std::lock_guard lock(mu_);
    live_.erase(s);
  }

  std::atomic<uint64_t> broken{0};
  std::atomic<uint64_t> rejects{0};

 private:
  StatsCollector() {
    metrics::AddCollector([this] { return Collect(); });
  }

  std::vector<prometheus::MetricFamily> Collect() {
    std::map<std::string, double> requests;                           // to
    std::map<std::pair<std::string, int>, double> responses;          // (to, rcode)
    std::map<std::pair<std::string, int>, prometheus::ClientMetric::Histogram> durations;
    std::map<std::string, double> hc_failures;
    std::map<std::pair<std::string, int>, double> hits, misses;      // (to, proto)
    {
      std::lock_guard lock(mu_);
      for (const Stats* s : live_) {
        if (!s->exported_) continue;
        requests[s->to_] += static_cast<double>(s->requests_.load());
        hc_failures[s->to_] += static_cast<double>(s->hc_failures_.load());
        for (int p = 0; p < static_cast<int>(ConnProto::kCount); ++p) {
          hits[{s->to_, p}] += static_cast<double>(s->cache_hits_[p].load());
          misses[{s->to_, p}] += static_cast<double>(s->cache_misses_[p].load());
        }
        for (int rc = 0; rc < Stats::kRcodes; ++rc) {
          const Stats::Histogram& h = s->by_rcode_[rc];
          const uint64_t count = h.count.load();
          if (count == 0) continue;
          responses[{s->to_, rc}] += static_cast<double>(count);
          prometheus::ClientMetric::Histogram& out = durations[{s->to_, rc}];
          if (out.bucket.empty()) {
            double bound = 0.00025;
            for (int b = 0; b < Stats::kBuckets; ++b, bound *= 2) out.bucket.push_back({0, bound});
            out.bucket.push_back({0, std::numeric_limits<double>::infinity()});
          }
          for (int b = 0; b < Stats::kBuckets; ++b) {
            out.bucket[b].cumulative_count += h.buckets[b].load();
          }
          out.bucket.back().cumulative_count += count;
          out.sample_count += count;
          out.sample_sum += static_cast<double>(h.sum_ns.load()) / 1e9;
        }
      }
    }
    auto family = [](const char* name, const char* help, prometheus::MetricType type) {
      return prometheus::MetricFamily{name, help, type, {}};
    };
    static constexpr const char* kProto[] = {"udp", "tcp", "tcp-tls"};
    std::vector<prometheus::MetricFamily> out;

    auto f = family("coredns_forward_requests_total", "Counter of requests made per upstream.",
                    prometheus::MetricType::Counter);
    for (auto& [to, v] : requests) f.metric.push_back(metrics::CounterSample(v, {{"to", to}}));
    out.push_back(std::move(f));

    f = family("coredns_forward_responses_total", "Counter of responses received per upstream.",
               prometheus::MetricType::Counter);
    for (auto& [key, v] : responses) {
      f.metric.push_back(metrics::CounterSample(
          v, {{"rcode", wire::RcodeToString(key.second)}, {"to", key.first}}));
    }
    out.push_back(std::move(f));

    // Buckets were summed per Stats; make them cumulative once.
    for (auto& [key, h] : durations) {
      for (size_t b = 1; b + 1 < h.bucket.size(); ++b) {
        h.bucket[b].cumulative_count += h.bucket[b - 1].cumulative_count;
      }
    }
    // Each family twice: CoreDNS 1.7-1.11's coredns_forward_* names, and the
    // coredns_proxy_*{proxy_name="forward"} ones that replaced them (1.12 on),
    // so dashboards built for either keep working.
    for (const bool modern : {false, true}) {
      const std::string prefix = modern ? "coredns_proxy_" : "coredns_forward_";
      // Sorted by name, as the Go client writes them.
      auto labels = [&](std::vector<prometheus::ClientMetric::Label> l) {
        if (modern) l.push_back({"proxy_name", "forward"});
        std::sort(l.begin(), l.end(),
                  [](const auto& a, const auto& b) { return a.name < b.name; });
        return l;
      };
      f = family((prefix + "request_duration_seconds").c_str(),
                 "Histogram of the time each request took.", prometheus::MetricType::Histogram);
      for (const auto& [key, h] : durations) {
        prometheus::ClientMetric m;
        m.histogram = h;
        m.label = labels({{"rcode", wire::RcodeToString(key.second)}, {"to", key.first}});
        f.metric.push_back(std::move(m));
      }
      out.push_back(std::move(f));

      f = family((prefix + "healthcheck_failures_total").c_str(),
                 "Counter of the number of failed healthchecks.", prometheus::MetricType::Counter);
      for (const auto& [to, v] : hc_failures) {
        prometheus::ClientMetric m = metrics::CounterSample(v, {});
        m.label = labels({{"to", to}});
        f.metric.push_back(std::move(m));
      }
      out.push_back(std::move(f));

      for (bool hit : {true, false}) {
        f = family((prefix + (hit ? "conn_cache_hits_total" : "conn_cache_misses_total")).c_str(),
                   hit ? "Counter of connection cache hits per upstream and protocol."
                       : "Counter of connection cache misses per upstream and protocol.",
                   prometheus::MetricType::Counter);
        for (const auto& [key, v] : hit ? hits : misses) {
          if (v == 0) continue;
          prometheus::ClientMetric m = metrics::CounterSample(v, {});
          m.label = labels({{"proto", kProto[key.second]}, {"to", key.first}});
          f.metric.push_back(std::move(m));
        }
        out.push_back(std::move(f));
      }
    }

    f = family("coredns_forward_healthcheck_broken_total",
               "Counter of the number of complete failures of the healthchecks.",
               prometheus::MetricType::Counter);
    f.metric.push_back(metrics::CounterSample(static_cast<double>(broken.load()), {}));
    out.push_back(std::move(f));

    f = family("coredns_forward_max_concurrent_rejects_total",
               "Counter of the number of queries rejected because the concurrent queries were at "
               "maximum.",
               prometheus::MetricType::Counter);
    f.metric.push_back(metrics::CounterSample(static_cast<double>(rejects.load()), {}));
    out.push_back(std::move(f));
    return out;
  }

  std::mutex mu_;  // guards live_ (setup, teardown and scrapes only)
  std::set<Stats*> live_;
};

Stats::Stats(std::string to, bool exported) : to_(std::move(to)), exported_(exported) {
  StatsCollector::Get().Add(this);
}

Stats::~Stats() { StatsCollector::Get().Remove(this); }

void Stats::Reply(int rcode, std::chrono::nanoseconds took) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  Histogram& h = by_rcode_[rcode < 0 || rcode >= kRcodes ? kRcodes - 1 : rcode];
  const int64_t ns = took.count();
  int bucket = 0;
  for (int64_t bound = 250'000; bucket < kBuckets && ns > bound; bound *= 2) ++bucket;
  if (bucket < kBuckets) h.buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  h.count.fetch_add(1, std::memory_order_relaxed);
  h.sum_ns.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

void Stats::CountHealthcheckBroken() {
  StatsCollector::Get().broken.fetch_add(1, std::memory_order_relaxed);
}

void Stats::CountMaxConcurrentReject() {
  StatsCollector::Get().rejects.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace warpdns::slowpath::upstream
