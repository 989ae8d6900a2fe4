#include "slowpath/plugins/etcd/snapshot.h"

#include <algorithm>

namespace warpdns::slowpath::etcd {
namespace {

// Chunks split above twice this size. Small enough that copying one per
// change is cheap, large enough that the chunk list stays short (100,000
// keys: ~400 chunks).
constexpr size_t kChunkSize = 256;

bool KeyLess(const std::shared_ptr<const Record>& r, std::string_view key) { return r->key < key; }

}  // namespace

std::pair<size_t, size_t> Snapshot::LowerBound(std::string_view key) const {
  // The first chunk whose last key is >= key holds the answer.
  auto chunk = std::partition_point(chunks_.begin(), chunks_.end(),
                                    [&](const auto& c) { return c->records.back()->key < key; });
  if (chunk == chunks_.end()) return {chunks_.size(), 0};
  const auto& records = (*chunk)->records;
  auto it = std::lower_bound(records.begin(), records.end(), key, KeyLess);
  return {static_cast<size_t>(chunk - chunks_.begin()), static_cast<size_t>(it - records.begin())};
}

const Record* Snapshot::Find(std::string_view key) const {
  auto [chunk, index] = LowerBound(key);
  if (chunk == chunks_.size()) return nullptr;
  const Record* r = chunks_[chunk]->records[index].get();
  return r->key == key ? r : nullptr;
}

SnapshotBuilder::SnapshotBuilder(const Snapshot* base) {
  if (base != nullptr) {
    chunks_ = base->chunks_;
    size_ = base->size_;
  }
  owned_.assign(chunks_.size(), false);
}

size_t SnapshotBuilder::OwnChunkFor(std::string_view key) {
  if (chunks_.empty()) {
    chunks_.push_back(std::make_shared<Snapshot::Chunk>());
    owned_.push_back(true);
    return 0;
  }
  // The last chunk whose first key is <= key, or the first chunk.
  auto after = std::partition_point(chunks_.begin() + 1, chunks_.end(), [&](const auto& chunk) {
    return chunk->records.front()->key <= key;
  });
  const size_t c = static_cast<size_t>(after - chunks_.begin()) - 1;
  if (!owned_[c]) {
    chunks_[c] = std::make_shared<Snapshot::Chunk>(*chunks_[c]);
    owned_[c] = true;
  }
  return c;
}

void SnapshotBuilder::Put(std::shared_ptr<const Record> record) {
  const size_t c = OwnChunkFor(record->key);
  auto& records = chunks_[c]->records;
  auto it = std::lower_bound(records.begin(), records.end(), record->key, KeyLess);
  if (it != records.end() && (*it)->key == record->key) {
    *it = std::move(record);
    return;
  }
  records.insert(it, std::move(record));
  ++size_;
  if (records.size() > 2 * kChunkSize) {
    auto upper = std::make_shared<Snapshot::Chunk>();
    upper->records.assign(records.begin() + kChunkSize, records.end());
    records.resize(kChunkSize);
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1, std::move(upper));
    owned_.insert(owned_.begin() + static_cast<std::ptrdiff_t>(c) + 1, true);
  }
}

void SnapshotBuilder::Delete(std::string_view key) {
  if (chunks_.empty()) return;
  const size_t c = OwnChunkFor(key);
  auto& records = chunks_[c]->records;
  auto it = std::lower_bound(records.begin(), records.end(), key, KeyLess);
  if (it == records.end() || (*it)->key != key) return;
  records.erase(it);
  --size_;
  if (records.empty()) {  // chunks are never empty
    chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
    owned_.erase(owned_.begin() + static_cast<std::ptrdiff_t>(c));
  }
}

std::shared_ptr<const Snapshot> SnapshotBuilder::Build(int64_t revision) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->chunks_ = std::move(chunks_);
  chunks_.clear();
  owned_.clear();
  snapshot->size_ = size_;
  snapshot->revision_ = revision;
  return snapshot;
}

}  // namespace warpdns::slowpath::etcd
