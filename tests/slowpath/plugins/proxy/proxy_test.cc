#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <chrono>
#include <fstream>
#include <map>

#include "tests/slowpath/plugins/forward/fake_upstream.h"
#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::proxy {
namespace {

using ::testing::HasSubstr;
using testutil::FakeHost;
using testutil::FakeUpstream;
using testutil::MakeRequest;
using testutil::RecordingWriter;
using testutil::TxtOf;

uint16_t DeadPort() {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  bind(fd, reinterpret_cast<sockaddr*>(&a), len);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class ProxyTest : public ::testing::Test {
 protected:
  // Sets up every `proxy` line of one server block. The Corefile parser
  // only knows today's plugin names, so the lines are parsed as `forward`
  // and renamed, which changes nothing else.
  Plugin* Setup(const std::string& body) {
    std::string text = ". {\n" + body + "\n}\n";
    for (size_t at; (at = text.find("proxy ")) != std::string::npos;) text.replace(at, 5, "forward");
    auto parsed = config::ParseCorefile(text, "Corefile", {}, &error_);
    if (!parsed) return nullptr;
    corefile_ = std::move(*parsed);
    config::ServerBlock& block = corefile_.blocks.at(0);
    for (config::Directive& d : block.directives) d.name.text = "proxy";
    const PluginSpec* spec = FindPlugin("proxy");
    plugins_.clear();
    for (const config::Directive& d : block.directives) {
      SetupContext ctx{d, block, {"."}, "", {}, &host_};
      std::unique_ptr<Plugin> p = spec->setup(ctx, &error_);
      if (!error_.empty()) return nullptr;
      if (p) plugins_.push_back(std::move(p));
    }
    return plugins_.empty() ? nullptr : plugins_.front().get();
  }

  std::string Who(Plugin* p, const std::string& qname = "who.example.") {
    Request req = MakeRequest(qname, wire::type::kTxt);
    RecordingWriter w;
    Result r = RunSync(p->ServeDns(req, w));
    if (!w.Written()) return "rcode " + std::to_string(r.rcode) + ": " + r.error;
    return TxtOf(w.reply());
  }

  FakeHost host_;
  config::Corefile corefile_;
  std::vector<std::unique_ptr<Plugin>> plugins_;
  std::string error_;
};

TEST_F(ProxyTest, SeedLineWithAResolvConfFile) {
  // resolv.conf has no port: nameservers are on 53, so the fake upstream
  // cannot stand in here; the parse is what is checked (the integration
  // test serves it from port 53).
  const std::string path = ::testing::TempDir() + "/proxy-resolv.conf";
  std::ofstream(path) << "nameserver 127.0.0.1\nnameserver ::1\n";
  Plugin* p = Setup("proxy . " + path);
  ASSERT_NE(p, nullptr) << error_;
  EXPECT_EQ(p->Name(), "proxy");
}

TEST_F(ProxyTest, ForwardsAndLongestFromWins) {
  FakeUpstream a("a"), b("b");
  Plugin* p = Setup("proxy . " + a.addr() + "\nproxy example.org " + b.addr());
  ASSERT_NE(p, nullptr) << error_;
  ASSERT_EQ(plugins_.size(), 1u);  // one plugin for both lines
  EXPECT_EQ(Who(p, "www.example.org."), "b");
  EXPECT_EQ(Who(p, "www.example.net."), "a");
}

TEST_F(ProxyTest, ExceptGoesToTheNextPlugin) {
  FakeUpstream a("a");
  Plugin* p = Setup("proxy . " + a.addr() + " {\n except internal.example.org\n}");
  ASSERT_NE(p, nullptr) << error_;
  auto next = testutil::ReturnRcode(wire::rcode::kRefused);
  p->SetNext(next.get());
  EXPECT_EQ(Who(p, "db.internal.example.org."), "rcode 5: ");
  EXPECT_EQ(Who(p, "www.example.org."), "a");
  EXPECT_EQ(next->calls, 1);
}

TEST_F(ProxyTest, PolicyFirstAndRoundRobin) {
  FakeUpstream a("a"), b("b");
  Plugin* first = Setup("proxy . " + a.addr() + " " + b.addr() + " {\n policy first\n}");
  ASSERT_NE(first, nullptr) << error_;
  std::string order;
  for (int k = 0; k < 4; ++k) order += Who(first);
  EXPECT_EQ(order, "aaaa");
  Plugin* rr = Setup("proxy . " + a.addr() + " " + b.addr() + " {\n policy round_robin\n}");
  ASSERT_NE(rr, nullptr) << error_;
  order.clear();
  for (int k = 0; k < 4; ++k) order += Who(rr);
  EXPECT_EQ(order, "baba");
}

TEST_F(ProxyTest, FailedHostIsDownForFailTimeout) {
  FakeUpstream b("b");
  const std::string dead = "127.0.0.1:" + std::to_string(DeadPort());
  Plugin* p = Setup("proxy . " + dead + " " + b.addr() +
                    " {\n policy first\n fail_timeout 200ms\n}");
  ASSERT_NE(p, nullptr) << error_;
  // The dead host fails once (max_fails 1): down, the next query goes on.
  EXPECT_EQ(Who(p), "b");
  const int before = b.udp_queries;
  EXPECT_EQ(Who(p), "b");
  EXPECT_EQ(b.udp_queries, before + 1);
}

TEST_F(ProxyTest, AllDownWithoutSprayIsServfail) {
  const std::string dead = "127.0.0.1:" + std::to_string(DeadPort());
  Plugin* p = Setup("proxy . " + dead);
  ASSERT_NE(p, nullptr) << error_;
  EXPECT_EQ(Who(p), "rcode 2: unreachable backend: no upstream host");
}

TEST_F(ProxyTest, ProtocolDnsForceTcp) {
  FakeUpstream a("a");
  Plugin* p = Setup("proxy . " + a.addr() + " {\n protocol dns force_tcp\n}");
  ASSERT_NE(p, nullptr) << error_;
  EXPECT_EQ(Who(p), "a");
  EXPECT_EQ(a.tcp_queries, 1);
  EXPECT_EQ(a.udp_queries, 0);
}

TEST_F(ProxyTest, SetupErrors) {
  EXPECT_EQ(Setup("proxy ."), nullptr);
  EXPECT_THAT(error_, HasSubstr("Wrong argument count"));
  error_.clear();
  EXPECT_EQ(Setup("proxy . 127.0.0.1 {\n protocol dns udp\n}"), nullptr);
  EXPECT_THAT(error_, HasSubstr("only force_tcp allowed as parameter to dns"));
  error_.clear();
  EXPECT_EQ(Setup("proxy . 127.0.0.1 {\n protocol https_google\n}"), nullptr);
  EXPECT_THAT(error_, HasSubstr("not supported"));
  error_.clear();
  EXPECT_EQ(Setup("proxy . 127.0.0.1 {\n health_check /health\n}"), nullptr);
  EXPECT_THAT(error_, HasSubstr("missing port in address"));
  error_.clear();
  EXPECT_EQ(Setup("proxy . 127.0.0.1 {\n bogus\n}"), nullptr);
  EXPECT_THAT(error_, HasSubstr("unknown property 'bogus'"));
}

}  // namespace
}  // namespace warpdns::slowpath::proxy
