// The global options block's `io` line: socket or DPDK mode and their knobs.
#include "config/io.h"

#include <arpa/inet.h>

#include <algorithm>
#include <bit>
#include <map>
#include <set>
#include <string_view>
#include <utility>

namespace warpdns::config {
namespace {

constexpr uint64_t kMaxWorkers = 128;
// IFNAMSIZ (16) includes the terminating NUL.
constexpr size_t kMaxIfName = 15;
// Bounds lcore ranges so a typo like "0-99999999" cannot make us loop; the
// real limit (RTE_MAX_LCORE, 128 by default) is DPDK's to enforce.
constexpr int kMaxLcoreId = 1023;
constexpr uint64_t kMinMbufs = 1024;
constexpr uint64_t kMaxMbufs = uint64_t{1} << 24;

constexpr std::string_view kDpdkOptions =
    "eal, port, workers, exception, descriptors, mbufs, burst, punt_ring or table_slots";

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string Where(const Token& t) { return t.file + ":" + std::to_string(t.line); }

// Plain decimal digits only: no sign, no hex, no spaces.
bool ParseDecimal(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = value;
  return true;
}

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Lcores in an EAL -l/--lcores list: "0-1", "0,2,4", "1-3,5", and the
// --lcores forms "(0-1)@2" and "3@(4,5)" (lcores left of '@', CPUs right).
// Returns 0 if malformed.
int CountLcoreList(std::string_view list) {
  size_t i = 0;
  auto number = [&](int* out) {
    size_t start = i;
    int value = 0;
    while (i < list.size() && list[i] >= '0' && list[i] <= '9' && i - start < 5) {
      value = value * 10 + (list[i++] - '0');
    }
    *out = value;
    return i > start && value <= kMaxLcoreId;
  };
  auto range = [&](std::set<int>* ids) {
    int lo = 0;
    int hi = 0;
    if (!number(&lo)) return false;
    hi = lo;
    if (i < list.size() && list[i] == '-') {
      ++i;
      if (!number(&hi) || hi < lo) return false;
    }
    for (int id = lo; id <= hi; ++id) ids->insert(id);
    return true;
  };
  // One id, range, or parenthesised comma list of them.
  auto set = [&](std::set<int>* ids) {
    if (i >= list.size() || list[i] != '(') return range(ids);
    ++i;
    while (true) {
      if (!range(ids)) return false;
      if (i < list.size() && list[i] == ',') {
        ++i;
        continue;
      }
      if (i < list.size() && list[i] == ')') {
        ++i;
        return true;
      }
      return false;
    }
  };

  std::set<int> lcores;
  while (true) {
    if (!set(&lcores)) return 0;
    if (i < list.size() && list[i] == '@') {
      ++i;
      std::set<int> cpus;
      if (!set(&cpus)) return 0;
    }
    if (i == list.size()) break;
    if (list[i] != ',') return 0;
    ++i;
  }
  return static_cast<int>(lcores.size());
}

// Set bits of an EAL -c hex mask ("0x3", "f"); 0 if malformed or empty.
int CountCoreMask(std::string_view mask) {
  if (mask.size() > 2 && mask[0] == '0' && (mask[1] == 'x' || mask[1] == 'X')) {
    mask.remove_prefix(2);
  }
  if (mask.empty()) return 0;
  int bits = 0;
  for (char c : mask) {
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      return 0;
    }
    bits += std::popcount(static_cast<unsigned>(digit));
  }
  return bits;
}

class IoParser {
 public:
  explicit IoParser(std::string* error) : error_(error) {}

  std::optional<IoPlan> Parse(const Directive* global) {
    if (global == nullptr) return plan_;
    const Directive* io = nullptr;
    for (const Directive& d : global->block) {
      if (d.name.text != "io") {
        Fail(d.name, "unknown global option " + Quote(d.name.text) + ", expected 'io'");
        return std::nullopt;
      }
      if (io != nullptr) {
        Fail(d.name, "'io' may appear only once (first at " + Where(io->name) + ")");
        return std::nullopt;
      }
      io = &d;
    }
    if (io != nullptr && !ParseIo(*io)) return std::nullopt;
    return plan_;
  }

 private:
  bool Fail(const Token& at, std::string_view message) {
    if (error_ != nullptr) *error_ = ErrorAt(at, message);
    return false;
  }

  bool ParseIo(const Directive& io) {
    plan_.at = io.name;
    if (io.args.empty()) {
      if (io.has_block) return Fail(io.block_open, "'io' expects a mode: 'socket' or 'dpdk'");
      return Fail(io.name, "'io' expects a mode: 'socket' or 'dpdk'");
    }
    const Token& mode = io.args[0];
    if (mode.text == "socket") {
      plan_.mode = IoPlan::Mode::kSocket;
    } else if (mode.text == "dpdk") {
      plan_.mode = IoPlan::Mode::kDpdk;
    } else {
      return Fail(mode, "unknown io mode " + Quote(mode.text) + ", expected 'socket' or 'dpdk'");
    }
    if (io.args.size() > 1) {
      return Fail(io.args[1], "unexpected " + Quote(io.args[1].text) + " after 'io " + mode.text +
                                  "', expected '{' or the end of the line");
    }
    if (plan_.mode == IoPlan::Mode::kDpdk && !io.has_block) {
      return Fail(mode, "'io dpdk' requires a block with 'eal' and 'port' lines: 'io dpdk {'");
    }
    for (const Directive& d : io.block) {
      if (!ParseOption(d)) return false;
    }
    return plan_.mode == IoPlan::Mode::kDpdk ? CheckDpdk(io) : true;
  }

  bool ParseOption(const Directive& d) {
    const std::string& name = d.name.text;
    const bool dpdk = plan_.mode == IoPlan::Mode::kDpdk;
    const bool dpdk_only = name == "eal" || name == "port" || name == "exception" ||
                           name == "descriptors" || name == "mbufs" || name == "burst" ||
                           name == "punt_ring" || name == "table_slots";
    if (!dpdk && dpdk_only) {
      return Fail(d.name, Quote(name) + " is an io dpdk option, io socket takes only 'workers'");
    }
    if (name != "workers" && !dpdk_only) {
      if (dpdk) {
        return Fail(d.name, "unknown io dpdk option " + Quote(name) + ", expected " +
                                std::string(kDpdkOptions));
      }
      return Fail(d.name, "unknown io socket option " + Quote(name) + ", expected 'workers'");
    }
    if (d.has_block) {
      return Fail(d.block_open,
                  "unexpected '{' after " + Quote(name) + ", io options take no block");
    }
    for (const Token& arg : d.args) {
      if (arg.text.empty()) {
        return Fail(arg, "empty argument to " + Quote(name) + " (an unset environment variable?)");
      }
    }
    // One port is a limit of today's fast path, not a syntax rule: own message.
    if (name == "port" && !plan_.ports.empty()) {
      return Fail(d.name, "only one port is supported (first at " + Where(plan_.ports[0].at) + ")");
    }
    auto [first, inserted] = seen_.emplace(name, d.name);
    if (!inserted) {
      return Fail(d.name, Quote(name) + " may appear only once in the io block (first at " +
                              Where(first->second) + ")");
    }

    uint64_t n = 0;
    if (name == "workers") {
      if (!Number(d, 1, kMaxWorkers, false, "an integer 1..128 (leave it out for automatic)", &n))
        return false;
      plan_.workers = static_cast<int>(n);
      workers_value_ = d.args[0];
    } else if (name == "eal") {
      return ParseEal(d);
    } else if (name == "port") {
      return ParsePort(d);
    } else if (name == "exception") {
      return ParseException(d);
    } else if (name == "descriptors") {
      if (!Number(d, 64, 16384, true, "a power of two 64..16384", &n)) return false;
      plan_.rx_descriptors = static_cast<uint16_t>(n);
    } else if (name == "mbufs") {
      if (!Number(d, 0, kMaxMbufs, false, "0 (automatic) or an integer 1024..16777216", &n))
        return false;
      if (n != 0 && n < kMinMbufs) {
        return Fail(d.args[0], "invalid mbufs " + Quote(d.args[0].text) +
                                   ", expected 0 (automatic) or an integer 1024..16777216");
      }
      plan_.mbufs = static_cast<uint32_t>(n);
    } else if (name == "burst") {
      if (!Number(d, 1, 256, false, "an integer 1..256", &n)) return false;
      plan_.burst = static_cast<uint32_t>(n);
    } else if (name == "punt_ring") {
      if (!Number(d, 64, 65536, true, "a power of two 64..65536", &n)) return false;
      plan_.punt_ring = static_cast<uint32_t>(n);
    } else if (name == "table_slots") {
      if (!Number(d, 1024, uint64_t{1} << 26, true, "a power of two 1024..67108864", &n))
        return false;
      plan_.table_slots = static_cast<uint32_t>(n);
    }
    return true;
  }

  // `name N` with N in lo..hi (and a power of two if asked).
  bool Number(const Directive& d, uint64_t lo, uint64_t hi, bool power_of_two,
              std::string_view expected, uint64_t* out) {
    const std::string& name = d.name.text;
    if (d.args.empty()) return Fail(d.name, Quote(name) + " expects " + std::string(expected));
    if (d.args.size() > 1) return ExtraArg(d.args[1], name + " " + d.args[0].text);
    const Token& value = d.args[0];
    if (!ParseDecimal(value.text, out) || *out < lo || *out > hi ||
        (power_of_two && !IsPowerOfTwo(*out))) {
      return Fail(value, "invalid " + name + " " + Quote(value.text) + ", expected " +
                             std::string(expected));
    }
    return true;
  }

  bool ExtraArg(const Token& extra, const std::string& after) {
    return Fail(extra, "unexpected " + Quote(extra.text) + " after " + Quote(after) +
                           ", expected the end of the line");
  }

  // Keeps the arguments for rte_eal_init; checks only what warpdns must know
  // (the lcore count) or what would stop it from owning the process.
  bool ParseEal(const Directive& d) {
    if (d.args.empty()) {
      return Fail(d.name,
                  "'eal' expects EAL arguments, such as: eal --no-huge -m 512 --no-pci -l 0-1");
    }
    const Token* in_memory = nullptr;
    const Token* no_huge = nullptr;
    for (size_t i = 0; i < d.args.size(); ++i) {
      const Token& arg = d.args[i];
      const std::string& a = arg.text;
      plan_.eal_args.push_back(a);
      if (a == "-h" || a == "--help") {
        return Fail(arg, "EAL option " + Quote(a) +
                             " prints usage and exits the process, expected EAL options to run "
                             "with");
      }
      if (a == "--in-memory") in_memory = &arg;
      if (a == "--no-huge") no_huge = &arg;
      if (in_memory != nullptr && no_huge != nullptr) {
        return Fail(arg,
                    "EAL options --in-memory and --no-huge cannot be used together (DPDK rejects "
                    "them: --no-huge implies --legacy-mem, which --in-memory does not support), "
                    "expected --no-huge --no-shconf to run without hugepages");
      }

      std::string value;
      const Token* value_token = nullptr;
      std::string option;
      if (!OptionValue(d, &i, "--proc-type", &option, &value, &value_token)) return false;
      if (value_token != nullptr) {
        if (value != "primary") {
          return Fail(*value_token, "EAL --proc-type " + Quote(value) +
                                        " is not supported, expected 'primary' (warpdns owns "
                                        "its port, so it must be DPDK's primary process)");
        }
        continue;
      }
      for (const char* lcore_option : {"-l", "--lcores", "-c"}) {
        if (!OptionValue(d, &i, lcore_option, &option, &value, &value_token)) return false;
        if (value_token == nullptr) continue;
        if (!lcore_option_.empty()) {
          return Fail(arg, "EAL option " + Quote(option) + " repeats the lcore list given by " +
                               Quote(lcore_option_) + ", expected one of -l, --lcores or -c");
        }
        const bool mask = option == "-c";
        const int count = mask ? CountCoreMask(value) : CountLcoreList(value);
        if (count == 0) {
          if (mask) {
            return Fail(*value_token, "invalid EAL core mask " + Quote(value) +
                                          " after '-c', expected a hexadecimal mask such as 0x3");
          }
          return Fail(*value_token, "invalid EAL lcore list " + Quote(value) + " after " +
                                        Quote(option) +
                                        ", expected lcore ids and ranges such as 0-1, 0,2,4 "
                                        "or 1-3,5");
        }
        lcore_option_ = option + " " + value;
        plan_.eal_lcores = count;
        break;
      }
    }
    return true;
  }

  // If d.args[*i] is `option` ("-l 0-1", "-l0-1", "--lcores 0-1",
  // "--lcores=0-1"), sets *value and *value_token and advances *i past a
  // separate value; otherwise leaves *value_token null.
  bool OptionValue(const Directive& d, size_t* i, std::string_view option, std::string* name,
                   std::string* value, const Token** value_token) {
    *value_token = nullptr;
    const Token& arg = d.args[*i];
    const std::string_view a = arg.text;
    const bool is_long = option.substr(0, 2) == "--";
    if (a == option) {
      if (*i + 1 >= d.args.size()) {
        return Fail(arg, "EAL option " + Quote(option) + " expects a value");
      }
      ++*i;
      plan_.eal_args.push_back(d.args[*i].text);
      *value = d.args[*i].text;
      *value_token = &d.args[*i];
    } else if (!is_long && a.size() > option.size() && a.substr(0, option.size()) == option) {
      *value = std::string(a.substr(option.size()));
      *value_token = &arg;
    } else if (is_long && a.size() > option.size() && a.substr(0, option.size()) == option &&
               a[option.size()] == '=') {
      *value = std::string(a.substr(option.size() + 1));
      *value_token = &arg;
    } else {
      return true;
    }
    *name = std::string(option);
    return true;
  }

  bool ParsePort(const Directive& d) {
    constexpr std::string_view kSyntax = "port DEVARGS address ADDR...";
    if (d.args.empty()) {
      return Fail(d.name,
                  "'port' expects a DPDK device and its addresses: " + std::string(kSyntax));
    }
    IoPort port;
    port.at = d.name;
    port.devargs = d.args[0].text;
    if (d.args.size() < 2) {
      return Fail(d.args[0], "expected 'address' and at least one address after 'port " +
                                 port.devargs + "': " + std::string(kSyntax));
    }
    if (d.args[1].text != "address") {
      return Fail(d.args[1], "unexpected " + Quote(d.args[1].text) + " after 'port " +
                                 port.devargs + "', expected 'address': " + std::string(kSyntax));
    }
    if (d.args.size() < 3) {
      return Fail(d.args[1],
                  "'address' expects at least one IPv4 or IPv6 address: " + std::string(kSyntax));
    }
    std::map<std::string, const Token*> ips;  // without prefix, for duplicates
    for (size_t i = 2; i < d.args.size(); ++i) {
      const Token& token = d.args[i];
      std::string ip;
      std::string normalised;
      if (!NormaliseAddress(token, &ip, &normalised)) return false;
      auto [first, inserted] = ips.emplace(ip, &token);
      if (!inserted) {
        return Fail(token, "address " + Quote(token.text) + " repeats " +
                               Quote(first->second->text) + " on the same port");
      }
      port.addresses.push_back(std::move(normalised));
    }
    plan_.ports.push_back(std::move(port));
    return true;
  }

  // "10.99.0.1/24" -> ip "10.99.0.1", normalised "10.99.0.1/24"; the prefix
  // defaults to the full length and IPv6 is printed in RFC 5952 form.
  bool NormaliseAddress(const Token& token, std::string* ip, std::string* normalised) {
    const std::string& text = token.text;
    const size_t slash = text.find('/');
    const std::string address = text.substr(0, slash);
    const bool v6 = address.find(':') != std::string::npos;
    const int family = v6 ? AF_INET6 : AF_INET;
    unsigned char bytes[16] = {};
    if (inet_pton(family, address.c_str(), bytes) != 1) {
      return Fail(token, "invalid address " + Quote(text) +
                             ", expected an IPv4 or IPv6 address with an optional /prefix "
                             "(10.99.0.1/24, fd00:99::1/64)");
    }
    const uint64_t max_prefix = v6 ? 128 : 32;
    uint64_t prefix = max_prefix;
    if (slash != std::string::npos &&
        (!ParseDecimal(std::string_view(text).substr(slash + 1), &prefix) || prefix < 1 ||
         prefix > max_prefix)) {
      return Fail(token, "invalid prefix length in " + Quote(text) + ", expected /1../" +
                             std::to_string(max_prefix));
    }
    const bool unspecified =
        std::all_of(bytes, bytes + (v6 ? 16 : 4), [](unsigned char b) { return b == 0; });
    const bool multicast = v6 ? bytes[0] == 0xff : (bytes[0] & 0xf0) == 0xe0;
    if (unspecified || multicast) {
      return Fail(token, "address " + Quote(text) + " is " +
                             (unspecified ? "unspecified" : "multicast") +
                             ", expected a unicast address for the port");
    }
    char buffer[INET6_ADDRSTRLEN] = {};
    inet_ntop(family, bytes, buffer, sizeof(buffer));
    *ip = buffer;
    *normalised = *ip + "/" + std::to_string(prefix);
    return true;
  }

  bool ParseException(const Directive& d) {
    if (d.args.empty()) return Fail(d.name, "'exception' expects 'tap NAME'");
    if (d.args[0].text != "tap") {
      return Fail(d.args[0], "unknown exception interface type " + Quote(d.args[0].text) +
                                 ", expected 'tap NAME'");
    }
    if (d.args.size() < 2) return Fail(d.args[0], "'exception tap' expects an interface name");
    if (d.args.size() > 2) return ExtraArg(d.args[2], "exception tap " + d.args[1].text);
    const Token& name = d.args[1];
    // Linux's dev_valid_name(): what `ip link` would refuse.
    bool valid = name.text.size() <= kMaxIfName && name.text != "." && name.text != "..";
    for (char c : name.text) {
      valid = valid && c != '/' && c != ':' && c != ' ' && c != '\t' && c != '\n';
    }
    if (!valid) {
      return Fail(name, "invalid tap name " + Quote(name.text) +
                            ", expected 1..15 characters (IFNAMSIZ) without '/', ':' or spaces");
    }
    plan_.exception_tap = name.text;
    return true;
  }

  // What needs the whole block: required lines and the workers/lcores fit.
  bool CheckDpdk(const Directive& io) {
    if (seen_.count("eal") == 0) {
      return Fail(io.name,
                  "'io dpdk' requires an 'eal' line with the EAL arguments, such as: "
                  "eal --no-huge -m 512 --no-pci -l 0-1");
    }
    if (plan_.ports.empty()) {
      return Fail(io.name, "'io dpdk' requires a 'port' line: port DEVARGS address ADDR...");
    }
    // The main lcore runs the control thread; workers get the others.
    if (plan_.workers > 0 && plan_.eal_lcores > 0 && plan_.workers > plan_.eal_lcores - 1) {
      return Fail(workers_value_, "workers " + std::to_string(plan_.workers) + " needs " +
                                      std::to_string(plan_.workers + 1) +
                                      " EAL lcores (one per worker plus the main lcore), but '" +
                                      lcore_option_ + "' gives " +
                                      std::to_string(plan_.eal_lcores));
    }
    return true;
  }

  std::string* error_;
  IoPlan plan_;
  std::map<std::string, Token> seen_;  // io option -> its first name token
  Token workers_value_;
  std::string lcore_option_;  // "-l 0-1" as written, for messages
};

}  // namespace

bool IoPort::operator==(const IoPort& other) const {
  return devargs == other.devargs && addresses == other.addresses;
}

bool IoPlan::operator==(const IoPlan& other) const {
  return mode == other.mode && workers == other.workers && eal_args == other.eal_args &&
         eal_lcores == other.eal_lcores && ports == other.ports &&
         exception_tap == other.exception_tap && rx_descriptors == other.rx_descriptors &&
         mbufs == other.mbufs && burst == other.burst && punt_ring == other.punt_ring &&
         table_slots == other.table_slots;
}

const char* IoModeName(IoPlan::Mode mode) {
  return mode == IoPlan::Mode::kDpdk ? "dpdk" : "socket";
}

std::optional<IoPlan> ParseIoPlan(const Directive* global, std::string* error) {
  return IoParser(error).Parse(global);
}

}  // namespace warpdns::config
