// Mnemonic tables for DNS types, classes, rcodes and parse errors.
#include "fastpath/wire/constants.h"

#include <array>
#include <charconv>
#include <string>
#include <string_view>

namespace warpdns::fastpath::wire {
namespace {

struct Mnemonic {
  uint16_t value;
  std::string_view text;
};

// IANA "Resource Record (RR) TYPEs" registry, the mnemonics dig and miekg/dns
// print. Sorted by value so lookups by value can stop early.
constexpr Mnemonic kTypes[] = {
    {1, "A"},           {2, "NS"},          {3, "MD"},         {4, "MF"},
    {5, "CNAME"},       {6, "SOA"},         {7, "MB"},         {8, "MG"},
    {9, "MR"},          {10, "NULL"},       {11, "WKS"},       {12, "PTR"},
    {13, "HINFO"},      {14, "MINFO"},      {15, "MX"},        {16, "TXT"},
    {17, "RP"},         {18, "AFSDB"},      {19, "X25"},       {20, "ISDN"},
    {21, "RT"},         {22, "NSAP"},       {23, "NSAP-PTR"},  {24, "SIG"},
    {25, "KEY"},        {26, "PX"},         {27, "GPOS"},      {28, "AAAA"},
    {29, "LOC"},        {30, "NXT"},        {31, "EID"},       {32, "NIMLOC"},
    {33, "SRV"},        {34, "ATMA"},       {35, "NAPTR"},     {36, "KX"},
    {37, "CERT"},       {38, "A6"},         {39, "DNAME"},     {40, "SINK"},
    {41, "OPT"},        {42, "APL"},        {43, "DS"},        {44, "SSHFP"},
    {45, "IPSECKEY"},   {46, "RRSIG"},      {47, "NSEC"},      {48, "DNSKEY"},
    {49, "DHCID"},      {50, "NSEC3"},      {51, "NSEC3PARAM"}, {52, "TLSA"},
    {53, "SMIMEA"},     {55, "HIP"},        {56, "NINFO"},     {57, "RKEY"},
    {58, "TALINK"},     {59, "CDS"},        {60, "CDNSKEY"},   {61, "OPENPGPKEY"},
    {62, "CSYNC"},      {63, "ZONEMD"},     {64, "SVCB"},      {65, "HTTPS"},
    {99, "SPF"},        {100, "UINFO"},     {101, "UID"},      {102, "GID"},
    {103, "UNSPEC"},    {104, "NID"},       {105, "L32"},      {106, "L64"},
    {107, "LP"},        {108, "EUI48"},     {109, "EUI64"},    {249, "TKEY"},
    {250, "TSIG"},      {251, "IXFR"},      {252, "AXFR"},     {253, "MAILB"},
    {254, "MAILA"},     {255, "ANY"},       {256, "URI"},      {257, "CAA"},
    {258, "AVC"},       {259, "DOA"},       {260, "AMTRELAY"}, {32768, "TA"},
    {32769, "DLV"},
};

constexpr Mnemonic kClasses[] = {
    {1, "IN"}, {3, "CH"}, {4, "HS"}, {254, "NONE"}, {255, "ANY"},
};

// Indexed by rcode; 16 is BADVERS (miekg/dns prints BADVERS, not BADSIG, as
// the two share the value and CoreDNS metrics/logs use miekg's table).
constexpr std::string_view kRcodes[] = {
    "NOERROR", "FORMERR",  "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "",
    "",        "",         "",         "",         "BADVERS", "BADKEY",
    "BADTIME", "BADMODE",  "BADNAME",  "BADALG",   "BADTRUNC", "BADCOOKIE",
};

constexpr std::string_view kParseErrorNames[] = {
    "ok",
    "short_header",
    "truncated",
    "label_too_long",
    "name_too_long",
    "pointer_loop",
    "pointer_forward",
    "pointer_out_of_range",
    "bad_label_type",
    "bad_qdcount",
    "bad_opt",
    "bad_rdata",
    "bad_counts",
};
static_assert(std::size(kParseErrorNames) == static_cast<size_t>(ParseError::kCount));

char ToLowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLowerAscii(a[i]) != ToLowerAscii(b[i])) return false;
  }
  return true;
}

}  // namespace

std::string_view ParseErrorName(ParseError e) noexcept {
  size_t i = static_cast<size_t>(e);
  if (i >= std::size(kParseErrorNames)) return "unknown";
  return kParseErrorNames[i];
}

std::string TypeToString(uint16_t t) {
  for (const Mnemonic& m : kTypes) {
    if (m.value == t) return std::string(m.text);
    if (m.value > t) break;
  }
  return "TYPE" + std::to_string(t);
}

bool TypeFromString(std::string_view s, uint16_t* t) {
  for (const Mnemonic& m : kTypes) {
    if (EqualsIgnoreCase(s, m.text)) {
      *t = m.value;
      return true;
    }
  }
  // RFC 3597 generic form TYPEnnn.
  if (s.size() > 4 && EqualsIgnoreCase(s.substr(0, 4), "TYPE")) {
    std::string_view digits = s.substr(4);
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc() && ptr == digits.data() + digits.size() && value <= 0xffff) {
      *t = static_cast<uint16_t>(value);
      return true;
    }
  }
  return false;
}

std::string ClassToString(uint16_t c) {
  for (const Mnemonic& m : kClasses) {
    if (m.value == c) return std::string(m.text);
  }
  return "CLASS" + std::to_string(c);
}

std::string RcodeToString(int rcode) {
  if (rcode >= 0 && static_cast<size_t>(rcode) < std::size(kRcodes) &&
      !kRcodes[rcode].empty()) {
    return std::string(kRcodes[rcode]);
  }
  return "RCODE" + std::to_string(rcode);
}

}  // namespace warpdns::fastpath::wire
