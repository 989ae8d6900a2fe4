// DPDK mode's I/O layer: EAL, the port (one RX/TX queue pair per worker, RSS
// across them), the mempool, the exception tap (a kernel interface with the
// port's MAC and the appliance's addresses), each worker's punt and inject
// rings, and the workers on their EAL lcores. Built once at start-up by the
// control thread; EAL cannot be initialised twice in one process.
#ifndef WARPDNS_FASTPATH_DPDK_ENGINE_H_
#define WARPDNS_FASTPATH_DPDK_ENGINE_H_

#include <rte_mempool.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fastpath/dpdk/worker.h"
#include "fastpath/net/local_addresses.h"
#include "fastpath/rcu/rcu.h"
#include "fastpath/table/table_set.h"

namespace warpdns::fastpath::dpdk {

struct InterfaceAddress {
  bool ipv6 = false;
  uint8_t bytes[16] = {};
  int prefix = 0;
};

struct EngineOptions {
  std::vector<std::string> eal_args;   // without argv[0]
  std::string port_devargs;            // "net_af_xdp0,iface=veth0" or a PCI address
  std::vector<InterfaceAddress> addresses;
  std::vector<uint16_t> dns_ports;     // UDP ports answered (host order)
  std::string exception_tap;           // "" = none
  int workers = 0;                     // 0: one per EAL worker lcore
  uint16_t descriptors = 1024;
  uint32_t mbufs = 0;                  // 0: sized from the queues and rings
  uint16_t burst = 32;
  uint32_t punt_ring = 4096;
};

class Engine {
 public:
  // Initialises EAL with the options' arguments, probes and starts the port
  // and the tap, creates the rings. Returns nullptr with `error` set on any
  // failure (EAL's own messages go to stderr).
  static std::unique_ptr<Engine> Create(const EngineOptions& options, std::string* error);
  ~Engine();

  // Launches one worker per context on the EAL worker lcores. `tables` and
  // the readers `register_reader` hands out must outlive Stop().
  bool Start(const rcu::Published<TableSet>* tables,
             const std::function<std::optional<rcu::ReaderHandle>()>& register_reader,
             std::string* error);
  // Stops and joins the workers. Idempotent.
  void Stop();

  size_t workers() const { return contexts_.size(); }
  WorkerContext& worker(size_t i) { return *contexts_[i]; }
  const net::LocalAddresses& local() const { return *local_; }
  const WorkerConfig& worker_config(size_t i) const { return contexts_[i]->config; }
  uint16_t port_id() const { return port_id_; }
  const std::string& port_name() const { return port_name_; }
  rte_mempool* pool() const { return pool_; }

 private:
  Engine() = default;
  bool SetUpPort(const EngineOptions& options, std::string* error);
  bool SetUpTap(const EngineOptions& options, std::string* error);

  uint16_t port_id_ = 0;
  std::string port_name_;
  int tap_port_id_ = -1;
  bool port_started_ = false;
  rte_mempool* pool_ = nullptr;
  std::unique_ptr<net::LocalAddresses> local_;
  std::vector<std::unique_ptr<WorkerContext>> contexts_;
  std::vector<unsigned> lcores_;
  bool running_ = false;
};

}  // namespace warpdns::fastpath::dpdk

#endif  // WARPDNS_FASTPATH_DPDK_ENGINE_H_
