#include "slowpath/punt/punt_consumer.h"

#include <netinet/in.h>
#include <pthread.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <chrono>
#include <cstring>

#include "fastpath/net/classify.h"
#include "fastpath/net/headers.h"
#include "fastpath/net/reply.h"
#include "fastpath/table/generation.h"
#include "fastpath/table/query_key.h"

namespace warpdns::slowpath {
namespace {

namespace net = fastpath::net;

constexpr unsigned kBurst = 64;

void Bump(std::atomic<uint64_t>& c) { c.fetch_add(1, std::memory_order_relaxed); }

// The query's source and destination as the chain sees them (log, whoami,
// ACL-like plugins): the client's address and port, and ours.
void Addresses(const uint8_t* frame, const net::FrameInfo& info, sockaddr_storage* remote,
               sockaddr_storage* local) {
  *remote = {};
  *local = {};
  const uint8_t* l3 = frame + info.l3_offset;
  const uint8_t* l4 = frame + info.l4_offset;
  if (info.ipv6) {
    auto* r = reinterpret_cast<sockaddr_in6*>(remote);
    auto* l = reinterpret_cast<sockaddr_in6*>(local);
    r->sin6_family = l->sin6_family = AF_INET6;
    std::memcpy(&r->sin6_addr, l3 + net::ipv6::kSrc, 16);
    std::memcpy(&l->sin6_addr, l3 + net::ipv6::kDst, 16);
    std::memcpy(&r->sin6_port, l4 + net::udp::kSrcPort, 2);
    std::memcpy(&l->sin6_port, l4 + net::udp::kDstPort, 2);
  } else {
    auto* r = reinterpret_cast<sockaddr_in*>(remote);
    auto* l = reinterpret_cast<sockaddr_in*>(local);
    r->sin_family = l->sin_family = AF_INET;
    std::memcpy(&r->sin_addr, l3 + net::ipv4::kSrc, 4);
    std::memcpy(&l->sin_addr, l3 + net::ipv4::kDst, 4);
    std::memcpy(&r->sin_port, l4 + net::udp::kSrcPort, 2);
    std::memcpy(&l->sin_port, l4 + net::udp::kDstPort, 2);
  }
}

}  // namespace

PuntConsumer::PuntConsumer(std::vector<fastpath::dpdk::WorkerContext*> workers, Route route,
                           Publisher* publisher)
    : workers_(std::move(workers)), route_(std::move(route)), publisher_(publisher) {}

PuntConsumer::~PuntConsumer() { Stop(); }

void PuntConsumer::Start() {
  started_ = true;
  asio::co_spawn(io_, PollLoop(), asio::detached);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "punt");
    io_.run();
  });
}

void PuntConsumer::Stop() {
  if (!started_) return;
  started_ = false;
  io_.stop();
  thread_.join();
}

Task<void> PuntConsumer::PollLoop() {
  asio::steady_timer timer(io_);
  rte_mbuf* mbufs[kBurst];
  unsigned idle = 0;
  for (;;) {
    unsigned got = 0;
    for (size_t w = 0; w < workers_.size(); ++w) {
      const unsigned n = rte_ring_sc_dequeue_burst(workers_[w]->punt,
                                                   reinterpret_cast<void**>(mbufs), kBurst,
                                                   nullptr);
      for (unsigned i = 0; i < n; ++i) Take(w, mbufs[i]);
      got += n;
    }
    if (got != 0) {
      idle = 0;
      // Let the chains just started (and those woken by I/O) run first.
      co_await asio::post(io_, asio::use_awaitable);
      continue;
    }
    // The rings cannot wake a thread (the fast path makes no system call),
    // so an idle consumer polls: often right after traffic, rarely later.
    ++idle;
    timer.expires_after(idle < 2000 ? std::chrono::microseconds(20)
                                    : std::chrono::microseconds(1000));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

void PuntConsumer::Take(size_t worker, rte_mbuf* m) {
  const fastpath::dpdk::WorkerContext& ctx = *workers_[worker];
  const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
  net::FrameInfo info;
  net::ClassifyFrame(frame, m->data_len, *ctx.local, &info);
  if (info.kind != net::FrameKind::kDnsQuery) {  // cannot happen: the worker classified it
    rte_pktmbuf_free(m);
    return;
  }
  sockaddr_storage remote, local;
  Addresses(frame, info, &remote, &local);
  std::shared_ptr<Server> server = route_(local);
  if (!server) {
    Bump(counters_.no_server);
    rte_pktmbuf_free(m);
    return;
  }
  const uint8_t* dns = frame + info.payload_offset;
  auto key = std::make_unique<fastpath::QueryKey>();
  const uint16_t dst_port = net::Load16(frame + info.l4_offset + net::udp::kDstPort);
  if (!fastpath::MakeQueryKey(dns, info.payload_len, dst_port, key.get())) key.reset();
  const uint64_t generation = fastpath::DataGeneration();
  auto req = std::make_unique<Request>();
  std::vector<uint8_t> reply;
  switch (server->Admit(dns, info.payload_len, remote, local, Proto::kUdp, req.get(), &reply)) {
    case Server::Admission::kDrop:
      Bump(counters_.dropped);
      rte_pktmbuf_free(m);
      return;
    case Server::Admission::kReply:
      Send(worker, m, info, reply);
      return;
    case Server::Admission::kServe:
      asio::co_spawn(io_,
                     Serve(std::move(server), worker, m, info, std::move(req), std::move(key),
                           generation),
                     asio::detached);
      return;
  }
}

Task<void> PuntConsumer::Serve(std::shared_ptr<Server> server, size_t worker, rte_mbuf* m,
                               net::FrameInfo info, std::unique_ptr<Request> req,
                               std::unique_ptr<fastpath::QueryKey> key, uint64_t generation) {
  std::vector<uint8_t> reply;
  co_await server->Respond(*req, &reply);
  if (reply.empty()) {
    Bump(counters_.dropped);
    rte_pktmbuf_free(m);
    co_return;
  }
  if (key && Server::Memoizable(*req, reply)) {
    publisher_->Memoize(*key, reply.data(), reply.size(), generation, Server::Replay(*req));
    Bump(counters_.memoized);
  }
  Send(worker, m, info, reply);
}

void PuntConsumer::Send(size_t worker, rte_mbuf* m, const net::FrameInfo& info,
                        const std::vector<uint8_t>& reply) {
  const fastpath::dpdk::WorkerContext& ctx = *workers_[worker];
  uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
  const size_t room = m->buf_len - m->data_off;
  if (info.payload_offset + reply.size() > room) {
    Bump(counters_.too_big);
    rte_pktmbuf_free(m);
    return;
  }
  std::memcpy(frame + info.payload_offset, reply.data(), reply.size());
  const uint16_t len = net::FinishUdpReply(frame, info, static_cast<uint16_t>(reply.size()),
                                           ctx.config.reply);
  if (len == 0) {
    Bump(counters_.too_big);
    rte_pktmbuf_free(m);
    return;
  }
  m->data_len = len;
  m->pkt_len = len;
  if (ctx.config.tx_offload) fastpath::dpdk::SetChecksumOffload(m, info);
  if (rte_ring_sp_enqueue(ctx.inject, m) != 0) {
    Bump(counters_.inject_full);
    rte_pktmbuf_free(m);
    return;
  }
  Bump(counters_.served);
}

}  // namespace warpdns::slowpath
