#include "slowpath/plugins/cache/cache.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>

#include "slowpath/metrics/metrics.h"
#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::cache {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;
using testutil::MakeRequest;
using testutil::MakeRr;
using testutil::MustName;
using testutil::RecordingWriter;
using testutil::StubPlugin;

constexpr int64_t kStart = 1'000'000 * kSecond;

std::vector<uint8_t> NameBytes(std::string_view name) {
  wire::Name n = MustName(name);
  return {n.data(), n.data() + n.size()};
}

// SOA rdata: ns1.example.org. hostmaster.example.org. 1 3600 900 604800 MINIMUM.
std::vector<uint8_t> SoaRdata(uint32_t minimum) {
  std::vector<uint8_t> d = NameBytes("ns1.example.org.");
  std::vector<uint8_t> r = NameBytes("hostmaster.example.org.");
  d.insert(d.end(), r.begin(), r.end());
  for (uint32_t v : {1u, 3600u, 900u, 604800u, minimum}) {
    for (int shift = 24; shift >= 0; shift -= 8) d.push_back(static_cast<uint8_t>(v >> shift));
  }
  return d;
}

wire::Rr A(std::string_view owner, uint32_t ttl, uint8_t last = 1) {
  return MakeRr(owner, wire::type::kA, ttl, {192, 0, 2, last});
}

wire::Rr Soa(uint32_t ttl, uint32_t minimum) {
  return MakeRr("example.org.", wire::type::kSoa, ttl, SoaRdata(minimum));
}

wire::Rr Cname(std::string_view owner, std::string_view target, uint32_t ttl) {
  return MakeRr(owner, wire::type::kCname, ttl, NameBytes(target));
}

// Counts what a store tells its observer.
class CountingObserver : public StoreObserver {
 public:
  void OnInsert(uint64_t, const EntryPtr& entry) override {
    ++inserts;
    last = entry;
  }
  void OnRemove(uint64_t) override { ++removes; }
  int64_t inserts = 0;
  int64_t removes = 0;
  EntryPtr last;
};

class CacheTest : public ::testing::Test {
 protected:
  // Sets up `cache` from the lines of a Corefile block, with the test clock.
  void Setup(const std::string& lines, const std::string& keys = ".") {
    std::string error;
    auto parsed = config::ParseCorefile(keys + " {\n" + lines + "\n}\n", "Corefile", {}, &error);
    ASSERT_TRUE(parsed) << error;
    corefile_ = std::move(*parsed);
    const config::ServerBlock& block = corefile_.blocks.at(0);
    std::vector<std::string> zones;
    for (const config::Address& a : block.addresses) zones.push_back(a.zone);
    Config config;
    SetupContext ctx{block.directives.at(0), block, zones, "", {}, &host_};
    ASSERT_TRUE(ParseConfig(ctx, &config, &error)) << error;
    cache_ = std::make_unique<Cache>(std::move(config), [this] { return now_; });
  }

  // The backend: answers with `fill` applied to a reply to the query.
  void Backend(std::function<void(const Request&, wire::Message*)> fill) {
    backend_ = std::make_unique<StubPlugin>([this, fill](Request& req, ResponseWriter& w) {
      seen_.push_back(req.msg);
      wire::Message reply = wire::MakeReply(req.msg);
      fill(req, &reply);
      w.WriteMsg(reply);
      return Result{};
    });
    cache_->SetNext(backend_.get());
  }

  // A backend answering `qname` A with one record of `ttl`.
  void AnswerA(uint32_t ttl) {
    Backend([ttl](const Request& req, wire::Message* m) {
      m->header.SetFlag(wire::flag::kAa, true);
      m->answer.push_back(A(req.QName().ToText(), ttl));
    });
  }

  wire::Message Query(Request req) {
    RecordingWriter w;
    last_result_ = RunSync(cache_->ServeDns(req, w));
    if (w.replies.empty()) return {};
    EXPECT_THAT(w.replies, SizeIs(1));
    return w.replies.front();
  }

  wire::Message Query(std::string_view qname, uint16_t qtype = wire::type::kA) {
    return Query(MakeRequest(qname, qtype));
  }

  int calls() const { return backend_->calls; }

  int64_t now_ = kStart;
  testutil::FakeHost host_;
  config::Corefile corefile_;
  std::unique_ptr<Cache> cache_;
  std::unique_ptr<StubPlugin> backend_;
  std::vector<wire::Message> seen_;  // queries the backend got
  Result last_result_;
};

TEST(KeyTest, IsCoreDnsFnv1Hash) {
  // FNV-1 64 over "00", type, class and the name, computed independently.
  EXPECT_EQ(Key("example.org.", wire::type::kA, wire::qclass::kIn, false, false),
            0x720968f238c41379ULL);
  EXPECT_EQ(Key("www.example.org.", wire::type::kAaaa, wire::qclass::kIn, true, true),
            0xe4d9b83e4fd0b96bULL);
}

struct TtlCase {
  std::string name;
  std::string config;
  std::function<void(wire::Message*)> reply;
  uint32_t want_ttl;  // every record of the first reply
  bool cached;
};

class TtlTest : public CacheTest, public ::testing::WithParamInterface<TtlCase> {};

TEST_P(TtlTest, FirstReplyCarriesTheCappedTtl) {
  const TtlCase& c = GetParam();
  Setup("  cache " + c.config);
  Backend([&](const Request&, wire::Message* m) { c.reply(m); });
  wire::Message first = Query("www.example.org.");
  for (const auto* section : {&first.answer, &first.authority}) {
    for (const wire::Rr& rr : *section) EXPECT_EQ(rr.ttl, c.want_ttl) << wire::RrToText(rr);
  }
  Query("www.example.org.");
  EXPECT_EQ(calls(), c.cached ? 1 : 2);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TtlTest,
    ::testing::Values(
        TtlCase{"Plain", "", [](auto* m) { m->answer.push_back(A("www.example.org.", 300)); }, 300,
                true},
        TtlCase{"CappedAtSuccessMax", "",
                [](auto* m) { m->answer.push_back(A("www.example.org.", 7200)); }, 3600, true},
        TtlCase{"RaisedToMinTtl", "",
                [](auto* m) { m->answer.push_back(A("www.example.org.", 2)); }, 5, true},
        TtlCase{"SmallestRecordWins", "",
                [](auto* m) {
                  m->answer.push_back(A("www.example.org.", 600));
                  m->answer.push_back(A("www.example.org.", 120, 2));
                },
                120, true},
        TtlCase{"TtlArgumentCapsBoth", "30",
                [](auto* m) { m->answer.push_back(A("www.example.org.", 300)); }, 30, true},
        TtlCase{"SuccessOptionMinTtl", "{\n success 1000 60 10\n }",
                [](auto* m) { m->answer.push_back(A("www.example.org.", 3)); }, 10, true},
        TtlCase{"SuccessMaxAboveOneHour", "{\n success 1000 7200\n }",
                [](auto* m) { m->answer.push_back(A("www.example.org.", 5000)); }, 5000, true},
        TtlCase{"NxdomainBoundBySoaMinimum", "",
                [](auto* m) {
                  m->SetRcode(wire::rcode::kNxDomain);
                  m->authority.push_back(Soa(3600, 60));
                },
                60, true},
        TtlCase{"NxdomainCappedAtDenialMax", "",
                [](auto* m) {
                  m->SetRcode(wire::rcode::kNxDomain);
                  m->authority.push_back(Soa(7200, 7200));
                },
                1800, true},
        TtlCase{"NodataDenialOption", "{\n denial 1000 20\n }",
                [](auto* m) { m->authority.push_back(Soa(300, 300)); }, 20, true},
        TtlCase{"DenialMinTtlZeroKeepsZero", "{\n denial 1000 20 0\n }",
                [](auto* m) {
                  m->SetRcode(wire::rcode::kNxDomain);
                  m->authority.push_back(Soa(0, 0));
                },
                0, false},
        TtlCase{"DelegationIsFiveSeconds", "",
                [](auto* m) {
                  m->authority.push_back(MakeRr("example.org.", wire::type::kNs, 86400,
                                                NameBytes("ns1.example.org.")));
                },
                5, true},
        TtlCase{"NoRecordsFailSafe", "", [](auto*) {}, 5, true},
        TtlCase{"ServfailCachedFiveSeconds", "",
                [](auto* m) { m->SetRcode(wire::rcode::kServFail); }, 5, true},
        TtlCase{"ServfailZeroDisables", "{\n servfail 0\n }",
                [](auto* m) { m->SetRcode(wire::rcode::kServFail); }, 0, false}),
    [](const auto& info) { return info.param.name; });

struct NotStoredCase {
  std::string name;
  std::function<void(wire::Message*)> reply;
};

class NotStoredTest : public CacheTest, public ::testing::WithParamInterface<NotStoredCase> {};

TEST_P(NotStoredTest, EveryQueryGoesToTheBackend) {
  Setup("  cache");
  Backend([&](const Request&, wire::Message* m) { GetParam().reply(m); });
  Query("www.example.org.");
  Query("www.example.org.");
  EXPECT_EQ(calls(), 2);
  EXPECT_EQ(cache_->success().Size() + cache_->denial().Size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NotStoredTest,
    ::testing::Values(
        NotStoredCase{"Truncated",
                      [](auto* m) {
                        m->header.SetFlag(wire::flag::kTc, true);
                        m->answer.push_back(A("www.example.org.", 300));
                      }},
        NotStoredCase{"NxdomainWithoutSoa", [](auto* m) { m->SetRcode(wire::rcode::kNxDomain); }},
        NotStoredCase{"NxdomainWithAnswer",
                      [](auto* m) {
                        m->SetRcode(wire::rcode::kNxDomain);
                        m->answer.push_back(A("www.example.org.", 300));
                      }},
        NotStoredCase{"Refused", [](auto* m) { m->SetRcode(wire::rcode::kRefused); }},
        NotStoredCase{"DanglingCnameWithoutSoa",
                      [](auto* m) {
                        m->answer.push_back(
                            Cname("www.example.org.", "elsewhere.example.net.", 300));
                      }},
        NotStoredCase{"CnameLoopWithoutSoa",
                      [](auto* m) {
                        m->answer.push_back(Cname("www.example.org.", "a.example.org.", 300));
                        m->answer.push_back(Cname("a.example.org.", "www.example.org.", 300));
                        m->answer.push_back(A("www.example.org.", 300));
                      }},
        NotStoredCase{"QuestionMismatch",
                      [](auto* m) {
                        m->question[0].name = MustName("other.example.org.");
                        m->answer.push_back(A("other.example.org.", 300));
                      }},
        NotStoredCase{"NotAResponse",
                      [](auto* m) {
                        m->header.SetFlag(wire::flag::kQr, false);
                        m->answer.push_back(A("www.example.org.", 300));
                      }}),
    [](const auto& info) { return info.param.name; });

TEST_F(CacheTest, CnameChainCompleteIsStored) {
  Setup("  cache");
  Backend([](const Request&, wire::Message* m) {
    m->answer.push_back(Cname("www.example.org.", "web.example.org.", 300));
    m->answer.push_back(A("web.example.org.", 300));
  });
  Query("www.example.org.");
  Query("www.example.org.");
  EXPECT_EQ(calls(), 1);
  EXPECT_EQ(cache_->success().Size(), 1u);
}

TEST_F(CacheTest, DanglingCnameWithSoaIsNodataInTheDenialCache) {
  Setup("  cache {\n    denial 1000 40\n  }");
  Backend([](const Request&, wire::Message* m) {
    m->answer.push_back(Cname("www.example.org.", "web.example.org.", 300));
    m->authority.push_back(Soa(300, 300));
  });
  wire::Message r = Query("www.example.org.");
  EXPECT_EQ(r.answer.at(0).ttl, 40u);
  EXPECT_EQ(cache_->denial().Size(), 1u);
  EXPECT_EQ(cache_->success().Size(), 0u);
}

TEST_F(CacheTest, ExpiredRrsigIsNotStoredForDnssecClients) {
  Setup("  cache");
  Backend([](const Request&, wire::Message* m) {
    m->answer.push_back(A("www.example.org.", 300));
    // RRSIG with expiration 2 and inception 1 (1970): long expired.
    std::vector<uint8_t> sig = {0, 1, 8, 3, 0, 0, 1, 44, 0, 0, 0, 2, 0, 0, 0, 1, 0, 1};
    std::vector<uint8_t> signer = NameBytes("example.org.");
    sig.insert(sig.end(), signer.begin(), signer.end());
    sig.push_back(0xaa);
    m->answer.push_back(MakeRr("www.example.org.", wire::type::kRrsig, 300, sig));
  });
  auto dnssec = [] {
    Request req = MakeRequest("www.example.org.", wire::type::kA);
    req.msg.edns.present = true;
    req.msg.edns.udp_size = 1232;
    req.msg.edns.flags = wire::kEdnsDoBit;
    return req;
  };
  Query(dnssec());
  Query(dnssec());
  EXPECT_EQ(calls(), 2);
}

TEST_F(CacheTest, HitsDecrementTheTtlAndAnswerTheQuestionAsAsked) {
  Setup("  cache");
  AnswerA(300);
  wire::Message miss = Query("www.example.org.");
  ASSERT_THAT(miss.answer, SizeIs(1));
  EXPECT_EQ(miss.answer[0].ttl, 300u);

  now_ += 1500 * kSecond / 1000;  // 1.5 s: one whole second elapsed
  Request req = MakeRequest("WWW.Example.ORG.", wire::type::kA);
  req.msg.header.id = 777;
  wire::Message hit = Query(std::move(req));
  EXPECT_EQ(calls(), 1);
  EXPECT_EQ(hit.header.id, 777);
  EXPECT_TRUE(hit.header.qr());
  EXPECT_TRUE(hit.header.aa());  // CoreDNS sets AA on every cached reply
  EXPECT_TRUE(hit.header.rd());
  EXPECT_EQ(hit.question.at(0).name.ToText(), "WWW.Example.ORG.");
  ASSERT_THAT(hit.answer, SizeIs(1));
  EXPECT_EQ(hit.answer[0].ttl, 299u);

  now_ += 100 * kSecond;
  EXPECT_EQ(Query("www.example.org.").answer.at(0).ttl, 199u);
  now_ += 198 * kSecond;  // 299.5 s: 1 left
  EXPECT_EQ(Query("www.example.org.").answer.at(0).ttl, 1u);
  EXPECT_EQ(calls(), 1);
  now_ += kSecond;  // 0 left: expired, fetched again
  EXPECT_EQ(Query("www.example.org.").answer.at(0).ttl, 300u);
  EXPECT_EQ(calls(), 2);
}

TEST_F(CacheTest, KeepttlServesTheOriginalTtl) {
  Setup("  cache {\n    keepttl\n  }");
  AnswerA(300);
  Query("www.example.org.");
  now_ += 100 * kSecond;
  EXPECT_EQ(Query("www.example.org.").answer.at(0).ttl, 300u);
  EXPECT_EQ(calls(), 1);
  now_ += 200 * kSecond;  // expires normally
  Query("www.example.org.");
  EXPECT_EQ(calls(), 2);
}

TEST_F(CacheTest, DoAndCdArePartOfTheKey) {
  Setup("  cache");
  AnswerA(300);
  auto query = [&](bool dnssec_ok, bool cd) {
    Request req = MakeRequest("www.example.org.", wire::type::kA);
    if (dnssec_ok) {
      req.msg.edns.present = true;
      req.msg.edns.udp_size = 1232;
      req.msg.edns.flags = wire::kEdnsDoBit;
    }
    req.msg.header.SetFlag(wire::flag::kCd, cd);
    Query(std::move(req));
  };
  query(false, false);
  query(false, false);
  EXPECT_EQ(calls(), 1);
  query(true, false);
  EXPECT_EQ(calls(), 2);
  query(false, true);
  EXPECT_EQ(calls(), 3);
  query(true, true);
  EXPECT_EQ(calls(), 4);
  query(true, false);
  query(false, true);
  query(true, true);
  EXPECT_EQ(calls(), 4);
  EXPECT_EQ(cache_->success().Size(), 4u);
}

TEST_F(CacheTest, TypeAndClassArePartOfTheKey) {
  Setup("  cache");
  AnswerA(300);
  Query("www.example.org.", wire::type::kA);
  Query("www.example.org.", wire::type::kAaaa);
  Query(MakeRequest("www.example.org.", wire::type::kA, wire::qclass::kCh));
  EXPECT_EQ(calls(), 3);
}

TEST_F(CacheTest, AdBitFollowsRfc6840) {
  Setup("  cache");
  Backend([](const Request&, wire::Message* m) {
    m->header.SetFlag(wire::flag::kAd, true);
    m->header.SetFlag(wire::flag::kRa, true);
    m->answer.push_back(A("www.example.org.", 300));
  });
  // The miss asks the backend with AD set, whatever the client sent.
  wire::Message plain = Query("www.example.org.");
  ASSERT_THAT(seen_, SizeIs(1));
  EXPECT_TRUE(seen_[0].header.ad());
  EXPECT_FALSE(plain.header.ad());  // miss: client asked neither DO nor AD
  EXPECT_TRUE(plain.header.ra());
  EXPECT_FALSE(Query("www.example.org.").header.ad());  // hit
  Request with_ad = MakeRequest("www.example.org.", wire::type::kA);
  with_ad.msg.header.SetFlag(wire::flag::kAd, true);
  wire::Message hit = Query(std::move(with_ad));
  EXPECT_TRUE(hit.header.ad());  // the stored AD survives
  EXPECT_TRUE(hit.header.ra());
  EXPECT_EQ(calls(), 1);
}

TEST_F(CacheTest, NegativeEntriesAnswerWithTheirRcodeAndSoa) {
  Setup("  cache");
  Backend([](const Request&, wire::Message* m) {
    m->SetRcode(wire::rcode::kNxDomain);
    m->authority.push_back(Soa(3600, 60));
  });
  Query("nope.example.org.");
  now_ += 10 * kSecond;
  wire::Message hit = Query("nope.example.org.");
  EXPECT_EQ(calls(), 1);
  EXPECT_EQ(hit.Rcode(), wire::rcode::kNxDomain);
  ASSERT_THAT(hit.authority, SizeIs(1));
  EXPECT_EQ(hit.authority[0].ttl, 50u);
  now_ += 50 * kSecond;
  Query("nope.example.org.");
  EXPECT_EQ(calls(), 2);
}

TEST_F(CacheTest, CachedServfailDoesNotHideAValidAnswer) {
  Setup("  cache");
  AnswerA(300);
  Query("www.example.org.");
  Entry servfail;
  servfail.qname = MustName("www.example.org.");
  servfail.qtype = wire::type::kA;
  servfail.qclass = wire::qclass::kIn;
  servfail.rcode = wire::rcode::kServFail;
  servfail.stored_ns = now_;
  servfail.ttl = 5;
  cache_->denial().Add(Key("www.example.org.", wire::type::kA, wire::qclass::kIn, false, false),
                       servfail);
  wire::Message r = Query("www.example.org.");
  EXPECT_EQ(r.Rcode(), wire::rcode::kNoError);
  EXPECT_THAT(r.answer, SizeIs(1));
  EXPECT_EQ(calls(), 1);
}

TEST_F(CacheTest, DisableSuccessForAZone) {
  Setup("  cache {\n    disable success example.org\n  }");
  AnswerA(300);
  Query("www.example.org.");
  Query("www.example.org.");
  EXPECT_EQ(calls(), 2);
  Query("www.example.net.");
  Query("www.example.net.");
  EXPECT_EQ(calls(), 3);
}

TEST_F(CacheTest, DisableDenialEverywhere) {
  Setup("  cache {\n    disable denial\n  }");
  Backend([](const Request&, wire::Message* m) {
    m->SetRcode(wire::rcode::kNxDomain);
    m->authority.push_back(Soa(300, 300));
  });
  Query("nope.example.org.");
  Query("nope.example.org.");
  EXPECT_EQ(calls(), 2);
}

TEST_F(CacheTest, OnlyTheCacheZonesAreCached) {
  Setup("  cache example.org");
  AnswerA(300);
  Query("www.example.org.");
  Query("www.example.org.");
  Query("www.example.net.");
  Query("www.example.net.");
  EXPECT_EQ(calls(), 3);
}

TEST_F(CacheTest, PrefetchRefreshesPopularEntriesBeforeExpiry) {
  Setup("  cache {\n    prefetch 2 1m 10%\n  }");
  uint8_t address = 1;
  Backend([&](const Request& req, wire::Message* m) {
    m->answer.push_back(A(req.QName().ToText(), 100, address));
  });
  Query("www.example.org.");
  now_ += 80 * kSecond;
  Query("www.example.org.");  // 1 hit, 20 s left
  EXPECT_EQ(calls(), 1);
  now_ += 11 * kSecond;
  address = 2;
  // 2 hits and 9 s left <= ceil(10% of 100): served from cache, refreshed
  // in the background.
  wire::Message r = Query("www.example.org.");
  EXPECT_EQ(r.answer.at(0).rdata.back(), 1);
  EXPECT_EQ(r.answer.at(0).ttl, 9u);
  EXPECT_EQ(calls(), 2);
  EXPECT_FALSE(seen_.back().header.tc());
  wire::Message after = Query("www.example.org.");
  EXPECT_EQ(after.answer.at(0).rdata.back(), 2);
  EXPECT_EQ(after.answer.at(0).ttl, 100u);
  EXPECT_EQ(calls(), 2);
  // The new entry inherited the popularity (2 hits, then this one).
  const uint64_t key = Key("www.example.org.", wire::type::kA, wire::qclass::kIn, false, false);
  EXPECT_EQ(cache_->success().Get(key)->hits(), 3);
  EXPECT_THAT(metrics::Serialize(), HasSubstr("coredns_cache_prefetch_total{server=\"dns://:53\""));
}

TEST_F(CacheTest, PrefetchNeedsHitsWithoutGaps) {
  Setup("  cache {\n    prefetch 2 10s\n  }");
  AnswerA(100);
  Query("www.example.org.");
  now_ += 50 * kSecond;
  Query("www.example.org.");
  now_ += 45 * kSecond;  // a 45 s gap restarts the count: 1 hit
  Query("www.example.org.");
  EXPECT_EQ(calls(), 1);
  now_ += 1 * kSecond;  // 2 hits, 4 s left
  Query("www.example.org.");
  EXPECT_EQ(calls(), 2);
}

TEST_F(CacheTest, ServeStaleImmediateWhenTheBackendIsGone) {
  // Its own zone, so the served_stale counter is this test's alone.
  Setup("  cache {\n    serve_stale\n  }", "stale.test");
  bool up = true;
  backend_ = std::make_unique<StubPlugin>([&](Request& req, ResponseWriter& w) {
    if (!up) return Result{wire::rcode::kServFail, "upstream gone"};
    wire::Message m = wire::MakeReply(req.msg);
    m.answer.push_back(A("www.stale.test.", 60));
    w.WriteMsg(m);
    return Result{};
  });
  cache_->SetNext(backend_.get());
  Query("www.stale.test.");
  up = false;
  now_ += 120 * kSecond;  // expired a minute ago
  wire::Message stale = Query("www.stale.test.");
  ASSERT_THAT(stale.answer, SizeIs(1));
  EXPECT_EQ(stale.answer[0].ttl, 0u);
  EXPECT_EQ(calls(), 2);  // a background refresh was tried
  stale = Query("www.stale.test.");
  EXPECT_THAT(stale.answer, SizeIs(1));
  EXPECT_EQ(calls(), 3);
  EXPECT_THAT(metrics::Serialize(),
              HasSubstr("coredns_cache_served_stale_total{server=\"dns://:53\",view=\"\","
                        "zones=\"stale.test.\"} 2"));
  now_ += 3600 * kSecond;  // past the stale window: a miss
  wire::Message gone = Query("www.stale.test.");
  EXPECT_TRUE(gone.answer.empty());
  EXPECT_EQ(last_result_.rcode, wire::rcode::kServFail);
}

TEST_F(CacheTest, ServeStaleRefreshesInTheBackground) {
  Setup("  cache {\n    serve_stale 1h immediate 30s\n  }");
  uint8_t address = 1;
  Backend([&](const Request&, wire::Message* m) {
    m->answer.push_back(A("www.example.org.", 60, address));
  });
  Query("www.example.org.");
  now_ += 61 * kSecond;
  address = 2;
  wire::Message stale = Query("www.example.org.");
  EXPECT_EQ(stale.answer.at(0).rdata.back(), 1);
  EXPECT_EQ(stale.answer.at(0).ttl, 30u);  // RESPONSE_TTL
  wire::Message fresh = Query("www.example.org.");
  EXPECT_EQ(fresh.answer.at(0).rdata.back(), 2);
  EXPECT_EQ(fresh.answer.at(0).ttl, 60u);
  EXPECT_EQ(calls(), 2);
}

TEST_F(CacheTest, ServeStaleFailureRecheckHoldsOffRefreshes) {
  Setup("  cache {\n    serve_stale 1h immediate 0s 30s\n  }");
  bool up = true;
  backend_ = std::make_unique<StubPlugin>([&](Request& req, ResponseWriter& w) {
    if (!up) return Result{wire::rcode::kServFail, ""};
    wire::Message m = wire::MakeReply(req.msg);
    m.answer.push_back(A("www.example.org.", 60));
    w.WriteMsg(m);
    return Result{};
  });
  cache_->SetNext(backend_.get());
  Query("www.example.org.");
  up = false;
  now_ += 61 * kSecond;
  Query("www.example.org.");
  EXPECT_EQ(calls(), 2);  // refresh failed
  now_ += 10 * kSecond;
  Query("www.example.org.");
  EXPECT_EQ(calls(), 2);  // within FAILURE_RECHECK: no upstream traffic
  now_ += 21 * kSecond;
  Query("www.example.org.");
  EXPECT_EQ(calls(), 3);
}

TEST_F(CacheTest, ServeStaleVerifyAsksTheBackendFirst) {
  Setup("  cache {\n    serve_stale 1h verify\n  }");
  bool up = true;
  uint8_t address = 1;
  backend_ = std::make_unique<StubPlugin>([&](Request& req, ResponseWriter& w) {
    if (!up) return Result{wire::rcode::kServFail, ""};
    wire::Message m = wire::MakeReply(req.msg);
    m.answer.push_back(A("www.example.org.", 60, address));
    w.WriteMsg(m);
    return Result{};
  });
  cache_->SetNext(backend_.get());
  Query("www.example.org.");
  now_ += 61 * kSecond;
  address = 2;
  wire::Message fresh = Query("www.example.org.");  // backend up: its answer
  EXPECT_EQ(fresh.answer.at(0).rdata.back(), 2);
  EXPECT_EQ(fresh.answer.at(0).ttl, 60u);
  now_ += 61 * kSecond;
  up = false;
  wire::Message stale = Query("www.example.org.");  // backend down: the stale one
  EXPECT_EQ(stale.answer.at(0).rdata.back(), 2);
  EXPECT_EQ(stale.answer.at(0).ttl, 0u);
  EXPECT_EQ(last_result_.rcode, wire::rcode::kNoError);
  EXPECT_EQ(calls(), 3);
}

// A backend that answers after a real delay.
class SlowPlugin : public Plugin {
 public:
  explicit SlowPlugin(std::chrono::milliseconds delay) : delay_(delay) {}
  std::string_view Name() const override { return "slow"; }
  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    ++calls;
    asio::steady_timer timer(co_await asio::this_coro::executor, delay_);
    co_await timer.async_wait(asio::use_awaitable);
    wire::Message m = wire::MakeReply(req.msg);
    m.answer.push_back(A("www.example.org.", 60, static_cast<uint8_t>(calls)));
    w.WriteMsg(m);
    co_return Result{};
  }
  int calls = 0;

 private:
  std::chrono::milliseconds delay_;
};

TEST_F(CacheTest, ServeStaleVerifyTimeoutServesStaleAndUpdatesLater) {
  Setup("  cache {\n    serve_stale 1h verify 20ms\n  }");
  SlowPlugin slow(std::chrono::milliseconds(0));
  cache_->SetNext(&slow);
  Query("www.example.org.");  // stored: address 1
  now_ += 61 * kSecond;
  SlowPlugin slower(std::chrono::milliseconds(300));
  slower.calls = 1;
  cache_->SetNext(&slower);
  wire::Message stale = Query("www.example.org.");
  EXPECT_EQ(stale.answer.at(0).rdata.back(), 1);
  EXPECT_EQ(stale.answer.at(0).ttl, 0u);
  // RunSync returned only after the detached verify finished: stored now.
  wire::Message fresh = Query("www.example.org.");
  EXPECT_EQ(fresh.answer.at(0).rdata.back(), 2);
  EXPECT_EQ(slower.calls, 2);
}

TEST_F(CacheTest, ServeStaleVerifyWithinTimeoutServesFresh) {
  Setup("  cache {\n    serve_stale 1h verify 2s\n  }");
  SlowPlugin slow(std::chrono::milliseconds(10));
  cache_->SetNext(&slow);
  Query("www.example.org.");
  now_ += 61 * kSecond;
  wire::Message fresh = Query("www.example.org.");
  EXPECT_EQ(fresh.answer.at(0).rdata.back(), 2);
  EXPECT_EQ(fresh.answer.at(0).ttl, 60u);
}

TEST_F(CacheTest, MetricsCountRequestsHitsAndMisses) {
  Setup("  cache", "metrics.test");
  AnswerA(300);
  Query("a.metrics.test.");
  Query("a.metrics.test.");
  Query("a.metrics.test.");
  const std::string text = metrics::Serialize();
  const std::string labels = "server=\"dns://:53\",view=\"\",zones=\"metrics.test.\"";
  EXPECT_THAT(text, HasSubstr("coredns_cache_requests_total{" + labels + "} 3"));
  EXPECT_THAT(text, HasSubstr("coredns_cache_misses_total{" + labels + "} 1"));
  EXPECT_THAT(text, HasSubstr("coredns_cache_hits_total{server=\"dns://:53\",type=\"success\","
                              "view=\"\",zones=\"metrics.test.\"} 2"));
  EXPECT_THAT(text, HasSubstr("coredns_cache_entries{server=\"dns://:53\",type=\"success\","
                              "view=\"\",zones=\"metrics.test.\"} 1"));
}

TEST_F(CacheTest, ObserverSeesInsertsAndEvictions) {
  Setup("  cache {\n    success 1024\n  }");
  CountingObserver observer;
  cache_->success().set_observer(&observer);
  AnswerA(300);
  for (int i = 0; i < 3000; ++i) Query("n" + std::to_string(i) + ".example.org.");
  EXPECT_EQ(observer.inserts, 3000);
  EXPECT_EQ(observer.inserts - observer.removes, static_cast<int64_t>(cache_->success().Size()));
  EXPECT_LE(cache_->success().Size(), cache_->success().Capacity());
  ASSERT_NE(observer.last, nullptr);
  EXPECT_EQ(observer.last->qname.ToText(), "n2999.example.org.");
  EXPECT_EQ(observer.last->ttl, 300u);
}

TEST(StoreTest, CapacityIsShardedAsCoreDns) {
  EXPECT_EQ(Store(10000).Capacity(), 9984u);  // 256 x 39
  EXPECT_EQ(Store(1024).Capacity(), 1024u);
  EXPECT_EQ(Store(10).Capacity(), 1024u);  // at least 4 per shard
  EXPECT_EQ(Store(-5).Capacity(), 1024u);
}

TEST(StoreTest, ReplacesAndRemoves) {
  Store store(1024);
  Entry e;
  e.ttl = 1;
  store.Add(7, e);
  e.ttl = 2;
  bool evicted = true;
  store.Add(7, e, &evicted);
  EXPECT_FALSE(evicted);
  EXPECT_EQ(store.Size(), 1u);
  EXPECT_EQ(store.Get(7)->entry().ttl, 2u);
  store.Remove(7);
  EXPECT_EQ(store.Get(7), nullptr);
  EXPECT_EQ(store.Size(), 0u);
}

TEST(StoreTest, FullShardEvictsARandomEntryOfThatShard) {
  Store store(1024);  // 4 per shard
  for (uint64_t i = 0; i < 4; ++i) store.Add(i * 256, Entry{});
  store.Add(99, Entry{});  // another shard: no eviction
  bool evicted = false;
  store.Add(4 * 256, Entry{}, &evicted);
  EXPECT_TRUE(evicted);
  EXPECT_EQ(store.Size(), 5u);
  int left = 0;
  for (uint64_t i = 0; i < 5; ++i) left += store.Get(i * 256) != nullptr;
  EXPECT_EQ(left, 4);
  EXPECT_NE(store.Get(4 * 256), nullptr);
  EXPECT_NE(store.Get(99), nullptr);
}

struct SetupErrorCase {
  std::string config;
  std::string error;
};

class SetupErrorTest : public ::testing::TestWithParam<SetupErrorCase> {};

TEST_P(SetupErrorTest, RejectedWithFileAndLine) {
  testutil::FakeHost host;
  testutil::Loaded loaded =
      testutil::Load(". {\n  whoami\n" + GetParam().config + "\n}\n", "cache", &host);
  EXPECT_EQ(loaded.error, GetParam().error);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SetupErrorTest,
    ::testing::Values(
        SetupErrorCase{"  cache 0",
                       "plugin/cache: Corefile:3 - Error during parsing: cache TTL can not be zero "
                       "or negative: 0"},
        SetupErrorCase{"  cache {\n    success\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: Wrong argument count or "
                       "unexpected line ending after 'success'"},
        SetupErrorCase{"  cache {\n    success many\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: strconv.Atoi: parsing "
                       "\"many\": invalid syntax"},
        SetupErrorCase{"  cache {\n    denial 10 -1\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: cache TTL can not be zero "
                       "or negative: -1"},
        SetupErrorCase{"  cache {\n    success 10 10 -1\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: cache min TTL can not be "
                       "negative: -1"},
        SetupErrorCase{"  cache {\n    prefetch 2 1m 5%\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: percentage should fall "
                       "in range [10, 90]: 5"},
        SetupErrorCase{"  cache {\n    prefetch 2 1m 50\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: last character of "
                       "percentage should be `%`, but is: '0'"},
        SetupErrorCase{"  cache {\n    prefetch 2 soon\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: time: invalid duration "
                       "\"soon\""},
        SetupErrorCase{"  cache {\n    prefetch -1\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: prefetch amount should be "
                       "positive: -1"},
        SetupErrorCase{"  cache {\n    serve_stale 1h later\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: invalid value for "
                       "serve_stale refresh mode: later"},
        SetupErrorCase{"  cache {\n    serve_stale -1h\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: invalid negative duration "
                       "for serve_stale"},
        SetupErrorCase{"  cache {\n    serve_stale 1h immediate 0s 10m\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: serve_stale failure "
                       "recheck may not exceed 5m"},
        SetupErrorCase{"  cache {\n    serve_stale 1h immediate 0s 1s 1s\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: Wrong argument count or "
                       "unexpected line ending after '1s'"},
        SetupErrorCase{"  cache {\n    servfail 10m\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: caching SERVFAIL "
                       "responses over 5 minutes is not permitted"},
        SetupErrorCase{"  cache {\n    disable everything\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: cache type for disable "
                       "must be \"success\" or \"denial\""},
        SetupErrorCase{"  cache {\n    keepttl now\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: Wrong argument count or "
                       "unexpected line ending after 'now'"},
        SetupErrorCase{"  cache {\n    shiny\n  }",
                       "plugin/cache: Corefile:4 - Error during parsing: Wrong argument count or "
                       "unexpected line ending after 'shiny'"}));

TEST(SetupTest, Defaults) {
  testutil::FakeHost host;
  testutil::Loaded loaded = testutil::Load("example.org {\n  cache\n}\n", "cache", &host);
  ASSERT_EQ(loaded.error, "");
  auto* cache = static_cast<Cache*>(loaded.get());
  EXPECT_EQ(cache->success().Capacity(), 9984u);
  EXPECT_EQ(cache->denial().Capacity(), 9984u);
}

}  // namespace
}  // namespace warpdns::slowpath::cache
