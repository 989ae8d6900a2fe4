// One fast-path worker: the per-core poll loop of DPDK mode. Each worker owns
// one RX/TX queue pair of the port (and of the exception tap), its ends of
// the punt and inject rings, and its counters. Per burst:
//
//   rx_burst -> classify (L2-L4) -> DNS query: key -> answer table hit ->
//   reply in place -> TX | miss -> punt ring | ARP/ND for us -> reply ->
//   TX | other traffic -> exception tap | malformed -> drop (by reason)
//
// plus the slow path's answers from the inject ring and the kernel's frames
// from the tap, both sent on the worker's TX queue (one owner per queue).
#ifndef WARPDNS_FASTPATH_DPDK_WORKER_H_
#define WARPDNS_FASTPATH_DPDK_WORKER_H_

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>

#include "fastpath/net/classify.h"
#include "fastpath/net/local_addresses.h"
#include "fastpath/net/reply.h"
#include "fastpath/profile/stage_profile.h"
#include "fastpath/rcu/rcu.h"
#include "fastpath/table/table_set.h"

namespace warpdns::fastpath::dpdk {

// Written only by the owning worker (relaxed stores of its own values), read
// by the metrics collector with relaxed loads. One cache-line-aligned block
// per worker, so workers never share a line.
struct alignas(64) WorkerCounters {
  std::atomic<uint64_t> rx{0};              // frames received from the port
  std::atomic<uint64_t> tx{0};              // frames sent on the port
  std::atomic<uint64_t> tx_dropped{0};      // the port's TX queue was full
  std::atomic<uint64_t> answered{0};        // DNS replies from the tables
  std::atomic<uint64_t> punted{0};          // queries handed to the slow path
  std::atomic<uint64_t> punt_full{0};       // ... dropped: the punt ring was full
  std::atomic<uint64_t> injected{0};        // slow-path replies sent
  std::atomic<uint64_t> arp_replies{0};
  std::atomic<uint64_t> nd_replies{0};
  std::atomic<uint64_t> to_kernel{0};       // frames passed to the exception tap
  std::atomic<uint64_t> from_kernel{0};     // frames from the tap sent on the port
  std::atomic<uint64_t> exception_dropped{0};  // no tap, or its queue was full
  std::atomic<uint64_t> reply_too_big{0};   // an answer did not fit the mbuf
  std::array<std::atomic<uint64_t>, static_cast<size_t>(net::Reason::kCount)> by_reason{};
  std::atomic<uint64_t> loops{0};           // poll-loop iterations
  std::atomic<uint64_t> busy_loops{0};      // ... that moved at least one frame
};

struct WorkerConfig {
  uint16_t port_id = 0;
  uint16_t queue = 0;          // RX/TX queue of the port and of the tap
  int tap_port_id = -1;        // -1: no exception interface
  uint16_t burst = 32;
  net::ReplyOptions reply;     // checksum mode from the port's offloads
  bool tx_offload = false;     // set ol_flags for ChecksumMode::kOffload
};

// Everything one worker touches. Built by the control thread, then owned by
// the worker's lcore until Stop.
struct WorkerContext {
  WorkerConfig config;
  const net::LocalAddresses* local = nullptr;             // read-only while running
  const rcu::Published<TableSet>* tables = nullptr;
  std::optional<rcu::ReaderHandle> reader;
  rte_ring* punt = nullptr;    // worker -> slow path (mbufs)
  rte_ring* inject = nullptr;  // slow path -> worker (finished reply frames)
  WorkerCounters counters;
  AnswerTable::Context answer;  // clock, random source and metric row of the answer stage
  StageProfile::Row* stages = nullptr;  // cycles per stage while profiling
  std::atomic<bool> stop{false};
};

// Marks a finished reply frame for the port's IPv4/UDP checksum offload
// (net::ChecksumMode::kOffload). Fast path: any thread; never blocks.
inline void SetChecksumOffload(rte_mbuf* m, const net::FrameInfo& info) noexcept {
  m->l2_len = info.l3_offset;
  m->l3_len = info.l4_offset - info.l3_offset;
  m->ol_flags = info.ipv6 ? (RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_UDP_CKSUM)
                          : (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_UDP_CKSUM);
}

// The worker loop; returns when `ctx->stop` is set. Runs on its EAL lcore
// (rte_eal_remote_launch). Fast path: never blocks, allocates or makes a
// system call (the tap PMD's TX is a write(2) to the kernel, which is the
// point of the exception path; it is off the DNS path).
int RunWorker(WorkerContext* ctx) noexcept;

// One burst of received frames through the stages, without the loop: for
// the pipeline benchmark and tests. `tx` receives the frames to send on the
// port, `to_tap` those for the exception tap; returns nothing, the counts are
// in ctx->counters and the out-arrays' sizes. Frames punted go to ctx->punt;
// dropped ones are freed. Fast path: the owning thread; never blocks.
struct BurstOut {
  rte_mbuf* tx[768];  // a burst, the inject ring's and the tap's
  uint16_t tx_count = 0;
  rte_mbuf* to_tap[256];
  uint16_t to_tap_count = 0;
};
void ProcessBurst(WorkerContext* ctx, const TableSet* tables, rte_mbuf** pkts, uint16_t count,
                  BurstOut* out) noexcept;

}  // namespace warpdns::fastpath::dpdk

#endif  // WARPDNS_FASTPATH_DPDK_WORKER_H_
