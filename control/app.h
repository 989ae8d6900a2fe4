// The composition root: turns a parsed Corefile into plugin chains, servers
// and listeners, and provides the process-wide services plugins use (Host).
#ifndef WARPDNS_CONTROL_APP_H_
#define WARPDNS_CONTROL_APP_H_

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
#include <prometheus/metric_family.h>

#include "control/http_server.h"
#include "slowpath/chain/plugin.h"
#include "slowpath/chain/server.h"
#include "slowpath/server/tcp_listener.h"
#include "slowpath/server/udp_listener.h"

namespace warpdns::control {

namespace wire = ::warpdns::fastpath::wire;

std::string_view Version();  // "0.1.0"

struct AppOptions {
  int udp_workers = 0;  // 0: one per CPU
};

class App final : public slowpath::Host {
 public:
  // Sets up every plugin of every block. On error returns nullptr with a
  // message naming the file and line.
  static std::unique_ptr<App> Build(const config::Corefile& corefile, const AppOptions& options,
                                    std::string* error);
  ~App() override;

  // Binds every listener (UDP, TCP, HTTP) and starts the threads. Nothing is
  // announced before all binds succeeded.
  bool Start(std::string* error);
  // CoreDNS's start-up banner: one "zone:port" line per served address.
  std::vector<std::string> ListenLines() const;
  // Runs the shutdown hooks (lameduck), then stops listeners and tasks.
  void Shutdown();

  const std::vector<std::unique_ptr<slowpath::Server>>& servers() const { return servers_; }

  // slowpath::Host
  bool AddHttpEndpoint(const std::string& address, const std::string& path, HttpHandler handler,
                       std::string* error) override;
  void Every(int64_t period_ms, std::function<void()> task) override;
  void OnShutdown(std::function<void()> hook) override;
  void Log(std::string_view line) override;
  slowpath::Task<wire::Message> Resolve(const wire::Name& name, uint16_t type, bool dnssec_ok,
                                        int depth) override;

 private:
  App() = default;
  bool BuildBlock(const config::ServerBlock& block, std::string* error);
  std::vector<prometheus::MetricFamily> CollectMetrics() const;
  slowpath::Server* ServerFor(const std::string& bind, uint16_t port);

  struct Listen {
    std::string bind;  // "" = all addresses
    uint16_t port = 0;
    slowpath::Server* server = nullptr;
    std::unique_ptr<slowpath::UdpListener> udp;
    std::unique_ptr<slowpath::TcpListener> tcp;
  };

  AppOptions options_;
  std::vector<std::shared_ptr<slowpath::Chain>> chains_;
  std::vector<std::unique_ptr<slowpath::Server>> servers_;
  std::vector<Listen> listens_;
  std::vector<std::string> listen_lines_;
  std::map<std::string, std::unique_ptr<HttpServer>> http_;
  std::vector<std::function<void()>> shutdown_hooks_;
  std::vector<std::pair<int64_t, std::function<void()>>> tasks_;
  std::vector<std::thread> task_threads_;
  std::mutex task_mu_;
  std::condition_variable task_cv_;
  bool stopping_ = false;
  std::mutex log_mu_;
  int collector_id_ = 0;
  // (server label, zone, plugin) for coredns_plugin_enabled.
  std::vector<std::tuple<std::string, std::string, std::string>> enabled_plugins_;
};

}  // namespace warpdns::control

#endif  // WARPDNS_CONTROL_APP_H_
