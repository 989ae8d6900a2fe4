#include "control/runtime.h"

#include <arpa/inet.h>
#include <sched.h>

#include <algorithm>
#include <thread>

#include "control/log.h"
#include "fastpath/table/generation.h"
#include "slowpath/metrics/metrics.h"

namespace warpdns::control {

using slowpath::metrics::CounterSample;

Runtime::Runtime(const RuntimeOptions& options) : options_(options) {
  if (options_.io.mode == config::IoPlan::Mode::kDpdk) {
    socket_workers_ = 1;
  } else if (options_.io.workers > 0) {
    socket_workers_ = options_.io.workers;
  } else {
    // One worker per CPU this process may run on (taskset, cgroups), not
    // per CPU of the machine: extra workers on one core only add switches.
    cpu_set_t set;
    CPU_ZERO(&set);
    const int allowed = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
    socket_workers_ =
        allowed > 0 ? allowed : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  slowpath::PublisherOptions publisher;
  publisher.answer_slots = options_.io.table_slots;
  publisher_ = std::make_unique<slowpath::Publisher>(publisher);
  // A question costs one entry per query shape; leave most of the table to
  // memoized answers.
  prebuild_ = std::make_unique<slowpath::Prebuilder>(
      publisher_.get(),
      [this] {
        std::vector<std::pair<uint16_t, std::shared_ptr<slowpath::Server>>> out;
        std::lock_guard lock(mu_);
        for (const auto& [key, route] : routes_) out.emplace_back(key.port, route.slot->Get());
        return out;
      },
      options_.io.table_slots / 8);
  collector_id_ = slowpath::metrics::AddCollector([this] { return CollectMetrics(); });
}

bool Runtime::CreateFastPath(const std::vector<uint16_t>& dns_ports, std::string* error) {
  const config::IoPlan& io = options_.io;
  if (io.mode != config::IoPlan::Mode::kDpdk) return true;
  fastpath::dpdk::EngineOptions e;
  e.eal_args = io.eal_args;
  e.port_devargs = io.ports.front().devargs;
  for (const std::string& cidr : io.ports.front().addresses) {
    fastpath::dpdk::InterfaceAddress a;
    const size_t slash = cidr.find('/');
    const std::string ip = cidr.substr(0, slash);
    a.ipv6 = ip.find(':') != std::string::npos;
    inet_pton(a.ipv6 ? AF_INET6 : AF_INET, ip.c_str(), a.bytes);  // validated by config
    a.prefix = std::stoi(cidr.substr(slash + 1));
    e.addresses.push_back(a);
  }
  e.dns_ports = dns_ports;
  e.exception_tap = io.exception_tap;
  e.workers = io.workers;
  e.descriptors = io.rx_descriptors;
  e.mbufs = io.mbufs;
  e.burst = static_cast<uint16_t>(io.burst);
  e.punt_ring = io.punt_ring;
  engine_ = fastpath::dpdk::Engine::Create(e, error);
  return engine_ != nullptr;
}

bool Runtime::StartFastPath(std::string* error) {
  if (!engine_) return true;
  std::vector<fastpath::dpdk::WorkerContext*> workers;
  for (size_t i = 0; i < engine_->workers(); ++i) workers.push_back(&engine_->worker(i));
  punt_ = std::make_unique<slowpath::PuntConsumer>(
      workers, [this](const sockaddr_storage& local) { return ServerFor(local); }, publisher_.get());
  if (!engine_->Start(&publisher_->tables(), [this] { return publisher_->RegisterReader(); },
                      error)) {
    return false;
  }
  punt_->Start();
  return true;
}

std::shared_ptr<slowpath::Server> Runtime::ServerFor(const sockaddr_storage& local) const {
  char ip[INET6_ADDRSTRLEN] = "";
  uint16_t port;
  if (local.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(local);
    inet_ntop(AF_INET6, &a.sin6_addr, ip, sizeof(ip));
    port = ntohs(a.sin6_port);
  } else {
    const auto& a = reinterpret_cast<const sockaddr_in&>(local);
    inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
    port = ntohs(a.sin_port);
  }
  std::lock_guard lock(mu_);
  // A listener bound to this very address wins over a wildcard one, as the
  // kernel would pick it.
  if (auto it = routes_.find(ListenKey{ip, port}); it != routes_.end()) return it->second.slot->Get();
  if (auto it = routes_.find(ListenKey{"", port}); it != routes_.end()) return it->second.slot->Get();
  return nullptr;
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
  if (!(next->io_plan() == options_.io)) {
    *error = config::ErrorAt(next->io_plan().at.file.empty() ? options_.io.at : next->io_plan().at,
                             "the io settings cannot change while running (restart warpdns "
                             "to apply them)");
    return false;
  }
  // Bind everything new first, so that a failure leaves the running
  // configuration exactly as it was.
  std::map<ListenKey, Listen> opened;
  for (const auto& [key, server] : next->servers()) {
    if (listens_.count(key)) continue;
    Listen l;
    l.slot = std::make_unique<slowpath::ServerSlot>(server);
    l.udp = slowpath::UdpListener::Create(l.slot.get(), key.bind, key.port, socket_workers_,
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
  {
    // Readers off the control thread (punt consumer, scrapes) see only the
    // listeners that stay; the others are closed below.
    std::lock_guard lock(mu_);
    routes_.clear();
    for (const auto& [key, l] : listens_) {
      if (next->servers().count(key)) routes_.emplace(key, Route{l.slot.get(), l.udp.get()});
    }
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
  // Scrapes first (they read the listeners' counters), then the punt
  // consumer (it routes into the listeners' servers).
  for (auto& [address, h] : http_) h->Stop();
  prebuild_.reset();
  if (punt_) punt_->Stop();
  if (engine_) engine_->Stop();
  for (auto& [key, l] : listens_) {
    l.udp->Stop();
    l.tcp->Stop();
  }
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
  add_single("warpdns_fastpath_answers_offered_total",
             "Slow-path answers of deterministic chains offered to the publisher.",
             prometheus::MetricType::Counter, static_cast<double>(tables.offered));
  add_single("warpdns_fastpath_answers_memoized_total",
             "Slow-path answers of deterministic chains stored in the fast path's table.",
             prometheus::MetricType::Counter, static_cast<double>(tables.memoized));
  add_single("warpdns_fastpath_answers_not_memoized_total",
             "Answers offered to the publisher but not stored (queue full, data changed, too long).",
             prometheus::MetricType::Counter, static_cast<double>(tables.dropped));
  add_single("warpdns_fastpath_tables_published_total",
             "Table versions published to the fast path (one per data change).",
             prometheus::MetricType::Counter, static_cast<double>(tables.published));
  if (prebuild_) {
    const slowpath::Prebuilder::Stats p = prebuild_->stats();
    add_single("warpdns_fastpath_prebuilds_total",
               "Prebuilds of the authoritative answers (one per data change, at most 1/s).",
               prometheus::MetricType::Counter, static_cast<double>(p.builds));
    add_single("warpdns_fastpath_prebuilt_answers",
               "Answers the last prebuild offered to the fast path's table.",
               prometheus::MetricType::Gauge, static_cast<double>(p.answers));
  }
  add_single("warpdns_fastpath_answer_entries", "Answers in the fast path's current table.",
             prometheus::MetricType::Gauge, static_cast<double>(tables.entries));
  add_single("warpdns_fastpath_answer_slots", "Slots of the fast path's answer table.",
             prometheus::MetricType::Gauge, static_cast<double>(tables.slots));
  add_single("warpdns_fastpath_table_generation",
             "Data generation the fast path's current table answers for (bumped by every data "
             "change).",
             prometheus::MetricType::Gauge, static_cast<double>(tables.generation));
  add_single("warpdns_fastpath_reclaim_pending",
             "Replaced answers and tables waiting for every fast-path reader to move on (RCU).",
             prometheus::MetricType::Gauge, static_cast<double>(tables.reclaim_pending));
  add_single("warpdns_fastpath_answer_evictions_total",
             "Answers replaced in the current table because their probe window was full.",
             prometheus::MetricType::Counter, static_cast<double>(tables.evictions));

  CollectFastPathMetrics(&out);

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

namespace warpdns::control {

void Runtime::CollectFastPathMetrics(std::vector<prometheus::MetricFamily>* out) const {
  prometheus::MetricFamily packets{"warpdns_fastpath_packets_total",
                                   "Frames handled by each fast-path worker, by what happened.",
                                   prometheus::MetricType::Counter, {}};
  if (!engine_) {
    // Socket mode: the workers' table hits, per listen address.
    std::lock_guard lock(mu_);
    for (const auto& [key, route] : routes_) {
      packets.metric.push_back(
          CounterSample(static_cast<double>(route.udp->AnsweredFromTables()),
                        {{"kind", "answered"}, {"worker", "socket " + key.Label()}}));
    }
    out->push_back(std::move(packets));
    return;
  }
  prometheus::MetricFamily drops{
      "warpdns_fastpath_frames_by_reason_total",
      "Frames a fast-path worker passed to the kernel or dropped, by reason.",
      prometheus::MetricType::Counter, {}};
  for (size_t w = 0; w < engine_->workers(); ++w) {
    const fastpath::dpdk::WorkerCounters& c = engine_->worker(w).counters;
    const std::string worker = std::to_string(w);
    auto add = [&](const char* kind, const std::atomic<uint64_t>& v) {
      packets.metric.push_back(CounterSample(static_cast<double>(v.load(std::memory_order_relaxed)),
                                             {{"kind", kind}, {"worker", worker}}));
    };
    add("rx", c.rx);
    add("tx", c.tx);
    add("tx_dropped", c.tx_dropped);
    add("answered", c.answered);
    add("punted", c.punted);
    add("punt_full", c.punt_full);
    add("injected", c.injected);
    add("arp_reply", c.arp_replies);
    add("nd_reply", c.nd_replies);
    add("to_kernel", c.to_kernel);
    add("from_kernel", c.from_kernel);
    add("exception_dropped", c.exception_dropped);
    add("reply_too_big", c.reply_too_big);
    for (size_t r = 1; r < c.by_reason.size(); ++r) {
      drops.metric.push_back(CounterSample(
          static_cast<double>(c.by_reason[r].load(std::memory_order_relaxed)),
          {{"reason", fastpath::net::ReasonName(static_cast<fastpath::net::Reason>(r))},
           {"worker", worker}}));
    }
  }
  out->push_back(std::move(packets));
  out->push_back(std::move(drops));
  if (punt_) {
    prometheus::MetricFamily punted{"warpdns_punt_queries_total",
                                    "Punted queries handled by the slow path, by outcome.",
                                    prometheus::MetricType::Counter, {}};
    const slowpath::PuntConsumer::Counters& c = punt_->counters();
    for (const auto& [outcome, v] :
         {std::pair<const char*, const std::atomic<uint64_t>*>{"served", &c.served},
          {"memoized", &c.memoized},
          {"no_server", &c.no_server},
          {"dropped", &c.dropped},
          {"too_big", &c.too_big},
          {"inject_full", &c.inject_full}}) {
      punted.metric.push_back(
          CounterSample(static_cast<double>(v->load(std::memory_order_relaxed)),
                        {{"outcome", outcome}}));
    }
    out->push_back(std::move(punted));
  }
}

}  // namespace warpdns::control
