#include "fastpath/dpdk/worker.h"

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>

#include "fastpath/net/headers.h"
#include "fastpath/table/query_key.h"

namespace warpdns::fastpath::dpdk {
namespace {

inline void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) noexcept {
  // Single writer: a plain add, no locked instruction.
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

inline void SetLength(rte_mbuf* m, uint16_t len) noexcept {
  m->data_len = len;
  m->pkt_len = len;
}

// Sends `pkts` on `port`/`queue`; frees and counts what the queue refused.
inline uint16_t Send(uint16_t port, uint16_t queue, rte_mbuf** pkts, uint16_t n,
                     std::atomic<uint64_t>& dropped) noexcept {
  if (n == 0) return 0;
  const uint16_t sent = rte_eth_tx_burst(port, queue, pkts, n);
  if (sent < n) {
    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    Bump(dropped, n - sent);
  }
  return sent;
}

}  // namespace

void ProcessBurst(WorkerContext* ctx, const TableSet* tables, rte_mbuf** pkts, uint16_t count,
                  BurstOut* out) noexcept {
  WorkerCounters& c = ctx->counters;
  const net::LocalAddresses& local = *ctx->local;
  // The burst's DNS queries, keyed in the first pass and answered in the
  // third, so that the table's memory is requested for all of them before
  // any lookup waits for it (the lookups' two cache misses were most of a
  // worker's time).
  struct Query {
    rte_mbuf* m;
    net::FrameInfo info;
    bool keyed;
  };
  Query queries[256];
  QueryKey keys[256];
  uint16_t query_count = 0;
  rte_mbuf* punt[256];
  uint16_t punt_count = 0;
  uint64_t answered = 0, arp = 0, nd = 0;
  net::FrameInfo info;
  for (uint16_t i = 0; i < count; ++i) {
    rte_mbuf* m = pkts[i];
    if (i + 1 < count) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void*));
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    // Chained mbufs (jumbo frames) are not DNS queries worth a fast path.
    if (m->nb_segs != 1) {
      out->to_tap[out->to_tap_count++] = m;
      Bump(c.by_reason[static_cast<size_t>(net::Reason::kOtherEthertype)]);
      continue;
    }
    net::ClassifyFrame(frame, m->data_len, local, &info);
    const uint16_t room = static_cast<uint16_t>(m->buf_len - m->data_off);
    switch (info.kind) {
      case net::FrameKind::kDnsQuery: {
        Query& q = queries[query_count];
        QueryKey& key = keys[query_count];
        ++query_count;
        q.m = m;
        q.info = info;
        const uint16_t dst_port = net::Load16(frame + info.l4_offset + net::udp::kDstPort);
        q.keyed = tables != nullptr &&
                  MakeQueryKey(frame + info.payload_offset, info.payload_len, dst_port, &key);
        if (q.keyed) tables->answers.PrefetchSlot(key);
        break;
      }
      case net::FrameKind::kArpRequestForUs:
        SetLength(m, net::BuildArpReply(frame, info, local));
        out->tx[out->tx_count++] = m;
        ++arp;
        break;
      case net::FrameKind::kNeighborSolicitForUs: {
        const uint16_t len = net::BuildNeighborAdvert(frame, room, info, local);
        if (len == 0) {
          rte_pktmbuf_free(m);
          Bump(c.by_reason[static_cast<size_t>(net::Reason::kBadNeighborSolicit)]);
          continue;
        }
        SetLength(m, len);
        out->tx[out->tx_count++] = m;
        ++nd;
        break;
      }
      case net::FrameKind::kException:
        Bump(c.by_reason[static_cast<size_t>(info.reason)]);
        out->to_tap[out->to_tap_count++] = m;
        break;
      case net::FrameKind::kDrop:
        Bump(c.by_reason[static_cast<size_t>(info.reason)]);
        rte_pktmbuf_free(m);
        break;
    }
  }
  if (tables != nullptr) {
    for (uint16_t i = 0; i < query_count; ++i) {
      if (queries[i].keyed) tables->answers.PrefetchEntry(keys[i]);
    }
  }
  for (uint16_t i = 0; i < query_count; ++i) {
    rte_mbuf* m = queries[i].m;
    const net::FrameInfo& qi = queries[i].info;
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    uint8_t* dns = frame + qi.payload_offset;
    const uint16_t room = static_cast<uint16_t>(m->buf_len - m->data_off);
    size_t n = 0;
    if (queries[i].keyed) {
      // The ID is read before the answer overwrites the query.
      const uint8_t id[2] = {dns[0], dns[1]};
      const Client client{
          qi.ipv6 ? 2 : 1,
          frame + qi.l3_offset + (qi.ipv6 ? net::ipv6::kSrc : net::ipv4::kSrc),
          net::Load16(frame + qi.l4_offset + net::udp::kSrcPort)};
      n = tables->answers.Answer(keys[i], id, dns, room - qi.payload_offset, ctx->answer,
                                 qi.payload_len, client);
    }
    if (n == 0) {
      punt[punt_count++] = m;
      continue;
    }
    const uint16_t len = net::FinishUdpReply(frame, qi, static_cast<uint16_t>(n), ctx->config.reply);
    if (len == 0) {
      rte_pktmbuf_free(m);
      Bump(c.reply_too_big);
      continue;
    }
    SetLength(m, len);
    if (ctx->config.tx_offload) SetChecksumOffload(m, qi);
    out->tx[out->tx_count++] = m;
    ++answered;
  }
  if (punt_count != 0) {
    const unsigned queued =
        rte_ring_sp_enqueue_burst(ctx->punt, reinterpret_cast<void**>(punt), punt_count, nullptr);
    if (queued < punt_count) {
      rte_pktmbuf_free_bulk(punt + queued, punt_count - queued);
      Bump(c.punt_full, punt_count - queued);
    }
    Bump(c.punted, queued);
  }
  if (answered != 0) Bump(c.answered, answered);
  if (arp != 0) Bump(c.arp_replies, arp);
  if (nd != 0) Bump(c.nd_replies, nd);
}

int RunWorker(WorkerContext* ctx) noexcept {
  const WorkerConfig& cfg = ctx->config;
  WorkerCounters& c = ctx->counters;
  rte_mbuf* rx[256];
  BurstOut out;
  const uint16_t burst = cfg.burst > 256 ? 256 : cfg.burst;
  ctx->reader->Online();
  uint64_t loops = 0, busy = 0;
  while (!ctx->stop.load(std::memory_order_relaxed)) {
    ++loops;
    // One TableSet version for the whole iteration; released by Quiescent.
    const TableSet* tables = &ctx->tables->Get();
    if (!tables->Current()) tables = nullptr;
    out.tx_count = 0;
    out.to_tap_count = 0;
    // Stage cycles only while a profile is taken (one relaxed load per loop).
    const bool profile = StageProfile::On();
    const uint64_t t0 = profile ? StageProfile::Cycles() : 0;
    const uint16_t n = rte_eth_rx_burst(cfg.port_id, cfg.queue, rx, burst);
    if (n != 0) {
      const uint64_t t1 = profile ? StageProfile::Cycles() : 0;
      Bump(c.rx, n);
      ctx->answer.now_ns = MonotonicNs();
      ProcessBurst(ctx, tables, rx, n, &out);
      if (ctx->answer.BurstPending()) ctx->answer.FinishBurst(MonotonicNs());
      if (profile) {
        StageProfile::Record(ctx->stages, Stage::kReceive, t1 - t0, n);
        // Classify, key and answer interleave per packet here: one figure.
        StageProfile::Record(ctx->stages, Stage::kAnswer, StageProfile::Cycles() - t1, n);
      }
    }
    // The slow path's answers leave through this worker's queue.
    const unsigned injected = rte_ring_sc_dequeue_burst(
        ctx->inject, reinterpret_cast<void**>(out.tx + out.tx_count), burst, nullptr);
    out.tx_count = static_cast<uint16_t>(out.tx_count + injected);
    if (injected != 0) Bump(c.injected, injected);
    // The kernel's frames (TCP replies, its ARP, ICMP) go out the port too.
    uint16_t from_kernel = 0;
    if (cfg.tap_port_id >= 0) {
      from_kernel = rte_eth_rx_burst(static_cast<uint16_t>(cfg.tap_port_id), cfg.queue,
                                     out.tx + out.tx_count, burst);
      out.tx_count = static_cast<uint16_t>(out.tx_count + from_kernel);
      if (from_kernel != 0) Bump(c.from_kernel, from_kernel);
    }
    if (out.tx_count != 0) {
      const uint64_t t2 = profile ? StageProfile::Cycles() : 0;
      Bump(c.tx, Send(cfg.port_id, cfg.queue, out.tx, out.tx_count, c.tx_dropped));
      if (profile) {
        StageProfile::Record(ctx->stages, Stage::kSend, StageProfile::Cycles() - t2, out.tx_count);
      }
    }
    if (out.to_tap_count != 0) {
      if (cfg.tap_port_id >= 0) {
        Bump(c.to_kernel, Send(static_cast<uint16_t>(cfg.tap_port_id), cfg.queue, out.to_tap,
                               out.to_tap_count, c.exception_dropped));
      } else {
        rte_pktmbuf_free_bulk(out.to_tap, out.to_tap_count);
        Bump(c.exception_dropped, out.to_tap_count);
      }
    }
    if (n != 0 || injected != 0 || from_kernel != 0) ++busy;
    ctx->reader->Quiescent();
    if ((loops & 1023) == 0) {
      c.loops.store(loops, std::memory_order_relaxed);
      c.busy_loops.store(busy, std::memory_order_relaxed);
    }
  }
  c.loops.store(loops, std::memory_order_relaxed);
  c.busy_loops.store(busy, std::memory_order_relaxed);
  ctx->reader->Offline();
  return 0;
}

}  // namespace warpdns::fastpath::dpdk
