// Record generation from a fixture cluster (cluster.json): the conformance
// table (conformance.json, shared with test_kubernetes.py, which runs it
// through the binary) and the options that change answers.
#include "slowpath/plugins/kubernetes/lookup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace warpdns::slowpath::kubernetes {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

const std::string kDir = std::string(WARPDNS_SOURCE_DIR) + "/tests/slowpath/plugins/kubernetes/";

json ReadJson(const std::string& name) {
  std::ifstream in(kDir + name);
  return json::parse(in);
}

wire::Name N(std::string_view text) {
  wire::Name name;
  EXPECT_TRUE(wire::Name::FromText(text, &name)) << text;
  return name;
}

Ip I(std::string_view text) {
  Ip ip{};
  EXPECT_TRUE(ParseIp(text, &ip)) << text;
  return ip;
}

void Add(Snapshot* s, Kind kind, const json& object) {
  Put(s, kind, PrimaryKey(kind, object), Decode(kind, object));
}

Snapshot LoadCluster(const json& doc) {
  Snapshot s;
  const std::pair<const char*, Kind> lists[] = {{"namespaces", Kind::kNamespace},
                                                {"services", Kind::kService},
                                                {"endpointslices", Kind::kEndpointSlice},
                                                {"pods", Kind::kPod}};
  for (const auto& [key, kind] : lists) {
    for (const json& item : doc.at(key)) Add(&s, kind, item);
  }
  s.synced = true;
  s.modified = 1499347823;
  return s;
}

// `kubernetes cluster.local in-addr.arpa ip6.arpa { pods insecure }` on a
// server whose address is the kube-dns endpoint.
Config TableConfig() {
  Config c;
  c.zones = {N("cluster.local."), N("in-addr.arpa."), N("ip6.arpa.")};
  c.primary_zone = N("cluster.local.");
  c.pod_mode = PodMode::kInsecure;
  c.local_ips = {I("10.2.0.53")};
  return c;
}

std::vector<std::string> Texts(const std::vector<wire::Rr>& rrs) {
  std::vector<std::string> out;
  for (const wire::Rr& rr : rrs) {
    std::string text = wire::RrToText(rr);
    std::replace(text.begin(), text.end(), '\t', ' ');
    out.push_back(text);
  }
  return out;
}

// Record texts equal, "*" in `want` matching any word.
bool Matches(const std::string& want, const std::string& got) {
  std::istringstream w(want), g(got);
  std::string a, b;
  while (true) {
    const bool more_w = static_cast<bool>(w >> a);
    const bool more_g = static_cast<bool>(g >> b);
    if (!more_w || !more_g) return more_w == more_g;
    if (a != "*" && a != b) return false;
  }
}

// Compares as multisets; returns "" or what differs.
std::string Diff(const json& want, std::vector<std::string> got) {
  std::string out;
  for (const json& w : want) {
    auto it = std::find_if(got.begin(), got.end(),
                           [&](const std::string& g) { return Matches(w.get<std::string>(), g); });
    if (it == got.end()) {
      out += "\n  missing: " + w.get<std::string>();
    } else {
      got.erase(it);
    }
  }
  for (const std::string& g : got) out += "\n  unexpected: " + g;
  return out;
}

std::string RcodeName(int rcode) {
  switch (rcode) {
    case wire::rcode::kNoError:
      return "NOERROR";
    case wire::rcode::kNxDomain:
      return "NXDOMAIN";
    case wire::rcode::kServFail:
      return "SERVFAIL";
  }
  return std::to_string(rcode);
}

uint16_t TypeCode(const std::string& name) {
  static const std::map<std::string, uint16_t> kTypes = {{"A", wire::type::kA},
                                                         {"AAAA", wire::type::kAaaa},
                                                         {"SRV", wire::type::kSrv},
                                                         {"TXT", wire::type::kTxt},
                                                         {"PTR", wire::type::kPtr},
                                                         {"CNAME", wire::type::kCname},
                                                         {"SOA", wire::type::kSoa},
                                                         {"NS", wire::type::kNs},
                                                         {"MX", wire::type::kMx},
                                                         {"AXFR", wire::type::kAxfr},
                                                         {"HINFO", 13}};
  return kTypes.at(name);
}

TEST(ConformanceTest, EveryCaseOfTheTable) {
  const json table = ReadJson("conformance.json");
  const Snapshot snapshot = LoadCluster(ReadJson("cluster.json"));
  const Config config = TableConfig();
  int checked = 0;
  for (const json& c : table.at("cases")) {
    const std::string label =
        c.at("name").get<std::string>() + " " + c.at("type").get<std::string>();
    const uint16_t qtype = TypeCode(c.at("type"));
    Answer a = Lookup(snapshot, config, N(c.at("name").get<std::string>()), qtype);
    ASSERT_EQ(a.action, Answer::Action::kWrite) << label;
    if (a.external) {
      // What resolving through the server gives for the table's upstream.
      const std::string target = a.external->ToText();
      ASSERT_TRUE(table.at("upstream").contains(target)) << label << " resolves " << target;
      if (qtype == wire::type::kA) {
        wire::Rr rr;
        rr.name = *a.external;
        rr.type = wire::type::kA;
        rr.ttl = 3600;
        const Ip ip = I(table["upstream"][target].get<std::string>());
        rr.rdata.assign(ip.begin() + 12, ip.end());
        a.answer.push_back(rr);
      }
    }
    EXPECT_EQ(RcodeName(a.rcode), c.at("rcode").get<std::string>()) << label;
    EXPECT_EQ(Diff(c.at("answer"), Texts(a.answer)), "") << label << " answer";
    EXPECT_EQ(Diff(c.value("additional", json::array()), Texts(a.additional)), "")
        << label << " additional";
    EXPECT_EQ(Diff(c.at("authority"), Texts(a.authority)), "") << label << " authority";
    ++checked;
  }
  EXPECT_GT(checked, 70);
}

class LookupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = ReadJson("cluster.json");
    snapshot_ = LoadCluster(cluster_);
    config_ = TableConfig();
  }

  Answer Ask(std::string_view name, uint16_t qtype) {
    return Lookup(snapshot_, config_, N(name), qtype);
  }
  std::vector<std::string> Answers(std::string_view name, uint16_t qtype) {
    return Texts(Ask(name, qtype).answer);
  }
  int Rcode(std::string_view name, uint16_t qtype) { return Ask(name, qtype).rcode; }

  json cluster_;
  Snapshot snapshot_;
  Config config_;
};

TEST_F(LookupTest, OutsideTheZonesGoesToTheNextPlugin) {
  EXPECT_EQ(Ask("www.example.org.", wire::type::kA).action, Answer::Action::kNext);
}

TEST_F(LookupTest, TransfersAreRefused) {
  EXPECT_EQ(Ask("cluster.local.", wire::type::kAxfr).action, Answer::Action::kRefuse);
  EXPECT_EQ(Ask("cluster.local.", wire::type::kIxfr).action, Answer::Action::kRefuse);
}

TEST_F(LookupTest, OtherTypesAreNodataOrNxdomainByAFakeALookup) {
  EXPECT_EQ(Rcode("svc1.testns.svc.cluster.local.", 13), wire::rcode::kNoError);
  EXPECT_EQ(Rcode("svc0.testns.svc.cluster.local.", 13), wire::rcode::kNxDomain);
}

TEST_F(LookupTest, BeforeTheFirstSyncMissingNamesAreServfailWithSoa) {
  snapshot_.synced = false;
  const Answer a = Ask("svc0.testns.svc.cluster.local.", wire::type::kA);
  EXPECT_EQ(a.rcode, wire::rcode::kServFail);
  EXPECT_EQ(a.authority.size(), 1u);
  EXPECT_THAT(Answers("svc1.testns.svc.cluster.local.", wire::type::kA),
              ElementsAre("svc1.testns.svc.cluster.local. 5 IN A 10.3.0.100"));
}

TEST_F(LookupTest, TtlAppliesToRecordsAndCapsTheSoaTtlAt300) {
  config_.ttl = 30;
  EXPECT_THAT(Answers("svc1.testns.svc.cluster.local.", wire::type::kA),
              ElementsAre("svc1.testns.svc.cluster.local. 30 IN A 10.3.0.100"));
  config_.ttl = 3600;
  EXPECT_THAT(
      Texts(Ask("cluster.local.", wire::type::kSoa).answer),
      ElementsAre("cluster.local. 300 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "
                  "1499347823 7200 1800 86400 3600"));
  config_.ttl = 0;
  EXPECT_THAT(Answers("dns-version.cluster.local.", wire::type::kTxt),
              ElementsAre("dns-version.cluster.local. 28800 IN TXT \"1.1.0\""));
}

TEST_F(LookupTest, FallthroughPassesNameErrorsInItsZonesOn) {
  config_.fallthrough = {N("in-addr.arpa."), N("ip6.arpa.")};
  EXPECT_EQ(Ask("99.0.3.10.in-addr.arpa.", wire::type::kPtr).action, Answer::Action::kNext);
  EXPECT_EQ(Ask("1.0.3.10.in-addr.arpa.", wire::type::kPtr).action, Answer::Action::kWrite);
  EXPECT_EQ(Rcode("svc0.testns.svc.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
  config_.fallthrough = {wire::Name()};
  EXPECT_EQ(Ask("svc0.testns.svc.cluster.local.", wire::type::kA).action, Answer::Action::kNext);
  // NODATA is an answer, not a name error.
  EXPECT_EQ(Ask("svc1.testns.svc.cluster.local.", wire::type::kAaaa).action,
            Answer::Action::kWrite);
}

TEST_F(LookupTest, PodsDisabledAreNxdomain) {
  config_.pod_mode = PodMode::kDisabled;
  EXPECT_EQ(Rcode("1-2-3-4.testns.pod.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
  // Even the namespace below pod.<zone> (NODATA with pods on).
  EXPECT_EQ(Rcode("testns.pod.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
  EXPECT_EQ(Rcode("pod.cluster.local.", wire::type::kA), wire::rcode::kNoError);
}

TEST_F(LookupTest, PodsVerifiedNeedAPodWithThatAddressInThatNamespace) {
  config_.pod_mode = PodMode::kVerified;
  EXPECT_THAT(Answers("10-2-0-30.testns.pod.cluster.local.", wire::type::kA),
              ElementsAre("10-2-0-30.testns.pod.cluster.local. 5 IN A 10.2.0.30"));
  EXPECT_EQ(Rcode("1-2-3-4.testns.pod.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
  EXPECT_EQ(Rcode("10-2-0-30.other.pod.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
  Erase(&snapshot_, Kind::kPod, "testns/svc1-6b5d9c7f4-q2w3e");
  EXPECT_EQ(Rcode("10-2-0-30.testns.pod.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
}

TEST_F(LookupTest, PodsBeingDeletedAreGone) {
  config_.pod_mode = PodMode::kVerified;
  json pod = cluster_["pods"][1];
  pod["metadata"]["deletionTimestamp"] = "2024-01-01T00:00:00Z";
  Add(&snapshot_, Kind::kPod, pod);
  EXPECT_EQ(Rcode("10-2-0-30.testns.pod.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
}

TEST_F(LookupTest, IgnoreEmptyServiceMakesServicesWithoutReadyEndpointsNxdomain) {
  config_.ignore_empty_service = true;
  EXPECT_EQ(Rcode("empty.testns.svc.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
  EXPECT_EQ(Rcode("svc1.testns.svc.cluster.local.", wire::type::kA), wire::rcode::kNoError);
  EXPECT_EQ(Rcode("external.testns.svc.cluster.local.", wire::type::kCname), wire::rcode::kNoError);
}

TEST_F(LookupTest, EndpointPodNamesNamesEndpointsAfterTheirPods) {
  config_.endpoint_pod_names = true;
  EXPECT_THAT(Answers("svc1-6b5d9c7f4-q2w3e.svc1.testns.svc.cluster.local.", wire::type::kA),
              ElementsAre("svc1-6b5d9c7f4-q2w3e.svc1.testns.svc.cluster.local. 5 IN A 10.2.0.30"));
  EXPECT_EQ(Rcode("10-2-0-30.svc1.testns.svc.cluster.local.", wire::type::kA),
            wire::rcode::kNxDomain);
  // A hostname still wins; without a pod the address names the endpoint.
  EXPECT_EQ(Rcode("dup-name.hdls1.testns.svc.cluster.local.", wire::type::kA),
            wire::rcode::kNoError);
  EXPECT_EQ(Rcode("10-2-0-2.hdls1.testns.svc.cluster.local.", wire::type::kA),
            wire::rcode::kNoError);
  EXPECT_THAT(Answers("30.0.2.10.in-addr.arpa.", wire::type::kPtr),
              ElementsAre("30.0.2.10.in-addr.arpa. 5 IN PTR "
                          "svc1-6b5d9c7f4-q2w3e.svc1.testns.svc.cluster.local."));
}

TEST_F(LookupTest, NamespacesLimitsNamesAndReverseLookups) {
  config_.namespaces = {"testns"};
  EXPECT_EQ(Rcode("svc1.testns.svc.cluster.local.", wire::type::kA), wire::rcode::kNoError);
  EXPECT_EQ(Rcode("svc1.other.svc.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
  EXPECT_EQ(Rcode("other.svc.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
  EXPECT_EQ(Rcode("200.0.3.10.in-addr.arpa.", wire::type::kPtr), wire::rcode::kNxDomain);
  EXPECT_EQ(Rcode("100.0.3.10.in-addr.arpa.", wire::type::kPtr), wire::rcode::kNoError);
}

TEST_F(LookupTest, ANamespaceMustExist) {
  Erase(&snapshot_, Kind::kNamespace, "other");
  EXPECT_EQ(Rcode("svc1.other.svc.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
}

TEST_F(LookupTest, WithoutEndpointsHeadlessAndEndpointNamesAreNxdomain) {
  Reset(&snapshot_, Kind::kEndpointSlice);  // noendpoints watches none
  EXPECT_EQ(Rcode("hdls1.testns.svc.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
  EXPECT_EQ(Rcode("10-2-0-30.svc1.testns.svc.cluster.local.", wire::type::kA),
            wire::rcode::kNxDomain);
  EXPECT_EQ(Rcode("svc1.testns.svc.cluster.local.", wire::type::kA), wire::rcode::kNoError);
}

TEST_F(LookupTest, EndpointsGoingReadyAndUnready) {
  json slice = cluster_["endpointslices"][3];  // hdls1, IPv4
  slice["endpoints"][4]["conditions"]["ready"] = true;
  Add(&snapshot_, Kind::kEndpointSlice, slice);
  EXPECT_EQ(Answers("hdls1.testns.svc.cluster.local.", wire::type::kA).size(), 5u);
  for (json& e : slice["endpoints"]) e["conditions"]["ready"] = false;
  Add(&snapshot_, Kind::kEndpointSlice, slice);
  EXPECT_EQ(Answers("hdls1.testns.svc.cluster.local.", wire::type::kA).size(), 0u);
  EXPECT_EQ(Answers("hdls1.testns.svc.cluster.local.", wire::type::kAaaa).size(), 2u);
  // A missing ready condition counts as ready.
  slice["endpoints"][0]["conditions"].erase("ready");
  Add(&snapshot_, Kind::kEndpointSlice, slice);
  EXPECT_THAT(Answers("hdls1.testns.svc.cluster.local.", wire::type::kA),
              ElementsAre("hdls1.testns.svc.cluster.local. 5 IN A 10.2.0.2"));
}

TEST_F(LookupTest, HeadlessWithoutReadyEndpointsIsNxdomain) {
  Erase(&snapshot_, Kind::kEndpointSlice, "testns/hdls1-v4xyz");
  Erase(&snapshot_, Kind::kEndpointSlice, "testns/hdls1-v6xyz");
  EXPECT_EQ(Rcode("hdls1.testns.svc.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
}

TEST_F(LookupTest, ReverseZonesFromCidrs) {
  config_.zones = {N("cluster.local."), N("0.3.10.in-addr.arpa.")};
  EXPECT_THAT(
      Answers("10.0.3.10.in-addr.arpa.", wire::type::kPtr),
      ElementsAre("10.0.3.10.in-addr.arpa. 5 IN PTR kube-dns.kube-system.svc.cluster.local."));
  const Answer a = Ask("99.0.3.10.in-addr.arpa.", wire::type::kPtr);
  EXPECT_EQ(a.rcode, wire::rcode::kNxDomain);
  EXPECT_THAT(Texts(a.authority),
              ElementsAre("0.3.10.in-addr.arpa. 5 IN SOA ns.dns.0.3.10.in-addr.arpa. "
                          "hostmaster.0.3.10.in-addr.arpa. 1499347823 7200 1800 86400 5"));
  EXPECT_EQ(Ask("2.0.2.10.in-addr.arpa.", wire::type::kPtr).action, Answer::Action::kNext);
}

TEST_F(LookupTest, WithoutLocalEndpointsNsNamesTheServersOwnAddresses) {
  config_.local_ips = {I("192.0.2.9"), I("2001:db8::9")};
  const Answer a = Ask("cluster.local.", wire::type::kNs);
  EXPECT_THAT(Texts(a.answer), ElementsAre("cluster.local. 5 IN NS ns.dns.cluster.local."));
  EXPECT_THAT(Texts(a.additional),
              UnorderedElementsAre("ns.dns.cluster.local. 5 IN A 192.0.2.9",
                                   "ns.dns.cluster.local. 5 IN AAAA 2001:db8::9"));
  EXPECT_THAT(Answers("ns.dns.cluster.local.", wire::type::kAaaa),
              ElementsAre("ns.dns.cluster.local. 5 IN AAAA 2001:db8::9"));
}

TEST_F(LookupTest, ExternalNameChainsInsideTheZoneStopAtEightCnames) {
  // e0 -> e1 -> ... -> e11 -> svc1, all ExternalNames inside the zone.
  for (int i = 0; i < 12; ++i) {
    json svc = cluster_["services"][7];  // testns/external
    svc["metadata"]["name"] = "e" + std::to_string(i);
    svc["spec"]["externalName"] = i == 11
                                      ? "svc1.testns.svc.cluster.local"
                                      : "e" + std::to_string(i + 1) + ".testns.svc.cluster.local";
    Add(&snapshot_, Kind::kService, svc);
  }
  const std::vector<std::string> eight = Answers("e4.testns.svc.cluster.local.", wire::type::kA);
  ASSERT_EQ(eight.size(), 9u);
  EXPECT_EQ(eight.back(), "svc1.testns.svc.cluster.local. 5 IN A 10.3.0.100");
  const Answer nine = Ask("e3.testns.svc.cluster.local.", wire::type::kA);
  EXPECT_EQ(nine.rcode, wire::rcode::kNoError);
  EXPECT_TRUE(nine.answer.empty());  // too long to follow: NODATA
  EXPECT_FALSE(nine.external);
}

TEST_F(LookupTest, AnExternalNameThatIsAnAddressIsNoName) {
  json svc = cluster_["services"][7];
  svc["spec"]["externalName"] = "192.0.2.1";
  Add(&snapshot_, Kind::kService, svc);
  EXPECT_EQ(Rcode("external.testns.svc.cluster.local.", wire::type::kA), wire::rcode::kNxDomain);
}

TEST(SnapshotTest, PublishedVersionsDoNotChangeWhenTheWorkingCopyDoes) {
  const json cluster = ReadJson("cluster.json");
  Snapshot working = LoadCluster(cluster);
  const Snapshot published = working;  // what queries hold
  working.Seal();
  Erase(&working, Kind::kService, "svc1.testns");
  json svc = cluster["services"][2];
  svc["spec"]["clusterIP"] = "10.3.0.101";
  svc["spec"]["clusterIPs"] = {"10.3.0.101"};
  Add(&working, Kind::kService, svc);
  EXPECT_EQ(published.services.Get("svc1.testns").front()->cluster_ips.front(), "10.3.0.100");
  EXPECT_EQ(working.services.Get("svc1.testns").front()->cluster_ips.front(), "10.3.0.101");
  Ip old_ip = I("10.3.0.100");
  EXPECT_EQ(published.services_by_ip.Get(IpKey(old_ip)).size(), 1u);
  EXPECT_TRUE(working.services_by_ip.Get(IpKey(old_ip)).empty());
}

TEST(SnapshotTest, PutReportsWhetherDnsSeesAChange) {
  const json cluster = ReadJson("cluster.json");
  Snapshot s = LoadCluster(cluster);
  json svc = cluster["services"][2];
  svc["metadata"]["resourceVersion"] = "999";  // not something DNS sees
  EXPECT_FALSE(Put(&s, Kind::kService, "svc1.testns", Decode(Kind::kService, svc)));
  svc["spec"]["ports"][0]["port"] = 81;
  EXPECT_TRUE(Put(&s, Kind::kService, "svc1.testns", Decode(Kind::kService, svc)));
  EXPECT_TRUE(Erase(&s, Kind::kService, "svc1.testns"));
  EXPECT_FALSE(Erase(&s, Kind::kService, "svc1.testns"));
}

}  // namespace
}  // namespace warpdns::slowpath::kubernetes
