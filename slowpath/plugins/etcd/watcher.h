// Keeps a snapshot of the keys under the plugin's path in step with etcd: a
// prefix read, then a watch from the next revision, on a thread of its own.
// Connection loss: reconnect with backoff across the endpoints and resume
// the watch where it stopped; compaction of that revision: read again.
// Queries never wait for it: they take the latest snapshot.
#ifndef WARPDNS_SLOWPATH_PLUGINS_ETCD_WATCHER_H_
#define WARPDNS_SLOWPATH_PLUGINS_ETCD_WATCHER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "slowpath/chain/plugin.h"
#include "slowpath/plugins/etcd/gateway.h"
#include "slowpath/plugins/etcd/snapshot.h"

namespace warpdns::slowpath::etcd {

struct WatcherConfig {
  std::vector<std::string> endpoints;  // base URLs, "http://127.0.0.1:2379"
  std::string prefix;                  // keys read and watched: all that start with it
  std::string username;                // etcd auth, when set
  std::string password;
  Transport::Tls tls;
  Host* host = nullptr;  // for log lines
  uint16_t source = 0;   // generation.h source bumped by changes; 0: the data generation
};

class Watcher {
 public:
  // Starts the thread.
  explicit Watcher(WatcherConfig config);
  // Stops the thread: whatever it was doing ends at once.
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Waits until the first read succeeded or failed on every endpoint, for
  // at most `timeout_ms`.
  void WaitForFirstRound(int64_t timeout_ms);

  // The latest snapshot; null until the first read succeeded.
  std::shared_ptr<const Snapshot> Current() const { return current_.load(); }
  // Why there is no snapshot yet (the last error), for SERVFAIL answers.
  std::string LastError() const;

 private:
  void Run();
  // One connection to `url`: (authenticate,) read everything if
  // *next_revision is 0, then watch from *next_revision until the stream
  // fails. Returns the error, or "" to reconnect at once (compaction).
  std::string Session(const std::string& url, int64_t* next_revision, bool* connected);
  std::string Load(const std::string& url, int64_t* next_revision);
  std::string Watch(const std::string& url, int64_t* next_revision, bool* connected);
  // Gets a token for `credentials`; the transport sends it from then on.
  bool Authenticate(const std::string& url, std::string* error);
  // A call that re-authenticates once if the token expired.
  bool Call(const std::string& url, const std::string& path, const std::string& body,
            std::string* response, std::string* error);
  std::shared_ptr<const Record> MakeRecord(KeyValue kv);
  // Asks etcd how long leases have left: those of the records just built
  // (up to a budget) and those whose known deadline has passed.
  void FetchLeases(const std::string& url, bool due_only);
  void Publish(std::shared_ptr<const Snapshot> snapshot);
  void EndFirstRound();
  void Log(const std::string& line) const;
  void Sleep(int64_t ms);

  const WatcherConfig config_;
  const std::string range_end_;
  Transport transport_;
  std::atomic<std::shared_ptr<const Snapshot>> current_;
  // Leases the records of any live snapshot use (watch thread only).
  std::unordered_map<int64_t, std::weak_ptr<Lease>> leases_;
  std::vector<std::shared_ptr<Lease>> unfetched_;  // new since the last fetch
  int64_t last_lease_sweep_ns_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;          // guarded by mu_
  bool first_round_done_ = false;  // guarded by mu_
  std::string last_error_;         // guarded by mu_
  std::thread thread_;
};

}  // namespace warpdns::slowpath::etcd

#endif  // WARPDNS_SLOWPATH_PLUGINS_ETCD_WATCHER_H_
