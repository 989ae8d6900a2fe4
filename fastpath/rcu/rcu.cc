#include "fastpath/rcu/rcu.h"

#include <utility>

namespace warpdns::fastpath::rcu {

std::unique_ptr<Domain> Domain::Create(uint32_t max_readers, std::string* error) {
  if (max_readers == 0) {
    *error = "rcu: max_readers must be at least 1";
    return nullptr;
  }
  // The variable must be cache-line aligned (its per-reader counters are one
  // line each); ordinary memory will do, no EAL heap is needed.
  const size_t size = RTE_ALIGN_CEIL(rte_rcu_qsbr_get_memsize(max_readers), RTE_CACHE_LINE_SIZE);
  auto* qsbr = static_cast<rte_rcu_qsbr*>(std::aligned_alloc(RTE_CACHE_LINE_SIZE, size));
  if (qsbr == nullptr) {
    *error = "rcu: cannot allocate the QSBR variable";
    return nullptr;
  }
  if (rte_rcu_qsbr_init(qsbr, max_readers) != 0) {
    std::free(qsbr);
    *error = "rcu: rte_rcu_qsbr_init failed";
    return nullptr;
  }
  return std::unique_ptr<Domain>(new Domain(qsbr, max_readers));
}

Domain::Domain(rte_rcu_qsbr* qsbr, uint32_t max_readers)
    : qsbr_(qsbr), max_readers_(max_readers), registered_(max_readers, false) {}

std::optional<ReaderHandle> Domain::Register(uint32_t reader_id) {
  // rte_rcu_qsbr_thread_register accepts a second registration of the same id
  // silently; two handles would then unregister it twice.
  std::lock_guard lock(mu_);
  if (reader_id >= max_readers_ || registered_[reader_id]) return std::nullopt;
  if (rte_rcu_qsbr_thread_register(qsbr_.get(), reader_id) != 0) return std::nullopt;
  registered_[reader_id] = true;
  return ReaderHandle(this, qsbr_.get(), reader_id);
}

std::optional<ReaderHandle> Domain::RegisterAny() {
  std::lock_guard lock(mu_);
  for (uint32_t id = 0; id < max_readers_; ++id) {
    if (registered_[id]) continue;
    if (rte_rcu_qsbr_thread_register(qsbr_.get(), id) != 0) return std::nullopt;
    registered_[id] = true;
    return ReaderHandle(this, qsbr_.get(), id);
  }
  return std::nullopt;
}

void Domain::Unregister(uint32_t reader_id) noexcept {
  std::lock_guard lock(mu_);
  rte_rcu_qsbr_thread_unregister(qsbr_.get(), reader_id);
  registered_[reader_id] = false;
}

void ReaderHandle::Release() noexcept {
  if (domain_ == nullptr) return;
  Offline();
  domain_->Unregister(id_);
  domain_ = nullptr;
}

void Reclaimer::Retire(std::function<void()> free_fn, uint64_t token) {
  pending_.push_back(Entry{token, std::move(free_fn)});
}

size_t Reclaimer::ReclaimReady() {
  size_t freed = 0;
  while (!pending_.empty() && domain_.Check(pending_.front().token)) {
    // Popped before running, so a free_fn that retires more cannot see itself.
    std::function<void()> free_fn = std::move(pending_.front().free_fn);
    pending_.pop_front();
    free_fn();
    ++freed;
  }
  return freed;
}

size_t Reclaimer::Drain() {
  size_t freed = 0;
  while (!pending_.empty()) {
    domain_.Wait(pending_.front().token);
    freed += ReclaimReady();
  }
  return freed;
}

}  // namespace warpdns::fastpath::rcu
