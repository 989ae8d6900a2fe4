// The file plugin as the chain sees it: setup, ServeDns, fallthrough,
// external CNAME targets through the host, reload.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "config/corefile.h"
#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

namespace type = wire::type;

const std::string kTestdata = std::string(WARPDNS_TESTDATA) + "/file/";

wire::Name N(std::string_view text) {
  wire::Name n;
  EXPECT_TRUE(wire::Name::FromText(text, &n)) << text;
  return n;
}

class FakeHost : public Host {
 public:
  bool AddHttpEndpoint(const std::string&, const std::string&, HttpHandler, std::string*) override {
    return true;
  }
  void Every(int64_t period_ms, std::function<void()> task) override {
    period_ms_ = period_ms;
    task_ = std::move(task);
  }
  void OnShutdown(std::function<void()>) override {}
  void Log(std::string_view line) override { logs_.emplace_back(line); }
  Task<wire::Message> Resolve(const wire::Name& name, uint16_t t, bool dnssec_ok,
                              int depth) override {
    resolved_.push_back(name.ToText() + " " + wire::TypeToString(t) + (dnssec_ok ? " do" : "") +
                        " " + std::to_string(depth));
    co_return resolver_ ? resolver_(name, t) : wire::Message{};
  }

  int64_t period_ms_ = 0;
  std::function<void()> task_;
  std::vector<std::string> logs_;
  std::vector<std::string> resolved_;
  std::function<wire::Message(const wire::Name&, uint16_t)> resolver_;
};

class CaptureWriter : public ResponseWriter {
 public:
  void WriteMsg(const wire::Message& reply) override {
    msg_ = reply;
    written_ = true;
  }
  bool Written() const override { return written_; }
  wire::Message msg_;
  bool written_ = false;
};

config::Token Tok(std::string text, int line = 1) {
  return config::Token{std::move(text), "Corefile", line, false};
}

// "file ARGS... { OPTIONS }" where each option is a line of words.
config::Directive FileDirective(const std::vector<std::string>& args,
                                const std::vector<std::vector<std::string>>& options = {}) {
  config::Directive d;
  d.name = Tok("file", 2);
  for (const std::string& a : args) d.args.push_back(Tok(a, 2));
  d.has_block = !options.empty();
  int line = 3;
  for (const auto& words : options) {
    config::Directive o;
    o.name = Tok(words[0], line);
    for (size_t i = 1; i < words.size(); ++i) o.args.push_back(Tok(words[i], line));
    d.block.push_back(o);
    ++line;
  }
  return d;
}

class FilePluginTest : public ::testing::Test {
 protected:
  std::unique_ptr<Plugin> Setup(const config::Directive& d, std::string* error,
                                std::vector<std::string> zones = {"example.org."},
                                std::string root = "") {
    const PluginSpec* spec = FindPlugin("file");
    EXPECT_NE(spec, nullptr);
    SetupContext ctx{d, block_, std::move(zones), std::move(root), {}, &host_};
    return spec->setup(ctx, error);
  }
  std::unique_ptr<Plugin> SetupOrDie(const config::Directive& d,
                                     std::vector<std::string> zones = {"example.org."}) {
    std::string error;
    std::unique_ptr<Plugin> p = Setup(d, &error, std::move(zones));
    EXPECT_NE(p, nullptr) << error;
    return p;
  }
  Result Serve(Plugin& p, std::string_view qname, uint16_t qtype, bool dnssec_ok = false) {
    Request req;
    req.msg.header.id = 7;
    req.msg.question.push_back({N(qname), qtype, wire::qclass::kIn});
    if (dnssec_ok) {
      req.msg.edns.present = true;
      req.msg.edns.udp_size = 4096;
      req.msg.edns.flags = wire::kEdnsDoBit;
    }
    w_ = CaptureWriter();
    return RunSync(p.ServeDns(req, w_));
  }
  std::string TempZone(const std::string& text) {
    std::filesystem::path p = std::filesystem::temp_directory_path() /
                              ("warpdns_file_test_" + std::to_string(::getpid()) + "_" +
                               std::to_string(temp_.size()) + ".zone");
    std::ofstream(p) << text;
    temp_.push_back(p);
    return p.string();
  }
  void TearDown() override {
    for (const auto& p : temp_) std::filesystem::remove(p);
  }

  config::ServerBlock block_;
  FakeHost host_;
  CaptureWriter w_;
  std::vector<std::filesystem::path> temp_;
};

TEST_F(FilePluginTest, AnswersAuthoritatively) {
  auto p = SetupOrDie(FileDirective({kTestdata + "example.org.zone"}));
  Result r = Serve(*p, "host.example.org.", type::kA);
  EXPECT_EQ(r.rcode, wire::rcode::kNoError);
  ASSERT_TRUE(w_.written_);
  EXPECT_EQ(w_.msg_.header.id, 7);
  EXPECT_TRUE(w_.msg_.header.aa());
  EXPECT_EQ(w_.msg_.answer.size(), 1u);
  EXPECT_EQ(w_.msg_.authority.size(), 2u);
  EXPECT_EQ(host_.period_ms_, 60000);  // reload defaults to 1m
}

TEST_F(FilePluginTest, NxDomainAndReferral) {
  auto p = SetupOrDie(FileDirective({kTestdata + "example.org.zone"}));
  Serve(*p, "nope.example.org.", type::kA);
  EXPECT_EQ(w_.msg_.Rcode(), wire::rcode::kNxDomain);
  EXPECT_TRUE(w_.msg_.header.aa());
  Serve(*p, "x.sub.example.org.", type::kA);
  EXPECT_EQ(w_.msg_.Rcode(), wire::rcode::kNoError);
  EXPECT_FALSE(w_.msg_.header.aa());
  EXPECT_EQ(w_.msg_.additional.size(), 2u);
}

TEST_F(FilePluginTest, OtherNamesGoToTheNextPlugin) {
  auto p = SetupOrDie(FileDirective({kTestdata + "example.org.zone"}));
  Result r = Serve(*p, "example.com.", type::kA);
  EXPECT_EQ(r.rcode, wire::rcode::kServFail);
  EXPECT_EQ(r.error, "plugin/file: no next plugin found");
  EXPECT_FALSE(w_.written_);
}

TEST_F(FilePluginTest, TransfersAreRefusedWithoutWriting) {
  auto p = SetupOrDie(FileDirective({kTestdata + "example.org.zone"}));
  EXPECT_EQ(Serve(*p, "example.org.", type::kAxfr).rcode, wire::rcode::kRefused);
  EXPECT_EQ(Serve(*p, "example.org.", type::kIxfr).rcode, wire::rcode::kRefused);
  EXPECT_FALSE(w_.written_);
}

TEST_F(FilePluginTest, ExplicitZonesAndLongestMatch) {
  // One file with relative names, loaded once per zone; the longest zone
  // containing the name answers.
  std::string path =
      TempZone("$TTL 60\n@ IN SOA ns hm 1 2 3 4 5\n@ IN NS ns\nwww IN A 192.0.2.1\n");
  auto p = SetupOrDie(FileDirective({path, "A.test", "b.a.test."}), {"."});
  Serve(*p, "www.a.test.", type::kA);
  ASSERT_EQ(w_.msg_.answer.size(), 1u);
  Serve(*p, "www.b.a.test.", type::kA);
  ASSERT_EQ(w_.msg_.answer.size(), 1u);
  EXPECT_EQ(w_.msg_.answer[0].name.ToText(), "www.b.a.test.");
  Serve(*p, "b.a.test.", type::kSoa);
  EXPECT_EQ(w_.msg_.answer[0].name.ToText(), "b.a.test.");
  EXPECT_EQ(Serve(*p, "example.org.", type::kA).rcode, wire::rcode::kServFail);  // no next
}

TEST_F(FilePluginTest, ExternalCnameTargetResolvesThroughTheHost) {
  auto p = SetupOrDie(FileDirective({kTestdata + "example.org.zone"}));
  host_.resolver_ = [](const wire::Name& name, uint16_t t) {
    wire::Message m;
    wire::Rr a;
    a.name = name;
    a.type = t;
    a.ttl = 30;
    a.rdata = {198, 51, 100, 1};
    m.answer.push_back(a);
    return m;
  };
  Serve(*p, "ext.example.org.", type::kA, true);
  EXPECT_THAT(host_.resolved_, ElementsAre("target.example.net. A do 1"));
  EXPECT_EQ(w_.msg_.answer.size(), 2u);
  EXPECT_EQ(w_.msg_.Rcode(), wire::rcode::kNoError);

  host_.resolver_ = [](const wire::Name&, uint16_t) {
    wire::Message m;
    m.SetRcode(wire::rcode::kNxDomain);
    return m;
  };
  Serve(*p, "ext.example.org.", type::kA);
  EXPECT_EQ(w_.msg_.Rcode(), wire::rcode::kNxDomain);
  EXPECT_EQ(w_.msg_.answer.size(), 1u);
  ASSERT_EQ(w_.msg_.authority.size(), 1u);
  EXPECT_EQ(w_.msg_.authority[0].type, type::kSoa);

  // A SERVFAIL with the CNAME is written (RFC 6604), not left to the server.
  host_.resolver_ = [](const wire::Name&, uint16_t) {
    wire::Message m;
    m.SetRcode(wire::rcode::kServFail);
    return m;
  };
  Result r = Serve(*p, "ext.example.org.", type::kA);
  EXPECT_EQ(r.rcode, wire::rcode::kNoError);
  EXPECT_TRUE(w_.written_);
  EXPECT_EQ(w_.msg_.Rcode(), wire::rcode::kServFail);
}

TEST_F(FilePluginTest, ResolveLoopIsCutAfterEightLevels) {
  auto p = SetupOrDie(FileDirective({kTestdata + "example.org.zone"}));
  Request req;
  req.msg.question.push_back({N("host.example.org."), type::kA, wire::qclass::kIn});
  req.metadata["warpdns/resolve_depth"] = "9";
  EXPECT_EQ(RunSync(p->ServeDns(req, w_)).rcode, wire::rcode::kServFail);
  EXPECT_FALSE(w_.written_);
  // The apex SOA and NS still answer, as in CoreDNS.
  req.msg.question[0] = {N("example.org."), type::kSoa, wire::qclass::kIn};
  EXPECT_EQ(RunSync(p->ServeDns(req, w_)).rcode, wire::rcode::kNoError);
}

TEST_F(FilePluginTest, FallthroughOnNxDomainAndEmptyNonTerminal) {
  auto p = SetupOrDie(FileDirective({kTestdata + "example.org.zone"}, {{"fallthrough"}}));
  EXPECT_EQ(Serve(*p, "nope.example.org.", type::kA).error, "plugin/file: no next plugin found");
  EXPECT_EQ(Serve(*p, "ent.example.org.", type::kA).error, "plugin/file: no next plugin found");
  // NODATA at an existing name does not fall through.
  EXPECT_EQ(Serve(*p, "host.example.org.", type::kAaaa).rcode, wire::rcode::kNoError);
  EXPECT_TRUE(w_.written_);

  auto only = SetupOrDie(
      FileDirective({kTestdata + "example.org.zone"}, {{"fallthrough", "sub2.example.org"}}));
  Serve(*only, "nope.example.org.", type::kA);
  EXPECT_EQ(w_.msg_.Rcode(), wire::rcode::kNxDomain);
  EXPECT_EQ(Serve(*only, "a.sub2.example.org.", type::kA).rcode, wire::rcode::kServFail);
}

TEST_F(FilePluginTest, SetupErrors) {
  std::string error;
  EXPECT_EQ(Setup(FileDirective({}), &error), nullptr);
  EXPECT_EQ(error,
            "plugin/file: Corefile:2 - Error during parsing: Wrong argument count or "
            "unexpected line ending after 'file'");
  EXPECT_EQ(Setup(FileDirective({kTestdata + "example.org.zone"}, {{"bogus"}}), &error), nullptr);
  EXPECT_EQ(error, "plugin/file: Corefile:3 - Error during parsing: unknown property 'bogus'");
  EXPECT_EQ(Setup(FileDirective({kTestdata + "example.org.zone"}, {{"reload"}}), &error), nullptr);
  EXPECT_EQ(error, "plugin/file: reload duration value is expected");
  EXPECT_EQ(Setup(FileDirective({kTestdata + "example.org.zone"}, {{"reload", "x"}}), &error),
            nullptr);
  EXPECT_EQ(error, "plugin/file: time: invalid duration \"x\"");
  std::string bad = TempZone("$ORIGIN example.org.\n@ IN SOA ns hm 1 2 3 4 5\nx IN A 1.2\n");
  EXPECT_EQ(Setup(FileDirective({bad}), &error), nullptr);
  EXPECT_THAT(error, HasSubstr("plugin/file: " + bad + ":3: "));
}

TEST_F(FilePluginTest, MissingFileWaitsForReloadUnlessReloadIsOff) {
  std::string error;
  auto p = Setup(FileDirective({"/nonexistent/db.example.org"}), &error);
  ASSERT_NE(p, nullptr) << error;
  EXPECT_THAT(host_.logs_, ElementsAre("[WARNING] plugin/file: Failed to open \"open "
                                       "/nonexistent/db.example.org: no such file or directory\": "
                                       "trying again in 1m0s"));
  EXPECT_EQ(Serve(*p, "example.org.", type::kSoa).rcode, wire::rcode::kServFail);
  EXPECT_EQ(Setup(FileDirective({"/nonexistent/db.example.org"}, {{"reload", "0"}}), &error),
            nullptr);
  EXPECT_EQ(error, "plugin/file: open /nonexistent/db.example.org: no such file or directory");
}

TEST_F(FilePluginTest, RelativePathsUseRoot) {
  std::string error;
  auto p = Setup(FileDirective({"example.org.zone"}), &error, {"example.org."}, kTestdata);
  ASSERT_NE(p, nullptr) << error;
}

TEST_F(FilePluginTest, ReloadSwapsOnNewSerialAndKeepsServingOnErrors) {
  const std::string head = "$ORIGIN example.org.\n$TTL 60\n@ IN NS ns\n";
  std::string path = TempZone(head + "@ IN SOA ns hm 1 2 3 4 5\nwww IN A 192.0.2.1\n");
  auto p = SetupOrDie(FileDirective({path}, {{"reload", "10s"}}));
  ASSERT_TRUE(host_.task_);
  EXPECT_EQ(host_.period_ms_, 10000);

  // Same serial: not reloaded.
  std::ofstream(path) << head + "@ IN SOA ns hm 1 2 3 4 5\nwww IN A 192.0.2.2\n";
  host_.task_();
  Serve(*p, "www.example.org.", type::kA);
  EXPECT_EQ(w_.msg_.answer[0].rdata[3], 1);
  EXPECT_THAT(host_.logs_, IsEmpty());

  std::ofstream(path) << head + "@ IN SOA ns hm 2 2 3 4 5\nwww IN A 192.0.2.3\n";
  host_.task_();
  Serve(*p, "www.example.org.", type::kA);
  EXPECT_EQ(w_.msg_.answer[0].rdata[3], 3);
  EXPECT_THAT(host_.logs_, ElementsAre("[INFO] plugin/file: Successfully reloaded zone "
                                       "\"example.org.\" in \"" +
                                       path + "\" with 2 SOA serial"));

  std::ofstream(path) << head + "@ IN SOA ns hm 3 2 3 4 5\nwww IN A 192.0.2\n";
  host_.task_();
  Serve(*p, "www.example.org.", type::kA);
  EXPECT_EQ(w_.msg_.answer[0].rdata[3], 3);
  ASSERT_EQ(host_.logs_.size(), 2u);
  EXPECT_THAT(host_.logs_[1],
              HasSubstr("[ERROR] plugin/file: Parsing zone \"example.org.\": " + path + ":5: "));
  // The error is repeated at every tick while the file stays broken.
  host_.task_();
  ASSERT_EQ(host_.logs_.size(), 3u);
  EXPECT_EQ(host_.logs_[2], host_.logs_[1]);

  // The task outlives a plugin dropped by a Corefile reload harmlessly.
  std::function<void()> task = host_.task_;
  p.reset();
  task();
}

TEST_F(FilePluginTest, ReloadByMtimeIgnoresTheSerial) {
  const std::string head = "$ORIGIN example.org.\n$TTL 60\n@ IN NS ns\n@ IN SOA ns hm 1 2 3 4 5\n";
  std::string path = TempZone(head + "www IN A 192.0.2.1\n");
  auto p = SetupOrDie(FileDirective({path}, {{"reload", "1s"}, {"reload_by_mtime"}}));
  std::ofstream(path) << head + "www IN A 192.0.2.4\n";
  std::filesystem::last_write_time(
      path, std::filesystem::last_write_time(path) + std::chrono::seconds(5));
  host_.task_();
  Serve(*p, "www.example.org.", type::kA);
  EXPECT_EQ(w_.msg_.answer[0].rdata[3], 4);
}

}  // namespace
}  // namespace warpdns::slowpath
