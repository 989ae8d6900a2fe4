// The cache's storage: CoreDNS's sharded map (plugin/pkg/cache) of immutable
// replies. An entry is never changed once stored, only replaced or removed,
// so a publisher can mirror the store into the fast path's read-only table
// by following OnInsert/OnRemove.
#ifndef WARPDNS_SLOWPATH_PLUGINS_CACHE_STORE_H_
#define WARPDNS_SLOWPATH_PLUGINS_CACHE_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

#include "fastpath/wire/message.h"

namespace warpdns::slowpath::cache {

namespace wire = ::warpdns::fastpath::wire;

// One cached reply: what CoreDNS's cache item holds. Every record TTL is
// already the entry's `ttl`; a reply built from it rewrites them to what is
// left.
struct Entry {
  wire::Name qname;  // as in the reply's question: the collision guard
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  int rcode = 0;  // full 12-bit rcode
  bool authenticated_data = false;
  bool recursion_available = false;
  std::vector<wire::Rr> answer;
  std::vector<wire::Rr> authority;
  std::vector<wire::Rr> additional;  // without OPT (hop by hop)
  int64_t stored_ns = 0;             // monotonic clock at store time
  uint32_t ttl = 0;                  // seconds the entry is fresh

  // Seconds left at `now_ns`: ttl minus the whole seconds elapsed, negative
  // once expired (CoreDNS's item.ttl).
  int64_t Remaining(int64_t now_ns) const {
    return int64_t{ttl} - (now_ns - stored_ns) / 1'000'000'000;
  }
  // True when the qname (case-insensitively), type and class are the ones
  // asked: different questions may share a 64-bit key.
  bool Answers(const wire::Name& name, uint16_t type, uint16_t qclass_asked) const {
    return qtype == type && qclass == qclass_asked && qname.Equals(name);
  }
};

using EntryPtr = std::shared_ptr<const Entry>;

// The slow path's bookkeeping about one entry, kept beside the immutable
// payload: how popular it is (for prefetch) and whether a refresh is in
// flight. The fast path never writes here; its workers count hits in
// per-core counters that the slow path folds in (see README).
class Item {
 public:
  explicit Item(Entry entry) : entry_(std::move(entry)) {}

  const Entry& entry() const { return entry_; }

  // CoreDNS's freq.Update: a hit more than `window_ns` after the previous
  // one restarts the count at 1. Returns the count.
  int Hit(int64_t now_ns, int64_t window_ns);
  int hits() const;
  // Carries the popularity of the entry this one replaced (prefetch).
  void SetHits(int64_t now_ns, int hits);

  // At most one background refresh per entry: true if the caller may start
  // one (and must call EndRefresh). With `recheck_ns` > 0 a failed refresh
  // blocks new ones for that long.
  bool BeginRefresh(int64_t now_ns);
  void EndRefresh(int64_t now_ns, int64_t recheck_ns, bool refreshed);

 private:
  const Entry entry_;
  mutable std::mutex mu_;  // guards the fields below
  int hits_ = 0;
  int64_t last_hit_ns_ = 0;
  bool refreshing_ = false;
  int64_t retry_after_ns_ = 0;
};

using ItemPtr = std::shared_ptr<Item>;

// Told about every change of a store, from the thread making it, with no
// store lock held. A publisher subscribes to mirror the store.
class StoreObserver {
 public:
  virtual ~StoreObserver() = default;
  // `entry` now answers `key` (new, or replacing an older entry).
  virtual void OnInsert(uint64_t key, const EntryPtr& entry) = 0;
  // `key` has no entry any more: evicted for room or removed.
  virtual void OnRemove(uint64_t key) = 0;
};

// CoreDNS's cache: 256 shards chosen by the key's low 8 bits, each holding at
// most max(capacity / 256, 4) entries. Adding a new key to a full shard
// evicts a random entry of that shard (not LRU; expired entries stay until
// evicted). Thread-safe; each shard has its own lock.
class Store {
 public:
  static constexpr size_t kShards = 256;

  explicit Store(int64_t capacity);

  ItemPtr Get(uint64_t key) const;
  // Stores `entry` under `key`, replacing any entry there. Returns the new
  // item and whether another key was evicted to make room.
  ItemPtr Add(uint64_t key, Entry entry, bool* evicted = nullptr);
  void Remove(uint64_t key);

  size_t Size() const { return size_.load(std::memory_order_relaxed); }
  // The most entries the store ever holds (shards x shard capacity).
  size_t Capacity() const { return kShards * shard_capacity_; }

  // Set before serving starts; nullptr to unsubscribe.
  void set_observer(StoreObserver* observer) { observer_ = observer; }

 private:
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<uint64_t, std::pair<ItemPtr, size_t>> items;  // key -> item, index in keys
    std::vector<uint64_t> keys;  // for a uniform random victim in O(1)
    std::minstd_rand rng;
  };

  static EntryPtr Payload(const ItemPtr& item) { return EntryPtr(item, &item->entry()); }

  const size_t shard_capacity_;
  std::vector<Shard> shards_;
  std::atomic<size_t> size_{0};
  StoreObserver* observer_ = nullptr;
};

}  // namespace warpdns::slowpath::cache

#endif  // WARPDNS_SLOWPATH_PLUGINS_CACHE_STORE_H_
