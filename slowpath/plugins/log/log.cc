#include "slowpath/plugins/log/log.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <ctime>
#include <iterator>

#include "fastpath/table/log_bank.h"
#include "slowpath/chain/clock.h"
#include "slowpath/chain/plugin.h"
#include "slowpath/chain/response.h"
#include "slowpath/chain/server.h"

namespace warpdns::slowpath::log {

std::string DurationText(int64_t ns) {
  const double seconds =
      static_cast<double>(ns / 1'000'000'000) + static_cast<double>(ns % 1'000'000'000) / 1e9;
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), seconds, std::chars_format::fixed);
  return std::string(buf, ec == std::errc() ? end : buf) + "s";
}

namespace {

constexpr char kCommonFormat[] =
    "{remote}:{port} - {>id} \"{type} {class} {name} {proto} {size} {>do} {>bufsize}\" {rcode} "
    "{>rflags} {rsize} {duration}";
constexpr char kCombinedSuffix[] = " \"{>opcode}\"";
constexpr char kEmpty[] = "-";  // a value that is not available

// response.Class; bit flags so a rule holds a set of them.
enum Class : uint8_t { kAll = 1, kSuccess = 2, kDenial = 4, kError = 8 };

Class Classify(ResponseType t) {
  switch (t) {
    case ResponseType::kNoError:
    case ResponseType::kDelegation:
      return kSuccess;
    case ResponseType::kNameError:
    case ResponseType::kNoData:
      return kDenial;
    default:
      return kError;
  }
}

// The name of a class Classify returns.
std::string_view ClassName(Class c) {
  switch (c) {
    case kSuccess:
      return "success";
    case kDenial:
      return "denial";
    default:
      return "error";
  }
}

// miekg/dns RcodeToString; CoreDNS prints the number for the rest.
std::string RcodeText(int rcode) {
  static constexpr const char* kNames[] = {
      "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",  "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
      "NXRRSET", "NOTAUTH", "NOTZONE",  "DSOTYPENI", nullptr,   nullptr,   nullptr,    nullptr,
      "BADSIG",  "BADKEY",  "BADTIME",  "BADMODE",   "BADNAME", "BADALG",  "BADTRUNC", "BADCOOKIE"};
  if (rcode >= 0 && rcode < static_cast<int>(std::size(kNames)) && kNames[rcode] != nullptr) {
    return kNames[rcode];
  }
  return std::to_string(rcode);
}

std::string FlagsText(uint16_t flags) {
  static constexpr std::pair<uint16_t, const char*> kFlags[] = {
      {wire::flag::kQr, "qr"}, {wire::flag::kAa, "aa"}, {wire::flag::kTc, "tc"},
      {wire::flag::kRd, "rd"}, {wire::flag::kRa, "ra"}, {wire::flag::kZ, "z"},
      {wire::flag::kAd, "ad"}, {wire::flag::kCd, "cd"}};
  std::string out;
  for (const auto& [bit, name] : kFlags) {
    if (!(flags & bit)) continue;
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

// "[::1]" for IPv6, the address as is otherwise.
std::string Rfc3986(std::string ip) {
  return ip.find(':') == std::string::npos ? ip : "[" + ip + "]";
}

// What the log line needs from the reply, taken as it is written.
struct Recording {
  bool written = false;
  int rcode = 0;
  uint16_t flags = 0;
  size_t length = 0;  // summed over writes, as dnstest.Recorder does
  ResponseType type = ResponseType::kOtherError;
};

class Recorder : public ResponseWriter {
 public:
  explicit Recorder(ResponseWriter& inner) : inner_(inner) {}

  void WriteMsg(const wire::Message& reply) override {
    Record(reply);
    inner_.WriteMsg(reply);
  }
  bool Written() const override { return inner_.Written(); }
  size_t Len() const override { return inner_.Len(); }

  void Record(const wire::Message& reply) {
    recording_.written = true;
    recording_.rcode = reply.Rcode();
    recording_.flags = reply.header.flags;
    recording_.length += wire::UncompressedLength(reply);
    recording_.type = Typify(reply);
  }
  const Recording& recording() const { return recording_; }

 private:
  ResponseWriter& inner_;
  Recording recording_;
};

// The placeholders, in the order of kLabels.
enum class Label {
  kType,
  kName,
  kClass,
  kProto,
  kSize,
  kRemote,
  kPort,
  kLocal,
  kId,
  kOpcode,
  kDo,
  kBufsize,
  kRcode,
  kRsize,
  kDuration,
  kRflags
};

constexpr std::string_view kLabels[] = {"{type}",  "{name}",    "{class}",    "{proto}",
                                        "{size}",  "{remote}",  "{port}",     "{local}",
                                        "{>id}",   "{>opcode}", "{>do}",      "{>bufsize}",
                                        "{rcode}", "{rsize}",   "{duration}", "{>rflags}"};

// One piece of a parsed format: literal text, a placeholder or a metadata
// label ("{/log/type}").
struct Node {
  enum Kind { kLiteral, kLabel, kMetadata } kind;
  std::string value;  // the text, or the metadata label
  Label label = Label::kType;
};

// replacer.parseFormat: find each '}', back up to the nearest '{'; unknown
// "{x}" stay literal together with the text before them.
std::vector<Node> ParseFormat(std::string_view s) {
  std::vector<Node> nodes;
  for (;;) {
    const size_t j = s.find('}');
    if (j == std::string_view::npos) break;
    const size_t i = s.substr(0, j).rfind('{');
    if (i == std::string_view::npos) {
      nodes.push_back({Node::kLiteral, std::string(s.substr(0, j + 1))});
      s.remove_prefix(j + 1);
      continue;
    }
    const std::string_view val = s.substr(i, j + 1 - i);
    Node node{Node::kLiteral, std::string(s.substr(0, j + 1))};
    if (auto it = std::find(std::begin(kLabels), std::end(kLabels), val); it != std::end(kLabels)) {
      node = {Node::kLabel, "", static_cast<Label>(it - std::begin(kLabels))};
    } else if (val.starts_with("{/")) {
      node = {Node::kMetadata, std::string(val.substr(2, val.size() - 3))};
    }
    if (i != 0 && node.kind != Node::kLiteral) {
      nodes.push_back({Node::kLiteral, std::string(s.substr(0, i))});
    }
    nodes.push_back(std::move(node));
    s.remove_prefix(j + 1);
  }
  if (!s.empty()) nodes.push_back({Node::kLiteral, std::string(s)});
  return nodes;
}

std::string LabelValue(Label label, const Request& req, const Recording& rec, int64_t duration_ns,
                       size_t size) {
  switch (label) {
    case Label::kType:
      return wire::TypeToString(req.QType());
    case Label::kName:
      return req.QNameText();
    case Label::kClass:
      return wire::ClassToString(req.QClass());
    case Label::kProto:
      return std::string(ProtoName(req.proto));
    case Label::kSize:
      return std::to_string(size);
    case Label::kRemote:
      return Rfc3986(req.RemoteIp());
    case Label::kPort:
      return std::to_string(req.RemotePort());
    case Label::kLocal:
      return Rfc3986(req.LocalIp());
    case Label::kId:
      return std::to_string(req.msg.header.id);
    case Label::kOpcode:
      return std::to_string(req.msg.header.opcode());
    case Label::kDo:
      return req.Do() ? "true" : "false";
    case Label::kBufsize:
      return std::to_string(req.UdpSize());
    case Label::kRcode:
      return rec.written ? RcodeText(rec.rcode) : kEmpty;
    case Label::kRsize:
      return std::to_string(rec.length);
    case Label::kDuration:
      return DurationText(duration_ns);
    case Label::kRflags:
      return rec.written ? FlagsText(rec.flags) : kEmpty;
  }
  return kEmpty;
}

struct Rule {
  std::string scope;  // lowercase FQDN: log names at or below it
  std::vector<Node> format;
  uint8_t classes = 0;  // Class bits
  uint16_t sink = 0;    // fastpath::LogBank sink of `format`; 0: the fast path cannot log it
};

std::string Render(const std::vector<Node>& format, const Request& req, const Recording& rec,
                   int64_t duration_ns, size_t size) {
  std::string line;
  for (const Node& node : format) {
    switch (node.kind) {
      case Node::kLiteral:
        line += node.value;
        break;
      case Node::kLabel:
        line += LabelValue(node.label, req, rec, duration_ns, size);
        break;
      case Node::kMetadata: {
        auto it = req.metadata.find(node.value);
        line += it == req.metadata.end() ? kEmpty : it->second;
        break;
      }
    }
  }
  return line;
}

// The line of a fast-path answer: the request rebuilt from the record's key
// and client, the reply from its header, then the same Render.
std::string RenderRecord(const std::vector<Node>& format, const fastpath::LogRecord& r) {
  // Key: dst port (2) | flags (2) | qname | qtype (2) | qclass (2) | EDNS
  // marker, then UDP size (2) and OPT TTL (4) when it is 1.
  const uint8_t* k = r.key;
  std::vector<uint8_t> query = {static_cast<uint8_t>(r.id >> 8), static_cast<uint8_t>(r.id), k[2],
                                k[3], 0, 1, 0, 0, 0, 0, 0, 0};
  size_t at = 4;
  while (at < r.key_len && k[at] != 0) at += 1 + k[at];
  const size_t question_end = at + 1 + 4;
  query.insert(query.end(), k + 4, k + question_end);
  if (question_end < r.key_len && k[question_end] == 1) {
    query[11] = 1;  // ARCOUNT
    const uint8_t* e = k + question_end + 1;
    query.insert(query.end(), {0, 0, 41, e[0], e[1], e[2], e[3], e[4], e[5], 0, 0});
  }
  Request req;
  req.proto = Proto::kUdp;
  if (wire::ParseMessage(query.data(), query.size(), &req.msg) != wire::ParseError::kOk ||
      req.msg.question.empty()) {
    return "[INFO] -";
  }
  if (r.family == 2) {
    auto& a = reinterpret_cast<sockaddr_in6&>(req.remote);
    a.sin6_family = AF_INET6;
    std::memcpy(&a.sin6_addr, r.addr, 16);
    a.sin6_port = htons(r.port);
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(req.remote);
    a.sin_family = AF_INET;
    std::memcpy(&a.sin_addr, r.addr, 4);
    a.sin_port = htons(r.port);
  }
  Recording rec;
  rec.written = true;
  rec.rcode = r.reply_flags & 0xf;
  rec.flags = r.reply_flags;
  rec.length = r.rsize;
  return "[INFO] " + Render(format, req, rec, r.duration_ns, r.request_len);
}

// The fast path can fill in every placeholder but {local} and metadata.
bool Replayable(const std::vector<Node>& format) {
  return std::none_of(format.begin(), format.end(), [](const Node& n) {
    return n.kind == Node::kMetadata || (n.kind == Node::kLabel && n.label == Label::kLocal);
  });
}

bool IsSubdomain(std::string_view name, std::string_view zone) {
  if (zone == ".") return true;
  if (name.size() < zone.size() || name.substr(name.size() - zone.size()) != zone) return false;
  return name.size() == zone.size() || name[name.size() - zone.size() - 1] == '.';
}

class Logger : public Plugin {
 public:
  Logger(std::vector<Rule> rules, Host* host) : rules_(std::move(rules)), host_(host) {}

  std::string_view Name() const override { return "log"; }
  // Every line can be written from the query, the client and the reply.
  bool Deterministic() const override {
    return std::all_of(rules_.begin(), rules_.end(),
                       [](const Rule& r) { return r.sink != 0; });
  }

  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    const std::string qname = req.QNameText();
    for (const Rule& rule : rules_) {
      if (!IsSubdomain(qname, rule.scope)) continue;
      Recorder recorder(w);
      Result result = co_await Next(req, recorder);
      if (!recorder.recording().written && CallerMustWrite(result.rcode)) {
        // Log the reply the server is about to write for this rcode (CoreDNS
        // PR 8200) rather than "-"; the server still writes it.
        wire::Message reply = wire::MakeReply(req.msg);
        reply.SetRcode(result.rcode);
        recorder.Record(reply);
      }
      const Recording& rec = recorder.recording();
      const Class cls = Classify(rec.type);
      req.metadata["log/type"] = ResponseTypeName(rec.type);
      req.metadata["log/class"] = ClassName(cls);
      const bool logged = rule.classes & (kAll | cls);
      if (logged && req.FromClient()) {
        host_->Log("[INFO] " + Render(rule.format, req, rec, MonotonicNs() - req.start_ns,
                                      wire::UncompressedLength(req.msg)));
      }
      // A reply the fast path may replay is logged there as here (MayMemoize
      // needs this plugin Deterministic: every rule has a sink).
      if (logged && Server::MayMemoize(req)) {
        req.replay.tags.log = rule.sink;
        req.replay.tags.rsize = static_cast<uint16_t>(std::min<size_t>(rec.length, UINT16_MAX));
      }
      co_return result;
    }
    co_return co_await Next(req, w);
  }

 private:
  const std::vector<Rule> rules_;
  Host* const host_;
};

// Appends the rules of one `log` line: `log [NAMES...] [FORMAT] { class ... }`.
bool ParseDirective(const config::Directive& d, std::vector<Rule>* rules, std::string* error) {
  std::vector<std::string> names;
  std::string format = kCommonFormat;
  for (const config::Token& t : d.args) names.push_back(t.text);
  // With two or more arguments a last one holding '{' is the format.
  if (names.size() > 1 && names.back().find('{') != std::string::npos) {
    if (names.back() == "{combined}") {
      format += kCombinedSuffix;
    } else if (names.back() != "{common}") {
      format = names.back();
    }
    names.pop_back();
  }
  // The 2017 syntax named an output file after the names (`log stdout`,
  // `log . stdout`): the log goes to stdout anyway, so it is not a name.
  std::erase(names, "stdout");
  if (names.empty()) names.push_back(".");

  uint8_t classes = 0;
  for (const config::Directive& opt : d.block) {
    if (opt.name.text != "class" || opt.args.empty()) {
      *error = "plugin/log: " + config::ArgErrorAt(opt.name);
      return false;
    }
    for (const config::Token& c : opt.args) {
      static constexpr std::pair<std::string_view, Class> kClasses[] = {
          {"all", kAll}, {"success", kSuccess}, {"denial", kDenial}, {"error", kError}};
      auto it = std::find_if(std::begin(kClasses), std::end(kClasses),
                             [&](const auto& entry) { return entry.first == c.text; });
      if (it == std::end(kClasses)) {
        *error = "plugin/log: " + config::ErrorAt(c, "invalid Class: " + c.text);
        return false;
      }
      classes |= it->second;
    }
  }
  if (classes == 0) classes = kAll;

  const std::vector<Node> parsed = ParseFormat(format);
  // Named by the format alone: the same across reloads, and a sink holds
  // nothing of this plugin instance.
  const uint16_t sink =
      Replayable(parsed) ? fastpath::LogBank::Get().Sink(
                               "log\x1f" + format,
                               [parsed](const fastpath::LogRecord& r) {
                                 return RenderRecord(parsed, r);
                               })
                         : 0;
  for (const std::string& name : names) {
    std::string scope = name;
    for (char& c : scope) c = static_cast<char>(wire::ToLowerOctet(static_cast<uint8_t>(c)));
    if (scope.empty() || scope.back() != '.') scope += '.';
    rules->push_back({std::move(scope), parsed, classes, sink});
  }
  return true;
}

bool SameDirective(const config::Directive& a, const config::Directive& b) {
  return &a == &b || (a.name.file == b.name.file && a.name.line == b.name.line);
}

// All `log` lines of a block make one plugin, as in CoreDNS (the first rule
// that matches the name decides): the first line's setup takes them all and
// the others add nothing to the chain.
std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  std::vector<const config::Directive*> lines;
  for (const config::Directive& d : ctx.block.directives) {
    if (d.name.text == "log") lines.push_back(&d);
  }
  if (std::none_of(lines.begin(), lines.end(),
                   [&](const config::Directive* d) { return SameDirective(*d, ctx.directive); })) {
    lines = {&ctx.directive};
  } else if (!SameDirective(*lines.front(), ctx.directive)) {
    return nullptr;
  }
  std::vector<Rule> rules;
  for (const config::Directive* d : lines) {
    if (!ParseDirective(*d, &rules, error)) return nullptr;
  }
  return std::make_unique<Logger>(std::move(rules), ctx.host);
}

const Registrar kRegistrar({"log", Setup});

}  // namespace
}  // namespace warpdns::slowpath::log
