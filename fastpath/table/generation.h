// The data generation: bumped by every change of the data a deterministic
// chain answers from (zone load, hosts reload, Kubernetes or etcd event,
// configuration swap). Answers in the fast path's tables are valid only for
// the generation they were made under.
#ifndef WARPDNS_FASTPATH_TABLE_GENERATION_H_
#define WARPDNS_FASTPATH_TABLE_GENERATION_H_

#include <cstdint>

namespace warpdns::fastpath {

// Any thread; never blocks.
uint64_t DataGeneration() noexcept;
void BumpDataGeneration() noexcept;

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_TABLE_GENERATION_H_
