// How the fast path replays a memoized reply that is not a fixed string of
// octets: a cache hit's TTLs age with the clock, and loadbalance round_robin
// shuffles the A/AAAA and MX records of each section. The slow path
// describes the reply once (BuildReplay, off the fast path); a worker then
// produces each answer with a copy and a few stores (ReplayInto).
#ifndef WARPDNS_FASTPATH_TABLE_REPLAY_H_
#define WARPDNS_FASTPATH_TABLE_REPLAY_H_

#include <time.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace warpdns::fastpath {

// CLOCK_MONOTONIC in nanoseconds: the clock cache entries are stamped with
// and the fast path ages them by. Any thread; a vDSO call, never a system
// call.
inline int64_t MonotonicNs() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// What an answer table entry counts, logs and depends on, beside its
// octets (AnswerTable::Entry).
struct EntryTags {
  // Per-worker counter bumped on each fast-path answer (0: none); see
  // counter_bank.h.
  uint16_t counter = 0;
  // The StatsBank slot of the DNS metrics each fast-path answer counts in
  // (0: none, no prometheus in the chain); see stats_bank.h.
  uint16_t stats = 0;
  // The LogBank sink writing a line per fast-path answer (0: not logged);
  // see log_bank.h.
  uint16_t log = 0;
  // The reply's size as CoreDNS reports it (wire::UncompressedLength), for
  // the log line's {rsize} and the response size histogram.
  uint16_t rsize = 0;
  // The data source the reply was made from and its generation then (see
  // generation.h); 0: none, or only data whose change bumps the data
  // generation.
  uint16_t source = 0;
  uint32_t source_gen = 0;
};

// What the slow path knows about a reply it hands to the publisher.
struct ReplaySpec {
  // Cache aging: every record TTL of the reply is `ttl` at `stored_ns`
  // (CLOCK_MONOTONIC) and is sent as ttl minus the whole seconds elapsed,
  // or as `ttl` with keepttl. The fast path answers only before
  // `fresh_until_ns` (expiry, or where prefetch takes over).
  bool aging = false;
  bool keepttl = false;
  int64_t stored_ns = 0;
  int64_t fresh_until_ns = 0;
  uint32_t ttl = 0;
  // loadbalance round_robin: the A/AAAA run and the MX run of each section
  // are shuffled as CoreDNS shuffles them, from a per-worker random source.
  bool shuffle = false;
  // What each fast-path answer counts and logs, and the data it depends on.
  EntryTags tags = {};
  // The reply's octets vary per answer (BuildReplay describes how).
  bool Varies() const { return aging || shuffle; }
};

// The fixed part of the description that BuildReplay writes; TTL offsets
// and runs follow it.
struct ReplayHeader {
  int64_t stored_ns;
  int64_t fresh_until_ns;  // INT64_MAX: no expiry
  uint32_t ttl;
  uint16_t ttl_count;
  uint8_t keepttl;
  uint8_t run_count;
};

// Limits of what a replay description covers; larger replies stay on the
// slow path.
inline constexpr size_t kMaxReplayTtls = 64;
inline constexpr size_t kMaxRunRecords = 32;  // at most 255 (record indices are octets)
inline constexpr size_t kMaxRuns = 6;

// Describes `reply` (a whole message, ID included) for `spec`: appends the
// header, the offsets of every record TTL (OPT excluded) when aging, and
// the record boundaries of each run to shuffle when shuffling. Returns false
// when the reply cannot be replayed so (malformed, too many records, or a
// compression pointer into a run, which a shuffle would break). Slow path.
bool BuildReplay(const uint8_t* reply, size_t len, const ReplaySpec& spec,
                 std::vector<uint8_t>* out);

// Writes the answer from `reply` (`len` octets without its ID) and its
// description `meta` to `out` (after the 2-octet ID the caller writes), its
// runs shuffled with `*random` (the caller's own xorshift state, advanced)
// and aged to `now_ns`. Returns false if the entry is no longer fresh. Fast
// path: any thread; never blocks or allocates.
bool ReplayInto(const uint8_t* meta, const uint8_t* reply, size_t len, int64_t now_ns,
                uint64_t* random, uint8_t* out) noexcept;

}  // namespace warpdns::fastpath

#endif  // WARPDNS_FASTPATH_TABLE_REPLAY_H_
