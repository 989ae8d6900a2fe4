// Prebuilt answers: whenever the data generation moves (a zone loads or
// reloads, the configuration changes), the questions the deterministic
// chains can enumerate (Plugin::PrebuildQuestions: every owner name and type
// of the authoritative zones, and a NODATA per name) are run through their
// chain in the common query shapes, and the answers handed to the
// publisher. The fast path then answers them from the first query on.
// Answers to other questions (NXDOMAIN names, other shapes) are memoized on
// first sight instead.
#ifndef WARPDNS_SLOWPATH_PUBLISH_PREBUILD_H_
#define WARPDNS_SLOWPATH_PUBLISH_PREBUILD_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "slowpath/chain/server.h"
#include "slowpath/publish/publisher.h"

namespace warpdns::slowpath {

class Prebuilder {
 public:
  // The servers in force and the UDP port each listens on.
  using Servers = std::function<std::vector<std::pair<uint16_t, std::shared_ptr<Server>>>()>;

  // At most `limit` questions per build (each in every query shape).
  Prebuilder(Publisher* publisher, Servers servers, size_t limit);
  ~Prebuilder();

  struct Stats {
    uint64_t builds = 0;     // completed
    uint64_t answers = 0;    // offered to the publisher by the last build
    uint64_t questions = 0;  // in the last build
  };
  Stats stats() const;

 private:
  void Run();
  // One build for `generation`; false if the generation moved meanwhile.
  bool Build(uint64_t generation);

  Publisher* publisher_;
  Servers servers_;
  size_t limit_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::atomic<uint64_t> builds_{0};
  std::atomic<uint64_t> answers_{0};
  std::atomic<uint64_t> questions_{0};
  std::thread thread_;
};

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_PUBLISH_PREBUILD_H_
