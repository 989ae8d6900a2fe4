// DNS messages: a zero-copy query view for the per-packet path, and an owned
// Message with a compressing, truncating writer for the slow path.
#ifndef WARPDNS_FASTPATH_WIRE_MESSAGE_H_
#define WARPDNS_FASTPATH_WIRE_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fastpath/wire/constants.h"
#include "fastpath/wire/name.h"

namespace warpdns::fastpath::wire {

struct Header {
  uint16_t id = 0;
  uint16_t flags = 0;  // host order; see flag::
  uint16_t qdcount = 0;
  uint16_t ancount = 0;
  uint16_t nscount = 0;
  uint16_t arcount = 0;

  bool qr() const noexcept { return flags & flag::kQr; }
  bool aa() const noexcept { return flags & flag::kAa; }
  bool tc() const noexcept { return flags & flag::kTc; }
  bool rd() const noexcept { return flags & flag::kRd; }
  bool ra() const noexcept { return flags & flag::kRa; }
  bool z() const noexcept { return flags & flag::kZ; }
  bool ad() const noexcept { return flags & flag::kAd; }
  bool cd() const noexcept { return flags & flag::kCd; }
  int opcode() const noexcept { return (flags & flag::kOpcodeMask) >> 11; }
  int rcode() const noexcept { return flags & flag::kRcodeMask; }
  void SetFlag(uint16_t f, bool on) noexcept { flags = on ? (flags | f) : (flags & ~f); }
  void set_opcode(int op) noexcept {
    flags = static_cast<uint16_t>((flags & ~flag::kOpcodeMask) | ((op & 0xf) << 11));
  }
  void set_rcode(int rc) noexcept {  // low 4 bits only; the rest goes into OPT
    flags = static_cast<uint16_t>((flags & ~flag::kRcodeMask) | (rc & 0xf));
  }
};

// Reads the 12-octet header. Returns kShortHeader if len < 12.
// Fast path: any thread; never allocates or blocks.
ParseError ReadHeader(const uint8_t* msg, size_t len, Header* out) noexcept;

struct EdnsInfo {
  bool present = false;
  uint16_t udp_size = 0;      // as sent (may be < 512; callers normalise)
  uint8_t ext_rcode = 0;      // upper 8 bits of the 12-bit rcode
  uint8_t version = 0;
  uint16_t flags = 0;         // includes the DO bit (kEdnsDoBit)
  bool dnssec_ok() const noexcept { return flags & kEdnsDoBit; }
  // The OPT RDATA (options) as a range of the original packet.
  uint32_t options_offset = 0;
  uint16_t options_len = 0;
};

// What the per-packet path needs from a query, parsed in place. Never
// allocates; any thread. `qname` holds the uncompressed question name with
// its original case.
struct QueryView {
  Header header;
  Name qname;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  uint32_t question_end = 0;  // offset just past the question
  EdnsInfo edns;
};

// Parses a query: header, exactly one question, skips answer/authority
// records (validating their names and lengths) and finds the OPT record in
// the additional section. Rejects QDCOUNT != 1 (kBadQdcount), malformed names,
// records running past the end, a second OPT or an OPT not owned by the root
// (kBadOpt), OPT options whose lengths do not add up (kBadOpt). Does not look
// at QR/opcode: the caller decides what to do with responses and opcodes.
// Octets after the last record are ignored (miekg/dns). On any error after the
// question, `header`, `qname`, `qtype` and `qclass` are already filled in
// (and `edns` as far as it was seen), so a FORMERR reply can be built.
// Fast path: any thread; never allocates or blocks.
ParseError ParseQuery(const uint8_t* pkt, size_t len, QueryView* out) noexcept;

// One resource record, owned. `rdata` holds the uncompressed RDATA: names
// inside RDATA of the RFC 1035 types (NS, CNAME, SOA, PTR, MX, ...) and of
// SRV, RRSIG, NSEC, DNAME, NAPTR are stored decompressed.
struct Rr {
  Name name;
  uint16_t type = 0;
  uint16_t rclass = qclass::kIn;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;
};

struct Question {
  Name name;
  uint16_t type = 0;
  uint16_t qclass = qclass::kIn;
};

// The EDNS0 pseudo-record of an owned message.
struct Edns {
  bool present = false;
  uint16_t udp_size = 0;
  uint8_t ext_rcode = 0;
  uint8_t version = 0;
  uint16_t flags = 0;
  std::vector<uint8_t> options;  // raw option TLVs, preserved
  bool dnssec_ok() const noexcept { return flags & kEdnsDoBit; }
};

// A whole message, owned (slow path).
struct Message {
  Header header;
  std::vector<Question> question;
  std::vector<Rr> answer;
  std::vector<Rr> authority;
  std::vector<Rr> additional;  // never contains the OPT record
  Edns edns;

  // The full 12-bit rcode (header bits + OPT extended bits).
  int Rcode() const noexcept { return (edns.ext_rcode << 4) | header.rcode(); }
  // Sets header and (for rcodes > 15) OPT extended rcode bits.
  void SetRcode(int rc) noexcept;
};

// Parses a whole message (any opcode, QR either way). Counts in the header
// are taken from the sections; the OPT record is moved into `edns`.
// (The header keeps the counts as on the wire, so arcount includes the OPT;
// WriteMessage ignores header counts and counts the vectors.) RDATA is
// checked against its type's layout (kBadRdata); empty RDATA is accepted
// for every type (UPDATE). Octets after the last record are ignored.
// Slow path: allocates.
ParseError ParseMessage(const uint8_t* pkt, size_t len, Message* out);

// Serialises `msg` into `out` with name compression (owner names and the
// names inside RDATA of the RFC 1035 well-known types, RFC 3597 section 4).
// At most `max_size` octets are written (the client's UDP size, or 65535 for
// TCP). If the whole message does not fit, sections are filled in order
// answer, authority, additional; the first record that does not fit ends the
// message and TC is set, as miekg/dns Msg.Truncate does (TC whenever any
// record was left out). The OPT record, if present, is always kept. Returns the number of
// octets written, 0 if even the header, question and OPT do not fit.
// `truncated` (may be null) reports whether records were left out.
size_t WriteMessage(const Message& msg, size_t max_size, std::vector<uint8_t>* out,
                    bool* truncated = nullptr);

// Text form of one record, as dig prints it: "www.example.org.\t300\tIN\tA\t192.0.2.1".
std::string RrToText(const Rr& rr);

// Builds a reply skeleton for `query`: same ID, opcode, RD and CD, QR set, the
// question copied, and an OPT (version 0, the client's UDP size, DO mirrored,
// no options) if the query had one (CoreDNS's reply OPT rule).
// As miekg/dns Msg.SetReply: RD and CD are copied only for opcode QUERY, and
// only the first question is copied.
Message MakeReply(const Message& query);

// miekg/dns Msg.Len() without compression: a reply's size as CoreDNS reports
// it ({size}/{rsize} in log lines, the size histograms): RDATA counted as
// held, uncompressed, and the OPT record. Slow path.
size_t UncompressedLength(const Message& m);

}  // namespace warpdns::fastpath::wire

#endif  // WARPDNS_FASTPATH_WIRE_MESSAGE_H_
