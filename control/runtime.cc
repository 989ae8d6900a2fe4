#include "control/runtime.h"

#include <sched.h>

#include <algorithm>
#include <thread>

#include "control/log.h"
#include "fastpath/table/generation.h"
#include "slowpath/metrics/metrics.h"

namespace warpdns::control {

using slowpath::metrics::CounterSample;

Runtime::Runtime(const RuntimeOptions& options) : options_(options) {
  if (options_.udp_workers <= 0) {
    // One worker per CPU this process may run on (taskset, cgroups), not
    // per CPU of the machine: extra workers on one core only add switches.
    cpu_set_t set;
    CPU_ZERO(&set);
    const int allowed = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
    options_.udp_workers =
        allowed > 0 ? allowed : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  publisher_ = std::make_unique<slowpath::Publisher>(slowpath::PublisherOptions{});
  collector_id_ = slowpath::metrics::AddCollector([this] { return CollectMetrics(); });
}

Runtime::~Runtime() {
  Shutdown();
  slowpath::metrics::RemoveCollector(collector_id_);
}

std::shared_ptr<slowpath::ServerCounters> Runtime::CountersFor(const ListenKey& key) {
  std::lock_guard lock(mu_);
  std::shared_ptr<slowpath::ServerCounters>& c = counters_[key];
  if (!c) c = std::make_shared<slowpath::ServerCounters>();
  return c;
}

bool Runtime::Activate(std::shared_ptr<Instance> next, std::string* error) {
  // Bind everything new first, so that a failure leaves the running
  // configuration exactly as it was.
  std::map<ListenKey, Listen> opened;
  for (const auto& [key, server] : next->servers()) {
    if (listens_.count(key)) continue;
    Listen l;
    l.slot = std::make_unique<slowpath::ServerSlot>(server);
    l.udp = slowpath::UdpListener::Create(l.slot.get(), key.bind, key.port, options_.udp_workers,
                                          publisher_.get(), error);
    if (!l.udp) return false;
    l.tcp = slowpath::TcpListener::Create(l.slot.get(), key.bind, key.port,
                                          slowpath::TcpOptions{}, error);
    if (!l.tcp) return false;
    opened.emplace(key, std::move(l));
  }
  std::map<std::string, std::unique_ptr<HttpServer>> opened_http;
  for (const auto& [address, handlers] : next->http()) {
    if (http_.count(address)) continue;
    auto h = HttpServer::Create(address, error);
    if (!h) return false;
    opened_http.emplace(address, std::move(h));
  }

  // Commit: existing listeners switch servers between two batches; new ones start.
  for (const auto& [key, server] : next->servers()) {
    if (auto it = listens_.find(key); it != listens_.end()) it->second.slot->Set(server);
  }
  for (auto& [key, l] : opened) {
    l.udp->Start();
    l.tcp->Start();
    listens_.emplace(key, std::move(l));
  }
  for (auto it = listens_.begin(); it != listens_.end();) {
    if (next->servers().count(it->first)) {
      ++it;
      continue;
    }
    it->second.udp->Stop();
    it->second.tcp->Stop();
    it = listens_.erase(it);
  }
  for (auto& [address, h] : opened_http) {
    h->Start();
    http_.emplace(address, std::move(h));
  }
  for (auto it = http_.begin(); it != http_.end();) {
    auto handlers = next->http().find(it->first);
    if (handlers == next->http().end()) {
      it->second->Stop();
      it = http_.erase(it);
      continue;
    }
    it->second->SetHandlers(handlers->second);
    ++it;
  }

  std::shared_ptr<Instance> previous;
  {
    std::lock_guard lock(mu_);
    previous = std::move(current_);
    current_ = next;
  }
  if (previous) {
    previous->StopTasks();
    retired_.push_back(std::move(previous));
  }
  next->StartTasks();
  // Memoized replies belong to the previous configuration.
  fastpath::BumpDataGeneration();
  ReleaseRetired();
  return true;
}

void Runtime::ReleaseRetired() {
  std::erase_if(retired_, [](const std::shared_ptr<Instance>& instance) {
    for (const auto& [key, server] : instance->servers()) {
      // Still referenced by a listener worker or with requests in flight.
      if (server.use_count() > 1 || server->in_flight() > 0) return false;
    }
    return true;
  });
}

void Runtime::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  if (current_) current_->RunShutdownHooks();
  for (auto& [key, l] : listens_) {
    l.udp->Stop();
    l.tcp->Stop();
  }
  for (auto& [address, h] : http_) h->Stop();
  if (current_) current_->StopTasks();
}

std::vector<prometheus::MetricFamily> Runtime::CollectMetrics() const {
  std::shared_ptr<Instance> instance;
  std::string hash;
  std::map<ListenKey, std::shared_ptr<slowpath::ServerCounters>> counters;
  {
    std::lock_guard lock(mu_);
    instance = current_;
    hash = config_hash_;
    counters = counters_;
  }
  std::vector<prometheus::MetricFamily> out;

  prometheus::MetricFamily build{"coredns_build_info",
                                 "A metric with a constant '1' value labeled by version, revision, "
                                 "and goversion from which CoreDNS was built.",
                                 prometheus::MetricType::Gauge, {}};
  prometheus::ClientMetric info;
  info.gauge.value = 1;
  info.label = {{"goversion", std::string("g++ ") + __VERSION__},
                {"revision", ""},
                {"version", std::string(Version())}};
  build.metric.push_back(info);
  out.push_back(std::move(build));

  prometheus::MetricFamily bad{"warpdns_malformed_requests_total",
                               "Queries not served normally: answered FORMERR/NOTIMP or dropped.",
                               prometheus::MetricType::Counter, {}};
  uint64_t panics = 0;
  for (const auto& [key, c] : counters) {
    const std::string server = key.Label();
    auto add = [&](std::string reason, uint64_t v) {
      bad.metric.push_back(CounterSample(static_cast<double>(v),
                                         {{"reason", std::move(reason)}, {"server", server}}));
    };
    add("short", c->dropped_short.load());
    add("response", c->dropped_response.load());
    add("notimp", c->notimp.load());
    for (size_t i = 1; i < c->formerr.size(); ++i) {
      add(std::string(wire::ParseErrorName(static_cast<wire::ParseError>(i))), c->formerr[i].load());
    }
    panics += c->panics.load();
  }
  out.push_back(std::move(bad));

  prometheus::MetricFamily panic_family{"coredns_panics_total",
                                        "A metrics that counts the number of panics.",
                                        prometheus::MetricType::Counter, {}};
  panic_family.metric.push_back(CounterSample(static_cast<double>(panics), {}));
  out.push_back(std::move(panic_family));

  prometheus::MetricFamily log_drops{"warpdns_log_dropped_lines_total",
                                     "Log lines dropped because stdout did not keep up.",
                                     prometheus::MetricType::Counter, {}};
  log_drops.metric.push_back(CounterSample(static_cast<double>(DroppedLogLines()), {}));
  out.push_back(std::move(log_drops));

  const slowpath::Publisher::Stats tables = publisher_->stats();
  auto add_single = [&](const char* name, const char* help, prometheus::MetricType type,
                        double value) {
    prometheus::MetricFamily f{name, help, type, {}};
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Gauge) {
      m.gauge.value = value;
    } else {
      m.counter.value = value;
    }
    f.metric.push_back(m);
    out.push_back(std::move(f));
  };
  add_single("warpdns_fastpath_answers_memoized_total",
             "Slow-path answers of deterministic chains stored in the fast path's table.",
             prometheus::MetricType::Counter, static_cast<double>(tables.memoized));
  add_single("warpdns_fastpath_answers_not_memoized_total",
             "Answers offered to the publisher but not stored (queue full, data changed, too long).",
             prometheus::MetricType::Counter, static_cast<double>(tables.dropped));
  add_single("warpdns_fastpath_tables_published_total",
             "Table versions published to the fast path (one per data change).",
             prometheus::MetricType::Counter, static_cast<double>(tables.published));
  add_single("warpdns_fastpath_answer_entries", "Answers in the fast path's current table.",
             prometheus::MetricType::Gauge, static_cast<double>(tables.entries));
  add_single("warpdns_fastpath_answer_slots", "Slots of the fast path's answer table.",
             prometheus::MetricType::Gauge, static_cast<double>(tables.slots));
  add_single("warpdns_fastpath_answer_evictions_total",
             "Answers replaced in the current table because their probe window was full.",
             prometheus::MetricType::Counter, static_cast<double>(tables.evictions));

  prometheus::MetricFamily failed{"coredns_reload_failed_total",
                                  "Counter of the number of failed reload attempts.",
                                  prometheus::MetricType::Counter, {}};
  failed.metric.push_back(CounterSample(static_cast<double>(reload_failures_.load()), {}));
  out.push_back(std::move(failed));

  if (!hash.empty()) {
    prometheus::MetricFamily version{"coredns_reload_version_info",
                                     "A metric with a constant '1' value labeled by hash, and "
                                     "value which type of hash generated.",
                                     prometheus::MetricType::Gauge, {}};
    prometheus::ClientMetric v;
    v.gauge.value = 1;
    v.label = {{"hash", "sha512"}, {"value", hash}};
    version.metric.push_back(v);
    out.push_back(std::move(version));
  }

  if (instance) {
    prometheus::MetricFamily enabled{"coredns_plugin_enabled",
                                     "A metric that indicates whether a plugin is enabled on per "
                                     "server and zone basis.",
                                     prometheus::MetricType::Gauge, {}};
    for (const auto& [server, zone, name] : instance->enabled_plugins()) {
      prometheus::ClientMetric m;
      m.gauge.value = 1;
      m.label = {{"name", name}, {"server", server}, {"view", ""}, {"zone", zone}};
      enabled.metric.push_back(std::move(m));
    }
    out.push_back(std::move(enabled));
  }
  return out;
}

}  // namespace warpdns::control
