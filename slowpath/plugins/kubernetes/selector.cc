#include "slowpath/plugins/kubernetes/selector.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace warpdns::slowpath::kubernetes {
namespace {

enum class Tok : uint8_t {
  kIdent,
  kNot,
  kEquals,
  kNotEquals,
  kCompare,
  kOpen,
  kClose,
  kComma,
  kIn,
  kNotIn,
  kEnd
};

struct Token {
  Tok kind;
  std::string text;
};

// The lexer of k8s.io/apimachinery/pkg/labels: identifiers end at blanks and
// at the special characters; "in" and "notin" are keywords.
std::vector<Token> Lex(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  auto special = [](char c) {
    return c == '!' || c == '=' || c == '(' || c == ')' || c == ',' || c == '<' || c == '>';
  };
  while (i < s.size()) {
    const char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '!' && i + 1 < s.size() && s[i + 1] == '=') {
      out.push_back({Tok::kNotEquals, "!="});
      i += 2;
    } else if (c == '=') {
      const bool twice = i + 1 < s.size() && s[i + 1] == '=';
      out.push_back({Tok::kEquals, twice ? "==" : "="});
      i += twice ? 2 : 1;
    } else if (special(c)) {
      const Tok kind = c == '!'   ? Tok::kNot
                       : c == '(' ? Tok::kOpen
                       : c == ')' ? Tok::kClose
                       : c == ',' ? Tok::kComma
                                  : Tok::kCompare;
      out.push_back({kind, std::string(1, c)});
      ++i;
    } else {
      size_t end = i;
      while (end < s.size() && !std::isspace(static_cast<unsigned char>(s[end])) &&
             !special(s[end]))
        ++end;
      std::string word(s.substr(i, end - i));
      const Tok kind = word == "in" ? Tok::kIn : word == "notin" ? Tok::kNotIn : Tok::kIdent;
      out.push_back({kind, std::move(word)});
      i = end;
    }
  }
  out.push_back({Tok::kEnd, ""});
  return out;
}

bool AlnumAt(std::string_view s, size_t i) {
  return std::isalnum(static_cast<unsigned char>(s[i]));
}

// A label value: empty, or up to 63 of [-A-Za-z0-9_.] starting and ending
// alphanumeric.
bool ValidValue(std::string_view v) {
  if (v.empty()) return true;
  if (v.size() > 63 || !AlnumAt(v, 0) || !AlnumAt(v, v.size() - 1)) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// A label key: [DNS-subdomain "/"] name, the name non-empty.
bool ValidKey(std::string_view k) {
  const size_t slash = k.find('/');
  if (slash != std::string_view::npos) {
    const std::string_view prefix = k.substr(0, slash);
    if (prefix.empty() || prefix.size() > 253 ||
        !std::all_of(prefix.begin(), prefix.end(), [](char c) {
          return std::islower(static_cast<unsigned char>(c)) ||
                 std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.';
        })) {
      return false;
    }
    k = k.substr(slash + 1);
  }
  return !k.empty() && ValidValue(k);
}

struct Requirement {
  std::string key;
  std::string text;  // canonical
};

}  // namespace

bool ParseSelector(std::string_view text, std::string* canonical, std::string* error) {
  const std::vector<Token> toks = Lex(text);
  size_t i = 0;
  std::vector<Requirement> equals;  // matchLabels: written first, last one per key wins
  std::vector<Requirement> expressions;
  auto fail = [&](const std::string& why) {
    *error = why;
    return false;
  };
  while (true) {
    bool negated = false;
    if (toks[i].kind == Tok::kNot) {
      negated = true;
      ++i;
    }
    if (toks[i].kind != Tok::kIdent)
      return fail("found '" + toks[i].text + "', expected: identifier");
    const std::string key = toks[i++].text;
    if (!ValidKey(key)) return fail("invalid label key \"" + key + "\"");
    const Tok op = toks[i].kind;
    if (negated) {
      if (op != Tok::kComma && op != Tok::kEnd)
        return fail("found '" + toks[i].text + "', expected: ',' or 'end of string'");
      expressions.push_back({key, "!" + key});
    } else if (op == Tok::kComma || op == Tok::kEnd) {
      expressions.push_back({key, key});
    } else if (op == Tok::kIn || op == Tok::kNotIn) {
      if (toks[++i].kind != Tok::kOpen) return fail("found '" + toks[i].text + "', expected: '('");
      std::vector<std::string> values;
      ++i;
      while (toks[i].kind != Tok::kClose) {
        if (toks[i].kind == Tok::kIdent) {
          values.push_back(toks[i++].text);
        } else if (toks[i].kind == Tok::kComma) {
          ++i;
        } else {
          return fail("found '" + toks[i].text + "', expected: ',', ')' or identifier");
        }
      }
      ++i;
      if (values.empty()) return fail("for 'in', 'notin' operators, values set can't be empty");
      std::sort(values.begin(), values.end());
      values.erase(std::unique(values.begin(), values.end()), values.end());
      std::string set;
      for (const std::string& v : values) {
        if (!ValidValue(v)) return fail("invalid label value: \"" + v + "\"");
        set += (set.empty() ? "" : ",") + v;
      }
      expressions.push_back({key, key + (op == Tok::kIn ? " in (" : " notin (") + set + ")"});
    } else if (op == Tok::kEquals) {
      std::string value;
      if (toks[++i].kind == Tok::kIdent) value = toks[i++].text;
      if (!ValidValue(value)) return fail("invalid label value: \"" + value + "\"");
      std::erase_if(equals, [&](const Requirement& r) { return r.key == key; });
      equals.push_back({key, key + "=" + value});
    } else if (op == Tok::kNotEquals || op == Tok::kCompare) {
      // LabelSelectors have no such operators (ParseToLabelSelector).
      return fail("\"" + toks[i].text + "\" is not a valid label selector operator");
    } else {
      return fail("found '" + toks[i].text + "', expected: in, notin, =, ==, !=, gt, lt");
    }
    if (toks[i].kind == Tok::kEnd) break;
    if (toks[i].kind != Tok::kComma)
      return fail("found '" + toks[i].text + "', expected: ',' or 'end of string'");
    ++i;
  }
  std::vector<Requirement> all = std::move(equals);
  all.insert(all.end(), expressions.begin(), expressions.end());
  std::stable_sort(all.begin(), all.end(),
                   [](const Requirement& a, const Requirement& b) { return a.key < b.key; });
  canonical->clear();
  for (const Requirement& r : all) *canonical += (canonical->empty() ? "" : ",") + r.text;
  return true;
}

}  // namespace warpdns::slowpath::kubernetes
