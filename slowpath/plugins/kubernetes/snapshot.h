// One immutable view of the cluster as DNS sees it, with the indexes queries
// use (CoreDNS's informer indexers). The API thread edits a private copy and
// publishes it as a new shared_ptr<const Snapshot>; queries hold whichever
// version they loaded and never wait. Each index is split into shards shared
// between versions, so publishing after a change copies one shard, not the
// cluster: a watch event costs the same with 10 services or 100,000.
//
// A version is a complete, consistent input for answering: the lookup in
// lookup.h is a pure function of (snapshot, configuration, question), which
// is what a fast-path publisher needs to prebuild answers per version.
#ifndef WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_SNAPSHOT_H_
#define WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_SNAPSHOT_H_

#include <algorithm>
#include <array>
#include <bitset>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "slowpath/plugins/kubernetes/objects.h"

namespace warpdns::slowpath::kubernetes {

// A multimap from string keys to shared objects, copy-on-write per shard.
template <typename T>
class Index {
 public:
  using Items = std::vector<std::shared_ptr<const T>>;

  Index() = default;
  // A copy shares every shard and owns none: changing either side copies
  // the shard it touches first.
  Index(const Index& other) : shards_(other.shards_) {}
  Index& operator=(const Index& other) {
    shards_ = other.shards_;
    owned_.reset();
    return *this;
  }

  const Items& Get(const std::string& key) const {
    static const Items kNone;
    const std::shared_ptr<Map>& shard = shards_[ShardOf(key)];
    if (shard == nullptr) return kNone;
    auto it = shard->find(key);
    return it == shard->end() ? kNone : it->second;
  }

  void Add(const std::string& key, std::shared_ptr<const T> item) {
    Mutable(ShardOf(key))[key].push_back(std::move(item));
  }

  // Removes `item` (by identity) from the entries of `key`.
  void Remove(const std::string& key, const T* item) {
    const size_t shard = ShardOf(key);
    if (Get(key).empty()) return;
    Map& map = Mutable(shard);
    auto it = map.find(key);
    std::erase_if(it->second, [item](const auto& p) { return p.get() == item; });
    if (it->second.empty()) map.erase(it);
  }

  void Clear() {
    shards_ = {};
    owned_.reset();
  }

  // Ends a batch of changes: the shards changed so far now belong to the
  // version just published and must be copied before the next change.
  void Seal() { owned_.reset(); }

 private:
  using Map = std::unordered_map<std::string, Items>;
  static constexpr size_t kShards = 256;

  static size_t ShardOf(const std::string& key) { return std::hash<std::string>{}(key) % kShards; }

  Map& Mutable(size_t shard) {
    if (!owned_[shard]) {
      shards_[shard] =
          shards_[shard] ? std::make_shared<Map>(*shards_[shard]) : std::make_shared<Map>();
      owned_.set(shard);
    }
    return *shards_[shard];
  }

  std::array<std::shared_ptr<Map>, kShards> shards_;
  std::bitset<kShards> owned_;  // shards only this copy refers to
};

struct Snapshot {
  Index<Namespace> namespaces;            // name
  Index<Service> services;                // "name.namespace"
  Index<Service> services_by_ip;          // IpKey of cluster and external IPs
  Index<Endpoints> endpoints;             // "namespace/slice"
  Index<Endpoints> endpoints_by_service;  // "service.namespace"
  Index<Endpoints> endpoints_by_ip;       // IpKey of ready addresses
  Index<Pod> pods;                        // "namespace/name"
  Index<Pod> pods_by_ip;                  // status.podIP as written
  // Every watched resource has been listed once (CoreDNS's HasSynced).
  bool synced = false;
  // Unix seconds of the last change: the SOA serial.
  int64_t modified = 0;

  // Ends a batch of edits (see Index::Seal).
  void Seal();
};

// Stores `object` under `key` (PrimaryKey), replacing the previous version;
// a null object removes the key. Returns whether anything DNS sees changed.
bool Put(Snapshot* s, Kind kind, const std::string& key, const Object& object);
// Removes the object of `kind` stored under `key`; returns whether it existed.
bool Erase(Snapshot* s, Kind kind, const std::string& key);
// Drops every object of `kind` (before a relist replaces them).
void Reset(Snapshot* s, Kind kind);

}  // namespace warpdns::slowpath::kubernetes

#endif  // WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_SNAPSHOT_H_
