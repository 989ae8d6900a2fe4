#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::errors {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::StartsWith;
using testutil::FakeHost;
using testutil::Load;
using testutil::MakeRequest;
using testutil::RecordingWriter;

class ErrorsTest : public ::testing::Test {
 protected:
  void Setup(const std::string& block = "") {
    std::string corefile = "example.org {\n  errors";
    if (!block.empty()) corefile += " {\n" + block + "\n  }";
    corefile += "\n}\n";
    loaded_ = Load(corefile, "errors", &host_);
    ASSERT_EQ(loaded_.error, "");
    ASSERT_NE(loaded_.get(), nullptr);
  }

  // One query whose next plugin fails with `error` (SERVFAIL, unwritten).
  Result Fail(const std::string& error, const std::string& name = "example.org.",
              uint16_t type = wire::type::kA) {
    next_ = testutil::ReturnRcode(wire::rcode::kServFail, error);
    loaded_.get()->SetNext(next_.get());
    Request req = MakeRequest(name, type);
    RecordingWriter w;
    return RunSync(loaded_.get()->ServeDns(req, w));
  }

  FakeHost host_;
  testutil::Loaded loaded_;
  std::unique_ptr<testutil::StubPlugin> next_;
};

TEST_F(ErrorsTest, LogsEveryError) {
  Setup();
  Result r = Fail("read udp 10.0.0.1:53->8.8.8.8:53: i/o timeout", "Example.ORG.", wire::type::kMx);
  EXPECT_EQ(r.rcode, wire::rcode::kServFail);
  EXPECT_EQ(r.error, "read udp 10.0.0.1:53->8.8.8.8:53: i/o timeout");
  EXPECT_THAT(host_.Lines(), ElementsAre("[ERROR] plugin/errors: 2 example.org. MX: read udp "
                                         "10.0.0.1:53->8.8.8.8:53: i/o timeout"));
  EXPECT_THAT(host_.tasks, IsEmpty());
}

TEST_F(ErrorsTest, NoErrorNoLine) {
  Setup();
  next_ = testutil::ReturnRcode(wire::rcode::kRefused);
  loaded_.get()->SetNext(next_.get());
  Request req = MakeRequest("example.org.", wire::type::kA);
  RecordingWriter w;
  EXPECT_EQ(RunSync(loaded_.get()->ServeDns(req, w)).rcode, wire::rcode::kRefused);
  EXPECT_THAT(host_.Lines(), IsEmpty());
}

TEST_F(ErrorsTest, LastInChain) {
  Setup();
  Request req = MakeRequest("example.org.", wire::type::kA);
  RecordingWriter w;
  Result r = RunSync(loaded_.get()->ServeDns(req, w));
  EXPECT_EQ(r.rcode, wire::rcode::kServFail);
  EXPECT_THAT(host_.Lines(), ElementsAre("[ERROR] plugin/errors: 2 example.org. A: plugin/errors: "
                                         "no next plugin found"));
}

TEST_F(ErrorsTest, Consolidate) {
  Setup("    consolidate 30s \"^read udp .* i/o timeout$\"");
  ASSERT_THAT(host_.tasks, SizeIs(1));
  EXPECT_EQ(host_.tasks[0].period_ms, 30000);
  for (int i = 0; i < 3; ++i) Fail("read udp 1.2.3.4:1->5.6.7.8:53: i/o timeout");
  Fail("something else");
  EXPECT_THAT(host_.Lines(),
              ElementsAre("[ERROR] plugin/errors: 2 example.org. A: something else"));
  host_.ClearLines();
  host_.RunTasks();
  EXPECT_THAT(host_.Lines(), ElementsAre("[ERROR] plugin/errors: 3 errors like '^read udp .* "
                                         "i/o timeout$' occurred in last 30s"));
  host_.ClearLines();
  host_.RunTasks();  // nothing new in this period
  EXPECT_THAT(host_.Lines(), IsEmpty());
}

TEST_F(ErrorsTest, FirstMatchingPatternWins) {
  Setup("    consolidate 1m timeout warning\n    consolidate 90s i/o info");
  Fail("i/o timeout");
  Fail("i/o error");
  host_.RunTasks();
  EXPECT_THAT(host_.Lines(),
              ElementsAre("[WARNING] plugin/errors: 1 errors like 'timeout' occurred in last 1m0s",
                          "[INFO] plugin/errors: 1 errors like 'i/o' occurred in last 1m30s"));
}

TEST_F(ErrorsTest, ShowFirst) {
  Setup("    consolidate 500ms timeout warning show_first");
  Fail("timeout one");
  EXPECT_THAT(host_.Lines(), ElementsAre("[WARNING] plugin/errors: 2 example.org. A: timeout one"));
  host_.ClearLines();
  host_.RunTasks();  // only the one already shown: no summary
  EXPECT_THAT(host_.Lines(), IsEmpty());

  Fail("timeout two");
  Fail("timeout three");
  Fail("timeout four");
  host_.RunTasks();
  EXPECT_THAT(host_.Lines(),
              ElementsAre("[WARNING] plugin/errors: 2 example.org. A: timeout two",
                          "[WARNING] plugin/errors: 3 errors like 'timeout' occurred in last "
                          "500ms"));
}

TEST_F(ErrorsTest, ShowFirstWithDefaultLevel) {
  Setup("    consolidate 1h30m2.5s x show_first");
  Fail("x");
  Fail("x");
  host_.RunTasks();
  EXPECT_THAT(host_.Lines(),
              ElementsAre("[ERROR] plugin/errors: 2 example.org. A: x",
                          "[ERROR] plugin/errors: 2 errors like 'x' occurred in last 1h30m2.5s"));
}

TEST_F(ErrorsTest, DebugLevelIsSilent) {
  Setup("    consolidate 1s x debug show_first");
  Fail("x");
  Fail("x");
  host_.RunTasks();
  EXPECT_THAT(host_.Lines(), IsEmpty());
}

TEST_F(ErrorsTest, ShutdownReportsAndStopsConsolidating) {
  Setup("    consolidate 5m timeout warning");
  Fail("timeout");
  Fail("timeout");
  ASSERT_THAT(host_.shutdown_hooks, SizeIs(1));
  host_.RunShutdown();
  EXPECT_THAT(host_.Lines(), ElementsAre("[WARNING] plugin/errors: 2 errors like 'timeout' "
                                         "occurred in last 5m0s"));
  host_.ClearLines();
  Fail("timeout");
  EXPECT_THAT(host_.Lines(), ElementsAre("[WARNING] plugin/errors: 2 example.org. A: timeout"));
}

TEST_F(ErrorsTest, StdoutAndStacktraceAccepted) {
  loaded_ = Load("example.org {\n  errors stdout {\n    stacktrace\n  }\n}\n", "errors", &host_);
  EXPECT_EQ(loaded_.error, "");
  EXPECT_NE(loaded_.get(), nullptr);
}

TEST(ErrorsSpecTest, OncePerBlock) {
  const PluginSpec* spec = FindPlugin("errors");
  ASSERT_NE(spec, nullptr);
  EXPECT_TRUE(spec->once_per_block);
}

struct SetupErrorCase {
  std::string directive;
  std::string message;
};

class ErrorsSetupErrorTest : public ::testing::TestWithParam<SetupErrorCase> {};

TEST_P(ErrorsSetupErrorTest, Fails) {
  FakeHost host;
  testutil::Loaded l = Load("example.org {\n  " + GetParam().directive + "\n}\n", "errors", &host);
  EXPECT_THAT(l.error, StartsWith("plugin/errors: Corefile:"));
  EXPECT_THAT(l.error, HasSubstr(" - Error during parsing: "));
  EXPECT_THAT(l.error, HasSubstr(GetParam().message));
}

// Block lines start on line 3.
INSTANTIATE_TEST_SUITE_P(
    Cases, ErrorsSetupErrorTest,
    ::testing::Values(
        SetupErrorCase{"errors stderr", "invalid log file: stderr"},
        SetupErrorCase{"errors a b", "Wrong argument count"},
        SetupErrorCase{"errors {\n    consolidate 30s\n  }", "Wrong argument count"},
        SetupErrorCase{"errors {\n    consolidate 30s x error show_first y\n  }",
                       "Wrong argument count"},
        SetupErrorCase{"errors {\n    consolidate 30 x\n  }",
                       "time: missing unit in duration \"30\""},
        SetupErrorCase{"errors {\n    consolidate 0s x\n  }", "time: invalid duration \"0s\""},
        SetupErrorCase{"errors {\n    consolidate 30s (\n  }", "error parsing regexp"},
        SetupErrorCase{"errors {\n    consolidate 30s x loud\n  }",
                       "unknown log level argument in consolidate: loud"},
        SetupErrorCase{"errors {\n    consolidate 30s x warning info\n  }",
                       "unknown log level argument in consolidate: info"},
        SetupErrorCase{"errors {\n    consolidate 30s " + std::string(10001, 'a') + "\n  }",
                       "regexp too long"},
        SetupErrorCase{"errors {\n    verbose\n  }",
                       "Syntax error: Unexpected token 'verbose', expecting 'Unknown field "
                       "verbose'"},
        SetupErrorCase{"errors {\n    stacktrace extra\n  }",
                       "Syntax error: Unexpected token 'extra', expecting 'Unknown field "
                       "extra'"}));

}  // namespace
}  // namespace warpdns::slowpath::errors
