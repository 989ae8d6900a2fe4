// rewrite's rules: what a rule does to the request and which response rules
// it leaves for the reply (CoreDNS plugin/rewrite, name.go, ttl.go,
// edns0.go, type.go, class.go, reverter.go).
#ifndef WARPDNS_SLOWPATH_PLUGINS_REWRITE_RULE_H_
#define WARPDNS_SLOWPATH_PLUGINS_REWRITE_RULE_H_

#include <re2/re2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::rewrite {

// Rewrites one name in presentation form (CoreDNS's stringRewriter).
struct StringRewriter {
  enum class Kind {
    kRegex,   // `pattern` matched anywhere; `to` with {0}, {1}... for the groups
    kRemap,   // `from` itself or any name below it: `from` becomes `to`
    kSuffix,  // a name ending in `from`: that suffix becomes `to`
  };
  Kind kind = Kind::kRegex;
  std::shared_ptr<const re2::RE2> pattern;
  std::string from;
  std::string to;

  // The rewritten name, or `src` unchanged.
  std::string Rewrite(const std::string& src) const;
};

// Applied to every record of the reply, the rules of a request in reverse
// order of collection.
struct ResponseRule {
  enum class Kind {
    kName,   // owner names
    kValue,  // the name in the RDATA of CNAME, DNAME, NS, PTR, MX, SRV, NAPTR, SOA (MNAME)
    kTtl,    // TTL clamped into [min_ttl, max_ttl]
  };
  Kind kind = Kind::kName;
  StringRewriter rewriter;
  uint32_t min_ttl = 0;
  uint32_t max_ttl = 0;

  void Apply(wire::Rr* rr) const;
};

// What applying a rule did.
struct Outcome {
  bool done = false;                   // RewriteDone: the rule matched
  std::vector<ResponseRule> response;  // to apply to the reply
  bool created_opt = false;            // an EDNS0 rule added an OPT the client did not send
  std::string invalid_name;            // a name rule produced this, which is not a domain name
};

class Rule {
 public:
  virtual ~Rule() = default;
  virtual Outcome Apply(Request& req) const = 0;
  // The rewrite depends on the query alone (not on the client's address,
  // port, transport or metadata): its effect can be memoized.
  virtual bool Deterministic() const { return true; }
  // `stop` (the default) ends request rewriting after this rule matches.
  bool stop() const { return stop_; }
  void set_stop(bool stop) { stop_ = stop; }

 private:
  bool stop_ = true;
};

// CoreDNS's newRule over the arguments of one rewrite line (a block's tokens
// appended). On error returns nullptr with *error set and *error_at the
// index of the argument to blame (-1: the directive).
std::unique_ptr<Rule> NewRule(const std::vector<std::string>& args, std::string* error,
                              int* error_at);

}  // namespace warpdns::slowpath::rewrite

#endif  // WARPDNS_SLOWPATH_PLUGINS_REWRITE_RULE_H_
