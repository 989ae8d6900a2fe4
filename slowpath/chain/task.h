// Slow-path handlers are C++20 coroutines on Asio event loops, so a plugin
// waiting on the network (forward, backends) holds no thread: CoreDNS's
// goroutine-per-query model without a thread per query.
#ifndef WARPDNS_SLOWPATH_CHAIN_TASK_H_
#define WARPDNS_SLOWPATH_CHAIN_TASK_H_

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>

#include <exception>
#include <optional>
#include <utility>

namespace warpdns::slowpath {

template <typename T = void>
using Task = asio::awaitable<T>;

// Runs `task` to completion on a private event loop and returns its value.
// For tests and start-up code only: it blocks the calling thread, so never
// call it from a listener's event loop.
template <typename T>
T RunSync(Task<T> task) {
  asio::io_context io;
  std::optional<T> result;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result.emplace(std::move(value));
  });
  io.run();
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

inline void RunSync(Task<void> task) {
  asio::io_context io;
  std::exception_ptr error;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) { error = e; });
  io.run();
  if (error) std::rethrow_exception(error);
}

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_CHAIN_TASK_H_
