#include "slowpath/plugins/cache/store.h"

#include <algorithm>

namespace warpdns::slowpath::cache {

int Item::Hit(int64_t now_ns, int64_t window_ns) {
  std::lock_guard lock(mu_);
  if (last_hit_ns_ < now_ns - window_ns) hits_ = 0;
  last_hit_ns_ = now_ns;
  return ++hits_;
}

int Item::hits() const {
  std::lock_guard lock(mu_);
  return hits_;
}

void Item::SetHits(int64_t now_ns, int hits) {
  std::lock_guard lock(mu_);
  last_hit_ns_ = now_ns;
  hits_ = hits;
}

bool Item::BeginRefresh(int64_t now_ns) {
  std::lock_guard lock(mu_);
  if (refreshing_ || now_ns < retry_after_ns_) return false;
  refreshing_ = true;
  return true;
}

void Item::EndRefresh(int64_t now_ns, int64_t recheck_ns, bool refreshed) {
  std::lock_guard lock(mu_);
  retry_after_ns_ = (recheck_ns > 0 && !refreshed) ? now_ns + recheck_ns : 0;
  refreshing_ = false;
}

Store::Store(int64_t capacity)
    : shard_capacity_(static_cast<size_t>(std::max<int64_t>(capacity / int64_t{kShards}, 4))),
      shards_(kShards) {
  uint32_t seed = std::random_device{}();
  for (Shard& s : shards_) {
    s.rng.seed(seed++);
    s.items.reserve(shard_capacity_);
    s.keys.reserve(shard_capacity_);
  }
}

ItemPtr Store::Get(uint64_t key) const {
  const Shard& s = shards_[key & (kShards - 1)];
  std::lock_guard lock(s.mu);
  auto it = s.items.find(key);
  return it == s.items.end() ? nullptr : it->second.first;
}

ItemPtr Store::Add(uint64_t key, Entry entry, bool* evicted) {
  auto item = std::make_shared<Item>(std::move(entry));
  Shard& s = shards_[key & (kShards - 1)];
  bool evict = false;
  uint64_t victim = 0;
  {
    std::lock_guard lock(s.mu);
    auto it = s.items.find(key);
    if (it != s.items.end()) {
      it->second.first = item;
    } else {
      if (s.keys.size() >= shard_capacity_) {
        const size_t i = std::uniform_int_distribution<size_t>(0, s.keys.size() - 1)(s.rng);
        victim = s.keys[i];
        s.items.erase(victim);
        if (i + 1 != s.keys.size()) {
          s.keys[i] = s.keys.back();
          s.items[s.keys[i]].second = i;
        }
        s.keys.pop_back();
        evict = true;
      } else {
        size_.fetch_add(1, std::memory_order_relaxed);
      }
      s.items.emplace(key, std::make_pair(item, s.keys.size()));
      s.keys.push_back(key);
    }
  }
  if (evicted != nullptr) *evicted = evict;
  if (observer_ != nullptr) {
    if (evict) observer_->OnRemove(victim);
    observer_->OnInsert(key, Payload(item));
  }
  return item;
}

void Store::Remove(uint64_t key) {
  Shard& s = shards_[key & (kShards - 1)];
  {
    std::lock_guard lock(s.mu);
    auto it = s.items.find(key);
    if (it == s.items.end()) return;
    const size_t i = it->second.second;
    s.items.erase(it);
    if (i + 1 != s.keys.size()) {
      s.keys[i] = s.keys.back();
      s.items[s.keys[i]].second = i;
    }
    s.keys.pop_back();
    size_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (observer_ != nullptr) observer_->OnRemove(key);
}

}  // namespace warpdns::slowpath::cache
