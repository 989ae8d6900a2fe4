#include "slowpath/plugins/loadbalance/loadbalance.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::loadbalance {
namespace {

constexpr int64_t kDefaultReloadNs = 30'000'000'000;

bool ParseIp(const std::string& text, Address* out) {
  in_addr a4;
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    *out = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::memcpy(out->data() + 12, &a4, 4);
    return true;
  }
  return inet_pton(AF_INET6, text.c_str(), out->data()) == 1;
}

// The address of an A or AAAA record.
bool AddressOf(const wire::Rr& rr, Address* out) {
  if (rr.type == wire::type::kA && rr.rdata.size() == 4) {
    *out = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::memcpy(out->data() + 12, rr.rdata.data(), 4);
    return true;
  }
  if (rr.type == wire::type::kAaaa && rr.rdata.size() == 16) {
    std::memcpy(out->data(), rr.rdata.data(), 16);
    return true;
  }
  return false;
}

// A section split as CoreDNS's shufflers see it.
struct Split {
  std::vector<wire::Rr> cname, address, mx, rest;
};

Split SplitSection(std::vector<wire::Rr> in) {
  Split s;
  for (wire::Rr& rr : in) {
    switch (rr.type) {
      case wire::type::kCname:
        s.cname.push_back(std::move(rr));
        break;
      case wire::type::kA:
      case wire::type::kAaaa:
        s.address.push_back(std::move(rr));
        break;
      case wire::type::kMx:
        s.mx.push_back(std::move(rr));
        break;
      default:
        s.rest.push_back(std::move(rr));
    }
  }
  return s;
}

std::vector<wire::Rr> Join(std::initializer_list<std::vector<wire::Rr>*> parts) {
  std::vector<wire::Rr> out;
  for (auto* p : parts) std::move(p->begin(), p->end(), std::back_inserter(out));
  return out;
}

void Shuffle(std::vector<wire::Rr>& records, const Random& random) {
  const size_t n = records.size();
  auto id = [&] { return random() & 0xffff; };  // dns.Id(): 16 random bits
  if (n < 2) return;
  if (n == 2) {
    if (id() % 2 == 0) std::swap(records[0], records[1]);
    return;
  }
  for (size_t j = 0; j < n; ++j) {
    const size_t p = j + id() % (n - j);
    if (p != j) std::swap(records[j], records[p]);
  }
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(wire::ToLowerOctet(static_cast<uint8_t>(c)));
  return s;
}

// An IP prefix for `prefer`.
struct Subnet {
  Address base;
  int bits;  // over the 128-bit (v4-mapped) address

  bool Contains(const Address& a) const {
    for (int i = 0; i < bits / 8; ++i) {
      if (a[static_cast<size_t>(i)] != base[static_cast<size_t>(i)]) return false;
    }
    const int rest = bits % 8;
    if (rest == 0) return true;
    const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a[static_cast<size_t>(bits / 8)] & mask) ==
           (base[static_cast<size_t>(bits / 8)] & mask);
  }
};

// Go's net.ParseCIDR for "a.b.c.d/n" and "x::y/n".
bool ParseCidr(const std::string& text, Subnet* out) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos) return false;
  const std::string ip = text.substr(0, slash);
  const std::string len = text.substr(slash + 1);
  if (len.empty() || len.size() > 3 || !std::all_of(len.begin(), len.end(), ::isdigit)) {
    return false;
  }
  const int bits = std::stoi(len);
  const bool v4 = ip.find(':') == std::string::npos;
  if (!ParseIp(ip, &out->base) || bits > (v4 ? 32 : 128)) return false;
  out->bits = v4 ? 96 + bits : bits;
  return true;
}

// reorderRecords: CNAMEs, addresses in the preferred subnets (in the order
// the subnets are listed), the other addresses, MX, the rest.
std::vector<wire::Rr> Prefer(std::vector<wire::Rr> in, const std::vector<Subnet>& subnets) {
  Split s = SplitSection(std::move(in));
  std::vector<wire::Rr> sorted;
  std::vector<bool> taken(s.address.size(), false);
  for (const Subnet& subnet : subnets) {
    for (size_t i = 0; i < s.address.size(); ++i) {
      Address a;
      if (!taken[i] && AddressOf(s.address[i], &a) && subnet.Contains(a)) {
        sorted.push_back(s.address[i]);
        taken[i] = true;
      }
    }
  }
  for (size_t i = 0; i < s.address.size(); ++i) {
    if (!taken[i]) sorted.push_back(std::move(s.address[i]));
  }
  return Join({&s.cname, &sorted, &s.mx, &s.rest});
}

// Go's Duration.String for whole milliseconds: "30s", "1m30s", "500ms".
std::string GoDuration(int64_t ns) {
  int64_t ms = ns / 1'000'000;
  if (ms == 0) return "0s";
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string out;
  const int64_t h = ms / 3'600'000, m = ms / 60'000 % 60;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  const int64_t s = ms / 1000 % 60, frac = ms % 1000;
  out += std::to_string(s);
  if (frac > 0) {
    std::string f = std::to_string(frac + 1000).substr(1);
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "s";
}

// One random generator per thread: no shared writes when serving.
uint32_t ThreadRandom() {
  thread_local std::mt19937 gen(std::random_device{}());
  return static_cast<uint32_t>(gen());
}

// The weights file, re-read when its contents change. Shared with the
// reload task, which holds it weakly.
class WeightsFile {
 public:
  WeightsFile(std::string path, Host* host) : path_(std::move(path)), host_(host) {}

  enum class Load { kUnchanged, kLoaded, kCannotOpen, kBadFile };

  Load Reload(std::string* error) {
    std::lock_guard lock(reload_mu_);
    std::ifstream in(path_);
    if (!in) {
      *error = "weight file open error";
      return Load::kCannotOpen;
    }
    std::stringstream text;
    text << in.rdbuf();
    if (loaded_ && text.str() == contents_) return Load::kUnchanged;
    auto table = std::make_shared<WeightTable>();
    if (!ParseWeights(text, path_, table.get(), error)) return Load::kBadFile;
    contents_ = text.str();
    loaded_ = true;
    std::lock_guard table_lock(table_mu_);
    table_ = std::move(table);
    return Load::kLoaded;
  }

  // The periodic reload: logs what happened, as CoreDNS does.
  void ReloadAndLog() {
    std::string error;
    switch (Reload(&error)) {
      case Load::kLoaded:
        host_->Log("[INFO] plugin/loadbalance: Successfully reloaded weight file " + path_);
        break;
      case Load::kCannotOpen:
      case Load::kBadFile:
        host_->Log("[ERROR] plugin/loadbalance: " + error);
        break;
      case Load::kUnchanged:
        break;
    }
  }

  std::shared_ptr<const WeightTable> table() const {
    std::lock_guard lock(table_mu_);
    return table_;
  }

 private:
  const std::string path_;
  Host* const host_;
  std::mutex reload_mu_;  // one reload at a time; guards contents_, loaded_
  std::string contents_;
  bool loaded_ = false;
  mutable std::mutex table_mu_;  // guards table_, swapped whole
  std::shared_ptr<const WeightTable> table_ = std::make_shared<WeightTable>();
};

struct Policy {
  std::shared_ptr<WeightsFile> weights;  // null: round_robin
  std::vector<Subnet> prefer;
};

// Shuffles every NOERROR reply on its way up.
class Shuffler : public ResponseWriter {
 public:
  Shuffler(ResponseWriter& inner, const Policy& policy) : inner_(inner), policy_(policy) {}

  void WriteMsg(const wire::Message& reply) override {
    if (reply.Rcode() != wire::rcode::kNoError || reply.question.empty() ||
        reply.question[0].type == wire::type::kAxfr ||
        reply.question[0].type == wire::type::kIxfr) {
      inner_.WriteMsg(reply);
      return;
    }
    wire::Message m = reply;
    if (policy_.weights == nullptr) {
      m.answer = RoundRobin(std::move(m.answer), ThreadRandom);
      m.authority = RoundRobin(std::move(m.authority), ThreadRandom);
      m.additional = RoundRobin(std::move(m.additional), ThreadRandom);
    } else {
      const uint16_t qtype = m.question[0].type;
      if (qtype == wire::type::kA || qtype == wire::type::kAaaa || qtype == wire::type::kSrv) {
        const std::shared_ptr<const WeightTable> table = policy_.weights->table();
        m.answer = WeightedRoundRobin(std::move(m.answer), *table, ThreadRandom);
        m.additional = WeightedRoundRobin(std::move(m.additional), *table, ThreadRandom);
      }
    }
    if (!policy_.prefer.empty()) {
      m.answer = Prefer(std::move(m.answer), policy_.prefer);
      m.additional = Prefer(std::move(m.additional), policy_.prefer);
    }
    inner_.WriteMsg(m);
  }
  bool Written() const override { return inner_.Written(); }
  size_t Len() const override { return inner_.Len(); }

 private:
  ResponseWriter& inner_;
  const Policy& policy_;
};

class LoadBalance : public Plugin {
 public:
  explicit LoadBalance(Policy policy) : policy_(std::move(policy)) {}
  std::string_view Name() const override { return "loadbalance"; }
  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    // The fast path shuffles the A/AAAA and MX runs of a memoized reply with
    // per-core state instead.
    if (Deterministic()) req.replay.shuffle = true;
    Shuffler shuffler(w, policy_);
    co_return co_await Next(req, shuffler);
  }
  // round_robin is replayable (the fast path shuffles); weights and `prefer` order
  // addresses by data the fast path does not have.
  bool Deterministic() const override {
    return policy_.weights == nullptr && policy_.prefer.empty();
  }

 private:
  const Policy policy_;
};

bool SameDirective(const config::Directive& a, const config::Directive& b) {
  return &a == &b || (a.name.file == b.name.file && a.name.line == b.name.line);
}

// Applies one `loadbalance` line to *policy (CoreDNS's parse: a later line's
// policy replaces an earlier one, `prefer` subnets add up).
bool ParseLine(SetupContext& ctx, const config::Directive& d, Policy* policy, int64_t* reload_ns,
               std::string* path, std::string* error) {
  auto fail = [&](const config::Token& at, const std::string& message) {
    *error = "plugin/loadbalance: " + config::ErrorAt(at, message);
    return false;
  };
  const std::vector<config::Token>& args = d.args;
  bool weighted = false;
  if (!args.empty()) {
    if (args[0].text == "round_robin") {
      if (args.size() > 1) return fail(args[1], "unknown property for round_robin");
    } else if (args[0].text == "weighted") {
      if (args.size() < 2) return fail(args[0], "missing weight file argument");
      if (args.size() > 2) return fail(args[2], "unexpected argument(s)");
      weighted = true;
      *path = args[1].text;
      if (!path->starts_with('/') && !ctx.root.empty()) *path = ctx.root + "/" + *path;
    } else {
      return fail(args[0], "unknown policy: " + args[0].text);
    }
  }
  policy->weights = nullptr;
  *reload_ns = kDefaultReloadNs;
  for (const config::Directive& opt : d.block) {
    if (opt.has_block) return fail(opt.block_open, "Unexpected token '{', expecting argument");
    if (weighted && opt.name.text == "reload") {
      if (opt.args.empty()) return fail(opt.name, "reload duration value is missing");
      if (opt.args.size() > 1) return fail(opt.args[1], "unexpected argument");
      if (!config::ParseDuration(opt.args[0].text, reload_ns) || *reload_ns < 0) {
        return fail(opt.args[0], "invalid reload duration '" + opt.args[0].text + "'");
      }
    } else if (!weighted && opt.name.text == "prefer") {
      for (const config::Token& cidr : opt.args) {
        Subnet subnet;
        if (!ParseCidr(cidr.text, &subnet)) {
          return fail(cidr,
                      "invalid CIDR \"" + cidr.text + "\": invalid CIDR address: " + cidr.text);
        }
        policy->prefer.push_back(subnet);
      }
    } else {
      return fail(opt.name, "unknown property '" + opt.name.text + "'");
    }
  }
  if (weighted) policy->weights = std::make_shared<WeightsFile>(*path, ctx.host);
  return true;
}

// All `loadbalance` lines of a block make one plugin (CoreDNS parses them
// together): the first line's setup takes them all.
std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  std::vector<const config::Directive*> lines;
  for (const config::Directive& d : ctx.block.directives) {
    if (d.name.text == "loadbalance") lines.push_back(&d);
  }
  if (std::none_of(lines.begin(), lines.end(),
                   [&](const config::Directive* d) { return SameDirective(*d, ctx.directive); })) {
    lines = {&ctx.directive};
  } else if (!SameDirective(*lines.front(), ctx.directive)) {
    return nullptr;
  }
  Policy policy;
  int64_t reload_ns = 0;
  std::string path;
  for (const config::Directive* d : lines) {
    if (!ParseLine(ctx, *d, &policy, &reload_ns, &path, error)) return nullptr;
  }
  if (policy.weights != nullptr) {
    std::string message;
    switch (policy.weights->Reload(&message)) {
      case WeightsFile::Load::kCannotOpen:
        // Not fatal while a reload may find it later.
        if (reload_ns != 0) {
          ctx.host->Log("[WARNING] plugin/loadbalance: Failed to open weight file:" + message +
                        ". Will try again in " + GoDuration(reload_ns));
          break;
        }
        [[fallthrough]];
      case WeightsFile::Load::kBadFile:
        *error = "plugin/loadbalance: " + config::ErrorAt(lines.back()->name, message);
        return nullptr;
      default:
        break;
    }
    if (reload_ns > 0) {
      std::weak_ptr<WeightsFile> weak = policy.weights;
      ctx.host->Every(std::max<int64_t>(reload_ns / 1'000'000, 1), [weak] {
        if (auto w = weak.lock()) w->ReloadAndLog();
      });
    }
  }
  return std::make_unique<LoadBalance>(std::move(policy));
}

const Registrar kRegistrar({"loadbalance", Setup});

}  // namespace

std::vector<wire::Rr> RoundRobin(std::vector<wire::Rr> section, const Random& random) {
  Split s = SplitSection(std::move(section));
  Shuffle(s.address, random);
  Shuffle(s.mx, random);
  return Join({&s.cname, &s.rest, &s.address, &s.mx});
}

bool ParseWeights(std::istream& in, const std::string& file, WeightTable* table,
                  std::string* error) {
  std::string domain;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string f; words >> f;) fields.push_back(f);
    if (fields.empty() || fields[0].starts_with('#')) continue;
    Address address;
    switch (fields.size()) {
      case 1:
        if (ParseIp(fields[0], &address)) {
          *error = "Wrong domain name:\"" + fields[0] + "\" in weight file " + file +
                   ". (Maybe a missing weight value?)";
          return false;
        }
        domain = Lower(fields[0]);
        if (domain.back() != '.') domain += '.';
        table->domains[domain];
        break;
      case 2: {
        if (!ParseIp(fields[0], &address)) {
          *error = "Wrong IP address:\"" + fields[0] + "\" in weight file " + file;
          return false;
        }
        const std::string& w = fields[1];
        int weight = 0;
        if (w.size() <= 3 && std::all_of(w.begin(), w.end(), ::isdigit)) weight = std::stoi(w);
        if (weight < 1 || weight > 255) {
          *error = "Wrong weight value:\"" + w + "\" in weight file " + file;
          return false;
        }
        if (domain.empty()) {
          *error = "Missing domain name in weight file " + file;
          return false;
        }
        table->domains[domain].emplace_back(address, static_cast<uint8_t>(weight));
        break;
      }
      default:
        *error = "Could not parse weight line:\"" + line + "\" in weight file " + file;
        return false;
    }
  }
  return true;
}

std::vector<wire::Rr> WeightedRoundRobin(std::vector<wire::Rr> section, const WeightTable& table,
                                         const Random& random) {
  if (std::none_of(section.begin(), section.end(), [](const wire::Rr& rr) {
        return rr.type == wire::type::kA || rr.type == wire::type::kAaaa;
      })) {
    return section;  // untouched, not even regrouped
  }
  Split s = SplitSection(std::move(section));
  struct Weighted {
    size_t index;
    uint32_t weight;
  };
  std::vector<Weighted> weighted;
  uint32_t sum = 0;
  for (size_t i = 0; i < s.address.size(); ++i) {
    uint32_t weight = 1;
    Address a;
    auto it = table.domains.find(s.address[i].name.ToLowerText());
    if (it != table.domains.end() && AddressOf(s.address[i], &a)) {
      for (const auto& [address, value] : it->second) {
        if (address == a) {
          weight = value;
          break;
        }
      }
    }
    weighted.push_back({i, weight});
    sum += weight;
  }
  std::stable_sort(weighted.begin(), weighted.end(),
                   [](const Weighted& a, const Weighted& b) { return a.weight > b.weight; });
  uint32_t v = random() % sum;
  for (const Weighted& w : weighted) {
    if (v < w.weight) {
      std::swap(s.address[0], s.address[w.index]);
      break;
    }
    v -= w.weight;
  }
  return Join({&s.cname, &s.rest, &s.address, &s.mx});
}

}  // namespace warpdns::slowpath::loadbalance
