// The Corefile: lexer, parser and the typed plan the rest of warpdns reads.
// Syntax and semantics follow CoreDNS (Caddyfile v1 lexer, CoreDNS server
// keys), see docs/corefile.md.
#ifndef WARPDNS_CONFIG_COREFILE_H_
#define WARPDNS_CONFIG_COREFILE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace warpdns::config {

// One token with where it came from (after env substitution and imports).
struct Token {
  std::string text;
  std::string file;
  int line = 0;
  bool quoted = false;
};

// One line of a block: a name, its arguments (the rest of the line), and an
// optional nested block of further directives ("forward . 1.2.3.4 { ... }").
// Top-level directives in a server block are plugin names; nested ones are
// whatever the plugin gives meaning to (options, inline hosts lines, ...).
struct Directive {
  Token name;
  std::vector<Token> args;
  bool has_block = false;       // a "{ ... }" followed (possibly empty)
  std::vector<Directive> block;
  Token block_open;             // the "{" token, for errors about the block
};

// One server block key: [SCHEME://]ZONE[:PORT], normalised.
struct Address {
  std::string transport = "dns";  // dns, tls, grpc, https, quic, https3
  std::string zone = ".";         // lowercase FQDN, e.g. "example.org."
  uint16_t port = 53;
  bool port_explicit = false;
  // For CIDR keys not on an octet/nibble boundary (10.0.0.0/27): the
  // original prefix, so only addresses inside it are served. Empty otherwise.
  std::string cidr_filter;
  Token key;                      // the key as written
  // "dns://example.org.:53", CoreDNS's form for errors and the banner.
  std::string ToString() const;
};

struct ServerBlock {
  std::vector<Address> addresses;  // one key may expand to several zones
  std::vector<Directive> directives;
  Token first_key;                 // for errors about the whole block
};

struct Corefile {
  // warpdns appliance settings: a leading block with no keys "{ ... }".
  std::optional<Directive> global;
  std::vector<ServerBlock> blocks;
  // Every file read (the Corefile and its imports).
  std::vector<std::string> files;
  // The server blocks as CoreDNS's reload plugin hashes them: Go's
  // json.Marshal of Caddy's []ServerBlock{Keys, Tokens: directive -> its
  // tokens {File, Line, Text}} (snippets and the keyless global block left
  // out). Comments and blank space that move no token do not change it.
  std::string canonical;
};

struct ParseOptions {
  uint16_t default_dns_port = 53;  // -dns.port: replaces only the default
  // Consulted for {$NAME} / {%NAME%}; nullptr means the process environment.
  const char* (*getenv)(const char*) = nullptr;
};

// Parses one server block key ("tls://example.org:853", "10.0.0.0/23") into
// one or more addresses (a CIDR key may expand to several reverse zones) and
// appends them to *out. `default_dns_port` is used for dns:// keys without a
// port. On error returns false and sets *error (ErrorAt the key).
bool ParseAddressKey(const Token& key, uint16_t default_dns_port, std::vector<Address>* out,
                     std::string* error);

// Parses Corefile text. `filename` is used in errors and to resolve relative
// imports (relative to its directory). On error returns nullopt and sets
// *error to "FILE:LINE - Error during parsing: <what was expected>".
// Validates: balanced braces, quotes closed, known directive names (CoreDNS's
// full plugin.cfg list plus warpdns's own), well-formed keys (scheme, zone,
// port 1..65535), the same transport+zone+port in two blocks ("cannot serve
// dns://example.org.:53 - it is already defined"), snippets defined before use
// and not redefined, imports found (a glob matching nothing only warns), the
// import limit (10000).
std::optional<Corefile> ParseCorefile(std::string_view text, const std::string& filename,
                                      const ParseOptions& options, std::string* error);

// Reads the file and calls ParseCorefile.
std::optional<Corefile> ParseCorefileFile(const std::string& path, const ParseOptions& options,
                                          std::string* error);

// "FILE:LINE - Error during parsing: MESSAGE", CoreDNS's parse error format.
std::string ErrorAt(const Token& at, std::string_view message);
// "... Wrong argument count or unexpected line ending after 'TOKEN'".
std::string ArgErrorAt(const Token& at);

// CoreDNS's plugin order (plugin.cfg), top first. Directive names outside this
// list (and outside kWarpdnsDirectives) are parse errors.
const std::vector<std::string_view>& PluginOrder();
// Index in PluginOrder(), or -1 for names not in it.
int PluginIndex(std::string_view name);

// Parses a Go-style duration ("5s", "1m30s", "250ms", "1h"). Returns false if
// malformed, with Go's time.ParseDuration message in *error when given
// (`time: missing unit in duration "10"`). Plain integers but 0 are rejected.
bool ParseDuration(std::string_view text, int64_t* nanoseconds, std::string* error = nullptr);

}  // namespace warpdns::config

#endif  // WARPDNS_CONFIG_COREFILE_H_
