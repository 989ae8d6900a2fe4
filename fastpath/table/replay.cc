#include "fastpath/table/replay.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

namespace warpdns::fastpath {
namespace {

constexpr uint16_t kTypeA = 1, kTypeNs = 2, kTypeCname = 5, kTypeSoa = 6, kTypePtr = 12,
                   kTypeMx = 15, kTypeAaaa = 28, kTypeSrv = 33, kTypeDname = 39, kTypeOpt = 41;
constexpr int64_t kSecond = 1'000'000'000;

uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

void Put16(std::vector<uint8_t>* out, uint16_t v) {
  const size_t at = out->size();
  out->resize(at + 2);
  std::memcpy(out->data() + at, &v, 2);
}

// Walks the names of one message, remembering every compression target.
class Walker {
 public:
  Walker(const uint8_t* msg, size_t len) : msg_(msg), len_(len) {}

  // Skips the name at *pos (up to `end`).
  bool SkipName(size_t* pos, size_t end) {
    while (*pos < end) {
      const uint8_t c = msg_[*pos];
      if ((c & 0xC0) == 0xC0) {
        if (*pos + 1 >= end) return false;
        targets_.push_back(static_cast<uint16_t>((c & 0x3F) << 8 | msg_[*pos + 1]));
        *pos += 2;
        return true;
      }
      if ((c & 0xC0) != 0) return false;
      *pos += c + 1u;
      if (c == 0) return true;
    }
    return false;
  }

  const std::vector<uint16_t>& targets() const { return targets_; }
  size_t len() const { return len_; }

 private:
  const uint8_t* msg_;
  size_t len_;
  std::vector<uint16_t> targets_;
};

struct Record {
  uint16_t start, end, type;
};

// The names inside the RDATA of the types a packer may compress.
bool SkipRdataNames(Walker& w, uint16_t type, size_t rdata, size_t end) {
  size_t pos = rdata;
  switch (type) {
    case kTypeNs:
    case kTypeCname:
    case kTypePtr:
    case kTypeDname:
      return w.SkipName(&pos, end);
    case kTypeMx:
      pos += 2;
      return w.SkipName(&pos, end);
    case kTypeSrv:
      pos += 6;
      return w.SkipName(&pos, end);
    case kTypeSoa:
      return w.SkipName(&pos, end) && w.SkipName(&pos, end);
    default:
      return true;
  }
}

// Appends the run of `records` of the wanted types if there are two or
// more; false if they are not contiguous or too many.
bool AddRun(const std::vector<Record>& records, bool (*wanted)(uint16_t),
            std::vector<std::vector<uint16_t>>* runs) {
  std::vector<uint16_t> bounds;
  size_t last = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!wanted(records[i].type)) continue;
    if (!bounds.empty() && last + 1 != i) return false;
    bounds.push_back(records[i].start);
    last = i;
  }
  if (bounds.size() < 2) return true;
  if (bounds.size() > kMaxRunRecords) return false;
  bounds.push_back(records[last].end);
  runs->push_back(std::move(bounds));
  return true;
}

bool IsAddress(uint16_t t) { return t == kTypeA || t == kTypeAaaa; }
bool IsMx(uint16_t t) { return t == kTypeMx; }

}  // namespace

bool BuildReplay(const uint8_t* msg, size_t len, const ReplaySpec& spec,
                 std::vector<uint8_t>* out) {
  if (len < 12 || len > UINT16_MAX) return false;
  // loadbalance reorders NOERROR replies only.
  const bool shuffle = spec.shuffle && (msg[3] & 0x0F) == 0;
  Walker w(msg, len);
  size_t pos = 12;
  for (uint16_t i = 0, n = Get16(msg + 4); i < n; ++i) {
    if (!w.SkipName(&pos, len) || pos + 4 > len) return false;
    pos += 4;
  }
  std::vector<uint16_t> ttls;
  std::vector<std::vector<uint16_t>> runs;
  for (int section = 0; section < 3; ++section) {
    std::vector<Record> records;
    for (uint16_t i = 0, n = Get16(msg + 6 + 2 * section); i < n; ++i) {
      const size_t start = pos;
      if (!w.SkipName(&pos, len) || pos + 10 > len) return false;
      const uint16_t type = Get16(msg + pos);
      const size_t rdata = pos + 10;
      const size_t end = rdata + Get16(msg + pos + 8);
      if (end > len) return false;
      if (type != kTypeOpt) ttls.push_back(static_cast<uint16_t>(pos + 4));
      if (!SkipRdataNames(w, type, rdata, end)) return false;
      records.push_back({static_cast<uint16_t>(start), static_cast<uint16_t>(end), type});
      pos = end;
    }
    if (shuffle &&
        (!AddRun(records, IsAddress, &runs) || !AddRun(records, IsMx, &runs))) {
      return false;
    }
  }
  if (pos != len) return false;
  std::sort(runs.begin(), runs.end());
  // A name elsewhere compressed against a record that moves would point at
  // another record's octets after a shuffle.
  for (const std::vector<uint16_t>& run : runs) {
    for (uint16_t t : w.targets()) {
      if (t >= run.front() && t < run.back()) return false;
    }
  }
  if (!spec.aging) ttls.clear();
  if (ttls.size() > kMaxReplayTtls || runs.size() > kMaxRuns) return false;

  ReplayHeader h{};
  h.stored_ns = spec.stored_ns;
  h.fresh_until_ns = spec.aging ? spec.fresh_until_ns : INT64_MAX;
  h.ttl = spec.ttl;
  h.ttl_count = static_cast<uint16_t>(ttls.size());
  h.keepttl = spec.keepttl ? 1 : 0;
  h.run_count = static_cast<uint8_t>(runs.size());
  out->resize(sizeof(h));
  std::memcpy(out->data(), &h, sizeof(h));
  for (uint16_t t : ttls) Put16(out, t);
  for (const std::vector<uint16_t>& run : runs) {
    Put16(out, static_cast<uint16_t>(run.size() - 1));
    for (uint16_t b : run) Put16(out, b);
  }
  return true;
}

uint16_t NextRandom16(uint64_t* state) noexcept {
  // xorshift64*: the high bits are the good ones.
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return static_cast<uint16_t>((x * 0x2545F4914F6CDD1DULL) >> 48);
}

bool ReplayInto(const uint8_t* meta, const uint8_t* reply, size_t len, int64_t now_ns,
                uint64_t* random, uint8_t* out) noexcept {
  ReplayHeader h;
  std::memcpy(&h, meta, sizeof(h));
  if (now_ns >= h.fresh_until_ns) return false;
  const uint8_t* ttls = meta + sizeof(h);
  const uint8_t* p = ttls + 2 * size_t{h.ttl_count};
  // Offsets are of the whole message; `reply` starts after the ID.
  const uint8_t* msg = reply - 2;
  // Each run's records, where they were and where they went.
  struct Run {
    uint16_t n;
    uint16_t from[kMaxRunRecords + 1];  // record boundaries in `msg`
    uint16_t to[kMaxRunRecords];        // each record's start in `out`
  } runs[kMaxRuns];
  size_t cursor = 2;
  for (uint8_t r = 0; r < h.run_count; ++r) {
    Run& run = runs[r];
    std::memcpy(&run.n, p, 2);
    std::memcpy(run.from, p + 2, 2 * (size_t{run.n} + 1));
    p += 2 * (size_t{run.n} + 2);
    // CoreDNS's roundRobinShuffle, with 16 random bits for each dns.Id().
    uint8_t order[kMaxRunRecords];
    for (uint8_t i = 0; i < run.n; ++i) order[i] = i;
    if (run.n == 2) {
      if (NextRandom16(random) % 2 == 0) std::swap(order[0], order[1]);
    } else {
      for (uint16_t j = 0; j < run.n; ++j) {
        const uint16_t k = static_cast<uint16_t>(j + NextRandom16(random) % (run.n - j));
        std::swap(order[j], order[k]);
      }
    }
    std::memcpy(out + cursor, msg + cursor, run.from[0] - cursor);
    uint16_t at = run.from[0];
    for (uint16_t i = 0; i < run.n; ++i) {
      const uint8_t rec = order[i];
      const uint16_t size = static_cast<uint16_t>(run.from[rec + 1] - run.from[rec]);
      std::memcpy(out + at, msg + run.from[rec], size);
      run.to[rec] = at;
      at = static_cast<uint16_t>(at + size);
    }
    cursor = run.from[run.n];
  }
  std::memcpy(out + cursor, msg + cursor, len + 2 - cursor);
  if (h.ttl_count == 0) return true;
  const int64_t elapsed = (now_ns - h.stored_ns) / kSecond;
  const uint32_t ttl = h.keepttl ? h.ttl : static_cast<uint32_t>(int64_t{h.ttl} - elapsed);
  const uint8_t be[4] = {static_cast<uint8_t>(ttl >> 24), static_cast<uint8_t>(ttl >> 16),
                         static_cast<uint8_t>(ttl >> 8), static_cast<uint8_t>(ttl)};
  for (uint16_t i = 0; i < h.ttl_count; ++i) {
    uint16_t at;
    std::memcpy(&at, ttls + 2 * size_t{i}, 2);
    // A TTL inside a run moved with its record.
    for (uint8_t r = 0; r < h.run_count; ++r) {
      const Run& run = runs[r];
      if (at < run.from[0] || at >= run.from[run.n]) continue;
      uint16_t rec = 0;
      while (at >= run.from[rec + 1]) ++rec;
      at = static_cast<uint16_t>(run.to[rec] + (at - run.from[rec]));
      break;
    }
    std::memcpy(out + at, be, 4);
  }
  return true;
}

}  // namespace warpdns::fastpath
