#include "fastpath/dpdk/engine.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/ipv6.h>
#include <net/if.h>
#include <pthread.h>
#include <rte_bus_vdev.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "fastpath/table/counter_bank.h"

namespace warpdns::fastpath::dpdk {
namespace {

std::string DpdkError(const std::string& what) {
  return what + ": " + rte_strerror(rte_errno);
}

bool IsVdev(const std::string& devargs) {
  return devargs.rfind("net_", 0) == 0 || devargs.rfind("eth_", 0) == 0;
}

std::string MacString(const net::MacAddress& mac) {
  char buf[18];
  snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
           mac[4], mac[5]);
  return buf;
}

// Gives the kernel side of the exception path the appliance's addresses, so
// its stack (and the slow path's sockets) answer TCP, ICMP and the rest.
bool ConfigureKernelInterface(const std::string& name, const std::vector<InterfaceAddress>& addrs,
                              std::string* error) {
  const unsigned index = if_nametoindex(name.c_str());
  if (index == 0) {
    *error = "exception tap " + name + ": no such interface";
    return false;
  }
  // No duplicate address detection: the address is ours by configuration,
  // and a tentative address would refuse TCP for a second or two.
  const std::string dad = "/proc/sys/net/ipv6/conf/" + name + "/accept_dad";
  if (int fd = open(dad.c_str(), O_WRONLY | O_CLOEXEC); fd >= 0) {
    (void)!write(fd, "0", 1);
    close(fd);
  }
  const int s4 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int s6 = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  bool ok = s4 >= 0;
  for (const InterfaceAddress& a : addrs) {
    if (!ok) break;
    if (a.ipv6) {
      in6_ifreq r{};
      std::memcpy(&r.ifr6_addr, a.bytes, 16);
      r.ifr6_prefixlen = static_cast<uint32_t>(a.prefix);
      r.ifr6_ifindex = static_cast<int>(index);
      ok = s6 >= 0 && (ioctl(s6, SIOCSIFADDR, &r) == 0 || errno == EEXIST);
    } else {
      ifreq r{};
      std::snprintf(r.ifr_name, IFNAMSIZ, "%s", name.c_str());
      auto* sin = reinterpret_cast<sockaddr_in*>(&r.ifr_addr);
      sin->sin_family = AF_INET;
      std::memcpy(&sin->sin_addr, a.bytes, 4);
      ok = ioctl(s4, SIOCSIFADDR, &r) == 0;
      if (ok) {
        sin->sin_addr.s_addr = a.prefix == 0 ? 0 : htonl(~uint32_t{0} << (32 - a.prefix));
        ok = ioctl(s4, SIOCSIFNETMASK, &r) == 0;
      }
    }
    if (!ok) *error = "exception tap " + name + ": setting an address: " + strerror(errno);
  }
  if (ok) {
    ifreq r{};
    std::snprintf(r.ifr_name, IFNAMSIZ, "%s", name.c_str());
    ok = ioctl(s4, SIOCGIFFLAGS, &r) == 0;
    r.ifr_flags |= IFF_UP;
    ok = ok && ioctl(s4, SIOCSIFFLAGS, &r) == 0;
    if (!ok) *error = "exception tap " + name + ": bringing it up: " + strerror(errno);
  }
  if (s4 >= 0) close(s4);
  if (s6 >= 0) close(s6);
  return ok;
}

bool WriteSysctl(const std::string& path, const char* value) {
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = write(fd, value, std::strlen(value)) == static_cast<ssize_t>(std::strlen(value));
  close(fd);
  return ok;
}

// AF_PACKET taps an interface the kernel keeps using: it sees every frame
// too, and once the exception tap holds the appliance's addresses it would
// answer ARP on the port and hand each query to the slow path's sockets as
// well (two answers per query). Keep the kernel off the port: no ARP
// replies, strict reverse-path filtering (the route back to a client is via
// the tap, so IPv4 arriving on the port is dropped), no IPv6.
bool KeepKernelOffInterface(const std::string& iface, std::string* error) {
  const std::string v4 = "/proc/sys/net/ipv4/conf/" + iface + "/";
  if (!WriteSysctl(v4 + "arp_ignore", "8") || !WriteSysctl(v4 + "rp_filter", "1")) {
    *error = "io dpdk: port interface " + iface + ": cannot keep the kernel off it (" + v4 +
             "arp_ignore, rp_filter): " + strerror(errno);
    return false;
  }
  WriteSysctl("/proc/sys/net/ipv6/conf/" + iface + "/disable_ipv6", "1");  // absent without IPv6
  return true;
}

// The value of `key=` in DPDK devargs, or "".
std::string DevArg(const std::string& devargs, const std::string& key) {
  for (size_t at = devargs.find(','); at != std::string::npos; at = devargs.find(',', at + 1)) {
    if (devargs.compare(at + 1, key.size() + 1, key + "=") == 0) {
      const size_t start = at + key.size() + 2;
      return devargs.substr(start, devargs.find(',', start) - start);
    }
  }
  return "";
}

bool SetUpQueues(uint16_t port, uint16_t queues, uint16_t descriptors, rte_mempool* pool,
                 const rte_eth_conf& conf, const std::string& what, std::string* error) {
  if (rte_eth_dev_configure(port, queues, queues, &conf) != 0) {
    *error = what + ": cannot configure " + std::to_string(queues) + " queue pair(s)";
    return false;
  }
  uint16_t rxd = descriptors, txd = descriptors;
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
  const int socket = rte_eth_dev_socket_id(port) < 0 ? 0 : rte_eth_dev_socket_id(port);
  for (uint16_t q = 0; q < queues; ++q) {
    if (rte_eth_rx_queue_setup(port, q, rxd, socket, nullptr, pool) != 0 ||
        rte_eth_tx_queue_setup(port, q, txd, socket, nullptr) != 0) {
      *error = what + ": cannot set up queue " + std::to_string(q);
      return false;
    }
  }
  return true;
}

}  // namespace

std::unique_ptr<Engine> Engine::Create(const EngineOptions& options, std::string* error) {
  std::unique_ptr<Engine> e(new Engine());
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  sched_getaffinity(0, sizeof(allowed), &allowed);

  std::vector<std::string> args = {"warpdns"};
  args.insert(args.end(), options.eal_args.begin(), options.eal_args.end());
  if (IsVdev(options.port_devargs)) {
    args.push_back("--vdev=" + options.port_devargs);
  } else {
    args.push_back("-a");
    args.push_back(options.port_devargs);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    *error = DpdkError("io dpdk: EAL initialisation failed");
    return nullptr;
  }
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) { e->lcores_.push_back(lcore); }
  // EAL pinned this (the main) thread to the main lcore, and every thread
  // started from now on inherits that. The slow path belongs on the CPUs the
  // workers do not spin on.
  cpu_set_t rest = allowed;
  for (unsigned l : e->lcores_) CPU_CLR(rte_lcore_to_cpu_id(static_cast<int>(l)), &rest);
  pthread_setaffinity_np(pthread_self(), sizeof(cpu_set_t), CPU_COUNT(&rest) > 0 ? &rest : &allowed);

  const size_t workers = options.workers > 0 ? static_cast<size_t>(options.workers)
                                             : e->lcores_.size();
  if (workers == 0 || e->lcores_.size() < workers) {
    *error = "io dpdk: " + std::to_string(std::max<size_t>(workers, 1)) +
             " worker(s) need as many EAL lcores besides the main one, and the eal line gives " +
             std::to_string(e->lcores_.size()) + " (e.g. -l 0-1 for one worker)";
    return nullptr;
  }
  for (size_t i = 0; i < workers; ++i) {
    auto ctx = std::make_unique<WorkerContext>();
    ctx->config.queue = static_cast<uint16_t>(i);
    ctx->config.burst = options.burst;
    e->contexts_.push_back(std::move(ctx));
  }
  const size_t per_worker = 2u * options.descriptors + 4u * options.descriptors +
                            options.punt_ring + 3u * options.burst + 512;
  const uint32_t mbufs = options.mbufs != 0 ? options.mbufs
                                            : static_cast<uint32_t>(per_worker * workers + 2048);
  e->pool_ = rte_pktmbuf_pool_create("wdns_mbufs", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     static_cast<int>(rte_socket_id()));
  if (e->pool_ == nullptr) {
    *error = DpdkError("io dpdk: cannot create a pool of " + std::to_string(mbufs) + " mbufs");
    return nullptr;
  }
  if (options.port_devargs.rfind("net_af_packet", 0) == 0 && !options.exception_tap.empty()) {
    const std::string iface = DevArg(options.port_devargs, "iface");
    if (!iface.empty() && !KeepKernelOffInterface(iface, error)) return nullptr;
  }
  if (!e->SetUpPort(options, error)) return nullptr;
  if (!e->SetUpTap(options, error)) return nullptr;
  for (size_t i = 0; i < workers; ++i) {
    WorkerContext& ctx = *e->contexts_[i];
    const std::string n = std::to_string(i);
    ctx.punt = rte_ring_create(("wdns_punt" + n).c_str(), options.punt_ring,
                               static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    ctx.inject = rte_ring_create(("wdns_inject" + n).c_str(), options.punt_ring,
                                 static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (ctx.punt == nullptr || ctx.inject == nullptr) {
      *error = DpdkError("io dpdk: cannot create the rings of worker " + n);
      return nullptr;
    }
    ctx.local = e->local_.get();
  }
  return e;
}

bool Engine::SetUpPort(const EngineOptions& options, std::string* error) {
  port_name_ = options.port_devargs.substr(0, options.port_devargs.find(','));
  if (rte_eth_dev_get_port_by_name(port_name_.c_str(), &port_id_) != 0) {
    *error = "io dpdk: port " + port_name_ + " was not found (is the device or vdev right?)";
    return false;
  }
  rte_eth_dev_info info;
  if (rte_eth_dev_info_get(port_id_, &info) != 0) {
    *error = "io dpdk: port " + port_name_ + ": cannot read its capabilities";
    return false;
  }
  const uint16_t queues = static_cast<uint16_t>(contexts_.size());
  if (queues > info.max_rx_queues || queues > info.max_tx_queues) {
    *error = "io dpdk: port " + port_name_ + " has " + std::to_string(info.max_rx_queues) +
             " RX queue(s), fewer than the " + std::to_string(queues) +
             " workers (af_xdp: add queue_count=N to the port)";
    return false;
  }
  rte_eth_conf conf{};
  if (queues > 1) {
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
  }
  constexpr uint64_t kCksum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  const bool offload = (info.tx_offload_capa & kCksum) == kCksum;
  if (offload) conf.txmode.offloads = kCksum;
  if (!SetUpQueues(port_id_, queues, options.descriptors, pool_, conf, "io dpdk: port " + port_name_,
                   error)) {
    return false;
  }
  if (rte_eth_dev_start(port_id_) != 0) {
    *error = "io dpdk: port " + port_name_ + ": cannot start";
    return false;
  }
  port_started_ = true;
  // Neighbour solicitations go to solicited-node multicast addresses.
  rte_eth_allmulticast_enable(port_id_);

  rte_ether_addr mac;
  rte_eth_macaddr_get(port_id_, &mac);
  local_ = std::make_unique<net::LocalAddresses>();
  net::MacAddress m;
  std::memcpy(m.data(), mac.addr_bytes, 6);
  local_->set_mac(m);
  for (const InterfaceAddress& a : options.addresses) {
    if (a.ipv6) {
      net::Ipv6Address v6;
      std::memcpy(v6.data(), a.bytes, 16);
      local_->AddIpv6(v6);
    } else {
      net::Ipv4Address v4;
      std::memcpy(v4.data(), a.bytes, 4);
      local_->AddIpv4(v4);
    }
  }
  for (uint16_t p : options.dns_ports) {
    if (!local_->AddDnsPort(p)) {
      *error = "io dpdk: more than " + std::to_string(net::LocalAddresses::kMaxPorts) +
               " DNS ports in the Corefile";
      return false;
    }
  }
  for (auto& ctx : contexts_) {
    ctx->config.port_id = port_id_;
    ctx->config.tx_offload = offload;
    ctx->config.reply.checksum =
        offload ? net::ChecksumMode::kOffload : net::ChecksumMode::kSoftwareNoUdp4;
  }
  return true;
}

bool Engine::SetUpTap(const EngineOptions& options, std::string* error) {
  if (options.exception_tap.empty()) return true;
  const std::string name = "net_tap_wdns";
  const std::string devargs =
      name + ",iface=" + options.exception_tap + ",mac=" + MacString(local_->mac());
  if (rte_dev_probe(devargs.c_str()) != 0) {
    *error = "io dpdk: exception tap " + options.exception_tap + ": cannot create it (" +
             devargs + ")";
    return false;
  }
  uint16_t tap;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &tap) != 0) {
    *error = "io dpdk: exception tap " + options.exception_tap + ": not found after creation";
    return false;
  }
  const uint16_t queues = static_cast<uint16_t>(contexts_.size());
  rte_eth_conf conf{};
  if (!SetUpQueues(tap, queues, 512, pool_, conf, "io dpdk: exception tap", error)) return false;
  if (rte_eth_dev_start(tap) != 0) {
    *error = "io dpdk: exception tap " + options.exception_tap + ": cannot start";
    return false;
  }
  tap_port_id_ = tap;
  for (auto& ctx : contexts_) ctx->config.tap_port_id = tap;
  return ConfigureKernelInterface(options.exception_tap, options.addresses, error);
}

bool Engine::Start(const rcu::Published<TableSet>* tables,
                   const std::function<std::optional<rcu::ReaderHandle>()>& register_reader,
                   std::string* error) {
  for (size_t i = 0; i < contexts_.size(); ++i) {
    WorkerContext& ctx = *contexts_[i];
    ctx.tables = tables;
    ctx.answer.counters = CounterBank::Get().AddRow();
    ctx.answer.stats = StatsBank::Get().AddRow();
    ctx.answer.log = LogBank::Get().AddRing();
    ctx.stages = StageProfile::Get().AddRow("dpdk " + std::to_string(i));
    ctx.reader = register_reader();
    if (!ctx.reader) {
      *error = "io dpdk: no RCU reader slot left for worker " + std::to_string(i);
      return false;
    }
  }
  for (size_t i = 0; i < contexts_.size(); ++i) {
    auto fn = [](void* arg) { return RunWorker(static_cast<WorkerContext*>(arg)); };
    if (rte_eal_remote_launch(fn, contexts_[i].get(), lcores_[i]) != 0) {
      *error = "io dpdk: cannot launch worker " + std::to_string(i);
      Stop();
      return false;
    }
  }
  running_ = true;
  return true;
}

void Engine::Stop() {
  for (auto& ctx : contexts_) ctx->stop.store(true, std::memory_order_relaxed);
  for (size_t i = 0; i < contexts_.size() && i < lcores_.size(); ++i) {
    rte_eal_wait_lcore(lcores_[i]);
  }
  running_ = false;
}

Engine::~Engine() {
  Stop();
  for (auto& ctx : contexts_) {
    StatsBank::Get().ReleaseRow(ctx->answer.stats);
    LogBank::Get().ReleaseRing(ctx->answer.log);
  }
  if (tap_port_id_ >= 0) {
    rte_eth_dev_stop(static_cast<uint16_t>(tap_port_id_));
    rte_eth_dev_close(static_cast<uint16_t>(tap_port_id_));
  }
  if (port_started_) {
    rte_eth_dev_stop(port_id_);
    rte_eth_dev_close(port_id_);
  }
  // EAL itself stays: rte_eal_cleanup would free memory other objects of
  // this process may still point to until exit.
}

}  // namespace warpdns::fastpath::dpdk
