#include "fastpath/table/generation.h"

#include <atomic>

namespace warpdns::fastpath {
namespace {

// Alone on its cache line: read on every lookup, written on data changes.
alignas(64) std::atomic<uint64_t> data_generation{1};

}  // namespace

uint64_t DataGeneration() noexcept { return data_generation.load(std::memory_order_acquire); }

void BumpDataGeneration() noexcept { data_generation.fetch_add(1, std::memory_order_acq_rel); }

}  // namespace warpdns::fastpath
