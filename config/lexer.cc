// Caddyfile v1 lexer: whitespace-separated tokens, '#' comments, quoted
// tokens with only \" as an escape, significant newlines.
#include "config/lexer.h"

#include <cstdlib>

namespace warpdns::config {
namespace {

// Length in bytes of the whitespace character at text[i], 0 if none. Covers
// the characters Go's unicode.IsSpace accepts, since that is what CoreDNS
// splits on (a pasted non-breaking space separates tokens there too).
size_t SpaceLength(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) -> unsigned char {
    return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0;
  };
  const unsigned char c = byte(0);
  if (c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r') return 1;
  if (c == 0xC2 && (byte(1) == 0x85 || byte(1) == 0xA0)) return 2;  // NEL, NBSP
  if (c == 0xE1 && byte(1) == 0x9A && byte(2) == 0x80) return 3;    // U+1680
  if (c == 0xE2 && byte(1) == 0x80) {
    const unsigned char d = byte(2);
    if ((d >= 0x80 && d <= 0x8A) || d == 0xA8 || d == 0xA9 || d == 0xAF) return 3;
  }
  if (c == 0xE2 && byte(1) == 0x81 && byte(2) == 0x9F) return 3;  // U+205F
  if (c == 0xE3 && byte(1) == 0x80 && byte(2) == 0x80) return 3;  // U+3000
  return 0;
}

std::string ReplaceReferences(std::string_view s, std::string_view ref_start,
                              std::string_view ref_end, const char* (*getenv)(const char*)) {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t begin = s.find(ref_start, pos);
    if (begin == std::string_view::npos) break;
    const size_t name_begin = begin + ref_start.size();
    const size_t end = s.find(ref_end, name_begin);
    if (end == std::string_view::npos) break;
    if (end == name_begin) {
      // "{$}" names nothing: keep it literally.
      out.append(s.substr(pos, end + ref_end.size() - pos));
      pos = end + ref_end.size();
      continue;
    }
    out.append(s.substr(pos, begin - pos));
    const std::string name(s.substr(name_begin, end - name_begin));
    if (const char* value = getenv(name.c_str())) out.append(value);
    pos = end + ref_end.size();
  }
  out.append(s.substr(pos));
  return out;
}

const char* ProcessGetenv(const char* name) { return std::getenv(name); }

}  // namespace

std::string SubstituteEnv(std::string_view text, const char* (*getenv)(const char*)) {
  if (getenv == nullptr) getenv = ProcessGetenv;
  if (text.find('{') == std::string_view::npos) return std::string(text);
  const std::string windows = ReplaceReferences(text, "{%", "%}", getenv);
  return ReplaceReferences(windows, "{$", "}", getenv);
}

bool Lex(std::string_view text, const std::string& file, const char* (*getenv)(const char*),
         std::vector<LexToken>* out, std::string* error) {
  int line = 1;
  bool in_token = false;  // a token has started (a quoted one may still be empty)
  bool quoted = false;    // inside "..."
  bool token_quoted = false;
  bool escaped = false;  // previous character was a backslash inside quotes
  bool comment = false;
  int token_line = 0;
  int prev_end_line = 0;
  std::string value;

  const auto emit = [&]() {
    LexToken t;
    t.token.file = file;
    t.token.line = token_line;
    t.token.quoted = token_quoted;
    t.end_line = line;
    t.starts_line = out->empty() || token_line > prev_end_line;
    t.open_brace = !token_quoted && value == "{";
    t.close_brace = !token_quoted && value == "}";
    t.token.text = SubstituteEnv(value, getenv);
    prev_end_line = line;
    out->push_back(std::move(t));
    value.clear();
    in_token = false;
    token_quoted = false;
  };

  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\r') {  // CRLF files: carriage returns are dropped everywhere
      ++i;
      continue;
    }
    if (quoted) {
      ++i;
      if (!escaped) {
        if (c == '\\') {
          escaped = true;
          continue;
        }
        if (c == '"') {
          quoted = false;
          emit();
          continue;
        }
      }
      if (c == '\n') ++line;
      if (escaped && c != '"') value.push_back('\\');  // only \" is an escape
      value.push_back(c);
      escaped = false;
      continue;
    }
    if (const size_t space = SpaceLength(text, i); space > 0) {
      if (in_token) emit();
      if (c == '\n') {
        ++line;
        comment = false;
      }
      i += space;
      continue;
    }
    if (c == '#') comment = true;
    if (comment) {
      ++i;
      continue;
    }
    ++i;
    if (!in_token) {
      in_token = true;
      token_line = line;
      if (c == '"') {
        quoted = true;
        token_quoted = true;
        continue;
      }
    }
    value.push_back(c);
  }
  if (quoted) {
    Token at;
    at.file = file;
    at.line = token_line;
    *error =
        ErrorAt(at, "Unclosed quote, expected a closing '\"' for the quote opened on this line");
    return false;
  }
  if (in_token) emit();
  return true;
}

}  // namespace warpdns::config
