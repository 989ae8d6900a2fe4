// The one clock request timing uses (Request::start_ns, durations).
#ifndef WARPDNS_SLOWPATH_CHAIN_CLOCK_H_
#define WARPDNS_SLOWPATH_CHAIN_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace warpdns::slowpath {

// CLOCK_MONOTONIC in nanoseconds. Any thread; a vDSO call, no syscall.
inline int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_CHAIN_CLOCK_H_
