// The etcd plugin's Corefile options and its behaviour with no etcd to
// read from. Answers from real etcd data: test_etcd.py.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::etcd {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testutil::FakeHost;
using testutil::Load;
using testutil::MakeRequest;
using testutil::RecordingWriter;

// Nothing listens on port 1: every connection is refused at once.
constexpr char kDeadEndpoint[] = "http://127.0.0.1:1";

std::string SetupError(const std::string& block) {
  FakeHost host;
  testutil::Loaded loaded =
      Load("skydns.local {\n  etcd {\n" + block + "\n  }\n}\n", "etcd", &host);
  return loaded.error;
}

TEST(EtcdSetupTest, RejectsBadOptionsWithTheirLine) {
  EXPECT_EQ(SetupError("    endpoint " + std::string(kDeadEndpoint) + "\n    bogus 1"),
            "plugin/etcd: Corefile:4 - Error during parsing: unknown property 'bogus'");
  EXPECT_EQ(SetupError("    credentials alice"),
            "plugin/etcd: Corefile:3 - Error during parsing: credentials requires 2 arguments, "
            "username and password");
  EXPECT_THAT(SetupError("    credentials"),
              StartsWith("plugin/etcd: Corefile:3 - Error during parsing: Wrong argument count"));
  EXPECT_EQ(SetupError("    tls a b c d"),
            "plugin/etcd: Corefile:3 - Error during parsing: maximum of three arguments allowed "
            "for TLS config, found 4");
  EXPECT_EQ(SetupError("    tls /nonexistent/ca.pem"),
            "plugin/etcd: Corefile:3 - Error during parsing: open /nonexistent/ca.pem: no such "
            "file or directory");
  EXPECT_EQ(SetupError("    min-lease-ttl soon"),
            "plugin/etcd: Corefile:3 - Error during parsing: invalid min-lease-ttl value: "
            "invalid TTL format, use format like '30', '30s', '5m', '1h', or '2h30m'");
  EXPECT_EQ(SetupError("    path /a /b"),
            "plugin/etcd: Corefile:3 - Error during parsing: unknown property '/b'");
  EXPECT_THAT(SetupError("    path"), HasSubstr("Corefile:3 - Error during parsing: Wrong"));
  EXPECT_THAT(SetupError("    endpoint"), HasSubstr("Corefile:3 - Error during parsing: Wrong"));
  EXPECT_EQ(SetupError("    endpoint unix:///run/etcd.sock"),
            "plugin/etcd: Corefile:3 - Error during parsing: endpoint 'unix:///run/etcd.sock': "
            "only http:// and https:// are supported");
  EXPECT_EQ(SetupError("    stubzones extra"),
            "plugin/etcd: Corefile:3 - Error during parsing: unknown property 'extra'");
}

TEST(EtcdSetupTest, AcceptsCoreDnsOptions) {
  EXPECT_EQ(SetupError("    endpoint " + std::string(kDeadEndpoint) +
                       " 127.0.0.1:2\n"
                       "    path /dns\n    fallthrough in-addr.arpa\n    stubzones\n    debug\n"
                       "    upstream 8.8.8.8\n    credentials alice secret\n"
                       "    min-lease-ttl 60\n    max-lease-ttl 1h"),
            "");
}

class EtcdUnreachableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto start = std::chrono::steady_clock::now();
    loaded_ = Load("skydns.local {\n  etcd skydns.local {\n    endpoint " +
                       std::string(kDeadEndpoint) + "\n    fallthrough\n  }\n}\n",
                   "etcd", &host_);
    ASSERT_EQ(loaded_.error, "");
    ASSERT_NE(loaded_.get(), nullptr);
    // A refused connection ends the wait for the first read at once.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  }

  FakeHost host_;
  testutil::Loaded loaded_;
};

TEST_F(EtcdUnreachableTest, AnswersServfailWithSoaAndLogsWhy) {
  auto next = testutil::ReturnRcode(wire::rcode::kRefused);
  loaded_.get()->SetNext(next.get());
  Request req = MakeRequest("www.skydns.local.", wire::type::kA);
  RecordingWriter w;
  Result r = RunSync(loaded_.get()->ServeDns(req, w));
  // Fallthrough is for names that do not exist, not for a missing etcd.
  EXPECT_EQ(next->calls, 0);
  EXPECT_EQ(r.rcode, wire::rcode::kNoError);
  EXPECT_THAT(r.error, StartsWith("plugin/etcd: no data from etcd yet: "));
  ASSERT_TRUE(w.Written());
  EXPECT_EQ(w.reply().Rcode(), wire::rcode::kServFail);
  EXPECT_TRUE(w.reply().header.aa());
  ASSERT_EQ(w.reply().authority.size(), 1u);
  EXPECT_EQ(w.reply().authority[0].type, wire::type::kSoa);
  EXPECT_THAT(host_.Lines(), Contains(StartsWith("[ERROR] plugin/etcd: http://127.0.0.1:1: ")));

  // Names outside the plugin's zones go on.
  Request other = MakeRequest("www.example.org.", wire::type::kA);
  RecordingWriter w2;
  EXPECT_EQ(RunSync(loaded_.get()->ServeDns(other, w2)).rcode, wire::rcode::kRefused);
  EXPECT_EQ(next->calls, 1);
}

TEST_F(EtcdUnreachableTest, StopsAtOnce) {
  // Reload destroys the old configuration's plugin: its thread, asleep in a
  // backoff or connecting, must not hold that up.
  const auto start = std::chrono::steady_clock::now();
  loaded_.plugins.clear();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
}

}  // namespace
}  // namespace warpdns::slowpath::etcd
