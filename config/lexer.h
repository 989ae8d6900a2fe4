// The Corefile lexer (Caddyfile v1 rules), exposed for the parser and tests.
#ifndef WARPDNS_CONFIG_LEXER_H_
#define WARPDNS_CONFIG_LEXER_H_

#include <string>
#include <string_view>
#include <vector>

#include "config/corefile.h"

namespace warpdns::config {

// A token plus what the parser needs to know about where it sits. Brace
// flags are decided on the text as written, before env substitution, so a
// variable whose value is "{" never opens a block.
struct LexToken {
  Token token;               // text after env substitution
  int end_line = 0;          // line the token ends on (quoted tokens may span lines)
  bool starts_line = false;  // first token on its line
  bool open_brace = false;   // an unquoted "{" standing alone
  bool close_brace = false;  // an unquoted "}" standing alone
};

// Splits `text` into tokens. `file` is recorded in each token. Environment
// references are replaced using `getenv` (nullptr: the process environment).
// Returns false and sets *error ("FILE:LINE - Error during parsing: ...") on
// an unclosed quote.
bool Lex(std::string_view text, const std::string& file, const char* (*getenv)(const char*),
         std::vector<LexToken>* out, std::string* error);

// Replaces {%NAME%} references, then {$NAME} references; unset names become
// "". Values are inserted verbatim (not scanned again by the same pass).
std::string SubstituteEnv(std::string_view text, const char* (*getenv)(const char*));

}  // namespace warpdns::config

#endif  // WARPDNS_CONFIG_LEXER_H_
