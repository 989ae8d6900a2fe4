#include "slowpath/plugins/rewrite/rule.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace warpdns::slowpath::rewrite {
namespace {

constexpr size_t kMaxRegexpLength = 10000;
constexpr uint16_t kOptionNsid = 3;
constexpr uint16_t kOptionSubnet = 8;

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(wire::ToLowerOctet(static_cast<uint8_t>(c)));
  return s;
}

// plugin.Name.Normalize: lowercase and fully qualified.
std::string Normalize(const std::string& s) {
  std::string out = Lower(s);
  if (out.empty() || out.back() != '.') out += '.';
  return out;
}

bool EqualFold(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return wire::ToLowerOctet(static_cast<uint8_t>(x)) ==
                  wire::ToLowerOctet(static_cast<uint8_t>(y));
         });
}

bool HasSuffixFold(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && EqualFold(s.substr(s.size() - suffix.size()), suffix);
}

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  if (from.empty()) return;
  for (size_t pos = 0; (pos = s->find(from, pos)) != std::string::npos; pos += to.size()) {
    s->replace(pos, from.size(), to);
  }
}

// Go's regexp FindStringSubmatch followed by CoreDNS's "{N}" substitution.
// False when the pattern does not match.
bool RegexReplace(const re2::RE2& pattern, const std::string& src, const std::string& to,
                  std::string* out) {
  const int n = pattern.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> groups(static_cast<size_t>(n));
  if (!pattern.Match(src, 0, src.size(), re2::RE2::UNANCHORED, groups.data(), n)) return false;
  *out = to;
  for (int i = 0; i < n; ++i) {
    const re2::StringPiece& g = groups[static_cast<size_t>(i)];
    ReplaceAll(out, "{" + std::to_string(i) + "}", std::string_view(g.data(), g.size()));
  }
  return true;
}

// The offset of the rewritable name in RDATA (CoreDNS's
// getRecordValueForRewrite), or -1 for other types.
int ValueOffset(const wire::Rr& rr) {
  switch (rr.type) {
    case wire::type::kCname:
    case wire::type::kDname:
    case wire::type::kNs:
    case wire::type::kPtr:
    case wire::type::kSoa:  // MNAME
      return 0;
    case wire::type::kMx:
      return 2;
    case wire::type::kSrv:
      return 6;
    case wire::type::kNaptr: {
      size_t off = 4;  // order, preference; then flags, services, regexp
      for (int i = 0; i < 3; ++i) {
        if (off >= rr.rdata.size()) return -1;
        off += 1 + rr.rdata[off];
      }
      return off <= rr.rdata.size() ? static_cast<int>(off) : -1;
    }
    default:
      return -1;
  }
}

// Parses Go's strconv.ParseUint(s, 0, bits): 0x, 0o, 0b or a leading 0 for
// octal, decimal otherwise.
bool ParseUint(std::string_view s, int bits, uint64_t* out) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
    base = 8;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    s.remove_prefix(1);
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out, base);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size() &&
         (bits == 64 || *out < (uint64_t{1} << bits));
}

std::string ErrorRegex(const std::string& from) {
  return "invalid regex matching pattern: " + from;
}

// isValidRegexPattern: `from` compiles and `to` uses no more {N} groups than
// it has.
std::shared_ptr<const re2::RE2> CompileRegex(const std::string& from, const std::string& to,
                                             std::string* error) {
  if (from.size() > kMaxRegexpLength) {
    *error = ErrorRegex(from);
    return nullptr;
  }
  re2::RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(from, options);
  if (!re->ok()) {
    *error = ErrorRegex(from);
    return nullptr;
  }
  int used = 0;
  for (int i = 0; i <= 100; ++i)
    used += to.find("{" + std::to_string(i) + "}") != std::string::npos;
  if (used > re->NumberOfCapturingGroups()) {
    *error = "the rewrite regex pattern (" + to +
             ") uses more subexpressions than its corresponding matching regex pattern (" + from +
             ")";
    return nullptr;
  }
  return re;
}

// How a name rule (and a ttl rule) matches the lowercased qname.
struct NameMatch {
  enum class Kind { kExact, kPrefix, kSuffix, kSubstring, kRegex };
  Kind kind = Kind::kExact;
  std::string from;
  std::shared_ptr<const re2::RE2> pattern;

  bool Matches(const std::string& name) const {
    switch (kind) {
      case Kind::kExact:
        return name == from;
      case Kind::kPrefix:
        return name.starts_with(from);
      case Kind::kSuffix:
        return name.ends_with(from);
      case Kind::kSubstring:
        return name.find(from) != std::string::npos;
      case Kind::kRegex:
        return re2::RE2::PartialMatch(name, *pattern);
    }
    return false;
  }
};

bool MatchKindOf(const std::string& text, NameMatch::Kind* kind) {
  static constexpr std::pair<std::string_view, NameMatch::Kind> kKinds[] = {
      {"exact", NameMatch::Kind::kExact},
      {"prefix", NameMatch::Kind::kPrefix},
      {"suffix", NameMatch::Kind::kSuffix},
      {"substring", NameMatch::Kind::kSubstring},
      {"regex", NameMatch::Kind::kRegex}};
  for (const auto& [name, k] : kKinds) {
    if (text == name) {
      *kind = k;
      return true;
    }
  }
  return false;
}

class NameRule : public Rule {
 public:
  NameRule(NameMatch match, std::string replacement, bool auto_answer,
           std::vector<ResponseRule> answers)
      : match_(std::move(match)),
        replacement_(std::move(replacement)),
        auto_(auto_answer),
        answers_(std::move(answers)) {}

  Outcome Apply(Request& req) const override {
    const std::string name = req.QNameText();
    std::string rewritten;
    switch (match_.kind) {
      case NameMatch::Kind::kExact:
        if (name != match_.from) return {};
        rewritten = replacement_;
        break;
      case NameMatch::Kind::kPrefix:
        if (!name.starts_with(match_.from)) return {};
        rewritten = replacement_ + name.substr(match_.from.size());
        break;
      case NameMatch::Kind::kSuffix:
        if (!name.ends_with(match_.from)) return {};
        rewritten = name.substr(0, name.size() - match_.from.size()) + replacement_;
        break;
      case NameMatch::Kind::kSubstring:
        if (name.find(match_.from) == std::string::npos) return {};
        rewritten = name;
        ReplaceAll(&rewritten, match_.from, replacement_);
        break;
      case NameMatch::Kind::kRegex:
        if (!RegexReplace(*match_.pattern, name, replacement_, &rewritten)) return {};
        break;
    }
    Outcome out;
    out.done = true;
    wire::Name qname;
    if (!wire::Name::FromText(rewritten, &qname)) {
      out.invalid_name = rewritten;
      return out;
    }
    req.msg.question[0].name = qname;
    if (auto_) {
      // Answer names under the new name go back under the one asked.
      StringRewriter remap{StringRewriter::Kind::kRemap, nullptr, rewritten, name};
      out.response.push_back({ResponseRule::Kind::kName, remap});
      out.response.push_back({ResponseRule::Kind::kValue, remap});
    }
    out.response.insert(out.response.end(), answers_.begin(), answers_.end());
    return out;
  }

 private:
  const NameMatch match_;
  const std::string replacement_;
  const bool auto_;
  const std::vector<ResponseRule> answers_;
};

class TypeRule : public Rule {
 public:
  TypeRule(uint16_t from, uint16_t to, bool is_class) : from_(from), to_(to), class_(is_class) {}

  Outcome Apply(Request& req) const override {
    uint16_t& field = class_ ? req.msg.question[0].qclass : req.msg.question[0].type;
    if (field != from_) return {};
    field = to_;
    return {true, {}, false};
  }

 private:
  const uint16_t from_;
  const uint16_t to_;
  const bool class_;
};

class TtlRule : public Rule {
 public:
  TtlRule(NameMatch match, uint32_t min, uint32_t max) : match_(std::move(match)) {
    rule_.kind = ResponseRule::Kind::kTtl;
    rule_.min_ttl = min;
    rule_.max_ttl = max;
  }

  Outcome Apply(Request& req) const override {
    if (!match_.Matches(req.QNameText())) return {};
    return {true, {rule_}, false};
  }

 private:
  const NameMatch match_;
  ResponseRule rule_;
};

// The OPT options of a message as (code, data) pairs.
using Options = std::vector<std::pair<uint16_t, std::vector<uint8_t>>>;

Options ReadOptions(const std::vector<uint8_t>& raw) {
  Options out;
  for (size_t i = 0; i + 4 <= raw.size();) {
    const uint16_t code = static_cast<uint16_t>(raw[i] << 8 | raw[i + 1]);
    const size_t len = static_cast<size_t>(raw[i + 2] << 8 | raw[i + 3]);
    if (i + 4 + len > raw.size()) break;
    out.emplace_back(code, std::vector<uint8_t>(raw.begin() + static_cast<long>(i) + 4,
                                                raw.begin() + static_cast<long>(i + 4 + len)));
    i += 4 + len;
  }
  return out;
}

std::vector<uint8_t> WriteOptions(const Options& options) {
  std::vector<uint8_t> raw;
  for (const auto& [code, data] : options) {
    raw.push_back(static_cast<uint8_t>(code >> 8));
    raw.push_back(static_cast<uint8_t>(code));
    raw.push_back(static_cast<uint8_t>(data.size() >> 8));
    raw.push_back(static_cast<uint8_t>(data.size()));
    raw.insert(raw.end(), data.begin(), data.end());
  }
  return raw;
}

enum class Action { kSet, kAppend, kReplace, kUnset };

// One EDNS0 rule: which option, and how its data is made for a request.
class Edns0Rule : public Rule {
 public:
  enum class Kind { kLocal, kVariable, kNsid, kSubnet };

  Edns0Rule(Kind kind, Action action, uint16_t code) : kind_(kind), action_(action), code_(code) {}

  void set_data(std::vector<uint8_t> data) { data_ = std::move(data); }
  void set_variable(std::string variable) { variable_ = std::move(variable); }
  void set_masks(uint8_t v4, uint8_t v6) {
    v4_bits_ = v4;
    v6_bits_ = v6;
  }

  // Whether replace, append and unset apply depends on the query's options,
  // which the fast path's key leaves out; with `stop` that decides which later
  // rules run. Only `set` applies whatever the options are.
  bool Deterministic() const override {
    if (action_ != Action::kSet) return false;
    return kind_ == Kind::kLocal || kind_ == Kind::kNsid ||
           (kind_ == Kind::kVariable && (variable_ == "{qname}" || variable_ == "{qtype}"));
  }

  Outcome Apply(Request& req) const override {
    std::vector<uint8_t> data = data_;
    if (kind_ == Kind::kVariable && !VariableData(req, &data)) return {};
    // setupEdns0Opt: a request without OPT gets one (UDP size 4096, no DO).
    Outcome out;
    wire::Edns& edns = req.msg.edns;
    const bool had_opt = edns.present;
    Options options = ReadOptions(edns.options);
    auto it = std::find_if(options.begin(), options.end(),
                           [&](const auto& o) { return o.first == code_; });
    if (action_ == Action::kUnset) {
      if (it == options.end()) return {};
      options.erase(it);
    } else if (it != options.end()) {
      if (action_ == Action::kAppend) return {};
      if (kind_ == Kind::kSubnet) {
        if (!FillSubnet(req, it->second.size() >= 3 ? it->second[2] : 128, &it->second)) {
          return {};
        }
      } else {
        it->second = std::move(data);
      }
    } else {
      if (action_ == Action::kReplace) return {};
      if (kind_ == Kind::kSubnet && !FillSubnet(req, 128, &data)) return {};
      options.emplace_back(code_, std::move(data));
    }
    if (!had_opt) {
      edns = wire::Edns{};
      edns.present = true;
      edns.udp_size = 4096;
      out.created_opt = true;
    }
    edns.options = WriteOptions(options);
    out.done = true;
    return out;
  }

 private:
  // The data a {variable} stands for; false when it has none.
  bool VariableData(const Request& req, std::vector<uint8_t>* data) const {
    auto u16 = [&](uint16_t v) { *data = {static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; };
    auto ip = [&](const std::string& text) {
      uint8_t buf[16];
      if (inet_pton(AF_INET, text.c_str(), buf) == 1) {
        data->assign(buf, buf + 4);
      } else if (inet_pton(AF_INET6, text.c_str(), buf) == 1) {
        data->assign(buf, buf + 16);
      } else {
        return false;
      }
      return true;
    };
    if (variable_ == "{qname}") {
      const std::string q = req.QName().ToText();
      data->assign(q.begin(), q.end());
    } else if (variable_ == "{qtype}") {
      u16(req.QType());
    } else if (variable_ == "{client_ip}") {
      return ip(req.RemoteIp());
    } else if (variable_ == "{server_ip}") {
      return ip(req.LocalIp());
    } else if (variable_ == "{client_port}") {
      u16(req.RemotePort());
    } else if (variable_ == "{server_port}") {
      u16(req.LocalPort());
    } else if (variable_ == "{protocol}") {
      const std::string_view p = ProtoName(req.proto);
      data->assign(p.begin(), p.end());
    } else {
      auto it = req.metadata.find(variable_.substr(1, variable_.size() - 2));
      if (it == req.metadata.end() || it->second.empty()) return false;
      data->assign(it->second.begin(), it->second.end());
    }
    return true;
  }

  // The client's subnet as an ECS option (RFC 7871): family, the source
  // prefix (the rule's bits, or less if the client already asked for less),
  // scope 0, the masked address.
  bool FillSubnet(const Request& req, uint8_t current_bits, std::vector<uint8_t>* data) const {
    uint8_t addr[16] = {0};
    const int family = req.Family();
    const std::string ip = req.RemoteIp();
    if (inet_pton(family == 1 ? AF_INET : AF_INET6, ip.c_str(), addr) != 1) return false;
    const uint8_t bits = std::min(family == 1 ? v4_bits_ : v6_bits_, current_bits);
    const size_t len = (bits + 7) / 8;
    data->assign({0, static_cast<uint8_t>(family), bits, 0});
    for (size_t i = 0; i < len; ++i) {
      const int keep = std::min(8, bits - static_cast<int>(i) * 8);
      data->push_back(static_cast<uint8_t>(addr[i] & (0xff << (8 - keep))));
    }
    return true;
  }

  const Kind kind_;
  const Action action_;
  const uint16_t code_;
  std::vector<uint8_t> data_;
  std::string variable_;
  uint8_t v4_bits_ = 0;
  uint8_t v6_bits_ = 0;
};

bool IsVariable(const std::string& s) {
  static constexpr std::string_view kVariables[] = {"{qname}",       "{qtype}",    "{client_ip}",
                                                    "{client_port}", "{protocol}", "{server_ip}",
                                                    "{server_port}"};
  if (std::find(std::begin(kVariables), std::end(kVariables), s) != std::end(kVariables)) {
    return true;
  }
  // A metadata label: {plugin/name}.
  const size_t slash = s.find('/');
  return s.size() > 2 && slash != std::string::npos && slash > 1 && slash < s.size() - 2;
}

// Error helper: sets the message and which argument it is about.
struct Errors {
  std::string* error;
  int* error_at;
  std::nullptr_t Fail(std::string message, int at = -1) {
    *error = std::move(message);
    *error_at = at;
    return nullptr;
  }
};

std::unique_ptr<Rule> NewEdns0Rule(const std::vector<std::string>& args, size_t start, Errors e) {
  const size_t n = args.size() - start;
  if (n < 2) return e.Fail("too few arguments for an EDNS0 rule");
  const std::string type = Lower(args[start]);
  const std::string action_text = Lower(args[start + 1]);
  Action action;
  if (action_text == "set") {
    action = Action::kSet;
  } else if (action_text == "append") {
    action = Action::kAppend;
  } else if (action_text == "replace") {
    action = Action::kReplace;
  } else if (action_text == "unset") {
    action = Action::kUnset;
  } else {
    return e.Fail("invalid action: \"" + action_text + "\"", static_cast<int>(start + 1));
  }
  if (type == "local") {
    if (action == Action::kUnset ? n != 3 : n != 4) {
      return e.Fail("EDNS0 local rules require exactly three args");
    }
    uint64_t code;
    if (!ParseUint(args[start + 2], 16, &code)) {
      return e.Fail("strconv.ParseUint: parsing \"" + args[start + 2] + "\": invalid syntax",
                    static_cast<int>(start + 2));
    }
    if (action == Action::kUnset) {
      return std::make_unique<Edns0Rule>(Edns0Rule::Kind::kLocal, action, code);
    }
    const std::string& data = args[start + 3];
    if (data.starts_with("{") && data.ends_with("}")) {
      if (!IsVariable(data)) {
        return e.Fail("unsupported variable name \"" + data + "\"", static_cast<int>(start + 3));
      }
      auto rule = std::make_unique<Edns0Rule>(Edns0Rule::Kind::kVariable, action, code);
      rule->set_variable(data);
      return rule;
    }
    std::vector<uint8_t> bytes(data.begin(), data.end());
    if (data.starts_with("0x")) {
      const std::string hex = data.substr(2);
      if (hex.size() % 2 != 0) {
        return e.Fail("encoding/hex: odd length hex string", static_cast<int>(start + 3));
      }
      bytes.clear();
      for (size_t i = 0; i < hex.size(); i += 2) {
        uint8_t b;
        auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, b, 16);
        if (ec != std::errc() || end != hex.data() + i + 2) {
          return e.Fail("encoding/hex: invalid byte: U+00" + hex.substr(i, 2),
                        static_cast<int>(start + 3));
        }
        bytes.push_back(b);
      }
    }
    auto rule = std::make_unique<Edns0Rule>(Edns0Rule::Kind::kLocal, action, code);
    rule->set_data(std::move(bytes));
    return rule;
  }
  if (type == "nsid") {
    if (n != 2) return e.Fail("EDNS0 NSID rules do not accept args");
    return std::make_unique<Edns0Rule>(Edns0Rule::Kind::kNsid, action, kOptionNsid);
  }
  if (type == "subnet") {
    if (action == Action::kUnset) {
      if (n != 2) return e.Fail("EDNS0 subnet unset rules do not accept args");
      return std::make_unique<Edns0Rule>(Edns0Rule::Kind::kSubnet, action, kOptionSubnet);
    }
    if (n != 4) return e.Fail("EDNS0 subnet rules require exactly three args");
    uint64_t v4, v6;
    if (!ParseUint(args[start + 2], 16, &v4)) {
      return e.Fail("strconv.ParseUint: parsing \"" + args[start + 2] + "\": invalid syntax",
                    static_cast<int>(start + 2));
    }
    if (v4 > 32) {
      return e.Fail("invalid IPv4 bit mask length " + std::to_string(v4),
                    static_cast<int>(start + 2));
    }
    if (!ParseUint(args[start + 3], 16, &v6)) {
      return e.Fail("strconv.ParseUint: parsing \"" + args[start + 3] + "\": invalid syntax",
                    static_cast<int>(start + 3));
    }
    if (v6 > 128) {
      return e.Fail("invalid IPv6 bit mask length " + std::to_string(v6),
                    static_cast<int>(start + 3));
    }
    auto rule = std::make_unique<Edns0Rule>(Edns0Rule::Kind::kSubnet, action, kOptionSubnet);
    rule->set_masks(static_cast<uint8_t>(v4), static_cast<uint8_t>(v6));
    return rule;
  }
  return e.Fail("invalid rule type \"" + type + "\"", static_cast<int>(start));
}

// parseAnswerRules: `answer auto`, `answer name FROM TO`, `answer value FROM
// TO`, the keyword `answer` optional after the first.
bool ParseAnswers(const std::string& match_type, const std::vector<std::string>& args, size_t start,
                  bool* auto_answer, std::vector<ResponseRule>* rules, Errors e) {
  const size_t n = args.size() - start;
  if (n < 2) {
    e.Fail("invalid arguments for " + match_type + " rule", static_cast<int>(start));
    return false;
  }
  int name_rules = 0;
  std::string last;
  for (size_t i = start; i < args.size();) {
    if (last.empty() && args[i] != "answer") {
      e.Fail("exceeded the number of arguments for a non-answer rule argument for " + match_type +
                 " rule",
             static_cast<int>(i));
      return false;
    }
    if (args[i] == "answer") ++i;
    if (i == args.size()) {
      e.Fail("type missing for answer rule for " + match_type + " rule", static_cast<int>(i - 1));
      return false;
    }
    last = args[i++];
    if (last == "auto") {
      *auto_answer = true;
      continue;
    }
    if (last != "name" && last != "value") {
      e.Fail("invalid type \"" + last + "\" for answer rule for " + match_type + " rule",
             static_cast<int>(i - 1));
      return false;
    }
    if (args.size() - i < 2) {
      e.Fail(last + " answer rule for " + match_type + " rule: 2 arguments required",
             static_cast<int>(i - 1));
      return false;
    }
    std::string error;
    auto pattern = CompileRegex(args[i], args[i + 1], &error);
    if (!pattern) {
      e.Fail(last + " answer rule for " + match_type + " rule: " + error, static_cast<int>(i));
      return false;
    }
    StringRewriter rewriter{StringRewriter::Kind::kRegex, pattern, "", Normalize(args[i + 1])};
    const bool name = last == "name";
    rules->push_back({name ? ResponseRule::Kind::kName : ResponseRule::Kind::kValue, rewriter});
    name_rules += name;
    i += 2;
  }
  if (*auto_answer && name_rules > 0) {
    // (sic) CoreDNS's message.
    e.Fail("auto name answer rule cannot be combined with explicit name anwer rules");
    return false;
  }
  return true;
}

std::unique_ptr<Rule> NewNameRule(const std::vector<std::string>& args, size_t start, Errors e) {
  const size_t n = args.size() - start;
  if (n < 2) return e.Fail("too few arguments for a name rule");
  NameMatch match;
  std::string match_type = "exact";
  std::string from, to;
  if (n == 2) {
    from = Normalize(args[start]);
    to = Normalize(args[start + 1]);
  } else {
    match_type = Lower(args[start]);
    if (!MatchKindOf(match_type, &match.kind)) {
      return e.Fail(
          "name rule supports only exact, prefix, suffix, substring, and regex name matching, "
          "received: " +
              match_type,
          static_cast<int>(start));
    }
    from = match.kind == NameMatch::Kind::kRegex ? args[start + 1] : Normalize(args[start + 1]);
    to = match.kind == NameMatch::Kind::kRegex ? args[start + 2] : Normalize(args[start + 2]);
  }
  bool auto_answer = false;
  std::vector<ResponseRule> answers;
  if (n > 3 && !ParseAnswers(match_type, args, start + 3, &auto_answer, &answers, e)) {
    return nullptr;
  }
  const int from_at = static_cast<int>(start + (n == 2 ? 0 : 1));
  std::string error;
  switch (match.kind) {
    case NameMatch::Kind::kExact:
      // (CoreDNS validates TO as a pattern for FROM's groups here.)
      if (!CompileRegex(to, from, &error)) return e.Fail(error, from_at + 1);
      match.from = from;
      // Exact rules always map answers back to the name asked.
      return std::make_unique<NameRule>(std::move(match), to, true, std::move(answers));
    case NameMatch::Kind::kSuffix:
      if (auto_answer) {
        // Names ending in the new suffix get the old one back.
        StringRewriter back{StringRewriter::Kind::kSuffix, nullptr, to, from};
        answers.insert(answers.begin(),
                       {{ResponseRule::Kind::kName, back}, {ResponseRule::Kind::kValue, back}});
      }
      match.from = from;
      return std::make_unique<NameRule>(std::move(match), to, false, std::move(answers));
    case NameMatch::Kind::kPrefix:
    case NameMatch::Kind::kSubstring:
      match.from = from;
      return std::make_unique<NameRule>(std::move(match), to, auto_answer, std::move(answers));
    case NameMatch::Kind::kRegex:
      match.pattern = CompileRegex(from, to, &error);
      if (!match.pattern) return e.Fail(error, from_at);
      return std::make_unique<NameRule>(std::move(match), Normalize(to), auto_answer,
                                        std::move(answers));
  }
  return nullptr;
}

// isValidTTL: SECONDS, MIN-MAX, -MAX or MIN-.
bool ParseTtl(const std::string& s, uint32_t* min, uint32_t* max) {
  auto number = [](std::string_view t, uint32_t* out) {
    uint64_t v;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || end != t.data() + t.size() || v > UINT32_MAX) {
      return false;
    }
    *out = static_cast<uint32_t>(v);
    return true;
  };
  const size_t dash = s.find('-');
  if (dash == std::string::npos) {
    if (!number(s, min)) return false;
    *max = *min;
    return true;
  }
  const std::string_view lo = std::string_view(s).substr(0, dash);
  const std::string_view hi = std::string_view(s).substr(dash + 1);
  if (hi.find('-') != std::string_view::npos || (lo.empty() && hi.empty())) return false;
  *min = 0;
  *max = 2147483647;
  if (!lo.empty() && !number(lo, min)) return false;
  if (!hi.empty() && !number(hi, max)) return false;
  return *min <= *max;
}

std::unique_ptr<Rule> NewTtlRule(const std::vector<std::string>& args, size_t start, Errors e) {
  const size_t n = args.size() - start;
  if (n < 2) return e.Fail("too few (" + std::to_string(n) + ") arguments for a ttl rule");
  if (n > 3) return e.Fail("many few arguments for a ttl rule");  // (sic)
  const std::string& ttl_text = args[args.size() - 1];
  uint32_t min, max;
  if (!ParseTtl(ttl_text, &min, &max)) {
    return e.Fail("invalid TTL '" + ttl_text + "' for a ttl rule",
                  static_cast<int>(args.size() - 1));
  }
  NameMatch match;
  if (n == 2) {
    match.from = Normalize(args[start]);
    return std::make_unique<TtlRule>(std::move(match), min, max);
  }
  if (!MatchKindOf(Lower(args[start]), &match.kind)) {
    return e.Fail(
        "ttl rule supports only exact, prefix, suffix, substring, and regex name matching",
        static_cast<int>(start));
  }
  if (match.kind == NameMatch::Kind::kRegex) {
    std::string error;
    match.pattern = CompileRegex(args[start + 1], "", &error);
    if (!match.pattern) {
      return e.Fail("invalid regex pattern in a ttl rule: " + args[start + 1],
                    static_cast<int>(start + 1));
    }
  } else {
    match.from = Normalize(args[start + 1]);
  }
  return std::make_unique<TtlRule>(std::move(match), min, max);
}

}  // namespace

std::string StringRewriter::Rewrite(const std::string& src) const {
  switch (kind) {
    case Kind::kRegex: {
      std::string out;
      return RegexReplace(*pattern, src, to, &out) ? out : src;
    }
    case Kind::kRemap:
      if (EqualFold(src, from)) return to;
      if (src.size() > from.size() && HasSuffixFold(src, from) &&
          src[src.size() - from.size() - 1] == '.') {
        return src.substr(0, src.size() - from.size()) + to;
      }
      return src;
    case Kind::kSuffix:
      if (HasSuffixFold(src, from)) return src.substr(0, src.size() - from.size()) + to;
      return src;
  }
  return src;
}

void ResponseRule::Apply(wire::Rr* rr) const {
  switch (kind) {
    case Kind::kTtl:
      rr->ttl = std::clamp(rr->ttl, min_ttl, max_ttl);
      return;
    case Kind::kName: {
      const std::string src = rr->name.ToText();
      const std::string out = rewriter.Rewrite(src);
      wire::Name name;
      if (out != src && wire::Name::FromText(out, &name)) rr->name = name;
      return;
    }
    case Kind::kValue: {
      const int off = ValueOffset(*rr);
      if (off < 0) return;
      const size_t start = static_cast<size_t>(off);
      const size_t len = wire::WireNameLength(rr->rdata.data() + start, rr->rdata.size() - start);
      wire::Name value;
      if (len == 0 || !wire::Name::FromWire(rr->rdata.data() + start, len, &value)) return;
      const std::string src = value.ToText();
      const std::string out = rewriter.Rewrite(src);
      wire::Name name;
      if (out == src || !wire::Name::FromText(out, &name)) return;
      std::vector<uint8_t> rdata(rr->rdata.begin(), rr->rdata.begin() + static_cast<long>(start));
      rdata.insert(rdata.end(), name.data(), name.data() + name.size());
      rdata.insert(rdata.end(), rr->rdata.begin() + static_cast<long>(start + len),
                   rr->rdata.end());
      rr->rdata = std::move(rdata);
      return;
    }
  }
}

std::unique_ptr<Rule> NewRule(const std::vector<std::string>& args, std::string* error,
                              int* error_at) {
  Errors e{error, error_at};
  if (args.empty()) return e.Fail("no rule type specified for rewrite");
  const std::string arg0 = Lower(args[0]);
  bool stop = true;
  size_t start = 1;
  std::string type = arg0;
  if (arg0 == "continue" || arg0 == "stop") {
    if (args.size() < 2) return e.Fail(arg0 + " rule must begin with a rule type");
    stop = arg0 == "stop";
    type = Lower(args[1]);
    start = 2;
  }
  std::unique_ptr<Rule> rule;
  if (type == "answer") {
    return e.Fail("response rewrites must begin with a name rule", static_cast<int>(start - 1));
  } else if (type == "name") {
    rule = NewNameRule(args, start, e);
  } else if (type == "type" || type == "class") {
    if (args.size() - start != 2) return e.Fail(type + " rules must have exactly two arguments");
    const bool is_class = type == "class";
    uint16_t values[2];
    for (size_t i = 0; i < 2; ++i) {
      const std::string upper = [&] {
        std::string u = args[start + i];
        for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return u;
      }();
      bool ok;
      if (is_class) {
        ok = true;
        if (upper == "IN") {
          values[i] = wire::qclass::kIn;
        } else if (upper == "CS") {
          values[i] = 2;
        } else if (upper == "CH") {
          values[i] = wire::qclass::kCh;
        } else if (upper == "HS") {
          values[i] = wire::qclass::kHs;
        } else if (upper == "NONE") {
          values[i] = wire::qclass::kNone;
        } else if (upper == "ANY") {
          values[i] = wire::qclass::kAny;
        } else {
          ok = false;
        }
      } else {
        ok = wire::TypeFromString(upper, &values[i]);
      }
      if (!ok) {
        return e.Fail("invalid " + type + " \"" + upper + "\"", static_cast<int>(start + i));
      }
    }
    rule = std::make_unique<TypeRule>(values[0], values[1], is_class);
  } else if (type == "edns0") {
    rule = NewEdns0Rule(args, start, e);
  } else if (type == "ttl") {
    rule = NewTtlRule(args, start, e);
  } else {
    return e.Fail("invalid rule type \"" + args[start - 1] + "\"", static_cast<int>(start - 1));
  }
  if (rule) rule->set_stop(stop);
  return rule;
}

}  // namespace warpdns::slowpath::rewrite
