// The one clock request timing uses (Request::start_ns, durations).
#ifndef WARPDNS_SLOWPATH_CHAIN_CLOCK_H_
#define WARPDNS_SLOWPATH_CHAIN_CLOCK_H_

#include <cstdint>

#include "fastpath/table/replay.h"

namespace warpdns::slowpath {

// CLOCK_MONOTONIC in nanoseconds, the fast path's clock. Any thread; a vDSO
// call, no syscall.
inline int64_t MonotonicNs() { return fastpath::MonotonicNs(); }

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_CHAIN_CLOCK_H_
