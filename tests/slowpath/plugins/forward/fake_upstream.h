// An in-process DNS server on 127.0.0.1 (UDP and TCP on one port) whose
// answers a test scripts, for forward and proxy unit tests.
#ifndef WARPDNS_TESTS_SLOWPATH_PLUGINS_FORWARD_FAKE_UPSTREAM_H_
#define WARPDNS_TESTS_SLOWPATH_PLUGINS_FORWARD_FAKE_UPSTREAM_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "fastpath/wire/message.h"

namespace warpdns::slowpath::testutil {

namespace wire = ::warpdns::fastpath::wire;

// A reply naming who answered: TXT "<name>" for the question.
inline wire::Message TxtReply(const wire::Message& q, const std::string& text) {
  wire::Message r = wire::MakeReply(q);
  wire::Rr rr;
  rr.name = q.question.at(0).name;
  rr.type = wire::type::kTxt;
  rr.ttl = 60;
  rr.rdata.push_back(static_cast<uint8_t>(text.size()));
  rr.rdata.insert(rr.rdata.end(), text.begin(), text.end());
  r.answer.push_back(rr);
  return r;
}

// The TXT text of the first answer ("" if none).
inline std::string TxtOf(const wire::Message& m) {
  if (m.answer.empty() || m.answer[0].rdata.empty()) return "";
  return std::string(m.answer[0].rdata.begin() + 1, m.answer[0].rdata.end());
}

class FakeUpstream {
 public:
  // Returns the raw replies to send for one query (none: stay silent).
  using Handler = std::function<std::vector<std::vector<uint8_t>>(const wire::Message& query,
                                                                   bool tcp)>;

  // Answers TXT `name` to everything.
  explicit FakeUpstream(const std::string& name)
      : FakeUpstream([name](const wire::Message& q, bool) {
          return std::vector<std::vector<uint8_t>>{Wire(TxtReply(q, name))};
        }) {}

  explicit FakeUpstream(Handler handler) : handler_(std::move(handler)) {
    for (int attempt = 0; attempt < 50 && udp_ < 0; ++attempt) Bind();
    if (udp_ < 0) throw std::runtime_error("cannot bind a fake upstream");
    thread_ = std::thread([this] { Run(); });
  }

  ~FakeUpstream() {
    stop_ = true;
    thread_.join();
    for (int fd : conns_) close(fd);
    close(udp_);
    close(tcp_);
  }

  static std::vector<uint8_t> Wire(const wire::Message& m) {
    std::vector<uint8_t> out;
    wire::WriteMessage(m, wire::kMaxMessageSize, &out);
    return out;
  }

  uint16_t port() const { return port_; }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }

  std::atomic<int> udp_queries{0};
  std::atomic<int> tcp_queries{0};
  std::atomic<int> tcp_accepts{0};

 private:
  void Bind() {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(u, reinterpret_cast<sockaddr*>(&a), len) != 0) {
      close(u);
      return;
    }
    getsockname(u, reinterpret_cast<sockaddr*>(&a), &len);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(t, reinterpret_cast<sockaddr*>(&a), len) != 0 || listen(t, 64) != 0) {
      close(u);
      close(t);
      return;
    }
    udp_ = u;
    tcp_ = t;
    port_ = ntohs(a.sin_port);
  }

  std::vector<std::vector<uint8_t>> Handle(const uint8_t* data, size_t len, bool tcp) {
    wire::Message q;
    if (wire::ParseMessage(data, len, &q) != wire::ParseError::kOk || q.question.empty()) {
      return {};
    }
    return handler_(q, tcp);
  }

  static bool ReadFull(int fd, uint8_t* buf, size_t len) {
    for (size_t got = 0; got < len;) {
      ssize_t r = read(fd, buf + got, len - got);
      if (r <= 0) return false;
      got += static_cast<size_t>(r);
    }
    return true;
  }

  void Run() {
    std::vector<uint8_t> buf(65535);
    while (!stop_) {
      std::vector<pollfd> fds = {{udp_, POLLIN, 0}, {tcp_, POLLIN, 0}};
      for (int fd : conns_) fds.push_back({fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        sockaddr_storage from{};
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(udp_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n > 0) {
          ++udp_queries;
          for (const auto& r : Handle(buf.data(), static_cast<size_t>(n), false)) {
            sendto(udp_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
          }
        }
      }
      if (fds[1].revents & POLLIN) {
        int c = accept(tcp_, nullptr, nullptr);
        if (c >= 0) {
          ++tcp_accepts;
          conns_.push_back(c);
        }
      }
      for (size_t k = 2; k < fds.size(); ++k) {
        if (!(fds[k].revents & (POLLIN | POLLHUP))) continue;
        uint8_t lenbuf[2];
        const int fd = fds[k].fd;
        size_t len = 0;
        bool ok = ReadFull(fd, lenbuf, 2);
        if (ok) {
          len = (lenbuf[0] << 8) | lenbuf[1];
          ok = ReadFull(fd, buf.data(), len);
        }
        if (!ok) {
          close(fd);
          std::erase(conns_, fd);
          continue;
        }
        ++tcp_queries;
        for (const auto& r : Handle(buf.data(), len, true)) {
          std::vector<uint8_t> framed = {static_cast<uint8_t>(r.size() >> 8),
                                         static_cast<uint8_t>(r.size())};
          framed.insert(framed.end(), r.begin(), r.end());
          (void)!write(fd, framed.data(), framed.size());
        }
      }
    }
  }

  Handler handler_;
  int udp_ = -1;
  int tcp_ = -1;
  uint16_t port_ = 0;
  std::vector<int> conns_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace warpdns::slowpath::testutil

#endif  // WARPDNS_TESTS_SLOWPATH_PLUGINS_FORWARD_FAKE_UPSTREAM_H_
