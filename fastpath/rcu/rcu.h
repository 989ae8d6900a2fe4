// Quiescent-state-based RCU for the tables the fast path reads: a thin layer
// over DPDK's rte_rcu_qsbr. Readers (workers) never wait and never take locks;
// one writer (the publisher) swaps in new immutable versions and frees old
// ones once every reader has passed a quiescent state (once per poll-loop
// iteration). rte_rcu_qsbr needs no EAL: its state lives in ordinary aligned
// memory, so this works in tests, tools and socket mode without rte_eal_init().
#ifndef WARPDNS_FASTPATH_RCU_RCU_H_
#define WARPDNS_FASTPATH_RCU_RCU_H_

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace warpdns::fastpath::rcu {

class ReaderHandle;

// One QSBR variable shared by all readers of one set of published data. Its
// methods are for the control and writer threads; readers use ReaderHandle.
class Domain {
 public:
  // Up to `max_readers` readers, with ids [0, max_readers). Returns nullptr
  // and sets `error` if that is 0 or the QSBR variable cannot be set up.
  static std::unique_ptr<Domain> Create(uint32_t max_readers, std::string* error);

  Domain(const Domain&) = delete;
  Domain& operator=(const Domain&) = delete;

  // Registers reader `reader_id`, initially offline, before the reader runs.
  // Returns nullopt if the id is out of range or taken. Any thread but a
  // reader's (takes a mutex).
  std::optional<ReaderHandle> Register(uint32_t reader_id);
  // Registers the lowest free reader id; nullopt when all are taken.
  std::optional<ReaderHandle> RegisterAny();

  // Writer: a token covering every change the writer has published (made
  // visible with a release store) before this call.
  uint64_t Start() noexcept { return rte_rcu_qsbr_start(qsbr_.get()); }
  // Writer: true once every reader that was online at Start() has reported a
  // quiescent state or gone offline since. Never blocks.
  bool Check(uint64_t token) noexcept { return rte_rcu_qsbr_check(qsbr_.get(), token, false) == 1; }
  // Writer, at shutdown or in tests: Check(token), spinning until it holds.
  // Blocks for as long as an online reader fails to report.
  void Wait(uint64_t token) noexcept { rte_rcu_qsbr_check(qsbr_.get(), token, true); }

  uint32_t max_readers() const noexcept { return max_readers_; }

 private:
  struct FreeDeleter {
    void operator()(rte_rcu_qsbr* p) const noexcept { std::free(p); }
  };
  friend class ReaderHandle;

  Domain(rte_rcu_qsbr* qsbr, uint32_t max_readers);
  void Unregister(uint32_t reader_id) noexcept;

  std::unique_ptr<rte_rcu_qsbr, FreeDeleter> qsbr_;
  const uint32_t max_readers_;
  std::mutex mu_;                 // guards registered_
  std::vector<bool> registered_;
};

// One reader's registration. Lives with its worker (WorkerContext); moved in
// before the worker starts. The fast-path methods are for the owning thread
// only (never on a moved-from handle) and never block. Destroying it (once the
// worker has stopped) takes the reader offline and unregisters it; the Domain
// must outlive it.
class ReaderHandle {
 public:
  ReaderHandle(ReaderHandle&& other) noexcept
      : domain_(std::exchange(other.domain_, nullptr)), qsbr_(other.qsbr_), id_(other.id_) {}
  ReaderHandle& operator=(ReaderHandle&& other) noexcept {
    if (this != &other) {
      Release();
      domain_ = std::exchange(other.domain_, nullptr);
      qsbr_ = other.qsbr_;
      id_ = other.id_;
    }
    return *this;
  }
  ReaderHandle(const ReaderHandle&) = delete;
  ReaderHandle& operator=(const ReaderHandle&) = delete;
  ~ReaderHandle() { Release(); }

  // Starts reading: published data may be dereferenced until Offline().
  void Online() noexcept { rte_rcu_qsbr_thread_online(qsbr_, id_); }
  // Stops reading. Call it before any sleep or idle wait, or the writer's
  // reclamation stalls until the reader comes back.
  void Offline() noexcept { rte_rcu_qsbr_thread_offline(qsbr_, id_); }
  // Reports that no reference to published data taken before this call is
  // still held. Once per poll-loop iteration.
  void Quiescent() noexcept { rte_rcu_qsbr_quiescent(qsbr_, id_); }

  uint32_t id() const noexcept { return id_; }

 private:
  friend class Domain;
  ReaderHandle(Domain* domain, rte_rcu_qsbr* qsbr, uint32_t id) noexcept
      : domain_(domain), qsbr_(qsbr), id_(id) {}
  void Release() noexcept;  // offline + unregister, unless moved from

  Domain* domain_;      // null once moved from
  rte_rcu_qsbr* qsbr_;  // the domain's, one indirection less per loop iteration
  uint32_t id_;
};

// Frees retired objects once their grace period has passed: the rte_rcu_qsbr
// defer-queue idea without its fixed-size, experimental API. Single-threaded:
// owned and driven by the writer's loop. Its Domain must outlive it.
class Reclaimer {
 public:
  explicit Reclaimer(Domain& domain) noexcept : domain_(domain) {}
  Reclaimer(const Reclaimer&) = delete;
  Reclaimer& operator=(const Reclaimer&) = delete;
  // Drains: blocks until every pending object can be freed.
  ~Reclaimer() { Drain(); }

  // Queues `free_fn` to run once Check(token) holds. `token` comes from
  // Domain::Start() taken after the object was unpublished.
  void Retire(std::function<void()> free_fn, uint64_t token);
  // Runs every free whose grace period is over; never blocks on readers.
  // Returns how many ran.
  size_t ReclaimReady();
  // Waits for every pending grace period, then frees. Returns how many ran.
  size_t Drain();

  size_t pending() const noexcept { return pending_.size(); }
  Domain& domain() noexcept { return domain_; }

 private:
  struct Entry {
    uint64_t token;
    std::function<void()> free_fn;
  };
  Domain& domain_;
  std::deque<Entry> pending_;  // tokens ascend: Start() is monotonic
};

// A pointer to an immutable T with one writer and many readers.
template <typename T>
class Published {
 public:
  Published() = default;
  explicit Published(std::unique_ptr<const T> initial) : ptr_(initial.release()) {}
  Published(const Published&) = delete;
  Published& operator=(const Published&) = delete;
  // Only once no reader can reach it any more (workers stopped).
  ~Published() { delete ptr_.load(std::memory_order_relaxed); }

  // Reader, online: the current version, valid until the reader's next
  // Quiescent() or Offline(). Requires a prior Publish (or an initial value).
  // Fast path: never blocks. The acquire pairs with Publish's release, so the
  // whole object as built by the writer is visible.
  const T& Get() const noexcept { return *ptr_.load(std::memory_order_acquire); }

  // Writer only: makes `next` current and retires the previous version to
  // `reclaimer`. Never waits for readers.
  void Publish(std::unique_ptr<const T> next, Reclaimer& reclaimer) {
    const T* old = ptr_.exchange(next.release(), std::memory_order_release);
    // The token is taken after the exchange: readers that may still hold `old`
    // are exactly those that have not reported since.
    if (old != nullptr) reclaimer.Retire([old] { delete old; }, reclaimer.domain().Start());
  }

 private:
  std::atomic<const T*> ptr_{nullptr};
};

}  // namespace warpdns::fastpath::rcu

#endif  // WARPDNS_FASTPATH_RCU_RCU_H_
