#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::hosts {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testutil::FakeHost;
using testutil::Load;
using testutil::MakeRequest;
using testutil::RecordingWriter;

constexpr char kHostsFile[] = R"(# comment line
127.0.0.1 localhost localhost.domain
::1 localhost localhost.domain
10.0.0.1 example.org www.Example.ORG   # trailing comment
10.0.0.1 alias.example.org
::FFFF:10.0.0.2 mapped.example.org
2001:db8::5 six.example.org
fe80::1%eth0 zoned.example.org
10.0.0.3 outside.example.net
10.1.1.1 *.wild.example.org
10.1.1.2 explicit.wild.example.org
not-an-ip broken.example.org
10.0.0.4
)";

class HostsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warpdns-hosts-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/hosts";
    WriteFile(kHostsFile);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void WriteFile(const std::string& text) {
    std::ofstream out(path_, std::ios::trunc);
    out << text;
  }

  // `hosts` with `args` and `block` lines in a block for example.org.
  void Setup(const std::string& args, const std::string& block = "",
             const std::string& zone = "example.org") {
    std::string corefile = zone + " {\n  hosts " + args;
    if (!block.empty()) corefile += " {\n" + block + "\n  }";
    corefile += "\n}\n";
    loaded_ = Load(corefile, "hosts", &host_, dir_);
    ASSERT_EQ(loaded_.error, "");
    ASSERT_NE(loaded_.get(), nullptr);
    next_ = testutil::ReturnRcode(wire::rcode::kRefused);
    loaded_.get()->SetNext(next_.get());
  }

  Result Query(const std::string& name, uint16_t type) {
    w_ = RecordingWriter();
    Request req = MakeRequest(name, type);
    return RunSync(loaded_.get()->ServeDns(req, w_));
  }

  // The answers of a written NOERROR reply, as "owner ttl type rdata".
  std::vector<std::string> Answers() {
    EXPECT_EQ(w_.replies.size(), 1u);
    if (w_.replies.empty()) return {};
    const wire::Message& m = w_.reply();
    EXPECT_EQ(m.Rcode(), wire::rcode::kNoError);
    EXPECT_TRUE(m.header.aa());
    EXPECT_TRUE(m.authority.empty());
    std::vector<std::string> out;
    for (const wire::Rr& rr : m.answer) {
      EXPECT_EQ(rr.rclass, wire::qclass::kIn);
      std::string text = rr.name.ToText() + " " + std::to_string(rr.ttl) + " ";
      char buf[INET6_ADDRSTRLEN];
      if (rr.type == wire::type::kA) {
        text += "A " + std::string(inet_ntop(AF_INET, rr.rdata.data(), buf, sizeof(buf)));
      } else if (rr.type == wire::type::kAaaa) {
        text += "AAAA " + std::string(inet_ntop(AF_INET6, rr.rdata.data(), buf, sizeof(buf)));
      } else if (rr.type == wire::type::kPtr) {
        wire::Name target;
        EXPECT_TRUE(wire::Name::FromWire(rr.rdata.data(), rr.rdata.size(), &target));
        text += "PTR " + target.ToText();
      }
      out.push_back(text);
    }
    return out;
  }

  // Queries that go to the next plugin come back with its REFUSED.
  void ExpectNext(const std::string& name, uint16_t type) {
    const int before = next_->calls;
    EXPECT_EQ(Query(name, type).rcode, wire::rcode::kRefused) << name;
    EXPECT_EQ(next_->calls, before + 1) << name;
    EXPECT_TRUE(w_.replies.empty()) << name;
  }

  void ExpectServfail(const std::string& name, uint16_t type) {
    Result r = Query(name, type);
    EXPECT_EQ(r.rcode, wire::rcode::kServFail) << name;
    EXPECT_EQ(r.error, "") << name;
    EXPECT_TRUE(w_.replies.empty()) << name;
  }

  std::string dir_;
  std::string path_;
  FakeHost host_;
  testutil::Loaded loaded_;
  std::unique_ptr<testutil::StubPlugin> next_;
  RecordingWriter w_;
};

TEST_F(HostsTest, AddressRecords) {
  Setup(path_);
  EXPECT_EQ(Query("Example.ORG.", wire::type::kA).rcode, wire::rcode::kNoError);
  EXPECT_THAT(Answers(), ElementsAre("example.org. 3600 A 10.0.0.1"));  // owner lowercased
  Query("www.example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("www.example.org. 3600 A 10.0.0.1"));
  Query("mapped.example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("mapped.example.org. 3600 A 10.0.0.2"));
  Query("six.example.org.", wire::type::kAaaa);
  EXPECT_THAT(Answers(), ElementsAre("six.example.org. 3600 AAAA 2001:db8::5"));
  Query("zoned.example.org.", wire::type::kAaaa);
  EXPECT_THAT(Answers(), ElementsAre("zoned.example.org. 3600 AAAA fe80::1"));
  EXPECT_EQ(next_->calls, 0);
}

TEST_F(HostsTest, KnownNameOtherTypeIsNodataWithoutSoa) {
  Setup(path_);
  for (uint16_t type : {wire::type::kAaaa, wire::type::kTxt, wire::type::kMx}) {
    EXPECT_EQ(Query("example.org.", type).rcode, wire::rcode::kNoError);
    EXPECT_THAT(Answers(), ElementsAre());
  }
  Query("six.example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre());
}

TEST_F(HostsTest, UnknownNameIsServfailWithoutFallthrough) {
  Setup(path_);
  ExpectServfail("missing.example.org.", wire::type::kA);
  ExpectServfail("missing.example.org.", wire::type::kTxt);
  ExpectServfail("broken.example.org.", wire::type::kA);
  EXPECT_EQ(next_->calls, 0);
}

TEST_F(HostsTest, NamesOutsideZonesGoOnAndAreNotLoaded) {
  Setup(path_);
  ExpectNext("outside.example.net.", wire::type::kA);
  ExpectNext("localhost.", wire::type::kA);
}

TEST_F(HostsTest, ExplicitZones) {
  Setup(path_ + " example.net", "", ".");
  Query("outside.example.net.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("outside.example.net. 3600 A 10.0.0.3"));
  ExpectNext("example.org.", wire::type::kA);
}

TEST_F(HostsTest, BlockZonesByDefault) {
  Setup(path_, "", ".");
  Query("localhost.", wire::type::kAaaa);
  EXPECT_THAT(Answers(), ElementsAre("localhost. 3600 AAAA ::1"));
}

TEST_F(HostsTest, CidrZonesExpandToReverseZones) {
  // 10.0.0.0/15 is 0.10.in-addr.arpa. and 1.10.in-addr.arpa.
  Setup(path_ + " 10.0.0.0/15");
  ExpectServfail("x.0.10.in-addr.arpa.", wire::type::kA);
  ExpectServfail("x.1.10.in-addr.arpa.", wire::type::kA);
  ExpectNext("x.2.10.in-addr.arpa.", wire::type::kA);
  ExpectNext("example.org.", wire::type::kA);
}

TEST_F(HostsTest, Fallthrough) {
  Setup(path_, "    fallthrough");
  ExpectNext("missing.example.org.", wire::type::kA);
  // Known names still answer NODATA for other types.
  Query("example.org.", wire::type::kTxt);
  EXPECT_THAT(Answers(), ElementsAre());
}

TEST_F(HostsTest, FallthroughZones) {
  Setup(path_, "    fallthrough sub.example.org", ".");
  ExpectNext("a.sub.example.org.", wire::type::kA);
  ExpectServfail("missing.example.org.", wire::type::kA);
}

TEST_F(HostsTest, FallthroughUnsupported) {
  Setup(path_, "    fallthrough\n    fallthrough_unsupported");
  ExpectNext("example.org.", wire::type::kTxt);
  ExpectNext("example.org.", wire::type::kHttps);
  // A and AAAA stay ours.
  Query("example.org.", wire::type::kAaaa);
  EXPECT_THAT(Answers(), ElementsAre());
}

TEST_F(HostsTest, FallthroughUnsupportedKeepsFallthroughZones) {
  Setup(path_, "    fallthrough example.net\n    fallthrough_unsupported", ".");
  Query("example.org.", wire::type::kTxt);
  EXPECT_THAT(Answers(), ElementsAre());
}

TEST_F(HostsTest, ReverseRecords) {
  Setup(path_);
  // Answered although in-addr.arpa. is not one of the zones.
  Query("1.0.0.10.in-addr.arpa.", wire::type::kPtr);
  EXPECT_THAT(Answers(), ElementsAre("1.0.0.10.in-addr.arpa. 3600 PTR example.org.",
                                     "1.0.0.10.in-addr.arpa. 3600 PTR www.example.org.",
                                     "1.0.0.10.in-addr.arpa. 3600 PTR alias.example.org."));
  Query("2.0.0.10.in-addr.arpa.", wire::type::kPtr);
  EXPECT_THAT(Answers(), ElementsAre("2.0.0.10.in-addr.arpa. 3600 PTR mapped.example.org."));
  const std::string six =
      "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.";
  Query(six, wire::type::kPtr);
  EXPECT_THAT(Answers(), ElementsAre(six + " 3600 PTR six.example.org."));
  // Unknown addresses and non-reverse names go on regardless of fallthrough.
  ExpectNext("9.9.9.10.in-addr.arpa.", wire::type::kPtr);
  ExpectNext("example.org.", wire::type::kPtr);
  ExpectNext("01.0.0.10.in-addr.arpa.", wire::type::kPtr);
}

TEST_F(HostsTest, NoReverse) {
  Setup(path_, "    no_reverse");
  ExpectNext("1.0.0.10.in-addr.arpa.", wire::type::kPtr);
  Query("example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("example.org. 3600 A 10.0.0.1"));
}

TEST_F(HostsTest, Ttl) {
  Setup(path_, "    ttl 60");
  Query("example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("example.org. 60 A 10.0.0.1"));
  Query("1.0.0.10.in-addr.arpa.", wire::type::kPtr);
  EXPECT_EQ(Answers().at(0), "1.0.0.10.in-addr.arpa. 60 PTR example.org.");
}

TEST_F(HostsTest, Wildcard) {
  Setup(path_);
  Query("apps.wild.example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("apps.wild.example.org. 3600 A 10.1.1.1"));
  // Explicit entries win; a name with entries is not covered by the wildcard
  // for its other type either.
  Query("explicit.wild.example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("explicit.wild.example.org. 3600 A 10.1.1.2"));
  Query("apps.wild.example.org.", wire::type::kTxt);
  EXPECT_THAT(Answers(), ElementsAre());
  // Not the apex, not two labels down.
  ExpectServfail("wild.example.org.", wire::type::kA);
  ExpectServfail("deep.apps.wild.example.org.", wire::type::kA);
  // No PTR from a wildcard entry.
  ExpectNext("1.1.1.10.in-addr.arpa.", wire::type::kPtr);
  Query("2.1.1.10.in-addr.arpa.", wire::type::kPtr);
  EXPECT_THAT(Answers(), ElementsAre("2.1.1.10.in-addr.arpa. 3600 PTR explicit.wild.example.org."));
}

TEST_F(HostsTest, InlineEntriesFollowFileEntries) {
  Setup(path_, "    10.0.0.9 example.org inline.example.org\n    fallthrough");
  Query("example.org.", wire::type::kA);
  EXPECT_THAT(Answers(),
              ElementsAre("example.org. 3600 A 10.0.0.1", "example.org. 3600 A 10.0.0.9"));
  Query("inline.example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("inline.example.org. 3600 A 10.0.0.9"));
  Query("9.0.0.10.in-addr.arpa.", wire::type::kPtr);
  EXPECT_THAT(Answers(), ElementsAre("9.0.0.10.in-addr.arpa. 3600 PTR example.org.",
                                     "9.0.0.10.in-addr.arpa. 3600 PTR inline.example.org."));
}

TEST_F(HostsTest, ReloadOnChangeAndKeepOnDelete) {
  Setup(path_, "    10.0.0.9 inline.example.org\n    reload 2s");
  ASSERT_EQ(host_.tasks.size(), 1u);
  EXPECT_EQ(host_.tasks[0].period_ms, 2000);

  WriteFile("10.0.0.7 new.example.org\n");
  host_.RunTasks();
  Query("new.example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("new.example.org. 3600 A 10.0.0.7"));
  ExpectServfail("example.org.", wire::type::kA);

  // A file that cannot be read any more keeps what was loaded last, and the
  // inline entries.
  fs::remove(path_);
  host_.RunTasks();
  Query("new.example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("new.example.org. 3600 A 10.0.0.7"));
  Query("inline.example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("inline.example.org. 3600 A 10.0.0.9"));
}

TEST_F(HostsTest, QueriesDuringReload) {
  Setup(path_);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!done.load()) {
        RecordingWriter w;
        Request req = MakeRequest("example.org.", wire::type::kA);
        Result r = RunSync(loaded_.get()->ServeDns(req, w));
        // Every version of the file has example.org.
        if (r.rcode != wire::rcode::kNoError || w.reply().answer.size() != 1) ++bad;
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    WriteFile("10.0.0.1 example.org\n" + std::string(i, '#') + "\n");
    host_.RunTasks();
  }
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(HostsTest, DefaultReloadAndDisabledReload) {
  Setup(path_);
  ASSERT_EQ(host_.tasks.size(), 1u);
  EXPECT_EQ(host_.tasks[0].period_ms, 5000);
  host_.tasks.clear();
  Setup(path_, "    reload 0");
  EXPECT_TRUE(host_.tasks.empty());
}

TEST_F(HostsTest, RelativePathUnderRoot) {
  Setup("hosts");  // root is dir_
  Query("example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("example.org. 3600 A 10.0.0.1"));
}

TEST_F(HostsTest, MissingFileWarnsAndServesInline) {
  Setup(dir_ + "/nope", "    10.0.0.9 inline.example.org");
  EXPECT_THAT(host_.Lines(),
              ElementsAre("[WARNING] plugin/hosts: File does not exist: " + dir_ + "/nope"));
  Query("inline.example.org.", wire::type::kA);
  EXPECT_THAT(Answers(), ElementsAre("inline.example.org. 3600 A 10.0.0.9"));
}

TEST_F(HostsTest, OncePerBlock) {
  const PluginSpec* spec = FindPlugin("hosts");
  ASSERT_NE(spec, nullptr);
  EXPECT_TRUE(spec->once_per_block);
}

struct SetupErrorCase {
  std::string block;
  std::string message;
};

class HostsSetupErrorTest : public HostsTest,
                            public ::testing::WithParamInterface<SetupErrorCase> {};

TEST_P(HostsSetupErrorTest, Fails) {
  FakeHost host;
  testutil::Loaded l = Load(
      "example.org {\n  hosts " + path_ + " {\n" + GetParam().block + "\n  }\n}\n", "hosts", &host);
  EXPECT_THAT(l.error, StartsWith("plugin/hosts: Corefile:"));
  EXPECT_THAT(l.error, HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HostsSetupErrorTest,
    ::testing::Values(
        SetupErrorCase{"ttl", "ttl needs a time in second"},
        SetupErrorCase{"ttl abc", "ttl needs a number of second"},
        SetupErrorCase{"ttl 0", "ttl provided is invalid"},
        SetupErrorCase{"ttl 65536", "ttl provided is invalid"},
        SetupErrorCase{"reload", "reload needs a duration (zero seconds to disable)"},
        SetupErrorCase{"reload 5", "invalid duration for reload '5'"},
        SetupErrorCase{"fallthrough\n10.0.0.1 example.org", "unknown property '10.0.0.1'"},
        SetupErrorCase{"fallthrough_unsupported", "fallthrough_unsupported requires fallthrough"}));

}  // namespace
}  // namespace warpdns::slowpath::hosts
