#include "fastpath/memo/response_memo.h"

#include <atomic>
#include <bit>
#include <cstring>
#include <new>

namespace warpdns::fastpath {
namespace {

std::atomic<uint64_t> data_generation{1};

}  // namespace

uint64_t DataGeneration() noexcept { return data_generation.load(std::memory_order_acquire); }

void BumpDataGeneration() noexcept { data_generation.fetch_add(1, std::memory_order_acq_rel); }

ResponseMemo::ResponseMemo(size_t slots)
    : mask_(std::bit_ceil(slots < 2 ? size_t{2} : slots) - 1),
      entries_(static_cast<Entry*>(std::calloc(mask_ + 1, sizeof(Entry)))) {
  if (!entries_) throw std::bad_alloc();  // at start-up, never per packet
}

uint64_t ResponseMemo::Hash(const uint8_t* query, size_t len) noexcept {
  // FNV-1a over the octets after the ID.
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 2; i < len; ++i) h = (h ^ query[i]) * 0x100000001b3ull;
  return h;
}

size_t ResponseMemo::Lookup(const uint8_t* query, size_t len, uint64_t generation,
                            uint8_t* out) const noexcept {
  if (len < 12 || len > kMaxQuery) return 0;
  const uint64_t h = Hash(query, len);
  const Entry& e = entries_[h & mask_];
  if (e.query_len != len || e.hash != h || e.generation != generation ||
      std::memcmp(e.query + 2, query + 2, len - 2) != 0) {
    return 0;
  }
  std::memcpy(out, e.reply, e.reply_len);
  out[0] = query[0];
  out[1] = query[1];
  return e.reply_len;
}

void ResponseMemo::Insert(const uint8_t* query, size_t len, const uint8_t* reply,
                          size_t reply_len, uint64_t generation) noexcept {
  if (len < 12 || len > kMaxQuery || reply_len < 12 || reply_len > kMaxReply) return;
  const uint64_t h = Hash(query, len);
  Entry& e = entries_[h & mask_];
  e.hash = h;
  e.generation = generation;
  e.query_len = static_cast<uint16_t>(len);
  e.reply_len = static_cast<uint16_t>(reply_len);
  std::memcpy(e.query, query, len);
  std::memcpy(e.reply, reply, reply_len);
}

}  // namespace warpdns::fastpath
