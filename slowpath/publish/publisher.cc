#include "slowpath/publish/publisher.h"

#include <pthread.h>

#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fastpath/table/generation.h"

namespace warpdns::slowpath {

Publisher::Publisher(const PublisherOptions& options) : options_(options) {
  std::string error;
  domain_ = fastpath::rcu::Domain::Create(options_.max_readers, &error);
  if (!domain_) throw std::runtime_error(error);  // start-up only
  reclaimer_ = std::make_unique<fastpath::rcu::Reclaimer>(*domain_);
  PublishFresh(fastpath::DataGeneration());
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "publisher");
    Run();
  });
}

Publisher::~Publisher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
  current_answers_.store(nullptr);
  reclaimer_.reset();  // readers are gone: drains at once
}

void Publisher::Memoize(const fastpath::QueryKey& key, const uint8_t* reply, size_t len,
                        uint64_t generation, const fastpath::ReplaySpec& replay) {
  offered_.fetch_add(1, std::memory_order_relaxed);
  std::vector<uint8_t> meta;
  if (len > fastpath::AnswerTable::kMaxReply + 2 ||
      (replay.Varies() && !fastpath::BuildReplay(reply, len, replay, &meta))) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  bool first;
  {
    std::lock_guard lock(mu_);
    if (queue_.size() >= options_.max_queued) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    first = queue_.empty();
    Pending& p = queue_.emplace_back();
    // Only the used part of the key is copied.
    p.key.hash = key.hash;
    p.key.len = key.len;
    std::memcpy(p.key.bytes, key.bytes, key.len);
    p.generation = generation;
    p.reply.assign(reply, reply + len);
    p.meta = std::move(meta);
    p.tags = replay.tags;
    ++enqueued_;
  }
  if (first) wake_.notify_one();
}

void Publisher::Flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = enqueued_;
  wake_.notify_one();
  flushed_.wait(lock, [&] { return done_ >= target || stop_; });
}

Publisher::Stats Publisher::stats() const {
  Stats s;
  // Read before the outcomes: offered <= memoized + dropped then means that
  // everything offered so far has been dealt with.
  s.offered = offered_.load(std::memory_order_acquire);
  s.memoized = memoized_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.published = published_.load(std::memory_order_relaxed);
  s.reclaim_pending = reclaim_pending_.load(std::memory_order_relaxed);
  // Under the lock PublishFresh swaps current_answers_ with: the current
  // table is never the one a grace period is about to free.
  std::lock_guard lock(mu_);
  if (const fastpath::AnswerTable* t = current_answers_.load(std::memory_order_acquire)) {
    s.entries = t->size();
    s.evictions = t->evictions();
    s.slots = t->slots();
    s.generation = t->generation();
  }
  return s;
}

void Publisher::PublishFresh(uint64_t generation) {
  auto next = std::make_unique<fastpath::TableSet>(options_.answer_slots, generation);
  writable_ = next.get();
  {
    std::lock_guard lock(mu_);
    current_answers_.store(&next->answers, std::memory_order_release);
  }
  tables_.Publish(std::move(next), *reclaimer_);
  published_.fetch_add(1, std::memory_order_relaxed);
}

void Publisher::Run() {
  std::vector<Pending> batch;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      // The timeout bounds how long retired tables wait to be freed and how
      // soon an idle system notices a new generation.
      wake_.wait_for(lock, std::chrono::milliseconds(10),
                     [&] { return stop_ || !queue_.empty(); });
      if (stop_) {
        flushed_.notify_all();
        return;
      }
      batch.swap(queue_);
    }
    const uint64_t generation = fastpath::DataGeneration();
    if (generation != writable_->answers.generation()) PublishFresh(generation);
    for (const Pending& p : batch) {
      if (p.generation == generation &&
          writable_->answers.Insert(p.key, p.reply.data(), p.reply.size(), *reclaimer_,
                                    p.meta.data(), p.meta.size(), p.tags)) {
        memoized_.fetch_add(1, std::memory_order_relaxed);
      } else {
        dropped_.fetch_add(1, std::memory_order_relaxed);
      }
    }
    {
      std::lock_guard lock(mu_);
      done_ += batch.size();
    }
    flushed_.notify_all();
    batch.clear();
    reclaimer_->ReclaimReady();
    reclaim_pending_.store(reclaimer_->pending(), std::memory_order_relaxed);
  }
}

}  // namespace warpdns::slowpath
