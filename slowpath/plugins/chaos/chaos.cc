#include "slowpath/plugins/chaos/chaos.h"

#include <unistd.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::chaos {

std::string_view WarpdnsVersion() { return "0.1.0"; }

namespace {

// The answer to authors.bind when the Corefile names none.
const std::vector<std::string>& DefaultAuthors() {
  static const auto* authors = new std::vector<std::string>{"warpdns"};
  return *authors;
}

// A TXT character-string holds at most 255 octets; CoreDNS cuts longer ones.
std::string Trim(std::string s) {
  if (s.size() > 255) s.resize(255);
  return s;
}

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return Trim(buf);
}

class Chaos : public Plugin {
 public:
  Chaos(std::string version, std::vector<std::string> authors)
      : version_(std::move(version)), authors_(std::move(authors)) {}

  std::string_view Name() const override { return "chaos"; }

  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    if (req.QClass() != wire::qclass::kCh || req.QType() != wire::type::kTxt) {
      co_return co_await Next(req, w);
    }
    const std::string name = req.QNameText();
    std::vector<std::string> texts;
    if (name == "authors.bind.") {
      texts = authors_;
      std::shuffle(texts.begin(), texts.end(), std::mt19937(std::random_device{}()));
    } else if (name == "version.bind." || name == "version.server.") {
      texts = {version_};
    } else if (name == "hostname.bind." || name == "id.server.") {
      texts = {HostName()};
    } else {
      co_return co_await Next(req, w);
    }
    // Not authoritative: CoreDNS only sets the reply bits here.
    wire::Message reply = wire::MakeReply(req.msg);
    for (const std::string& text : texts) {
      wire::Rr rr;
      rr.name = req.QName();
      rr.type = wire::type::kTxt;
      rr.rclass = wire::qclass::kCh;
      rr.ttl = 0;
      // One character-string: a length octet, then at most 255 octets.
      const size_t len = std::min<size_t>(text.size(), 255);
      rr.rdata.assign(len + 1, static_cast<uint8_t>(len));
      std::copy_n(text.begin(), len, rr.rdata.begin() + 1);
      reply.answer.push_back(std::move(rr));
    }
    w.WriteMsg(reply);
    co_return Result{};
  }

 private:
  std::string version_;
  std::vector<std::string> authors_;
};

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (d.has_block) {
    *error = "plugin/chaos: " +
             config::ErrorAt(d.block_open, "Unexpected token '{', expecting argument");
    return nullptr;
  }
  if (d.args.empty()) {
    return std::make_unique<Chaos>("warpdns-" + std::string(WarpdnsVersion()), DefaultAuthors());
  }
  // As CoreDNS: authors are de-duplicated and sorted (shuffled per answer).
  std::set<std::string> authors;
  for (size_t i = 1; i < d.args.size(); ++i) authors.insert(Trim(d.args[i].text));
  return std::make_unique<Chaos>(Trim(d.args[0].text),
                                 authors.empty()
                                     ? DefaultAuthors()
                                     : std::vector<std::string>(authors.begin(), authors.end()));
}

const Registrar kRegistrar({"chaos", Setup});

}  // namespace
}  // namespace warpdns::slowpath::chaos
