// The data generation: bumped by every change of the data a deterministic
// chain answers from (zone load, hosts reload, configuration swap). Answers
// in the fast path's tables are valid only for the generation they were made
// under. Kubernetes and etcd events bump their source's generation instead.
#ifndef WARPDNS_FASTPATH_TABLE_GENERATION_H_
#define WARPDNS_FASTPATH_TABLE_GENERATION_H_

#include <atomic>
#include <cstdint>
#include <string>

namespace warpdns::fastpath {

// Any thread; never blocks.
uint64_t DataGeneration() noexcept;
void BumpDataGeneration() noexcept;

// Sources: data that changes often and on its own (a kubernetes or etcd
// plugin's copy of its backend). A change of one bumps only its generation:
// answers made from it carry (source, generation) and the fast path skips
// those whose source has moved on, while the rest of the table stays.
inline constexpr uint16_t kMaxSources = 256;  // id 0 means "none"
// The id named `name`, the same across reloads (0 when all are taken). Slow
// path.
uint16_t SourceId(const std::string& name);
// Fast path: any thread; never blocks.
inline uint32_t SourceGeneration(uint16_t id) noexcept;
// A change of source `id`; of the data generation for id 0 (a source that
// got no id: its answers carry none, so only that retires them).
void BumpSourceGeneration(uint16_t id) noexcept;
// Counts every bump, of the data generation and of any source (the
// prebuild's trigger). Any thread; never blocks.
uint64_t DataChanges() noexcept;

namespace internal {
extern std::atomic<uint32_t> source_generations[kMaxSources];
}  // namespace internal

inline uint32_t SourceGeneration(uint16_t id) noexcept {
  return internal::source_generations[id].load(std::memory_order_acquire);
}

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_TABLE_GENERATION_H_
