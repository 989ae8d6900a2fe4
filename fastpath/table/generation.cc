#include "fastpath/table/generation.h"

#include <atomic>
#include <map>
#include <mutex>

namespace warpdns::fastpath {
namespace internal {

// Written on a source's change only; read on lookups of its answers.
alignas(64) std::atomic<uint32_t> source_generations[kMaxSources];

}  // namespace internal

namespace {

// Alone on its cache line: read on every lookup, written on data changes.
alignas(64) std::atomic<uint64_t> data_generation{1};
alignas(64) std::atomic<uint64_t> data_changes{0};

}  // namespace

uint64_t DataGeneration() noexcept { return data_generation.load(std::memory_order_acquire); }

void BumpDataGeneration() noexcept {
  data_generation.fetch_add(1, std::memory_order_acq_rel);
  data_changes.fetch_add(1, std::memory_order_relaxed);
}

uint16_t SourceId(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, uint16_t>* ids = new std::map<std::string, uint16_t>;
  std::lock_guard lock(mu);
  auto it = ids->find(name);
  if (it != ids->end()) return it->second;
  if (ids->size() + 1 >= kMaxSources) return 0;
  const auto id = static_cast<uint16_t>(ids->size() + 1);
  ids->emplace(name, id);
  return id;
}

void BumpSourceGeneration(uint16_t id) noexcept {
  if (id == 0) {
    BumpDataGeneration();
    return;
  }
  internal::source_generations[id].fetch_add(1, std::memory_order_acq_rel);
  data_changes.fetch_add(1, std::memory_order_relaxed);
}

uint64_t DataChanges() noexcept { return data_changes.load(std::memory_order_relaxed); }

}  // namespace warpdns::fastpath
