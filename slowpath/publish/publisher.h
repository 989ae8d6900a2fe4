// The publisher: the only writer of the tables the fast path answers from.
// Slow-path threads hand it answers to memoize; its thread inserts them into
// the current TableSet, publishes a fresh TableSet when the data generation
// moves, and frees what readers have let go after their grace period. It
// never waits for a reader, and readers never wait for it.
#ifndef WARPDNS_SLOWPATH_PUBLISH_PUBLISHER_H_
#define WARPDNS_SLOWPATH_PUBLISH_PUBLISHER_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "fastpath/rcu/rcu.h"
#include "fastpath/table/query_key.h"
#include "fastpath/table/replay.h"
#include "fastpath/table/table_set.h"

namespace warpdns::slowpath {

struct PublisherOptions {
  size_t answer_slots = size_t{1} << 20;
  uint32_t max_readers = 256;  // fast-path workers and socket-mode workers together
  size_t max_queued = 65536;   // memoize requests waiting; beyond, they are dropped
};

class Publisher {
 public:
  struct Stats {
    uint64_t offered = 0;    // Memoize calls
    uint64_t memoized = 0;   // inserted into a table
    uint64_t dropped = 0;    // queue full, stale generation or too long
    uint64_t published = 0;  // TableSet versions published
    uint64_t entries = 0;    // in the current answer table
    uint64_t evictions = 0;  // of the current answer table
    uint64_t slots = 0;
    uint64_t generation = 0;       // of the current table: the data it answers for
    uint64_t reclaim_pending = 0;  // replaced entries and tables waiting for readers
  };

  explicit Publisher(const PublisherOptions& options);
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;
  // Stops the thread; the caller has stopped every reader first.
  ~Publisher();

  // A reader registration for a worker (nullopt when all are taken). Any
  // thread but the reader's own.
  std::optional<fastpath::rcu::ReaderHandle> RegisterReader() { return domain_->RegisterAny(); }

  // The tables, for online readers (see rcu::Published::Get).
  const fastpath::rcu::Published<fastpath::TableSet>& tables() const { return tables_; }

  // Queues `reply` as the answer to `key`, made by a deterministic chain
  // under data `generation`; `replay` says how the fast path ages and
  // shuffles it (a reply that cannot be replayed so is dropped) and what each
  // answer counts. Any slow-path thread; takes a short lock, so never from
  // the fast path.
  void Memoize(const fastpath::QueryKey& key, const uint8_t* reply, size_t len,
               uint64_t generation, const fastpath::ReplaySpec& replay = {});

  // Returns once everything queued before the call is in the tables (tests,
  // and benchmarks that preload). Any thread but the publisher's.
  void Flush();

  Stats stats() const;

 private:
  struct Pending {
    fastpath::QueryKey key;
    uint64_t generation;
    std::vector<uint8_t> reply;
    std::vector<uint8_t> meta;  // BuildReplay's description; empty: fixed octets
    fastpath::AnswerTable::Tags tags;
  };

  void Run();
  // Publisher thread: a new, empty TableSet for `generation`.
  void PublishFresh(uint64_t generation);

  const PublisherOptions options_;
  std::unique_ptr<fastpath::rcu::Domain> domain_;
  fastpath::rcu::Published<fastpath::TableSet> tables_;
  fastpath::TableSet* writable_ = nullptr;  // the published version, writer side
  std::unique_ptr<fastpath::rcu::Reclaimer> reclaimer_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable flushed_;
  std::vector<Pending> queue_;
  uint64_t enqueued_ = 0;  // sequence numbers for Flush
  uint64_t done_ = 0;
  bool stop_ = false;

  std::atomic<uint64_t> offered_{0};
  std::atomic<uint64_t> memoized_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> published_{0};
  std::atomic<uint64_t> reclaim_pending_{0};  // the reclaimer's backlog, for stats()
  std::atomic<const fastpath::AnswerTable*> current_answers_{nullptr};  // for stats()
  std::thread thread_;
};

}  // namespace warpdns::slowpath

#endif  // WARPDNS_SLOWPATH_PUBLISH_PUBLISHER_H_
