// The Server a listener hands its queries to, swapped on reload without
// stopping the listener. Readers keep their own copy and refresh it only
// when the version moved, so the per-packet cost is one relaxed load.
#ifndef WARPDNS_SLOWPATH_SERVER_SERVER_SLOT_H_
#define WARPDNS_SLOWPATH_SERVER_SERVER_SLOT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "slowpath/chain/server.h"

namespace warpdns::slowpath {

class ServerSlot {
 public:
  explicit ServerSlot(std::shared_ptr<Server> server) : server_(std::move(server)) {}

  // Control thread: installs the next configuration's server. Requests in
  // flight keep the old one alive until they finish.
  void Set(std::shared_ptr<Server> server) {
    std::lock_guard lock(mu_);
    server_ = std::move(server);
    version_.fetch_add(1, std::memory_order_release);
  }

  std::shared_ptr<Server> Get() const {
    std::lock_guard lock(mu_);
    return server_;
  }

  // A reader's cached view: Refresh() once per batch.
  class Reader {
   public:
    explicit Reader(const ServerSlot* slot) : slot_(slot) { Refresh(); }
    const std::shared_ptr<Server>& Refresh() {
      uint64_t v = slot_->version_.load(std::memory_order_acquire);
      if (v != version_ || !server_) {
        server_ = slot_->Get();
        version_ = v;
      }
      return server_;
    }

   private:
    const ServerSlot* slot_;
    std::shared_ptr<Server> server_;
    uint64_t version_ = 0;
  };

 private:
  mutable std::mutex mu_;
  std::shared_ptr<Server> server_;
  std::atomic<uint64_t> version_{0};
};

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_SERVER_SERVER_SLOT_H_
