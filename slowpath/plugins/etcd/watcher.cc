#include "slowpath/plugins/etcd/watcher.h"

#include <algorithm>
#include <chrono>

#include "fastpath/table/generation.h"

namespace warpdns::slowpath::etcd {
namespace {

// Keys per range request of the first read, all at one revision: a large
// key set is not one huge reply.
constexpr int64_t kPageSize = 5000;
constexpr int64_t kMinBackoffMs = 100;
constexpr int64_t kMaxBackoffMs = 2000;
// How long a watch read waits before lease housekeeping gets a turn.
constexpr int kPollMs = 1000;
constexpr int64_t kLeaseSweepNs = 1'000'000'000;
// Lease lookups per publication or sweep; the rest wait for the next sweep
// (answers meanwhile take their TTL from the value, or 300 s).
constexpr size_t kLeaseFetchBudget = 256;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Watcher::Watcher(WatcherConfig config)
    : config_(std::move(config)), range_end_(PrefixEnd(config_.prefix)), transport_(config_.tls) {
  thread_ = std::thread([this] { Run(); });
}

Watcher::~Watcher() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  transport_.Stop();
  thread_.join();
}

void Watcher::WaitForFirstRound(int64_t timeout_ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
               [&] { return first_round_done_ || stopping_; });
}

std::string Watcher::LastError() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void Watcher::EndFirstRound() {
  {
    std::lock_guard lock(mu_);
    first_round_done_ = true;
  }
  cv_.notify_all();
}

void Watcher::Log(const std::string& line) const {
  if (config_.host != nullptr) config_.host->Log(line);
}

void Watcher::Sleep(int64_t ms) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_; });
}

void Watcher::Publish(std::shared_ptr<const Snapshot> snapshot) {
  current_.store(std::move(snapshot));
  // The fast path's answers were made from the previous snapshot.
  fastpath::BumpSourceGeneration(config_.source);
  EndFirstRound();
}

void Watcher::Run() {
  int64_t next_revision = 0;  // 0: read every key first
  size_t endpoint = 0;
  size_t failed = 0;  // endpoints that failed in a row
  int64_t backoff_ms = kMinBackoffMs;
  while (!transport_.stopping()) {
    const std::string& url = config_.endpoints[endpoint];
    bool connected = false;
    const std::string error = Session(url, &next_revision, &connected);
    if (transport_.stopping()) break;
    if (connected) {
      failed = 0;
      backoff_ms = kMinBackoffMs;
    }
    if (error.empty()) continue;  // compacted: read again at once
    {
      // Each distinct failure once, not every retry of a long outage.
      std::lock_guard lock(mu_);
      if (error != last_error_) Log("[ERROR] plugin/etcd: " + url + ": " + error);
      last_error_ = error;
    }
    endpoint = (endpoint + 1) % config_.endpoints.size();  // fail over
    if (++failed >= config_.endpoints.size()) {
      EndFirstRound();
      Sleep(backoff_ms);
      backoff_ms = std::min(2 * backoff_ms, kMaxBackoffMs);
      failed = 0;
    }
  }
}

std::string Watcher::Session(const std::string& url, int64_t* next_revision, bool* connected) {
  std::string error;
  if (!config_.username.empty() && !Authenticate(url, &error)) return error;
  if (*next_revision == 0) {
    error = Load(url, next_revision);
    if (!error.empty()) return error;
    *connected = true;
  }
  return Watch(url, next_revision, connected);
}

bool Watcher::Authenticate(const std::string& url, std::string* error) {
  transport_.SetToken("");
  std::string body;
  std::string token;
  if (!transport_.Call(url + "/v3/auth/authenticate",
                       AuthenticateRequest(config_.username, config_.password), &body, error) ||
      !ParseAuthenticate(body, &token, error)) {
    return false;
  }
  transport_.SetToken(std::move(token));
  return true;
}

bool Watcher::Call(const std::string& url, const std::string& path, const std::string& body,
                   std::string* response, std::string* error) {
  if (transport_.Call(url + path, body, response, error)) return true;
  // Simple tokens expire after a while without use.
  if (config_.username.empty() || error->find("invalid auth token") == std::string::npos) {
    return false;
  }
  return Authenticate(url, error) && transport_.Call(url + path, body, response, error);
}

std::shared_ptr<const Record> Watcher::MakeRecord(KeyValue kv) {
  auto record = std::make_shared<Record>();
  record->key = std::move(kv.key);
  Service service;
  if (ParseService(kv.value, &service, &record->error)) record->service = std::move(service);
  if (kv.lease != 0) {
    std::weak_ptr<Lease>& slot = leases_[kv.lease];
    record->lease = slot.lock();
    if (record->lease == nullptr) {
      record->lease = std::make_shared<Lease>(kv.lease);
      slot = record->lease;
      unfetched_.push_back(record->lease);
    }
  }
  return record;
}

std::string Watcher::Load(const std::string& url, int64_t* next_revision) {
  SnapshotBuilder builder(nullptr);
  int64_t revision = 0;
  std::string from = config_.prefix;
  while (true) {
    std::string body;
    std::string error;
    RangeResult page;
    if (!Call(url, "/v3/kv/range", RangeRequest(from, range_end_, revision, kPageSize), &body,
              &error) ||
        !ParseRange(body, &page, &error)) {
      unfetched_.clear();
      return error;
    }
    if (revision == 0) revision = page.revision;  // later pages read the same version
    if (!page.kvs.empty()) from = page.kvs.back().key + '\0';
    for (KeyValue& kv : page.kvs) builder.Put(MakeRecord(std::move(kv)));
    if (!page.more || page.kvs.empty()) break;
  }
  std::shared_ptr<const Snapshot> snapshot = builder.Build(revision);
  FetchLeases(url, false);
  Log("[INFO] plugin/etcd: read " + std::to_string(snapshot->size()) + " keys under " +
      config_.prefix + " at revision " + std::to_string(revision) + " from " + url);
  Publish(std::move(snapshot));
  *next_revision = revision + 1;
  return "";
}

std::string Watcher::Watch(const std::string& url, int64_t* next_revision, bool* connected) {
  transport_.OpenStream(url + "/v3/watch",
                        WatchRequest(config_.prefix, range_end_, *next_revision));
  std::string error;
  while (true) {
    std::vector<std::string> lines;
    const bool open = transport_.ReadStream(kPollMs, &lines, &error);
    for (const std::string& line : lines) {
      WatchResult w;
      if (!ParseWatch(line, &w, &error)) {
        transport_.CloseStream();
        return error;
      }
      if (w.compact_revision != 0) {
        Log("[WARNING] plugin/etcd: revision " + std::to_string(*next_revision) +
            " is compacted (to " + std::to_string(w.compact_revision) +
            "), reading every key again");
        *next_revision = 0;
        transport_.CloseStream();
        return "";
      }
      if (w.canceled) {
        transport_.CloseStream();
        return "watch canceled: " + w.cancel_reason;
      }
      if (w.created) {
        *connected = true;
        std::lock_guard lock(mu_);
        if (!last_error_.empty()) {
          Log("[INFO] plugin/etcd: watching " + url + " from revision " +
              std::to_string(*next_revision));
          last_error_.clear();
        }
        continue;
      }
      if (w.events.empty()) {  // a progress notification: nothing before it is missing
        *next_revision = std::max(*next_revision, w.revision + 1);
        continue;
      }
      SnapshotBuilder builder(current_.load().get());
      for (WatchEvent& e : w.events) {
        *next_revision = std::max(*next_revision, e.kv.mod_revision + 1);
        if (e.deleted) {
          builder.Delete(e.kv.key);
        } else {
          builder.Put(MakeRecord(std::move(e.kv)));
        }
      }
      std::shared_ptr<const Snapshot> snapshot = builder.Build(*next_revision - 1);
      FetchLeases(url, false);
      Publish(std::move(snapshot));
    }
    if (!open) {
      transport_.CloseStream();
      return error;
    }
    if (NowNs() - last_lease_sweep_ns_ >= kLeaseSweepNs) {
      FetchLeases(url, true);
      last_lease_sweep_ns_ = NowNs();
    }
  }
}

void Watcher::FetchLeases(const std::string& url, bool due_only) {
  std::vector<std::shared_ptr<Lease>> todo;
  if (due_only) {
    // Forget leases no record holds; ask again about those whose deadline
    // passed (kept alive, they have a new one) or that are still unknown.
    const int64_t now = NowNs();
    for (auto it = leases_.begin(); it != leases_.end();) {
      std::shared_ptr<Lease> lease = it->second.lock();
      if (lease == nullptr) {
        it = leases_.erase(it);
        continue;
      }
      const int64_t deadline = lease->deadline_ns.load(std::memory_order_relaxed);
      if (deadline == 0 || deadline <= now) todo.push_back(std::move(lease));
      ++it;
    }
  } else {
    todo.swap(unfetched_);
  }
  if (todo.size() > kLeaseFetchBudget) todo.resize(kLeaseFetchBudget);
  for (const std::shared_ptr<Lease>& lease : todo) {
    std::string body;
    std::string error;
    int64_t ttl = 0;
    if (!Call(url, "/v3/lease/timetolive", LeaseTimeToLiveRequest(lease->id), &body, &error) ||
        !ParseLeaseTimeToLive(body, &ttl, &error)) {
      return;  // etcd is failing: the watch will notice; the next sweep asks again
    }
    // An expired lease (-1) takes its keys with it any moment: ask again soon.
    lease->deadline_ns.store(NowNs() + std::max<int64_t>(ttl, 1) * 1'000'000'000,
                             std::memory_order_relaxed);
  }
}

}  // namespace warpdns::slowpath::etcd
