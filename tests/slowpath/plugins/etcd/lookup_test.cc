// Answers from a snapshot: CoreDNS's own etcd lookup table
// (plugin/etcd/lookup_test.go) and the SkyDNS rules around it.
#include "slowpath/plugins/etcd/lookup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "tests/slowpath/plugins/plugin_test_util.h"

namespace warpdns::slowpath::etcd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testutil::MustName;

constexpr int64_t kNow = int64_t{1000} * 1'000'000'000;

struct Entry {
  std::string name;  // the key as a DNS name (msg.PathWithWildcard), or a raw key
  std::string json;
  std::shared_ptr<Lease> lease = nullptr;
};

std::shared_ptr<const Snapshot> Build(const std::vector<Entry>& entries,
                                      const std::string& prefix = "skydns") {
  SnapshotBuilder b(nullptr);
  for (const Entry& e : entries) {
    auto r = std::make_shared<Record>();
    bool unused = false;
    r->key = e.name.starts_with('/') ? e.name : PathWithWildcard(e.name, prefix, &unused);
    Service s;
    if (ParseService(e.json, &s, &r->error)) r->service = s;
    r->lease = e.lease;
    b.Put(r);
  }
  return b.Build(1);
}

// "owner ttl TYPE rdata" in the text form RrToText prints.
std::string Rr(const std::string& text) {
  std::string out = text;
  size_t p = out.find(' ');
  out[p] = '\t';
  p = out.find(' ', p);
  out.replace(p, 1, "\tIN\t");
  p = out.find(' ', p + 4);
  out[p] = '\t';
  return out;
}

std::vector<std::string> Sorted(const std::vector<wire::Rr>& rrs) {
  std::vector<std::string> out;
  for (const wire::Rr& rr : rrs) out.push_back(wire::RrToText(rr));
  std::sort(out.begin(), out.end());
  return out;
}

// The expected records, "owner ttl TYPE rdata" each, sorted.
std::vector<std::string> Expected(std::vector<std::string> texts) {
  for (std::string& t : texts) t = Rr(t);
  std::sort(texts.begin(), texts.end());
  return texts;
}

class LookupTest : public ::testing::Test {
 protected:
  Response Ask(const std::string& zone, const std::string& qname, uint16_t qtype) {
    Resolver resolve = [this](const wire::Name& name, uint16_t type) -> Task<wire::Message> {
      resolved_.push_back(name.ToText() + " " + wire::TypeToString(type));
      wire::Message m;
      auto it = upstream_.find(name.ToLowerText() + " " + wire::TypeToString(type));
      if (it != upstream_.end()) {
        for (const std::string& rr : it->second) {
          // Only A records are needed from "upstream" here.
          wire::Rr a;
          a.name = name;
          a.type = wire::type::kA;
          a.ttl = 60;
          a.rdata = {192, 0, 2, static_cast<uint8_t>(std::stoi(rr))};
          m.answer.push_back(a);
        }
      }
      co_return m;
    };
    return RunSync(Lookup(*snapshot_, options_, zone, MustName(qname), qtype, resolve, kNow));
  }

  std::shared_ptr<const Snapshot> snapshot_;
  LookupOptions options_;
  std::map<std::string, std::vector<std::string>> upstream_;  // "name TYPE" -> last octets
  std::vector<std::string> resolved_;
};

// CoreDNS's services table (lookup_test.go), keys written as DNS names.
const std::vector<Entry> kCoreDnsServices = {
    {"a.server1.dev.region1.skydns.test.", R"({"host":"dev.server1","port":8080})"},
    {"a.server1.prod.region1.skydns.test.", R"({"host":"10.0.0.1","port":8080})"},
    {"b.server1.prod.region1.skydns.test.", R"({"host":"10.0.0.2","port":8080})"},
    {"b.server6.prod.region1.skydns.test.", R"({"host":"::1","port":8080})"},
    {"cname.prod.region1.skydns.test.", R"({"host":"unresolvable.skydns.test"})"},
    {"priority.skydns.test.", R"({"host":"priority.server1","priority":333,"port":8080})"},
    {"a.sub.region1.skydns.test.", R"({"host":"sub.server1"})"},
    {"b.sub.region1.skydns.test.", R"({"host":"sub.server2","port":80})"},
    {"c.sub.region1.skydns.test.", R"({"host":"10.0.0.1","port":8080})"},
    {"b.cname.skydns.test.", R"({"host":"a.cname.skydns.test"})"},
    {"a.cname.skydns.test.", R"({"host":"b.cname.skydns.test"})"},
    {"a.ns.dns.skydns.test.", R"({"host":"10.0.0.2"})"},
    {"b.ns.dns.skydns.test.", R"({"host":"10.0.0.3"})"},
    {"x.skydns_zonea.test.", R"({"host":"10.0.0.2"})"},
    {"y.skydns_zonea.test.", R"({"host":"10.0.0.3"})"},
    {"x.skydns_zoneb.test.", R"({"host":"10.0.0.2"})"},
    {"y.skydns_zoneb.test.", R"({"host":"10.0.0.3"})"},
    {"apex.dns.skydns_zoneb.test.", R"({"host":"10.0.0.4"})"},
    {"x.skydns_zonec.test.", R"({"host":"10.0.0.2"})"},
    {"y.skydns_zonec.test.", R"({"host":"10.0.0.3"})"},
    {"a1.apex.dns.skydns_zonec.test.", R"({"host":"10.0.0.4"})"},
    {"a2.apex.dns.skydns_zonec.test.", R"({"host":"10.0.0.5"})"},
    {"x.skydns_zoned.test.", R"({"host":"10.0.0.2"})"},
    {"y.skydns_zoned.test.", R"({"host":"10.0.0.3"})"},
    {"a1.apex.dns.skydns_zoned.test.", R"({"host":"10.0.0.4"})"},
    {"a2.apex.dns.skydns_zoned.test.", R"({"host":"10.0.0.5"})"},
    {"a3.apex.dns.skydns_zoned.test.", R"({"host":"2003::8:1"})"},
    {"a4.apex.dns.skydns_zoned.test.", R"({"host":"2003::8:2"})"},
    {"1.0.0.10.in-addr.arpa.", R"({"host":"reverse.example.com"})"},
};

struct Case {
  std::string zone;
  std::string qname;
  uint16_t qtype;
  int rcode;
  std::vector<std::string> answer;
  std::vector<std::string> extra;
};

TEST_F(LookupTest, CoreDnsLookupTable) {
  snapshot_ = Build(kCoreDnsServices);
  namespace t = wire::type;
  const std::string z = "skydns.test.";
  const std::vector<Case> cases = {
      {z,
       "a.server1.dev.region1.skydns.test.",
       t::kSrv,
       0,
       {"a.server1.dev.region1.skydns.test. 300 SRV 10 100 8080 dev.server1."},
       {}},
      // Owners keep the query's case.
      {z,
       "a.SERVer1.dEv.region1.skydns.tEst.",
       t::kSrv,
       0,
       {"a.SERVer1.dEv.region1.skydns.tEst. 300 SRV 10 100 8080 dev.server1."},
       {}},
      {z, "doesnotexist.skydns.test.", t::kA, 3, {}, {}},
      {z,
       "a.server1.prod.region1.skydns.test.",
       t::kA,
       0,
       {"a.server1.prod.region1.skydns.test. 300 A 10.0.0.1"},
       {}},
      {z,
       "a.server1.prod.region1.skydns.test.",
       t::kSrv,
       0,
       {"a.server1.prod.region1.skydns.test. 300 SRV 10 100 8080 "
        "a.server1.prod.region1.skydns.test."},
       {"a.server1.prod.region1.skydns.test. 300 A 10.0.0.1"}},
      {z,
       "b.server6.prod.region1.skydns.test.",
       t::kAaaa,
       0,
       {"b.server6.prod.region1.skydns.test. 300 AAAA ::1"},
       {}},
      {z,
       "server1.prod.region1.skydns.test.",
       t::kA,
       0,
       {"server1.prod.region1.skydns.test. 300 A 10.0.0.1",
        "server1.prod.region1.skydns.test. 300 A 10.0.0.2"},
       {}},
      {z,
       "priority.skydns.test.",
       t::kSrv,
       0,
       {"priority.skydns.test. 300 SRV 333 100 8080 priority.server1."},
       {}},
      {z,
       "sub.region1.skydns.test.",
       t::kSrv,
       0,
       {"sub.region1.skydns.test. 300 SRV 10 33 0 sub.server1.",
        "sub.region1.skydns.test. 300 SRV 10 33 80 sub.server2.",
        "sub.region1.skydns.test. 300 SRV 10 33 8080 c.sub.region1.skydns.test."},
       {"c.sub.region1.skydns.test. 300 A 10.0.0.1"}},
      // An in-zone CNAME target with no records: NODATA.
      {z, "cname.prod.region1.skydns.test.", t::kA, 0, {}, {}},
      {z,
       "*.region1.skydns.test.",
       t::kSrv,
       0,
       {"*.region1.skydns.test. 300 SRV 10 12 0 sub.server1.",
        "*.region1.skydns.test. 300 SRV 10 12 0 unresolvable.skydns.test.",
        "*.region1.skydns.test. 300 SRV 10 12 80 sub.server2.",
        "*.region1.skydns.test. 300 SRV 10 12 8080 a.server1.prod.region1.skydns.test.",
        "*.region1.skydns.test. 300 SRV 10 12 8080 b.server1.prod.region1.skydns.test.",
        "*.region1.skydns.test. 300 SRV 10 12 8080 b.server6.prod.region1.skydns.test.",
        "*.region1.skydns.test. 300 SRV 10 12 8080 c.sub.region1.skydns.test.",
        "*.region1.skydns.test. 300 SRV 10 12 8080 dev.server1."},
       {"a.server1.prod.region1.skydns.test. 300 A 10.0.0.1",
        "b.server1.prod.region1.skydns.test. 300 A 10.0.0.2",
        "b.server6.prod.region1.skydns.test. 300 AAAA ::1",
        "c.sub.region1.skydns.test. 300 A 10.0.0.1"}},
      {z,
       "prod.*.skydns.test.",
       t::kSrv,
       0,
       {"prod.*.skydns.test. 300 SRV 10 25 0 unresolvable.skydns.test.",
        "prod.*.skydns.test. 300 SRV 10 25 8080 a.server1.prod.region1.skydns.test.",
        "prod.*.skydns.test. 300 SRV 10 25 8080 b.server1.prod.region1.skydns.test.",
        "prod.*.skydns.test. 300 SRV 10 25 8080 b.server6.prod.region1.skydns.test."},
       {"a.server1.prod.region1.skydns.test. 300 A 10.0.0.1",
        "b.server1.prod.region1.skydns.test. 300 A 10.0.0.2",
        "b.server6.prod.region1.skydns.test. 300 AAAA ::1"}},
      {z,
       "prod.any.skydns.test.",
       t::kSrv,
       0,
       {"prod.any.skydns.test. 300 SRV 10 25 0 unresolvable.skydns.test.",
        "prod.any.skydns.test. 300 SRV 10 25 8080 a.server1.prod.region1.skydns.test.",
        "prod.any.skydns.test. 300 SRV 10 25 8080 b.server1.prod.region1.skydns.test.",
        "prod.any.skydns.test. 300 SRV 10 25 8080 b.server6.prod.region1.skydns.test."},
       {"a.server1.prod.region1.skydns.test. 300 A 10.0.0.1",
        "b.server1.prod.region1.skydns.test. 300 A 10.0.0.2",
        "b.server6.prod.region1.skydns.test. 300 AAAA ::1"}},
      // a.cname -> b.cname -> a.cname: the loop is dropped, NODATA.
      {z, "a.cname.skydns.test.", t::kA, 0, {}, {}},
      // CoreDNS's table expects NODATA here because its test has no server
      // to resolve dev.server1 through; a running server answers the CNAME.
      {z,
       "a.server1.dev.region1.skydns.test.",
       t::kTxt,
       0,
       {"a.server1.dev.region1.skydns.test. 300 CNAME dev.server1."},
       {}},
      {z, "a.server1.dev.region1.skydns.test.", t::kHinfo, 0, {}, {}},
      {z, "a.server1.nonexistent.region1.skydns.test.", t::kHinfo, 3, {}, {}},
      {z,
       "skydns.test.",
       t::kNs,
       0,
       {"skydns.test. 300 NS a.ns.dns.skydns.test.", "skydns.test. 300 NS b.ns.dns.skydns.test."},
       {"a.ns.dns.skydns.test. 300 A 10.0.0.2", "b.ns.dns.skydns.test. 300 A 10.0.0.3"}},
      {z, "a.skydns.test.", t::kNs, 3, {}, {}},
      {z,
       "ns.dns.skydns.test.",
       t::kA,
       0,
       {"ns.dns.skydns.test. 300 A 10.0.0.2", "ns.dns.skydns.test. 300 A 10.0.0.3"},
       {}},
      // The zone's own name: everything, unless apex.dns holds entries.
      {"skydns_zonea.test.",
       "skydns_zonea.test.",
       t::kA,
       0,
       {"skydns_zonea.test. 300 A 10.0.0.2", "skydns_zonea.test. 300 A 10.0.0.3"},
       {}},
      {"skydns_zoneb.test.",
       "skydns_zoneb.test.",
       t::kA,
       0,
       {"skydns_zoneb.test. 300 A 10.0.0.4"},
       {}},
      {"skydns_zonec.test.",
       "skydns_zonec.test.",
       t::kA,
       0,
       {"skydns_zonec.test. 300 A 10.0.0.4", "skydns_zonec.test. 300 A 10.0.0.5"},
       {}},
      {"skydns_zoned.test.",
       "skydns_zoned.test.",
       t::kA,
       0,
       {"skydns_zoned.test. 300 A 10.0.0.4", "skydns_zoned.test. 300 A 10.0.0.5"},
       {}},
      {"skydns_zoned.test.",
       "skydns_zoned.test.",
       t::kAaaa,
       0,
       {"skydns_zoned.test. 300 AAAA 2003::8:1", "skydns_zoned.test. 300 AAAA 2003::8:2"},
       {}},
      {"in-addr.arpa.",
       "1.0.0.10.in-addr.arpa.",
       t::kPtr,
       0,
       {"1.0.0.10.in-addr.arpa. 300 PTR reverse.example.com."},
       {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.qname + " " + wire::TypeToString(c.qtype));
    Response r = Ask(c.zone, c.qname, c.qtype);
    EXPECT_EQ(r.rcode, c.rcode);
    EXPECT_EQ(Sorted(r.answer), Expected(c.answer));
    EXPECT_EQ(Sorted(r.extra), Expected(c.extra));
    EXPECT_EQ(r.error, "");
  }
  // Out-of-zone SRV targets were looked up through the server (A, AAAA).
  EXPECT_THAT(resolved_, ::testing::Contains("dev.server1. A"));
  EXPECT_THAT(resolved_, ::testing::Contains("dev.server1. AAAA"));
}

TEST_F(LookupTest, SoaIsSynthesized) {
  snapshot_ = Build(kCoreDnsServices);
  Response r = Ask("skydns.test.", "skydns.test.", wire::type::kSoa);
  ASSERT_EQ(r.answer.size(), 1u);
  EXPECT_THAT(wire::RrToText(r.answer[0]),
              ::testing::MatchesRegex("skydns.test.\t30\tIN\tSOA\tns.dns.skydns.test. "
                                      "hostmaster.skydns.test. [0-9]+ 7200 1800 86400 30"));
  EXPECT_THAT(wire::RrToText(Soa(".", 5)),
              ::testing::EndsWith("SOA\tns.dns. hostmaster. 5 7200 1800 86400 30"));
}

TEST_F(LookupTest, SrvWeightsAreSharesOfTheirPriority) {
  snapshot_ = Build({
      {"a.svc.skydns.local.", R"({"host":"a.example.","port":1,"weight":120})"},
      {"b.svc.skydns.local.", R"({"host":"b.example.","port":2,"weight":100})"},
      {"c.svc.skydns.local.", R"({"host":"c.example.","port":3,"weight":130})"},
      // Another priority has its own total; weight 0 counts as 100.
      {"d.svc.skydns.local.", R"({"host":"d.example.","port":4,"priority":20})"},
      {"e.svc.skydns.local.", R"({"host":"e.example.","port":5,"priority":20,"weight":1})"},
      // No port (kubernetes' -1): no SRV, though its weight counts.
      {"f.svc.skydns.local.", R"({"host":"f.example.","port":-1,"priority":20,"weight":10000})"},
  });
  Response r = Ask("skydns.local.", "svc.skydns.local.", wire::type::kSrv);
  EXPECT_EQ(Sorted(r.answer), Expected({
                                  "svc.skydns.local. 300 SRV 10 34 1 a.example.",
                                  "svc.skydns.local. 300 SRV 10 28 2 b.example.",
                                  "svc.skydns.local. 300 SRV 10 37 3 c.example.",
                                  "svc.skydns.local. 300 SRV 20 1 4 d.example.",
                                  "svc.skydns.local. 300 SRV 20 1 5 e.example.",
                              }));
}

TEST_F(LookupTest, TargetStripNamesIpTargetsAfterAShorterKey) {
  snapshot_ = Build({
      {"x.rails.east.skydns.local.", R"({"host":"10.0.0.7","port":80,"targetstrip":1})"},
      {"m.mail.skydns.local.", R"({"host":"10.0.0.8","mail":true,"targetstrip":1})"},
  });
  Response srv = Ask("skydns.local.", "rails.east.skydns.local.", wire::type::kSrv);
  EXPECT_EQ(Sorted(srv.answer),
            Expected({"rails.east.skydns.local. 300 SRV 10 100 80 rails.east.skydns.local."}));
  EXPECT_EQ(Sorted(srv.extra), Expected({"rails.east.skydns.local. 300 A 10.0.0.7"}));
  // MX strips the target too, but names the address after the whole key.
  Response mx = Ask("skydns.local.", "mail.skydns.local.", wire::type::kMx);
  EXPECT_EQ(Sorted(mx.answer), Expected({"mail.skydns.local. 300 MX 10 mail.skydns.local."}));
  EXPECT_EQ(Sorted(mx.extra), Expected({"m.mail.skydns.local. 300 A 10.0.0.8"}));
}

TEST_F(LookupTest, MailTextCnameAndGroups) {
  snapshot_ = Build({
      {"mx1.mail.skydns.local.", R"({"host":"smtp.example.","mail":true,"priority":5})"},
      {"web.mail.skydns.local.", R"({"host":"10.0.0.9"})"},  // not mail
      {"t.txt.skydns.local.", R"({"text":"hello world"})"},
      {"u.txt.skydns.local.", R"({"text":"hello world","ttl":60})"},  // same text: once
      {"www.skydns.local.", R"({"host":"web.skydns.local"})"},
      {"web.skydns.local.", R"({"host":"10.1.1.1","ttl":30})"},
      {"ext.skydns.local.", R"({"host":"far.example.org"})"},
      // Groups: the shallowest key with a group picks it; keys without a
      // group stay, deeper keys of another group go.
      {"a.g.skydns.local.", R"({"host":"10.2.0.2","group":"g1"})"},
      {"d.g.skydns.local.", R"({"host":"10.2.0.4"})"},
      {"b.x.g.skydns.local.", R"({"host":"10.2.0.3","group":"g1"})"},
      {"c.x.g.skydns.local.", R"({"host":"10.2.0.5","group":"g2"})"},
  });
  upstream_["far.example.org. A"] = {"5"};
  const std::string z = "skydns.local.";
  Response mx = Ask(z, "mail.skydns.local.", wire::type::kMx);
  EXPECT_EQ(Sorted(mx.answer), Expected({"mail.skydns.local. 300 MX 5 smtp.example."}));
  Response txt = Ask(z, "txt.skydns.local.", wire::type::kTxt);
  EXPECT_EQ(Sorted(txt.answer), Expected({"txt.skydns.local. 300 TXT \"hello world\""}));
  // In-zone CNAME chain: CNAME then the target's records, each its own TTL.
  Response a = Ask(z, "www.skydns.local.", wire::type::kA);
  EXPECT_EQ(Sorted(a.answer), Expected({"www.skydns.local. 300 CNAME web.skydns.local.",
                                        "web.skydns.local. 30 A 10.1.1.1"}));
  // Outside the zone: resolved through the server.
  Response ext = Ask(z, "ext.skydns.local.", wire::type::kA);
  EXPECT_EQ(Sorted(ext.answer), Expected({"ext.skydns.local. 300 CNAME far.example.org.",
                                          "far.example.org. 60 A 192.0.2.5"}));
  Response cname = Ask(z, "www.skydns.local.", wire::type::kCname);
  EXPECT_EQ(Sorted(cname.answer), Expected({"www.skydns.local. 300 CNAME web.skydns.local."}));
  // The exact key only: a name with records below it has no CNAME.
  EXPECT_THAT(Ask(z, "mail.skydns.local.", wire::type::kCname).answer, IsEmpty());
  EXPECT_EQ(Ask(z, "mail.skydns.local.", wire::type::kCname).rcode, wire::rcode::kNxDomain);
  Response g = Ask(z, "g.skydns.local.", wire::type::kA);
  EXPECT_EQ(Sorted(g.answer),
            Expected({"g.skydns.local. 300 A 10.2.0.2", "g.skydns.local. 300 A 10.2.0.3",
                      "g.skydns.local. 300 A 10.2.0.4"}));
}

TEST_F(LookupTest, GroupsThatDisagreeAtTheTopGiveEverything) {
  snapshot_ = Build({
      {"a.g.skydns.local.", R"({"host":"10.2.0.2","group":"g1"})"},
      {"b.g.skydns.local.", R"({"host":"10.2.0.3","group":"g2"})"},
  });
  EXPECT_EQ(Ask("skydns.local.", "g.skydns.local.", wire::type::kA).answer.size(), 2u);
}

TEST_F(LookupTest, ZoneApexFromTrailingSlashKey) {
  // etcdctl put /skydns/local/skydns/ '{"host":"1.1.1.1","ttl":60}' (README)
  snapshot_ = Build({{"/skydns/local/skydns/", R"({"host":"1.1.1.1","ttl":60})"}});
  Response r = Ask("skydns.local.", "skydns.local.", wire::type::kA);
  EXPECT_EQ(Sorted(r.answer), Expected({"skydns.local. 60 A 1.1.1.1"}));
}

TEST_F(LookupTest, BadValuesAreServerFailures) {
  snapshot_ = Build({
      {"good.skydns.local.", R"({"host":"10.0.0.1"})"},
      {"bad.x.skydns.local.", R"({"host":"10.0.0.2","ttl":"60"})"},
      {"ns1.ns.dns.skydns.local.", R"({"host":"ns.example."})"},
  });
  const std::string z = "skydns.local.";
  EXPECT_EQ(Ask(z, "good.skydns.local.", wire::type::kA).rcode, wire::rcode::kNoError);
  Response bad = Ask(z, "x.skydns.local.", wire::type::kA);
  EXPECT_EQ(bad.rcode, wire::rcode::kServFail);
  EXPECT_EQ(bad.error,
            "/skydns/local/skydns/x/bad: json: cannot unmarshal string into Go struct field "
            "Service.ttl of type uint32");
  // Reading the whole zone reads the bad key too.
  EXPECT_EQ(Ask(z, "skydns.local.", wire::type::kA).rcode, wire::rcode::kServFail);
  Response ns = Ask(z, "skydns.local.", wire::type::kNs);
  EXPECT_EQ(ns.rcode, wire::rcode::kServFail);
  EXPECT_EQ(ns.error, "NS record must be an IP address: ns.example.");
}

TEST_F(LookupTest, TtlComesFromTheValueTheLeaseOrTheDefault) {
  auto lease_of = [](int64_t seconds_left) {
    auto lease = std::make_shared<Lease>(1);
    lease->deadline_ns = kNow + seconds_left * 1'000'000'000;
    return lease;
  };
  auto unknown = std::make_shared<Lease>(2);  // not asked yet: no say
  snapshot_ = Build({
      {"none.skydns.local.", R"({"host":"10.0.0.1"})"},
      {"value.skydns.local.", R"({"host":"10.0.0.1","ttl":60})"},
      {"lease.skydns.local.", R"({"host":"10.0.0.1"})", lease_of(100)},
      {"both.skydns.local.", R"({"host":"10.0.0.1","ttl":60})", lease_of(100)},
      {"short.skydns.local.", R"({"host":"10.0.0.1"})", lease_of(5)},
      {"long.skydns.local.", R"({"host":"10.0.0.1"})", lease_of(200000)},
      {"unknown.skydns.local.", R"({"host":"10.0.0.1","ttl":70})", unknown},
  });
  auto ttl = [&](const std::string& label) {
    Response r = Ask("skydns.local.", label + ".skydns.local.", wire::type::kA);
    return r.answer.empty() ? 0u : r.answer[0].ttl;
  };
  EXPECT_EQ(ttl("none"), 300u);
  EXPECT_EQ(ttl("value"), 60u);
  EXPECT_EQ(ttl("lease"), 100u);
  EXPECT_EQ(ttl("both"), 60u);
  EXPECT_EQ(ttl("short"), 30u);    // clamped up to min-lease-ttl
  EXPECT_EQ(ttl("long"), 86400u);  // clamped down to max-lease-ttl
  EXPECT_EQ(ttl("unknown"), 70u);
  options_.min_lease_ttl = 2;
  EXPECT_EQ(ttl("short"), 5u);
}

TEST_F(LookupTest, CustomPathPrefix) {
  options_.path = "/dns/records";
  snapshot_ = Build({{"www.example.test.", R"({"host":"10.9.9.9"})"}}, "/dns/records");
  EXPECT_EQ(Sorted(Ask("example.test.", "www.example.test.", wire::type::kA).answer),
            Expected({"www.example.test. 300 A 10.9.9.9"}));
}

}  // namespace
}  // namespace warpdns::slowpath::etcd
