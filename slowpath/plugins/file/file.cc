// file: serves zones from RFC 1035 master files (CoreDNS plugin/file).
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/corefile.h"
#include "fastpath/table/generation.h"
#include "slowpath/chain/plugin.h"
#include "slowpath/plugins/file/zone.h"

namespace warpdns::slowpath::file {
namespace {

constexpr int64_t kDefaultReloadNs = int64_t{60} * 1000 * 1000 * 1000;
// CoreDNS stops answering a zone's questions once CNAME targets have been
// resolved through the server this many times in a row (dnsserver.LoopKey).
constexpr int kMaxResolveDepth = 8;

// How many Host::Resolve calls deep this request is: the host tags the
// requests it makes (CoreDNS keeps the count in the context, LoopKey).
int ResolveDepth(const Request& req) {
  auto it = req.metadata.find("warpdns/resolve_depth");
  return it == req.metadata.end() ? 0 : std::atoi(it->second.c_str());
}

// What identifies one version of a file on disk.
struct FileStamp {
  int64_t mtime_ns = -1;
  off_t size = -1;
  ino_t inode = 0;
  bool operator==(const FileStamp&) const = default;
};

// One zone served from one file. `zone` is swapped whole on reload.
struct ZoneSlot {
  wire::Name origin;
  std::string path;
  std::atomic<std::shared_ptr<const Zone>> zone;  // null until the file loads
  // The reload task's memory (only it touches these).
  FileStamp parsed;          // the file version last parsed
  bool parsed_racy = false;  // it may still have been being written: parse again
  FileStamp served;          // the file version `zone` came from
  std::string parse_error;   // why `parsed` did not load
};

// Everything the reload task needs; it holds a weak_ptr so that a plugin
// dropped by a Corefile reload stops its task from touching anything.
struct State {
  std::vector<std::unique_ptr<ZoneSlot>> zones;
  bool reload_by_mtime = false;
  bool fallthrough = false;
  std::vector<wire::Name> fall_zones;  // empty with fallthrough: every name
  Host* host = nullptr;
};

void Log(Host* host, const std::string& line) {
  if (host != nullptr) host->Log(line);
}

// Go's error text for a failed open: "open PATH: no such file or directory".
std::string OpenError(const std::string& path, int err) {
  std::string what = std::strerror(err);
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  return "open " + path + ": " + what;
}

// Go's time.Duration.String(), for log lines CoreDNS prints ("1m0s").
std::string GoDuration(int64_t ns) {
  if (ns == 0) return "0s";
  std::string out = ns < 0 ? "-" : "";
  if (ns < 0) ns = -ns;
  auto fixed = [](int64_t v, int64_t unit, int digits) {
    std::string s = std::to_string(v / unit);
    if (int64_t rem = v % unit; rem != 0) {
      std::string f = std::to_string(rem);
      f.insert(0, digits - f.size(), '0');
      f.erase(f.find_last_not_of('0') + 1);
      s += "." + f;
    }
    return s;
  };
  constexpr int64_t kSecond = 1000 * 1000 * 1000;
  if (ns < 1000) return out + std::to_string(ns) + "ns";
  if (ns < 1000 * 1000) return out + fixed(ns, 1000, 3) + "\u00b5s";
  if (ns < kSecond) return out + fixed(ns, 1000 * 1000, 6) + "ms";
  int64_t h = ns / (3600 * kSecond);
  ns -= h * 3600 * kSecond;
  int64_t m = ns / (60 * kSecond);
  ns -= m * 60 * kSecond;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  return out + fixed(ns, kSecond, 9) + "s";
}

std::optional<FileStamp> Stamp(const std::string& path, int* err) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    *err = errno;
    return std::nullopt;
  }
  return FileStamp{int64_t{st.st_mtim.tv_sec} * 1000 * 1000 * 1000 + st.st_mtim.tv_nsec, st.st_size,
                   st.st_ino};
}

// File times advance in clock ticks, so a file written again within a tick
// of being read keeps its stamp: such a recent read does not count.
bool Racy(const FileStamp& stamp) {
  constexpr int64_t kWindowNs = int64_t{1000} * 1000 * 1000;
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return now - stamp.mtime_ns < kWindowNs;
}

// One reload pass (CoreDNS's Zone.Reload ticker body) over every zone. A
// file is parsed again only when it changed on disk, since the serial (or,
// with reload_by_mtime, the file) can only change with it: CoreDNS stops
// reading at the SOA when the serial is unchanged, ldns reads the whole file.
// A broken file's error is repeated at every tick, as CoreDNS logs it.
void ReloadZones(State& state) {
  for (auto& slot : state.zones) {
    const std::string origin = slot->origin.ToText();
    int err = 0;
    std::optional<FileStamp> stamp = Stamp(slot->path, &err);
    if (!stamp) {
      Log(state.host, "[ERROR] plugin/file: Failed to open zone \"" + origin + "\" in \"" +
                          slot->path + "\": " + OpenError(slot->path, err));
      continue;
    }
    if (*stamp != slot->parsed || slot->parsed_racy) {
      slot->parsed = *stamp;
      slot->parsed_racy = Racy(*stamp);
      slot->parse_error.clear();
      std::shared_ptr<const Zone> fresh = Zone::Load(slot->path, slot->origin, &slot->parse_error);
      std::shared_ptr<const Zone> old = slot->zone.load();
      bool changed = state.reload_by_mtime
                         ? *stamp != slot->served
                         : old == nullptr || (fresh != nullptr && old->Serial() != fresh->Serial());
      if (fresh != nullptr && changed) {
        slot->zone.store(fresh);
        fastpath::BumpDataGeneration();
        slot->served = *stamp;
        Log(state.host, "[INFO] plugin/file: Successfully reloaded zone \"" + origin + "\" in \"" +
                            slot->path + "\" with " + std::to_string(fresh->Serial()) +
                            " SOA serial");
      }
    }
    if (!slot->parse_error.empty()) {
      Log(state.host, "[ERROR] plugin/file: Parsing zone \"" + origin + "\": " + slot->parse_error);
    }
  }
}

class FilePlugin : public Plugin {
 public:
  explicit FilePlugin(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::string_view Name() const override { return "file"; }
  bool Deterministic() const override { return true; }
  Task<Result> ServeDns(Request& req, ResponseWriter& w) override;
  void PrebuildQuestions(std::vector<wire::Question>* out, size_t limit) const override;

 private:
  // The longest zone of this plugin containing `qname`.
  const ZoneSlot* Match(const wire::Name& qname) const {
    const ZoneSlot* best = nullptr;
    for (const auto& slot : state_->zones) {
      if (qname.IsSubdomainOf(slot->origin) &&
          (best == nullptr || slot->origin.LabelCount() > best->origin.LabelCount())) {
        best = slot.get();
      }
    }
    return best;
  }
  bool FallsThrough(const wire::Name& qname) const {
    if (!state_->fallthrough) return false;
    if (state_->fall_zones.empty()) return true;
    for (const wire::Name& z : state_->fall_zones) {
      if (qname.IsSubdomainOf(z)) return true;
    }
    return false;
  }

  std::shared_ptr<State> state_;
};

void FilePlugin::PrebuildQuestions(std::vector<wire::Question>* out, size_t limit) const {
  for (const auto& slot : state_->zones) {
    std::shared_ptr<const Zone> zone = slot->zone.load();
    // A zone bigger than what is left is not worth copying record by record:
    // its answers are memoized as they are asked for.
    if (!zone || out->size() + zone->RecordCount() > limit) continue;
    // Owner -> the types it has, in zone order.
    std::map<std::string, std::pair<wire::Name, std::vector<uint16_t>>> owners;
    for (const wire::Rr& rr : zone->AllRecords()) {
      if (rr.type == wire::type::kRrsig || rr.type == wire::type::kNsec ||
          !rr.name.IsSubdomainOf(slot->origin)) {
        continue;
      }
      auto& [name, types] = owners[rr.name.ToText()];
      name = rr.name;
      if (std::find(types.begin(), types.end(), rr.type) == types.end()) types.push_back(rr.type);
    }
    for (auto& [text, entry] : owners) {
      auto& [name, types] = entry;
      if (text.rfind("*.", 0) == 0) continue;  // a wildcard owner is never asked for by name
      auto has = [&](uint16_t t) { return std::find(types.begin(), types.end(), t) != types.end(); };
      // The NODATA most clients ask next: the other address family.
      if (!has(wire::type::kCname)) types.push_back(has(wire::type::kA) ? wire::type::kAaaa : wire::type::kA);
      for (uint16_t t : types) {
        if (out->size() >= limit) return;
        out->push_back(wire::Question{name, t, wire::qclass::kIn});
      }
    }
  }
}

Task<Result> FilePlugin::ServeDns(Request& req, ResponseWriter& w) {
  const wire::Name& qname = req.QName();
  const ZoneSlot* slot = Match(qname);
  if (slot == nullptr) co_return co_await Next(req, w);
  std::shared_ptr<const Zone> zone = slot->zone.load();
  if (zone == nullptr) co_return Result{wire::rcode::kServFail, ""};  // the file never loaded

  const uint16_t qtype = req.QType();
  // Transfers belong to the transfer plugin; without it they are refused.
  if (qtype == wire::type::kAxfr || qtype == wire::type::kIxfr) {
    co_return Result{wire::rcode::kRefused, ""};
  }
  // NOTIFY is for secondary zones only; a primary drops it without a reply.
  if (req.msg.header.opcode() == wire::opcode::kNotify) {
    Log(state_->host, "[INFO] plugin/file: Dropping notify from " + req.RemoteIp() + " for " +
                          slot->origin.ToText());
    co_return Result{wire::rcode::kNoError, ""};
  }
  const bool dnssec_ok = req.Do();
  const bool apex_soa_ns =
      qname == slot->origin && (qtype == wire::type::kSoa || qtype == wire::type::kNs);
  const int depth = ResolveDepth(req);
  if (depth > kMaxResolveDepth && !apex_soa_ns) co_return Result{wire::rcode::kServFail, ""};

  LookupResult r = zone->Lookup(qname, qtype, dnssec_ok);
  if (r.external_cname) {
    std::optional<wire::Message> upstream;
    if (state_->host != nullptr) {
      req.memoizable = false;  // the answer also depends on another chain
      upstream = co_await state_->host->Resolve(r.external_target, qtype, dnssec_ok, depth + 1);
    }
    zone->ResolveExternal(upstream ? &*upstream : nullptr, dnssec_ok, &r);
  }

  if (r.answer.empty() && (r.outcome == Outcome::kNameError || r.outcome == Outcome::kSuccess) &&
      FallsThrough(qname)) {
    co_return co_await Next(req, w);
  }
  // A SERVFAIL with a CNAME chain is written (RFC 6604); a bare one is not.
  if (r.outcome == Outcome::kServerFailure && r.answer.empty()) {
    co_return Result{wire::rcode::kServFail, ""};
  }
  wire::Message m = wire::MakeReply(req.msg);
  m.header.SetFlag(wire::flag::kAa, r.authoritative);
  m.answer = std::move(r.answer);
  m.authority = std::move(r.authority);
  m.additional = std::move(r.additional);
  m.SetRcode(r.rcode);
  w.WriteMsg(m);
  co_return Result{wire::rcode::kNoError, ""};
}

// plugin.Host(ARG).NormalizeExact(): a zone as a server block key would
// spell it (a CIDR may stand for several reverse zones).
bool ParseZones(const config::Token& t, std::vector<wire::Name>* out, std::string* error) {
  std::vector<config::Address> addresses;
  if (!config::ParseAddressKey(t, 53, &addresses, error)) return false;
  for (const config::Address& a : addresses) {
    out->emplace_back();
    wire::Name::FromText(a.zone, &out->back());
  }
  return true;
}

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (d.args.empty()) {
    *error = "plugin/file: " + config::ArgErrorAt(d.name);
    return nullptr;
  }
  std::string path = d.args[0].text;
  if (!path.starts_with("/") && !ctx.root.empty()) path = ctx.root + "/" + path;

  std::vector<wire::Name> origins;
  for (size_t i = 1; i < d.args.size(); ++i) {
    if (!ParseZones(d.args[i], &origins, error)) {
      *error = "plugin/file: " + *error;
      return nullptr;
    }
  }
  if (origins.empty()) {
    for (const std::string& z : ctx.zones) {
      origins.emplace_back();
      wire::Name::FromText(z, &origins.back());
    }
  }

  auto state = std::make_shared<State>();
  state->host = ctx.host;
  int64_t reload_ns = kDefaultReloadNs;
  for (const config::Directive& opt : d.block) {
    const std::string& name = opt.name.text;
    if (name == "fallthrough") {
      state->fallthrough = true;
      for (const config::Token& t : opt.args) {
        if (!ParseZones(t, &state->fall_zones, error)) {
          *error = "plugin/file: " + *error;
          return nullptr;
        }
      }
    } else if (name == "reload") {
      if (opt.args.empty()) {
        *error = "plugin/file: reload duration value is expected";
        return nullptr;
      }
      // Go's time.ParseDuration accepts a bare "0".
      if (opt.args[0].text != "0" && !config::ParseDuration(opt.args[0].text, &reload_ns)) {
        *error = "plugin/file: time: invalid duration \"" + opt.args[0].text + "\"";
        return nullptr;
      }
      if (opt.args[0].text == "0") reload_ns = 0;
    } else if (name == "reload_by_mtime") {
      state->reload_by_mtime = true;
    } else if (name == "upstream") {
      // Obsolete (upstream is always the server itself); CoreDNS ignores it.
    } else {
      *error = "plugin/file: " + config::ErrorAt(opt.name, "unknown property '" + name + "'");
      return nullptr;
    }
  }

  int open_errno = 0;
  std::optional<FileStamp> stamp = Stamp(path, &open_errno);
  for (const wire::Name& origin : origins) {
    auto slot = std::make_unique<ZoneSlot>();
    slot->origin = origin;
    slot->path = path;
    if (stamp) {
      std::string load_error;
      std::shared_ptr<const Zone> z = Zone::Load(path, origin, &load_error);
      if (z == nullptr) {
        *error = "plugin/file: " + load_error;
        return nullptr;
      }
      slot->zone.store(std::move(z));
      fastpath::BumpDataGeneration();
      slot->parsed = slot->served = *stamp;
      slot->parsed_racy = Racy(*stamp);
    }
    state->zones.push_back(std::move(slot));
  }
  if (!stamp) {
    // A missing file is fatal only when nothing would ever load it later.
    if (reload_ns == 0) {
      *error = "plugin/file: " + OpenError(path, open_errno);
      return nullptr;
    }
    Log(ctx.host, "[WARNING] plugin/file: Failed to open \"" + OpenError(path, open_errno) +
                      "\": trying again in " + GoDuration(reload_ns));
  }
  if (reload_ns > 0 && ctx.host != nullptr) {
    std::weak_ptr<State> weak = state;
    ctx.host->Every(reload_ns / (1000 * 1000), [weak] {
      if (std::shared_ptr<State> s = weak.lock()) ReloadZones(*s);
    });
  }
  return std::make_unique<FilePlugin>(std::move(state));
}

const Registrar kRegistrar({"file", Setup, false});

}  // namespace
}  // namespace warpdns::slowpath::file
