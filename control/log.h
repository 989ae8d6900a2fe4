// The process log: whole lines to stdout, written by one thread so that a
// worker logging a query never makes a syscall or waits on the terminal. The
// same thread drains the fast path's log rings (fastpath::LogBank).
#ifndef WARPDNS_CONTROL_LOG_H_
#define WARPDNS_CONTROL_LOG_H_

#include <cstdint>
#include <string_view>

namespace warpdns::control {

// Queues one line (a newline is added). Any thread; never blocks on I/O.
// When more than the backlog limit is queued (stdout not keeping up), the
// line is dropped and counted.
void LogLine(std::string_view line);

// Writes everything queued so far (start-up banner, shutdown).
void FlushLog();

uint64_t DroppedLogLines();

}  // namespace warpdns::control

#endif  // WARPDNS_CONTROL_LOG_H_
