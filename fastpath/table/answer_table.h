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
#include "fastpath/table/query_key.h"

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
    uint8_t data[];      // key, then the reply after its ID
    const uint8_t* key() const noexcept { return data; }
    const uint8_t* reply() const noexcept { return data + key_len; }
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
          std::memcmp(e->data, key.bytes, key.len) == 0) {
        return e;
      }
    }
    return nullptr;
  }

  // Writes the answer to `key` for a query with ID `id` (network order, as
  // it sits in the query) to `out` (room for `capacity` octets). Returns its
  // length, or 0 on a miss or when it does not fit. Fast path: any online
  // RCU reader; never blocks or allocates.
  size_t Answer(const QueryKey& key, const uint8_t id[2], uint8_t* out,
                size_t capacity) const noexcept {
    const Entry* e = Find(key);
    if (e == nullptr || e->reply_len + 2u > capacity) return 0;
    out[0] = id[0];
    out[1] = id[1];
    std::memcpy(out + 2, e->reply(), e->reply_len);
    return e->reply_len + 2u;
  }

  // Writer only: remembers `reply` (a whole message, ID included) for `key`,
  // replacing the key's entry or, when its probe window is full, one chosen
  // by the hash. Replaced entries go to `reclaimer`. Returns false (and
  // keeps nothing) if the reply is too short or too long.
  bool Insert(const QueryKey& key, const uint8_t* reply, size_t len, rcu::Reclaimer& reclaimer);

  uint64_t generation() const noexcept { return generation_; }
  size_t slots() const noexcept { return mask_ + 1; }
  // Writer-maintained statistics; any thread (relaxed).
  size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  uint64_t evictions() const noexcept { return evictions_.load(std::memory_order_relaxed); }

 private:
  const size_t mask_;
  const uint64_t generation_;
  std::unique_ptr<std::atomic<const Entry*>[]> slots_;
  std::atomic<size_t> size_{0};
  std::atomic<uint64_t> evictions_{0};
};

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_TABLE_ANSWER_TABLE_H_
