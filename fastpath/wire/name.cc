// Domain names: wire reading with compression, presentation format,
// case-insensitive comparison and hashing.
#include "fastpath/wire/name.h"

#include <cstring>
#include <string>
#include <string_view>

namespace warpdns::fastpath::wire {
namespace {

constexpr uint64_t kLow7 = 0x7f7f7f7f7f7f7f7fULL;
constexpr uint64_t kHigh = 0x8080808080808080ULL;

// Lowercases the ASCII letters of eight octets at once (SWAR), leaving every
// other octet, including those >= 0x80, untouched. Names are short, so a
// branch-free word loop beats per-octet table lookups.
inline uint64_t Lower8(uint64_t x) noexcept {
  uint64_t heptets = x & kLow7;
  // Per octet b < 0x80: b + 0x3f sets the high bit iff b >= 'A';
  // b + 0x25 sets it iff b > 'Z'. No carries cross octets (max 0xbe).
  uint64_t ge_a = heptets + 0x3f3f3f3f3f3f3f3fULL;
  uint64_t gt_z = heptets + 0x2525252525252525ULL;
  uint64_t upper = (ge_a ^ gt_z) & ~x & kHigh;
  return x | (upper >> 2);
}

inline uint64_t Load8(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Loads the n (1..7) octets at p into the low end of a word, zero-filled.
// A byte loop rather than memcpy(n): a variable-length memcpy is a libc call.
inline uint64_t LoadShort(const uint8_t* p, size_t n) noexcept {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

inline int CompareLowered(const uint8_t* a, size_t a_len, const uint8_t* b,
                          size_t b_len) noexcept {
  size_t n = a_len < b_len ? a_len : b_len;
  for (size_t i = 0; i < n; ++i) {
    int d = static_cast<int>(ToLowerOctet(a[i])) - static_cast<int>(ToLowerOctet(b[i]));
    if (d != 0) return d;
  }
  return a_len < b_len ? -1 : (a_len > b_len ? 1 : 0);
}

// Offsets of the length octets of each label (root excluded). Returns the
// label count; at most 127 labels fit in 255 octets.
inline int LabelOffsets(const uint8_t* data, uint8_t* offsets) noexcept {
  int n = 0;
  size_t pos = 0;
  while (data[pos] != 0) {
    offsets[n++] = static_cast<uint8_t>(pos);
    pos += 1 + data[pos];
  }
  return n;
}

// Octets that dig prints with a backslash inside a label.
inline bool IsSpecial(uint8_t c) noexcept {
  switch (c) {
    case '.': case '"': case '(': case ')': case ';': case '\\': case '@': case '$':
      return true;
    default:
      return false;
  }
}

void AppendEscapedLabelOctet(uint8_t c, std::string* out) {
  if (IsSpecial(c)) {
    out->push_back('\\');
    out->push_back(static_cast<char>(c));
  } else if (c <= 0x20 || c >= 0x7f) {
    char buf[4] = {'\\', static_cast<char>('0' + c / 100),
                   static_cast<char>('0' + (c / 10) % 10), static_cast<char>('0' + c % 10)};
    out->append(buf, 4);
  } else {
    out->push_back(static_cast<char>(c));
  }
}

std::string NameText(const uint8_t* data, bool lower) {
  if (data[0] == 0) return ".";
  std::string out;
  out.reserve(64);
  size_t pos = 0;
  while (data[pos] != 0) {
    uint8_t n = data[pos];
    for (size_t i = 1; i <= n; ++i) {
      uint8_t c = data[pos + i];
      AppendEscapedLabelOctet(lower ? ToLowerOctet(c) : c, &out);
    }
    out.push_back('.');
    pos += 1 + n;
  }
  return out;
}

// Validates and walks a possibly compressed name. kCopy selects whether the
// labels are copied to `dst` (which has room for kMaxNameLength octets). On
// success stores the uncompressed length (root octet included) in *name_len
// and advances *offset past the name's in-place octets. Per-packet path:
// any thread, never allocates or blocks.
template <bool kCopy>
inline ParseError WalkName(const uint8_t* msg, size_t msg_len, size_t* offset, uint8_t* dst,
                           size_t* name_len) noexcept {
  size_t pos = *offset;
  size_t in_place_end = 0;  // set at the first pointer
  // Every pointer must also land before the previous pointer's target:
  // anything else re-reads octets of this same name, i.e. a loop. This also
  // bounds the number of hops without a counter.
  size_t prev_target = SIZE_MAX;
  size_t n = 0;  // octets of labels so far, root excluded
  for (;;) {
    // Scan a run of ordinary labels, then copy it with a single memcpy:
    // names are mostly one run, and per-label copies cost a call each.
    const size_t run_start = pos;
    uint8_t c;
    for (;;) {
      if (pos >= msg_len) return ParseError::kTruncated;
      c = msg[pos];
      if (c == 0 || c > kMaxLabelLength) break;
      pos += 1u + c;
      if (n + (pos - run_start) + 1 > kMaxNameLength) {
        // Too long even if the message is cut short here: the length is
        // what is wrong.
        return ParseError::kNameTooLong;
      }
    }
    if constexpr (kCopy) std::memcpy(dst + n, msg + run_start, pos - run_start);
    n += pos - run_start;
    if (c == 0) {
      if constexpr (kCopy) dst[n] = 0;
      *name_len = n + 1;
      *offset = prev_target == SIZE_MAX ? pos + 1 : in_place_end;
      return ParseError::kOk;
    }
    if ((c & 0xc0) != 0xc0) return ParseError::kBadLabelType;  // 0x40 and 0x80 types
    if (pos + 1 >= msg_len) return ParseError::kTruncated;
    size_t target = (static_cast<size_t>(c & 0x3f) << 8) | msg[pos + 1];
    if (target >= msg_len) return ParseError::kPointerOutOfRange;
    if (target >= pos) return ParseError::kPointerForward;
    if (target >= prev_target) return ParseError::kPointerLoop;
    if (prev_target == SIZE_MAX) in_place_end = pos + 2;
    prev_target = target;
    pos = target;
  }
}

}  // namespace

size_t WireNameLength(const uint8_t* data, size_t len) noexcept {
  size_t pos = 0;
  for (;;) {
    if (pos >= len) return 0;
    uint8_t c = data[pos];
    if (c == 0) return pos + 1;
    if (c > kMaxLabelLength) return 0;
    pos += 1 + c;
    if (pos + 1 > kMaxNameLength) return 0;
  }
}

bool Name::FromWire(const uint8_t* data, size_t len, Name* out) noexcept {
  size_t n = WireNameLength(data, len);
  if (n == 0 || n != len) return false;
  std::memcpy(out->data_, data, n);
  out->len_ = static_cast<uint8_t>(n);
  return true;
}

bool Name::FromText(std::string_view text, Name* out) {
  if (text.empty()) return false;
  if (text == ".") {
    *out = Name();
    return true;
  }
  uint8_t buf[kMaxNameLength];
  size_t n = 0;          // octets written to buf
  size_t label_pos = 0;  // where the current label's length octet goes
  size_t label_len = 0;
  n = 1;
  auto end_label = [&]() -> bool {
    if (label_len == 0) return false;  // empty label ("a..b", ".a")
    buf[label_pos] = static_cast<uint8_t>(label_len);
    label_pos = n;
    label_len = 0;
    if (n >= kMaxNameLength) return false;  // no room for the root octet
    ++n;
    return true;
  };
  auto add = [&](uint8_t c) -> bool {
    if (label_len == kMaxLabelLength || n >= kMaxNameLength) return false;
    buf[n++] = c;
    ++label_len;
    return true;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char ch = text[i];
    if (ch == '.') {
      if (!end_label()) return false;
      continue;
    }
    if (ch != '\\') {
      if (!add(static_cast<uint8_t>(ch))) return false;
      continue;
    }
    if (++i >= text.size()) return false;  // dangling backslash
    auto is_digit = [](char d) { return d >= '0' && d <= '9'; };
    if (is_digit(text[i])) {
      if (i + 2 >= text.size() || !is_digit(text[i + 1]) || !is_digit(text[i + 2])) return false;
      int v = (text[i] - '0') * 100 + (text[i + 1] - '0') * 10 + (text[i + 2] - '0');
      if (v > 255) return false;
      if (!add(static_cast<uint8_t>(v))) return false;
      i += 2;
    } else {
      if (!add(static_cast<uint8_t>(text[i]))) return false;
    }
  }
  if (label_len > 0) {
    // Relative name: close the last label.
    if (!end_label()) return false;
  }
  // label_pos now indexes the slot reserved for the root octet.
  buf[label_pos] = 0;
  n = label_pos + 1;
  std::memcpy(out->data_, buf, n);
  out->len_ = static_cast<uint8_t>(n);
  return true;
}

int Name::LabelCount() const noexcept {
  int count = 0;
  size_t pos = 0;
  while (data_[pos] != 0) {
    ++count;
    pos += 1 + data_[pos];
  }
  return count;
}

std::string Name::ToText() const { return NameText(data_, false); }

std::string Name::ToLowerText() const { return NameText(data_, true); }

void Name::ToLower() noexcept {
  // Length octets are <= 63 and so never in 'A'..'Z': lowercasing the whole
  // buffer is safe.
  for (size_t i = 0; i < len_; ++i) data_[i] = ToLowerOctet(data_[i]);
}

Name Name::Lowercased() const noexcept {
  Name copy = *this;
  copy.ToLower();
  return copy;
}

Name Name::Parent() const noexcept {
  if (IsRoot()) return *this;
  Name p;
  size_t skip = 1 + data_[0];
  p.len_ = static_cast<uint8_t>(len_ - skip);
  std::memcpy(p.data_, data_ + skip, p.len_);
  return p;
}

Name Name::Suffix(int labels) const noexcept {
  if (labels <= 0) return Name();
  uint8_t offsets[128];
  int count = LabelOffsets(data_, offsets);
  if (labels >= count) return *this;
  size_t start = offsets[count - labels];
  Name s;
  s.len_ = static_cast<uint8_t>(len_ - start);
  std::memcpy(s.data_, data_ + start, s.len_);
  return s;
}

bool Name::PrependLabel(std::string_view label) noexcept {
  if (label.empty() || label.size() > kMaxLabelLength) return false;
  if (len_ + 1 + label.size() > kMaxNameLength) return false;
  std::memmove(data_ + 1 + label.size(), data_, len_);
  data_[0] = static_cast<uint8_t>(label.size());
  std::memcpy(data_ + 1, label.data(), label.size());
  len_ = static_cast<uint8_t>(len_ + 1 + label.size());
  return true;
}

std::string_view Name::FirstLabel() const noexcept {
  return std::string_view(reinterpret_cast<const char*>(data_ + 1), data_[0]);
}

bool Name::IsWildcard() const noexcept { return data_[0] == 1 && data_[1] == '*'; }

bool Name::Equals(const Name& other) const noexcept {
  if (len_ != other.len_) return false;
  const uint8_t* a = data_;
  const uint8_t* b = other.data_;
  const size_t n = len_;
  if (n < 8) {
    uint64_t x = LoadShort(a, n);
    uint64_t y = LoadShort(b, n);
    return x == y || Lower8(x) == Lower8(y);
  }
  // Whole words, then one last word overlapping the previous one so that
  // only initialised octets are read.
  size_t i = 0;
  for (; i + 8 < n; i += 8) {
    uint64_t x = Load8(a + i);
    uint64_t y = Load8(b + i);
    if (x != y && Lower8(x) != Lower8(y)) return false;
  }
  uint64_t x = Load8(a + n - 8);
  uint64_t y = Load8(b + n - 8);
  return x == y || Lower8(x) == Lower8(y);
}

bool Name::IsSubdomainOf(const Name& zone) const noexcept {
  if (zone.len_ > len_) return false;
  size_t start = len_ - zone.len_;
  // The suffix must begin on a label boundary ("xexample.org" is not below
  // "example.org").
  size_t pos = 0;
  while (pos < start) pos += 1 + data_[pos];
  if (pos != start) return false;
  for (size_t i = 0; i < zone.len_; ++i) {
    if (ToLowerOctet(data_[start + i]) != ToLowerOctet(zone.data_[i])) return false;
  }
  return true;
}

int Name::CanonicalCompare(const Name& other) const noexcept {
  uint8_t a_off[128];
  uint8_t b_off[128];
  int a_count = LabelOffsets(data_, a_off);
  int b_count = LabelOffsets(other.data_, b_off);
  int i = a_count - 1;
  int j = b_count - 1;
  for (; i >= 0 && j >= 0; --i, --j) {
    const uint8_t* la = data_ + a_off[i];
    const uint8_t* lb = other.data_ + b_off[j];
    int d = CompareLowered(la + 1, la[0], lb + 1, lb[0]);
    if (d != 0) return d < 0 ? -1 : 1;
  }
  // All common labels equal: the name with fewer labels sorts first.
  if (a_count == b_count) return 0;
  return a_count < b_count ? -1 : 1;
}

uint64_t HashName(const Name& name) noexcept {
  // Word-at-a-time multiply-xorshift over the lowercased octets; the length
  // is mixed into the seed, so the overlapping last word is unambiguous.
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  const uint8_t* p = name.data();
  const size_t n = name.size();
  uint64_t h = 0x84222325cbf29ce4ULL ^ (n * kMul);
  auto mix = [&h](uint64_t w) {
    h = (h ^ Lower8(w)) * kMul;
    h ^= h >> 29;
  };
  if (n < 8) {
    mix(LoadShort(p, n));
  } else {
    size_t i = 0;
    for (; i + 8 < n; i += 8) mix(Load8(p + i));
    mix(Load8(p + n - 8));
  }
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ULL;
  h ^= h >> 32;
  return h;
}

ParseError ReadName(const uint8_t* msg, size_t msg_len, size_t* offset, Name* out) noexcept {
  size_t name_len;
  ParseError err = WalkName<true>(msg, msg_len, offset, out->data_, &name_len);
  if (err != ParseError::kOk) {
    // Never leave a half-written name behind.
    out->data_[0] = 0;
    out->len_ = 1;
    return err;
  }
  out->len_ = static_cast<uint8_t>(name_len);
  return ParseError::kOk;
}

ParseError SkipName(const uint8_t* msg, size_t msg_len, size_t* offset) noexcept {
  size_t name_len;
  return WalkName<false>(msg, msg_len, offset, nullptr, &name_len);
}

ParseError SkipName(const uint8_t* msg, size_t msg_len, size_t* offset,
                    size_t* name_len) noexcept {
  return WalkName<false>(msg, msg_len, offset, nullptr, name_len);
}

}  // namespace warpdns::fastpath::wire
