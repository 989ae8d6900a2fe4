// What lives as long as the process: the listeners (kept across reloads so no
// query is dropped), the control HTTP servers, the counters of each listen
// address, and the configuration Instance in force.
#ifndef WARPDNS_CONTROL_RUNTIME_H_
#define WARPDNS_CONTROL_RUNTIME_H_

#include <prometheus/metric_family.h>

#include <atomic>
#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "control/http_server.h"
#include "control/instance.h"
#include "fastpath/dpdk/engine.h"
#include "slowpath/publish/prebuild.h"
#include "slowpath/publish/publisher.h"
#include "slowpath/punt/punt_consumer.h"
#include "slowpath/server/server_slot.h"
#include "slowpath/server/tcp_listener.h"
#include "slowpath/server/udp_listener.h"

namespace warpdns::control {

struct RuntimeOptions {
  // The global block's I/O plan of the first configuration. Socket mode:
  // `workers` UDP workers (0: one per CPU the process may run on). DPDK mode:
  // the fast path on the port, and one socket worker for what reaches the
  // kernel (loopback, the exception tap).
  config::IoPlan io;
};

class Runtime {
 public:
  explicit Runtime(const RuntimeOptions& options);
  ~Runtime();

  // DPDK mode: EAL, the port and the exception tap, for the UDP `dns_ports`
  // of the Corefile. Before the first Activate, so the tap has the
  // appliance's addresses when listeners bind. Socket mode: nothing to do.
  bool CreateFastPath(const std::vector<uint16_t>& dns_ports, std::string* error);
  // DPDK mode: launches the workers and the punt consumer. After the first
  // Activate, so that no query is punted before a server exists for it.
  bool StartFastPath(std::string* error);

  // The counters of a listen address (created on first use, kept forever).
  std::shared_ptr<slowpath::ServerCounters> CountersFor(const ListenKey& key);

  // Makes `next` the configuration in force: binds the listeners and HTTP
  // addresses it needs that are not open yet, hands every listener its new
  // server, closes what it no longer uses, moves the periodic tasks over.
  // Nothing changes when a bind fails: returns false with the error.
  bool Activate(std::shared_ptr<Instance> next, std::string* error);
  const std::shared_ptr<Instance>& current() const { return current_; }

  // Frees retired configurations whose requests have all been answered.
  void ReleaseRetired();
  // Counts a failed reload (coredns_reload_failed_total).
  void CountReloadFailure() { ++reload_failures_; }
  void SetConfigHash(std::string sha512_hex) {
    std::lock_guard lock(mu_);
    config_hash_ = std::move(sha512_hex);
  }

  // Lameduck (shutdown hooks), then every listener and task stops.
  void Shutdown();

 private:
  struct Listen {
    std::unique_ptr<slowpath::ServerSlot> slot;
    std::unique_ptr<slowpath::UdpListener> udp;
    std::unique_ptr<slowpath::TcpListener> tcp;
  };
  std::vector<prometheus::MetricFamily> CollectMetrics() const;
  void CollectFastPathMetrics(std::vector<prometheus::MetricFamily>* out) const;
  // The punt consumer's route: the server of the listener for `local`.
  std::shared_ptr<slowpath::Server> ServerFor(const sockaddr_storage& local) const;

  RuntimeOptions options_;
  int socket_workers_ = 1;
  // Declared before the listeners: their readers unregister from it.
  std::unique_ptr<slowpath::Publisher> publisher_;
  std::map<ListenKey, std::shared_ptr<slowpath::ServerCounters>> counters_;
  std::map<ListenKey, Listen> listens_;
  // The listeners in force, for threads other than the control thread (the
  // punt consumer, metric scrapes): guarded by mu_.
  struct Route {
    slowpath::ServerSlot* slot;
    const slowpath::UdpListener* udp;
  };
  std::map<ListenKey, Route> routes_;
  std::unique_ptr<fastpath::dpdk::Engine> engine_;
  std::unique_ptr<slowpath::PuntConsumer> punt_;
  std::unique_ptr<slowpath::Prebuilder> prebuild_;  // reads routes_
  std::map<std::string, std::unique_ptr<HttpServer>> http_;
  mutable std::mutex mu_;  // counters_, current_, config_hash_: read by metric scrapes
  std::shared_ptr<Instance> current_;
  std::vector<std::shared_ptr<Instance>> retired_;
  std::atomic<uint64_t> reload_failures_{0};
  std::string config_hash_;
  int collector_id_ = 0;
  bool shut_down_ = false;
};

}  // namespace warpdns::control

#endif  // WARPDNS_CONTROL_RUNTIME_H_
