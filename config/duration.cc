// Go's time.ParseDuration, which CoreDNS plugins use for every duration.
#include <string>
#include <string_view>

#include "config/corefile.h"

namespace warpdns::config {
namespace {

constexpr uint64_t kMax = uint64_t{1} << 63;  // Go allows exactly -2^63

struct Unit {
  std::string_view name;
  uint64_t nanoseconds;
};

constexpr Unit kUnits[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xC2\xB5s", 1000},  // U+00B5 micro sign
    {"\xCE\xBCs", 1000},  // U+03BC greek small mu
    {"ms", 1000 * 1000},
    {"s", 1000 * 1000 * 1000},
    {"m", uint64_t{60} * 1000 * 1000 * 1000},
    {"h", uint64_t{3600} * 1000 * 1000 * 1000},
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

bool ParseDuration(std::string_view s, int64_t* nanoseconds, std::string* error) {
  const std::string quoted = "\"" + std::string(s) + "\"";
  auto invalid = [&] {
    if (error != nullptr) *error = "time: invalid duration " + quoted;
    return false;
  };
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {  // the only unitless value Go accepts
    *nanoseconds = 0;
    return true;
  }
  if (s.empty()) return invalid();

  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || IsDigit(s[0]))) return invalid();
    // Integer part.
    uint64_t whole = 0;
    size_t i = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      if (whole > (kMax - 1) / 10) return invalid();
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
      if (whole > kMax) return invalid();
    }
    const bool have_whole = i > 0;
    s.remove_prefix(i);
    // Fraction: digits past what fits are ignored, as in Go.
    uint64_t fraction = 0;
    double scale = 1;
    bool have_fraction = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      bool overflow = false;
      for (i = 0; i < s.size() && IsDigit(s[i]); ++i) {
        if (overflow) continue;
        if (fraction > (kMax - 1) / 10) {
          overflow = true;
          continue;
        }
        const uint64_t next = fraction * 10 + static_cast<uint64_t>(s[i] - '0');
        if (next > kMax) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      have_fraction = i > 0;
      s.remove_prefix(i);
    }
    if (!have_whole && !have_fraction) return invalid();
    // Unit: everything up to the next number.
    i = 0;
    while (i < s.size() && s[i] != '.' && !IsDigit(s[i])) ++i;
    if (i == 0) {
      if (error != nullptr) *error = "time: missing unit in duration " + quoted;
      return false;
    }
    const std::string_view unit_name = s.substr(0, i);
    s.remove_prefix(i);
    uint64_t unit = 0;
    for (const Unit& u : kUnits) {
      if (u.name == unit_name) unit = u.nanoseconds;
    }
    if (unit == 0) {
      if (error != nullptr) {
        *error = "time: unknown unit \"" + std::string(unit_name) + "\" in duration " + quoted;
      }
      return false;
    }
    if (whole > kMax / unit) return invalid();
    whole *= unit;
    if (fraction > 0) {
      whole += static_cast<uint64_t>(static_cast<double>(fraction) *
                                     (static_cast<double>(unit) / scale));
      if (whole > kMax) return invalid();
    }
    total += whole;
    if (total > kMax) return invalid();
  }
  if (negative) {
    *nanoseconds = static_cast<int64_t>(0 - total);
    return true;
  }
  if (total > kMax - 1) return invalid();
  *nanoseconds = static_cast<int64_t>(total);
  return true;
}

}  // namespace warpdns::config
