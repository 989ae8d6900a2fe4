#include "slowpath/plugins/loadbalance/loadbalance.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::loadbalance {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using testutil::FakeHost;
using testutil::Load;
using testutil::MakeRequest;
using testutil::MakeRr;
using testutil::RecordingWriter;
using testutil::StubPlugin;

wire::Rr A(uint8_t last, std::string_view owner = "example.org.") {
  return MakeRr(owner, wire::type::kA, 60, {192, 0, 2, last});
}

wire::Rr Aaaa(uint8_t last) {
  std::vector<uint8_t> a(16, 0);
  a[0] = 0x20;
  a[1] = 0x01;
  a[15] = last;
  return MakeRr("example.org.", wire::type::kAaaa, 60, a);
}

wire::Rr Mx(uint8_t preference) {
  return MakeRr("example.org.", wire::type::kMx, 60, {0, preference, 0});
}

wire::Rr Cname() { return MakeRr("www.example.org.", wire::type::kCname, 60, {0}); }

wire::Rr Txt() { return MakeRr("example.org.", wire::type::kTxt, 60, {1, 'x'}); }

// A short text per record: "A1", "MX10", "CNAME", ...
std::vector<std::string> Labels(const std::vector<wire::Rr>& rrs) {
  std::vector<std::string> out;
  for (const wire::Rr& rr : rrs) {
    std::string t = wire::TypeToString(rr.type);
    if (rr.type == wire::type::kA || rr.type == wire::type::kAaaa) {
      t += std::to_string(rr.rdata.back());
    } else if (rr.type == wire::type::kMx) {
      t += std::to_string(rr.rdata[1]);
    }
    out.push_back(t);
  }
  return out;
}

// A random source replaying `values`.
Random Script(std::vector<uint32_t> values) {
  auto state = std::make_shared<std::pair<std::vector<uint32_t>, size_t>>(std::move(values), 0);
  return [state] { return state->first.at(state->second++); };
}

struct OrderCase {
  std::string name;
  std::vector<wire::Rr> section;
  std::vector<uint32_t> random;
  std::vector<std::string> want;
};

class RoundRobinTest : public ::testing::TestWithParam<OrderCase> {};

TEST_P(RoundRobinTest, Order) {
  EXPECT_EQ(Labels(RoundRobin(GetParam().section, Script(GetParam().random))), GetParam().want);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RoundRobinTest,
    ::testing::Values(
        OrderCase{"Empty", {}, {}, {}}, OrderCase{"One", {A(1)}, {}, {"A1"}},
        OrderCase{"TwoEvenSwaps", {A(1), A(2)}, {4}, {"A2", "A1"}},
        OrderCase{"TwoOddStays", {A(1), A(2)}, {7}, {"A1", "A2"}},
        // j=0 swaps with 0+1%3=1, j=1 with 1+1%2=2, j=2 stays.
        OrderCase{"ThreeFisherYates", {A(1), A(2), A(3)}, {1, 1, 0}, {"A2", "A3", "A1"}},
        // Only the low 16 bits count, as dns.Id().
        OrderCase{
            "SixteenBits", {A(1), A(2), A(3)}, {0x10000, 0x10000, 0x10000}, {"A1", "A2", "A3"}},
        OrderCase{"MixedIsRegrouped",
                  {A(1), Mx(20), Cname(), Txt(), Aaaa(2), Mx(10)},
                  {1, 1},
                  {"CNAME", "TXT", "A1", "AAAA2", "MX20", "MX10"}},
        OrderCase{"MxShuffledAfterAddresses",
                  {Mx(10), Mx(20), A(1), A(2)},
                  {0, 0},
                  {"A2", "A1", "MX20", "MX10"}},
        OrderCase{
            "OtherTypesKeepTheirOrder", {Txt(), Cname(), Txt()}, {}, {"CNAME", "TXT", "TXT"}}),
    [](const auto& info) { return info.param.name; });

TEST(WeightsTest, ParseAndChoose) {
  std::istringstream file(
      "# weights\n"
      "www.example.org\n"
      "192.0.2.1 1\n"
      "192.0.2.2 3\n"
      "\n"
      "other.example.org.\n"
      "2001::5 200\n");
  WeightTable table;
  std::string error;
  ASSERT_TRUE(ParseWeights(file, "w", &table, &error)) << error;
  ASSERT_EQ(table.domains.size(), 2u);
  // Weights sorted high first: A2 (3) takes r % 4 in 0..2, A1 (1) takes 3;
  // A3 is not listed and weighs 1... so sum 5: A2 0..2, A1 3, A3 4.
  std::vector<wire::Rr> section = {A(1, "www.example.org."), A(2, "www.example.org."),
                                   A(3, "www.example.org."), Mx(10), Cname()};
  auto first = [&](uint32_t r) { return Labels(WeightedRoundRobin(section, table, Script({r}))); };
  EXPECT_THAT(first(0), ElementsAre("CNAME", "A2", "A1", "A3", "MX10"));
  EXPECT_THAT(first(7), ElementsAre("CNAME", "A2", "A1", "A3", "MX10"));  // 7 % 5 = 2
  EXPECT_THAT(first(3), ElementsAre("CNAME", "A1", "A2", "A3", "MX10"));
  EXPECT_THAT(first(4), ElementsAre("CNAME", "A3", "A2", "A1", "MX10"));
  // Without addresses nothing moves.
  EXPECT_THAT(Labels(WeightedRoundRobin({Mx(10), Cname()}, table, Script({}))),
              ElementsAre("MX10", "CNAME"));
}

struct WeightErrorCase {
  std::string file;
  std::string error;
};

class WeightErrorTest : public ::testing::TestWithParam<WeightErrorCase> {};

TEST_P(WeightErrorTest, Rejected) {
  std::istringstream in(GetParam().file);
  WeightTable table;
  std::string error;
  EXPECT_FALSE(ParseWeights(in, "wfile", &table, &error));
  EXPECT_EQ(error, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, WeightErrorTest,
    ::testing::Values(
        WeightErrorCase{"192.0.2.1\n",
                        "Wrong domain name:\"192.0.2.1\" in weight file wfile. (Maybe a missing "
                        "weight value?)"},
        WeightErrorCase{"a.org\nnot-an-ip 3\n",
                        "Wrong IP address:\"not-an-ip\" in weight file wfile"},
        WeightErrorCase{"a.org\n192.0.2.1 0\n", "Wrong weight value:\"0\" in weight file wfile"},
        WeightErrorCase{"a.org\n192.0.2.1 256\n",
                        "Wrong weight value:\"256\" in weight file wfile"},
        WeightErrorCase{"192.0.2.1 3\n", "Missing domain name in weight file wfile"},
        WeightErrorCase{"a.org\n192.0.2.1 3 4\n",
                        "Could not parse weight line:\"192.0.2.1 3 4\" in weight file wfile"}));

class LoadBalanceTest : public ::testing::Test {
 protected:
  void Setup(const std::string& lines) {
    loaded_ = Load(". {\n" + lines + "\n}\n", "loadbalance", &host_);
    ASSERT_EQ(loaded_.error, "");
    ASSERT_THAT(loaded_.plugins, SizeIs(1));
    backend_ = std::make_unique<StubPlugin>([this](Request& req, ResponseWriter& w) {
      wire::Message m = wire::MakeReply(req.msg);
      m.SetRcode(rcode_);
      m.answer = answer_;
      m.additional = answer_;
      w.WriteMsg(m);
      return Result{};
    });
    loaded_.get()->SetNext(backend_.get());
  }

  wire::Message Query(uint16_t qtype = wire::type::kA) {
    RecordingWriter w;
    Request req = MakeRequest("www.example.org.", qtype);
    RunSync(loaded_.get()->ServeDns(req, w));
    return w.reply();
  }

  // How often each order of the answer section came up in `n` queries.
  std::map<std::vector<std::string>, int> Orders(int n, uint16_t qtype = wire::type::kA) {
    std::map<std::vector<std::string>, int> seen;
    for (int i = 0; i < n; ++i) ++seen[Labels(Query(qtype).answer)];
    return seen;
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = ::testing::TempDir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  FakeHost host_;
  testutil::Loaded loaded_;
  std::unique_ptr<StubPlugin> backend_;
  std::vector<wire::Rr> answer_;
  int rcode_ = wire::rcode::kNoError;
};

TEST_F(LoadBalanceTest, RoundRobinProducesEveryOrder) {
  Setup("  loadbalance");
  answer_ = {A(1), A(2), A(3)};
  auto seen = Orders(1200);
  EXPECT_THAT(seen, SizeIs(6));
  for (const auto& [order, count] : seen) EXPECT_GT(count, 100) << ::testing::PrintToString(order);
}

TEST_F(LoadBalanceTest, CnameStaysFirstAndAdditionalIsShuffledToo) {
  Setup("  loadbalance round_robin");
  answer_ = {A(1), Cname(), A(2)};
  std::set<std::vector<std::string>> additional;
  for (int i = 0; i < 200; ++i) {
    wire::Message m = Query();
    EXPECT_EQ(Labels(m.answer)[0], "CNAME");
    additional.insert(Labels(m.additional));
  }
  EXPECT_THAT(additional, SizeIs(2));
}

TEST_F(LoadBalanceTest, OnlyNoerrorIsTouched) {
  Setup("  loadbalance");
  answer_ = {A(1), A(2), A(3), A(4)};
  rcode_ = wire::rcode::kNxDomain;
  for (int i = 0; i < 50; ++i) {
    EXPECT_THAT(Labels(Query().answer), ElementsAre("A1", "A2", "A3", "A4"));
  }
  rcode_ = wire::rcode::kNoError;
  for (int i = 0; i < 50; ++i) {
    EXPECT_THAT(Labels(Query(wire::type::kAxfr).answer), ElementsAre("A1", "A2", "A3", "A4"));
  }
}

TEST_F(LoadBalanceTest, PreferPutsSubnetsFirst) {
  Setup("  loadbalance round_robin {\n    prefer 192.0.2.3/32 192.0.2.0/31\n  }");
  answer_ = {A(1), A(3), A(2), A(0), Mx(5), Txt()};
  for (int i = 0; i < 50; ++i) {
    std::vector<std::string> order = Labels(Query().answer);
    ASSERT_THAT(order, SizeIs(6));
    EXPECT_EQ(order[0], "A3");
    EXPECT_THAT((std::set<std::string>{order[1], order[2]}), ElementsAre("A0", "A1"));
    EXPECT_EQ(order[3], "A2");
    EXPECT_EQ(order[4], "MX5");
    EXPECT_EQ(order[5], "TXT");
  }
}

TEST_F(LoadBalanceTest, WeightedFavoursHeavyAddressesAndReloads) {
  const std::string path = WriteFile("weights", "www.example.org\n192.0.2.1 255\n192.0.2.2 1\n");
  Setup("  loadbalance weighted " + path + " {\n    reload 10s\n  }");
  ASSERT_THAT(host_.tasks, SizeIs(1));
  EXPECT_EQ(host_.tasks[0].period_ms, 10000);
  answer_ = {A(2, "www.example.org."), A(1, "www.example.org.")};
  auto first_is = [&](const std::string& label) {
    int n = 0;
    for (int i = 0; i < 1000; ++i) n += Labels(Query().answer)[0] == label;
    return n;
  };
  EXPECT_GT(first_is("A1"), 950);  // 255/256 expected
  // Only A, AAAA and SRV questions are weighted.
  for (int i = 0; i < 20; ++i) {
    EXPECT_THAT(Labels(Query(wire::type::kTxt).answer), ElementsAre("A2", "A1"));
  }

  WriteFile("weights", "www.example.org\n192.0.2.1 1\n192.0.2.2 255\n");
  host_.RunTasks();
  EXPECT_THAT(host_.Lines(),
              Contains("[INFO] plugin/loadbalance: Successfully reloaded weight file " + path));
  EXPECT_GT(first_is("A2"), 950);
  host_.ClearLines();
  host_.RunTasks();  // unchanged: nothing logged
  EXPECT_THAT(host_.Lines(), SizeIs(0));
  WriteFile("weights", "www.example.org\n192.0.2.1 0\n");
  host_.RunTasks();  // a bad file keeps the last weights
  EXPECT_THAT(host_.Lines(), Contains(HasSubstr("[ERROR] plugin/loadbalance: Wrong weight value")));
  EXPECT_GT(first_is("A2"), 950);
}

TEST_F(LoadBalanceTest, MissingWeightFileWaitsForReload) {
  Setup("  loadbalance weighted " + ::testing::TempDir() + "/no-such-weights");
  EXPECT_THAT(host_.Lines(),
              ElementsAre("[WARNING] plugin/loadbalance: Failed to open weight file:weight file "
                          "open error. Will try again in 30s"));
}

struct SetupErrorCase {
  std::string config;
  std::string error;
};

class LoadBalanceSetupErrorTest : public ::testing::TestWithParam<SetupErrorCase> {};

TEST_P(LoadBalanceSetupErrorTest, RejectedWithFileAndLine) {
  FakeHost host;
  testutil::Loaded loaded = Load(". {\n" + GetParam().config + "\n}\n", "loadbalance", &host);
  EXPECT_EQ(loaded.error, "plugin/loadbalance: Corefile:" + GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LoadBalanceSetupErrorTest,
    ::testing::Values(
        SetupErrorCase{"  loadbalance random", "2 - Error during parsing: unknown policy: random"},
        SetupErrorCase{"  loadbalance round_robin x",
                       "2 - Error during parsing: unknown property for round_robin"},
        SetupErrorCase{"  loadbalance weighted",
                       "2 - Error during parsing: missing weight file argument"},
        SetupErrorCase{"  loadbalance weighted a b",
                       "2 - Error during parsing: unexpected argument(s)"},
        SetupErrorCase{"  loadbalance weighted w {\n    reload\n  }",
                       "3 - Error during parsing: reload duration value is missing"},
        SetupErrorCase{"  loadbalance weighted w {\n    reload soon\n  }",
                       "3 - Error during parsing: invalid reload duration 'soon'"},
        SetupErrorCase{"  loadbalance weighted w {\n    prefer 10.0.0.0/8\n  }",
                       "3 - Error during parsing: unknown property 'prefer'"},
        SetupErrorCase{"  loadbalance {\n    prefer 10.0.0.0/33\n  }",
                       "3 - Error during parsing: invalid CIDR \"10.0.0.0/33\": invalid CIDR "
                       "address: 10.0.0.0/33"},
        SetupErrorCase{"  loadbalance weighted /nonexistent/w {\n    reload 0s\n  }",
                       "2 - Error during parsing: weight file open error"}));

}  // namespace
}  // namespace warpdns::slowpath::loadbalance
