// A per-worker memo of whole replies, keyed by the exact query bytes after
// the ID: the socket-mode fast path in front of the plugin chain. The reply
// to a byte-identical query through a deterministic chain on the same data
// is byte-identical, so a hit gives exactly what the slow path would (the
// fast path/slow path invariant, by construction). Entries carry the data
// generation they were made under; any data change bumps it.
#ifndef WARPDNS_FASTPATH_MEMO_RESPONSE_MEMO_H_
#define WARPDNS_FASTPATH_MEMO_RESPONSE_MEMO_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace warpdns::fastpath {

class ResponseMemo {
 public:
  static constexpr size_t kMaxQuery = 160;  // a long name, the question and an OPT with a cookie
  static constexpr size_t kMaxReply = 512;  // most answers; bigger ones stay on the slow path

  // `slots` is rounded up to a power of two. Allocated once, here, as zero
  // pages: memory becomes resident only as slots fill.
  explicit ResponseMemo(size_t slots);

  // On a hit, writes the reply (with the query's ID) to `out` (at least
  // kMaxReply octets) and returns its length; 0 on a miss. Owning worker
  // thread only; never allocates or blocks.
  size_t Lookup(const uint8_t* query, size_t len, uint64_t generation, uint8_t* out) const noexcept;

  // Remembers `reply` for `query` (made under `generation`), replacing
  // whatever shared its slot. Too-long queries or replies are skipped.
  // Owning worker thread only; never allocates.
  void Insert(const uint8_t* query, size_t len, const uint8_t* reply, size_t reply_len,
              uint64_t generation) noexcept;

 private:
  struct Entry {  // all zero: empty
    uint64_t hash;
    uint64_t generation;
    uint16_t query_len;
    uint16_t reply_len;
    uint8_t query[kMaxQuery];
    uint8_t reply[kMaxReply];
  };
  struct Free {
    void operator()(Entry* e) const noexcept { std::free(e); }
  };

  static uint64_t Hash(const uint8_t* query, size_t len) noexcept;

  size_t mask_;
  std::unique_ptr<Entry[], Free> entries_;
};

// The data generation: bumped by every change of the data a deterministic
// chain answers from (zone load, hosts reload, configuration swap). Any
// thread.
uint64_t DataGeneration() noexcept;
void BumpDataGeneration() noexcept;

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_MEMO_RESPONSE_MEMO_H_
