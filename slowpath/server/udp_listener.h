// Socket-mode UDP edge: one SO_REUSEPORT socket per worker thread per
// address family, moving batches with recvmmsg/sendmmsg. Kept thin: the
// fast-path stages go in front of Server::Handle here.
#ifndef WARPDNS_SLOWPATH_SERVER_UDP_LISTENER_H_
#define WARPDNS_SLOWPATH_SERVER_UDP_LISTENER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "slowpath/chain/server.h"

namespace warpdns::slowpath {

class UdpListener {
 public:
  // Binds the sockets now, so that errors (port in use, bad address) are
  // reported before anything is announced. `bind_ip` empty = all addresses
  // (0.0.0.0 and [::]).
  static std::unique_ptr<UdpListener> Create(Server* server, const std::string& bind_ip,
                                             uint16_t port, int workers, std::string* error);
  ~UdpListener();

  void Start();
  // Stops the workers and closes the sockets. Idempotent.
  void Stop();

 private:
  UdpListener(Server* server, int stop_fd) : server_(server), stop_fd_(stop_fd) {}
  void Run(int fd);

  Server* server_;
  int stop_fd_;  // eventfd: readable once Stop() is called
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_SERVER_UDP_LISTENER_H_
