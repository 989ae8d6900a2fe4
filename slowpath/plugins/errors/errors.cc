// errors: logs every error returned through the chain, optionally
// consolidating repeated ones into periodic summaries (CoreDNS plugin/errors).
#include <algorithm>
#include <atomic>
#include <iterator>

#include <re2/re2.h>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::errors {
namespace {

constexpr size_t kMaxRegexpLength = 10000;

// Go's time.Duration.String(): "30s", "1m30s", "1h0m0s", "1.5s", "300ms".
std::string GoDuration(int64_t ns) {
  if (ns == 0) return "0s";
  const bool negative = ns < 0;
  uint64_t u = negative ? -static_cast<uint64_t>(ns) : static_cast<uint64_t>(ns);
  // The fraction of u / 10^precision without trailing zeros, and u's integer
  // part left in u.
  auto fraction = [&u](int precision) {
    std::string digits;
    bool printing = false;
    for (int i = 0; i < precision; ++i) {
      const int digit = static_cast<int>(u % 10);
      printing = printing || digit != 0;
      if (printing) digits.insert(digits.begin(), static_cast<char>('0' + digit));
      u /= 10;
    }
    return digits.empty() ? digits : "." + digits;
  };
  std::string out;
  if (u < 1'000'000'000) {
    int precision = 0;
    std::string unit = "ns";
    if (u >= 1'000'000) {
      precision = 6;
      unit = "ms";
    } else if (u >= 1000) {
      precision = 3;
      unit = "\xC2\xB5s";  // µs
    }
    const std::string frac = fraction(precision);
    out = std::to_string(u) + frac + unit;
  } else {
    const std::string frac = fraction(9);
    out = std::to_string(u % 60) + frac + "s";
    u /= 60;
    if (u > 0) {
      out = std::to_string(u % 60) + "m" + out;
      u /= 60;
      if (u > 0) out = std::to_string(u) + "h" + out;
    }
  }
  return negative ? "-" + out : out;
}

enum class Level { kError, kWarning, kInfo, kDebug };

// One `consolidate DURATION REGEXP [LEVEL] [show_first]`.
struct Pattern {
  std::string text;  // as written, for the summary line
  std::unique_ptr<re2::RE2> regex;  // Go regexp syntax is RE2 syntax
  int64_t period_ns = 0;
  Level level = Level::kError;
  bool show_first = false;
  std::atomic<uint32_t> count{0};
};

// The patterns and their counters, shared with the host's summary tasks and
// shutdown hook (held weakly, so they end with the configuration).
class Consolidator {
 public:
  explicit Consolidator(Host* host) : host_(host) {}

  std::vector<std::unique_ptr<Pattern>>& patterns() { return patterns_; }

  // Index of the first pattern matching `error`, or -1.
  int Match(const std::string& error) const {
    for (size_t i = 0; i < patterns_.size(); ++i) {
      if (re2::RE2::PartialMatch(error, *patterns_[i]->regex)) return static_cast<int>(i);
    }
    return -1;
  }

  // Counts one error for pattern i. Returns true when it is only counted,
  // false when it is to be logged now (the first of a period with
  // show_first, or any after shutdown began).
  bool Count(int i) {
    if (stopped_.load(std::memory_order_acquire)) return false;
    Pattern& p = *patterns_[i];
    return p.count.fetch_add(1, std::memory_order_relaxed) > 0 || !p.show_first;
  }

  // Logs the summary of pattern i for the period that just ended. With
  // show_first a lone error was already logged in full.
  void Summarize(size_t i) {
    Pattern& p = *patterns_[i];
    const uint32_t n = p.count.exchange(0, std::memory_order_relaxed);
    if (n == 0 || (n == 1 && p.show_first)) return;
    Log(p.level, std::to_string(n) + " errors like '" + p.text + "' occurred in last " +
                     GoDuration(p.period_ns));
  }

  // At shutdown: report what was counted; later errors are logged singly.
  void Stop() {
    stopped_.store(true, std::memory_order_release);
    for (size_t i = 0; i < patterns_.size(); ++i) Summarize(i);
  }

  void Log(Level level, const std::string& message) const {
    switch (level) {
      case Level::kError:
        host_->Log("[ERROR] plugin/errors: " + message);
        break;
      case Level::kWarning:
        host_->Log("[WARNING] plugin/errors: " + message);
        break;
      case Level::kInfo:
        host_->Log("[INFO] plugin/errors: " + message);
        break;
      case Level::kDebug:
        // Debug lines print only with the `debug` plugin, which warpdns
        // does not have yet.
        break;
    }
  }

 private:
  Host* const host_;
  std::vector<std::unique_ptr<Pattern>> patterns_;
  std::atomic<bool> stopped_{false};
};

class ErrorHandler : public Plugin {
 public:
  explicit ErrorHandler(std::shared_ptr<Consolidator> consolidator)
      : consolidator_(std::move(consolidator)) {}

  std::string_view Name() const override { return "errors"; }
  // Logs only errors, and replies carrying one are never memoized.
  bool Deterministic() const override { return true; }

  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    Result result = co_await Next(req, w);
    if (result.error.empty()) co_return result;
    Level level = Level::kError;
    if (const int i = consolidator_->Match(result.error); i >= 0) {
      if (consolidator_->Count(i)) co_return result;
      level = consolidator_->patterns()[i]->level;
    }
    consolidator_->Log(level, std::to_string(result.rcode) + " " + req.QNameText() + " " +
                                  wire::TypeToString(req.QType()) + ": " + result.error);
    co_return result;
  }

 private:
  std::shared_ptr<Consolidator> consolidator_;
};

// `consolidate DURATION REGEXP [LEVEL] [show_first]`.
bool ParseConsolidate(const config::Directive& opt, Pattern* p, std::string* error) {
  auto fail = [&](const std::string& message) {
    *error = "plugin/errors: " + message;
    return false;
  };
  const std::vector<config::Token>& args = opt.args;
  if (args.size() < 2 || args.size() > 4) {
    return fail(config::ArgErrorAt(args.empty() ? opt.name : args.back()));
  }
  std::string why;
  if (!config::ParseDuration(args[0].text, &p->period_ns, &why) || p->period_ns <= 0) {
    if (why.empty()) why = "time: invalid duration \"" + args[0].text + "\"";
    return fail(config::ErrorAt(args[0], why));
  }
  p->text = args[1].text;
  if (p->text.size() > kMaxRegexpLength) {
    return fail(config::ErrorAt(args[1], "regexp too long: " + std::to_string(p->text.size()) +
                                             " > " + std::to_string(kMaxRegexpLength)));
  }
  re2::RE2::Options re_options;
  re_options.set_log_errors(false);
  p->regex = std::make_unique<re2::RE2>(p->text, re_options);
  if (!p->regex->ok()) {
    return fail(config::ErrorAt(args[1], "error parsing regexp: " + p->regex->error()));
  }
  bool have_level = false;
  for (size_t i = 2; i < args.size(); ++i) {
    const std::string& a = args[i].text;
    if (a == "show_first") {
      p->show_first = true;
      continue;
    }
    static constexpr std::pair<std::string_view, Level> kLevels[] = {{"error", Level::kError},
                                                                     {"warning", Level::kWarning},
                                                                     {"info", Level::kInfo},
                                                                     {"debug", Level::kDebug}};
    auto it = std::find_if(std::begin(kLevels), std::end(kLevels),
                           [&](const auto& entry) { return entry.first == a; });
    if (it == std::end(kLevels) || have_level) {
      return fail(config::ErrorAt(args[i], "unknown log level argument in consolidate: " + a));
    }
    p->level = it->second;
    have_level = true;
  }
  return true;
}

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (d.args.size() > 1) {
    *error = "plugin/errors: " + config::ArgErrorAt(d.args.back());
    return nullptr;
  }
  if (d.args.size() == 1 && d.args[0].text != "stdout") {
    *error = "plugin/errors: " + config::ErrorAt(d.args[0], "invalid log file: " + d.args[0].text);
    return nullptr;
  }
  auto consolidator = std::make_shared<Consolidator>(ctx.host);
  auto unknown = [&](const config::Token& t) {
    *error = "plugin/errors: " +
             config::ErrorAt(t, "Syntax error: Unexpected token '" + t.text +
                                    "', expecting 'Unknown field " + t.text + "'");
    return nullptr;
  };
  for (const config::Directive& opt : d.block) {
    if (opt.name.text == "stacktrace") {
      // CoreDNS reads the next token as the next field.
      if (!opt.args.empty()) return unknown(opt.args[0]);
      if (opt.has_block) return unknown(opt.block_open);
      // Stack traces are for recovered Go panics; warpdns has none to trace.
      continue;
    }
    if (opt.name.text != "consolidate") return unknown(opt.name);
    auto pattern = std::make_unique<Pattern>();
    if (!ParseConsolidate(opt, pattern.get(), error)) return nullptr;
    consolidator->patterns().push_back(std::move(pattern));
  }

  std::weak_ptr<Consolidator> weak = consolidator;
  for (size_t i = 0; i < consolidator->patterns().size(); ++i) {
    // Fixed periods: CoreDNS times each period from its first error, so a
    // summary may come up to one period earlier here.
    const int64_t period_ms =
        std::max<int64_t>(consolidator->patterns()[i]->period_ns / 1'000'000, 1);
    ctx.host->Every(period_ms, [weak, i] {
      if (auto c = weak.lock()) c->Summarize(i);
    });
  }
  if (!consolidator->patterns().empty()) {
    ctx.host->OnShutdown([weak] {
      if (auto c = weak.lock()) c->Stop();
    });
  }
  return std::make_unique<ErrorHandler>(std::move(consolidator));
}

const Registrar kRegistrar({"errors", Setup, true});

}  // namespace
}  // namespace warpdns::slowpath::errors
