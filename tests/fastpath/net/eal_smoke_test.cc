// DPDK with no hugepages and no NIC: EAL, a mempool and a net_ring port (its
// TX loops back to its RX), with the frame code working on real mbufs. EAL
// can be initialised once per process, so this binary has exactly one test.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "fastpath/net/classify.h"
#include "fastpath/net/reply.h"
#include "tests/fastpath/net/frame_builder.h"

namespace warpdns::fastpath::net {
namespace {

using namespace test_frames;  // NOLINT(build/namespaces): test fixtures only

constexpr uint16_t kQueueSize = 64;

// Sends `m` on the port and receives it back: net_ring hands the mbuf
// straight to its RX ring, so no waiting is needed.
rte_mbuf* RoundTrip(uint16_t port_id, rte_mbuf* m) {
  EXPECT_EQ(rte_eth_tx_burst(port_id, 0, &m, 1), 1);
  rte_mbuf* back = nullptr;
  EXPECT_EQ(rte_eth_rx_burst(port_id, 0, &back, 1), 1);
  return back;
}

rte_mbuf* MbufFrom(rte_mempool* pool, const Bytes& bytes) {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  char* data = rte_pktmbuf_append(m, static_cast<uint16_t>(bytes.size()));
  std::copy(bytes.begin(), bytes.end(), data);
  return m;
}

Bytes BytesOf(const rte_mbuf* m) {
  const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
  return Bytes(p, p + rte_pktmbuf_data_len(m));
}

// Sets the mbuf's length to `len` (the builders write in place).
void SetLength(rte_mbuf* m, uint16_t len) {
  m->data_len = len;
  m->pkt_len = len;
}

TEST(EalSmokeTest, ArpAndDnsRepliesThroughNetRing) {
  const std::string prefix = "wdns-test-" + std::to_string(getpid());
  // --no-huge cannot be combined with --in-memory: --no-shconf and a private
  // --file-prefix keep parallel test processes apart instead. No telemetry
  // socket: nothing here reads it.
  std::vector<std::string> args = {
      "eal_smoke_test", "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--file-prefix",
      prefix, "--vdev=net_ring0", "-l", "0", "--no-telemetry", "--log-level=lib.eal:warning"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    const std::string why = rte_strerror(rte_errno);
    // CI runs as root, where this must work. Without root it usually works too
    // (--no-huge needs no hugepage mount), but a user's sandbox may refuse.
    if (geteuid() != 0) GTEST_SKIP() << "not root and rte_eal_init failed: " << why;
    FAIL() << "rte_eal_init: " << why;
  }

  uint16_t port_id = 0;
  ASSERT_EQ(rte_eth_dev_get_port_by_name("net_ring0", &port_id), 0);
  rte_mempool* pool =
      rte_pktmbuf_pool_create("wdns_smoke", 255, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
  ASSERT_NE(pool, nullptr) << rte_strerror(rte_errno);
  rte_eth_conf conf{};
  ASSERT_EQ(rte_eth_dev_configure(port_id, 1, 1, &conf), 0);
  ASSERT_EQ(rte_eth_rx_queue_setup(port_id, 0, kQueueSize, rte_socket_id(), nullptr, pool), 0);
  ASSERT_EQ(rte_eth_tx_queue_setup(port_id, 0, kQueueSize, rte_socket_id(), nullptr), 0);
  ASSERT_EQ(rte_eth_dev_start(port_id), 0);
  rte_ether_addr port_mac;
  ASSERT_EQ(rte_eth_macaddr_get(port_id, &port_mac), 0);

  LocalAddresses local;
  MacAddress our_mac;
  std::copy(std::begin(port_mac.addr_bytes), std::end(port_mac.addr_bytes), our_mac.begin());
  local.set_mac(our_mac);
  local.AddIpv4(kOurIp4);
  local.AddDnsPort(53);

  // ARP: request out, back in, answered in the mbuf, out and back again.
  rte_mbuf* m = MbufFrom(pool, ArpFrame(1, kClientMac, kClientIp4, MacAddress{}, kOurIp4));
  ASSERT_NE(m, nullptr);
  m = RoundTrip(port_id, m);
  ASSERT_NE(m, nullptr);
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  FrameInfo info;
  ClassifyFrame(frame, rte_pktmbuf_data_len(m), local, &info);
  ASSERT_EQ(info.kind, FrameKind::kArpRequestForUs);
  SetLength(m, BuildArpReply(frame, info, local));
  m = RoundTrip(port_id, m);
  ASSERT_NE(m, nullptr);
  Bytes expected = ArpFrame(2, our_mac, kOurIp4, kClientMac, kClientIp4);
  std::copy(kClientMac.begin(), kClientMac.end(), expected.begin());  // unicast, not broadcast
  EXPECT_EQ(BytesOf(m), expected);
  rte_pktmbuf_free(m);

  // DNS over UDP: the answer is written over the query in the mbuf.
  IpSpec spec = Udp4Spec();
  spec.dst_mac = our_mac;
  m = MbufFrom(pool, UdpQuery(spec, Payload(29)));
  ASSERT_NE(m, nullptr);
  m = RoundTrip(port_id, m);
  ASSERT_NE(m, nullptr);
  frame = rte_pktmbuf_mtod(m, uint8_t*);
  ClassifyFrame(frame, rte_pktmbuf_data_len(m), local, &info);
  ASSERT_EQ(info.kind, FrameKind::kDnsQuery);
  const Bytes answer = Payload(150, 5);
  ASSERT_GE(rte_pktmbuf_tailroom(m) + info.payload_len, answer.size());
  std::copy(answer.begin(), answer.end(), frame + info.payload_offset);
  SetLength(m, FinishUdpReply(frame, info, static_cast<uint16_t>(answer.size()), {}));
  m = RoundTrip(port_id, m);
  ASSERT_NE(m, nullptr);
  const Bytes reply = BytesOf(m);
  ASSERT_EQ(reply.size(), 42 + answer.size());
  EXPECT_EQ(Slice(reply, 0, 6), ToBytes(kClientMac));
  EXPECT_EQ(Slice(reply, 6, 6), ToBytes(our_mac));
  EXPECT_EQ(RefChecksum(Slice(reply, 14, 20)), 0);
  EXPECT_EQ(Slice(reply, 26, 4), ToBytes(kOurIp4));
  EXPECT_EQ(Get16(reply, 34), 53);
  EXPECT_EQ(Get16(reply, 36), kClientPort);
  const Bytes udp = Slice(reply, 34, reply.size() - 34);
  EXPECT_EQ(RefChecksum(Cat(
                {Ipv4PseudoHeader(ToBytes(kOurIp4), ToBytes(kClientIp4), 17, udp.size()), udp})),
            0);
  EXPECT_EQ(Slice(reply, 42, answer.size()), answer);
  rte_pktmbuf_free(m);

  const std::filesystem::path runtime_dir = rte_eal_get_runtime_dir();
  EXPECT_EQ(rte_eth_dev_stop(port_id), 0);
  EXPECT_EQ(rte_eth_dev_close(port_id), 0);
  rte_mempool_free(pool);
  EXPECT_EQ(rte_eal_cleanup(), 0);
  // EAL leaves its (empty) runtime directory behind.
  std::error_code ec;
  std::filesystem::remove_all(runtime_dir, ec);
}

}  // namespace
}  // namespace warpdns::fastpath::net
