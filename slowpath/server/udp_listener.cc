#include "slowpath/server/udp_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <cerrno>
#include <cstring>

#include "fastpath/profile/stage_profile.h"
#include "fastpath/table/generation.h"
#include "fastpath/table/query_key.h"
#include "fastpath/table/table_set.h"

namespace warpdns::slowpath {

namespace {

constexpr int kBatch = 32;
constexpr size_t kMaxUdpPayload = 65535;
constexpr size_t kControlSize = 64;

// Opens one UDP socket bound to ip:port with SO_REUSEPORT and packet-info
// ancillary data, so replies leave from the address the query came to.
int OpenSocket(int family, const std::string& ip, uint16_t port, std::string* error) {
  int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_storage ss{};
  socklen_t sl;
  if (family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    if (ip.empty()) {
      a->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (inet_pton(AF_INET, ip.c_str(), &a->sin_addr) != 1) {
      *error = "bad IPv4 address " + ip;
      close(fd);
      return -1;
    }
    sl = sizeof(sockaddr_in);
    // Only a wildcard socket needs to learn (and reply from) the address a
    // query came to; the ancillary data costs every packet something.
    if (ip.empty()) setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    if (ip.empty()) {
      a->sin6_addr = in6addr_any;
    } else if (inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr) != 1) {
      *error = "bad IPv6 address " + ip;
      close(fd);
      return -1;
    }
    sl = sizeof(sockaddr_in6);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (ip.empty()) setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), sl) != 0) {
    *error = "listen udp " + (ip.empty() ? std::string(family == AF_INET ? "0.0.0.0" : "[::]") : ip) +
             ":" + std::to_string(port) + ": bind: " + strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

// Fills `local` from the packet-info control message and returns it in a
// form that sendmsg accepts as the source address.
void ReadLocal(msghdr& mh, sockaddr_storage* local, uint16_t port) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&mh); c != nullptr; c = CMSG_NXTHDR(&mh, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      auto* pi = reinterpret_cast<in_pktinfo*>(CMSG_DATA(c));
      auto* a = reinterpret_cast<sockaddr_in*>(local);
      a->sin_family = AF_INET;
      a->sin_addr = pi->ipi_addr;
      a->sin_port = htons(port);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      auto* pi = reinterpret_cast<in6_pktinfo*>(CMSG_DATA(c));
      auto* a = reinterpret_cast<sockaddr_in6*>(local);
      a->sin6_family = AF_INET6;
      a->sin6_addr = pi->ipi6_addr;
      a->sin6_port = htons(port);
    }
  }
}

// Builds the source-address control message for a reply.
size_t WriteSource(const sockaddr_storage& local, uint8_t* buf) {
  msghdr mh{};
  mh.msg_control = buf;
  mh.msg_controllen = kControlSize;
  cmsghdr* c = CMSG_FIRSTHDR(&mh);
  std::memset(buf, 0, kControlSize);
  if (local.ss_family == AF_INET) {
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    auto* pi = reinterpret_cast<in_pktinfo*>(CMSG_DATA(c));
    pi->ipi_spec_dst = reinterpret_cast<const sockaddr_in&>(local).sin_addr;
    return CMSG_SPACE(sizeof(in_pktinfo));
  }
  if (local.ss_family == AF_INET6) {
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
    auto* pi = reinterpret_cast<in6_pktinfo*>(CMSG_DATA(c));
    pi->ipi6_addr = reinterpret_cast<const sockaddr_in6&>(local).sin6_addr;
    return CMSG_SPACE(sizeof(in6_pktinfo));
  }
  return 0;
}

// A peer for the metrics (family as Request::Family) and the log.
fastpath::Client ClientOf(const sockaddr_storage& peer) {
  if (peer.ss_family != AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(peer);
    return {1, reinterpret_cast<const uint8_t*>(&a.sin_addr), ntohs(a.sin_port)};
  }
  const auto& a = reinterpret_cast<const sockaddr_in6&>(peer);
  if (IN6_IS_ADDR_V4MAPPED(&a.sin6_addr)) return {1, a.sin6_addr.s6_addr + 12, ntohs(a.sin6_port)};
  return {2, a.sin6_addr.s6_addr, ntohs(a.sin6_port)};
}

}  // namespace

// One worker thread: its socket, its event loop, its pending replies.
class UdpListener::Worker {
 public:
  Worker(ServerSlot* slot, int fd, int family, Publisher* publisher, int index)
      : server_(slot), fd_(fd), index_(index), publisher_(publisher), socket_(io_) {
    if (publisher_ != nullptr) reader_ = publisher_->RegisterReader();
    answer_ctx_.counters = fastpath::CounterBank::Get().AddRow();
    answer_ctx_.stats = fastpath::StatsBank::Get().AddRow();
    answer_ctx_.log = fastpath::LogBank::Get().AddRing();
    asio::error_code ec;
    socket_.assign(family == AF_INET ? asio::ip::udp::v4() : asio::ip::udp::v6(), fd, ec);
    socklen_t bl = sizeof(bound_);
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound_), &bl);
    port_ = ntohs(reinterpret_cast<sockaddr_in&>(bound_).sin_port);
    stages_ = fastpath::StageProfile::Get().AddRow(
        "socket :" + std::to_string(port_) + (family == AF_INET ? " ipv4 #" : " ipv6 #") +
        std::to_string(index));
    wildcard_ = family == AF_INET
                    ? reinterpret_cast<sockaddr_in&>(bound_).sin_addr.s_addr == htonl(INADDR_ANY)
                    : IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<sockaddr_in6&>(bound_).sin6_addr);
    rx_.resize(kBatch * kMaxUdpPayload);
  }

  ~Worker() {
    fastpath::StatsBank::Get().ReleaseRow(answer_ctx_.stats);
    fastpath::LogBank::Get().ReleaseRing(answer_ctx_.log);
  }

  void Run() {
    asio::co_spawn(io_, ReceiveLoop(), asio::detached);
    io_.run();
  }
  void Stop() { io_.stop(); }
  uint64_t answered() const { return answered_.load(std::memory_order_relaxed); }
  int index() const { return index_; }  // among the workers of its address family

 private:
  struct Outgoing {
    // An answer from the tables, written in place; else `bytes`.
    uint8_t answer[fastpath::AnswerTable::kMaxReply + 2];
    size_t answer_len = 0;
    std::vector<uint8_t> bytes;
    sockaddr_storage peer;
    socklen_t peer_len;
    sockaddr_storage local;
  };

  Task<void> ReceiveLoop() {
    for (;;) {
      asio::error_code ec;
      // Offline while idle, so the publisher's grace periods do not wait
      // for this thread's next packet.
      if (reader_) reader_->Offline();
      co_await socket_.async_wait(asio::socket_base::wait_read,
                                  asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;  // stopped
      if (reader_) reader_->Online();
      // The configuration in force for this batch (swapped on reload).
      const std::shared_ptr<Server>& server = server_.Refresh();
      const fastpath::TableSet* tables =
          reader_ ? &publisher_->tables().Get() : nullptr;
      if (tables != nullptr && !tables->Current()) tables = nullptr;
      for (;;) {
        const bool profile = fastpath::StageProfile::On();
        const uint64_t t0 = profile ? fastpath::StageProfile::Cycles() : 0;
        int n = ReceiveBatch();
        if (n <= 0) break;
        if (profile) {
          fastpath::StageProfile::Record(stages_, fastpath::Stage::kReceive,
                                         fastpath::StageProfile::Cycles() - t0, n);
        }
        AdmitBatch(server, tables, n, profile);
        if (n < kBatch) break;
      }
      if (reader_) reader_->Quiescent();  // `tables` is not used past here
      ScheduleFlush();
    }
  }

  int ReceiveBatch() {
    for (int i = 0; i < kBatch; ++i) {
      rx_iov_[i] = {rx_.data() + i * kMaxUdpPayload, kMaxUdpPayload};
      rx_msgs_[i].msg_hdr = {};
      rx_msgs_[i].msg_hdr.msg_name = &peers_[i];
      rx_msgs_[i].msg_hdr.msg_namelen = sizeof(peers_[i]);
      rx_msgs_[i].msg_hdr.msg_iov = &rx_iov_[i];
      rx_msgs_[i].msg_hdr.msg_iovlen = 1;
      rx_msgs_[i].msg_hdr.msg_control = wildcard_ ? rx_ctrl_[i] : nullptr;
      rx_msgs_[i].msg_hdr.msg_controllen = wildcard_ ? kControlSize : 0;
    }
    return recvmmsg(fd_, rx_msgs_, kBatch, MSG_DONTWAIT, nullptr);
  }

  // The fast-path stage for a batch: keys first, then the table's memory
  // requested for all of them, then the lookups, so that the batch waits for
  // its cache misses together (they were most of this thread's own time).
  void AdmitBatch(const std::shared_ptr<Server>& server, const fastpath::TableSet* tables,
                  int n, bool profile) {
    const uint64_t t0 = profile ? fastpath::StageProfile::Cycles() : 0;
    for (int i = 0; i < n; ++i) {
      keyed_[i] = reader_ && fastpath::MakeQueryKey(static_cast<const uint8_t*>(rx_iov_[i].iov_base),
                                                    rx_msgs_[i].msg_len, port_, &keys_[i]);
      if (keyed_[i] && tables != nullptr) tables->answers.PrefetchSlot(keys_[i]);
    }
    if (tables != nullptr) {
      for (int i = 0; i < n; ++i) {
        if (keyed_[i]) tables->answers.PrefetchEntry(keys_[i]);
      }
      answer_ctx_.now_ns = fastpath::MonotonicNs();
    }
    const uint64_t t1 = profile ? fastpath::StageProfile::Cycles() : 0;
    for (int i = 0; i < n; ++i) Admit(server, tables, i);
    if (answer_ctx_.BurstPending()) answer_ctx_.FinishBurst(fastpath::MonotonicNs());
    if (profile) {
      const uint64_t t2 = fastpath::StageProfile::Cycles();
      fastpath::StageProfile::Record(stages_, fastpath::Stage::kKey, t1 - t0, n);
      fastpath::StageProfile::Record(stages_, fastpath::Stage::kAnswer, t2 - t1, n);
    }
  }

  void Admit(const std::shared_ptr<Server>& server, const fastpath::TableSet* tables, int i) {
    sockaddr_storage local = bound_;
    if (wildcard_) ReadLocal(rx_msgs_[i].msg_hdr, &local, port_);
    const auto* pkt = static_cast<const uint8_t*>(rx_iov_[i].iov_base);
    const size_t len = rx_msgs_[i].msg_len;
    // A query whose key a deterministic chain already answered on the same
    // data gets the same reply from the tables.
    const uint64_t generation = fastpath::DataGeneration();
    const bool keyed = keyed_[i];
    if (keyed && tables != nullptr) {
      Outgoing& o = Queue(peers_[i], rx_msgs_[i].msg_hdr.msg_namelen, local);
      o.answer_len = tables->answers.Answer(keys_[i], pkt, o.answer, sizeof(o.answer), answer_ctx_,
                                            len, ClientOf(peers_[i]));
      if (o.answer_len != 0) {
        answered_.store(answered_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return;
      }
      --pending_count_;  // a miss: the slot goes back
    }
    auto req = std::make_unique<Request>();
    std::vector<uint8_t> reply;
    switch (server->Admit(pkt, len, peers_[i], local, Proto::kUdp, req.get(), &reply)) {
      case Server::Admission::kDrop:
        return;
      case Server::Admission::kReply:
        Queue(peers_[i], rx_msgs_[i].msg_hdr.msg_namelen, local).bytes.swap(reply);
        return;
      case Server::Admission::kServe:
        asio::co_spawn(io_,
                       Serve(server, std::move(req), rx_msgs_[i].msg_hdr.msg_namelen,
                             keyed ? std::make_unique<fastpath::QueryKey>(keys_[i]) : nullptr,
                             generation),
                       asio::detached);
        return;
    }
  }

  // Holds `server` (and so its chains) until the reply is out, even if a
  // reload swapped in another one meanwhile.
  Task<void> Serve(std::shared_ptr<Server> server, std::unique_ptr<Request> req,
                   socklen_t peer_len, std::unique_ptr<fastpath::QueryKey> key,
                   uint64_t generation) {
    std::vector<uint8_t> reply;
    co_await server->Respond(*req, &reply);
    if (reply.empty()) co_return;
    if (key && Server::Memoizable(*req, reply)) {
      publisher_->Memoize(*key, reply.data(), reply.size(), generation, Server::Replay(*req));
    }
    Queue(req->remote, peer_len, req->local).bytes.swap(reply);
    ScheduleFlush();
  }

  Outgoing& Queue(const sockaddr_storage& peer, socklen_t peer_len,
                  const sockaddr_storage& local) {
    if (pending_count_ == pending_.size()) pending_.emplace_back();
    Outgoing& o = pending_[pending_count_++];
    o.peer = peer;
    o.peer_len = peer_len;
    o.local = local;
    o.answer_len = 0;
    return o;
  }

  // Replies of one receive batch leave together: the flush is posted after
  // the batch's coroutines, which run (and mostly finish) first.
  void ScheduleFlush() {
    if (flush_posted_ || pending_count_ == 0) return;
    flush_posted_ = true;
    asio::post(io_, [this] {
      flush_posted_ = false;
      Flush();
    });
  }

  void Flush() {
    const bool profile = fastpath::StageProfile::On();
    const uint64_t t0 = profile ? fastpath::StageProfile::Cycles() : 0;
    const size_t count = pending_count_;
    for (size_t done = 0; done < pending_count_;) {
      int out = 0;
      for (auto it = pending_.begin() + done;
           it != pending_.begin() + pending_count_ && out < kBatch; ++it, ++out) {
        tx_iov_[out] = it->answer_len != 0 ? iovec{it->answer, it->answer_len}
                                           : iovec{it->bytes.data(), it->bytes.size()};
        tx_msgs_[out].msg_hdr = {};
        tx_msgs_[out].msg_hdr.msg_name = &it->peer;
        tx_msgs_[out].msg_hdr.msg_namelen = it->peer_len;
        tx_msgs_[out].msg_hdr.msg_iov = &tx_iov_[out];
        tx_msgs_[out].msg_hdr.msg_iovlen = 1;
        size_t cl = wildcard_ ? WriteSource(it->local, tx_ctrl_[out]) : 0;
        tx_msgs_[out].msg_hdr.msg_control = cl ? tx_ctrl_[out] : nullptr;
        tx_msgs_[out].msg_hdr.msg_controllen = cl;
      }
      for (int sent = 0; sent < out;) {
        int r = sendmmsg(fd_, tx_msgs_ + sent, out - sent, MSG_DONTWAIT);
        if (r < 0 && errno == EINTR) continue;
        // A reply that cannot be sent (full buffer, unreachable source) is
        // lost like a dropped packet; the client retries.
        sent += r > 0 ? r : 1;
      }
      done += out;
    }
    pending_count_ = 0;
    if (profile) {
      fastpath::StageProfile::Record(stages_, fastpath::Stage::kSend,
                                     fastpath::StageProfile::Cycles() - t0, count);
    }
  }

  ServerSlot::Reader server_;
  int fd_;
  int index_;
  uint16_t port_ = 0;
  sockaddr_storage bound_{};
  bool wildcard_ = false;  // bound to 0.0.0.0 / [::]: track each query's local address
  Publisher* publisher_;  // null: no fast-path stage (tests of the edge alone)
  std::optional<fastpath::rcu::ReaderHandle> reader_;
  fastpath::QueryKey keys_[kBatch];  // of the batch being admitted
  bool keyed_[kBatch];
  fastpath::AnswerTable::Context answer_ctx_;
  fastpath::StageProfile::Row* stages_ = nullptr;
  std::atomic<uint64_t> answered_{0};  // from the tables; written by this worker only
  asio::io_context io_{1};
  asio::ip::udp::socket socket_;
  bool flush_posted_ = false;
  // Replies waiting for the next sendmmsg: [0, pending_count_) of a vector
  // whose buffers are kept and reused, so queueing a reply allocates nothing.
  std::vector<Outgoing> pending_;
  size_t pending_count_ = 0;
  std::vector<uint8_t> rx_;
  mmsghdr rx_msgs_[kBatch];
  iovec rx_iov_[kBatch];
  sockaddr_storage peers_[kBatch];
  uint8_t rx_ctrl_[kBatch][kControlSize];
  mmsghdr tx_msgs_[kBatch];
  iovec tx_iov_[kBatch];
  uint8_t tx_ctrl_[kBatch][kControlSize];
};

std::unique_ptr<UdpListener> UdpListener::Create(ServerSlot* slot, const std::string& bind_ip,
                                                 uint16_t port, int workers,
                                                 Publisher* publisher, std::string* error) {
  std::unique_ptr<UdpListener> l(new UdpListener());
  std::vector<int> families;
  if (bind_ip.empty()) {
    families = {AF_INET, AF_INET6};
  } else {
    families = {bind_ip.find(':') == std::string::npos ? AF_INET : AF_INET6};
  }
  for (int family : families) {
    for (int i = 0; i < workers; ++i) {
      std::string err;
      int fd = OpenSocket(family, bind_ip, port, &err);
      if (fd < 0) {
        // A host without IPv6 still serves IPv4 on the wildcard address.
        if (bind_ip.empty() && family == AF_INET6) break;
        *error = err;
        return nullptr;
      }
      l->workers_.push_back(std::make_unique<Worker>(slot, fd, family, publisher, i));
    }
  }
  return l;
}

UdpListener::~UdpListener() { Stop(); }

uint64_t UdpListener::AnsweredFromTables() const {
  uint64_t sum = 0;
  for (const auto& w : workers_) sum += w->answered();
  return sum;
}

void UdpListener::Start() {
  // Worker i of each address family on the i-th CPU this process may use
  // (EAL's worker lcores already taken out in DPDK mode): a worker that
  // stays on its core keeps its socket's and its table's lines warm.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    }
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    threads_.emplace_back([w = workers_[i].get()] { w->Run(); });
    if (cpus.size() > 1) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpus[workers_[i]->index() % cpus.size()], &one);
      pthread_setaffinity_np(threads_.back().native_handle(), sizeof(one), &one);
    }
  }
}

void UdpListener::Stop() {
  if (stopping_.exchange(true)) return;
  for (auto& w : workers_) w->Stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  workers_.clear();  // closes the sockets
}

}  // namespace warpdns::slowpath
