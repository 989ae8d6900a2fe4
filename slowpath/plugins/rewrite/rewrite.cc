// rewrite: rewrites the question (name, type, class) and EDNS0 options of a
// request before the plugins below see it, and puts the question asked back
// into the reply (CoreDNS plugin/rewrite).
#include <algorithm>

#include "slowpath/chain/plugin.h"
#include "slowpath/plugins/rewrite/rule.h"

namespace warpdns::slowpath::rewrite {
namespace {

// CoreDNS's ResponseReverter: the question as asked goes back into the
// reply (dig reports "Question section mismatch" otherwise), then the
// response rules run over every record.
class Reverter : public ResponseWriter {
 public:
  Reverter(ResponseWriter& inner, wire::Question original)
      : inner_(inner), original_(std::move(original)) {}

  void WriteMsg(const wire::Message& reply) override {
    wire::Message m = reply;
    if (restore_question_) {
      if (m.question.empty()) {
        m.question.push_back(original_);
      } else {
        m.question[0] = original_;
      }
    }
    for (auto* section : {&m.authority, &m.answer, &m.additional}) {
      for (wire::Rr& rr : *section) {
        for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) it->Apply(&rr);
      }
    }
    // An OPT the client did not send may not come back (RFC 6891 6.1.1).
    if (strip_opt_) m.edns = wire::Edns{};
    inner_.WriteMsg(m);
  }
  bool Written() const override { return inner_.Written(); }
  size_t Len() const override { return inner_.Len(); }

  const wire::Question& original() const { return original_; }
  std::vector<ResponseRule>& rules() { return rules_; }
  bool strip_opt() const { return strip_opt_; }
  void set_strip_opt() { strip_opt_ = true; }
  void set_restore_question(bool restore) { restore_question_ = restore; }

 private:
  ResponseWriter& inner_;
  const wire::Question original_;
  std::vector<ResponseRule> rules_;
  bool restore_question_ = true;
  bool strip_opt_ = false;
};

class Rewrite : public Plugin {
 public:
  explicit Rewrite(std::vector<std::unique_ptr<Rule>> rules) : rules_(std::move(rules)) {}

  std::string_view Name() const override { return "rewrite"; }
  // A pure function of the query: chains with it can be memoized, keyed by
  // the question as the client asked it, so every rule the fast path
  // replays costs it nothing per packet.
  bool Deterministic() const override {
    return std::all_of(rules_.begin(), rules_.end(),
                       [](const auto& r) { return r->Deterministic(); });
  }

  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    Reverter wr(w, req.msg.question.at(0));
    for (const auto& rule : rules_) {
      Outcome outcome = rule->Apply(req);
      if (!outcome.done) continue;
      if (!outcome.invalid_name.empty()) {
        req.msg.question[0] = wr.original();
        co_return Result{wire::rcode::kServFail,
                         "invalid name after rewrite: " + outcome.invalid_name};
      }
      std::move(outcome.response.begin(), outcome.response.end(), std::back_inserter(wr.rules()));
      if (outcome.created_opt) wr.set_strip_opt();
      if (rule->stop()) {
        Result r = co_await Next(req, wr);
        if (!CallerMustWrite(r.rcode)) co_return r;
        // Write the error here, through the reverter: the server would
        // answer with the rewritten question.
        if (!wr.Written()) {
          wire::Message reply = wire::MakeReply(req.msg);
          reply.SetRcode(r.rcode);
          wr.WriteMsg(reply);
        }
        co_return Result{wire::rcode::kNoError, r.error};
      }
    }
    // Only `continue` rules matched: the question is restored only if they
    // left response rules (CoreDNS).
    if (wr.rules().empty()) {
      if (!wr.strip_opt()) co_return co_await Next(req, w);
      wr.set_restore_question(false);
    }
    co_return co_await Next(req, wr);
  }

 private:
  const std::vector<std::unique_ptr<Rule>> rules_;
};

bool SameDirective(const config::Directive& a, const config::Directive& b) {
  return &a == &b || (a.name.file == b.name.file && a.name.line == b.name.line);
}

// The rule of one `rewrite` line; a line with fewer than two arguments
// takes its block's tokens as further arguments.
std::unique_ptr<Rule> ParseLine(const config::Directive& d, std::string* error) {
  auto fail = [&](const config::Token& at, const std::string& message) {
    *error = "plugin/rewrite: " + config::ErrorAt(at, message);
    return nullptr;
  };
  std::vector<config::Token> tokens = d.args;
  if (d.has_block) {
    if (tokens.size() >= 2) return fail(d.block_open, "Unexpected token '{', expecting argument");
    for (const config::Directive& line : d.block) {
      if (line.has_block) return fail(line.block_open, "Unexpected token '{', expecting argument");
      tokens.push_back(line.name);
      tokens.insert(tokens.end(), line.args.begin(), line.args.end());
    }
  }
  std::vector<std::string> args;
  for (const config::Token& t : tokens) args.push_back(t.text);
  std::string message;
  int at = -1;
  std::unique_ptr<Rule> rule = NewRule(args, &message, &at);
  if (!rule) return fail(at >= 0 ? tokens[static_cast<size_t>(at)] : d.name, message);
  return rule;
}

// All `rewrite` lines of a block make one plugin, as in CoreDNS: rules run
// in the order written. The first line's setup takes them all.
std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  std::vector<const config::Directive*> lines;
  for (const config::Directive& d : ctx.block.directives) {
    if (d.name.text == "rewrite") lines.push_back(&d);
  }
  if (std::none_of(lines.begin(), lines.end(),
                   [&](const config::Directive* d) { return SameDirective(*d, ctx.directive); })) {
    lines = {&ctx.directive};
  } else if (!SameDirective(*lines.front(), ctx.directive)) {
    return nullptr;
  }
  std::vector<std::unique_ptr<Rule>> rules;
  for (const config::Directive* d : lines) {
    std::unique_ptr<Rule> rule = ParseLine(*d, error);
    if (!rule) return nullptr;
    rules.push_back(std::move(rule));
  }
  return std::make_unique<Rewrite>(std::move(rules));
}

const Registrar kRegistrar({"rewrite", Setup});

}  // namespace
}  // namespace warpdns::slowpath::rewrite
