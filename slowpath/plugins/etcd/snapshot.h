// One version of the etcd keys under the plugin's path: immutable once
// built, so queries read it without locks while the watch thread builds
// the next version beside it, sharing everything that did not change.
#ifndef WARPDNS_SLOWPATH_PLUGINS_ETCD_SNAPSHOT_H_
#define WARPDNS_SLOWPATH_PLUGINS_ETCD_SNAPSHOT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "slowpath/plugins/etcd/service.h"

namespace warpdns::slowpath::etcd {

// What the plugin knows about an etcd lease: when it ends (CLOCK_MONOTONIC
// ns, 0 while unknown). Shared by every key on the lease in every snapshot,
// so refreshing it after a keepalive needs no new snapshot.
struct Lease {
  explicit Lease(int64_t lease_id) : id(lease_id) {}
  const int64_t id;
  std::atomic<int64_t> deadline_ns{0};
};

// One etcd key and its value, decoded once when it arrives.
struct Record {
  std::string key;
  std::shared_ptr<Lease> lease;    // null: the key has no lease
  std::optional<Service> service;  // empty: the value is not a service
  std::string error;               // why not (reported when a query reads the key)
};

class Snapshot {
 public:
  // The etcd revision this version reflects.
  int64_t revision() const { return revision_; }
  size_t size() const { return size_; }

  const Record* Find(std::string_view key) const;

  // Calls fn(record) for each key starting with `prefix`, in key order.
  template <typename Fn>
  void ForEachWithPrefix(std::string_view prefix, Fn&& fn) const {
    auto [chunk, index] = LowerBound(prefix);
    for (; chunk < chunks_.size(); ++chunk, index = 0) {
      const auto& records = chunks_[chunk]->records;
      for (; index < records.size(); ++index) {
        if (!records[index]->key.starts_with(prefix)) return;
        fn(*records[index]);
      }
    }
  }

 private:
  friend class SnapshotBuilder;
  // Keys are kept in sorted chunks of a few hundred: a change copies one
  // chunk and the chunk list, not the whole key set.
  struct Chunk {
    std::vector<std::shared_ptr<const Record>> records;  // sorted by key, never empty
  };
  // The position of the first key >= `key`: (chunk, index in chunk).
  std::pair<size_t, size_t> LowerBound(std::string_view key) const;

  std::vector<std::shared_ptr<Chunk>> chunks_;
  size_t size_ = 0;
  int64_t revision_ = 0;
};

// Builds the next snapshot from the current one.
class SnapshotBuilder {
 public:
  // `base` may be null (an empty key set).
  explicit SnapshotBuilder(const Snapshot* base);

  // Adds or replaces the record for its key.
  void Put(std::shared_ptr<const Record> record);
  void Delete(std::string_view key);
  std::shared_ptr<const Snapshot> Build(int64_t revision);

 private:
  // The chunk that holds, or would hold, `key`; copied first if shared.
  size_t OwnChunkFor(std::string_view key);

  std::vector<std::shared_ptr<Snapshot::Chunk>> chunks_;
  std::vector<bool> owned_;  // chunks_[i] was made by this builder
  size_t size_ = 0;
};

}  // namespace warpdns::slowpath::etcd

#endif  // WARPDNS_SLOWPATH_PLUGINS_ETCD_SNAPSHOT_H_
