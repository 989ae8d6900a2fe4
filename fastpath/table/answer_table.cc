#include "fastpath/table/answer_table.h"

#include <sys/mman.h>

#include <bit>
#include <climits>
#include <cstdlib>
#include <new>

namespace warpdns::fastpath {
namespace {

constexpr size_t kHugePage = size_t{2} << 20;

std::atomic<const AnswerTable::Entry*>* AllocateSlots(size_t count) {
  const size_t bytes = count * sizeof(std::atomic<const AnswerTable::Entry*>);
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (p == nullptr) throw std::bad_alloc();
  if (align == kHugePage) madvise(p, bytes, MADV_HUGEPAGE);  // advice only
  return static_cast<std::atomic<const AnswerTable::Entry*>*>(p);
}

}  // namespace

AnswerTable::AnswerTable(size_t slots, uint64_t generation)
    : mask_(std::bit_ceil(slots < kProbe ? kProbe : slots) - 1),
      generation_(generation),
      slots_(AllocateSlots(mask_ + 1)) {
  for (size_t i = 0; i <= mask_; ++i) new (&slots_[i]) std::atomic<const Entry*>(nullptr);
}

AnswerTable::~AnswerTable() {
  for (size_t i = 0; i <= mask_; ++i) {
    std::free(const_cast<Entry*>(slots_[i].load(std::memory_order_relaxed)));
  }
}

bool AnswerTable::Insert(const QueryKey& key, const uint8_t* reply, size_t len,
                         rcu::Reclaimer& reclaimer, const uint8_t* meta, size_t meta_len,
                         const Tags& tags) {
  if (len < 12 || len - 2 > kMaxReply || meta_len > UINT16_MAX) return false;
  // Meta first and a multiple of 8, so its header stays aligned.
  const size_t meta_room = (meta_len + 7) / 8 * 8;
  auto* e = static_cast<Entry*>(std::malloc(sizeof(Entry) + meta_room + key.len + len - 2));
  if (e == nullptr) return false;
  e->hash = key.hash;
  e->key_len = key.len;
  e->reply_len = static_cast<uint16_t>(len - 2);
  e->meta_len = static_cast<uint16_t>(meta_room);
  e->tags = tags;
  if (meta_len != 0) std::memcpy(e->data, meta, meta_len);
  std::memcpy(e->data + meta_room, key.bytes, key.len);
  std::memcpy(e->data + meta_room + key.len, reply + 2, len - 2);

  const size_t home = key.hash & mask_;
  std::atomic<const Entry*>* target = nullptr;
  for (size_t i = 0; i < kProbe && target == nullptr; ++i) {
    std::atomic<const Entry*>& slot = slots_[(home + i) & mask_];
    const Entry* cur = slot.load(std::memory_order_relaxed);
    if (cur == nullptr || (cur->hash == key.hash && cur->key_len == key.len &&
                           std::memcmp(cur->key(), key.bytes, key.len) == 0)) {
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

void AnswerTable::Log(const Entry& e, const QueryKey& key, const uint8_t id[2], size_t request_len,
                      const Client& client, Context& ctx) noexcept {
  LogRecord* r = ctx.log->Reserve(ctx.log_count);
  if (r == nullptr) return;
  r->sink = e.tags.log;
  r->id = static_cast<uint16_t>(id[0] << 8 | id[1]);
  r->request_len = static_cast<uint16_t>(request_len);
  r->reply_len = static_cast<uint16_t>(e.reply_len + 2u);
  r->rsize = e.tags.rsize;
  r->reply_flags = static_cast<uint16_t>(e.reply()[0] << 8 | e.reply()[1]);
  r->port = client.port;
  r->family = static_cast<uint8_t>(client.family);
  std::memset(r->addr, 0, sizeof(r->addr));
  if (client.addr != nullptr) std::memcpy(r->addr, client.addr, client.family == 2 ? 16 : 4);
  r->duration_ns = 0;
  r->key_len = key.len;
  std::memcpy(r->key, key.bytes, key.len);
  ++ctx.log_count;
}

}  // namespace warpdns::fastpath
