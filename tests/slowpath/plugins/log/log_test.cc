#include "slowpath/plugins/log/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::log {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;
using testutil::FakeHost;
using testutil::Load;
using testutil::MakeRequest;
using testutil::MakeRr;
using testutil::RecordingWriter;
using testutil::SockAddr;

// MNAME ".", RNAME ".", serial 1, refresh 2, retry 3, expire 4, minimum 5.
const std::vector<uint8_t> kSoaRdata = {0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0,
                                        0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5};

// Splits a logged line into everything before the duration and the duration.
std::pair<std::string, std::string> SplitDuration(const std::string& line) {
  const size_t space = line.rfind(' ');
  return {line.substr(0, space), line.substr(space + 1)};
}

class LogTest : public ::testing::Test {
 protected:
  void Setup(const std::string& lines) {
    loaded_ = Load(". {\n" + lines + "\n}\n", "log", &host_);
    ASSERT_EQ(loaded_.error, "");
    ASSERT_THAT(loaded_.plugins, SizeIs(1));
  }

  // Runs `req` through log with `next` behind it.
  Result Serve(Request& req, std::unique_ptr<testutil::StubPlugin> next) {
    next_ = std::move(next);
    loaded_.get()->SetNext(next_.get());
    w_ = RecordingWriter();
    return RunSync(loaded_.get()->ServeDns(req, w_));
  }

  // A reply with one A record and RA, AD set.
  static std::unique_ptr<testutil::StubPlugin> Answer() {
    return testutil::WriteReply([](wire::Message* m) {
      m->header.SetFlag(wire::flag::kRa, true);
      m->header.SetFlag(wire::flag::kAd, true);
      m->answer.push_back(MakeRr("example.org.", wire::type::kA, 3600, {127, 0, 0, 1}));
    });
  }

  FakeHost host_;
  testutil::Loaded loaded_;
  std::unique_ptr<testutil::StubPlugin> next_;
  RecordingWriter w_;
};

TEST_F(LogTest, CommonFormatIpv6) {
  Setup("  log");
  Request req = MakeRequest("Example.org.", wire::type::kA);
  req.msg.header.id = 29008;
  req.msg.edns.present = true;
  req.msg.edns.udp_size = 4096;
  req.remote = SockAddr("::1", 50759);
  req.start_ns -= 37'990'251;
  Result r = Serve(req, Answer());
  EXPECT_EQ(r.rcode, wire::rcode::kNoError);
  ASSERT_THAT(w_.replies, SizeIs(1));  // passed through to the real writer
  ASSERT_THAT(host_.Lines(), SizeIs(1));
  auto [line, duration] = SplitDuration(host_.Lines()[0]);
  // {size}: 12 + 13 + 4 + OPT 11; {rsize}: that + A record 27.
  EXPECT_EQ(line,
            "[INFO] [::1]:50759 - 29008 \"A IN example.org. udp 40 false 4096\" NOERROR "
            "qr,rd,ra,ad 67");
  EXPECT_TRUE(std::regex_match(duration, std::regex(R"(0\.0[3-9][0-9]*s)"))) << duration;
}

TEST_F(LogTest, CommonFormatIpv4NoEdnsNxdomain) {
  Setup("  log");
  Request req = MakeRequest("missing.example.org.", wire::type::kAaaa);
  req.msg.header.id = 7;
  Result r =
      Serve(req, testutil::WriteReply([](wire::Message* m) {
              m->SetRcode(wire::rcode::kNxDomain);
              m->header.SetFlag(wire::flag::kAa, true);
              m->authority.push_back(MakeRr("example.org.", wire::type::kSoa, 60, kSoaRdata));
            }));
  EXPECT_EQ(r.rcode, wire::rcode::kNoError);
  auto [line, duration] = SplitDuration(host_.Lines().at(0));
  EXPECT_EQ(line,
            "[INFO] 10.240.0.1:40212 - 7 \"AAAA IN missing.example.org. udp 37 false 512\" "
            "NXDOMAIN qr,aa,rd 82");
  EXPECT_TRUE(std::regex_match(duration, std::regex(R"(0\.[0-9]+s)"))) << duration;
}

TEST_F(LogTest, TcpDoAndBufsize) {
  Setup("  log . \"{proto} {>do} {>bufsize} {>opcode} {class}\"");
  Request req = MakeRequest("example.org.", wire::type::kA);
  req.proto = Proto::kTls;
  req.msg.edns.present = true;
  req.msg.edns.udp_size = 1232;
  req.msg.edns.flags = wire::kEdnsDoBit;
  Serve(req, Answer());
  EXPECT_THAT(host_.Lines(), ElementsAre("[INFO] tcp true 65535 0 IN"));
}

// The 2017 syntax: `log stdout` named the output file, not a zone.
TEST_F(LogTest, LegacyStdoutIsNotAName) {
  Setup("  log stdout");
  Request req = MakeRequest("example.org.", wire::type::kA);
  Serve(req, Answer());
  EXPECT_THAT(host_.Lines(), SizeIs(1));
}

TEST_F(LogTest, CombinedFormat) {
  Setup("  log . {combined}");
  Request req = MakeRequest("example.org.", wire::type::kA);
  Serve(req, Answer());
  EXPECT_THAT(host_.Lines().at(0), ::testing::EndsWith("s \"0\""));
}

TEST_F(LogTest, CustomFormatPlaceholders) {
  Setup(
      "  log . \"{remote} {local} {port} {>id} {type} {name} x{foo}y {>ID} {/log/type} "
      "{/log/class} {/missing} }{ {rsize}\"");
  Request req = MakeRequest("example.org.", wire::type::kMx);
  req.local = SockAddr("2001:db8::53", 53);
  Serve(req, Answer());
  EXPECT_THAT(host_.Lines(),
              ElementsAre("[INFO] 10.240.0.1 [2001:db8::53] 40212 4242 MX example.org. x{foo}y "
                          "{>ID} NOERROR success - }{ 56"));
}

TEST_F(LogTest, UnwrittenErrorIsLoggedWithItsRcode) {
  Setup("  log");
  Request req = MakeRequest("example.org.", wire::type::kA);
  Result r = Serve(req, testutil::ReturnRcode(wire::rcode::kServFail, "upstream timeout"));
  EXPECT_EQ(r.rcode, wire::rcode::kServFail);
  EXPECT_EQ(r.error, "upstream timeout");
  EXPECT_THAT(w_.replies, IsEmpty());  // the server writes it
  auto [line, duration] = SplitDuration(host_.Lines().at(0));
  EXPECT_EQ(line,
            "[INFO] 10.240.0.1:40212 - 4242 \"A IN example.org. udp 29 false 512\" SERVFAIL "
            "qr,rd 29");
}

TEST_F(LogTest, NothingWrittenNorReturned) {
  Setup("  log");
  Request req = MakeRequest("example.org.", wire::type::kA);
  Serve(req, testutil::ReturnRcode(wire::rcode::kNoError));
  auto [line, duration] = SplitDuration(host_.Lines().at(0));
  EXPECT_THAT(line, ::testing::EndsWith("\" - - 0"));
}

TEST_F(LogTest, NamesFilter) {
  Setup("  log example.org Example.NET");
  for (const char* name : {"a.example.org.", "example.net.", "example.com.", "xexample.org."}) {
    Request req = MakeRequest(name, wire::type::kA);
    Serve(req, Answer());
    EXPECT_THAT(w_.replies, SizeIs(1)) << name;  // served either way
  }
  ASSERT_THAT(host_.Lines(), SizeIs(2));
  EXPECT_THAT(host_.Lines()[0], HasSubstr(" a.example.org. "));
  EXPECT_THAT(host_.Lines()[1], HasSubstr(" example.net. "));
}

TEST_F(LogTest, SingleArgumentIsAlwaysAName) {
  Setup("  log {common}");
  Request req = MakeRequest("example.org.", wire::type::kA);
  Serve(req, Answer());
  EXPECT_THAT(host_.Lines(), IsEmpty());
}

TEST_F(LogTest, SeveralLogLinesMakeOnePluginFirstMatchWins) {
  loaded_ = Load(". {\n  log example.org \"first {name}\"\n  log . \"second {name}\"\n}\n", "log",
                 &host_);
  ASSERT_EQ(loaded_.error, "");
  ASSERT_THAT(loaded_.plugins, SizeIs(1));
  Request a = MakeRequest("a.example.org.", wire::type::kA);
  Serve(a, Answer());
  Request b = MakeRequest("b.example.net.", wire::type::kA);
  Serve(b, Answer());
  EXPECT_THAT(host_.Lines(),
              ElementsAre("[INFO] first a.example.org.", "[INFO] second b.example.net."));
}

struct ClassCase {
  std::string classes;
  std::vector<std::string> logged;  // of the names below
};

class LogClassTest : public LogTest, public ::testing::WithParamInterface<ClassCase> {};

// success: an answer, a referral (NS without SOA), a NODATA without SOA
// (hosts); denial: NXDOMAIN or NOERROR with SOA; error: the rest.
TEST_P(LogClassTest, Filters) {
  Setup("  log . \"{name}\" {\n" + GetParam().classes + "\n  }");
  const std::vector<std::pair<std::string, std::function<void(wire::Message*)>>> replies = {
      {"answer.",
       [](wire::Message* m) {
         m->answer.push_back(MakeRr("answer.", wire::type::kA, 1, {1, 2, 3, 4}));
       }},
      {"referral.",
       [](wire::Message* m) {
         m->authority.push_back(MakeRr("referral.", wire::type::kNs, 1, {0}));
       }},
      {"nosoa.", [](wire::Message*) {}},
      {"nodata.",
       [](wire::Message* m) {
         m->authority.push_back(MakeRr("nodata.", wire::type::kSoa, 1, kSoaRdata));
       }},
      {"nxdomain.",
       [](wire::Message* m) {
         m->SetRcode(wire::rcode::kNxDomain);
         m->authority.push_back(MakeRr("nxdomain.", wire::type::kSoa, 1, kSoaRdata));
       }},
      {"nxnosoa.", [](wire::Message* m) { m->SetRcode(wire::rcode::kNxDomain); }},
      {"refused.", [](wire::Message* m) { m->SetRcode(wire::rcode::kRefused); }},
      {"servfail.", [](wire::Message* m) { m->SetRcode(wire::rcode::kServFail); }},
  };
  for (const auto& [name, fill] : replies) {
    Request req = MakeRequest(name, wire::type::kA);
    Serve(req, testutil::WriteReply(fill));
  }
  std::vector<std::string> expected;
  for (const std::string& name : GetParam().logged) expected.push_back("[INFO] " + name);
  EXPECT_EQ(host_.Lines(), expected);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LogClassTest,
    ::testing::Values(ClassCase{"    class all",
                                {"answer.", "referral.", "nosoa.", "nodata.", "nxdomain.",
                                 "nxnosoa.", "refused.", "servfail."}},
                      ClassCase{"    class success", {"answer.", "referral.", "nosoa."}},
                      ClassCase{"    class denial", {"nodata.", "nxdomain."}},
                      ClassCase{"    class error", {"nxnosoa.", "refused.", "servfail."}},
                      ClassCase{"    class denial\n    class error",
                                {"nodata.", "nxdomain.", "nxnosoa.", "refused.", "servfail."}},
                      ClassCase{"    class success all",
                                {"answer.", "referral.", "nosoa.", "nodata.", "nxdomain.",
                                 "nxnosoa.", "refused.", "servfail."}}));

TEST_F(LogTest, ErrorClassForUnwrittenServfail) {
  Setup("  log . \"{name} {/log/type} {/log/class}\" {\n    class error\n  }");
  Request req = MakeRequest("example.org.", wire::type::kA);
  Serve(req, testutil::ReturnRcode(wire::rcode::kServFail));
  EXPECT_THAT(host_.Lines(), ElementsAre("[INFO] example.org. SERVERERROR error"));
}

TEST_F(LogTest, SetupErrors) {
  for (const char* lines :
       {"  log {\n    class\n  }", "  log {\n    class foo\n  }", "  log {\n    format x\n  }"}) {
    testutil::Loaded l = Load(std::string(". {\n") + lines + "\n}\n", "log", &host_);
    EXPECT_THAT(l.error, StartsWith("plugin/log: Corefile:")) << lines;
  }
  testutil::Loaded l = Load(". {\n  log {\n    class foo\n  }\n}\n", "log", &host_);
  EXPECT_THAT(l.error, HasSubstr("invalid Class: foo"));
}

TEST(DurationTextTest, ShortestRoundTrip) {
  EXPECT_EQ(DurationText(37'990'251), "0.037990251s");
  EXPECT_EQ(DurationText(123'456), "0.000123456s");
  EXPECT_EQ(DurationText(1'500'000'000), "1.5s");
  EXPECT_EQ(DurationText(2'000'000'000), "2s");
  EXPECT_EQ(DurationText(1), "0.000000001s");
  EXPECT_EQ(DurationText(0), "0s");
  EXPECT_EQ(DurationText(6'010'923'182), "6.010923182s");
}

}  // namespace
}  // namespace warpdns::slowpath::log
