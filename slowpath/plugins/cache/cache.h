// cache: a success and a denial cache in front of the plugins below, with
// CoreDNS's keys, TTL rules, prefetch and serve_stale (CoreDNS plugin/cache).
#ifndef WARPDNS_SLOWPATH_PLUGINS_CACHE_CACHE_H_
#define WARPDNS_SLOWPATH_PLUGINS_CACHE_CACHE_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "slowpath/chain/plugin.h"
#include "slowpath/plugins/cache/store.h"

namespace warpdns::slowpath::cache {

inline constexpr int64_t kSecond = 1'000'000'000;

// The Corefile settings, CoreDNS's defaults. Durations in nanoseconds, as
// Go's time.Duration.
struct Config {
  std::vector<std::string> zones;  // lowercase FQDN; the block's zones by default
  int64_t success_capacity = 10000;
  int64_t success_max_ttl = 3600 * kSecond;
  int64_t success_min_ttl = 5 * kSecond;
  int64_t denial_capacity = 10000;
  int64_t denial_max_ttl = 1800 * kSecond;
  int64_t denial_min_ttl = 5 * kSecond;
  int64_t servfail_ttl = 5 * kSecond;
  int prefetch = 0;  // hits that make an entry popular; 0 disables
  int64_t prefetch_window = 60 * kSecond;
  int prefetch_percentage = 10;
  int64_t stale = 0;  // how long past expiry an entry may be served; 0 disables
  bool verify_stale = false;
  int64_t verify_timeout = 0;  // 0: wait for the refresh however long it takes
  uint32_t stale_response_ttl = 0;
  int64_t failure_recheck = 0;
  std::vector<std::string> success_disabled;  // zones not stored in the success cache
  std::vector<std::string> denial_disabled;
  bool keepttl = false;
};

// Parses a `cache` directive. On error sets *error with the file and line
// and returns false.
bool ParseConfig(const SetupContext& ctx, Config* config, std::string* error);

// CoreDNS's key(): FNV-1 64 over "1"/"0" for DO and CD, qtype and qclass big
// endian, then the lowercased qname in presentation form.
uint64_t Key(std::string_view lower_qname, uint16_t qtype, uint16_t qclass, bool dnssec_ok,
             bool checking_disabled);

// Monotonic nanoseconds; injectable so tests control time.
using Clock = std::function<int64_t()>;
int64_t MonotonicNow();

class Cache : public Plugin {
 public:
  Cache(Config config, Clock clock);
  ~Cache() override;

  std::string_view Name() const override { return "cache"; }
  Task<Result> ServeDns(Request& req, ResponseWriter& w) override;

  Store& success() { return success_; }
  Store& denial() { return denial_; }

 private:
  class Writer;
  struct Counters;
  struct Background;
  class Running;

  // A fresh entry, or one within serve_stale's reach; counts the request.
  ItemPtr Lookup(int64_t now, const Request& req, uint64_t key, Counters& counters,
                 bool* denial_hit);
  // Runs the plugins below with AD set in the query (so a validating
  // upstream says whether it validated), then restores the query.
  Task<Result> Refresh(Request& req, ResponseWriter& w);
  // CoreDNS's shouldPrefetch: counts the hit, true when popular and close
  // to expiry.
  bool ShouldPrefetch(Item& item, int64_t now) const;
  // Starts a detached refresh of `item` unless one is already running.
  Task<void> TryPrefetch(const Request& req, ItemPtr item, uint64_t key, int64_t now,
                         Counters* counters);
  Task<void> Prefetch(Request req, ItemPtr item, uint64_t key, int64_t now, Counters* counters,
                      Running running);
  // serve_stale verify: the result when a fresh reply was sent, nullopt
  // when the stale entry should be served.
  Task<std::optional<Result>> Verify(Request& req, ResponseWriter& w, uint64_t key,
                                     Counters* counters);
  // The reply to `query` from `entry`, every TTL set to `ttl`.
  wire::Message Reply(const Entry& entry, const wire::Message& query, int64_t ttl, bool dnssec_ok,
                      bool ad) const;
  Counters& CountersFor(const std::string& server);
  // Tells the fast path how to replay the hit being served from `item`.
  void DescribeReplay(Request& req, const Item& item, bool denial, const Counters& counters) const;

  const Config config_;
  const Clock clock_;
  const std::string zones_label_;  // the `zones` metric label
  Store success_;
  Store denial_;
  std::shared_ptr<Background> background_;
  std::mutex counters_mu_;                                               // guards counters_
  std::unordered_map<std::string, std::unique_ptr<Counters>> counters_;  // by server label
};

}  // namespace warpdns::slowpath::cache

#endif  // WARPDNS_SLOWPATH_PLUGINS_CACHE_CACHE_H_
