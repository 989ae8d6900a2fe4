#include "slowpath/plugins/cache/cache.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <time.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cmath>
#include <ctime>

#include "fastpath/table/counter_bank.h"
#include "slowpath/chain/response.h"
#include "slowpath/metrics/metrics.h"

namespace warpdns::slowpath::cache {

namespace {

bool ClassMatches(uint16_t rr_class, uint16_t qclass) {
  return qclass == wire::qclass::kAny || rr_class == qclass;
}

// The target of `owner`'s CNAME in `answer` (*target unchanged if it has
// none). False when the owner has two different targets (RFC 2181 10.1).
bool UniqueCnameTarget(const std::vector<wire::Rr>& answer, const wire::Name& owner,
                       uint16_t qclass, wire::Name* target, bool* found) {
  *found = false;
  for (const wire::Rr& rr : answer) {
    if (rr.type != wire::type::kCname || !ClassMatches(rr.rclass, qclass) ||
        !rr.name.Equals(owner)) {
      continue;
    }
    wire::Name t;
    if (!wire::Name::FromWire(rr.rdata.data(), rr.rdata.size(), &t)) return false;
    if (*found && !t.Equals(*target)) return false;
    *target = t;
    *found = true;
  }
  return true;
}

// Follows the CNAME chain from `*name`; false on a loop or an ambiguous link.
bool CanonicalName(const std::vector<wire::Rr>& answer, wire::Name* name, uint16_t qclass) {
  std::vector<wire::Name> visited;
  for (;;) {
    for (const wire::Name& v : visited) {
      if (v.Equals(*name)) return false;
    }
    visited.push_back(*name);
    wire::Name target;
    bool found = false;
    if (!UniqueCnameTarget(answer, *name, qclass, &target, &found)) return false;
    if (!found) return true;
    *name = target;
  }
}

// CoreDNS's answersQuestion: NOERROR with a record of the asked type at the
// end of the CNAME chain starting at the question name.
bool AnswersQuestion(const wire::Message& m) {
  if (m.Rcode() != wire::rcode::kNoError || m.question.empty() || m.answer.empty()) return false;
  const wire::Question& q = m.question[0];
  if (q.type == wire::type::kAny) {
    for (const wire::Rr& rr : m.answer) {
      if (ClassMatches(rr.rclass, q.qclass) && rr.name.Equals(q.name)) return true;
    }
    return false;
  }
  if (q.type == wire::type::kCname) {
    wire::Name target;
    bool found = false;
    return UniqueCnameTarget(m.answer, q.name, q.qclass, &target, &found) && found;
  }
  wire::Name terminal = q.name;
  if (!CanonicalName(m.answer, &terminal, q.qclass)) return false;
  for (const wire::Rr& rr : m.answer) {
    if (rr.type == q.type && ClassMatches(rr.rclass, q.qclass) && rr.name.Equals(terminal)) {
      return true;
    }
  }
  return false;
}

// A non-empty answer that does not answer the question (a CNAME chain that
// ends elsewhere).
bool IsNoData(const wire::Message& m) { return !m.answer.empty() && !AnswersQuestion(m); }

// Typify, with a dangling CNAME chain plus SOA counted as NODATA.
ResponseType CacheResponseType(const wire::Message& m) {
  const ResponseType t = Typify(m);
  if (t == ResponseType::kNoError && HasSoa(m) && IsNoData(m)) return ResponseType::kNoData;
  return t;
}

// The replies CoreDNS never stores.
bool Cacheable(const wire::Message& m, ResponseType t) {
  if (m.header.tc() || m.question.empty()) return false;
  if (t == ResponseType::kOtherError || t == ResponseType::kMeta || t == ResponseType::kUpdate) {
    return false;
  }
  // A denial needs an SOA to bound how long it holds.
  if (t == ResponseType::kNameError && !HasSoa(m)) return false;
  // An SOA-less NOERROR that does not answer (an unfinished CNAME chain)
  // would replay a non-answer (RFC 2308 section 5).
  if (t == ResponseType::kNoError && !HasSoa(m) && IsNoData(m)) return false;
  return true;
}

uint32_t SoaMinimum(const wire::Rr& soa) {
  const auto& d = soa.rdata;
  const size_t n = d.size();
  return n < 20 ? UINT32_MAX
                : uint32_t{d[n - 4]} << 24 | uint32_t{d[n - 3]} << 16 | uint32_t{d[n - 2]} << 8 |
                      uint32_t{d[n - 1]};
}

// dnsutil.MinimalTTLWithMaximum: the smallest record TTL, at most `max`;
// 5s for other types and for messages without records. A denial is also
// bounded by its SOA's MINIMUM (RFC 2308 section 5).
int64_t MinimalTtl(const wire::Message& m, ResponseType t, int64_t max) {
  constexpr int64_t kFailSafe = 5 * kSecond;
  if (t != ResponseType::kNoError && t != ResponseType::kNameError && t != ResponseType::kNoData) {
    return kFailSafe;
  }
  if (m.answer.empty() && m.authority.empty() && m.additional.empty()) return kFailSafe;
  int64_t min = max;
  for (const auto* section : {&m.answer, &m.authority, &m.additional}) {
    for (const wire::Rr& rr : *section) min = std::min(min, int64_t{rr.ttl} * kSecond);
  }
  if (t != ResponseType::kNoError) {
    for (const wire::Rr& rr : m.authority) {
      if (rr.type == wire::type::kSoa) min = std::min(min, int64_t{SoaMinimum(rr)} * kSecond);
    }
  }
  return min;
}

bool IsSubdomain(std::string_view name, std::string_view zone) {
  if (zone == ".") return true;
  if (name.size() < zone.size() || name.substr(name.size() - zone.size()) != zone) return false;
  return name.size() == zone.size() || name[name.size() - zone.size() - 1] == '.';
}

bool InZones(std::string_view name, const std::vector<std::string>& zones) {
  for (const std::string& z : zones) {
    if (IsSubdomain(name, z)) return true;
  }
  return false;
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += ',';
    out += p;
  }
  return out;
}

// CoreDNS's cache metric families, shared by every cache instance.
struct Families {
  prometheus::Family<prometheus::Gauge>& entries;
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Counter>& hits;
  prometheus::Family<prometheus::Counter>& misses;
  prometheus::Family<prometheus::Counter>& prefetch;
  prometheus::Family<prometheus::Counter>& drops;
  prometheus::Family<prometheus::Counter>& served_stale;
  prometheus::Family<prometheus::Counter>& evictions;
};

Families& GetFamilies() {
  static Families* f = [] {
    prometheus::Registry& r = metrics::Registry();
    auto counter = [&](const char* name,
                       const char* help) -> prometheus::Family<prometheus::Counter>& {
      return prometheus::BuildCounter().Name(name).Help(help).Register(r);
    };
    return new Families{
        prometheus::BuildGauge()
            .Name("coredns_cache_entries")
            .Help("The number of elements in the cache.")
            .Register(r),
        counter("coredns_cache_requests_total", "The count of cache requests."),
        counter("coredns_cache_hits_total", "The count of cache hits."),
        counter("coredns_cache_misses_total",
                "The count of cache misses. Deprecated, derive misses from cache hits/requests "
                "counters."),
        counter("coredns_cache_prefetch_total",
                "The number of times the cache has prefetched a cached item."),
        counter("coredns_cache_drops_total",
                "The number responses that are not cached, because the reply is malformed."),
        counter("coredns_cache_served_stale_total",
                "The number of requests served from stale cache entries."),
        counter("coredns_cache_evictions_total", "The count of cache evictions."),
    };
  }();
  return *f;
}

constexpr std::string_view kSuccess = "success";
constexpr std::string_view kDenial = "denial";

// Hits the fast path answered from this cache's entries: each counts as a
// request and a hit. The workers bump their own CounterBank rows; before each
// scrape the new hits are added to the plugin's counters.
class FastHits {
 public:
  static FastHits& Get() {
    static FastHits* f = new FastHits;  // never destroyed: scrapes may race exit
    return *f;
  }

  uint16_t Track(const std::string& name, prometheus::Counter* requests,
                 prometheus::Counter* hits) {
    const uint16_t id = fastpath::CounterBank::Get().Id(name);
    if (id == 0) return 0;
    std::lock_guard lock(mu_);
    // The same labels give the same counters after a reload: keep what was
    // already folded.
    auto [it, added] = tracked_.try_emplace(id, Tracked{requests, hits, 0});
    if (added) it->second.folded = fastpath::CounterBank::Get().Sum(id);
    return id;
  }

 private:
  struct Tracked {
    prometheus::Counter* requests;
    prometheus::Counter* hits;
    uint64_t folded;
  };

  FastHits() {
    metrics::AddRefresher([this] { Fold(); });
  }

  void Fold() {
    std::lock_guard lock(mu_);
    for (auto& [id, t] : tracked_) {
      const uint64_t sum = fastpath::CounterBank::Get().Sum(id);
      if (sum == t.folded) continue;
      t.requests->Increment(static_cast<double>(sum - t.folded));
      t.hits->Increment(static_cast<double>(sum - t.folded));
      t.folded = sum;
    }
  }

  std::mutex mu_;  // guards tracked_
  std::map<uint16_t, Tracked> tracked_;
};

}  // namespace

uint64_t Key(std::string_view lower_qname, uint16_t qtype, uint16_t qclass, bool dnssec_ok,
             bool checking_disabled) {
  // FNV-1 (multiply, then xor), as Go's hash/fnv New64.
  uint64_t h = 14695981039346656037ULL;
  auto add = [&h](uint8_t b) {
    h *= 1099511628211ULL;
    h ^= b;
  };
  add(dnssec_ok ? '1' : '0');
  add(checking_disabled ? '1' : '0');
  add(static_cast<uint8_t>(qtype >> 8));
  add(static_cast<uint8_t>(qtype));
  add(static_cast<uint8_t>(qclass >> 8));
  add(static_cast<uint8_t>(qclass));
  for (char c : lower_qname) add(static_cast<uint8_t>(c));
  return h;
}

// The fast path ages replayed hits by the same clock.
int64_t MonotonicNow() { return fastpath::MonotonicNs(); }

// One server label's metrics.
struct Cache::Counters {
  prometheus::Gauge* entries_success;
  prometheus::Gauge* entries_denial;
  prometheus::Counter* requests;
  prometheus::Counter* hits_success;
  prometheus::Counter* hits_denial;
  prometheus::Counter* misses;
  prometheus::Counter* prefetch;
  prometheus::Counter* drops;
  prometheus::Counter* served_stale;
  prometheus::Counter* evictions_success;
  prometheus::Counter* evictions_denial;
  uint16_t fast_success = 0;  // CounterBank ids of fast-path hits
  uint16_t fast_denial = 0;
};

// Detached refreshes still running; the plugin waits for them when it is
// destroyed, since they run the plugins below it. Shared with the
// refreshes: a frame may outlive the plugin when its event loop is torn down.
struct Cache::Background {
  std::mutex mu;
  std::condition_variable done;
  int running = 0;
};

// Counts one detached refresh for as long as its coroutine frame lives.
class Cache::Running {
 public:
  explicit Running(std::shared_ptr<Background> background) : background_(std::move(background)) {
    std::lock_guard lock(background_->mu);
    ++background_->running;
  }
  Running(Running&& other) noexcept : background_(std::move(other.background_)) {}
  Running& operator=(Running&&) = delete;
  ~Running() {
    if (background_ == nullptr) return;
    std::lock_guard lock(background_->mu);
    if (--background_->running == 0) background_->done.notify_all();
  }

 private:
  std::shared_ptr<Background> background_;
};

// The writer plugins below write to on a miss or refresh: classifies the
// reply, stores it, caps its TTLs and passes it on (CoreDNS's
// ResponseWriter). Without an inner writer (prefetch) nothing is passed on.
// In verify mode only NOERROR and NXDOMAIN replies are taken; the rest is
// dropped so the stale entry can be served instead.
class Cache::Writer : public ResponseWriter {
 public:
  Writer(Cache* cache, const Request& req, Counters* counters, ResponseWriter* inner, bool verify)
      : cache_(cache),
        counters_(counters),
        inner_(inner),
        verify_(verify),
        qname_(req.QName()),
        lower_qname_(req.QNameText()),
        qtype_(req.QType()),
        dnssec_ok_(req.Do()),
        checking_disabled_(req.msg.header.cd()),
        authenticated_data_(req.msg.header.ad()) {}

  void WriteMsg(const wire::Message& reply) override {
    const int rcode = reply.Rcode();
    refreshed_ = rcode == wire::rcode::kNoError || rcode == wire::rcode::kNxDomain;
    if (verify_ && !refreshed_) return;
    written_ = true;

    wire::Message m = reply;
    const ResponseType t = CacheResponseType(m);
    const Config& c = cache_->config_;
    // computeTTL: the message TTL clamped to [min, max] of its cache.
    auto clamp = [](int64_t ttl, int64_t min, int64_t max) {
      return std::min(std::max(ttl, min), max);
    };
    int64_t duration;
    switch (t) {
      case ResponseType::kNameError:
      case ResponseType::kNoData:
        duration = clamp(MinimalTtl(m, t, c.denial_max_ttl), c.denial_min_ttl, c.denial_max_ttl);
        break;
      case ResponseType::kServerError:
        duration = c.servfail_ttl;
        break;
      default:
        duration = clamp(MinimalTtl(m, t, c.success_max_ttl), c.success_min_ttl, c.success_max_ttl);
    }
    // Every record leaves with the capped TTL, so the client does not see
    // 1799 now and 8 on the next (cached) answer.
    const uint32_t ttl = static_cast<uint32_t>(duration / kSecond);
    for (auto* section : {&m.answer, &m.authority, &m.additional}) {
      for (wire::Rr& rr : *section) rr.ttl = ttl;
    }
    if (Cacheable(m, t) && duration > 0) {
      if (Matches(m)) {
        Store(m, t, ttl);
      } else {
        counters_->drops->Increment();
      }
    }
    if (inner_ == nullptr) return;
    // RFC 6840 5.7-5.8: AD only for clients that asked for DNSSEC or AD.
    if (!dnssec_ok_ && !authenticated_data_) m.header.SetFlag(wire::flag::kAd, false);
    inner_->WriteMsg(m);
  }

  bool Written() const override { return inner_ != nullptr ? inner_->Written() : written_; }
  size_t Len() const override { return inner_ != nullptr ? inner_->Len() : 0; }

  // A NOERROR or NXDOMAIN reply came back (RFC 8767 section 4).
  bool refreshed() const { return refreshed_; }

 private:
  // request.Match: one question, a response, the name and type asked.
  bool Matches(const wire::Message& m) const {
    return m.question.size() == 1 && m.header.qr() && m.question[0].name.Equals(qname_) &&
           m.question[0].type == qtype_;
  }

  void Store(const wire::Message& m, ResponseType t, uint32_t ttl) {
    const wire::Question& q = m.question[0];
    const bool success = t == ResponseType::kNoError || t == ResponseType::kDelegation;
    const Config& c = cache_->config_;
    if (InZones(q.name.ToLowerText(), success ? c.success_disabled : c.denial_disabled)) return;
    Entry e;
    e.qname = q.name;
    e.qtype = q.type;
    e.qclass = q.qclass;
    e.rcode = m.Rcode();
    e.authenticated_data = m.header.ad();
    e.recursion_available = m.header.ra();
    e.answer = m.answer;
    e.authority = m.authority;
    e.additional = m.additional;
    e.stored_ns = cache_->clock_();
    e.ttl = ttl;
    const uint64_t key = Key(lower_qname_, q.type, q.qclass, dnssec_ok_, checking_disabled_);
    bool evicted = false;
    if (success) {
      cache_->success_.Add(key, std::move(e), &evicted);
      if (evicted) counters_->evictions_success->Increment();
      // A refreshed answer replaces a cached denial of the same question.
      if (inner_ == nullptr) cache_->denial_.Remove(key);
    } else {
      cache_->denial_.Add(key, std::move(e), &evicted);
      if (evicted) counters_->evictions_denial->Increment();
    }
    counters_->entries_success->Set(static_cast<double>(cache_->success_.Size()));
    counters_->entries_denial->Set(static_cast<double>(cache_->denial_.Size()));
  }

  Cache* const cache_;
  Counters* const counters_;
  ResponseWriter* const inner_;
  const bool verify_;
  const wire::Name qname_;
  const std::string lower_qname_;
  const uint16_t qtype_;
  const bool dnssec_ok_;
  const bool checking_disabled_;
  const bool authenticated_data_;
  bool written_ = false;
  bool refreshed_ = false;
};

Cache::Cache(Config config, Clock clock)
    : config_(std::move(config)),
      clock_(std::move(clock)),
      zones_label_(Join(config_.zones)),
      success_(config_.success_capacity),
      denial_(config_.denial_capacity),
      background_(std::make_shared<Background>()) {}

Cache::~Cache() {
  // Refreshes run the plugins below, which die with this configuration; a
  // reload retires it only when no request is in flight, but a refresh is
  // not a request. They end within the upstream's timeout.
  std::unique_lock lock(background_->mu);
  background_->done.wait_for(lock, std::chrono::seconds(10),
                             [this] { return background_->running == 0; });
}

Cache::Counters& Cache::CountersFor(const std::string& server) {
  std::lock_guard lock(counters_mu_);
  auto& slot = counters_[server];
  if (!slot) {
    Families& f = GetFamilies();
    auto labels = [&](std::string_view type) {
      std::map<std::string, std::string> l = {
          {"server", server}, {"zones", zones_label_}, {"view", ""}};
      if (!type.empty()) l.emplace("type", std::string(type));
      return l;
    };
    slot = std::make_unique<Counters>(Counters{
        &f.entries.Add(labels(kSuccess)),
        &f.entries.Add(labels(kDenial)),
        &f.requests.Add(labels("")),
        &f.hits.Add(labels(kSuccess)),
        &f.hits.Add(labels(kDenial)),
        &f.misses.Add(labels("")),
        &f.prefetch.Add(labels("")),
        &f.drops.Add(labels("")),
        &f.served_stale.Add(labels("")),
        &f.evictions.Add(labels(kSuccess)),
        &f.evictions.Add(labels(kDenial)),
    });
    const std::string name = "cache|" + server + "|" + zones_label_ + "|";
    slot->fast_success =
        FastHits::Get().Track(name + std::string(kSuccess), slot->requests, slot->hits_success);
    slot->fast_denial =
        FastHits::Get().Track(name + std::string(kDenial), slot->requests, slot->hits_denial);
  }
  return *slot;
}

ItemPtr Cache::Lookup(int64_t now, const Request& req, uint64_t key, Counters& counters,
                     bool* denial_hit) {
  *denial_hit = false;
  counters.requests->Increment();
  const int64_t stale_seconds = config_.stale / kSecond;
  auto usable = [&](const ItemPtr& item) {
    if (item == nullptr || !item->entry().Answers(req.QName(), req.QType(), req.QClass())) {
      return false;
    }
    const int64_t ttl = item->entry().Remaining(now);
    return ttl > 0 || (config_.stale > 0 && -ttl < stale_seconds);
  };
  if (ItemPtr denial = denial_.Get(key); usable(denial)) {
    // A SERVFAIL is transient: it does not hide a usable answer.
    if (denial->entry().rcode == wire::rcode::kServFail) {
      if (ItemPtr success = success_.Get(key); usable(success)) {
        counters.hits_success->Increment();
        return success;
      }
    }
    counters.hits_denial->Increment();
    *denial_hit = true;
    return denial;
  }
  if (ItemPtr success = success_.Get(key); usable(success)) {
    counters.hits_success->Increment();
    return success;
  }
  counters.misses->Increment();
  return nullptr;
}

Task<Result> Cache::Refresh(Request& req, ResponseWriter& w) {
  const bool ad = req.msg.header.ad();
  req.msg.header.SetFlag(wire::flag::kAd, true);
  Result r = co_await Next(req, w);
  req.msg.header.SetFlag(wire::flag::kAd, ad);
  co_return r;
}

bool Cache::ShouldPrefetch(Item& item, int64_t now) const {
  if (config_.prefetch <= 0) return false;
  const int hits = item.Hit(now, config_.prefetch_window);
  const auto threshold = static_cast<int64_t>(
      std::ceil(static_cast<double>(config_.prefetch_percentage) / 100 * item.entry().ttl));
  return hits >= config_.prefetch && item.entry().Remaining(now) <= threshold;
}

Task<void> Cache::TryPrefetch(const Request& req, ItemPtr item, uint64_t key, int64_t now,
                              Counters* counters) {
  if (!item->BeginRefresh(now)) co_return;
  Request copy = req;
  // Like CoreDNS's synthetic TCP client: nothing below truncates the reply.
  copy.proto = Proto::kTcp;
  asio::co_spawn(
      co_await asio::this_coro::executor,
      Prefetch(std::move(copy), std::move(item), key, now, counters, Running(background_)),
      asio::detached);
}

Task<void> Cache::Prefetch(Request req, ItemPtr item, uint64_t key, int64_t now, Counters* counters,
                           Running) {
  counters->prefetch->Increment();
  Writer w(this, req, counters, nullptr, false);
  try {
    co_await Refresh(req, w);
  } catch (const std::exception&) {
    // A failing plugin below: the entry stays as it is.
  }
  // The new entry inherits the popularity the old one had earned.
  if (ItemPtr fresh = denial_.Get(key); fresh != nullptr && fresh != item) {
    fresh->SetHits(now, item->hits());
  } else if (ItemPtr fresh = success_.Get(key); fresh != nullptr && fresh != item) {
    fresh->SetHits(now, item->hits());
  }
  item->EndRefresh(clock_(), config_.failure_recheck, w.refreshed());
}

Task<std::optional<Result>> Cache::Verify(Request& req, ResponseWriter& w, uint64_t key,
                                          Counters* counters) {
  if (config_.verify_timeout <= 0) {
    Writer cw(this, req, counters, &w, true);
    Result r = co_await Refresh(req, cw);
    if (cw.refreshed()) co_return r;
    co_return std::nullopt;
  }
  // Race the refresh against the timeout; a late refresh still updates the
  // cache, it just no longer answers this client.
  struct Race {
    explicit Race(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    bool done = false;
    bool refreshed = false;
  };
  const auto executor = co_await asio::this_coro::executor;
  auto race = std::make_shared<Race>(executor);
  race->timer.expires_after(std::chrono::nanoseconds(config_.verify_timeout));
  auto run = [](Cache* self, Request copy, std::shared_ptr<Race> race, Counters* counters,
                Running) -> Task<void> {
    Writer cw(self, copy, counters, nullptr, true);
    try {
      co_await self->Refresh(copy, cw);
    } catch (const std::exception&) {
      // Treated as a failed refresh: the stale entry is served.
    }
    race->done = true;
    race->refreshed = cw.refreshed();
    race->timer.cancel();
  };
  asio::co_spawn(executor, run(this, req, race, counters, Running(background_)), asio::detached);
  if (!race->done) {
    asio::error_code ec;
    co_await race->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!race->done || !race->refreshed) co_return std::nullopt;
  const int64_t now = clock_();
  ItemPtr fresh = denial_.Get(key);
  if (fresh == nullptr || !fresh->entry().Answers(req.QName(), req.QType(), req.QClass())) {
    fresh = success_.Get(key);
  }
  if (fresh == nullptr) co_return Result{};
  const Entry& e = fresh->entry();
  const int64_t ttl = config_.keepttl ? e.ttl : std::max<int64_t>(e.Remaining(now), 0);
  w.WriteMsg(Reply(e, req.msg, ttl, req.Do(), req.msg.header.ad()));
  co_return Result{};
}

void Cache::DescribeReplay(Request& req, const Item& item, bool denial,
                           const Counters& counters) const {
  const Entry& e = item.entry();
  // Fresh until expiry, or until the prefetch window opens: the slow path
  // then sees the hits that decide a prefetch.
  int64_t fresh = e.ttl;
  if (config_.prefetch > 0) {
    fresh -= static_cast<int64_t>(
        std::ceil(static_cast<double>(config_.prefetch_percentage) / 100 * e.ttl));
  }
  req.replay_from = this;
  req.replay.aging = true;
  req.replay.keepttl = config_.keepttl;
  req.replay.stored_ns = e.stored_ns;
  req.replay.ttl = e.ttl;
  req.replay.fresh_until_ns = e.stored_ns + fresh * kSecond;
  req.replay.tags.counter = denial ? counters.fast_denial : counters.fast_success;
}

wire::Message Cache::Reply(const Entry& entry, const wire::Message& query, int64_t ttl,
                           bool dnssec_ok, bool ad) const {
  wire::Message m = wire::MakeReply(query);
  // Always authoritative, as CoreDNS: old glibc stubs drop answers without
  // AA.
  m.header.SetFlag(wire::flag::kAa, true);
  m.header.SetFlag(wire::flag::kAd, entry.authenticated_data && (dnssec_ok || ad));
  m.header.SetFlag(wire::flag::kRa, entry.recursion_available);
  m.SetRcode(entry.rcode);
  m.answer = entry.answer;
  m.authority = entry.authority;
  m.additional = entry.additional;
  const auto t = static_cast<uint32_t>(ttl);
  for (auto* section : {&m.answer, &m.authority, &m.additional}) {
    for (wire::Rr& rr : *section) rr.ttl = t;
  }
  return m;
}

Task<Result> Cache::ServeDns(Request& req, ResponseWriter& w) {
  const std::string qname = req.QNameText();
  if (!InZones(qname, config_.zones)) co_return co_await Next(req, w);

  const int64_t now = clock_();
  Counters& counters = CountersFor(req.server);
  const bool dnssec_ok = req.Do();
  const bool ad = req.msg.header.ad();
  const uint64_t key = Key(qname, req.QType(), req.QClass(), dnssec_ok, req.msg.header.cd());

  bool denial_hit;
  ItemPtr item = Lookup(now, req, key, counters, &denial_hit);
  if (item == nullptr) {
    Writer cw(this, req, &counters, &w, false);
    co_return co_await Refresh(req, cw);
  }
  const Entry& entry = item->entry();
  const int64_t remaining = entry.Remaining(now);
  int64_t ttl = remaining;
  if (remaining < 0) {
    if (config_.verify_stale) {
      if (std::optional<Result> r = co_await Verify(req, w, key, &counters)) co_return *r;
    } else {
      co_await TryPrefetch(req, item, key, now, &counters);
    }
    ttl = config_.stale_response_ttl;
    counters.served_stale->Increment();
  } else if (ShouldPrefetch(*item, now)) {
    co_await TryPrefetch(req, item, key, now, &counters);
  } else {
    DescribeReplay(req, *item, denial_hit, counters);
  }
  if (config_.keepttl) ttl = entry.ttl;
  w.WriteMsg(Reply(entry, req.msg, ttl, dnssec_ok, ad));
  co_return Result{};
}

}  // namespace warpdns::slowpath::cache
