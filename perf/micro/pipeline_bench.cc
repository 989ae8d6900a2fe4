// The DPDK worker's per-packet pipeline (dpdk::ProcessBurst) on bursts of real
// mbufs holding real Ethernet/IPv4/UDP DNS query frames: classify, query key,
// answer-table lookup, reply written in place, L2-L4 headers turned around.
// Everything a worker does per burst except the PMD's rx/tx_burst, so the
// figures are the fast path's own capacity per core with no NIC or kernel in
// the way (perf/run --workload replay measures the whole loop on a vdev).
//
// The table holds real authoritative answers (wire::WriteMessage replies with
// one A record, 55 octets) for 10k random names under example.test, with and
// without EDNS, in a table of the production default size (2^20 slots, 8 MiB),
// so lookups miss the caches the way they do in warpdns; hit_table128k holds
// the same answers in 2^17 slots (`table_slots 131072`). Each iteration writes
// a burst of query frames (random names of the 10k, random IDs and source
// ports) into mbufs, as a NIC would, then runs ProcessBurst. Both parts are
// timed with the TSC and reported separately, per query:
//
//   pipe_cyc/q  ProcessBurst plus the per-burst RCU work RunWorker does
//   pipe_ns/q, pipe_Mqps   the same in time and in queries per second per core
//   copy_cyc/q  writing the frame into the mbuf (the stand-in for the NIC's DMA)
//   mbuf_cyc/q  (hit_mempool) rte_pktmbuf_alloc_bulk/free_bulk per burst, as a
//               PMD's RX refill and TX completion would do
//   cyc/q       everything in the loop
//   cpu/wall    under 1 when other processes took the CPU meanwhile
//
// Cycles are TSC cycles (rte_get_tsc_hz()) of this thread's CPU time: each
// part's share of the TSC time, applied to CLOCK_THREAD_CPUTIME_ID, so that a
// preemption does not count as work. On a VM the TSC runs at the nominal clock
// whatever the core's actual frequency.
//
// EAL is initialised once in main() (no hugepages, no PCI, no shared files,
// one lcore: the CPU this process was started on, so `taskset -c N` keeps its
// meaning). This file defines main(): the linker then leaves out the one in
// benchmark_main, which perf/CMakeLists.txt links into every benchmark.
#include <benchmark/benchmark.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fastpath/dpdk/worker.h"
#include "fastpath/net/local_addresses.h"
#include "fastpath/rcu/rcu.h"
#include "fastpath/table/generation.h"
#include "fastpath/table/query_key.h"
#include "fastpath/table/table_set.h"
#include "fastpath/wire/constants.h"
#include "fastpath/wire/message.h"

namespace warpdns::fastpath {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr size_t kNames = 10000;
constexpr size_t kTableSlots = size_t{1} << 20;       // io dpdk's table_slots default
constexpr size_t kSmallTableSlots = size_t{1} << 17;  // `table_slots 131072`: 1 MiB of slots
constexpr size_t kFrames = 8192;                      // prebuilt query frames, cycled through
constexpr size_t kMbufRing = 1024;                    // mbufs cycled through, as an RX ring of 1024
constexpr uint16_t kDnsPort = 53;

const net::MacAddress kOurMac = {0x02, 0, 0, 0, 0, 0x01};
const net::MacAddress kClientMac = {0x02, 0, 0, 0, 0, 0x02};
const net::Ipv4Address kOurIp = {10, 99, 0, 1};

// Random labels of 3-14 characters, as perf/lib/warpbench/data.py makes them.
std::vector<std::string> RandomNames(std::mt19937_64& rng, size_t count, const char* prefix) {
  static constexpr char kAlpha[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::vector<std::string> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t n = 3 + rng() % 12;
    std::string label = prefix;
    label += static_cast<char>('a' + rng() % 26);
    while (label.size() < n) label += kAlpha[rng() % 36];
    out.push_back(label + ".example.test");
  }
  return out;
}

// A query for `name` A, RD set (as dnsperf and kxdpgun send it), optionally
// with what dig adds: EDNS 1232 and a client cookie.
Bytes Query(const std::string& name, uint16_t id, bool edns) {
  Bytes b = {
      static_cast<uint8_t>(id >> 8),     static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0,
      static_cast<uint8_t>(edns ? 1 : 0)};
  size_t start = 0;
  while (start <= name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b.push_back(static_cast<uint8_t>(dot - start));
    b.insert(b.end(), name.begin() + static_cast<long>(start),
             name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.insert(b.end(), {0, 0, 1, 0, 1});
  if (edns) {
    b.insert(b.end(),
             {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 12, 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8});
  }
  return b;
}

// The authoritative answer the file plugin gives: AA, one A record, the OPT
// mirrored without options. Built with the wire library, as the slow path does.
Bytes Answer(const Bytes& query, uint32_t address) {
  wire::Message q;
  if (wire::ParseMessage(query.data(), query.size(), &q) != wire::ParseError::kOk) std::abort();
  wire::Message r = wire::MakeReply(q);
  r.header.SetFlag(wire::flag::kAa, true);
  wire::Rr a;
  a.name = q.question[0].name;
  a.type = wire::type::kA;
  a.ttl = 3600;
  a.rdata = {static_cast<uint8_t>(address >> 24), static_cast<uint8_t>(address >> 16),
             static_cast<uint8_t>(address >> 8), static_cast<uint8_t>(address)};
  r.answer.push_back(a);
  Bytes out;
  if (wire::WriteMessage(r, 1232, &out) == 0) std::abort();
  return out;
}

uint32_t Sum16(const uint8_t* p, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(p[len - 1] << 8);
  return sum;
}
uint16_t Fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}
void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

// One query frame as a client on 10.99.0.0/24 sends it, with correct IPv4
// header and UDP checksums.
struct Frame {
  uint16_t len = 0;
  alignas(64) uint8_t bytes[192];
};

Frame QueryFrame(const Bytes& dns, uint8_t client_host, uint16_t src_port, uint16_t ip_id) {
  Frame f;
  uint8_t* p = f.bytes;
  std::memcpy(p, kOurMac.data(), 6);
  std::memcpy(p + 6, kClientMac.data(), 6);
  Put16(p + 12, 0x0800);
  uint8_t* ip = p + 14;
  const uint16_t udp_len = static_cast<uint16_t>(8 + dns.size());
  const uint8_t src_ip[4] = {10, 99, 0, client_host};
  ip[0] = 0x45;
  ip[1] = 0;
  Put16(ip + 2, static_cast<uint16_t>(20 + udp_len));
  Put16(ip + 4, ip_id);
  Put16(ip + 6, 0x4000);  // DF
  ip[8] = 64;
  ip[9] = 17;
  Put16(ip + 10, 0);
  std::memcpy(ip + 12, src_ip, 4);
  std::memcpy(ip + 16, kOurIp.data(), 4);
  Put16(ip + 10, Fold(Sum16(ip, 20)));
  uint8_t* udp = ip + 20;
  Put16(udp, src_port);
  Put16(udp + 2, kDnsPort);
  Put16(udp + 4, udp_len);
  Put16(udp + 6, 0);
  std::memcpy(udp + 8, dns.data(), dns.size());
  const uint32_t pseudo = Sum16(ip + 12, 8) + 17 + udp_len;
  const uint16_t c = Fold(Sum16(udp, udp_len, pseudo));
  Put16(udp + 6, c == 0 ? 0xffff : c);
  f.len = static_cast<uint16_t>(14 + 20 + udp_len);
  if (f.len > sizeof(f.bytes)) std::abort();
  return f;
}

// Everything the benchmarks share, built once after EAL.
struct World {
  std::string eal_error;  // non-empty: every benchmark is skipped with it
  uint64_t tsc_hz = 0;
  rte_mempool* pool = nullptr;
  net::LocalAddresses local;
  std::unique_ptr<rcu::Domain> domain;
  std::unique_ptr<rcu::Reclaimer> reclaimer;
  std::unique_ptr<rcu::Published<TableSet>> tables;
  std::unique_ptr<rcu::Published<TableSet>> small_tables;  // same answers, kSmallTableSlots
  dpdk::WorkerContext* ctx = nullptr;  // new'd: WorkerContext is neither copyable nor movable
  std::unique_ptr<dpdk::BurstOut> out;
  std::vector<rte_mbuf*> mbufs;  // kMbufRing of them, owned by the benchmarks
  // Prebuilt frames: hits without and with EDNS, and names not in the table.
  std::vector<Frame> hit, hit_edns, miss;
  size_t reply_octets = 0;  // of the DNS answer, for the report
};

World* world = nullptr;

void BuildTables(World& w) {
  std::string error;
  w.domain = rcu::Domain::Create(4, &error);
  if (!w.domain) {
    w.eal_error = "rcu::Domain: " + error;
    return;
  }
  w.reclaimer = std::make_unique<rcu::Reclaimer>(*w.domain);
  auto set = std::make_unique<TableSet>(kTableSlots, DataGeneration());
  auto small = std::make_unique<TableSet>(kSmallTableSlots, DataGeneration());
  std::mt19937_64 rng(1);
  const std::vector<std::string> names = RandomNames(rng, kNames, "");
  const std::vector<std::string> absent = RandomNames(rng, kNames, "nx-");
  QueryKey key;
  for (size_t i = 0; i < names.size(); ++i) {
    for (bool edns : {false, true}) {
      const Bytes q = Query(names[i], 0, edns);
      if (!MakeQueryKey(q.data(), q.size(), kDnsPort, &key)) std::abort();
      const Bytes a = Answer(q, 0x0a000000u | static_cast<uint32_t>(i));
      if (!edns) w.reply_octets += a.size();
      if (!set->answers.Insert(key, a.data(), a.size(), *w.reclaimer) ||
          !small->answers.Insert(key, a.data(), a.size(), *w.reclaimer)) {
        std::abort();
      }
    }
  }
  w.reply_octets /= names.size();
  if (set->answers.evictions() != 0 || small->answers.evictions() != 0) {
    std::fprintf(stderr, "evictions: %lu %lu\n",
                 static_cast<unsigned long>(set->answers.evictions()),
                 static_cast<unsigned long>(small->answers.evictions()));
  }
  w.tables = std::make_unique<rcu::Published<TableSet>>(std::move(set));
  w.small_tables = std::make_unique<rcu::Published<TableSet>>(std::move(small));

  auto frames = [&](const std::vector<std::string>& from, bool edns) {
    std::vector<Frame> out;
    out.reserve(kFrames);
    for (size_t i = 0; i < kFrames; ++i) {
      const std::string& name = from[rng() % from.size()];
      out.push_back(QueryFrame(
          Query(name, static_cast<uint16_t>(rng()), edns), static_cast<uint8_t>(2 + rng() % 200),
          static_cast<uint16_t>(1024 + rng() % 60000), static_cast<uint16_t>(rng())));
    }
    return out;
  };
  w.hit = frames(names, false);
  w.hit_edns = frames(names, true);
  w.miss = frames(absent, false);
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Writes frame `f` into `m` as a receiving PMD leaves it: data at the default
// headroom, one segment, lengths set.
inline void Receive(rte_mbuf* m, const Frame& f) {
  m->data_off = RTE_PKTMBUF_HEADROOM;
  std::memcpy(rte_pktmbuf_mtod(m, uint8_t*), f.bytes, f.len);
  m->data_len = f.len;
  m->pkt_len = f.len;
}

// Runs one hit through ProcessBurst and compares the reply's DNS octets with
// what the wire library writes for that query: figures from a pipeline that
// answers wrongly would be worthless.
void CheckOneReply(World& w) {
  rte_mbuf* m = w.mbufs[0];
  const Frame& f = w.hit[0];
  Receive(m, f);
  constexpr size_t kDns = 14 + 20 + 8;
  const Bytes query(f.bytes + kDns, f.bytes + f.len);
  wire::Message q;
  if (wire::ParseMessage(query.data(), query.size(), &q) != wire::ParseError::kOk) std::abort();
  w.ctx->reader->Online();
  w.out->tx_count = 0;
  dpdk::ProcessBurst(w.ctx, &w.tables->Get(), &m, 1, w.out.get());
  w.ctx->reader->Offline();
  const uint8_t* reply = rte_pktmbuf_mtod(m, const uint8_t*);
  wire::Message r;
  const bool ok =
      w.out->tx_count == 1 && m->data_len > kDns && std::memcmp(reply, kClientMac.data(), 6) == 0 &&
      wire::ParseMessage(reply + kDns, m->data_len - kDns, &r) == wire::ParseError::kOk &&
      r.header.id == q.header.id && r.header.qr() && r.header.aa() && r.answer.size() == 1 &&
      r.question.size() == 1 && r.question[0].name == q.question[0].name;
  if (!ok) w.eal_error = "the pipeline's reply to a table hit is not the expected answer";
  w.ctx->counters.answered.store(0, std::memory_order_relaxed);
  w.ctx->counters.tx.store(0, std::memory_order_relaxed);
}

void BuildWorld(World& w) {
  w.tsc_hz = rte_get_tsc_hz();
  // Room for the recycled ring, a mempool variant's bursts and the per-lcore cache.
  w.pool = rte_pktmbuf_pool_create("bench_mbufs", 4095, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   static_cast<int>(rte_socket_id()));
  if (w.pool == nullptr) {
    w.eal_error = std::string("rte_pktmbuf_pool_create: ") + rte_strerror(rte_errno);
    return;
  }
  w.mbufs.resize(kMbufRing);
  if (rte_pktmbuf_alloc_bulk(w.pool, w.mbufs.data(), kMbufRing) != 0) {
    w.eal_error = "cannot allocate the mbufs";
    return;
  }
  w.local.set_mac(kOurMac);
  w.local.AddIpv4(kOurIp);
  w.local.AddDnsPort(kDnsPort);
  BuildTables(w);
  if (!w.eal_error.empty()) return;

  w.ctx = new dpdk::WorkerContext();
  // What the engine picks for a port without checksum offload (net_pcap,
  // net_af_xdp, net_af_packet): IPv4 header checksum in software, UDP 0.
  w.ctx->config.reply.checksum = net::ChecksumMode::kSoftwareNoUdp4;
  w.ctx->local = &w.local;
  w.ctx->tables = w.tables.get();
  w.ctx->reader = w.domain->Register(0);
  w.ctx->punt = rte_ring_create("bench_punt", 4096, static_cast<int>(rte_socket_id()),
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
  if (w.ctx->punt == nullptr) {
    w.eal_error = std::string("rte_ring_create: ") + rte_strerror(rte_errno);
    return;
  }
  w.out = std::make_unique<dpdk::BurstOut>();
  CheckOneReply(w);
}

enum class Kind { kHit, kHitEdns, kHitSmallTable, kMiss, kHitMempool, kRewriteOnly };

void BM_Pipeline(benchmark::State& state, Kind kind) {
  if (world == nullptr || !world->eal_error.empty()) {
    state.SkipWithError(world ? world->eal_error.c_str() : "no EAL");
    return;
  }
  World& w = *world;
  dpdk::WorkerContext& ctx = *w.ctx;
  dpdk::BurstOut& out = *w.out;
  const uint16_t burst = static_cast<uint16_t>(state.range(0));
  const std::vector<Frame>& frames = kind == Kind::kMiss      ? w.miss
                                     : kind == Kind::kHitEdns ? w.hit_edns
                                                              : w.hit;
  const uint64_t answered0 = ctx.counters.answered.load(std::memory_order_relaxed);
  const uint64_t punted0 = ctx.counters.punted.load(std::memory_order_relaxed);
  ctx.tables = kind == Kind::kHitSmallTable ? w.small_tables.get() : w.tables.get();
  rte_mbuf* pkts[256];
  size_t frame = 0, slot = 0;
  uint64_t copy_cycles = 0, pipe_cycles = 0, mbuf_cycles = 0;
  ctx.reader->Online();
  const double cpu_start = ThreadCpuSeconds();
  const uint64_t start = rte_rdtsc();
  for (auto _ : state) {
    uint64_t t0 = rte_rdtsc();
    if (kind == Kind::kHitMempool) {
      if (rte_pktmbuf_alloc_bulk(w.pool, pkts, burst) != 0) {
        state.SkipWithError("mempool empty");
        break;
      }
      const uint64_t t = rte_rdtsc();
      mbuf_cycles += t - t0;
      t0 = t;
    } else {
      std::memcpy(pkts, &w.mbufs[slot], burst * sizeof(rte_mbuf*));
      slot = (slot + burst) & (kMbufRing - 1);
    }
    for (uint16_t i = 0; i < burst; ++i) {
      Receive(pkts[i], frames[frame]);
      frame = (frame + 1) & (kFrames - 1);
    }
    const uint64_t t1 = rte_rdtsc();
    if (kind == Kind::kRewriteOnly) {
      benchmark::ClobberMemory();
      copy_cycles += t1 - t0;
      continue;
    }
    // As RunWorker: one TableSet version per iteration, a quiescent state after.
    const TableSet* tables = &ctx.tables->Get();
    if (!tables->Current()) tables = nullptr;
    out.tx_count = 0;
    out.to_tap_count = 0;
    dpdk::ProcessBurst(&ctx, tables, pkts, burst, &out);
    ctx.reader->Quiescent();
    const uint64_t t2 = rte_rdtsc();
    copy_cycles += t1 - t0;
    pipe_cycles += t2 - t1;
    if (kind == Kind::kMiss) {
      // The slow path's end of the punt ring; the mbufs stay in w.mbufs.
      void* back[256];
      rte_ring_sc_dequeue_burst(ctx.punt, back, burst, nullptr);
    } else if (kind == Kind::kHitMempool) {
      rte_pktmbuf_free_bulk(out.tx, out.tx_count);
      mbuf_cycles += rte_rdtsc() - t2;
    }
  }
  const uint64_t total = rte_rdtsc() - start;
  const double cpu_seconds = ThreadCpuSeconds() - cpu_start;
  ctx.reader->Offline();

  const double queries = static_cast<double>(state.iterations()) * burst;
  state.SetItemsProcessed(static_cast<int64_t>(queries));
  if (queries == 0) return;
  const uint64_t answered = ctx.counters.answered.load(std::memory_order_relaxed) - answered0;
  const uint64_t punted = ctx.counters.punted.load(std::memory_order_relaxed) - punted0;
  const uint64_t expected = static_cast<uint64_t>(queries);
  if (kind == Kind::kMiss ? punted != expected
                          : kind != Kind::kRewriteOnly && answered != expected) {
    // A wrong table or frame would make every figure meaningless.
    state.SkipWithError(("answered " + std::to_string(answered) + ", punted " +
                         std::to_string(punted) + " of " + std::to_string(expected))
                            .c_str());
    return;
  }
  // The TSC counts wall time, preemptions included; this thread's CPU time
  // does not. Each part's share of the TSC time is unbiased (a preemption is
  // as likely to land in any part), so the parts are reported as that share
  // of the CPU time: on a busy machine the figures stay those of the code.
  const double hz = static_cast<double>(w.tsc_hz);
  const double cycles = cpu_seconds * hz / queries;  // TSC cycles of CPU time per query
  const double tsc = static_cast<double>(total);
  state.counters["cyc/q"] = cycles;
  state.counters["cpu/wall"] = cpu_seconds * hz / tsc;
  state.counters["copy_cyc/q"] = cycles * static_cast<double>(copy_cycles) / tsc;
  if (kind != Kind::kRewriteOnly) {
    const double pipe = cycles * static_cast<double>(pipe_cycles) / tsc;
    state.counters["pipe_cyc/q"] = pipe;
    state.counters["pipe_ns/q"] = 1e9 * pipe / hz;
    state.counters["pipe_Mqps"] = hz / pipe / 1e6;
  }
  if (kind == Kind::kHitMempool) {
    state.counters["mbuf_cyc/q"] = cycles * static_cast<double>(mbuf_cycles) / tsc;
  }
}

void Bursts(benchmark::internal::Benchmark* b) { b->ArgName("burst")->Arg(32)->Arg(8); }

BENCHMARK_CAPTURE(BM_Pipeline, hit, Kind::kHit)->Apply(Bursts);
BENCHMARK_CAPTURE(BM_Pipeline, hit_edns, Kind::kHitEdns)->ArgName("burst")->Arg(32);
BENCHMARK_CAPTURE(BM_Pipeline, hit_table128k, Kind::kHitSmallTable)->ArgName("burst")->Arg(32);
BENCHMARK_CAPTURE(BM_Pipeline, hit_mempool, Kind::kHitMempool)->ArgName("burst")->Arg(32);
BENCHMARK_CAPTURE(BM_Pipeline, miss_punt, Kind::kMiss)->ArgName("burst")->Arg(32);
BENCHMARK_CAPTURE(BM_Pipeline, rewrite_only, Kind::kRewriteOnly)->ArgName("burst")->Arg(32);

// EAL on the first CPU this process may run on; returns "" or why it failed.
std::string InitEal(std::string* runtime_dir) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  int cpu = 0;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) {
    while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &allowed)) ++cpu;
    if (cpu == CPU_SETSIZE) cpu = 0;
  }
  // --no-huge cannot go with --in-memory: --no-shconf and a private prefix
  // keep parallel runs apart instead.
  std::vector<std::string> args = {"pipeline_bench",
                                   "--no-huge",
                                   "-m",
                                   "256",
                                   "--no-pci",
                                   "--no-shconf",
                                   "--no-telemetry",
                                   "--log-level=lib.eal:warning"};
  for (std::string a : {std::string("--file-prefix"), "wdns-bench-" + std::to_string(getpid()),
                        std::string("-l"), std::to_string(cpu)}) {
    args.push_back(a);
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
    return std::string("rte_eal_init: ") + rte_strerror(rte_errno) +
           (geteuid() != 0 ? " (not root?)" : "");
  }
  *runtime_dir = rte_eal_get_runtime_dir();
  return "";
}

}  // namespace
}  // namespace warpdns::fastpath

int main(int argc, char** argv) {
  using warpdns::fastpath::World;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  std::string runtime_dir;
  // Never deleted: its mempool, ring and tables live until the process exits.
  auto* w = new World();
  warpdns::fastpath::world = w;
  w->eal_error = warpdns::fastpath::InitEal(&runtime_dir);
  const bool eal = w->eal_error.empty();
  if (eal) warpdns::fastpath::BuildWorld(*w);
  if (w->eal_error.empty()) {
    benchmark::AddCustomContext("tsc_hz", std::to_string(w->tsc_hz));
    benchmark::AddCustomContext("answer_octets", std::to_string(w->reply_octets));
    benchmark::AddCustomContext(
        "table", std::to_string(warpdns::fastpath::kNames) + " names x2 (with and without EDNS), " +
                     std::to_string(warpdns::fastpath::kTableSlots) + " slots");
  } else {
    std::fprintf(stderr, "pipeline_bench: %s: every benchmark is skipped\n", w->eal_error.c_str());
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (eal) {
    rte_eal_cleanup();
    // EAL leaves its (empty) runtime directory behind.
    std::error_code ec;
    std::filesystem::remove_all(runtime_dir, ec);
  }
  return 0;
}
