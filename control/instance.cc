#include "control/instance.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "control/log.h"

namespace warpdns::control {

namespace wire = ::warpdns::fastpath::wire;
using slowpath::Chain;
using slowpath::Plugin;
using slowpath::PluginSpec;
using slowpath::Server;

namespace {

constexpr int kMaxResolveDepth = 8;

}  // namespace

std::string_view Version() { return WARPDNS_VERSION; }

std::string ListenKey::Label() const {
  const std::string host = bind.find(':') != std::string::npos ? "[" + bind + "]" : bind;
  return "dns://" + host + ":" + std::to_string(port);
}

std::shared_ptr<Instance> Instance::Build(const config::Corefile& corefile,
                                          const CountersFor& counters, std::string* error) {
  std::shared_ptr<Instance> instance(new Instance());
  std::optional<config::IoPlan> io =
      config::ParseIoPlan(corefile.global ? &*corefile.global : nullptr, error);
  if (!io) return nullptr;
  instance->io_plan_ = std::move(*io);
  for (const config::ServerBlock& block : corefile.blocks) {
    if (!instance->BuildBlock(block, counters, error)) return nullptr;
  }
  // The fast path's key names the destination port, not the address: where
  // servers bound to different addresses share a port, their answers must
  // not be memoized (one would replay the other's).
  std::map<uint16_t, int> servers_on_port;
  for (const auto& [key, server] : instance->servers_) ++servers_on_port[key.port];
  for (const auto& [key, server] : instance->servers_) {
    if (servers_on_port[key.port] > 1) server->ForbidMemoizing();
  }
  return instance;
}

bool Instance::BuildBlock(const config::ServerBlock& block, const CountersFor& counters,
                          std::string* error) {
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

  std::vector<std::string> binds = bind.empty() ? std::vector<std::string>{""} : bind;
  for (const config::Address& a : block.addresses) {
    for (const std::string& b : binds) {
      ListenKey key{b, a.port};
      std::shared_ptr<Server>& s = servers_[key];
      if (!s) s = std::make_shared<Server>(key.Label(), counters(key));
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

Instance::~Instance() { StopTasks(); }

void Instance::StartTasks() {
  std::lock_guard lock(task_mu_);
  tasks_stopping_ = false;
  for (auto& [period_ms, task] : tasks_) {
    task_threads_.emplace_back([this, period_ms = period_ms, task = task] {
      std::unique_lock lock(task_mu_);
      while (!task_cv_.wait_for(lock, std::chrono::milliseconds(period_ms),
                                [this] { return tasks_stopping_; })) {
        lock.unlock();
        task();
        lock.lock();
      }
    });
  }
}

void Instance::StopTasks() {
  {
    std::lock_guard lock(task_mu_);
    tasks_stopping_ = true;
  }
  task_cv_.notify_all();
  for (std::thread& t : task_threads_) t.join();
  task_threads_.clear();
}

void Instance::RunShutdownHooks() {
  shutting_down_ = true;
  for (auto& hook : shutdown_hooks_) hook();
}

void Instance::AddReadyCheck(std::string plugin, std::function<bool()> is_ready) {
  std::lock_guard lock(ready_mu_);
  ready_checks_.emplace_back(std::move(plugin), std::move(is_ready), false);
}

std::vector<std::string> Instance::NotReady(bool recheck) {
  if (shutting_down_) return {"lameduck"};
  std::lock_guard lock(ready_mu_);
  std::set<std::string> names;
  for (auto& [plugin, is_ready, seen] : ready_checks_) {
    if (!seen || recheck) seen = is_ready();
    if (!seen) names.insert(plugin);
  }
  return {names.begin(), names.end()};
}

bool Instance::AddHttpEndpoint(const std::string& address, const std::string& path,
                               HttpHandler handler, std::string* /*error*/) {
  // Several blocks may enable the same endpoint; they all report the same.
  // The address is bound when the Runtime activates this instance.
  http_[address][path] = std::move(handler);
  return true;
}

void Instance::EnableReload(int64_t interval_ms, int64_t jitter_ms) {
  reload_interval_ms_ = interval_ms;
  reload_jitter_ms_ = jitter_ms;
}

void Instance::Every(int64_t period_ms, std::function<void()> task) {
  tasks_.emplace_back(period_ms, std::move(task));
}

void Instance::OnShutdown(std::function<void()> hook) { shutdown_hooks_.push_back(std::move(hook)); }

void Instance::Log(std::string_view line) { LogLine(line); }


slowpath::Task<wire::Message> Instance::Resolve(const wire::Name& name, uint16_t type, bool dnssec_ok,
                                           int depth) {
  wire::Message query;
  query.header.id = 0;
  query.header.SetFlag(wire::flag::kRd, true);
  query.question.push_back({name, type, wire::qclass::kIn});
  query.edns.present = true;
  query.edns.udp_size = wire::kMaxMessageSize;
  if (dnssec_ok) query.edns.flags = wire::kEdnsDoBit;
  wire::Message reply = wire::MakeReply(query);
  if (depth > kMaxResolveDepth || servers_.empty()) {
    reply.SetRcode(wire::rcode::kServFail);
    co_return reply;
  }
  slowpath::Request req;
  req.msg = query;
  req.proto = slowpath::Proto::kTcp;  // no UDP size limit on internal lookups
  req.internal = true;
  Server& server = *servers_.begin()->second;
  req.server = server.label();
  req.metadata["warpdns/resolve_depth"] = std::to_string(depth);
  std::vector<uint8_t> bytes;
  slowpath::BufferWriter w(wire::kMaxMessageSize, &bytes, &reply);
  co_await server.Serve(req, w);
  co_return reply;
}

}  // namespace warpdns::control
