// DNS over TCP (RFC 7766): length-prefixed messages, pipelined queries
// answered in order, CoreDNS's timeouts (read 3s, idle 10s, write 5s) and a
// connection limit.
#ifndef WARPDNS_SLOWPATH_SERVER_TCP_LISTENER_H_
#define WARPDNS_SLOWPATH_SERVER_TCP_LISTENER_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "slowpath/server/server_slot.h"

namespace warpdns::slowpath {

struct TcpOptions {
  std::chrono::milliseconds read_timeout{3000};
  std::chrono::milliseconds idle_timeout{10000};
  std::chrono::milliseconds write_timeout{5000};
  int max_connections = 1024;  // further connections are closed at once
  int threads = 2;
};

class TcpListener {
 public:
  // Binds and listens now, so errors are reported before the banner.
  static std::unique_ptr<TcpListener> Create(ServerSlot* slot, const std::string& bind_ip,
                                             uint16_t port, const TcpOptions& options,
                                             std::string* error);
  ~TcpListener();

  void Start();
  // Closes the listening sockets and every connection. Idempotent.
  void Stop();

  int open_connections() const;

 struct Impl;  // public so the .cc's helper classes can name it

 private:
  explicit TcpListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_SERVER_TCP_LISTENER_H_
