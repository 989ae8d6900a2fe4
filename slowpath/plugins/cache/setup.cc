// The `cache` directive: CoreDNS's cacheParse, with every error naming its
// place in the Corefile.
#include <algorithm>
#include <charconv>
#include <string>

#include "slowpath/plugins/cache/cache.h"

namespace warpdns::slowpath::cache {
namespace {

constexpr int64_t kMaxServfailTtl = 300 * kSecond;  // RFC 2308 section 7.1
constexpr int64_t kMaxFailureRecheck = 300 * kSecond;

// Go's strconv.Atoi: an optional sign and decimal digits, nothing else.
bool Atoi(const std::string& text, int64_t* out) {
  std::string_view s = text;
  if (!s.empty() && s[0] == '+') {
    s.remove_prefix(1);
    if (!s.empty() && s[0] == '-') return false;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::string AtoiError(const std::string& text) {
  return "strconv.Atoi: parsing \"" + text + "\": invalid syntax";
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(wire::ToLowerOctet(static_cast<uint8_t>(c)));
  return s;
}

// plugin.Name.Normalize: lowercase and fully qualified; empty if not a name.
std::string NormalizeName(const std::string& text) {
  wire::Name name;
  if (!wire::Name::FromText(text, &name)) return "";
  return name.ToLowerText();
}

class Parser {
 public:
  Parser(const SetupContext& ctx, Config* config, std::string* error)
      : ctx_(ctx), config_(config), error_(error) {}

  bool Parse() {
    const config::Directive& d = ctx_.directive;
    std::vector<config::Token> args = d.args;
    // A leading integer is the TTL of both caches, anything else a zone.
    if (int64_t ttl; !args.empty() && Atoi(args[0].text, &ttl)) {
      if (ttl <= 0) {
        return Fail(args[0], "cache TTL can not be zero or negative: " + std::to_string(ttl));
      }
      config_->success_max_ttl = config_->denial_max_ttl = ttl * kSecond;
      args.erase(args.begin());
    }
    if (args.empty()) {
      config_->zones = ctx_.zones;
    } else {
      for (const config::Token& t : args) {
        // Zones are server block keys: a port or transport is dropped, a
        // CIDR stands for its reverse zones.
        std::vector<config::Address> addresses;
        std::string unused;
        if (!config::ParseAddressKey(t, 53, &addresses, &unused)) {
          return Fail(t, "invalid zone '" + t.text + "'");
        }
        for (config::Address& a : addresses) config_->zones.push_back(std::move(a.zone));
      }
    }
    for (const config::Directive& opt : d.block) {
      if (opt.has_block) {
        return Fail(opt.block_open, "Unexpected token '{', expecting argument");
      }
      if (!Option(opt)) return false;
    }
    return true;
  }

 private:
  bool Option(const config::Directive& opt) {
    const std::string& name = opt.name.text;
    const std::vector<config::Token>& a = opt.args;
    if (name == "success" || name == "denial") {
      const bool success = name == "success";
      if (a.empty() || a.size() > 3) return ArgError(opt);
      int64_t capacity, ttl, min_ttl;
      if (!Atoi(a[0].text, &capacity)) return Fail(a[0], AtoiError(a[0].text));
      (success ? config_->success_capacity : config_->denial_capacity) = capacity;
      if (a.size() > 1) {
        if (!Atoi(a[1].text, &ttl)) return Fail(a[1], AtoiError(a[1].text));
        if (ttl <= 0) {
          return Fail(a[1], "cache TTL can not be zero or negative: " + std::to_string(ttl));
        }
        (success ? config_->success_max_ttl : config_->denial_max_ttl) = ttl * kSecond;
      }
      if (a.size() > 2) {
        if (!Atoi(a[2].text, &min_ttl)) return Fail(a[2], AtoiError(a[2].text));
        if (min_ttl < 0) {
          return Fail(a[2], "cache min TTL can not be negative: " + std::to_string(min_ttl));
        }
        (success ? config_->success_min_ttl : config_->denial_min_ttl) = min_ttl * kSecond;
      }
      return true;
    }
    if (name == "prefetch") {
      if (a.empty() || a.size() > 3) return ArgError(opt);
      int64_t amount;
      if (!Atoi(a[0].text, &amount)) return Fail(a[0], AtoiError(a[0].text));
      if (amount < 0 || amount > INT32_MAX) {
        return Fail(a[0], "prefetch amount should be positive: " + a[0].text);
      }
      config_->prefetch = static_cast<int>(amount);
      if (a.size() > 1 && !Duration(a[1], &config_->prefetch_window)) return false;
      if (a.size() > 2) {
        std::string pct = a[2].text;
        if (pct.empty() || pct.back() != '%') {
          return Fail(a[2], "last character of percentage should be `%`, but is: '" +
                                pct.substr(pct.empty() ? 0 : pct.size() - 1) + "'");
        }
        pct.pop_back();
        int64_t num;
        if (!Atoi(pct, &num)) return Fail(a[2], AtoiError(pct));
        if (num < 10 || num > 90) {
          return Fail(a[2], "percentage should fall in range [10, 90]: " + std::to_string(num));
        }
        config_->prefetch_percentage = static_cast<int>(num);
      }
      return true;
    }
    if (name == "serve_stale") return ServeStale(opt);
    if (name == "servfail") {
      if (a.size() != 1) return ArgError(opt);
      int64_t d;
      if (!Duration(a[0], &d)) return false;
      if (d < 0) return Fail(a[0], "invalid negative ttl for servfail");
      if (d > kMaxServfailTtl) {
        return Fail(a[0], "caching SERVFAIL responses over 5 minutes is not permitted");
      }
      config_->servfail_ttl = d;
      return true;
    }
    if (name == "disable") {
      if (a.empty()) return ArgError(opt);
      std::vector<std::string> zones;
      for (size_t i = 1; i < a.size(); ++i) {
        std::string z = NormalizeName(a[i].text);
        if (z.empty()) return Fail(a[i], "invalid disabled zone: " + a[i].text);
        zones.push_back(std::move(z));
      }
      if (zones.empty()) zones.push_back(".");
      if (a[0].text == "success") {
        config_->success_disabled = std::move(zones);
      } else if (a[0].text == "denial") {
        config_->denial_disabled = std::move(zones);
      } else {
        return Fail(a[0], "cache type for disable must be \"success\" or \"denial\"");
      }
      return true;
    }
    if (name == "keepttl") {
      if (!a.empty()) return ArgError(opt);
      config_->keepttl = true;
      return true;
    }
    *error_ = "plugin/cache: " + config::ArgErrorAt(opt.name);
    return false;
  }

  // serve_stale [DURATION] [immediate [RESPONSE_TTL [FAILURE_RECHECK]] |
  //                         verify [VERIFY_TIMEOUT [RESPONSE_TTL [FAILURE_RECHECK]]]]
  bool ServeStale(const config::Directive& opt) {
    const std::vector<config::Token>& a = opt.args;
    if (a.size() > 5) return ArgError(opt);
    config_->stale = 3600 * kSecond;
    if (!a.empty()) {
      if (!Duration(a[0], &config_->stale)) return false;
      if (config_->stale < 0) return Fail(a[0], "invalid negative duration for serve_stale");
    }
    if (a.size() < 2) return true;
    const std::string mode = Lower(a[1].text);
    if (mode != "immediate" && mode != "verify") {
      return Fail(a[1], "invalid value for serve_stale refresh mode: " + mode);
    }
    config_->verify_stale = mode == "verify";
    size_t i = 2;
    if (config_->verify_stale && i < a.size()) {
      if (!NonNegative(a[i++], &config_->verify_timeout)) return false;
    }
    if (i < a.size()) {
      int64_t ttl;
      if (!NonNegative(a[i], &ttl)) return false;
      if (ttl / kSecond > INT32_MAX) return Fail(a[i], "invalid serve_stale response TTL");
      config_->stale_response_ttl = static_cast<uint32_t>(ttl / kSecond);
      ++i;
    }
    if (i < a.size()) {
      if (!NonNegative(a[i], &config_->failure_recheck)) return false;
      if (config_->failure_recheck > kMaxFailureRecheck) {
        return Fail(a[i], "serve_stale failure recheck may not exceed 5m");
      }
      ++i;
    }
    return i == a.size() || ArgError(opt);
  }

  bool Duration(const config::Token& t, int64_t* ns) {
    std::string why;
    if (config::ParseDuration(t.text, ns, &why)) return true;
    return Fail(t, why);
  }

  bool NonNegative(const config::Token& t, int64_t* ns) {
    if (!Duration(t, ns)) return false;
    return *ns >= 0 || Fail(t, "invalid negative duration '" + t.text + "'");
  }

  bool ArgError(const config::Directive& opt) {
    *error_ = "plugin/cache: " + config::ArgErrorAt(opt.args.empty() ? opt.name : opt.args.back());
    return false;
  }

  bool Fail(const config::Token& at, const std::string& message) {
    *error_ = "plugin/cache: " + config::ErrorAt(at, message);
    return false;
  }

  const SetupContext& ctx_;
  Config* config_;
  std::string* error_;
};

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  Config config;
  if (!ParseConfig(ctx, &config, error)) return nullptr;
  return std::make_unique<Cache>(std::move(config), MonotonicNow);
}

const Registrar kRegistrar({"cache", Setup, true});

}  // namespace

bool ParseConfig(const SetupContext& ctx, Config* config, std::string* error) {
  return Parser(ctx, config, error).Parse();
}

}  // namespace warpdns::slowpath::cache
