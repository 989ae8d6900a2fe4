// The fast path's table of whole answers: QueryKey -> the reply's octets
// after the ID. Prebuilt and memoized answers of deterministic chains go
// here (the fast path/slow path invariant by construction: a hit returns
// what the chain returned for the same key on the same data).
//
// Concurrency: one writer (the publisher thread), any number of RCU readers
// (fast-path workers). Slots are atomic pointers to immutable entries; the
// writer fills or replaces a slot with a release store and retires what it
// replaced to the Reclaimer, so a reader never sees a torn entry and never
// waits. A change of data generation publishes a whole new table instead of
// deleting entries one by one.
#ifndef WARPDNS_FASTPATH_TABLE_ANSWER_TABLE_H_
#define WARPDNS_FASTPATH_TABLE_ANSWER_TABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>

#include "fastpath/rcu/rcu.h"
#include "fastpath/table/counter_bank.h"
#include "fastpath/table/generation.h"
#include "fastpath/table/log_bank.h"
#include "fastpath/table/query_key.h"
#include "fastpath/table/replay.h"
#include "fastpath/table/stats_bank.h"

namespace warpdns::fastpath {

class AnswerTable {
 public:
  // Largest reply kept: a full EDNS buffer of the common 1232 and a bit more
  // still fits one standard mbuf with its headers.
  static constexpr size_t kMaxReply = 1800;
  // Slots probed from a key's home slot.
  static constexpr size_t kProbe = 8;

  struct Entry {
    uint64_t hash;
    uint16_t key_len;
    uint16_t reply_len;  // without the 2-octet ID
    uint16_t meta_len;   // a replay description (replay.h) first; 0: fixed octets
    EntryTags tags;      // what each answer counts and logs, the source it was made from
    alignas(8) uint8_t data[];  // meta (its header is read in place), key, reply after its ID
    const uint8_t* meta() const noexcept { return data; }
    const uint8_t* key() const noexcept { return data + meta_len; }
    const uint8_t* reply() const noexcept { return data + meta_len + key_len; }
  };

  // A worker's own state for the answer stage.
  struct Context {
    int64_t now_ns = 0;                  // CLOCK_MONOTONIC, read once per burst
    // loadbalance's random source (xorshift64*, never 0), distinct per worker.
    uint64_t random = reinterpret_cast<uintptr_t>(this) | 1;
    CounterBank::Row counters = nullptr;  // this worker's row
    StatsBank::Row stats = nullptr;       // this worker's row
    LogRing* log = nullptr;               // this worker's ring
    // The slots of this burst's answers, whose duration FinishBurst counts.
    static constexpr size_t kMaxBurst = 256;
    uint16_t burst_slots[kMaxBurst];
    size_t burst_count = 0;
    size_t log_count = 0;  // records reserved in `log` for this burst

    bool BurstPending() const noexcept { return burst_count != 0 || log_count != 0; }
    // Counts the duration of every answer of the burst that began at
    // `now_ns` (from then to `end_ns`) and hands its log lines over. Fast
    // path: the owning worker; never blocks.
    void FinishBurst(int64_t end_ns) noexcept {
      const int64_t took = end_ns - now_ns;
      const size_t bucket = StatsBank::DurationBucket(took);
      // A burst's answers mostly share a slot: one count per run of it.
      for (size_t i = 0; i < burst_count;) {
        size_t j = i + 1;
        while (j < burst_count && burst_slots[j] == burst_slots[i]) ++j;
        StatsBank::CountDuration(stats, burst_slots[i], took, bucket, j - i);
        i = j;
      }
      burst_count = 0;
      for (size_t i = 0; i < log_count; ++i) log->Reserved(i).duration_ns = took;
      if (log_count != 0) log->Publish(log_count);
      log_count = 0;
    }
  };

  // `slots` is rounded up to a power of two.
  AnswerTable(size_t slots, uint64_t generation);
  AnswerTable(const AnswerTable&) = delete;
  AnswerTable& operator=(const AnswerTable&) = delete;
  // Frees every entry: only once no reader can reach the table.
  ~AnswerTable();

  // The entry for `key`, or nullptr. Valid until the reader's next quiescent
  // state. Fast path: any online RCU reader; never blocks or allocates.
  const Entry* Find(const QueryKey& key) const noexcept {
    const size_t home = key.hash & mask_;
    for (size_t i = 0; i < kProbe; ++i) {
      const Entry* e = slots_[(home + i) & mask_].load(std::memory_order_acquire);
      if (e == nullptr) return nullptr;  // never deleted: the probe chain ends here
      if (e->hash == key.hash && e->key_len == key.len &&
          std::memcmp(e->key(), key.bytes, key.len) == 0) {
        return e;
      }
    }
    return nullptr;
  }

  // Starts loading `key`'s home slot, so that a batch of lookups waits for
  // its memory once rather than once per packet (call PrefetchEntry next,
  // then Find/Answer). Fast path: any online RCU reader; never blocks.
  void PrefetchSlot(const QueryKey& key) const noexcept {
    __builtin_prefetch(&slots_[key.hash & mask_]);
  }
  // Starts loading the entry in `key`'s home slot, the likely hit. Fast
  // path: any online RCU reader; never blocks.
  void PrefetchEntry(const QueryKey& key) const noexcept {
    const Entry* e = slots_[key.hash & mask_].load(std::memory_order_relaxed);
    if (e == nullptr) return;
    __builtin_prefetch(e);
    __builtin_prefetch(reinterpret_cast<const uint8_t*>(e) + 64);
  }

  // Writes the answer to `key` for a query with ID `id` (network order, as
  // it sits in the query) to `out` (room for `capacity` octets). Returns its
  // length, or 0 on a miss or when it does not fit. `request_len` and
  // `client` are the query's, for the metrics and the log. Fast path: any
  // online RCU reader; never blocks or allocates.
  // `ctx` is the calling worker's.
  size_t Answer(const QueryKey& key, const uint8_t id[2], uint8_t* out, size_t capacity,
                Context& ctx, size_t request_len = 0, const Client& client = {}) const noexcept {
    const Entry* e = Find(key);
    if (e == nullptr || e->reply_len + 2u > capacity) return 0;
    // Made from a source that has changed since: the slow path answers (and
    // memoizes the new reply in its place).
    const EntryTags& tags = e->tags;
    if (tags.source != 0 && SourceGeneration(tags.source) != tags.source_gen) return 0;
    // Counted and logged answers need a row, a ring and room in the burst;
    // else the slow path answers (and counts and logs).
    if ((tags.stats != 0 && (ctx.stats == nullptr || ctx.burst_count == Context::kMaxBurst)) ||
        (tags.log != 0 && (ctx.log == nullptr || ctx.log_count == Context::kMaxBurst))) {
      return 0;
    }
    out[0] = id[0];
    out[1] = id[1];
    if (e->meta_len == 0) {
      std::memcpy(out + 2, e->reply(), e->reply_len);
    } else if (!ReplayInto(e->meta(), e->reply(), e->reply_len, ctx.now_ns, &ctx.random,
                           out)) {
      return 0;  // past its freshness: the slow path decides (prefetch, stale)
    }
    if (tags.counter != 0 && ctx.counters != nullptr) CounterBank::Bump(ctx.counters, tags.counter);
    if (tags.stats != 0) {
      StatsBank::Count(ctx.stats, tags.stats, client.family, key.dnssec_ok, request_len,
                       tags.rsize);
      ctx.burst_slots[ctx.burst_count++] = tags.stats;
    }
    if (tags.log != 0) Log(*e, key, id, request_len, client, ctx);
    return e->reply_len + 2u;
  }

  // Reserves the log line of an answer from `e` in the worker's ring (the
  // line is dropped and counted when the ring is full). Fast path: the
  // worker owning `ctx`; never blocks.
  static void Log(const Entry& e, const QueryKey& key, const uint8_t id[2], size_t request_len,
                  const Client& client, Context& ctx) noexcept;

  using Tags = EntryTags;

  // Writer only: remembers `reply` (a whole message, ID included) for `key`,
  // with its replay description `meta` (BuildReplay; empty for fixed
  // octets) and `tags`, replacing the key's entry or, when its probe window
  // is full, one chosen by the hash. Replaced entries go to `reclaimer`.
  // Returns false (and keeps nothing) if the reply is too short or too long.
  bool Insert(const QueryKey& key, const uint8_t* reply, size_t len, rcu::Reclaimer& reclaimer,
              const uint8_t* meta = nullptr, size_t meta_len = 0, const Tags& tags = {});

  uint64_t generation() const noexcept { return generation_; }
  size_t slots() const noexcept { return mask_ + 1; }
  // Writer-maintained statistics; any thread (relaxed).
  size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  uint64_t evictions() const noexcept { return evictions_.load(std::memory_order_relaxed); }

 private:
  const size_t mask_;
  const uint64_t generation_;
  struct FreeSlots {
    void operator()(std::atomic<const Entry*>* p) const noexcept { std::free(p); }
  };
  // On transparent huge pages when large: a lookup is one random slot, and
  // a TLB miss per lookup costs as much as the cache miss.
  std::unique_ptr<std::atomic<const Entry*>[], FreeSlots> slots_;
  std::atomic<size_t> size_{0};
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_TABLE_ANSWER_TABLE_H_
