// The slow path's end of DPDK mode's punt and inject rings: queries the
// fast path could not answer arrive here as whole frames (zero copy), run
// through the full plugin chain of the server for their address and port,
// and their answers are written into the same mbuf, finished (addresses
// swapped, lengths and checksums) and handed back on the worker's inject
// ring, so they leave through that worker's TX queue. Answers that may be
// reused go to the publisher, so the next identical query stays in the
// fast path.
#ifndef WARPDNS_SLOWPATH_PUNT_PUNT_CONSUMER_H_
#define WARPDNS_SLOWPATH_PUNT_PUNT_CONSUMER_H_

#include <sys/socket.h>

#include <asio.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "fastpath/dpdk/worker.h"
#include "fastpath/net/classify.h"
#include "slowpath/chain/server.h"
#include "slowpath/publish/publisher.h"

namespace warpdns::slowpath {

class PuntConsumer {
 public:
  // The server for a query that arrived at `local` (address and port), or
  // null. Called on the consumer's thread; may take locks.
  using Route = std::function<std::shared_ptr<Server>(const sockaddr_storage& local)>;

  struct Counters {
    std::atomic<uint64_t> served{0};         // replies injected
    std::atomic<uint64_t> memoized{0};       // ... offered to the publisher
    std::atomic<uint64_t> no_server{0};      // no server block for the address and port
    std::atomic<uint64_t> dropped{0};        // the chain wrote nothing, or the server dropped it
    std::atomic<uint64_t> too_big{0};        // the answer did not fit the mbuf
    std::atomic<uint64_t> inject_full{0};    // the worker's inject ring was full
  };

  // `workers` are the engine's contexts (rings, addresses, reply options);
  // they and `publisher` must outlive the consumer.
  PuntConsumer(std::vector<fastpath::dpdk::WorkerContext*> workers, Route route,
               Publisher* publisher);
  ~PuntConsumer();

  void Start();
  // Stops the thread; queries still in the chain are abandoned (their mbufs
  // go back with the pool at exit). Idempotent.
  void Stop();

  const Counters& counters() const { return counters_; }

 private:
  Task<void> PollLoop();
  void Take(size_t worker, rte_mbuf* m);
  Task<void> Serve(std::shared_ptr<Server> server, size_t worker, rte_mbuf* m,
                   fastpath::net::FrameInfo info, std::unique_ptr<Request> req,
                   std::unique_ptr<fastpath::QueryKey> key, uint64_t generation);
  // Writes `reply` over the query's payload (`info` is the query frame's
  // classification), finishes the frame and queues it on the worker's
  // inject ring (or frees it).
  void Send(size_t worker, rte_mbuf* m, const fastpath::net::FrameInfo& info,
            const std::vector<uint8_t>& reply);

  std::vector<fastpath::dpdk::WorkerContext*> workers_;
  Route route_;
  Publisher* publisher_;
  Counters counters_;
  asio::io_context io_{1};
  std::thread thread_;
  bool started_ = false;
};

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_PUNT_PUNT_CONSUMER_H_
