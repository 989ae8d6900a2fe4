// The process-wide metrics registry. Plugins and servers register families
// (prometheus-cpp) or collectors that read their own counters at scrape
// time; the prometheus plugin serialises everything.
#ifndef WARPDNS_SLOWPATH_METRICS_METRICS_H_
#define WARPDNS_SLOWPATH_METRICS_METRICS_H_

#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace warpdns::slowpath::metrics {

using Collector = std::function<std::vector<prometheus::MetricFamily>()>;

// The registry for prometheus-cpp families (counters/histograms updated in
// place by the slow path).
prometheus::Registry& Registry();

// Adds a collector run at every scrape (for counters kept elsewhere, such as
// the per-server malformed-packet counts). Returns an id for RemoveCollector.
int AddCollector(Collector collector);
void RemoveCollector(int id);

// Adds a function run at the start of every scrape, before the families are
// read (to fold counts kept elsewhere into prometheus-cpp counters).
void AddRefresher(std::function<void()> refresher);

// Text exposition format of everything registered.
std::string Serialize();

// One counter sample with labels, for collectors.
prometheus::ClientMetric CounterSample(double value,
                                       std::vector<std::pair<std::string, std::string>> labels);

}  // namespace warpdns::slowpath::metrics

#endif  // WARPDNS_SLOWPATH_METRICS_METRICS_H_
