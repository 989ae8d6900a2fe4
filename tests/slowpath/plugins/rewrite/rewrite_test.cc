#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::rewrite {
namespace {

using ::testing::ElementsAre;
using ::testing::SizeIs;
using testutil::FakeHost;
using testutil::Load;
using testutil::MakeRequest;
using testutil::MakeRr;
using testutil::MustName;
using testutil::RecordingWriter;
using testutil::StubPlugin;

std::vector<uint8_t> NameBytes(std::string_view name) {
  wire::Name n = MustName(name);
  return {n.data(), n.data() + n.size()};
}

std::string Owners(const std::vector<wire::Rr>& rrs) {
  std::string out;
  for (const wire::Rr& rr : rrs) out += (out.empty() ? "" : " ") + rr.name.ToText();
  return out;
}

// The name inside a record's RDATA at `offset`.
std::string Target(const wire::Rr& rr, size_t offset = 0) {
  wire::Name n;
  EXPECT_TRUE(wire::Name::FromWire(rr.rdata.data() + offset, rr.rdata.size() - offset, &n));
  return n.ToText();
}

// (code, data) of every EDNS0 option.
std::vector<std::pair<int, std::string>> OptionsOf(const wire::Message& m) {
  std::vector<std::pair<int, std::string>> out;
  const auto& raw = m.edns.options;
  for (size_t i = 0; i + 4 <= raw.size();) {
    const int code = raw[i] << 8 | raw[i + 1];
    const size_t len = static_cast<size_t>(raw[i + 2] << 8 | raw[i + 3]);
    out.emplace_back(code, std::string(raw.begin() + static_cast<long>(i) + 4,
                                       raw.begin() + static_cast<long>(i + 4 + len)));
    i += 4 + len;
  }
  return out;
}

class RewriteTest : public ::testing::Test {
 protected:
  void Setup(const std::string& lines) {
    loaded_ = Load(". {\n" + lines + "\n}\n", "rewrite", &host_);
    ASSERT_EQ(loaded_.error, "");
    ASSERT_THAT(loaded_.plugins, SizeIs(1));
    // The backend records the query it saw and answers with `answer_`.
    backend_ = std::make_unique<StubPlugin>([this](Request& req, ResponseWriter& w) {
      seen_ = req.msg;
      if (backend_rcode_ != wire::rcode::kNoError) return Result{backend_rcode_, "backend error"};
      wire::Message m = wire::MakeReply(req.msg);
      if (answer_) answer_(req, &m);
      w.WriteMsg(m);
      return Result{};
    });
    loaded_.get()->SetNext(backend_.get());
  }

  wire::Message Query(Request req) {
    RecordingWriter w;
    result_ = RunSync(loaded_.get()->ServeDns(req, w));
    return w.replies.empty() ? wire::Message{} : w.reply();
  }
  wire::Message Query(std::string_view qname, uint16_t qtype = wire::type::kA) {
    return Query(MakeRequest(qname, qtype));
  }

  FakeHost host_;
  testutil::Loaded loaded_;
  std::unique_ptr<StubPlugin> backend_;
  std::function<void(const Request&, wire::Message*)> answer_;
  int backend_rcode_ = wire::rcode::kNoError;
  wire::Message seen_;
  Result result_;
};

struct NameCase {
  std::string name;
  std::string rule;
  std::string qname;
  std::string want;  // the name the backend is asked
};

class NameTest : public RewriteTest, public ::testing::WithParamInterface<NameCase> {};

TEST_P(NameTest, BackendSeesTheRewrittenName) {
  Setup("  rewrite " + GetParam().rule);
  wire::Message reply = Query(GetParam().qname);
  EXPECT_EQ(seen_.question.at(0).name.ToText(), GetParam().want);
  // Whatever happened below, the client sees its question.
  EXPECT_EQ(reply.question.at(0).name.ToText(), GetParam().qname);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NameTest,
    ::testing::Values(
        NameCase{"ExactDefault", "name example.com example.org", "example.com.", "example.org."},
        NameCase{"ExactIsCaseInsensitive", "name exact Example.COM example.org", "EXAMPLE.com.",
                 "example.org."},
        NameCase{"ExactNoMatchForSubdomain", "name example.com example.org", "a.example.com.",
                 "a.example.com."},
        NameCase{"Prefix", "name prefix ftp. www.", "ftp.example.com.", "www.example.com."},
        NameCase{"Suffix", "name suffix .schmoogle.com .google.com", "www.schmoogle.com.",
                 "www.google.com."},
        NameCase{"Substring",
                 "name substring service.us-west-1.example.org service.us-west-1.consul",
                 "ftp.service.us-west-1.example.org.", "ftp.service.us-west-1.consul."},
        NameCase{"RegexCaptures",
                 R"(name regex (.*)-(us-west-1)\.example\.org {1}.service.{2}.consul)",
                 "ftp-us-west-1.example.org.", "ftp.service.us-west-1.consul."},
        NameCase{"RegexTwoGroups", R"(name regex ^([a-z]+)\.([a-z]+)\.org\.$ {2}.{1}.net)",
                 "www.example.org.", "example.www.net."},
        NameCase{"RegexNoMatch", R"(name regex ^mail\.(.*) {1})", "www.example.org.",
                 "www.example.org."},
        NameCase{"StopMode", "stop name example.com example.org", "example.com.", "example.org."}),
    [](const auto& info) { return info.param.name; });

TEST_F(RewriteTest, RegexThatBuildsAnInvalidNameIsServfail) {
  Setup(R"(  rewrite name regex ^(www)\.(.+)$ {1}..{2})");
  wire::Message reply = Query("www.example.org.");
  EXPECT_TRUE(reply.question.empty());
  EXPECT_EQ(result_.rcode, wire::rcode::kServFail);
  // The replacement was made fully qualified: "{1}..{2}.".
  EXPECT_EQ(result_.error, "invalid name after rewrite: www..example.org..");
  EXPECT_EQ(backend_->calls, 0);
}

TEST_F(RewriteTest, ExactRuleRewritesAnswersBackAutomatically) {
  Setup("  rewrite name exact example.com example.org");
  answer_ = [](const Request& req, wire::Message* m) {
    m->answer.push_back(MakeRr(req.QName().ToText(), wire::type::kA, 300, {192, 0, 2, 1}));
    m->authority.push_back(
        MakeRr("example.org.", wire::type::kNs, 300, NameBytes("ns1.example.org.")));
    m->additional.push_back(MakeRr("ns1.example.org.", wire::type::kA, 300, {192, 0, 2, 53}));
  };
  wire::Message reply = Query("Example.COM.");
  EXPECT_EQ(reply.question.at(0).name.ToText(), "Example.COM.");
  EXPECT_EQ(Owners(reply.answer), "example.com.");
  EXPECT_EQ(Owners(reply.authority), "example.com.");
  EXPECT_EQ(Target(reply.authority.at(0)), "ns1.example.com.");
  EXPECT_EQ(Owners(reply.additional), "ns1.example.com.");
}

TEST_F(RewriteTest, RegexWithAnswerNameBlock) {
  Setup(R"(  rewrite stop {
    name regex (.*)-(us-west-1)\.coredns\.rocks {1}.service.{2}.consul
    answer name (.*)\.service\.(us-west-1)\.consul {1}-{2}.coredns.rocks
  })");
  answer_ = [](const Request& req, wire::Message* m) {
    for (uint8_t i = 1; i <= 3; ++i) {
      m->answer.push_back(MakeRr(req.QName().ToText(), wire::type::kA, 0, {10, i, i, i}));
    }
  };
  wire::Message reply = Query("ftp-us-west-1.coredns.rocks.");
  EXPECT_EQ(seen_.question.at(0).name.ToText(), "ftp.service.us-west-1.consul.");
  EXPECT_EQ(reply.question.at(0).name.ToText(), "ftp-us-west-1.coredns.rocks.");
  EXPECT_EQ(Owners(reply.answer),
            "ftp-us-west-1.coredns.rocks. ftp-us-west-1.coredns.rocks. "
            "ftp-us-west-1.coredns.rocks.");
}

TEST_F(RewriteTest, AnswerNameOnOneLineAndAnswerValue) {
  Setup(std::string(R"(  rewrite name regex (.*)\.internal\.example {1}.example.net)") +
        R"( answer name (.*)\.example\.net {1}.internal.example)" +
        R"( answer value (.*)\.example\.net {1}.internal.example)");
  answer_ = [](const Request&, wire::Message* m) {
    m->answer.push_back(
        MakeRr("www.example.net.", wire::type::kCname, 60, NameBytes("web.example.net.")));
    m->answer.push_back(MakeRr("web.example.net.", wire::type::kA, 60, {192, 0, 2, 7}));
  };
  wire::Message reply = Query("www.internal.example.");
  EXPECT_EQ(seen_.question.at(0).name.ToText(), "www.example.net.");
  EXPECT_EQ(Owners(reply.answer), "www.internal.example. web.internal.example.");
  EXPECT_EQ(Target(reply.answer.at(0)), "web.internal.example.");
}

TEST_F(RewriteTest, AnswerAutoRevertsPrefixAndRegexRules) {
  Setup(R"(  rewrite name regex ^(.+)\.corp\.example\.$ {1}.example.org answer auto)");
  answer_ = [](const Request&, wire::Message* m) {
    m->answer.push_back(
        MakeRr("www.example.org.", wire::type::kCname, 60, NameBytes("web.www.example.org.")));
    m->answer.push_back(MakeRr("web.www.example.org.", wire::type::kA, 60, {192, 0, 2, 7}));
    m->answer.push_back(MakeRr("other.example.net.", wire::type::kMx, 60, [] {
      std::vector<uint8_t> mx = {0, 10};
      auto n = NameBytes("mail.www.example.org.");
      mx.insert(mx.end(), n.begin(), n.end());
      return mx;
    }()));
  };
  wire::Message reply = Query("www.corp.example.");
  EXPECT_EQ(seen_.question.at(0).name.ToText(), "www.example.org.");
  // The name asked and everything below the new name map back; the rest
  // stays.
  EXPECT_EQ(Owners(reply.answer), "www.corp.example. web.www.corp.example. other.example.net.");
  EXPECT_EQ(Target(reply.answer.at(0)), "web.www.corp.example.");
  EXPECT_EQ(Target(reply.answer.at(2), 2), "mail.www.corp.example.");
}

TEST_F(RewriteTest, SuffixAnswerAuto) {
  Setup("  rewrite name suffix .schmoogle.com. .google.com. answer auto");
  answer_ = [](const Request&, wire::Message* m) {
    m->answer.push_back(
        MakeRr("www.google.com.", wire::type::kCname, 60, NameBytes("x.google.com.")));
    m->answer.push_back(MakeRr("x.google.com.", wire::type::kA, 60, {192, 0, 2, 7}));
  };
  wire::Message reply = Query("www.schmoogle.com.");
  EXPECT_EQ(Owners(reply.answer), "www.schmoogle.com. x.schmoogle.com.");
  EXPECT_EQ(Target(reply.answer.at(0)), "x.schmoogle.com.");
}

TEST_F(RewriteTest, PrefixWithoutAnswerRulesLeavesAnswers) {
  Setup("  rewrite name prefix ftp. www.");
  answer_ = [](const Request& req, wire::Message* m) {
    m->answer.push_back(MakeRr(req.QName().ToText(), wire::type::kA, 60, {192, 0, 2, 7}));
  };
  wire::Message reply = Query("ftp.example.com.");
  EXPECT_EQ(reply.question.at(0).name.ToText(), "ftp.example.com.");
  EXPECT_EQ(Owners(reply.answer), "www.example.com.");
}

TEST_F(RewriteTest, TypeRewriteRestoresTheQuestionType) {
  Setup("  rewrite type ANY HINFO");
  answer_ = [](const Request& req, wire::Message* m) {
    m->answer.push_back(MakeRr(req.QName().ToText(), wire::type::kHinfo, 60, {1, 'a', 1, 'b'}));
  };
  wire::Message reply = Query("example.org.", wire::type::kAny);
  EXPECT_EQ(seen_.question.at(0).type, wire::type::kHinfo);
  EXPECT_EQ(reply.question.at(0).type, wire::type::kAny);
  ASSERT_THAT(reply.answer, SizeIs(1));
  Query("example.org.", wire::type::kA);
  EXPECT_EQ(seen_.question.at(0).type, wire::type::kA);  // no match, untouched
}

TEST_F(RewriteTest, ClassRewrite) {
  Setup("  rewrite class CH IN");
  wire::Message reply = Query(MakeRequest("example.org.", wire::type::kTxt, wire::qclass::kCh));
  EXPECT_EQ(seen_.question.at(0).qclass, wire::qclass::kIn);
  EXPECT_EQ(reply.question.at(0).qclass, wire::qclass::kCh);
}

TEST_F(RewriteTest, ContinueRulesChainAndRevertInReverse) {
  Setup(
      "  rewrite continue name a.example.org b.example.org\n"
      "  rewrite name b.example.org c.example.org\n"
      "  rewrite name c.example.org d.example.org");
  answer_ = [](const Request& req, wire::Message* m) {
    m->answer.push_back(MakeRr(req.QName().ToText(), wire::type::kA, 60, {192, 0, 2, 7}));
  };
  wire::Message reply = Query("a.example.org.");
  // The second rule stops: the third never runs.
  EXPECT_EQ(seen_.question.at(0).name.ToText(), "c.example.org.");
  EXPECT_EQ(reply.question.at(0).name.ToText(), "a.example.org.");
  EXPECT_EQ(Owners(reply.answer), "a.example.org.");
}

TEST_F(RewriteTest, OnlyContinueRulesWithoutResponseRulesDoNotRestore) {
  Setup("  rewrite continue type A AAAA");
  wire::Message reply = Query("example.org.", wire::type::kA);
  EXPECT_EQ(seen_.question.at(0).type, wire::type::kAaaa);
  EXPECT_EQ(reply.question.at(0).type, wire::type::kAaaa);  // as CoreDNS
}

TEST_F(RewriteTest, TtlRulesSetAndClamp) {
  Setup(
      "  rewrite continue ttl exact one.example.org 15\n"
      R"(  rewrite ttl regex (.*)\.example\.org 30-300)");
  answer_ = [](const Request& req, wire::Message* m) {
    for (uint32_t ttl : {5u, 100u, 900u}) {
      m->answer.push_back(MakeRr(req.QName().ToText(), wire::type::kA, ttl, {192, 0, 2, 7}));
    }
  };
  auto ttls = [](const wire::Message& m) {
    std::vector<uint32_t> out;
    for (const wire::Rr& rr : m.answer) out.push_back(rr.ttl);
    return out;
  };
  EXPECT_THAT(ttls(Query("two.example.org.")), ElementsAre(30, 100, 300));
  // Reverse order: the regex range first, then the exact 15 wins.
  EXPECT_THAT(ttls(Query("one.example.org.")), ElementsAre(15, 15, 15));
  EXPECT_THAT(ttls(Query("example.net.")), ElementsAre(5, 100, 900));
}

TEST_F(RewriteTest, TtlOpenRanges) {
  Setup("  rewrite continue ttl example.org -30\n  rewrite ttl example.org 60-");
  answer_ = [](const Request& req, wire::Message* m) {
    m->answer.push_back(MakeRr(req.QName().ToText(), wire::type::kA, 45, {192, 0, 2, 7}));
  };
  // 60- first (reverse), then -30.
  EXPECT_EQ(Query("example.org.").answer.at(0).ttl, 30u);
}

TEST_F(RewriteTest, Edns0LocalSetAddsAnOptionAndNoOptReturns) {
  Setup("  rewrite edns0 local set 0xffee 0x61626364");
  wire::Message reply = Query("example.org.");
  EXPECT_TRUE(seen_.edns.present);
  EXPECT_EQ(seen_.edns.udp_size, 4096);
  EXPECT_THAT(OptionsOf(seen_), ElementsAre(std::make_pair(0xffee, std::string("abcd"))));
  EXPECT_FALSE(reply.edns.present);  // the client sent none
}

TEST_F(RewriteTest, Edns0LocalActions) {
  Setup(
      "  rewrite continue edns0 local replace 0xffee replaced\n"
      "  rewrite continue edns0 local append 0xffee appended\n"
      "  rewrite continue edns0 local append 0xfff0 {qname}\n"
      "  rewrite continue edns0 local set 0xfff1 {client_ip}\n"
      "  rewrite edns0 local unset 0xfff2");
  Request req = MakeRequest("Example.org.", wire::type::kA);
  req.msg.edns.present = true;
  req.msg.edns.udp_size = 1232;
  req.msg.edns.options = {0xff, 0xf2, 0, 1, 'x'};
  wire::Message reply = Query(std::move(req));
  EXPECT_THAT(OptionsOf(seen_),
              ElementsAre(std::make_pair(0xffee, std::string("appended")),
                          std::make_pair(0xfff0, std::string("Example.org.")),
                          std::make_pair(0xfff1, std::string("\x0a\xf0\x00\x01", 4))));
  EXPECT_TRUE(reply.edns.present);
}

TEST_F(RewriteTest, Edns0NsidAndSubnet) {
  Setup("  rewrite continue edns0 nsid set\n  rewrite edns0 subnet set 24 56");
  Query("example.org.");
  EXPECT_THAT(OptionsOf(seen_),
              ElementsAre(std::make_pair(3, std::string()),
                          std::make_pair(8, std::string("\x00\x01\x18\x00\x0a\xf0\x00", 7))));
  Request v6 = MakeRequest("example.org.", wire::type::kA);
  v6.remote = testutil::SockAddr("2001:db8:aaaa:bbbb::1", 5353);
  Query(std::move(v6));
  EXPECT_EQ(OptionsOf(seen_).at(1).second,
            std::string("\x00\x02\x38\x00\x20\x01\x0d\xb8\xaa\xaa\xbb", 11));
}

TEST_F(RewriteTest, ErrorBelowIsWrittenWithTheOriginalQuestion) {
  Setup("  rewrite name example.com example.org");
  backend_rcode_ = wire::rcode::kServFail;
  wire::Message reply = Query("example.com.");
  EXPECT_EQ(reply.Rcode(), wire::rcode::kServFail);
  EXPECT_EQ(reply.question.at(0).name.ToText(), "example.com.");
  EXPECT_EQ(result_.rcode, wire::rcode::kNoError);  // written: the server writes nothing
  EXPECT_EQ(result_.error, "backend error");
}

TEST(RewriteSetupTest, AllLinesOfABlockAreOnePlugin) {
  FakeHost host;
  testutil::Loaded loaded =
      Load(". {\n  rewrite name a.org b.org\n  rewrite type A AAAA\n}\n", "rewrite", &host);
  ASSERT_EQ(loaded.error, "");
  EXPECT_THAT(loaded.plugins, SizeIs(1));
}

struct SetupErrorCase {
  std::string config;
  std::string error;
};

class RewriteSetupErrorTest : public ::testing::TestWithParam<SetupErrorCase> {};

TEST_P(RewriteSetupErrorTest, RejectedWithFileAndLine) {
  FakeHost host;
  testutil::Loaded loaded = Load(". {\n" + GetParam().config + "\n}\n", "rewrite", &host);
  EXPECT_EQ(loaded.error, "plugin/rewrite: Corefile:" + GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RewriteSetupErrorTest,
    ::testing::Values(
        SetupErrorCase{"  rewrite", "2 - Error during parsing: no rule type specified for rewrite"},
        SetupErrorCase{"  rewrite foo a b", "2 - Error during parsing: invalid rule type \"foo\""},
        SetupErrorCase{"  rewrite name a.org",
                       "2 - Error during parsing: too few arguments for a name rule"},
        SetupErrorCase{"  rewrite name fuzzy a b",
                       "2 - Error during parsing: name rule supports only exact, prefix, suffix, "
                       "substring, and regex name matching, received: fuzzy"},
        SetupErrorCase{"  rewrite name regex (.*)\\.org( {1}",
                       "2 - Error during parsing: invalid regex matching pattern: (.*)\\.org("},
        SetupErrorCase{
            "  rewrite name regex (.*)\\.org {1}.{2}.net",
            "2 - Error during parsing: the rewrite regex pattern ({1}.{2}.net) uses more "
            "subexpressions than its corresponding matching regex pattern ((.*)\\.org)"},
        SetupErrorCase{"  rewrite name regex (.*) {1} answer color a b",
                       "2 - Error during parsing: invalid type \"color\" for answer rule for regex "
                       "rule"},
        SetupErrorCase{"  rewrite name regex (.*) {1} answer auto answer name (.*) {1}",
                       "2 - Error during parsing: auto name answer rule cannot be combined with "
                       "explicit name anwer rules"},
        SetupErrorCase{"  rewrite answer name a b",
                       "2 - Error during parsing: response rewrites must begin with a name rule"},
        SetupErrorCase{"  rewrite type A",
                       "2 - Error during parsing: type rules must have exactly two arguments"},
        SetupErrorCase{"  rewrite type A BOGUS",
                       "2 - Error during parsing: invalid type \"BOGUS\""},
        SetupErrorCase{"  rewrite class IN XX", "2 - Error during parsing: invalid class \"XX\""},
        SetupErrorCase{"  rewrite ttl example.org 10-5",
                       "2 - Error during parsing: invalid TTL '10-5' for a ttl rule"},
        SetupErrorCase{"  rewrite ttl example.org -",
                       "2 - Error during parsing: invalid TTL '-' for a ttl rule"},
        SetupErrorCase{"  rewrite edns0 local set 0xffee",
                       "2 - Error during parsing: EDNS0 local rules require exactly three args"},
        SetupErrorCase{"  rewrite edns0 local toggle 0xffee a",
                       "2 - Error during parsing: invalid action: \"toggle\""},
        SetupErrorCase{"  rewrite edns0 local set 0xffee 0xabc",
                       "2 - Error during parsing: encoding/hex: odd length hex string"},
        SetupErrorCase{"  rewrite edns0 local set 0xffee {bogus}",
                       "2 - Error during parsing: unsupported variable name \"{bogus}\""},
        SetupErrorCase{"  rewrite edns0 subnet set 33 56",
                       "2 - Error during parsing: invalid IPv4 bit mask length 33"},
        SetupErrorCase{"  rewrite edns0 nsid set x",
                       "2 - Error during parsing: EDNS0 NSID rules do not accept args"},
        SetupErrorCase{"  rewrite stop {\n    name regex (.*) {1}\n    answer name a\n  }",
                       "4 - Error during parsing: name answer rule for regex rule: 2 arguments "
                       "required"}));

}  // namespace
}  // namespace warpdns::slowpath::rewrite
