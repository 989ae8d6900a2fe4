// hosts: A, AAAA and PTR answers from a hosts(5) file plus inline Corefile
// lines, re-read when the file changes (CoreDNS plugin/hosts).
#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_map>

#include "fastpath/table/generation.h"
#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::hosts {
namespace {

constexpr uint32_t kDefaultTtl = 3600;
constexpr int64_t kDefaultReloadNs = 5'000'000'000;

// IPv6 bytes; IPv4 addresses are kept v4-mapped (::ffff:a.b.c.d), so an
// address written either way is one key, as net.IP is in Go.
using Address = std::array<uint8_t, 16>;

bool IsV4(const Address& a) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.data(), kMapped, sizeof(kMapped)) == 0;
}

// Go's net.ParseIP after dropping an IPv6 zone ("fe80::1%eth0").
bool ParseIp(std::string_view text, Address* out) {
  std::string s(text.substr(0, text.find('%')));
  in_addr a4;
  if (inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    *out = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::memcpy(out->data() + 12, &a4, 4);
    return true;
  }
  return inet_pton(AF_INET6, s.c_str(), out->data()) == 1;
}

// Lowercase and fully qualified (plugin.Name.Normalize).
std::string NormalizeName(std::string_view name) {
  std::string out(name);
  for (char& c : out) c = static_cast<char>(wire::ToLowerOctet(static_cast<uint8_t>(c)));
  if (out.empty() || out.back() != '.') out += '.';
  return out;
}

// Both arguments lowercase FQDN text.
bool IsSubdomain(std::string_view name, std::string_view zone) {
  if (zone == ".") return true;
  if (name.size() < zone.size() || name.substr(name.size() - zone.size()) != zone) return false;
  return name.size() == zone.size() || name[name.size() - zone.size() - 1] == '.';
}

bool InZones(std::string_view name, const std::vector<std::string>& zones) {
  for (const std::string& zone : zones) {
    if (IsSubdomain(name, zone)) return true;
  }
  return false;
}

// plugin.OriginsFromArgsOrServerBlock for explicit zones, parsed like server
// block keys: a transport and a port are dropped, a CIDR stands for its
// reverse zones. Zones that do not parse are skipped, as in CoreDNS.
std::vector<std::string> NormalizeZones(const std::vector<config::Token>& args, size_t from) {
  std::vector<std::string> zones;
  for (size_t i = from; i < args.size(); ++i) {
    std::vector<config::Address> addresses;
    std::string unused;
    if (!config::ParseAddressKey(args[i], 53, &addresses, &unused)) continue;
    for (config::Address& a : addresses) zones.push_back(std::move(a.zone));
  }
  return zones;
}

// One parsed source: the hosts file or the inline lines.
struct Entries {
  std::unordered_map<std::string, std::vector<Address>> v4;  // lowercase FQDN -> addresses
  std::unordered_map<std::string, std::vector<Address>> v6;
  std::map<Address, std::vector<std::string>> names;  // for PTR answers
};

// hosts(5) lines: "IP name [aliases...]", '#' comments. Names outside
// `origins` are dropped, as are lines whose first field is not an address.
Entries ParseHosts(std::istream& in, const std::vector<std::string>& origins, bool auto_reverse) {
  Entries entries;
  std::string line;
  while (std::getline(in, line)) {
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::istringstream fields(line);
    std::string ip_text;
    Address addr;
    if (!(fields >> ip_text) || !ParseIp(ip_text, &addr)) continue;
    for (std::string name; fields >> name;) {
      name = NormalizeName(name);
      wire::Name unused;
      if (!InZones(name, origins) || !wire::Name::FromText(name, &unused)) continue;
      (IsV4(addr) ? entries.v4 : entries.v6)[name].push_back(addr);
      // A wildcard owner names no single host.
      if (auto_reverse && name.rfind("*.", 0) != 0) entries.names[addr].push_back(name);
    }
  }
  return entries;
}

// The address a reverse name (d.c.b.a.in-addr.arpa., 32 nibbles under
// ip6.arpa.) stands for, as CoreDNS's dnsutil.ExtractAddressFromReverse.
bool AddressFromReverse(std::string_view qname, Address* out) {
  constexpr std::string_view kV4Suffix = ".in-addr.arpa.";
  constexpr std::string_view kV6Suffix = ".ip6.arpa.";
  const bool v4 = qname.ends_with(kV4Suffix);
  if (!v4 && !qname.ends_with(kV6Suffix)) return false;
  qname.remove_suffix(v4 ? kV4Suffix.size() : kV6Suffix.size());
  std::vector<std::string_view> labels;
  for (size_t start = 0;;) {
    const size_t dot = qname.find('.', start);
    labels.push_back(qname.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  std::string text;
  if (v4) {
    for (auto it = labels.rbegin(); it != labels.rend(); ++it) {
      if (!text.empty()) text += '.';
      text += *it;
    }
    in_addr a4;
    if (inet_pton(AF_INET, text.c_str(), &a4) != 1) return false;
    *out = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::memcpy(out->data() + 12, &a4, 4);
    return true;
  }
  // Groups of four labels, most significant first, joined with ':'.
  std::vector<std::string_view> reversed(labels.rbegin(), labels.rend());
  for (size_t group = 0; group < reversed.size() / 4; ++group) {
    if (group > 0) text += ':';
    for (size_t i = 0; i < 4; ++i) text += reversed[group * 4 + i];
  }
  return inet_pton(AF_INET6, text.c_str(), out->data()) == 1;
}

// The hosts file with its inline entries. Shared with the reload task, which
// holds it weakly so a discarded configuration stops being reloaded.
class HostsFile {
 public:
  HostsFile(std::string path, std::vector<std::string> origins, bool auto_reverse, Entries inl)
      : path_(std::move(path)),
        origins_(std::move(origins)),
        auto_reverse_(auto_reverse),
        inline_(std::move(inl)),
        file_(std::make_shared<const Entries>()) {}

  // Re-reads the file when its modification time or size changed. A file
  // that cannot be opened (deleted, say) keeps the last entries served.
  void Reload() {
    std::lock_guard lock(reload_mu_);
    std::ifstream in(path_);
    struct stat st;
    if (!in || stat(path_.c_str(), &st) != 0) return;
    if (st.st_mtim.tv_sec == mtime_.tv_sec && st.st_mtim.tv_nsec == mtime_.tv_nsec &&
        st.st_size == size_) {
      return;
    }
    auto entries = std::make_shared<const Entries>(ParseHosts(in, origins_, auto_reverse_));
    {
      std::lock_guard snapshot_lock(file_mu_);
      file_ = std::move(entries);
    }
    fastpath::BumpDataGeneration();
    mtime_ = st.st_mtim;
    size_ = st.st_size;
  }

  const std::vector<std::string>& origins() const { return origins_; }

  // A consistent view for one query: the file entries then the inline ones,
  // in the order CoreDNS returns them.
  struct View {
    std::shared_ptr<const Entries> file;
    const Entries* inl;

    bool Has(const std::string& name) const {
      return file->v4.contains(name) || file->v6.contains(name) || inl->v4.contains(name) ||
             inl->v6.contains(name);
    }

    // The owner whose records answer `name`: the name itself, else the
    // wildcard one label up ("*.example.com." for "a.example.com.").
    std::string Owner(const std::string& name) const {
      if (Has(name) || name == ".") return name;
      size_t dot = 0;
      while (dot < name.size() && name[dot] != '.') dot += name[dot] == '\\' ? 2 : 1;
      const std::string parent = name.substr(dot + 1);
      return parent == "." ? "*." : "*." + parent;
    }

    std::vector<Address> Addresses(const std::string& name, bool v4) const {
      const std::string owner = Owner(name);
      std::vector<Address> out;
      for (const Entries* e : {file.get(), inl}) {
        const auto& map = v4 ? e->v4 : e->v6;
        if (auto it = map.find(owner); it != map.end()) {
          out.insert(out.end(), it->second.begin(), it->second.end());
        }
      }
      return out;
    }

    std::vector<std::string> Names(const Address& addr) const {
      std::vector<std::string> out;
      for (const Entries* e : {file.get(), inl}) {
        if (auto it = e->names.find(addr); it != e->names.end()) {
          out.insert(out.end(), it->second.begin(), it->second.end());
        }
      }
      return out;
    }
  };

  View Snapshot() const {
    std::lock_guard lock(file_mu_);
    return {file_, &inline_};
  }

 private:
  const std::string path_;
  const std::vector<std::string> origins_;
  const bool auto_reverse_;
  const Entries inline_;
  mutable std::mutex file_mu_;  // guards file_, swapped whole on reload
  std::shared_ptr<const Entries> file_;
  std::mutex reload_mu_;  // one reload at a time; guards mtime_, size_
  timespec mtime_{};
  off_t size_ = -1;
};

struct Options {
  uint32_t ttl = kDefaultTtl;
  std::vector<std::string> fallthrough;  // zones; empty: no fallthrough
  bool fallthrough_unsupported = false;
};

class Hosts : public Plugin {
 public:
  Hosts(std::shared_ptr<HostsFile> file, Options options)
      : file_(std::move(file)), options_(std::move(options)) {}

  std::string_view Name() const override { return "hosts"; }
  bool Deterministic() const override { return true; }

  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    const std::string qname = req.QNameText();
    const uint16_t qtype = req.QType();
    // Outside our zones only reverse lookups are ours (PTR zones need not
    // be listed); everything else goes on whatever fallthrough says.
    if (qtype != wire::type::kPtr && !InZones(qname, file_->origins())) co_return co_await Next(req, w);

    const HostsFile::View view = file_->Snapshot();
    const wire::Name owner = req.QName().Lowercased();
    std::vector<wire::Rr> answers;
    auto add = [&](uint16_t type, const uint8_t* rdata, size_t len) {
      wire::Rr& rr = answers.emplace_back();
      rr.name = owner;
      rr.type = type;
      rr.ttl = options_.ttl;
      rr.rdata.assign(rdata, rdata + len);
    };
    switch (qtype) {
      case wire::type::kPtr: {
        Address addr;
        std::vector<std::string> names;
        if (AddressFromReverse(qname, &addr)) names = view.Names(addr);
        // Unknown addresses go on regardless of fallthrough.
        if (names.empty()) co_return co_await Next(req, w);
        for (const std::string& name : names) {
          wire::Name target;
          wire::Name::FromText(name, &target);  // validated when parsed
          add(wire::type::kPtr, target.data(), target.size());
        }
        break;
      }
      case wire::type::kA:
        for (const Address& a : view.Addresses(qname, true)) add(wire::type::kA, a.data() + 12, 4);
        break;
      case wire::type::kAaaa:
        for (const Address& a : view.Addresses(qname, false)) add(wire::type::kAaaa, a.data(), 16);
        break;
      default:
        if (options_.fallthrough_unsupported && Through(qname) && Exists(view, qname)) {
          co_return co_await Next(req, w);
        }
    }
    if (answers.empty() && !Exists(view, qname)) {
      if (Through(qname)) co_return co_await Next(req, w);
      // NXDOMAIN would need a SOA, which a hosts file does not have.
      co_return Result{wire::rcode::kServFail, ""};
    }
    // A known name without records of the type is NODATA, again no SOA.
    wire::Message reply = wire::MakeReply(req.msg);
    reply.header.SetFlag(wire::flag::kAa, true);
    reply.answer = std::move(answers);
    w.WriteMsg(reply);
    co_return Result{};
  }

 private:
  bool Through(const std::string& qname) const { return InZones(qname, options_.fallthrough); }

  static bool Exists(const HostsFile::View& view, const std::string& qname) {
    return !view.Addresses(qname, true).empty() || !view.Addresses(qname, false).empty();
  }

  std::shared_ptr<HostsFile> file_;
  const Options options_;
};

std::string Join(const config::Directive& d) {
  std::string line = d.name.text;
  for (const config::Token& t : d.args) line += " " + t.text;
  return line;
}

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  auto fail = [&](const config::Token& at, const std::string& message) {
    *error = "plugin/hosts: " + config::ErrorAt(at, message);
    return nullptr;
  };
  std::string path = "/etc/hosts";
  if (!d.args.empty()) {
    path = d.args[0].text;
    if (!path.starts_with('/') && !ctx.root.empty()) path = ctx.root + "/" + path;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
      if (errno != ENOENT) {
        std::string reason = std::strerror(errno);
        reason[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(reason[0])));
        return fail(d.args[0],
                    "unable to access hosts file '" + path + "': stat " + path + ": " + reason);
      }
      ctx.host->Log("[WARNING] plugin/hosts: File does not exist: " + path);
    } else if (S_ISDIR(st.st_mode)) {
      ctx.host->Log("[WARNING] plugin/hosts: Hosts file \"" + path + "\" is a directory");
    }
  }
  std::vector<std::string> origins = d.args.size() > 1 ? NormalizeZones(d.args, 1) : ctx.zones;

  Options options;
  bool auto_reverse = true;
  int64_t reload_ns = kDefaultReloadNs;
  std::string inline_text;
  for (const config::Directive& opt : d.block) {
    const std::string& key = opt.name.text;
    if (key == "fallthrough") {
      options.fallthrough =
          opt.args.empty() ? std::vector<std::string>{"."} : NormalizeZones(opt.args, 0);
    } else if (key == "fallthrough_unsupported") {
      options.fallthrough_unsupported = true;
    } else if (key == "no_reverse") {
      auto_reverse = false;
    } else if (key == "ttl") {
      if (opt.args.empty()) return fail(opt.name, "ttl needs a time in second");
      const std::string& text = opt.args[0].text;
      size_t used = 0;
      long long ttl = 0;
      try {
        ttl = std::stoll(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != text.size()) return fail(opt.name, "ttl needs a number of second");
      if (ttl <= 0 || ttl > 65535) return fail(opt.name, "ttl provided is invalid");
      options.ttl = static_cast<uint32_t>(ttl);
    } else if (key == "reload") {
      if (opt.args.size() != 1) {
        return fail(opt.name, "reload needs a duration (zero seconds to disable)");
      }
      if (!config::ParseDuration(opt.args[0].text, &reload_ns) || reload_ns < 0) {
        return fail(opt.name, "invalid duration for reload '" + opt.args[0].text + "'");
      }
    } else if (options.fallthrough.empty()) {
      // Anything else before `fallthrough` is a hosts(5) line.
      inline_text += Join(opt) + "\n";
    } else {
      return fail(opt.name, "unknown property '" + key + "'");
    }
  }
  if (options.fallthrough_unsupported && options.fallthrough.empty()) {
    return fail(d.name, "fallthrough_unsupported requires fallthrough");
  }

  std::istringstream inline_stream(inline_text);
  Entries inl = ParseHosts(inline_stream, origins, auto_reverse);
  auto file = std::make_shared<HostsFile>(path, std::move(origins), auto_reverse, std::move(inl));
  file->Reload();
  if (reload_ns > 0) {
    std::weak_ptr<HostsFile> weak = file;
    ctx.host->Every(std::max<int64_t>(reload_ns / 1'000'000, 1), [weak] {
      if (auto f = weak.lock()) f->Reload();
    });
  }
  return std::make_unique<Hosts>(std::move(file), std::move(options));
}

const Registrar kRegistrar({"hosts", Setup, true});

}  // namespace
}  // namespace warpdns::slowpath::hosts
