// The worker's stages on real mbufs (EAL without hugepages or devices): table
// hits answered in place, misses punted, ARP answered, other traffic for the
// exception tap, malformed frames dropped and counted, nothing leaked.
#include "fastpath/dpdk/worker.h"

#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fastpath/table/generation.h"
#include "fastpath/table/query_key.h"
#include "tests/fastpath/net/frame_builder.h"

namespace warpdns::fastpath::dpdk {
namespace {

using namespace net::test_frames;  // NOLINT(build/namespaces): test fixtures only

rte_mempool* pool = nullptr;

// EAL can be initialised once per process: for every test here, first.
class EalEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const std::string prefix = "wdns-worker-test-" + std::to_string(getpid());
    std::vector<std::string> args = {"worker_test", "--no-huge", "-m", "128", "--no-pci",
                                     "--no-shconf", "--file-prefix", prefix, "-l", "0",
                                     "--no-telemetry", "--log-level=lib.eal:warning"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
      if (geteuid() != 0) GTEST_SKIP() << "not root and rte_eal_init failed";
      FAIL() << "rte_eal_init: " << rte_strerror(rte_errno);
    }
    pool = rte_pktmbuf_pool_create("worker_test", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                   static_cast<int>(rte_socket_id()));
    ASSERT_NE(pool, nullptr);
  }
};

// A DNS query for www.example.org (type A, RD, ID 0x1234), optionally with
// an OPT record.
Bytes DnsQuery(uint16_t id = 0x1234, bool edns = false) {
  Bytes q = {static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0,
             0, static_cast<uint8_t>(edns ? 1 : 0)};
  for (const char* label : {"www", "example", "org"}) {
    q.push_back(static_cast<uint8_t>(strlen(label)));
    q.insert(q.end(), label, label + strlen(label));
  }
  q.insert(q.end(), {0, 0, 1, 0, 1});
  if (edns) q.insert(q.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0});
  return q;
}

// Some reply octets (the table stores whatever the chain wrote).
Bytes Reply(uint16_t id) {
  Bytes r = DnsQuery(id);
  r[2] = 0x85;  // QR AA RD
  r[7] = 1;     // one answer
  r.insert(r.end(), {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4, 192, 0, 2, 10});
  return r;
}

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (pool == nullptr) GTEST_SKIP() << "no EAL";
    std::string error;
    domain_ = rcu::Domain::Create(4, &error);
    ASSERT_NE(domain_, nullptr) << error;
    reclaimer_ = std::make_unique<rcu::Reclaimer>(*domain_);
    tables_ = std::make_unique<TableSet>(1024, DataGeneration());
    local_ = OurAddresses();
    ctx_.local = &local_;
    ctx_.config.reply.checksum = net::ChecksumMode::kSoftware;
    static int rings = 0;
    ctx_.punt = rte_ring_create(("punt" + std::to_string(rings++)).c_str(), 64,
                                static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
    ASSERT_NE(ctx_.punt, nullptr);
    in_use_before_ = rte_mempool_in_use_count(pool);
  }
  void TearDown() override {
    if (pool == nullptr) return;
    rte_mbuf* m;
    while (rte_ring_sc_dequeue(ctx_.punt, reinterpret_cast<void**>(&m)) == 0) rte_pktmbuf_free(m);
    rte_pktmbuf_free_bulk(out_.tx, out_.tx_count);
    rte_pktmbuf_free_bulk(out_.to_tap, out_.to_tap_count);
    rte_ring_free(ctx_.punt);
    // Every mbuf a test took is back: none leaked by the stages.
    EXPECT_EQ(rte_mempool_in_use_count(pool), in_use_before_);
  }

  void Remember(const Bytes& query, const Bytes& reply, uint16_t port = 53) {
    QueryKey key;
    ASSERT_TRUE(MakeQueryKey(query.data(), query.size(), port, &key));
    ASSERT_TRUE(tables_->answers.Insert(key, reply.data(), reply.size(), *reclaimer_));
  }

  rte_mbuf* Mbuf(const Bytes& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    EXPECT_NE(m, nullptr);
    char* data = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
    std::copy(frame.begin(), frame.end(), data);
    return m;
  }

  void Run(std::vector<rte_mbuf*> burst, bool with_tables = true) {
    ProcessBurst(&ctx_, with_tables ? tables_.get() : nullptr, burst.data(),
                 static_cast<uint16_t>(burst.size()), &out_);
  }

  static Bytes Frame(const rte_mbuf* m) {
    const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
    return Bytes(p, p + rte_pktmbuf_data_len(m));
  }

  std::unique_ptr<rcu::Domain> domain_;
  std::unique_ptr<rcu::Reclaimer> reclaimer_;
  std::unique_ptr<TableSet> tables_;
  net::LocalAddresses local_;
  WorkerContext ctx_;
  BurstOut out_;
  unsigned in_use_before_ = 0;
};

TEST_F(WorkerTest, HitIsAnsweredInPlaceWithTheQueryId) {
  Remember(DnsQuery(0x1111), Reply(0x1111));
  Run({Mbuf(UdpQuery(Udp4Spec(), DnsQuery(0xbeef)))});
  ASSERT_EQ(out_.tx_count, 1);
  EXPECT_EQ(ctx_.counters.answered.load(), 1u);
  EXPECT_EQ(ctx_.counters.punted.load(), 0u);
  const Bytes f = Frame(out_.tx[0]);
  const net::FrameInfo info = Classify(f.data(), f.size(), local_);
  // Addressed back to the client, from us.
  EXPECT_EQ(Slice(f, 0, 6), ToBytes(kClientMac));
  EXPECT_EQ(Slice(f, 6, 6), ToBytes(kOurMac));
  EXPECT_EQ(Slice(f, 14 + 12, 4), ToBytes(kOurIp4));
  EXPECT_EQ(Slice(f, 14 + 16, 4), ToBytes(kClientIp4));
  EXPECT_EQ(Get16(f, 14 + 20), 53);
  EXPECT_EQ(Get16(f, 14 + 22), kClientPort);
  // The DNS payload is the remembered reply with the query's ID.
  const Bytes expected = Reply(0xbeef);
  EXPECT_EQ(Slice(f, 14 + 28, f.size() - 14 - 28), expected);
  EXPECT_EQ(Get16(f, 14 + 24), 8 + expected.size());  // UDP length
  EXPECT_EQ(RefChecksum(Slice(f, 14, 20)), 0);         // IPv4 header checksum
  EXPECT_EQ(info.kind, net::FrameKind::kException);  // a reply is no query of ours
}

TEST_F(WorkerTest, Ipv6HitGetsAValidUdpChecksum) {
  Remember(DnsQuery(), Reply(0x1234));
  Run({Mbuf(UdpQuery(Udp6Spec(), DnsQuery(7)))});
  ASSERT_EQ(out_.tx_count, 1);
  const Bytes f = Frame(out_.tx[0]);
  const Bytes udp = Slice(f, 14 + 40, f.size() - 14 - 40);
  EXPECT_EQ(RefChecksum(Cat({Ipv6PseudoHeader(ToBytes(kOurIp6), ToBytes(kClientIp6), 17,
                                               udp.size()),
                             udp})),
            0);
}

TEST_F(WorkerTest, MissesArePuntedWithTheFrameUntouched) {
  Remember(DnsQuery(), Reply(0x1234), 1053);  // another port: not this query's key
  const Bytes frame = UdpQuery(Udp4Spec(), DnsQuery());
  Run({Mbuf(frame), Mbuf(UdpQuery(Udp4Spec(), DnsQuery(1, /*edns=*/true)))});
  EXPECT_EQ(out_.tx_count, 0);
  EXPECT_EQ(ctx_.counters.punted.load(), 2u);
  ASSERT_EQ(rte_ring_count(ctx_.punt), 2u);
  rte_mbuf* m = nullptr;
  ASSERT_EQ(rte_ring_sc_dequeue(ctx_.punt, reinterpret_cast<void**>(&m)), 0);
  EXPECT_EQ(Frame(m), frame);
  rte_pktmbuf_free(m);
}

TEST_F(WorkerTest, StaleTablesAreNotUsed) {
  Remember(DnsQuery(), Reply(0x1234));
  Run({Mbuf(UdpQuery(Udp4Spec(), DnsQuery()))}, /*with_tables=*/false);
  EXPECT_EQ(out_.tx_count, 0);
  EXPECT_EQ(ctx_.counters.punted.load(), 1u);
}

TEST_F(WorkerTest, FullPuntRingDropsAndCounts) {
  std::vector<rte_mbuf*> burst;
  for (int i = 0; i < 80; ++i) burst.push_back(Mbuf(UdpQuery(Udp4Spec(), DnsQuery(i))));
  Run(burst);
  // A ring of 64 holds 63.
  EXPECT_EQ(ctx_.counters.punted.load(), 63u);
  EXPECT_EQ(ctx_.counters.punt_full.load(), 17u);
}

TEST_F(WorkerTest, ArpIsAnsweredOtherTrafficGoesToTheKernelMalformedIsDropped) {
  Remember(DnsQuery(), Reply(0x1234));
  IpSpec tcp = Udp4Spec();
  tcp.proto = 6;
  tcp.l4 = Payload(20);
  Bytes truncated = UdpQuery(Udp4Spec(), DnsQuery());
  truncated.resize(14 + 10);
  Run({Mbuf(ArpFrame(1, kClientMac, kClientIp4, kBroadcastMac, kOurIp4)),
       Mbuf(UdpQuery(Udp4Spec(), DnsQuery())), Mbuf(IpFrame(tcp)),
       Mbuf(UdpQuery(Udp4Spec(), DnsQuery(), /*dst_port=*/5353)), Mbuf(truncated)});
  ASSERT_EQ(out_.tx_count, 2);  // the ARP reply and the answer, in arrival order
  EXPECT_EQ(Get16(Frame(out_.tx[0]), 12), 0x0806);
  EXPECT_EQ(Get16(Frame(out_.tx[0]), 14 + 6), 2);  // ARP reply
  EXPECT_EQ(Get16(Frame(out_.tx[1]), 12), 0x0800);
  EXPECT_EQ(out_.to_tap_count, 2);
  EXPECT_EQ(ctx_.counters.arp_replies.load(), 1u);
  EXPECT_EQ(ctx_.counters.answered.load(), 1u);
  EXPECT_EQ(ctx_.counters.by_reason[static_cast<size_t>(net::Reason::kNotUdp)].load(), 1u);
  EXPECT_EQ(ctx_.counters.by_reason[static_cast<size_t>(net::Reason::kOtherPort)].load(), 1u);
  EXPECT_EQ(ctx_.counters.by_reason[static_cast<size_t>(net::Reason::kTruncated)].load(), 1u);
}

[[maybe_unused]] ::testing::Environment* const kEal =
    ::testing::AddGlobalTestEnvironment(new EalEnvironment);

}  // namespace
}  // namespace warpdns::fastpath::dpdk
