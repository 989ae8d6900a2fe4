#include "fastpath/table/answer_table.h"

#include <bit>
#include <cstdlib>
#include <new>

namespace warpdns::fastpath {

AnswerTable::AnswerTable(size_t slots, uint64_t generation)
    : mask_(std::bit_ceil(slots < kProbe ? kProbe : slots) - 1),
      generation_(generation),
      slots_(new std::atomic<const Entry*>[mask_ + 1]) {
  for (size_t i = 0; i <= mask_; ++i) slots_[i].store(nullptr, std::memory_order_relaxed);
}

AnswerTable::~AnswerTable() {
  for (size_t i = 0; i <= mask_; ++i) {
    std::free(const_cast<Entry*>(slots_[i].load(std::memory_order_relaxed)));
  }
}

bool AnswerTable::Insert(const QueryKey& key, const uint8_t* reply, size_t len,
                         rcu::Reclaimer& reclaimer) {
  if (len < 12 || len - 2 > kMaxReply) return false;
  auto* e = static_cast<Entry*>(std::malloc(sizeof(Entry) + key.len + len - 2));
  if (e == nullptr) return false;
  e->hash = key.hash;
  e->key_len = key.len;
  e->reply_len = static_cast<uint16_t>(len - 2);
  std::memcpy(e->data, key.bytes, key.len);
  std::memcpy(e->data + key.len, reply + 2, len - 2);

  const size_t home = key.hash & mask_;
  std::atomic<const Entry*>* target = nullptr;
  for (size_t i = 0; i < kProbe && target == nullptr; ++i) {
    std::atomic<const Entry*>& slot = slots_[(home + i) & mask_];
    const Entry* cur = slot.load(std::memory_order_relaxed);
    if (cur == nullptr || (cur->hash == key.hash && cur->key_len == key.len &&
                           std::memcmp(cur->data, key.bytes, key.len) == 0)) {
      target = &slot;
    }
  }
  if (target == nullptr) {
    // Full window: replace a victim picked by other hash bits, so that hot
    // keys sharing a window do not keep evicting the same one.
    target = &slots_[(home + ((key.hash >> 40) % kProbe)) & mask_];
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  // Release: a reader that sees the pointer sees the entry's octets.
  const Entry* old = target->exchange(e, std::memory_order_release);
  if (old == nullptr) {
    size_.fetch_add(1, std::memory_order_relaxed);
  } else {
    reclaimer.Retire([old] { std::free(const_cast<Entry*>(old)); }, reclaimer.domain().Start());
  }
  return true;
}

}  // namespace warpdns::fastpath
