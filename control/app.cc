#include "control/app.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "slowpath/metrics/metrics.h"

namespace warpdns::control {

namespace wire = ::warpdns::fastpath::wire;
using slowpath::Chain;
using slowpath::Plugin;
using slowpath::PluginSpec;
using slowpath::Server;

namespace {

constexpr int kMaxResolveDepth = 8;

std::string HostPort(const std::string& bind, uint16_t port) {
  if (bind.find(':') != std::string::npos) return "[" + bind + "]:" + std::to_string(port);
  return bind + ":" + std::to_string(port);
}

}  // namespace

std::string_view Version() { return WARPDNS_VERSION; }

std::unique_ptr<App> App::Build(const config::Corefile& corefile, const AppOptions& options,
                                std::string* error) {
  std::unique_ptr<App> app(new App());
  app->options_ = options;
  if (app->options_.udp_workers <= 0) {
    app->options_.udp_workers = std::max(1u, std::thread::hardware_concurrency());
  }
  if (corefile.global) {
    // Appliance options (I/O mode, cores) arrive with the fast path; until
    // then any option here is a mistake worth stopping for.
    for (const config::Directive& d : corefile.global->block) {
      *error = config::ErrorAt(d.name, "unknown global option '" + d.name.text + "'");
      return nullptr;
    }
  }
  for (const config::ServerBlock& block : corefile.blocks) {
    if (!app->BuildBlock(block, error)) return nullptr;
  }
  App* raw = app.get();
  app->collector_id_ = slowpath::metrics::AddCollector([raw] { return raw->CollectMetrics(); });
  return app;
}

std::vector<prometheus::MetricFamily> App::CollectMetrics() const {
  using slowpath::metrics::CounterSample;
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

  prometheus::MetricFamily bad{"warpdns_malformed_requests_total",
                               "Queries not served normally: answered FORMERR/NOTIMP or dropped.",
                               prometheus::MetricType::Counter, {}};
  for (const auto& s : servers_) {
    const slowpath::MalformedCounters& m = s->malformed();
    auto add = [&](std::string reason, uint64_t v) {
      bad.metric.push_back(CounterSample(static_cast<double>(v),
                                         {{"reason", std::move(reason)}, {"server", s->label()}}));
    };
    add("short", m.dropped_short.load());
    add("response", m.dropped_response.load());
    add("notimp", m.notimp.load());
    for (size_t i = 1; i < m.formerr.size(); ++i) {
      add(std::string(wire::ParseErrorName(static_cast<wire::ParseError>(i))), m.formerr[i].load());
    }
  }
  prometheus::MetricFamily enabled{"coredns_plugin_enabled",
                                   "A metric that indicates whether a plugin is enabled on per "
                                   "server and zone basis.",
                                   prometheus::MetricType::Gauge, {}};
  for (const auto& [server, zone, name] : enabled_plugins_) {
    prometheus::ClientMetric m;
    m.gauge.value = 1;
    m.label = {{"name", name}, {"server", server}, {"view", ""}, {"zone", zone}};
    enabled.metric.push_back(std::move(m));
  }
  prometheus::MetricFamily panics{"coredns_panics_total",
                                  "A metrics that counts the number of panics.",
                                  prometheus::MetricType::Counter, {}};
  uint64_t total_panics = 0;
  for (const auto& s : servers_) total_panics += s->panics();
  panics.metric.push_back(CounterSample(static_cast<double>(total_panics), {}));
  return {build, bad, enabled, panics};
}

bool App::BuildBlock(const config::ServerBlock& block, std::string* error) {
  for (const config::Address& a : block.addresses) {
    if (a.transport != "dns") {
      *error = config::ErrorAt(a.key, "transport " + a.transport +
                                          ":// is not supported yet (only dns://)");
      return false;
    }
  }
  // Execution order is plugin.cfg's, whatever the order in the file; several
  // instances of one directive keep their file order.
  std::vector<const config::Directive*> ordered;
  for (const config::Directive& d : block.directives) ordered.push_back(&d);
  std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
    return config::PluginIndex(a->name.text) < config::PluginIndex(b->name.text);
  });

  std::vector<std::string> zones;
  for (const config::Address& a : block.addresses) zones.push_back(a.zone);
  std::string root;
  std::vector<std::string> bind;

  auto chain = std::make_shared<Chain>();
  chain->zones = zones;
  bool allows_non_in = false;
  std::set<std::string> seen;
  for (const config::Directive* d : ordered) {
    const PluginSpec* spec = slowpath::FindPlugin(d->name.text);
    if (spec == nullptr) {
      *error = config::ErrorAt(d->name, "plugin '" + d->name.text +
                                            "' is not supported by this warpdns build");
      return false;
    }
    if (spec->once_per_block && !seen.insert(d->name.text).second) {
      *error = "plugin/" + d->name.text + ": " +
               config::ErrorAt(d->name, "this plugin can only be used once per Server Block");
      return false;
    }
    // Settings stored by earlier setups (root, bind) carry over to later ones.
    slowpath::SetupContext c{*d, block, zones, root, bind, this};
    std::unique_ptr<Plugin> p = spec->setup(c, error);
    if (!error->empty()) {
      // Every start-up error names its place in the Corefile, even when the
      // plugin reports a plain failure (a zone file that cannot be read).
      if (error->find(" - Error during parsing: ") == std::string::npos) {
        *error = config::ErrorAt(d->name, *error);
      }
      return false;
    }
    root = c.root;
    bind = c.bind;
    if (p) chain->plugins.push_back(std::move(p));
    const std::string& n = d->name.text;
    if (n == "chaos" || n == "forward" || n == "proxy") allows_non_in = true;
  }
  for (size_t i = 0; i + 1 < chain->plugins.size(); ++i) {
    chain->plugins[i]->SetNext(chain->plugins[i + 1].get());
  }
  chains_.push_back(chain);

  std::vector<std::string> binds = bind.empty() ? std::vector<std::string>{""} : bind;
  for (const config::Address& a : block.addresses) {
    for (const std::string& b : binds) {
      Server* s = ServerFor(b, a.port);
      s->AddZone(a.zone, chain);
      if (allows_non_in) s->AllowNonInClasses();
      for (const auto& p : chain->plugins) {
        enabled_plugins_.push_back({s->label(), a.zone, std::string(p->Name())});
      }
    }
    listen_lines_.push_back((a.transport == "dns" ? "" : a.transport + "://") + a.zone + ":" +
                            std::to_string(a.port));
  }
  return true;
}

Server* App::ServerFor(const std::string& bind, uint16_t port) {
  for (Listen& l : listens_) {
    if (l.bind == bind && l.port == port) return l.server;
  }
  servers_.push_back(std::make_unique<Server>("dns://" + HostPort(bind, port)));
  Listen l;
  l.bind = bind;
  l.port = port;
  l.server = servers_.back().get();
  listens_.push_back(std::move(l));
  return servers_.back().get();
}

App::~App() {
  Shutdown();
  if (collector_id_ != 0) slowpath::metrics::RemoveCollector(collector_id_);
}

bool App::Start(std::string* error) {
  for (Listen& l : listens_) {
    l.udp = slowpath::UdpListener::Create(l.server, l.bind, l.port, options_.udp_workers, error);
    if (!l.udp) return false;
    l.tcp = slowpath::TcpListener::Create(l.server, l.bind, l.port, slowpath::TcpOptions{}, error);
    if (!l.tcp) return false;
  }
  for (Listen& l : listens_) {
    l.udp->Start();
    l.tcp->Start();
  }
  for (auto& [address, http] : http_) http->Start();
  for (auto& [period_ms, task] : tasks_) {
    task_threads_.emplace_back([this, period_ms = period_ms, task = task] {
      std::unique_lock lock(task_mu_);
      while (!task_cv_.wait_for(lock, std::chrono::milliseconds(period_ms),
                                [this] { return stopping_; })) {
        lock.unlock();
        task();
        lock.lock();
      }
    });
  }
  return true;
}

std::vector<std::string> App::ListenLines() const { return listen_lines_; }

void App::Shutdown() {
  {
    std::lock_guard lock(task_mu_);
    if (stopping_) return;
  }
  for (auto& hook : shutdown_hooks_) hook();
  {
    std::lock_guard lock(task_mu_);
    stopping_ = true;
  }
  task_cv_.notify_all();
  for (std::thread& t : task_threads_) t.join();
  task_threads_.clear();
  for (Listen& l : listens_) {
    if (l.udp) l.udp->Stop();
    if (l.tcp) l.tcp->Stop();
  }
  for (auto& [address, http] : http_) http->Stop();
}

bool App::AddHttpEndpoint(const std::string& address, const std::string& path,
                          HttpHandler handler, std::string* error) {
  auto it = http_.find(address);
  if (it == http_.end()) {
    auto server = HttpServer::Create(address, error);
    if (!server) return false;
    it = http_.emplace(address, std::move(server)).first;
  }
  // Several blocks may enable the same endpoint; they all report the same.
  it->second->Handle(path, std::move(handler));
  return true;
}

void App::Every(int64_t period_ms, std::function<void()> task) {
  tasks_.emplace_back(period_ms, std::move(task));
}

void App::OnShutdown(std::function<void()> hook) { shutdown_hooks_.push_back(std::move(hook)); }

void App::Log(std::string_view line) {
  std::lock_guard lock(log_mu_);
  fwrite(line.data(), 1, line.size(), stdout);
  fputc('\n', stdout);
  fflush(stdout);
}

slowpath::Task<wire::Message> App::Resolve(const wire::Name& name, uint16_t type, bool dnssec_ok,
                                           int depth) {
  wire::Message query;
  query.header.id = 0;
  query.header.SetFlag(wire::flag::kRd, true);
  query.question.push_back({name, type, wire::qclass::kIn});
  query.edns.present = true;
  query.edns.udp_size = wire::kMaxMessageSize;
  if (dnssec_ok) query.edns.flags = wire::kEdnsDoBit;
  wire::Message reply = wire::MakeReply(query);
  if (depth > kMaxResolveDepth || listens_.empty()) {
    reply.SetRcode(wire::rcode::kServFail);
    co_return reply;
  }
  slowpath::Request req;
  req.msg = query;
  req.proto = slowpath::Proto::kTcp;  // no UDP size limit on internal lookups
  req.server = listens_.front().server->label();
  req.metadata["warpdns/resolve_depth"] = std::to_string(depth);
  std::vector<uint8_t> bytes;
  slowpath::BufferWriter w(wire::kMaxMessageSize, &bytes, &reply);
  co_await listens_.front().server->Serve(req, w);
  co_return reply;
}

}  // namespace warpdns::control
