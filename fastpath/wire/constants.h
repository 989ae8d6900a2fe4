// DNS protocol numbers shared by every part of warpdns.
#ifndef WARPDNS_FASTPATH_WIRE_CONSTANTS_H_
#define WARPDNS_FASTPATH_WIRE_CONSTANTS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace warpdns::fastpath::wire {

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxNameLength = 255;
inline constexpr size_t kMaxLabelLength = 63;
inline constexpr uint16_t kMinUdpSize = 512;
inline constexpr uint16_t kMaxMessageSize = 65535;

namespace type {
inline constexpr uint16_t kA = 1;
inline constexpr uint16_t kNs = 2;
inline constexpr uint16_t kCname = 5;
inline constexpr uint16_t kSoa = 6;
inline constexpr uint16_t kPtr = 12;
inline constexpr uint16_t kHinfo = 13;
inline constexpr uint16_t kMx = 15;
inline constexpr uint16_t kTxt = 16;
inline constexpr uint16_t kAaaa = 28;
inline constexpr uint16_t kSrv = 33;
inline constexpr uint16_t kNaptr = 35;
inline constexpr uint16_t kDname = 39;
inline constexpr uint16_t kOpt = 41;
inline constexpr uint16_t kDs = 43;
inline constexpr uint16_t kRrsig = 46;
inline constexpr uint16_t kNsec = 47;
inline constexpr uint16_t kDnskey = 48;
inline constexpr uint16_t kNsec3 = 50;
inline constexpr uint16_t kNsec3Param = 51;
inline constexpr uint16_t kSvcb = 64;
inline constexpr uint16_t kHttps = 65;
inline constexpr uint16_t kCaa = 257;
inline constexpr uint16_t kIxfr = 251;
inline constexpr uint16_t kAxfr = 252;
inline constexpr uint16_t kAny = 255;
}  // namespace type

namespace qclass {
inline constexpr uint16_t kIn = 1;
inline constexpr uint16_t kCh = 3;
inline constexpr uint16_t kHs = 4;
inline constexpr uint16_t kNone = 254;
inline constexpr uint16_t kAny = 255;
}  // namespace qclass

namespace rcode {
inline constexpr int kNoError = 0;
inline constexpr int kFormErr = 1;
inline constexpr int kServFail = 2;
inline constexpr int kNxDomain = 3;
inline constexpr int kNotImp = 4;
inline constexpr int kRefused = 5;
inline constexpr int kYxDomain = 6;
inline constexpr int kYxRrset = 7;
inline constexpr int kNxRrset = 8;
inline constexpr int kNotAuth = 9;
inline constexpr int kNotZone = 10;
inline constexpr int kBadVers = 16;  // extended: needs OPT
}  // namespace rcode

namespace opcode {
inline constexpr int kQuery = 0;
inline constexpr int kIquery = 1;
inline constexpr int kStatus = 2;
inline constexpr int kNotify = 4;
inline constexpr int kUpdate = 5;
}  // namespace opcode

// Header flag bits within the 16-bit flags word (network order already
// converted to host order).
namespace flag {
inline constexpr uint16_t kQr = 0x8000;
inline constexpr uint16_t kAa = 0x0400;
inline constexpr uint16_t kTc = 0x0200;
inline constexpr uint16_t kRd = 0x0100;
inline constexpr uint16_t kRa = 0x0080;
inline constexpr uint16_t kZ = 0x0040;
inline constexpr uint16_t kAd = 0x0020;
inline constexpr uint16_t kCd = 0x0010;
inline constexpr uint16_t kOpcodeMask = 0x7800;
inline constexpr uint16_t kRcodeMask = 0x000f;
}  // namespace flag

inline constexpr uint16_t kEdnsDoBit = 0x8000;

// Why a packet failed to parse. Used as drop/FORMERR reasons and metric labels.
enum class ParseError : uint8_t {
  kOk = 0,
  kShortHeader,       // fewer than 12 octets
  kTruncated,         // a section runs past the end of the message
  kLabelTooLong,      // label > 63 octets
  kNameTooLong,       // name > 255 octets
  kPointerLoop,       // too many pointer hops / revisits
  kPointerForward,    // pointer at or after its own position
  kPointerOutOfRange, // pointer beyond the message
  kBadLabelType,      // 0x40 / 0x80 label types
  kBadQdcount,        // QDCOUNT != 1 in a query
  kBadOpt,            // malformed OPT (owner not root, two OPTs, bad options)
  kBadRdata,          // rdata does not match its type's layout
  kBadCounts,         // section counts a query may not have (AN>1, NS>1, AR>2)
  kCount,
};

std::string_view ParseErrorName(ParseError e) noexcept;

// "A", "AAAA", ... or "TYPE1234" (RFC 3597).
std::string TypeToString(uint16_t t);
// Accepts mnemonics (case-insensitive) and TYPEnnn. Returns false if unknown.
bool TypeFromString(std::string_view s, uint16_t* t);
// "IN", "CH", "HS", "NONE", "ANY" or "CLASS1234".
std::string ClassToString(uint16_t c);
// "NOERROR", "FORMERR", ... "BADVERS", or "RCODE<n>" as CoreDNS prints them.
std::string RcodeToString(int rcode);

}  // namespace warpdns::fastpath::wire

#endif  // WARPDNS_FASTPATH_WIRE_CONSTANTS_H_
