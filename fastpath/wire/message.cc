// DNS messages: the in-place query parser (per-packet path), the owned
// message parser and the compressing, truncating writer (slow path), and the
// dig-style text form of records.
#include "fastpath/wire/message.h"

#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace warpdns::fastpath::wire {
namespace {

inline uint16_t Get16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

inline uint32_t Get32(const uint8_t* p) noexcept {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
         (static_cast<uint32_t>(p[2]) << 8) | p[3];
}

inline void Put16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

inline void Put32(uint8_t* p, uint32_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

inline uint64_t Load8(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Loads n (0..7) octets, zero-filled; a loop because memcpy(n) is a call.
inline uint64_t LoadShort(const uint8_t* p, size_t n) noexcept {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// ASCII-lowercases eight octets at once (see name.cc).
inline uint64_t Lower8(uint64_t x) noexcept {
  uint64_t heptets = x & 0x7f7f7f7f7f7f7f7fULL;
  uint64_t ge_a = heptets + 0x3f3f3f3f3f3f3f3fULL;
  uint64_t gt_z = heptets + 0x2525252525252525ULL;
  uint64_t upper = (ge_a ^ gt_z) & ~x & 0x8080808080808080ULL;
  return x | (upper >> 2);
}

inline uint64_t Mix(uint64_t h, uint64_t w) noexcept {
  h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 29);
}

// Option TLVs (code, length, data) must exactly fill the OPT RDATA.
inline bool ValidOptions(const uint8_t* p, size_t len) noexcept {
  size_t pos = 0;
  while (pos < len) {
    if (len - pos < 4) return false;
    size_t opt_len = Get16(p + pos + 2);
    if (len - pos - 4 < opt_len) return false;
    pos += 4 + opt_len;
  }
  return true;
}

// ---------------------------------------------------------------------------
// RDATA layouts, shared by the parser (decompress, validate), the writer
// (compress) and the text form.

enum class Field : uint8_t {
  kEnd,         // RDATA must end here
  kName,        // a domain name (compressed on the wire in some types)
  kFixed2,      // fixed-size fields
  kFixed4,
  kFixed6,
  kFixed16,
  kFixed18,
  kFixed20,
  kCharString,  // <length octet><octets>
  kCharStrings, // one or more character-strings up to the end (TXT)
  kRest,        // anything up to the end (possibly nothing)
};

struct Layout {
  std::array<Field, 6> fields;
};

constexpr size_t FixedSize(Field f) noexcept {
  switch (f) {
    case Field::kFixed2: return 2;
    case Field::kFixed4: return 4;
    case Field::kFixed6: return 6;
    case Field::kFixed16: return 16;
    case Field::kFixed18: return 18;
    case Field::kFixed20: return 20;
    default: return 0;
  }
}

// Layout of the types whose RDATA we look into; nullptr means opaque.
const Layout* LayoutOf(uint16_t type) noexcept {
  using F = Field;
  static constexpr Layout kOneName{{F::kName, F::kEnd}};
  static constexpr Layout kTwoNames{{F::kName, F::kName, F::kEnd}};
  static constexpr Layout kSoa{{F::kName, F::kName, F::kFixed20, F::kEnd}};
  static constexpr Layout kPrefName{{F::kFixed2, F::kName, F::kEnd}};
  static constexpr Layout kPx{{F::kFixed2, F::kName, F::kName, F::kEnd}};
  static constexpr Layout kSrv{{F::kFixed6, F::kName, F::kEnd}};
  static constexpr Layout kNaptr{
      {F::kFixed4, F::kCharString, F::kCharString, F::kCharString, F::kName, F::kEnd}};
  static constexpr Layout kRrsig{{F::kFixed18, F::kName, F::kRest}};
  static constexpr Layout kNsec{{F::kName, F::kRest}};
  static constexpr Layout kA{{F::kFixed4, F::kEnd}};
  static constexpr Layout kAaaa{{F::kFixed16, F::kEnd}};
  static constexpr Layout kTxt{{F::kCharStrings}};
  static constexpr Layout kHinfo{{F::kCharString, F::kCharString, F::kEnd}};
  static constexpr Layout kKeyLike{{F::kFixed4, F::kRest}};  // DS, DNSKEY and kin
  switch (type) {
    case type::kNs: case 3 /*MD*/: case 4 /*MF*/: case type::kCname: case 7 /*MB*/:
    case 8 /*MG*/: case 9 /*MR*/: case type::kPtr: case type::kDname:
      return &kOneName;
    case type::kSoa: return &kSoa;
    case 14 /*MINFO*/: case 17 /*RP*/: return &kTwoNames;
    case type::kMx: case 18 /*AFSDB*/: case 21 /*RT*/: case 36 /*KX*/: return &kPrefName;
    case 26 /*PX*/: return &kPx;
    case type::kSrv: return &kSrv;
    case type::kNaptr: return &kNaptr;
    case type::kRrsig: return &kRrsig;
    case type::kNsec: return &kNsec;
    case type::kA: return &kA;
    case type::kAaaa: return &kAaaa;
    case type::kTxt: case 99 /*SPF*/: return &kTxt;
    case type::kHinfo: return &kHinfo;
    case type::kDs: case type::kDnskey: case 59 /*CDS*/: case 60 /*CDNSKEY*/:
      return &kKeyLike;
    default: return nullptr;
  }
}

// RFC 3597 section 4: only the RFC 1035 types may carry compressed names.
bool CompressesRdataNames(uint16_t type) noexcept {
  switch (type) {
    case type::kNs: case type::kCname: case type::kSoa: case type::kPtr: case type::kMx:
    case 14 /*MINFO*/: case 7 /*MB*/: case 8 /*MG*/: case 9 /*MR*/:
      return true;
    default:
      return false;
  }
}

// Walks stored (uncompressed) RDATA against its layout. Calls
// `on_name(offset, len)` for names and `on_bytes(offset, len)` for the rest,
// in order. Returns false if the RDATA does not match the layout.
template <typename OnName, typename OnBytes>
bool WalkStoredRdata(const Layout& layout, const uint8_t* rd, size_t len, OnName on_name,
                     OnBytes on_bytes) {
  size_t pos = 0;
  for (Field f : layout.fields) {
    switch (f) {
      case Field::kEnd:
        return pos == len;
      case Field::kName: {
        size_t n = WireNameLength(rd + pos, len - pos);
        if (n == 0) return false;
        on_name(pos, n);
        pos += n;
        break;
      }
      case Field::kCharString: {
        if (pos >= len || len - pos < 1u + rd[pos]) return false;
        on_bytes(pos, 1u + rd[pos]);
        pos += 1u + rd[pos];
        break;
      }
      case Field::kCharStrings: {
        if (pos >= len) return false;
        while (pos < len) {
          if (len - pos < 1u + rd[pos]) return false;
          on_bytes(pos, 1u + rd[pos]);
          pos += 1u + rd[pos];
        }
        return true;
      }
      case Field::kRest:
        on_bytes(pos, len - pos);
        return true;
      default: {
        size_t n = FixedSize(f);
        if (len - pos < n) return false;
        on_bytes(pos, n);
        pos += n;
        break;
      }
    }
  }
  return pos == len;
}

// Decodes RDATA at [start, end) of `pkt` into `out`, decompressing names.
ParseError DecodeRdata(uint16_t type, const uint8_t* pkt, size_t start, size_t end,
                       std::vector<uint8_t>* out) {
  out->clear();
  const Layout* layout = LayoutOf(type);
  // Empty RDATA is legal for any type in UPDATE (RFC 2136 section 2.5.2).
  if (layout == nullptr || start == end) {
    out->assign(pkt + start, pkt + end);
    return ParseError::kOk;
  }
  out->reserve(end - start + 32);
  size_t pos = start;
  for (Field f : layout->fields) {
    switch (f) {
      case Field::kEnd:
        return pos == end ? ParseError::kOk : ParseError::kBadRdata;
      case Field::kName: {
        Name name;
        size_t name_pos = pos;
        // Pointers only go backwards, so a name inside the RDATA never needs
        // octets past its end: limiting the view to `end` makes a name that
        // spills over a layout error rather than a truncated message.
        ParseError err = ReadName(pkt, end, &name_pos, &name);
        if (err == ParseError::kTruncated) return ParseError::kBadRdata;
        if (err != ParseError::kOk) return err;
        out->insert(out->end(), name.data(), name.data() + name.size());
        pos = name_pos;
        break;
      }
      case Field::kCharString: {
        if (pos >= end || end - pos < 1u + pkt[pos]) return ParseError::kBadRdata;
        size_t n = 1u + pkt[pos];
        out->insert(out->end(), pkt + pos, pkt + pos + n);
        pos += n;
        break;
      }
      case Field::kCharStrings: {
        while (pos < end) {
          if (end - pos < 1u + pkt[pos]) return ParseError::kBadRdata;
          pos += 1u + pkt[pos];
        }
        out->assign(pkt + start, pkt + end);
        return ParseError::kOk;
      }
      case Field::kRest:
        out->insert(out->end(), pkt + pos, pkt + end);
        return ParseError::kOk;
      default: {
        size_t n = FixedSize(f);
        if (end - pos < n) return ParseError::kBadRdata;
        out->insert(out->end(), pkt + pos, pkt + pos + n);
        pos += n;
        break;
      }
    }
  }
  return pos == end ? ParseError::kOk : ParseError::kBadRdata;
}

// ---------------------------------------------------------------------------
// Writer.

// Compression table: suffix hash -> offset of that suffix in the output.
// Fixed size so that writing allocates nothing but the output; when full,
// new suffixes are simply not remembered (output stays correct, just larger).
class CompressionTable {
 public:
  CompressionTable() noexcept { std::memset(slots_, 0xff, sizeof(slots_)); }

  // Offset in `buf` of a name equal to the uncompressed `suffix`, or -1.
  int Find(uint32_t hash, const std::vector<uint8_t>& buf, const uint8_t* suffix) const {
    const uint16_t tag = static_cast<uint16_t>(hash >> 16);
    for (size_t i = hash & kMask;; i = (i + 1) & kMask) {
      const Slot& s = slots_[i];
      if (s.offset == kEmpty) return -1;
      if (s.tag == tag && MatchesAt(buf, s.offset, suffix)) return s.offset;
    }
  }

  void Insert(uint32_t hash, size_t offset) {
    if (offset > kMaxPointer || count_ >= kMaxEntries) return;
    size_t i = hash & kMask;
    while (slots_[i].offset != kEmpty) i = (i + 1) & kMask;
    slots_[i] = Slot{static_cast<uint16_t>(hash >> 16), static_cast<uint16_t>(offset)};
    ++count_;
  }

 private:
  static constexpr size_t kSlots = 512;  // power of two
  static constexpr size_t kMask = kSlots - 1;
  static constexpr size_t kMaxEntries = kSlots * 3 / 4;
  static constexpr uint16_t kEmpty = 0xffff;  // never a valid target (> 0x3fff)
  static constexpr size_t kMaxPointer = 0x3fff;

  // 4 octets per slot keeps the table at 2 KiB, cheap to clear per message;
  // the 16-bit tag only filters, MatchesAt decides.
  struct Slot {
    uint16_t tag;
    uint16_t offset;
  };

  // Compares the (possibly compressed) name we wrote at `off` with the
  // uncompressed `s`, octet for octet: like miekg/dns, a pointer is only used
  // for the same spelling, so every name keeps its own case on the wire (a
  // query's 0x20 case in the question never leaks into answer owners). The
  // output is our own, so its pointers are trusted.
  static bool MatchesAt(const std::vector<uint8_t>& buf, size_t off, const uint8_t* s) {
    for (;;) {
      uint8_t c = buf[off];
      while ((c & 0xc0) == 0xc0) {
        off = (static_cast<size_t>(c & 0x3f) << 8) | buf[off + 1];
        c = buf[off];
      }
      if (c != *s) return false;
      if (c == 0) return true;
      for (size_t i = 1; i <= c; ++i) {
        if (buf[off + i] != s[i]) return false;
      }
      off += 1u + c;
      s += 1u + c;
    }
  }

  Slot slots_[kSlots];
  size_t count_ = 0;
};

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>* out) : out_(out) {}

  size_t size() const { return out_->size(); }
  void Resize(size_t n) { out_->resize(n); }

  void Append16(uint16_t v) {
    uint8_t b[2];
    Put16(b, v);
    out_->insert(out_->end(), b, b + 2);
  }
  void Append32(uint32_t v) {
    uint8_t b[4];
    Put32(b, v);
    out_->insert(out_->end(), b, b + 4);
  }
  void AppendBytes(const uint8_t* p, size_t n) { out_->insert(out_->end(), p, p + n); }
  void Patch16(size_t at, uint16_t v) { Put16(out_->data() + at, v); }

  // Writes the uncompressed wire name `name` (length `len`) compressed
  // against earlier names, and remembers its suffixes as future targets.
  // Names that must not be compressed are copied with AppendBytes instead.
  void WriteName(const uint8_t* name, size_t len) {
    uint8_t offsets[128];
    uint32_t hashes[128];
    int count = 0;
    for (size_t pos = 0; name[pos] != 0; pos += 1u + name[pos]) {
      offsets[count++] = static_cast<uint8_t>(pos);
    }
    // Hash of each suffix, built right to left so the whole name is hashed
    // once, a word at a time (a byte-serial hash dominated the writer).
    uint64_t h = 0x84222325cbf29ce4ULL;
    for (int i = count - 1; i >= 0; --i) {
      const uint8_t* label = name + offsets[i];
      const size_t label_len = 1u + label[0];  // with its length octet
      size_t k = 0;
      for (; k + 8 <= label_len; k += 8) h = Mix(h, Lower8(Load8(label + k)));
      if (k < label_len) h = Mix(h, Lower8(LoadShort(label + k, label_len - k)));
      hashes[i] = static_cast<uint32_t>(h ^ (h >> 32));
    }
    int match_label = count;  // first label whose suffix is already written
    int target = -1;
    for (int i = 0; i < count; ++i) {
      target = table_.Find(hashes[i], *out_, name + offsets[i]);
      if (target >= 0) {
        match_label = i;
        break;
      }
    }
    size_t start = out_->size();
    size_t prefix_len = match_label < count ? offsets[match_label] : len - 1;
    AppendBytes(name, prefix_len);
    if (target >= 0) {
      Append16(static_cast<uint16_t>(0xc000 | target));
    } else {
      out_->push_back(0);
    }
    for (int i = 0; i < match_label; ++i) table_.Insert(hashes[i], start + offsets[i]);
  }

  // Writes RDATA stored uncompressed; names of RFC 1035 types get
  // compressed, everything else (SRV, RRSIG, NSEC, DNAME, ...) is copied
  // exactly as stored.
  void WriteRdata(uint16_t type, const std::vector<uint8_t>& rdata) {
    const Layout* layout = CompressesRdataNames(type) ? LayoutOf(type) : nullptr;
    if (layout != nullptr && !rdata.empty()) {
      // Validate first so a malformed stored RDATA is copied untouched
      // rather than half-compressed.
      bool valid = WalkStoredRdata(*layout, rdata.data(), rdata.size(),
                                   [](size_t, size_t) {}, [](size_t, size_t) {});
      if (valid) {
        const uint8_t* rd = rdata.data();
        WalkStoredRdata(
            *layout, rd, rdata.size(),
            [&](size_t off, size_t n) { WriteName(rd + off, n); },
            [&](size_t off, size_t n) { AppendBytes(rd + off, n); });
        return;
      }
    }
    AppendBytes(rdata.data(), rdata.size());
  }

  // Writes one record. Returns false (output unchanged in size) if the
  // RDATA does not fit the 16-bit length.
  bool WriteRr(const Rr& rr) {
    size_t start = out_->size();
    WriteName(rr.name.data(), rr.name.size());
    Append16(rr.type);
    Append16(rr.rclass);
    Append32(rr.ttl);
    size_t rdlen_at = out_->size();
    Append16(0);
    WriteRdata(rr.type, rr.rdata);
    size_t rdlen = out_->size() - rdlen_at - 2;
    if (rdlen > 0xffff) {
      out_->resize(start);
      return false;
    }
    Patch16(rdlen_at, static_cast<uint16_t>(rdlen));
    return true;
  }

 private:
  std::vector<uint8_t>* out_;
  CompressionTable table_;
};

// ---------------------------------------------------------------------------
// Text.

void AppendUint(uint64_t v, std::string* out) { out->append(std::to_string(v)); }

void AppendHex(const uint8_t* p, size_t n, std::string* out) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; ++i) {
    out->push_back(kDigits[p[i] >> 4]);
    out->push_back(kDigits[p[i] & 0xf]);
  }
}

void AppendBase64(const uint8_t* p, size_t n, std::string* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out->push_back(kAlphabet[(v >> 18) & 63]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
    out->push_back(kAlphabet[v & 63]);
  }
  if (n - i == 1) {
    uint32_t v = p[i] << 16;
    out->push_back(kAlphabet[(v >> 18) & 63]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->append("==");
  } else if (n - i == 2) {
    uint32_t v = (p[i] << 16) | (p[i + 1] << 8);
    out->push_back(kAlphabet[(v >> 18) & 63]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
    out->push_back('=');
  }
}

// Appends the name at the start of `p` and returns its length, or 0.
size_t AppendName(const uint8_t* p, size_t n, std::string* out) {
  size_t len = WireNameLength(p, n);
  if (len == 0) return 0;
  Name name;
  Name::FromWire(p, len, &name);
  out->append(name.ToText());
  return len;
}

// A character-string in quotes, escaped as dig does.
void AppendCharString(const uint8_t* p, size_t n, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < n; ++i) {
    uint8_t c = p[i];
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[4] = {'\\', static_cast<char>('0' + c / 100),
                     static_cast<char>('0' + (c / 10) % 10), static_cast<char>('0' + c % 10)};
      out->append(buf, 4);
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

void AppendTime(uint32_t t, std::string* out) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  size_t n = strftime(buf, sizeof(buf), "%Y%m%d%H%M%S", &tm);
  out->append(buf, n);
}

// Type-specific presentation; false means "use the RFC 3597 form".
bool AppendRdataText(uint16_t type, const std::vector<uint8_t>& rdata, std::string* out) {
  const uint8_t* rd = rdata.data();
  size_t len = rdata.size();
  if (len == 0) return false;
  const Layout* layout = LayoutOf(type);
  if (layout != nullptr &&
      !WalkStoredRdata(*layout, rd, len, [](size_t, size_t) {}, [](size_t, size_t) {})) {
    return false;
  }
  switch (type) {
    case type::kA: {
      char buf[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, rd, buf, sizeof(buf));
      out->append(buf);
      return true;
    }
    case type::kAaaa: {
      char buf[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, rd, buf, sizeof(buf));
      out->append(buf);
      return true;
    }
    case type::kNs: case type::kCname: case type::kPtr: case type::kDname:
      AppendName(rd, len, out);
      return true;
    case type::kMx:
      AppendUint(Get16(rd), out);
      out->push_back(' ');
      AppendName(rd + 2, len - 2, out);
      return true;
    case type::kSoa: {
      size_t pos = AppendName(rd, len, out);
      out->push_back(' ');
      pos += AppendName(rd + pos, len - pos, out);
      for (int i = 0; i < 5; ++i) {
        out->push_back(' ');
        AppendUint(Get32(rd + pos + 4 * i), out);
      }
      return true;
    }
    case type::kTxt: case 99 /*SPF*/: {
      size_t pos = 0;
      while (pos < len) {
        if (pos > 0) out->push_back(' ');
        AppendCharString(rd + pos + 1, rd[pos], out);
        pos += 1u + rd[pos];
      }
      return true;
    }
    case type::kSrv:
      AppendUint(Get16(rd), out);
      out->push_back(' ');
      AppendUint(Get16(rd + 2), out);
      out->push_back(' ');
      AppendUint(Get16(rd + 4), out);
      out->push_back(' ');
      AppendName(rd + 6, len - 6, out);
      return true;
    case type::kDs: case 59 /*CDS*/:
      AppendUint(Get16(rd), out);
      out->push_back(' ');
      AppendUint(rd[2], out);
      out->push_back(' ');
      AppendUint(rd[3], out);
      out->push_back(' ');
      AppendHex(rd + 4, len - 4, out);
      return true;
    case type::kDnskey: case 60 /*CDNSKEY*/:
      AppendUint(Get16(rd), out);
      out->push_back(' ');
      AppendUint(rd[2], out);
      out->push_back(' ');
      AppendUint(rd[3], out);
      out->push_back(' ');
      AppendBase64(rd + 4, len - 4, out);
      return true;
    case type::kRrsig: {
      out->append(TypeToString(Get16(rd)));
      out->push_back(' ');
      AppendUint(rd[2], out);
      out->push_back(' ');
      AppendUint(rd[3], out);
      out->push_back(' ');
      AppendUint(Get32(rd + 4), out);
      out->push_back(' ');
      AppendTime(Get32(rd + 8), out);
      out->push_back(' ');
      AppendTime(Get32(rd + 12), out);
      out->push_back(' ');
      AppendUint(Get16(rd + 16), out);
      out->push_back(' ');
      size_t n = AppendName(rd + 18, len - 18, out);
      out->push_back(' ');
      AppendBase64(rd + 18 + n, len - 18 - n, out);
      return true;
    }
    case type::kNsec: {
      // Validate the type bitmap before printing anything.
      size_t name_len = WireNameLength(rd, len);
      size_t pos = name_len;
      int last_window = -1;
      while (pos < len) {
        if (len - pos < 2) return false;
        int window = rd[pos];
        size_t blen = rd[pos + 1];
        if (window <= last_window || blen == 0 || blen > 32 || len - pos - 2 < blen) return false;
        last_window = window;
        pos += 2 + blen;
      }
      AppendName(rd, len, out);
      pos = name_len;
      while (pos < len) {
        int window = rd[pos];
        size_t blen = rd[pos + 1];
        for (size_t i = 0; i < blen; ++i) {
          for (int bit = 0; bit < 8; ++bit) {
            if (rd[pos + 2 + i] & (0x80 >> bit)) {
              out->push_back(' ');
              out->append(TypeToString(static_cast<uint16_t>(window * 256 + i * 8 + bit)));
            }
          }
        }
        pos += 2 + blen;
      }
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

// ---------------------------------------------------------------------------

ParseError ReadHeader(const uint8_t* msg, size_t len, Header* out) noexcept {
  if (len < kHeaderSize) return ParseError::kShortHeader;
  out->id = Get16(msg);
  out->flags = Get16(msg + 2);
  out->qdcount = Get16(msg + 4);
  out->ancount = Get16(msg + 6);
  out->nscount = Get16(msg + 8);
  out->arcount = Get16(msg + 10);
  return ParseError::kOk;
}

// Per-packet path: any worker thread; never allocates, locks or blocks.
ParseError ParseQuery(const uint8_t* pkt, size_t len, QueryView* out) noexcept {
  out->edns = EdnsInfo{};
  ParseError err = ReadHeader(pkt, len, &out->header);
  if (err != ParseError::kOk) return err;
  if (out->header.qdcount != 1) return ParseError::kBadQdcount;
  size_t off = kHeaderSize;
  err = ReadName(pkt, len, &off, &out->qname);
  if (err != ParseError::kOk) return err;
  if (len - off < 4) return ParseError::kTruncated;
  out->qtype = Get16(pkt + off);
  out->qclass = Get16(pkt + off + 2);
  off += 4;
  out->question_end = static_cast<uint32_t>(off);

  const size_t before_additional = size_t{out->header.ancount} + out->header.nscount;
  const size_t total = before_additional + out->header.arcount;
  for (size_t i = 0; i < total; ++i) {
    size_t owner_len;
    err = SkipName(pkt, len, &off, &owner_len);
    if (err != ParseError::kOk) return err;
    if (len - off < 10) return ParseError::kTruncated;
    const uint8_t* rr = pkt + off;
    size_t rdlen = Get16(rr + 8);
    size_t rdata = off + 10;
    if (len - rdata < rdlen) return ParseError::kTruncated;
    if (i >= before_additional && Get16(rr) == type::kOpt) {
      // RFC 6891 section 6.1.1: one OPT, owned by the root.
      if (out->edns.present || owner_len != 1) return ParseError::kBadOpt;
      if (!ValidOptions(pkt + rdata, rdlen)) return ParseError::kBadOpt;
      EdnsInfo& e = out->edns;
      e.present = true;
      e.udp_size = Get16(rr + 2);
      e.ext_rcode = rr[4];
      e.version = rr[5];
      e.flags = Get16(rr + 6);
      e.options_offset = static_cast<uint32_t>(rdata);
      e.options_len = static_cast<uint16_t>(rdlen);
    }
    off = rdata + rdlen;
  }
  // Octets after the last record are ignored, as miekg/dns (CoreDNS) does.
  return ParseError::kOk;
}

void Message::SetRcode(int rc) noexcept {
  header.set_rcode(rc);
  edns.ext_rcode = static_cast<uint8_t>((rc >> 4) & 0xff);
}

ParseError ParseMessage(const uint8_t* pkt, size_t len, Message* out) {
  *out = Message{};
  ParseError err = ReadHeader(pkt, len, &out->header);
  if (err != ParseError::kOk) return err;
  size_t off = kHeaderSize;
  const Header& h = out->header;
  out->question.reserve(h.qdcount < 4 ? h.qdcount : 4);
  for (size_t i = 0; i < h.qdcount; ++i) {
    Question q;
    err = ReadName(pkt, len, &off, &q.name);
    if (err != ParseError::kOk) return err;
    if (len - off < 4) return ParseError::kTruncated;
    q.type = Get16(pkt + off);
    q.qclass = Get16(pkt + off + 2);
    off += 4;
    out->question.push_back(q);
  }
  std::vector<Rr>* sections[3] = {&out->answer, &out->authority, &out->additional};
  const uint16_t counts[3] = {h.ancount, h.nscount, h.arcount};
  for (int s = 0; s < 3; ++s) {
    for (size_t i = 0; i < counts[s]; ++i) {
      Rr rr;
      err = ReadName(pkt, len, &off, &rr.name);
      if (err != ParseError::kOk) return err;
      if (len - off < 10) return ParseError::kTruncated;
      const uint8_t* p = pkt + off;
      rr.type = Get16(p);
      rr.rclass = Get16(p + 2);
      rr.ttl = Get32(p + 4);
      size_t rdlen = Get16(p + 8);
      size_t rdata = off + 10;
      if (len - rdata < rdlen) return ParseError::kTruncated;
      off = rdata + rdlen;
      if (s == 2 && rr.type == type::kOpt) {
        if (out->edns.present || !rr.name.IsRoot()) return ParseError::kBadOpt;
        if (!ValidOptions(pkt + rdata, rdlen)) return ParseError::kBadOpt;
        Edns& e = out->edns;
        e.present = true;
        e.udp_size = rr.rclass;
        e.ext_rcode = static_cast<uint8_t>(rr.ttl >> 24);
        e.version = static_cast<uint8_t>(rr.ttl >> 16);
        e.flags = static_cast<uint16_t>(rr.ttl);
        e.options.assign(pkt + rdata, pkt + rdata + rdlen);
        continue;
      }
      err = DecodeRdata(rr.type, pkt, rdata, rdata + rdlen, &rr.rdata);
      if (err != ParseError::kOk) return err;
      sections[s]->push_back(std::move(rr));
    }
  }
  // Octets after the last record are ignored, as miekg/dns (CoreDNS) does.
  return ParseError::kOk;
}

size_t WriteMessage(const Message& msg, size_t max_size, std::vector<uint8_t>* out,
                    bool* truncated) {
  out->clear();
  if (truncated != nullptr) *truncated = false;
  if (max_size > kMaxMessageSize) max_size = kMaxMessageSize;
  const size_t opt_size = msg.edns.present ? 11 + msg.edns.options.size() : 0;
  if (msg.question.size() > 0xffff || msg.edns.options.size() > 0xffff ||
      kHeaderSize + opt_size > max_size) {
    return 0;
  }
  out->reserve(max_size < 512 ? max_size : 512);
  Writer w(out);
  w.AppendBytes(std::array<uint8_t, kHeaderSize>{}.data(), kHeaderSize);
  for (const Question& q : msg.question) {
    w.WriteName(q.name.data(), q.name.size());
    w.Append16(q.type);
    w.Append16(q.qclass);
  }
  if (w.size() + opt_size > max_size) {
    out->clear();
    return 0;
  }

  // Fill answer, authority, additional in order; the first record that does
  // not fit (leaving room for the OPT) ends the message (miekg/dns
  // Msg.Truncate).
  const std::vector<Rr>* sections[3] = {&msg.answer, &msg.authority, &msg.additional};
  size_t written[3] = {0, 0, 0};
  bool cut = false;
  for (int s = 0; s < 3 && !cut; ++s) {
    for (const Rr& rr : *sections[s]) {
      size_t before = w.size();
      if (written[s] == 0xffff || !w.WriteRr(rr) || w.size() + opt_size > max_size) {
        // Nothing is looked up in the compression table after this point
        // (only the root-owned OPT follows), so its entries pointing into
        // the dropped bytes are harmless.
        w.Resize(before);
        cut = true;
        break;
      }
      ++written[s];
    }
  }
  if (!cut && written[2] + (msg.edns.present ? 1 : 0) > 0xffff) cut = true;

  if (msg.edns.present) {
    const Edns& e = msg.edns;
    uint8_t opt[11] = {0};  // root owner
    Put16(opt + 1, type::kOpt);
    Put16(opt + 3, e.udp_size);
    opt[5] = e.ext_rcode;
    opt[6] = e.version;
    Put16(opt + 7, e.flags);
    Put16(opt + 9, static_cast<uint16_t>(e.options.size()));
    w.AppendBytes(opt, sizeof(opt));
    w.AppendBytes(e.options.data(), e.options.size());
  }

  Header h = msg.header;
  if (cut) h.flags |= flag::kTc;
  uint8_t* p = out->data();
  Put16(p, h.id);
  Put16(p + 2, h.flags);
  Put16(p + 4, static_cast<uint16_t>(msg.question.size()));
  Put16(p + 6, static_cast<uint16_t>(written[0]));
  Put16(p + 8, static_cast<uint16_t>(written[1]));
  Put16(p + 10, static_cast<uint16_t>(written[2] + (msg.edns.present ? 1 : 0)));
  if (truncated != nullptr) *truncated = cut;
  return out->size();
}

std::string RrToText(const Rr& rr) {
  std::string out = rr.name.ToText();
  out.push_back('\t');
  AppendUint(rr.ttl, &out);
  out.push_back('\t');
  out.append(ClassToString(rr.rclass));
  out.push_back('\t');
  out.append(TypeToString(rr.type));
  out.push_back('\t');
  if (!AppendRdataText(rr.type, rr.rdata, &out)) {
    // RFC 3597 section 5 generic form.
    out.append("\\# ");
    AppendUint(rr.rdata.size(), &out);
    if (!rr.rdata.empty()) {
      out.push_back(' ');
      AppendHex(rr.rdata.data(), rr.rdata.size(), &out);
    }
  }
  return out;
}

size_t UncompressedLength(const Message& m) {
  size_t len = kHeaderSize;
  for (const Question& q : m.question) len += q.name.size() + 4;
  for (const auto* section : {&m.answer, &m.authority, &m.additional}) {
    for (const Rr& rr : *section) len += rr.name.size() + 10 + rr.rdata.size();
  }
  if (m.edns.present) len += 11 + m.edns.options.size();
  return len;
}

Message MakeReply(const Message& query) {
  Message reply;
  reply.header.id = query.header.id;
  reply.header.flags = flag::kQr;
  reply.header.set_opcode(query.header.opcode());
  // miekg/dns SetReply (CoreDNS) copies RD and CD for QUERY only.
  if (query.header.opcode() == opcode::kQuery) {
    reply.header.SetFlag(flag::kRd, query.header.rd());
    reply.header.SetFlag(flag::kCd, query.header.cd());
  }
  // miekg/dns SetReply copies only the first question.
  if (!query.question.empty()) reply.question.push_back(query.question.front());
  if (query.edns.present) {
    reply.edns.present = true;
    reply.edns.version = 0;
    reply.edns.udp_size = query.edns.udp_size;
    reply.edns.flags = query.edns.flags & kEdnsDoBit;
  }
  return reply;
}

}  // namespace warpdns::fastpath::wire
