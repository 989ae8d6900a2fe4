// DNS domain names in uncompressed wire form, with fixed storage so that the
// fast path can hold them on the stack (no heap).
#ifndef WARPDNS_FASTPATH_WIRE_NAME_H_
#define WARPDNS_FASTPATH_WIRE_NAME_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fastpath/wire/constants.h"

namespace warpdns::fastpath::wire {

// An uncompressed wire-format name: length-prefixed labels ending with the
// root label (a single 0 byte). The root name is {0}, size() == 1. Case is
// preserved as received; comparisons are ASCII case-insensitive.
// Every method except FromText, ToText and ToLowerText is fast-path safe:
// callable from any thread, never allocates or blocks.
class Name {
 public:
  Name() noexcept : len_(1) { data_[0] = 0; }

  // Parses presentation format ("www.Example.org", "www.example.org.", ".",
  // "\\046" escapes, "\\." inside a label). Relative names are made absolute
  // (the trailing dot is optional). Returns false on empty labels, labels > 63
  // or names > 255 octets. Slow path only (not on the per-packet path).
  static bool FromText(std::string_view text, Name* out);

  // Builds from uncompressed wire bytes. Returns false if not a valid name.
  static bool FromWire(const uint8_t* data, size_t len, Name* out) noexcept;

  const uint8_t* data() const noexcept { return data_; }
  size_t size() const noexcept { return len_; }
  bool IsRoot() const noexcept { return len_ == 1; }
  int LabelCount() const noexcept;  // root has 0 labels

  // Presentation format, always with the trailing dot ("." for the root).
  // Non-printable octets and special characters are escaped as dig does.
  std::string ToText() const;
  // ToText() of the lowercased name.
  std::string ToLowerText() const;

  void ToLower() noexcept;
  Name Lowercased() const noexcept;

  // Removes the first label; the root stays the root.
  Name Parent() const noexcept;
  // Keeps the last `labels` labels (the rightmost ones).
  Name Suffix(int labels) const noexcept;
  // Prepends one label. Returns false if the result would exceed 255 octets
  // or the label exceeds 63.
  bool PrependLabel(std::string_view label) noexcept;
  // The first label's bytes (empty for the root).
  std::string_view FirstLabel() const noexcept;
  bool IsWildcard() const noexcept;  // first label is "*"

  // Case-insensitive equality.
  bool Equals(const Name& other) const noexcept;
  // True when this name equals `zone` or is below it (case-insensitive).
  bool IsSubdomainOf(const Name& zone) const noexcept;

  // RFC 4034 section 6.1 canonical ordering (case-insensitive, label by
  // label from the right). Returns <0, 0, >0.
  int CanonicalCompare(const Name& other) const noexcept;

  friend bool operator==(const Name& a, const Name& b) noexcept { return a.Equals(b); }

 private:
  // The wire reader fills data_ directly to avoid a second copy per packet.
  friend ParseError ReadName(const uint8_t* msg, size_t msg_len, size_t* offset,
                             Name* out) noexcept;

  uint8_t len_;
  uint8_t data_[kMaxNameLength];
};

// Hash of the lowercased name, for hash tables keyed by name. Not stable
// across versions (do not persist). Fast path: any thread; never blocks.
uint64_t HashName(const Name& name) noexcept;

struct NameHash {
  size_t operator()(const Name& n) const noexcept { return HashName(n); }
};

// Reads a possibly compressed name starting at `*offset` of the message
// [msg, msg+msg_len). On success stores the uncompressed name in `out` and
// advances `*offset` past the name as it appears in place (past the first
// pointer if any). Rejects pointer loops, forward pointers (a pointer must
// point strictly before the position it is read at), pointers outside the
// message, labels > 63 octets, names > 255 octets and the reserved label
// types 0x40/0x80. (A length octet of 64..127 is the 0x40 label type, so
// wire names report kBadLabelType, never kLabelTooLong.) On error `*offset`
// is unchanged and `out` is the root. Fast path: any thread; never allocates
// or blocks.
ParseError ReadName(const uint8_t* msg, size_t msg_len, size_t* offset,
                    Name* out) noexcept;

// Skips a possibly compressed name with the same validation as ReadName but
// without copying it out. Fast path: any thread; never allocates or blocks.
ParseError SkipName(const uint8_t* msg, size_t msg_len, size_t* offset) noexcept;

// Like SkipName, and also stores in `*name_len` the uncompressed length of
// the name (1 for the root). Never allocates; any thread.
ParseError SkipName(const uint8_t* msg, size_t msg_len, size_t* offset,
                    size_t* name_len) noexcept;

// Length of the uncompressed wire name at the start of [data, data+len)
// (1 for the root), or 0 if there is no valid uncompressed name there
// (pointers, reserved label types, > 255 octets, running past `len`).
// Bytes after the name are allowed. Never allocates; any thread.
size_t WireNameLength(const uint8_t* data, size_t len) noexcept;

// ASCII lowercase of one octet (names are compared ASCII case-insensitively,
// RFC 4343).
constexpr uint8_t ToLowerOctet(uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<uint8_t>(c + 32) : c;
}

}  // namespace warpdns::fastpath::wire

#endif  // WARPDNS_FASTPATH_WIRE_NAME_H_
