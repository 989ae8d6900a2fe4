// The kubernetes plugin's setup (options, errors with file:line), label
// selectors, kubeconfig files, and serving before the API answers.
#include "slowpath/plugins/kubernetes/kubernetes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "slowpath/plugins/kubernetes/client.h"
#include "slowpath/plugins/kubernetes/selector.h"
#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::kubernetes {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using testutil::FakeHost;
using testutil::Load;
using testutil::MakeRequest;
using testutil::RecordingWriter;

// An endpoint nothing listens on: the API never answers.
constexpr char kDeadEndpoint[] = "http://127.0.0.1:1";

std::string SetupError(const std::string& block, const std::string& args = "cluster.local") {
  FakeHost host;
  const std::string corefile = ".:53 {\n  kubernetes " + args + " {\n" + block + "\n  }\n}\n";
  return Load(corefile, "kubernetes", &host).error;
}

std::string At(int line, const std::string& what) {
  return "plugin/kubernetes: Corefile:" + std::to_string(line) + " - Error during parsing: " + what;
}

TEST(SetupTest, RejectsBadOptionsWithTheirLine) {
  EXPECT_EQ(SetupError("    endpoint " + std::string(kDeadEndpoint) + "\n    foo bar"),
            At(4, "unknown property 'foo'"));
  EXPECT_EQ(SetupError("    pods bogus"),
            At(3, "wrong value for pods: bogus,  must be one of: disabled, verified, insecure"));
  EXPECT_EQ(SetupError("    pods"),
            At(3, "Wrong argument count or unexpected line ending after 'pods'"));
  EXPECT_EQ(SetupError("    ttl 3601"), At(3, "ttl must be in range [0, 3600]: 3601"));
  EXPECT_EQ(SetupError("    ttl abc"), At(3, "strconv.Atoi: parsing \"abc\": invalid syntax"));
  EXPECT_EQ(SetupError("    tls cert key"),
            At(3, "Wrong argument count or unexpected line ending after 'key'"));
  EXPECT_EQ(SetupError("    endpoint_pod_names yes"),
            At(3, "Wrong argument count or unexpected line ending after 'yes'"));
  EXPECT_EQ(SetupError("    noendpoints now"),
            At(3, "Wrong argument count or unexpected line ending after 'now'"));
  EXPECT_EQ(SetupError("    ignore foo"), At(3, "unable to parse ignore value: 'foo'"));
  EXPECT_EQ(SetupError("    labels app!=web"),
            At(3,
               "unable to parse label selector value: 'app!=web': \"!=\" is not a valid label "
               "selector operator"));
  EXPECT_EQ(SetupError("    namespace_labels env in ()"),
            At(3,
               "unable to parse namespace_label selector value: 'env in ()': for 'in', 'notin' "
               "operators, values set can't be empty"));
  EXPECT_EQ(SetupError("    namespaces a\n    namespace_labels env=prod"),
            At(2, "namespaces and namespace_labels cannot both be set"));
  EXPECT_EQ(SetupError("    cidrs 10.3.0.0"), At(3, "invalid cidr: 10.3.0.0"));
  EXPECT_EQ(SetupError("    startup_timeout soon"),
            At(3, "unable to parse startup_timeout: time: invalid duration \"soon\""));
  EXPECT_EQ(SetupError("    apiserver_qps many"), At(3, "unable to parse apiserver_qps: 'many'"));
  EXPECT_EQ(SetupError("", "in-addr.arpa"), At(2, "non-reverse zone name must be used"));
  EXPECT_EQ(SetupError("    kubeconfig /nonexistent/kubeconfig"),
            At(3, "open /nonexistent/kubeconfig: no such file or directory"));
}

TEST(SetupTest, InClusterNeedsTheServiceEnvironment) {
  unsetenv("KUBERNETES_SERVICE_HOST");
  unsetenv("KUBERNETES_SERVICE_PORT");
  EXPECT_EQ(SetupError("    pods insecure"),
            At(2,
               "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
               "KUBERNETES_SERVICE_PORT must be defined"));
}

TEST(SetupTest, UnsyncedServesServfailForUnknownNamesAndStopsPromptly) {
  FakeHost host;
  const std::string corefile = std::string(".:53 {\n  kubernetes cluster.local {\n    endpoint ") +
                               kDeadEndpoint + "\n    startup_timeout 1s\n  }\n}\n";
  auto started = std::chrono::steady_clock::now();
  testutil::Loaded loaded = Load(corefile, "kubernetes", &host);
  ASSERT_EQ(loaded.error, "");
  // Setup waited the startup timeout, saying so as CoreDNS does.
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(900));
  EXPECT_THAT(
      host.Lines(),
      Contains("[INFO] plugin/kubernetes: waiting for Kubernetes API before starting server"));
  EXPECT_THAT(
      host.Lines(),
      Contains("[WARNING] plugin/kubernetes: starting server with unsynced Kubernetes API"));
  EXPECT_THAT(host.Lines(), Contains(HasSubstr("[ERROR] plugin/kubernetes: Failed to list *v1.")));
  auto* plugin = static_cast<Kubernetes*>(loaded.get());
  EXPECT_FALSE(plugin->Ready());

  RecordingWriter w;
  Request req = MakeRequest("svc1.testns.svc.cluster.local.", wire::type::kA);
  const Result r = RunSync(plugin->ServeDns(req, w));
  EXPECT_EQ(r.rcode, wire::rcode::kNoError);  // written
  ASSERT_EQ(w.replies.size(), 1u);
  EXPECT_EQ(w.reply().Rcode(), wire::rcode::kServFail);
  EXPECT_TRUE(w.reply().header.aa());
  ASSERT_EQ(w.reply().authority.size(), 1u);
  EXPECT_EQ(w.reply().authority[0].type, wire::type::kSoa);

  started = std::chrono::steady_clock::now();
  loaded.plugins.clear();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(500));
}

TEST(SelectorTest, WritesTheCanonicalForm) {
  auto canonical = [](std::string_view text) {
    std::string out, error;
    EXPECT_TRUE(ParseSelector(text, &out, &error)) << text << ": " << error;
    return out;
  };
  EXPECT_EQ(canonical("environment in (staging, qa),application=nginx"),
            "application=nginx,environment in (qa,staging)");
  EXPECT_EQ(canonical("app"), "app");
  EXPECT_EQ(canonical("!app"), "!app");
  EXPECT_EQ(canonical("tier==db"), "tier=db");
  EXPECT_EQ(canonical("tier notin (a,b,a)"), "tier notin (a,b)");
  EXPECT_EQ(canonical("example.com/team=x, z="), "example.com/team=x,z=");
  EXPECT_EQ(canonical("a=1,a=2"), "a=2");
}

TEST(SelectorTest, RejectsWhatCoreDnsRejects) {
  for (std::string_view bad : {"a!=b", "a>1", "a<1", "in (a)", "a in ()", "a in (b", "-bad=x",
                               "a=b c", "a,", "!a=b", "a=-x"}) {
    std::string out, error;
    EXPECT_FALSE(ParseSelector(bad, &out, &error)) << bad;
    EXPECT_NE(error, "") << bad;
  }
}

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/warpdns-kubeconfig-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }

  std::string dir_;
};

// As kubectl writes it: lists indented like their keys, base64 data.
constexpr char kKubeconfig[] = R"(apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EtUEVN   # "CA-PEM"
    server: https://10.0.0.1:6443/
  name: prod
- cluster:
    certificate-authority: ca.crt
    insecure-skip-tls-verify: true
    server: "https://staging.example:443"
  name: staging
contexts:
- context:
    cluster: prod
    user: admin
  name: admin@prod
- context:
    cluster: staging
    user: robot
  name: 'robot@staging'
current-context: admin@prod
kind: Config
preferences: {}
users:
- name: admin
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
- name: robot
  user:
    tokenFile: secrets/token
- name: sso
  user:
    exec:
      command: aws
      args:
      - eks
)";

TEST_F(KubeconfigTest, ReadsTheCurrentContext) {
  const std::string path = Write("config", kKubeconfig);
  ApiConfig c;
  std::string error;
  ASSERT_TRUE(KubeconfigConfig(path, "", &c, &error)) << error;
  EXPECT_EQ(c.server, "https://10.0.0.1:6443");
  EXPECT_EQ(c.ca_data, "CA-PEM");
  EXPECT_EQ(c.cert_data, "CERT");
  EXPECT_EQ(c.key_data, "KEY");
  EXPECT_FALSE(c.insecure);
}

TEST_F(KubeconfigTest, ReadsANamedContextWithPathsRelativeToTheFile) {
  const std::string path = Write("config", kKubeconfig);
  ApiConfig c;
  std::string error;
  ASSERT_TRUE(KubeconfigConfig(path, "robot@staging", &c, &error)) << error;
  EXPECT_EQ(c.server, "https://staging.example:443");
  EXPECT_EQ(c.ca_file, dir_ + "/ca.crt");
  EXPECT_EQ(c.token_file, dir_ + "/secrets/token");
  EXPECT_TRUE(c.insecure);
}

TEST_F(KubeconfigTest, ReportsWhatItCannotUse) {
  ApiConfig c;
  std::string error;
  EXPECT_FALSE(KubeconfigConfig(Write("config", kKubeconfig), "nope", &c, &error));
  EXPECT_EQ(error, "context was not found for specified context: nope");
  EXPECT_FALSE(KubeconfigConfig(Write("bad", "clusters:\n\t- x\n"), "", &c, &error));
  EXPECT_THAT(error, HasSubstr("/bad\": line 2: "));  // yaml-cpp's reason
  // JSON is YAML too; exec credentials are not supported.
  nlohmann::json doc;
  ASSERT_TRUE(ParseYaml(kKubeconfig, &doc, &error)) << error;
  doc["contexts"].push_back(
      {{"name", "sso@prod"}, {"context", {{"cluster", "prod"}, {"user", "sso"}}}});
  EXPECT_FALSE(KubeconfigConfig(Write("config.json", doc.dump()), "sso@prod", &c, &error));
  EXPECT_EQ(error,
            "kubeconfig user \"sso\" uses exec or auth-provider credentials, which are not "
            "supported");
}

TEST(YamlTest, ParsesTheKubeconfigSubset) {
  nlohmann::json doc;
  std::string error;
  ASSERT_TRUE(ParseYaml(kKubeconfig, &doc, &error)) << error;
  EXPECT_EQ(doc["clusters"].size(), 2u);
  EXPECT_EQ(doc["clusters"][1]["cluster"]["server"], "https://staging.example:443");
  EXPECT_EQ(doc["clusters"][1]["cluster"]["insecure-skip-tls-verify"], "true");
  EXPECT_EQ(doc["contexts"][1]["name"], "robot@staging");
  EXPECT_TRUE(doc["preferences"].is_object());
  EXPECT_EQ(doc["users"][2]["user"]["exec"]["args"], nlohmann::json::array({"eks"}));
  ASSERT_TRUE(
      ParseYaml("a: 'it''s'\nb: \"x\\ty\"  # comment\n# only a comment\nc: d#e\n", &doc, &error))
      << error;
  EXPECT_EQ(doc["a"], "it's");
  EXPECT_EQ(doc["b"], "x\ty");
  EXPECT_EQ(doc["c"], "d#e");
  // All of YAML, as kubectl and people write it: flow collections, block scalars.
  ASSERT_TRUE(ParseYaml("context: {cluster: bad, user: u}\nlist: [a, b]\nblock: |\n  text\n",
                        &doc, &error))
      << error;
  EXPECT_EQ(doc["context"]["user"], "u");
  EXPECT_EQ(doc["list"], nlohmann::json::array({"a", "b"}));
  EXPECT_EQ(doc["block"], "text\n");
  EXPECT_FALSE(ParseYaml("a: b\n  c: d\n", &doc, &error));
  EXPECT_EQ(error.rfind("line 2: ", 0), 0u) << error;
}

}  // namespace
}  // namespace warpdns::slowpath::kubernetes
