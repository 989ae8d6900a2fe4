// Corefile parser: server blocks, directives, snippets and imports, following
// the Caddyfile v1 parser CoreDNS uses, with errors that always name a line.
#include "config/corefile.h"

#include <glob.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <utility>

#include "config/lexer.h"

namespace warpdns::config {
namespace {

namespace fs = std::filesystem;

// CoreDNS caps imports per Corefile to stop runaway recursion; cycles are
// caught earlier, this bounds non-cyclic fan-out (a imports b twice, ...).
constexpr int kMaxImports = 10000;
// Bounds recursion in the block parser (hostile or broken files).
constexpr int kMaxNesting = 100;

// warpdns's own server-block directives, accepted besides plugin.cfg names.
constexpr std::array<std::string_view, 0> kWarpdnsDirectives = {};

constexpr std::string_view kUnclosedBlock =
    "Unexpected EOF, expected '}' to close the block opened on this line";
constexpr std::string_view kUnmatchedClose = "Unexpected '}' because no matching opening brace";

using TokenList = std::vector<LexToken>;

bool IsImport(const LexToken& t) {
  return t.starts_line && !t.token.quoted && t.token.text == "import";
}

bool IsSnippetKey(const std::string& key) {
  return key.size() >= 2 && key.front() == '(' && key.back() == ')';
}

bool ValidDirective(std::string_view name) {
  if (PluginIndex(name) >= 0) return true;
  for (std::string_view extra : kWarpdnsDirectives) {
    if (extra == name) return true;
  }
  return false;
}

std::string AbsolutePath(const std::string& path) {
  std::error_code ec;
  fs::path absolute = fs::absolute(fs::path(path), ec);
  if (ec) return path;
  return absolute.lexically_normal().string();
}

bool ReadFile(const std::string& path, std::string* contents, std::string* reason) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    *reason = "is a directory";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *reason = std::strerror(errno);
    return false;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) {
    *reason = "read error";
    return false;
  }
  *contents = buffer.str();
  return true;
}

// A stack of token sources: the Corefile at the bottom, each expanded import
// (a snippet or a file) pushed on top while its tokens are consumed. Imports
// are expanded transparently by Peek(), so the parser never sees them.
class TokenStream {
 public:
  TokenStream(const ParseOptions& options, Corefile* corefile)
      : options_(options), corefile_(corefile) {}

  void Push(std::shared_ptr<const TokenList> tokens, std::string origin) {
    frames_.push_back(Frame{std::move(tokens), 0, std::move(origin)});
  }

  // The next token without import expansion, or nullptr at the end.
  const LexToken* PeekRaw() {
    while (!frames_.empty()) {
      const Frame& f = frames_.back();
      if (f.pos < f.tokens->size()) return &(*f.tokens)[f.pos];
      frames_.pop_back();
    }
    return nullptr;
  }

  // The next token after expanding imports; nullptr at the end or on error.
  const LexToken* Peek() {
    if (failed()) return nullptr;
    while (const LexToken* t = PeekRaw()) {
      if (!IsImport(*t)) return t;
      if (!ExpandImport()) return nullptr;
    }
    return nullptr;
  }

  // Consumes the token the last Peek()/PeekRaw() returned (must be non-null),
  // appending it to the recording, if one is on.
  LexToken Take() {
    LexToken t = TakeUnrecorded();
    if (record_ != nullptr) record_->push_back(t.token);
    return t;
  }

  // While `tokens` is set, every token taken is appended to it (the tokens of
  // one directive, for Corefile::canonical); nullptr stops it.
  void Record(std::vector<Token>* tokens) { record_ = tokens; }

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }

  bool HasSnippet(const std::string& name) const { return snippets_.count(name) > 0; }
  void DefineSnippet(const std::string& name, TokenList tokens) {
    // Spliced tokens always start a line, whatever preceded them where defined.
    if (!tokens.empty()) tokens.front().starts_line = true;
    snippets_[name] = std::make_shared<const TokenList>(std::move(tokens));
  }

  // Lexes a file once per parse (a file may be imported many times).
  std::shared_ptr<const TokenList> LoadFile(const std::string& path, const Token& at) {
    if (auto it = file_cache_.find(path); it != file_cache_.end()) return it->second;
    std::string contents;
    std::string reason;
    if (!ReadFile(path, &contents, &reason)) {
      Fail(ErrorAt(at, "Could not import " + path + ": " + reason));
      return nullptr;
    }
    auto tokens = std::make_shared<TokenList>();
    std::string error;
    if (!Lex(contents, path, options_.getenv, tokens.get(), &error)) {
      Fail(error);
      return nullptr;
    }
    auto& files = corefile_->files;
    if (std::find(files.begin(), files.end(), path) == files.end()) files.push_back(path);
    file_cache_[path] = tokens;
    return tokens;
  }

  void Fail(std::string error) {
    if (error_.empty()) error_ = std::move(error);
  }

 private:
  struct Frame {
    std::shared_ptr<const TokenList> tokens;
    size_t pos = 0;
    std::string origin;  // "snippet NAME" or "file /abs/path", for cycle detection
  };

  // A frame is on the current import chain once its first token (at least
  // the "import" that led here) was consumed; frames queued by the same glob
  // but not yet reached are not.
  bool Active(const std::string& origin) const {
    for (const Frame& f : frames_) {
      if (f.pos > 0 && f.origin == origin) return true;
    }
    return false;
  }

  LexToken TakeUnrecorded() {
    Frame& f = frames_.back();
    return (*f.tokens)[f.pos++];
  }

  // Caddy leaves the `import` line out of a directive's tokens.
  bool ExpandImport() {
    const LexToken import = TakeUnrecorded();
    const Token& at = import.token;
    // The argument and the end of the statement must sit in the same frame:
    // a frame's successor always starts a new line.
    {
      Frame& f = frames_.back();
      const TokenList& list = *f.tokens;
      if (f.pos >= list.size() || list[f.pos].starts_line) {
        Fail(ArgErrorAt(at));
        return false;
      }
      ++f.pos;
      if (f.pos < list.size() && !list[f.pos].starts_line) {
        Fail(ErrorAt(at, "Import takes only one argument (glob pattern or file)"));
        return false;
      }
    }
    const Frame& f = frames_.back();
    const std::string pattern = (*f.tokens)[f.pos - 1].token.text;
    if (pattern.empty()) {
      Fail(ErrorAt(at, "Import requires a non-empty filepath"));
      return false;
    }
    if (++imports_ > kMaxImports) {
      Fail(ErrorAt(at, "Maximum number of imports (" + std::to_string(kMaxImports) +
                           ") exceeded, is there an import loop?"));
      return false;
    }

    if (auto it = snippets_.find(pattern); it != snippets_.end()) {
      const std::string origin = "snippet " + pattern;
      if (Active(origin)) {
        Fail(ErrorAt(at, "Import cycle: snippet '" + pattern + "' imports itself"));
        return false;
      }
      Push(it->second, origin);
      return true;
    }

    // Relative to the directory of the file the import line is in.
    fs::path full(pattern);
    if (!full.is_absolute()) full = fs::path(AbsolutePath(at.file)).parent_path() / full;
    const std::string full_pattern = full.lexically_normal().string();
    std::vector<std::string> paths;
    if (pattern.find_first_of("*?[") != std::string::npos) {
      glob_t matches{};
      const int rc = glob(full_pattern.c_str(), 0, nullptr, &matches);
      if (rc != 0 && rc != GLOB_NOMATCH) {
        globfree(&matches);
        Fail(ErrorAt(at, "Failed to use import pattern " + pattern));
        return false;
      }
      for (size_t i = 0; rc == 0 && i < matches.gl_pathc; ++i) {
        std::error_code ec;
        // Subdirectories of an imported folder are not config files.
        if (!fs::is_directory(matches.gl_pathv[i], ec)) paths.push_back(matches.gl_pathv[i]);
      }
      globfree(&matches);
      if (paths.empty()) {
        std::fprintf(stderr, "[WARNING] No files matching import glob pattern: %s\n",
                     pattern.c_str());
        return true;
      }
    } else {
      std::error_code ec;
      if (!fs::exists(full_pattern, ec)) {
        std::string message = "File to import not found: " + pattern;
        if (pattern.find('/') == std::string::npos) {
          message += " (and no snippet of that name is defined before this line)";
        }
        Fail(ErrorAt(at, message));
        return false;
      }
      paths.push_back(full_pattern);
    }

    std::vector<std::pair<std::shared_ptr<const TokenList>, std::string>> loaded;
    for (const std::string& path : paths) {
      const std::string origin = "file " + path;
      if (Active(origin)) {
        Fail(ErrorAt(at, "Import cycle: " + path + " imports itself"));
        return false;
      }
      auto tokens = LoadFile(path, at);
      if (tokens == nullptr) return false;
      loaded.emplace_back(std::move(tokens), origin);
    }
    // Last match pushed first so the first match is read first.
    for (auto it = loaded.rbegin(); it != loaded.rend(); ++it) Push(it->first, it->second);
    return true;
  }

  const ParseOptions& options_;
  Corefile* corefile_;
  std::vector<Frame> frames_;
  std::map<std::string, std::shared_ptr<const TokenList>> snippets_;
  std::map<std::string, std::shared_ptr<const TokenList>> file_cache_;
  int imports_ = 0;
  std::string error_;
  std::vector<Token>* record_ = nullptr;
};

// Go's encoding/json string: quotes, backslash and control characters escaped,
// and <, >, & as \u003c... (json.Marshal escapes HTML by default).
void AppendJsonString(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      out->append("\\u00");
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xf]);
    } else if (c == 0xe2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(text[i + 2]) & 0xfe) == 0xa8) {
      out->append(static_cast<unsigned char>(text[i + 2]) == 0xa8 ? "\\u2028" : "\\u2029");
      i += 2;
    } else {
      out->push_back(static_cast<char>(c));
    }
  }
  out->push_back('"');
}

// One Caddy ServerBlock as json.Marshal writes it (map keys sorted).
void AppendCanonicalBlock(const std::vector<std::string>& keys,
                          const std::map<std::string, std::vector<Token>>& tokens,
                          std::string* out) {
  out->append(out->empty() ? "[" : ",");
  out->append("{\"Keys\":[");
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(keys[i], out);
  }
  out->append("],\"Tokens\":{");
  bool first = true;
  for (const auto& [name, list] : tokens) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(name, out);
    out->append(":[");
    for (size_t i = 0; i < list.size(); ++i) {
      if (i > 0) out->push_back(',');
      out->append("{\"File\":");
      AppendJsonString(list[i].file, out);
      out->append(",\"Line\":" + std::to_string(list[i].line) + ",\"Text\":");
      AppendJsonString(list[i].text, out);
      out->push_back('}');
    }
    out->push_back(']');
  }
  out->append("}}");
}

enum class BlockKind { kServer, kGlobal, kNested };

class Parser {
 public:
  Parser(const ParseOptions& options, Corefile* corefile)
      : options_(options), corefile_(corefile), stream_(options, corefile) {}

  bool Parse(std::string_view text, const std::string& filename) {
    corefile_->files.push_back(filename);
    auto tokens = std::make_shared<TokenList>();
    std::string error;
    if (!Lex(text, filename, options_.getenv, tokens.get(), &error)) return Fail(error);
    stream_.Push(tokens, "file " + AbsolutePath(filename));

    while (const LexToken* t = stream_.Peek()) {
      if (t->close_brace) return Fail(ErrorAt(t->token, kUnmatchedClose));
      if (t->open_brace) {
        if (!ParseGlobal()) return false;
        continue;
      }
      if (!ParseServerBlock()) return false;
    }
    if (stream_.failed()) return Fail(stream_.error());
    // A nil slice when there is no block, as Go marshals it.
    corefile_->canonical = corefile_->canonical.empty() ? "null" : corefile_->canonical + "]";
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  bool Fail(std::string_view error) {
    if (error_.empty()) error_ = std::string(error);
    return false;
  }
  bool FailStream() { return Fail(stream_.error()); }

  // A block without keys: only as the first block, as warpdns's global
  // options (CoreDNS silently ignores such a block; we give it a meaning).
  bool ParseGlobal() {
    const LexToken open = stream_.Take();
    if (seen_server_block_ || corefile_->global.has_value()) {
      return Fail(ErrorAt(open.token,
                          "Unexpected '{', expected server block keys (a block without keys, the "
                          "global options block, may only come before all server blocks)"));
    }
    Directive global;
    global.name = open.token;
    global.has_block = true;
    global.block_open = open.token;
    if (!ParseBody(&open, BlockKind::kGlobal, 0, &global.block)) return false;
    corefile_->global = std::move(global);
    return true;
  }

  bool ParseServerBlock() {
    raw_keys_.clear();
    block_tokens_.clear();
    std::vector<Token> keys;
    Token last;
    bool expecting_another = false;  // previous key ended with ','
    bool braced = false;
    bool at_eof = false;
    LexToken open;
    while (true) {
      const LexToken* t = stream_.Peek();
      if (t == nullptr) {
        if (stream_.failed()) return FailStream();
        if (expecting_another) {
          return Fail(ErrorAt(last, "Unexpected EOF, expected another key after ','"));
        }
        at_eof = true;
        break;
      }
      if (t->open_brace) {
        if (expecting_another) {
          return Fail(
              ErrorAt(t->token, "Expected another key but had '{' - check for extra comma"));
        }
        open = stream_.Take();
        braced = true;
        break;
      }
      // Without a trailing comma a newline ends the key list.
      if (!keys.empty() && t->starts_line && !expecting_another) break;
      if (t->close_brace) return Fail(ErrorAt(t->token, kUnmatchedClose));
      const Token key = stream_.Take().token;
      last = key;
      if (key.text.empty()) {
        return Fail(ErrorAt(key, "Empty server block key (an unset environment variable?)"));
      }
      expecting_another = key.text.back() == ',';
      // Caddy's key: the token less a trailing comma.
      raw_keys_.push_back(key.text.substr(0, key.text.size() - (expecting_another ? 1 : 0)));
      size_t start = 0;
      while (start <= key.text.size()) {
        size_t comma = key.text.find(',', start);
        if (comma == std::string::npos) comma = key.text.size();
        if (comma > start) {
          Token piece = key;
          piece.text = key.text.substr(start, comma - start);
          keys.push_back(std::move(piece));
        }
        start = comma + 1;
      }
    }
    if (keys.empty()) return Fail(ErrorAt(last, "Expected a server block key"));

    if (keys.size() == 1 && IsSnippetKey(keys[0].text)) {
      return DefineSnippet(keys[0], braced ? &open : nullptr);
    }

    ServerBlock block;
    block.first_key = keys[0];
    for (const Token& key : keys) {
      if (IsSnippetKey(key.text)) {
        return Fail(ErrorAt(
            key, "Snippet definition " + key.text + " must be the only key before its '{'"));
      }
      std::string error;
      if (!ParseAddressKey(key, options_.default_dns_port, &block.addresses, &error)) {
        return Fail(error);
      }
    }
    seen_server_block_ = true;
    if (braced) {
      if (!ParseBody(&open, BlockKind::kServer, 0, &block.directives)) return false;
    } else if (!at_eof) {
      // A single block may omit its braces: it then runs to the end.
      if (!ParseBody(nullptr, BlockKind::kServer, 0, &block.directives)) return false;
    }
    if (!CheckDuplicates(block)) return false;
    corefile_->blocks.push_back(std::move(block));
    AppendCanonicalBlock(raw_keys_, block_tokens_, &corefile_->canonical);
    return true;
  }

  // The same transport+zone+port twice is an error, except in blocks with a
  // `view` (filtered blocks are how CoreDNS lets two blocks share a zone).
  bool CheckDuplicates(const ServerBlock& block) {
    bool filtered = false;
    for (const Directive& d : block.directives) filtered |= d.name.text == "view";
    std::set<std::string> in_block;
    for (const Address& a : block.addresses) {
      const std::string name = a.ToString();
      if (!in_block.insert(name).second || (!filtered && served_.count(name) > 0)) {
        return Fail(ErrorAt(a.key, "cannot serve " + name + " - it is already defined"));
      }
    }
    if (!filtered) served_.insert(in_block.begin(), in_block.end());
    return true;
  }

  // Stores the raw tokens of "(name) { ... }"; imports inside are expanded
  // where the snippet is used, as CoreDNS does.
  bool DefineSnippet(const Token& key, const LexToken* open) {
    const std::string name = key.text.substr(1, key.text.size() - 2);
    if (open == nullptr)
      return Fail(ErrorAt(key, "Snippet " + key.text + " must be followed by '{'"));
    if (stream_.HasSnippet(name)) {
      return Fail(ErrorAt(key, "Redeclaration of previously declared snippet " + name));
    }
    TokenList body;
    int depth = 1;
    while (true) {
      if (stream_.PeekRaw() == nullptr) return Fail(ErrorAt(open->token, kUnclosedBlock));
      LexToken t = stream_.Take();
      if (t.close_brace && --depth == 0) break;
      if (t.open_brace) ++depth;
      body.push_back(std::move(t));
    }
    stream_.DefineSnippet(name, std::move(body));
    return true;
  }

  // Lines of a block up to its '}' (or to EOF when `open` is null): each a
  // name, the rest of its line as arguments, and an optional { ... } block.
  bool ParseBody(const LexToken* open, BlockKind kind, int depth, std::vector<Directive>* out) {
    if (depth > kMaxNesting) return Fail(ErrorAt(open->token, "Blocks are nested too deeply"));
    while (true) {
      const LexToken* t = stream_.Peek();
      if (t == nullptr) {
        if (stream_.failed()) return FailStream();
        if (open != nullptr) return Fail(ErrorAt(open->token, kUnclosedBlock));
        return true;
      }
      if (t->close_brace) {
        if (open == nullptr) return Fail(ErrorAt(t->token, kUnmatchedClose));
        stream_.Take();
        return true;
      }
      if (t->open_brace)
        return Fail(ErrorAt(t->token, "Unexpected '{', expected a directive name"));

      Directive d;
      // A server block's directive: it and everything up to its end are its tokens.
      if (kind == BlockKind::kServer) stream_.Record(&block_tokens_[t->token.text]);
      d.name = stream_.Take().token;
      if (kind == BlockKind::kServer && !ValidDirective(d.name.text)) {
        return Fail(ErrorAt(d.name, "Unknown directive '" + d.name.text + "'"));
      }
      while ((t = stream_.Peek()) != nullptr && !t->starts_line && !t->open_brace &&
             !t->close_brace) {
        d.args.push_back(stream_.Take().token);
      }
      if (stream_.failed()) return FailStream();
      // The '{' may also start the next line, as Caddy accepts.
      if (t != nullptr && t->open_brace) {
        const LexToken brace = stream_.Take();
        d.has_block = true;
        d.block_open = brace.token;
        if (!ParseBody(&brace, BlockKind::kNested, depth + 1, &d.block)) return false;
        t = stream_.Peek();
        if (stream_.failed()) return FailStream();
        if (t != nullptr && !t->starts_line && !t->close_brace) {
          return Fail(ErrorAt(t->token,
                              "Unexpected '" + t->token.text + "' after '}', expected a new line"));
        }
      }
      if (kind == BlockKind::kServer) stream_.Record(nullptr);
      out->push_back(std::move(d));
    }
  }

  const ParseOptions& options_;
  Corefile* corefile_;
  TokenStream stream_;
  std::string error_;
  bool seen_server_block_ = false;
  std::set<std::string> served_;  // Address::ToString() of unfiltered blocks
  // The block being parsed as Caddy sees it, for Corefile::canonical.
  std::vector<std::string> raw_keys_;
  std::map<std::string, std::vector<Token>> block_tokens_;
};

}  // namespace

std::string ErrorAt(const Token& at, std::string_view message) {
  return at.file + ":" + std::to_string(at.line) +
         " - Error during parsing: " + std::string(message);
}

std::string ArgErrorAt(const Token& at) {
  if (at.text == "{" && !at.quoted) return ErrorAt(at, "Unexpected token '{', expecting argument");
  return ErrorAt(at, "Wrong argument count or unexpected line ending after '" + at.text + "'");
}

const std::vector<std::string_view>& PluginOrder() {
  // plugin.cfg of CoreDNS master, top (first to see a query) to bottom.
  static const std::vector<std::string_view> kOrder = {
      "root",        "metadata",  "geoip",    "cancel",       "proxyproto",  "quic",
      "grpc_server", "https",     "https3",   "timeouts",     "multisocket", "reload",
      "nsid",        "bufsize",   "bind",     "debug",        "trace",       "ready",
      "health",      "pprof",     "shed",     "prometheus",   "errors",      "log",
      "dnstap",      "local",     "dns64",    "any",          "chaos",       "loadbalance",
      "tsig",        "rewrite",   "autopath", "acl",          "cache",       "header",
      "dnssec",      "tls",       "minimal",  "template",     "transfer",    "hosts",
      "route53",     "azure",     "clouddns", "k8s_external", "kubernetes",  "file",
      "auto",        "secondary", "etcd",     "loop",         "forward",     "proxy",       "grpc",
      "erratic",     "whoami",    "on",       "sign",         "view",        "nomad",
  };
  return kOrder;
}

int PluginIndex(std::string_view name) {
  static const std::map<std::string_view, int> kIndex = [] {
    std::map<std::string_view, int> index;
    const auto& order = PluginOrder();
    for (size_t i = 0; i < order.size(); ++i) index.emplace(order[i], static_cast<int>(i));
    return index;
  }();
  auto it = kIndex.find(name);
  return it == kIndex.end() ? -1 : it->second;
}

std::optional<Corefile> ParseCorefile(std::string_view text, const std::string& filename,
                                      const ParseOptions& options, std::string* error) {
  Corefile corefile;
  Parser parser(options, &corefile);
  if (!parser.Parse(text, filename)) {
    if (error != nullptr) *error = parser.error();
    return std::nullopt;
  }
  return corefile;
}

std::optional<Corefile> ParseCorefileFile(const std::string& path, const ParseOptions& options,
                                          std::string* error) {
  std::string contents;
  std::string reason;
  if (!ReadFile(path, &contents, &reason)) {
    if (error != nullptr) {
      Token at;
      at.file = path;
      *error = ErrorAt(at, "Could not read the Corefile: " + reason);
    }
    return std::nullopt;
  }
  return ParseCorefile(contents, path, options, error);
}

}  // namespace warpdns::config
