#include "slowpath/plugins/chaos/chaos.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "slowpath/chain/server.h"
#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::chaos {
namespace {

using testutil::FakeHost;
using testutil::Load;
using testutil::MakeRequest;
using testutil::RecordingWriter;

std::string TxtText(const wire::Rr& rr) {
  EXPECT_EQ(rr.type, wire::type::kTxt);
  EXPECT_FALSE(rr.rdata.empty());
  EXPECT_EQ(rr.rdata[0] + 1u, rr.rdata.size());
  return std::string(rr.rdata.begin() + 1, rr.rdata.end());
}

class ChaosTest : public ::testing::Test {
 protected:
  void Setup(const std::string& directive) {
    loaded_ = Load(". {\n  " + directive + "\n}\n", "chaos", &host_);
    ASSERT_EQ(loaded_.error, "");
    ASSERT_NE(loaded_.get(), nullptr);
    next_ = testutil::ReturnRcode(wire::rcode::kRefused);
    loaded_.get()->SetNext(next_.get());
  }

  Result Query(const std::string& name, uint16_t type = wire::type::kTxt,
               uint16_t qclass = wire::qclass::kCh) {
    w_ = RecordingWriter();
    Request req = MakeRequest(name, type, qclass);
    return RunSync(loaded_.get()->ServeDns(req, w_));
  }

  std::vector<std::string> Texts() {
    std::vector<std::string> out;
    for (const wire::Rr& rr : w_.reply().answer) out.push_back(TxtText(rr));
    return out;
  }

  FakeHost host_;
  testutil::Loaded loaded_;
  std::unique_ptr<testutil::StubPlugin> next_;
  RecordingWriter w_;
};

TEST_F(ChaosTest, DefaultVersion) {
  Setup("chaos");
  for (const char* name : {"version.bind.", "VERSION.Server."}) {
    Result r = Query(name);
    EXPECT_EQ(r.rcode, wire::rcode::kNoError);
    ASSERT_EQ(w_.replies.size(), 1u) << name;
    const wire::Message& m = w_.reply();
    EXPECT_TRUE(m.header.qr());
    EXPECT_FALSE(m.header.aa());
    ASSERT_EQ(m.answer.size(), 1u);
    EXPECT_EQ(m.answer[0].name.ToText(), name);  // owner as asked
    EXPECT_EQ(m.answer[0].rclass, wire::qclass::kCh);
    EXPECT_EQ(m.answer[0].ttl, 0u);
    EXPECT_EQ(TxtText(m.answer[0]), "warpdns-" + std::string(WarpdnsVersion()));
  }
  EXPECT_EQ(next_->calls, 0);
}

TEST_F(ChaosTest, VersionAndAuthors) {
  Setup("chaos 1.2.3 zed alice zed bob");
  Query("version.bind.");
  EXPECT_THAT(Texts(), ::testing::ElementsAre("1.2.3"));
  Query("authors.bind.");
  EXPECT_THAT(Texts(), ::testing::UnorderedElementsAre("alice", "bob", "zed"));
}

TEST_F(ChaosTest, AuthorsComeInRandomOrder) {
  Setup("chaos v a b c d e f g h");
  Query("authors.bind.");
  const std::vector<std::string> first = Texts();
  bool differs = false;
  for (int i = 0; i < 50 && !differs; ++i) {
    Query("authors.bind.");
    differs = Texts() != first;
  }
  EXPECT_TRUE(differs);
}

TEST_F(ChaosTest, HostName) {
  Setup("chaos");
  char buf[256] = {0};
  ASSERT_EQ(gethostname(buf, sizeof(buf) - 1), 0);
  for (const char* name : {"hostname.bind.", "id.server."}) {
    Query(name);
    EXPECT_THAT(Texts(), ::testing::ElementsAre(std::string(buf))) << name;
  }
}

TEST_F(ChaosTest, OtherQueriesGoToNextPlugin) {
  Setup("chaos");
  EXPECT_EQ(Query("version.bind.", wire::type::kA).rcode, wire::rcode::kRefused);
  EXPECT_EQ(Query("version.bind.", wire::type::kTxt, wire::qclass::kIn).rcode,
            wire::rcode::kRefused);
  EXPECT_EQ(Query("example.org.").rcode, wire::rcode::kRefused);
  EXPECT_EQ(next_->calls, 3);
  EXPECT_TRUE(w_.replies.empty());
}

TEST_F(ChaosTest, LastPluginInChainFailsForOtherNames) {
  Setup("chaos");
  loaded_.get()->SetNext(nullptr);
  Result r = Query("example.org.");
  EXPECT_EQ(r.rcode, wire::rcode::kServFail);
  EXPECT_EQ(r.error, "plugin/chaos: no next plugin found");
}

TEST(ChaosSetupTest, LongVersionIsCut) {
  FakeHost host;
  testutil::Loaded l = Load(". {\n  chaos " + std::string(300, 'v') + "\n}\n", "chaos", &host);
  ASSERT_EQ(l.error, "");
  RecordingWriter w;
  Request req = MakeRequest("version.bind.", wire::type::kTxt, wire::qclass::kCh);
  RunSync(l.get()->ServeDns(req, w));
  EXPECT_EQ(TxtText(w.reply().answer.at(0)), std::string(255, 'v'));
}

// Without chaos (or forward) on the listener a CH query is REFUSED before any
// chain runs (server rule 1.6.3); a listener with chaos answers it.
TEST(ChaosServerTest, ChQueriesNeedChaosOnTheListener) {
  FakeHost host;
  testutil::Loaded l = Load(". {\n  chaos\n}\n", "chaos", &host);
  ASSERT_EQ(l.error, "");
  auto chain = std::make_shared<Chain>();
  chain->zones = {"."};
  chain->plugins = std::move(l.plugins);
  for (bool allow : {false, true}) {
    Server server("dns://:53");
    server.AddZone(".", chain);
    if (allow) server.AllowNonInClasses();
    Request req = MakeRequest("version.bind.", wire::type::kTxt, wire::qclass::kCh);
    RecordingWriter w;
    RunSync(server.Serve(req, w));
    ASSERT_EQ(w.replies.size(), 1u);
    EXPECT_EQ(w.reply().Rcode(), allow ? wire::rcode::kNoError : wire::rcode::kRefused);
    EXPECT_EQ(w.reply().answer.size(), allow ? 1u : 0u);
  }
}

}  // namespace
}  // namespace warpdns::slowpath::chaos
