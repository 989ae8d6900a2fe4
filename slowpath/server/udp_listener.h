// Socket-mode UDP edge: one SO_REUSEPORT socket per worker thread per
// address family, moving batches with recvmmsg/sendmmsg. Each worker runs an
// event loop: queries are admitted in the receive batch, served as
// coroutines on the same loop (a plugin waiting on the network holds no
// thread), and their replies leave together in one sendmmsg. Kept thin: the
// fast-path stages go in front of Server::Admit here.
#ifndef WARPDNS_SLOWPATH_SERVER_UDP_LISTENER_H_
#define WARPDNS_SLOWPATH_SERVER_UDP_LISTENER_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "slowpath/publish/publisher.h"
#include "slowpath/server/server_slot.h"

namespace warpdns::slowpath {

class UdpListener {
 public:
  // Binds the sockets now, so that errors (port in use, bad address) are
  // reported before anything is announced. `bind_ip` empty = all addresses
  // (0.0.0.0 and [::]). Workers answer from `publisher`'s tables and hand
  // it what may be memoized (nullptr: every query goes to the chain).
  static std::unique_ptr<UdpListener> Create(ServerSlot* slot, const std::string& bind_ip,
                                             uint16_t port, int workers, Publisher* publisher,
                                             std::string* error);
  ~UdpListener();

  void Start();
  // Stops the workers and closes the sockets. Idempotent.
  void Stop();
  // Queries answered from the tables, without the chain (any thread).
  uint64_t AnsweredFromTables() const;

 private:
  class Worker;
  UdpListener() = default;

  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_SERVER_UDP_LISTENER_H_
