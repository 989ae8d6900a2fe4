#include "slowpath/server/udp_listener.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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
    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
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
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
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

}  // namespace

std::unique_ptr<UdpListener> UdpListener::Create(Server* server, const std::string& bind_ip,
                                                 uint16_t port, int workers, std::string* error) {
  int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  std::unique_ptr<UdpListener> l(new UdpListener(server, stop_fd));
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
      l->fds_.push_back(fd);
    }
  }
  return l;
}

UdpListener::~UdpListener() {
  Stop();
  close(stop_fd_);
}

void UdpListener::Start() {
  for (int fd : fds_) threads_.emplace_back([this, fd] { Run(fd); });
}

void UdpListener::Stop() {
  if (stopping_.exchange(true)) return;
  uint64_t one = 1;
  if (write(stop_fd_, &one, sizeof(one)) < 0) {
    // The eventfd cannot be full with a single write; nothing to do.
  }
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  for (int fd : fds_) close(fd);
  fds_.clear();
}

void UdpListener::Run(int fd) {
  sockaddr_storage bound{};
  socklen_t bl = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bl);
  const uint16_t port = ntohs(reinterpret_cast<sockaddr_in&>(bound).sin_port);

  // Per-worker buffers, allocated once.
  std::vector<uint8_t> rx(kBatch * kMaxUdpPayload);
  std::vector<std::vector<uint8_t>> replies(kBatch);
  mmsghdr rx_msgs[kBatch];
  iovec rx_iov[kBatch];
  sockaddr_storage peers[kBatch];
  uint8_t rx_ctrl[kBatch][kControlSize];
  mmsghdr tx_msgs[kBatch];
  iovec tx_iov[kBatch];
  uint8_t tx_ctrl[kBatch][kControlSize];

  pollfd pfds[2] = {{fd, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (!stopping_.load(std::memory_order_relaxed)) {
    for (int i = 0; i < kBatch; ++i) {
      rx_iov[i] = {rx.data() + i * kMaxUdpPayload, kMaxUdpPayload};
      rx_msgs[i].msg_hdr = {};
      rx_msgs[i].msg_hdr.msg_name = &peers[i];
      rx_msgs[i].msg_hdr.msg_namelen = sizeof(peers[i]);
      rx_msgs[i].msg_hdr.msg_iov = &rx_iov[i];
      rx_msgs[i].msg_hdr.msg_iovlen = 1;
      rx_msgs[i].msg_hdr.msg_control = rx_ctrl[i];
      rx_msgs[i].msg_hdr.msg_controllen = kControlSize;
    }
    int n = recvmmsg(fd, rx_msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) {
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;
      poll(pfds, 2, -1);
      continue;
    }
    int out = 0;
    for (int i = 0; i < n; ++i) {
      sockaddr_storage local{};
      ReadLocal(rx_msgs[i].msg_hdr, &local, port);
      if (!server_->Handle(static_cast<const uint8_t*>(rx_iov[i].iov_base), rx_msgs[i].msg_len,
                           peers[i], local, Proto::kUdp, &replies[out])) {
        continue;
      }
      tx_iov[out] = {replies[out].data(), replies[out].size()};
      tx_msgs[out].msg_hdr = {};
      tx_msgs[out].msg_hdr.msg_name = &peers[i];
      tx_msgs[out].msg_hdr.msg_namelen = rx_msgs[i].msg_hdr.msg_namelen;
      tx_msgs[out].msg_hdr.msg_iov = &tx_iov[out];
      tx_msgs[out].msg_hdr.msg_iovlen = 1;
      size_t cl = WriteSource(local, tx_ctrl[out]);
      tx_msgs[out].msg_hdr.msg_control = cl ? tx_ctrl[out] : nullptr;
      tx_msgs[out].msg_hdr.msg_controllen = cl;
      ++out;
    }
    for (int sent = 0; sent < out;) {
      int r = sendmmsg(fd, tx_msgs + sent, out - sent, 0);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        // A reply that cannot be sent (e.g. an unreachable source) is lost, like a dropped packet.
        ++sent;
        continue;
      }
      sent += r;
    }
  }
}

}  // namespace warpdns::slowpath
