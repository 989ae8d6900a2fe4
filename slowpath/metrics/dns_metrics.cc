#include "slowpath/metrics/dns_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "fastpath/table/stats_bank.h"
#include "slowpath/metrics/metrics.h"

namespace warpdns::slowpath::metrics {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Histogram;

struct Families {
  Family<Counter>& requests;
  Family<Counter>& do_requests;
  Family<Histogram>& request_size;
  Family<Counter>& responses;
  Family<Histogram>& duration;
  Family<Histogram>& response_size;
};

Histogram::BucketBoundaries DurationBuckets() {
  Histogram::BucketBoundaries b;
  double v = 0.00025;
  for (int k = 0; k < 16; ++k, v *= 2) b.push_back(v);
  return b;
}

const Histogram::BucketBoundaries kSizeBuckets = {0,    100,  200,  300,   400,   511,   1023,
                                                  2047, 4095, 8291, 16e3,  32e3,  48e3,  64e3};

Families& GetFamilies() {
  static Families* f = [] {
    prometheus::Registry& r = Registry();
    return new Families{
        prometheus::BuildCounter()
            .Name("coredns_dns_requests_total")
            .Help("Counter of DNS requests made per zone, protocol and family.")
            .Register(r),
        prometheus::BuildCounter()
            .Name("coredns_dns_do_requests_total")
            .Help("Counter of DNS requests with DO bit set per zone.")
            .Register(r),
        prometheus::BuildHistogram()
            .Name("coredns_dns_request_size_bytes")
            .Help("Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.")
            .Register(r),
        prometheus::BuildCounter()
            .Name("coredns_dns_responses_total")
            .Help("Counter of response status codes.")
            .Register(r),
        prometheus::BuildHistogram()
            .Name("coredns_dns_request_duration_seconds")
            .Help("Histogram of the time (in seconds) each request took per zone.")
            .Register(r),
        prometheus::BuildHistogram()
            .Name("coredns_dns_response_size_bytes")
            .Help("Size of the returned response in bytes.")
            .Register(r),
    };
  }();
  return *f;
}

// Per-thread memo of label sets already added, so the family's mutex is
// taken once per new label combination and thread, not once per query.
template <typename T>
class LabelCache {
 public:
  template <typename AddFn>
  T& Get(const std::string& key, AddFn add) {
    auto it = cache_.find(key);
    if (it != cache_.end()) return *it->second;
    T& metric = add();
    cache_.emplace(key, &metric);
    return metric;
  }

 private:
  std::unordered_map<std::string, T*> cache_;
};

// The labels of one of CoreDNS's DNS series: server, zone and view (views are not
// supported yet: CoreDNS labels them ""), then the family's own.
prometheus::Labels SeriesLabels(
    const std::string& server, const std::string& zone,
    std::initializer_list<std::pair<const char*, const std::string&>> own = {}) {
  prometheus::Labels labels = {{"server", server}, {"zone", zone}, {"view", ""}};
  for (const auto& [name, value] : own) labels.emplace(name, value);
  return labels;
}

std::string Key(std::initializer_list<std::string_view> parts) {
  std::string key;
  for (std::string_view p : parts) {
    key.append(p);
    key.push_back('\x1f');
  }
  return key;
}

// The fast path's slots and what of each the series already hold.
struct FastSlot {
  std::string server, zone, type, rcode, plugin;
  fastpath::StatsBank::Totals folded{};
};

struct FastSlots {
  std::mutex mu;
  std::map<uint16_t, FastSlot> slots;
};

FastSlots& GetFastSlots() {
  static FastSlots* f = new FastSlots;
  return *f;
}

std::vector<double> Deltas(const uint64_t* now, uint64_t* folded, size_t n) {
  std::vector<double> d(n);
  for (size_t k = 0; k < n; ++k) {
    d[k] = static_cast<double>(now[k] - folded[k]);
    folded[k] = now[k];
  }
  return d;
}

// Before each scrape: the growth of every slot since the last one.
void FoldFastSlots() {
  Families& f = GetFamilies();
  FastSlots& fs = GetFastSlots();
  std::lock_guard lock(fs.mu);
  const std::string proto = "udp";
  const std::string families[2] = {"1", "2"};
  using Bank = fastpath::StatsBank;
  for (auto& [id, slot] : fs.slots) {
    const Bank::Totals now = Bank::Get().Sum(id);
    Bank::Totals& was = slot.folded;
    for (int k = 0; k < 2; ++k) {
      if (now.requests[k] == was.requests[k]) continue;
      f.requests
          .Add(SeriesLabels(slot.server, slot.zone,
                            {{"proto", proto}, {"family", families[k]}, {"type", slot.type}}))
          .Increment(static_cast<double>(now.requests[k] - was.requests[k]));
    }
    const uint64_t answers = now.requests[0] + now.requests[1] - was.requests[0] - was.requests[1];
    was.requests[0] = now.requests[0];
    was.requests[1] = now.requests[1];
    if (now.do_requests != was.do_requests) {
      f.do_requests.Add(SeriesLabels(slot.server, slot.zone))
          .Increment(static_cast<double>(now.do_requests - was.do_requests));
      was.do_requests = now.do_requests;
    }
    if (answers == 0) continue;
    f.responses
        .Add(SeriesLabels(slot.server, slot.zone, {{"rcode", slot.rcode}, {"plugin", slot.plugin}}))
        .Increment(static_cast<double>(answers));
    const prometheus::Labels sized = SeriesLabels(slot.server, slot.zone, {{"proto", proto}});
    f.request_size.Add(sized, kSizeBuckets)
        .ObserveMultiple(Deltas(now.request_size, was.request_size, Bank::kSizeBounds + 1),
                         static_cast<double>(now.request_size_sum - was.request_size_sum));
    was.request_size_sum = now.request_size_sum;
    f.response_size.Add(sized, kSizeBuckets)
        .ObserveMultiple(Deltas(now.response_size, was.response_size, Bank::kSizeBounds + 1),
                         static_cast<double>(now.response_size_sum - was.response_size_sum));
    was.response_size_sum = now.response_size_sum;
    f.duration.Add(SeriesLabels(slot.server, slot.zone), DurationBuckets())
        .ObserveMultiple(Deltas(now.duration, was.duration, Bank::kDurationBounds + 1),
                         static_cast<double>(now.duration_sum_ns - was.duration_sum_ns) / 1e9);
    was.duration_sum_ns = now.duration_sum_ns;
  }
}

}  // namespace

uint16_t FastPathSlot(const Request& req, std::string_view zone, int rcode,
                      std::string_view plugin) {
  FastSlot slot{req.server, std::string(zone),
                std::string(req.msg.question.empty() ? "other" : TypeLabel(req.QType())),
                wire::RcodeToString(rcode), std::string(plugin)};
  const std::string name =
      Key({slot.server, slot.zone, slot.type, slot.rcode, slot.plugin});
  const uint16_t id = fastpath::StatsBank::Get().Id(name);
  if (id == 0) return 0;
  // Outside fs.mu: a scrape holds the refreshers' lock while it takes fs.mu.
  static std::once_flag once;
  std::call_once(once, [] { AddRefresher(FoldFastSlots); });
  FastSlots& fs = GetFastSlots();
  std::lock_guard lock(fs.mu);
  fs.slots.try_emplace(id, std::move(slot));
  return id;
}

std::string_view TypeLabel(uint16_t qtype) {
  namespace t = wire::type;
  switch (qtype) {
    case t::kA: return "A";
    case t::kAaaa: return "AAAA";
    case t::kCname: return "CNAME";
    case t::kDnskey: return "DNSKEY";
    case t::kDs: return "DS";
    case t::kMx: return "MX";
    case t::kNsec3: return "NSEC3";
    case t::kNsec: return "NSEC";
    case t::kNs: return "NS";
    case t::kPtr: return "PTR";
    case t::kRrsig: return "RRSIG";
    case t::kSoa: return "SOA";
    case t::kSrv: return "SRV";
    case t::kTxt: return "TXT";
    case t::kHttps: return "HTTPS";
    case t::kSvcb: return "SVCB";
    case t::kIxfr: return "IXFR";
    case t::kAxfr: return "AXFR";
    case t::kAny: return "ANY";
    default: return "other";
  }
}

void ReportRequest(const Request& req, std::string_view zone, int rcode, std::string_view plugin,
                   size_t response_size, int64_t duration_ns) {
  Families& f = GetFamilies();
  thread_local LabelCache<Counter> requests, do_requests, responses;
  thread_local LabelCache<Histogram> request_size, duration, response_size_h;
  const std::string server = req.server;
  const std::string z(zone);
  const std::string proto(ProtoName(req.proto));
  const std::string family = req.Family() == 2 ? "2" : "1";
  const std::string type(req.msg.question.empty() ? "other" : TypeLabel(req.QType()));

  requests
      .Get(Key({server, z, proto, family, type}),
           [&]() -> Counter& {
             return f.requests.Add(
                 SeriesLabels(server, z, {{"proto", proto}, {"family", family}, {"type", type}}));
           })
      .Increment();
  if (req.Do()) {
    do_requests
        .Get(Key({server, z}),
             [&]() -> Counter& { return f.do_requests.Add(SeriesLabels(server, z)); })
        .Increment();
  }
  request_size
      .Get(Key({server, z, proto}),
           [&]() -> Histogram& {
             return f.request_size.Add(SeriesLabels(server, z, {{"proto", proto}}), kSizeBuckets);
           })
      .Observe(static_cast<double>(req.size));
  const std::string rc = wire::RcodeToString(rcode);
  const std::string p(plugin);
  responses
      .Get(Key({server, z, rc, p}),
           [&]() -> Counter& {
             return f.responses.Add(SeriesLabels(server, z, {{"rcode", rc}, {"plugin", p}}));
           })
      .Increment();
  duration
      .Get(Key({server, z}),
           [&]() -> Histogram& { return f.duration.Add(SeriesLabels(server, z), DurationBuckets()); })
      .Observe(static_cast<double>(duration_ns) / 1e9);
  response_size_h
      .Get(Key({server, z, proto}),
           [&]() -> Histogram& {
             return f.response_size.Add(SeriesLabels(server, z, {{"proto", proto}}), kSizeBuckets);
           })
      .Observe(static_cast<double>(response_size));
}

}  // namespace warpdns::slowpath::metrics
