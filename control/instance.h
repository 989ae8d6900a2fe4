// One configuration version: the plugin chains and servers built from a
// Corefile, and the process services its plugins registered (Host). A reload
// builds a new Instance aside; the Runtime swaps it in.
#ifndef WARPDNS_CONTROL_INSTANCE_H_
#define WARPDNS_CONTROL_INSTANCE_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "config/corefile.h"
#include "config/io.h"
#include "slowpath/chain/plugin.h"
#include "slowpath/chain/server.h"

namespace warpdns::control {

namespace wire = ::warpdns::fastpath::wire;

std::string_view Version();  // "0.1.0"

// Where a server listens: bind address ("" = all) and port.
struct ListenKey {
  std::string bind;
  uint16_t port = 0;
  auto operator<=>(const ListenKey&) const = default;
  // CoreDNS's server label: "dns://:53", "dns://127.0.0.1:53", "dns://[::1]:53".
  std::string Label() const;
};

class Instance final : public slowpath::Host,
                       public std::enable_shared_from_this<Instance> {
 public:
  // Gives the counters of a listen address, kept across reloads.
  using CountersFor = std::function<std::shared_ptr<slowpath::ServerCounters>(const ListenKey&)>;

  // Sets up every plugin of every block. On error returns nullptr with a
  // message naming the file and line. Nothing is bound or started yet.
  static std::shared_ptr<Instance> Build(const config::Corefile& corefile,
                                         const CountersFor& counters, std::string* error);
  ~Instance() override;

  // The global block's I/O settings (start-up only: see Runtime::Activate).
  const config::IoPlan& io_plan() const { return io_plan_; }
  const std::map<ListenKey, std::shared_ptr<slowpath::Server>>& servers() const {
    return servers_;
  }
  // HTTP endpoints the plugins asked for: address → path → handler.
  const std::map<std::string, std::map<std::string, HttpHandler>>& http() const { return http_; }
  // CoreDNS's start-up banner: one "zone:port" line per served address.
  const std::vector<std::string>& listen_lines() const { return listen_lines_; }
  // (server label, zone, plugin) for coredns_plugin_enabled.
  const std::vector<std::tuple<std::string, std::string, std::string>>& enabled_plugins() const {
    return enabled_plugins_;
  }
  // The `reload` plugin's polling interval and jitter (0: not enabled).
  int64_t reload_interval_ms() const { return reload_interval_ms_; }
  int64_t reload_jitter_ms() const { return reload_jitter_ms_; }

  // Starts and stops the plugins' periodic tasks (control thread).
  void StartTasks();
  void StopTasks();
  // The plugins' shutdown hooks (lameduck), in order.
  void RunShutdownHooks();

  // slowpath::Host
  bool AddHttpEndpoint(const std::string& address, const std::string& path, HttpHandler handler,
                       std::string* error) override;
  void Every(int64_t period_ms, std::function<void()> task) override;
  void OnShutdown(std::function<void()> hook) override;
  void Log(std::string_view line) override;
  slowpath::Task<wire::Message> Resolve(const wire::Name& name, uint16_t type, bool dnssec_ok,
                                        int depth) override;
  void EnableReload(int64_t interval_ms, int64_t jitter_ms) override;
  void AddReadyCheck(std::string plugin, std::function<bool()> is_ready) override;
  std::vector<std::string> NotReady(bool recheck) override;

 private:
  Instance() = default;
  bool BuildBlock(const config::ServerBlock& block, const CountersFor& counters,
                  std::string* error);

  config::IoPlan io_plan_;
  std::map<ListenKey, std::shared_ptr<slowpath::Server>> servers_;
  std::vector<std::string> listen_lines_;
  std::map<std::string, std::map<std::string, HttpHandler>> http_;
  std::vector<std::function<void()>> shutdown_hooks_;
  std::vector<std::pair<int64_t, std::function<void()>>> tasks_;
  std::vector<std::thread> task_threads_;
  std::mutex task_mu_;
  std::condition_variable task_cv_;
  bool tasks_stopping_ = false;
  std::vector<std::tuple<std::string, std::string, std::string>> enabled_plugins_;
  std::mutex ready_mu_;
  // (plugin, check, seen ready): ready plugins are not asked again (until-ready).
  std::vector<std::tuple<std::string, std::function<bool()>, bool>> ready_checks_;
  std::atomic<bool> shutting_down_{false};
  int64_t reload_interval_ms_ = 0;
  int64_t reload_jitter_ms_ = 0;
};

}  // namespace warpdns::control

#endif  // WARPDNS_CONTROL_INSTANCE_H_
