#include "fastpath/table/query_key.h"

#include <cstring>

namespace warpdns::fastpath {
namespace {

constexpr size_t kHeader = 12;
constexpr uint16_t kTypeOpt = 41;
constexpr uint16_t kQrBit = 0x8000;

inline uint16_t Load16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}

// wyhash-style mixing over 8-octet words: the key is hashed once per packet,
// so this is on the hot path; FNV's per-octet multiply costs ~3x more here.
inline uint64_t Mix(uint64_t a, uint64_t b) noexcept {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

uint64_t HashBytes(const uint8_t* p, size_t len) noexcept {
  constexpr uint64_t kP0 = 0xa0761d6478bd642full, kP1 = 0xe7037ed1a0b428dbull;
  uint64_t h = kP0 ^ len;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = Mix(h ^ w, kP1);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p + i, len - i);
  return Mix(h ^ tail, kP1 ^ kP0);
}

}  // namespace

bool MakeQueryKey(const uint8_t* msg, size_t len, uint16_t dst_port, QueryKey* key) noexcept {
  if (len < kHeader + 5) return false;
  const uint16_t flags = Load16(msg + 2);
  // A response or a non-QUERY opcode gets the server's reject rules.
  if ((flags & kQrBit) != 0 || (flags & 0x7800) != 0) return false;
  if (Load16(msg + 4) != 1 || Load16(msg + 6) != 0 || Load16(msg + 8) != 0) return false;
  const uint16_t arcount = Load16(msg + 10);
  if (arcount > 1) return false;

  uint8_t* out = key->bytes;
  out[0] = static_cast<uint8_t>(dst_port >> 8);
  out[1] = static_cast<uint8_t>(dst_port);
  out[2] = msg[2];
  out[3] = msg[3];
  // The question name: plain labels only (a query has nothing to point at).
  size_t off = kHeader;
  size_t name_len = 0;
  for (;;) {
    if (off >= len) return false;
    const uint8_t label = msg[off];
    if (label > 63) return false;
    name_len += label + 1;
    if (name_len > 255) return false;
    off += label + 1;
    if (label == 0) break;
  }
  if (off + 4 > len) return false;
  const size_t question_len = name_len + 4;
  std::memcpy(out + 4, msg + kHeader, question_len);
  size_t key_len = 4 + question_len;
  off += 4;
  key->dnssec_ok = false;
  if (arcount == 0) {
    if (off != len) return false;
    out[key_len++] = 0;
  } else {
    // The OPT: root owner, type 41, and options that add up exactly.
    if (off + 11 > len || msg[off] != 0 || Load16(msg + off + 1) != kTypeOpt) return false;
    const uint16_t rdlen = Load16(msg + off + 9);
    const size_t rdata = off + 11;
    if (rdata + rdlen != len) return false;
    for (size_t o = rdata; o < len;) {
      if (o + 4 > len) return false;
      o += 4 + Load16(msg + o + 2);
      if (o > len) return false;
    }
    // Version 1+ gets BADVERS from the slow path.
    if (msg[off + 6] != 0) return false;
    key->dnssec_ok = (msg[off + 7] & 0x80) != 0;
    out[key_len++] = 1;
    std::memcpy(out + key_len, msg + off + 3, 2);  // UDP size
    std::memcpy(out + key_len + 2, msg + off + 5, 4);  // ext rcode, version, flags
    key_len += 6;
  }
  key->len = static_cast<uint16_t>(key_len);
  key->hash = HashBytes(out, key_len);
  return true;
}

}  // namespace warpdns::fastpath
