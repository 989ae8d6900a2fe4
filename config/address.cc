// Server block keys: [SCHEME://]ZONE[:PORT], CIDR keys as reverse zones.
#include <arpa/inet.h>

#include <array>
#include <cstring>
#include <string>

#include "config/corefile.h"

namespace warpdns::config {
namespace {

struct Scheme {
  std::string_view name;
  uint16_t default_port;
};

constexpr std::array<Scheme, 6> kSchemes = {{
    {"dns", 53},
    {"tls", 853},
    {"grpc", 443},
    {"https", 443},
    {"quic", 853},
    {"https3", 443},
}};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool ParsePort(std::string_view s, uint16_t* port) {
  if (!AllDigits(s) || s.size() > 5) return false;
  const int value = std::stoi(std::string(s));
  if (value < 1 || value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

// Zeroes the bits of `bytes` beyond the first `prefix` bits.
void MaskTo(uint8_t* bytes, int size, int prefix) {
  for (int i = 0; i < size; ++i) {
    const int keep = prefix - i * 8;
    if (keep >= 8) continue;
    bytes[i] = keep <= 0 ? 0 : static_cast<uint8_t>(bytes[i] & (0xFF << (8 - keep)));
  }
}

int Nibble(const uint8_t* bytes, int k) {
  return (k % 2 == 0) ? bytes[k / 2] >> 4 : bytes[k / 2] & 0x0F;
}

void SetNibble(uint8_t* bytes, int k, int value) {
  if (k % 2 == 0) {
    bytes[k / 2] = static_cast<uint8_t>((bytes[k / 2] & 0x0F) | (value << 4));
  } else {
    bytes[k / 2] = static_cast<uint8_t>((bytes[k / 2] & 0xF0) | value);
  }
}

// The reverse zone made of the first `labels` octets (v4) or nibbles (v6).
std::string ReverseZone(const uint8_t* bytes, bool v6, int labels) {
  std::string zone;
  for (int k = labels - 1; k >= 0; --k) {
    if (v6) {
      zone.push_back("0123456789abcdef"[Nibble(bytes, k)]);
    } else {
      zone.append(std::to_string(bytes[k]));
    }
    zone.push_back('.');
  }
  zone.append(v6 ? "ip6.arpa." : "in-addr.arpa.");
  return zone;
}

// Converts a CIDR key to reverse zones. A prefix on a label boundary is one
// zone; a shorter non-boundary prefix (/23) is split into the zones of the
// next boundary (two /24s); a prefix so long that splitting would produce
// single-address zones (/25../31, /125../127) is served as the enclosing
// zone with a filter, as CoreDNS did for classless reverse zones.
void CidrZones(uint8_t* bytes, bool v6, int prefix, const Address& base,
               std::vector<Address>* out) {
  const int size = v6 ? 16 : 4;
  const int digit = v6 ? 4 : 8;
  const int bits = size * 8;
  MaskTo(bytes, size, prefix);
  if (prefix % digit == 0) {
    Address a = base;
    a.zone = ReverseZone(bytes, v6, prefix / digit);
    out->push_back(std::move(a));
    return;
  }
  if (prefix > bits - digit) {
    Address a = base;
    a.zone = ReverseZone(bytes, v6, prefix / digit);
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, text, sizeof(text));
    a.cidr_filter = std::string(text) + "/" + std::to_string(prefix);
    out->push_back(std::move(a));
    return;
  }
  const int boundary = (prefix / digit + 1) * digit;
  const int label = boundary / digit - 1;  // the label that varies between the zones
  const int count = 1 << (boundary - prefix);
  for (int i = 0; i < count; ++i) {
    uint8_t sub[16];
    std::memcpy(sub, bytes, size);
    if (v6) {
      SetNibble(sub, label, Nibble(bytes, label) | i);
    } else {
      sub[label] = static_cast<uint8_t>(bytes[label] | i);
    }
    Address a = base;
    a.zone = ReverseZone(sub, v6, label + 1);
    out->push_back(std::move(a));
  }
}

}  // namespace

std::string Address::ToString() const {
  return transport + "://" + zone + ":" + std::to_string(port);
}

bool ParseAddressKey(const Token& key, uint16_t default_dns_port, std::vector<Address>* out,
                     std::string* error) {
  const std::string& text = key.text;
  const std::string quoted_key = "'" + text + "'";
  Address base;
  base.key = key;
  std::string_view rest = text;
  uint16_t default_port = default_dns_port;
  if (const size_t sep = rest.find("://"); sep != std::string_view::npos) {
    const std::string scheme = Lower(rest.substr(0, sep));
    const Scheme* found = nullptr;
    for (const Scheme& s : kSchemes) {
      if (s.name == scheme) found = &s;
    }
    if (found == nullptr) {
      *error = ErrorAt(key, "Unknown scheme '" + scheme + "' in key " + quoted_key +
                                ", expected dns, tls, grpc, https, quic or https3");
      return false;
    }
    base.transport = scheme;
    if (scheme != "dns") default_port = found->default_port;
    rest = rest.substr(sep + 3);
  }

  // The port follows the last colon, unless that colon is inside an IPv6
  // prefix ("2001:db8::/32" has no port, "2001:db8::/32:53" has one).
  std::string_view host = rest;
  const size_t slash = rest.find('/');
  const size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    const std::string_view port_text = rest.substr(colon + 1);
    if (port_text.empty()) {
      *error = ErrorAt(key, "Missing port after ':' in key " + quoted_key);
      return false;
    }
    if (!ParsePort(port_text, &base.port)) {
      *error = ErrorAt(key, "Invalid port '" + std::string(port_text) + "' in key " + quoted_key +
                                ", expected a number from 1 to 65535");
      return false;
    }
    base.port_explicit = true;
    host = rest.substr(0, colon);
  } else {
    base.port = default_port;
  }

  std::string zone = Lower(host);
  if (zone.empty()) {
    if (!base.port_explicit) {
      *error = ErrorAt(key, "Empty zone in key " + quoted_key);
      return false;
    }
    zone = ".";  // ":53" is the root zone, as in CoreDNS
  }

  // CIDR keys; a trailing dot ("10.0.0.0/24.") keeps the name literal.
  if (const size_t cut = zone.find('/'); cut != std::string::npos && zone.back() != '.') {
    const std::string ip = zone.substr(0, cut);
    const std::string length = zone.substr(cut + 1);
    uint8_t bytes[16] = {};
    bool v6 = false;
    bool is_ip = inet_pton(AF_INET, ip.c_str(), bytes) == 1;
    if (!is_ip && inet_pton(AF_INET6, ip.c_str(), bytes) == 1) is_ip = v6 = true;
    if (is_ip) {
      const int max = v6 ? 128 : 32;
      if (!AllDigits(length) || length.size() > 3 || std::stoi(length) > max) {
        *error = ErrorAt(key, "Invalid CIDR '" + zone + "' in key " + quoted_key +
                                  ", the prefix length must be 0-" + std::to_string(max));
        return false;
      }
      CidrZones(bytes, v6, std::stoi(length), base, out);
      return true;
    }
  }

  if (zone.find_first_of("{} \t\n") != std::string::npos) {
    const bool brace = zone.find_first_of("{}") != std::string::npos;
    *error = ErrorAt(key, "Invalid zone '" + zone + "' in key " + quoted_key +
                              (brace ? ", '{' and '}' must be separated from keys by whitespace"
                                     : ", it contains whitespace"));
    return false;
  }
  if (zone != ".") {
    if (zone.back() != '.') zone.push_back('.');
    if (zone.size() > 255) {
      *error = ErrorAt(key, "Zone in key " + quoted_key + " is too long (" +
                                std::to_string(zone.size()) + " > 255)");
      return false;
    }
    size_t start = 0;
    while (start < zone.size()) {
      const size_t dot = zone.find('.', start);
      const size_t label = dot - start;
      if (label == 0 || label > 63) {
        *error = ErrorAt(key, "Invalid zone '" + zone + "' in key " + quoted_key +
                                  (label == 0 ? ", it has an empty label"
                                              : ", a label is longer than 63 bytes"));
        return false;
      }
      start = dot + 1;
    }
  }
  base.zone = std::move(zone);
  out->push_back(std::move(base));
  return true;
}

}  // namespace warpdns::config
