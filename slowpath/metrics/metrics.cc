#include "slowpath/metrics/metrics.h"

#include <prometheus/text_serializer.h>

#include <map>
#include <mutex>

namespace warpdns::slowpath::metrics {
namespace {

struct Collectors {
  std::mutex mu;
  int next_id = 1;
  std::map<int, Collector> by_id;
  std::vector<std::function<void()>> refreshers;
};

Collectors& GetCollectors() {
  static Collectors* c = new Collectors;  // never destroyed: scrapes may race exit
  return *c;
}

}  // namespace

prometheus::Registry& Registry() {
  static prometheus::Registry* r = new prometheus::Registry;
  return *r;
}

int AddCollector(Collector collector) {
  Collectors& c = GetCollectors();
  std::lock_guard lock(c.mu);
  int id = c.next_id++;
  c.by_id.emplace(id, std::move(collector));
  return id;
}

void RemoveCollector(int id) {
  Collectors& c = GetCollectors();
  std::lock_guard lock(c.mu);
  c.by_id.erase(id);
}

void AddRefresher(std::function<void()> refresher) {
  Collectors& c = GetCollectors();
  std::lock_guard lock(c.mu);
  c.refreshers.push_back(std::move(refresher));
}

std::string Serialize() {
  {
    Collectors& c = GetCollectors();
    std::lock_guard lock(c.mu);
    for (auto& r : c.refreshers) r();
  }
  std::vector<prometheus::MetricFamily> families = Registry().Collect();
  {
    Collectors& c = GetCollectors();
    std::lock_guard lock(c.mu);
    for (auto& [id, collector] : c.by_id) {
      for (auto& f : collector()) families.push_back(std::move(f));
    }
  }
  return prometheus::TextSerializer().Serialize(families);
}

prometheus::ClientMetric CounterSample(double value,
                                       std::vector<std::pair<std::string, std::string>> labels) {
  prometheus::ClientMetric m;
  m.counter.value = value;
  for (auto& [name, v] : labels) m.label.push_back({name, v});
  return m;
}

}  // namespace warpdns::slowpath::metrics
