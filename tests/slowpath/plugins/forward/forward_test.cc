#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <thread>

#include <asio.hpp>

#include "slowpath/metrics/metrics.h"
#include "slowpath/upstream/upstream.h"
#include "tests/slowpath/plugins/forward/fake_upstream.h"
#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::forward {
namespace {

using ::testing::HasSubstr;
using testutil::FakeHost;
using testutil::FakeUpstream;
using testutil::Load;
using testutil::Loaded;
using testutil::MakeRequest;
using testutil::RecordingWriter;
using testutil::TxtOf;
using Clock = std::chrono::steady_clock;

// A loopback port with nothing listening: queries to it are refused at once.
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

std::string Dead() { return "127.0.0.1:" + std::to_string(DeadPort()); }

// The value of one sample in the metrics exposition, 0 if absent.
double Metric(const std::string& name, const std::string& labels) {
  const std::string text = metrics::Serialize();
  const std::string key = labels.empty() ? "\n" + name + " " : name + "{" + labels + "} ";
  const size_t at = text.find(key);
  return at == std::string::npos ? 0 : std::atof(text.c_str() + at + key.size());
}

// Waits (5s at most) for 3 failed probes: down with the default max_fails 2.
void WaitDown(const std::string& addr) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Metric("coredns_forward_healthcheck_failures_total", "to=\"" + addr + "\"") < 3 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

class ForwardTest : public ::testing::Test {
 protected:
  Plugin* Setup(const std::string& line, const std::string& block = "") {
    std::string corefile = ". {\n  " + line;
    if (!block.empty()) corefile += " {\n" + block + "\n  }";
    corefile += "\n}\n";
    loaded_ = Load(corefile, "forward", &host_);
    EXPECT_EQ(loaded_.error, "");
    return loaded_.get();
  }

  std::string SetupError(const std::string& line, const std::string& block = "") {
    std::string corefile = ". {\n  " + line;
    if (!block.empty()) corefile += " {\n" + block + "\n  }";
    corefile += "\n}\n";
    return Load(corefile, "forward", &host_).error;
  }

  Result Serve(Plugin* p, Request& req, RecordingWriter& w) { return RunSync(p->ServeDns(req, w)); }

  // Who answered one TXT query for `qname`.
  std::string Who(Plugin* p, const std::string& qname = "who.example.") {
    Request req = MakeRequest(qname, wire::type::kTxt);
    RecordingWriter w;
    Result r = Serve(p, req, w);
    if (!w.Written()) return "rcode " + std::to_string(r.rcode) + ": " + r.error;
    return TxtOf(w.reply());
  }

  FakeHost host_;
  Loaded loaded_;
};

TEST_F(ForwardTest, ForwardsOverUdpAndRestoresTheId) {
  std::atomic<int> seen_id{-1};
  FakeUpstream up([&](const wire::Message& q, bool) {
    seen_id = q.header.id;
    return std::vector<std::vector<uint8_t>>{FakeUpstream::Wire(testutil::TxtReply(q, "a"))};
  });
  Plugin* p = Setup("forward . " + up.addr());
  Request req = MakeRequest("www.example.org", wire::type::kTxt);
  RecordingWriter w;
  Result r = Serve(p, req, w);
  EXPECT_EQ(r.rcode, wire::rcode::kNoError);
  ASSERT_TRUE(w.Written());
  EXPECT_EQ(w.reply().header.id, 4242);
  EXPECT_EQ(TxtOf(w.reply()), "a");
  EXPECT_EQ(up.udp_queries, 1);
  EXPECT_EQ(req.metadata["forward/upstream"], up.addr());
  // The upstream saw a fresh ID, not the client's (1 in 65536 to collide).
  EXPECT_NE(seen_id, -1);
}

TEST_F(ForwardTest, ClientOverTcpGoesOverTcpAndReusesTheConnection) {
  FakeUpstream up("a");
  Plugin* p = Setup("forward . " + up.addr());
  for (int k = 0; k < 3; ++k) {
    Request req = MakeRequest("www.example.org", wire::type::kTxt);
    req.proto = Proto::kTcp;
    RecordingWriter w;
    // One event loop for all three: the connection cache is per loop.
    asio::io_context io;
    asio::co_spawn(io, p->ServeDns(req, w), asio::detached);
    io.run();
    EXPECT_EQ(TxtOf(w.reply()), "a");
  }
  EXPECT_EQ(up.tcp_queries, 3);
  EXPECT_EQ(up.udp_queries, 0);
  // A fresh loop per query: three connections.
  EXPECT_EQ(up.tcp_accepts, 3);
}

TEST_F(ForwardTest, TcpConnectionReusedWithinOneLoop) {
  FakeUpstream up("a");
  Plugin* p = Setup("forward . " + up.addr(), "force_tcp");
  RunSync([&]() -> Task<void> {
    for (int k = 0; k < 5; ++k) {
      Request req = MakeRequest("www.example.org", wire::type::kTxt);
      RecordingWriter w;
      co_await p->ServeDns(req, w);
      EXPECT_EQ(TxtOf(w.reply()), "a");
    }
  }());
  EXPECT_EQ(up.tcp_queries, 5);
  EXPECT_EQ(up.tcp_accepts, 1);
  EXPECT_GE(Metric("coredns_forward_conn_cache_hits_total", "proto=\"tcp\",to=\"" + up.addr() + "\""), 4);
}

TEST_F(ForwardTest, ExpiredConnectionIsNotReused) {
  FakeUpstream up("a");
  Plugin* p = Setup("forward . " + up.addr(), "force_tcp\nexpire 50ms");
  RunSync([&]() -> Task<void> {
    for (int k = 0; k < 2; ++k) {
      Request req = MakeRequest("www.example.org", wire::type::kTxt);
      RecordingWriter w;
      co_await p->ServeDns(req, w);
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(120));
      co_await t.async_wait(asio::use_awaitable);
    }
  }());
  EXPECT_EQ(up.tcp_accepts, 2);
}

TEST_F(ForwardTest, RepliesWithOtherIdsAreIgnored) {
  FakeUpstream up([](const wire::Message& q, bool) {
    wire::Message stale = testutil::TxtReply(q, "stale");
    stale.header.id = static_cast<uint16_t>(q.header.id + 1);
    return std::vector<std::vector<uint8_t>>{FakeUpstream::Wire(stale),
                                             FakeUpstream::Wire(testutil::TxtReply(q, "right"))};
  });
  Plugin* p = Setup("forward . " + up.addr());
  EXPECT_EQ(Who(p), "right");
}

TEST_F(ForwardTest, ReplyForAnotherQuestionIsFormerr) {
  FakeUpstream up([](const wire::Message& q, bool) {
    wire::Message other = q;
    other.question[0].name = testutil::MustName("other.example.");
    return std::vector<std::vector<uint8_t>>{FakeUpstream::Wire(testutil::TxtReply(other, "x"))};
  });
  Plugin* p = Setup("forward . " + up.addr());
  Request req = MakeRequest("www.example.org", wire::type::kTxt);
  RecordingWriter w;
  EXPECT_EQ(Serve(p, req, w).rcode, wire::rcode::kNoError);
  ASSERT_TRUE(w.Written());
  EXPECT_EQ(w.reply().Rcode(), wire::rcode::kFormErr);
  EXPECT_EQ(w.reply().header.id, 4242);
}

// A big TXT answer that the upstream truncates over UDP, as a server whose
// UDP limit is 512 does.
FakeUpstream::Handler Truncating(std::atomic<int>* tcp_seen) {
  return [tcp_seen](const wire::Message& q, bool tcp) {
    wire::Message r = testutil::TxtReply(q, std::string(200, 'x'));
    for (int k = 0; k < 5; ++k) r.answer.push_back(r.answer[0]);
    if (tcp) {
      ++*tcp_seen;
    } else {
      r.answer.clear();
      r.header.SetFlag(wire::flag::kTc, true);
    }
    return std::vector<std::vector<uint8_t>>{FakeUpstream::Wire(r)};
  };
}

TEST_F(ForwardTest, TruncatedAnswerRetriedOverTcpWithPreferUdp) {
  std::atomic<int> tcp_seen{0};
  FakeUpstream up(Truncating(&tcp_seen));
  Plugin* p = Setup("forward . " + up.addr(), "prefer_udp");
  Request req = MakeRequest("big.example.", wire::type::kTxt);
  RecordingWriter w;
  Serve(p, req, w);
  EXPECT_EQ(up.udp_queries, 1);
  EXPECT_EQ(tcp_seen, 1);
  ASSERT_TRUE(w.Written());
  EXPECT_FALSE(w.reply().header.tc());
  EXPECT_EQ(w.reply().answer.size(), 6u);
}

TEST_F(ForwardTest, TruncatedAnswerPassedOnWithoutPreferUdp) {
  std::atomic<int> tcp_seen{0};
  FakeUpstream up(Truncating(&tcp_seen));
  Plugin* p = Setup("forward . " + up.addr());
  Request req = MakeRequest("big.example.", wire::type::kTxt);
  RecordingWriter w;
  Serve(p, req, w);
  EXPECT_EQ(tcp_seen, 0);
  ASSERT_TRUE(w.Written());
  EXPECT_TRUE(w.reply().header.tc());
}

TEST_F(ForwardTest, OversizedUdpReplyBecomesEmptyTruncatedReply) {
  FakeUpstream up([](const wire::Message& q, bool) {
    wire::Message r = testutil::TxtReply(q, std::string(250, 'y'));
    for (int k = 0; k < 4; ++k) r.answer.push_back(r.answer[0]);  // ~1300 octets
    r.header.SetFlag(wire::flag::kAa, true);
    r.header.SetFlag(wire::flag::kRa, true);
    return std::vector<std::vector<uint8_t>>{FakeUpstream::Wire(r)};
  });
  Plugin* p = Setup("forward . " + up.addr());
  Request req = MakeRequest("big.example.", wire::type::kTxt);  // no EDNS: 512
  RecordingWriter w;
  EXPECT_EQ(Serve(p, req, w).rcode, wire::rcode::kNoError);
  ASSERT_TRUE(w.Written());
  EXPECT_TRUE(w.reply().header.tc());
  EXPECT_TRUE(w.reply().answer.empty());
  // The upstream's header otherwise, as CoreDNS's truncateResponse keeps it.
  EXPECT_TRUE(w.reply().header.aa());
  EXPECT_TRUE(w.reply().header.ra());
  EXPECT_EQ(w.reply().header.id, req.msg.header.id);
}

TEST_F(ForwardTest, ForceTcpWinsOverPreferUdp) {
  FakeUpstream up("a");
  Plugin* p = Setup("forward . " + up.addr(), "force_tcp\nprefer_udp");
  EXPECT_EQ(Who(p), "a");
  EXPECT_EQ(up.udp_queries, 0);
  EXPECT_EQ(up.tcp_queries, 1);
}

TEST_F(ForwardTest, ExceptAndFromPassOtherNamesOn) {
  FakeUpstream up("a");
  Plugin* p = Setup("forward example.org " + up.addr(), "except internal.example.org");
  auto next = testutil::ReturnRcode(wire::rcode::kNxDomain);
  p->SetNext(next.get());
  EXPECT_EQ(Who(p, "www.example.org."), "a");
  EXPECT_EQ(Who(p, "example.org."), "a");
  EXPECT_EQ(Who(p, "x.internal.example.org."), "rcode 3: ");
  EXPECT_EQ(Who(p, "example.net."), "rcode 3: ");
  EXPECT_EQ(next->calls, 2);
}

TEST_F(ForwardTest, CidrFromKeepsItsFirstZoneAndExceptTakesThemAll) {
  FakeUpstream up("a");
  // 10.0.0.0/23 is 0.0.10.in-addr.arpa and 1.0.10.in-addr.arpa.
  Plugin* p = Setup("forward 10.0.0.0/23 " + up.addr(), "except 10.0.2.0/23");
  auto next = testutil::ReturnRcode(wire::rcode::kNxDomain);
  p->SetNext(next.get());
  EXPECT_EQ(Who(p, "5.0.0.10.in-addr.arpa."), "a");
  EXPECT_EQ(Who(p, "5.1.0.10.in-addr.arpa."), "rcode 3: ");
  EXPECT_THAT(host_.Lines(),
              testing::Contains("[WARNING] plugin/forward: Unsupported CIDR notation: "
                                "'10.0.0.0/23' expands to multiple zones. Using only "
                                "'0.0.10.in-addr.arpa.'."));
  Plugin* q = Setup("forward in-addr.arpa " + up.addr(), "except 10.0.2.0/23");
  q->SetNext(next.get());
  EXPECT_EQ(Who(q, "5.2.0.10.in-addr.arpa."), "rcode 3: ");
  EXPECT_EQ(Who(q, "5.3.0.10.in-addr.arpa."), "rcode 3: ");
  EXPECT_EQ(Who(q, "5.4.0.10.in-addr.arpa."), "a");
}

TEST_F(ForwardTest, ExceptDoesNotApplyToFromItself) {
  FakeUpstream up("a");
  Plugin* p = Setup("forward example.org " + up.addr(), "except example.org");
  EXPECT_EQ(Who(p, "example.org."), "a");
}

std::map<std::string, int> Distribution(const std::function<std::string()>& who, int n) {
  std::map<std::string, int> out;
  for (int k = 0; k < n; ++k) ++out[who()];
  return out;
}

TEST_F(ForwardTest, PolicySequentialAlwaysFirst) {
  FakeUpstream a("a"), b("b"), c("c");
  Plugin* p = Setup("forward . " + a.addr() + " " + b.addr() + " " + c.addr(),
                    "policy sequential");
  EXPECT_EQ(Distribution([&] { return Who(p); }, 30), (std::map<std::string, int>{{"a", 30}}));
}

TEST_F(ForwardTest, PolicyRoundRobinRotates) {
  FakeUpstream a("a"), b("b"), c("c");
  Plugin* p = Setup("forward . " + a.addr() + " " + b.addr() + " " + c.addr(),
                    "policy round_robin");
  std::string order;
  for (int k = 0; k < 6; ++k) order += Who(p);
  EXPECT_EQ(order, "bcabca");
}

TEST_F(ForwardTest, PolicyRandomSpreads) {
  FakeUpstream a("a"), b("b"), c("c");
  Plugin* p = Setup("forward . " + a.addr() + " " + b.addr() + " " + c.addr());
  auto d = Distribution([&] { return Who(p); }, 300);
  ASSERT_EQ(d.size(), 3u);
  for (auto& [who, n] : d) EXPECT_GT(n, 60) << who;  // expected 100 each
}

TEST_F(ForwardTest, ResolvConfFileAsTo) {
  FakeUpstream a("a");
  const std::string path = ::testing::TempDir() + "/resolv.conf";
  {
    std::ofstream out(path);
    out << "# test\nsearch example.org\nnameserver 127.0.0.1\noptions ndots:5\n";
  }
  std::vector<upstream::Endpoint> endpoints;
  std::string error;
  ASSERT_TRUE(upstream::ParseTo({path, "10.0.0.1:5353", "[::1]:54", "tls://127.0.0.2%dns.test"},
                                &endpoints, &error))
      << error;
  ASSERT_EQ(endpoints.size(), 4u);
  EXPECT_EQ(endpoints[0].addr, "127.0.0.1:53");
  EXPECT_EQ(endpoints[1].addr, "10.0.0.1:5353");
  EXPECT_EQ(endpoints[2].addr, "[::1]:54");
  EXPECT_EQ(endpoints[3].addr, "127.0.0.2:853");
  EXPECT_TRUE(endpoints[3].tls);
  EXPECT_EQ(endpoints[3].server_name, "dns.test");
}

TEST_F(ForwardTest, SetupErrors) {
  EXPECT_THAT(SetupError("forward ."), HasSubstr("Wrong argument count"));
  EXPECT_THAT(SetupError("forward . nothing-here"),
              HasSubstr("not an IP address or file: \"nothing-here\""));
  EXPECT_THAT(SetupError("forward . 127.0.0.1", "policy fastest"),
              HasSubstr("unknown policy 'fastest'"));
  EXPECT_THAT(SetupError("forward . 127.0.0.1", "max_fails -1"),
              HasSubstr("max_fails can't be negative: -1"));
  EXPECT_THAT(SetupError("forward . 127.0.0.1", "health_check 1s bogus"),
              HasSubstr("health_check: unknown option bogus"));
  EXPECT_THAT(SetupError("forward . 127.0.0.1", "next NOPE"), HasSubstr("NOPE is not a valid rcode"));
  EXPECT_THAT(SetupError("forward . 127.0.0.1", "frobnicate"),
              HasSubstr("unknown property 'frobnicate'"));
  EXPECT_THAT(SetupError("forward . 127.0.0.1", "force_tcp yes"), HasSubstr("Wrong argument count"));
  std::string many = "forward .";
  for (int k = 1; k <= 16; ++k) many += " 127.0.0." + std::to_string(k);
  EXPECT_THAT(SetupError(many), HasSubstr("more than 15 TOs configured: 16"));
  EXPECT_THAT(SetupError("forward . 127.0.0.1"), "");
}

TEST_F(ForwardTest, FailsOverToTheNextUpstreamAtOnce) {
  FakeUpstream b("b");
  Plugin* p = Setup("forward . " + Dead() + " " + b.addr(), "policy sequential\nmax_fails 0");
  const auto start = Clock::now();
  EXPECT_EQ(Who(p), "b");
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(500));
}

TEST_F(ForwardTest, DeadUpstreamMarkedDownByProbesThenSkipped) {
  FakeUpstream b("b");
  const std::string dead = Dead();
  Plugin* p = Setup("forward . " + dead + " " + b.addr(),
                    "policy sequential\nhealth_check 20ms");
  EXPECT_EQ(Who(p), "b");
  // Probes: at once, then every 20ms; down after 3 failures (max_fails 2).
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Metric("coredns_forward_healthcheck_failures_total", "to=\"" + dead + "\"") < 3 &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_GE(Metric("coredns_forward_healthcheck_failures_total", "to=\"" + dead + "\""), 3);
  const int before = b.udp_queries;
  EXPECT_EQ(Who(p), "b");
  EXPECT_EQ(b.udp_queries, before + 1);
}

TEST_F(ForwardTest, AllDownFailsFast) {
  const std::string d1 = Dead(), d2 = Dead();
  Plugin* p = Setup("forward . " + d1 + " " + d2,
                    "health_check 10ms\nfailfast_all_unhealthy_upstreams");
  Who(p);  // the first query finds them dead and starts the probes
  WaitDown(d1);
  WaitDown(d2);
  const auto start = Clock::now();
  Request req = MakeRequest("who.example.", wire::type::kTxt);
  RecordingWriter w;
  Result r = Serve(p, req, w);
  EXPECT_EQ(r.rcode, wire::rcode::kServFail);
  EXPECT_EQ(r.error, "no healthy proxies");
  EXPECT_FALSE(w.Written());
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(50));
}

// CoreDNS keeps going round the list until the probes have marked every
// upstream down; one failed exchange with each is enough here.
TEST_F(ForwardTest, EveryUpstreamFailedOnceIsServfailAtOnce) {
  const std::string d1 = Dead(), d2 = Dead();
  Plugin* p = Setup("forward . " + d1 + " " + d2, "health_check 10s");
  const auto start = Clock::now();
  Request req = MakeRequest("who.example.", wire::type::kTxt);
  RecordingWriter w;
  Result r = Serve(p, req, w);
  EXPECT_EQ(r.rcode, wire::rcode::kServFail);
  EXPECT_THAT(r.error, HasSubstr("connection refused"));
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(100));
}

// A refused exchange counts like a failed probe: with probes 10s apart the
// upstream is still down after three queries.
TEST_F(ForwardTest, RefusedExchangesMarkAnUpstreamDown) {
  FakeUpstream b("b");
  const std::string dead = Dead();
  Plugin* p = Setup("forward . " + dead + " " + b.addr(), "policy sequential\nhealth_check 10s");
  for (int k = 0; k < 3; ++k) EXPECT_EQ(Who(p), "b");
  const double failed = Metric("coredns_forward_healthcheck_failures_total", "to=\"" + dead + "\"");
  EXPECT_GE(failed, 3);
  // Down: not tried any more, so nothing more is refused.
  EXPECT_EQ(Who(p), "b");
  EXPECT_EQ(Metric("coredns_forward_healthcheck_failures_total", "to=\"" + dead + "\""), failed);
}

TEST_F(ForwardTest, AllDownWithoutFailfastTriesOneAnyway) {
  const std::string d1 = Dead();
  Plugin* p = Setup("forward . " + d1, "health_check 10ms");
  Who(p);
  WaitDown(d1);
  const double broken = Metric("coredns_forward_healthcheck_broken_total", "");
  Request req = MakeRequest("who.example.", wire::type::kTxt);
  RecordingWriter w;
  Result r = Serve(p, req, w);
  EXPECT_EQ(r.rcode, wire::rcode::kServFail);
  EXPECT_THAT(r.error, HasSubstr("read udp " + d1 + ": connection refused"));
  EXPECT_GT(Metric("coredns_forward_healthcheck_broken_total", ""), broken);
}

TEST_F(ForwardTest, TimeoutIsAnError) {
  FakeUpstream silent([](const wire::Message&, bool) { return std::vector<std::vector<uint8_t>>{}; });
  FakeUpstream b("b");
  Plugin* p = Setup("forward . " + silent.addr() + " " + b.addr(),
                    "policy sequential\nread_timeout 100ms\nmax_fails 0");
  const auto start = Clock::now();
  EXPECT_EQ(Who(p), "b");
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(100));
}

TEST_F(ForwardTest, MaxConcurrentRefusesTheRest) {
  FakeUpstream slow([](const wire::Message& q, bool) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    return std::vector<std::vector<uint8_t>>{FakeUpstream::Wire(testutil::TxtReply(q, "s"))};
  });
  Plugin* p = Setup("forward . " + slow.addr(), "max_concurrent 2");
  std::vector<Result> results(4);
  std::vector<RecordingWriter> writers(4);
  std::vector<Request> reqs;
  for (int k = 0; k < 4; ++k) reqs.push_back(MakeRequest("who.example.", wire::type::kTxt));
  const double rejects = Metric("coredns_forward_max_concurrent_rejects_total", "");
  asio::io_context io;
  for (int k = 0; k < 4; ++k) {
    asio::co_spawn(io, [&, k]() -> Task<void> {
      results[k] = co_await p->ServeDns(reqs[k], writers[k]);
    }, asio::detached);
  }
  io.run();
  int refused = 0;
  for (const Result& r : results) {
    if (r.rcode == wire::rcode::kRefused) {
      ++refused;
      EXPECT_EQ(r.error, "concurrent queries exceeded maximum 2");
    }
  }
  EXPECT_EQ(refused, 2);
  EXPECT_EQ(Metric("coredns_forward_max_concurrent_rejects_total", ""), rejects + 2);
}

TEST_F(ForwardTest, NextRcodeHandsOverToTheNextForward) {
  FakeUpstream nx([](const wire::Message& q, bool) {
    wire::Message r = wire::MakeReply(q);
    r.SetRcode(wire::rcode::kNxDomain);
    return std::vector<std::vector<uint8_t>>{FakeUpstream::Wire(r)};
  });
  FakeUpstream b("b");
  const std::string corefile = ". {\n  forward . " + nx.addr() + " {\n next NXDOMAIN\n }\n" +
                               "  forward . " + b.addr() + "\n}\n";
  Loaded l = Load(corefile, "forward", &host_);
  ASSERT_EQ(l.error, "");
  ASSERT_EQ(l.plugins.size(), 2u);
  l.plugins[0]->SetNext(l.plugins[1].get());
  EXPECT_EQ(Who(l.plugins[0].get()), "b");

  // Followed by something else than forward, the NXDOMAIN is the answer.
  auto stub = testutil::ReturnRcode(wire::rcode::kServFail);
  l.plugins[0]->SetNext(stub.get());
  Request req = MakeRequest("who.example.", wire::type::kTxt);
  RecordingWriter w;
  Serve(l.plugins[0].get(), req, w);
  ASSERT_TRUE(w.Written());
  EXPECT_EQ(w.reply().Rcode(), wire::rcode::kNxDomain);
  EXPECT_EQ(stub->calls, 0);
}

TEST_F(ForwardTest, MetricsCountRepliesPerUpstreamAndRcode) {
  FakeUpstream a("a");
  Plugin* p = Setup("forward . " + a.addr());
  for (int k = 0; k < 3; ++k) Who(p);
  const std::string to = "to=\"" + a.addr() + "\"";
  EXPECT_EQ(Metric("coredns_forward_requests_total", to), 3);
  EXPECT_EQ(Metric("coredns_forward_responses_total", "rcode=\"NOERROR\"," + to), 3);
  EXPECT_EQ(Metric("coredns_forward_request_duration_seconds_count", "rcode=\"NOERROR\"," + to), 3);
}

}  // namespace
}  // namespace warpdns::slowpath::forward
