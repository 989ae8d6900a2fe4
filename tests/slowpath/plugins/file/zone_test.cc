#include "slowpath/plugins/file/zone.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace warpdns::slowpath::file {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

namespace type = wire::type;

using Questions = std::vector<std::pair<std::string, uint16_t>>;

const std::string kTestdata = std::string(WARPDNS_TESTDATA) + "/file/";

wire::Name N(std::string_view text) {
  wire::Name n;
  EXPECT_TRUE(wire::Name::FromText(text, &n)) << text;
  return n;
}

// One record as dig prints it, except RRSIGs: "owner RRSIG COVERED", since
// the signature bytes say nothing about which records were selected.
std::string Text(const wire::Rr& rr) {
  if (rr.type == type::kRrsig) {
    return rr.name.ToText() + " RRSIG " + wire::TypeToString(rr.rdata[0] << 8 | rr.rdata[1]);
  }
  return wire::RrToText(rr);
}

std::vector<std::string> Texts(const std::vector<wire::Rr>& rrs) {
  std::vector<std::string> out;
  for (const wire::Rr& rr : rrs) out.push_back(Text(rr));
  return out;
}

std::unique_ptr<Zone> LoadOrDie(const std::string& file, std::string_view origin) {
  std::string error;
  std::unique_ptr<Zone> z = Zone::Load(kTestdata + file, N(origin), &error);
  EXPECT_NE(z, nullptr) << error;
  return z;
}

class ExampleOrgTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { zone_ = LoadOrDie("example.org.zone", "example.org.").release(); }
  static void TearDownTestSuite() { delete zone_; }
  static LookupResult Q(std::string_view qname, uint16_t qtype, bool dnssec_ok = false) {
    return zone_->Lookup(N(qname), qtype, dnssec_ok);
  }
  static const Zone* zone_;
};
const Zone* ExampleOrgTest::zone_ = nullptr;

const char kSoa[] =
    "example.org.\t3600\tIN\tSOA\tns1.example.org. hostmaster.example.org. 2024010101 7200 3600 "
    "1209600 3600";
const char kNs1[] = "example.org.\t3600\tIN\tNS\tns1.example.org.";
const char kNs2[] = "example.org.\t3600\tIN\tNS\tns.example.net.";

TEST_F(ExampleOrgTest, LoadsAndNormalisesCase) {
  EXPECT_EQ(zone_->origin().ToText(), "example.org.");
  EXPECT_EQ(zone_->Serial(), 2024010101u);
  EXPECT_EQ(zone_->RecordCount(), 37u);
  std::vector<wire::Rr> all = zone_->AllRecords();
  ASSERT_EQ(all.size(), zone_->RecordCount() + 1);
  EXPECT_EQ(Text(all.front()), kSoa);  // SOA names lowercased, as CoreDNS does
  EXPECT_EQ(Text(all.back()), kSoa);
}

TEST_F(ExampleOrgTest, ApexSoaCarriesNsInAuthority) {
  LookupResult r = Q("example.org.", type::kSoa);
  EXPECT_EQ(r.outcome, Outcome::kSuccess);
  EXPECT_TRUE(r.authoritative);
  EXPECT_THAT(Texts(r.answer), ElementsAre(kSoa));
  EXPECT_THAT(Texts(r.authority), ElementsAre(kNs1, kNs2));
  EXPECT_THAT(r.additional, IsEmpty());
}

TEST_F(ExampleOrgTest, ApexNsAddsInZoneAddresses) {
  LookupResult r = Q("example.org.", type::kNs);
  EXPECT_THAT(Texts(r.answer), ElementsAre(kNs1, kNs2));
  EXPECT_THAT(r.authority, IsEmpty());
  EXPECT_THAT(Texts(r.additional), ElementsAre("ns1.example.org.\t3600\tIN\tA\t192.0.2.53",
                                               "ns1.example.org.\t3600\tIN\tAAAA\t2001:db8::53"));
}

TEST_F(ExampleOrgTest, PositiveAnswerHasApexNsAndNoGlue) {
  LookupResult r = Q("example.org.", type::kA);
  EXPECT_EQ(r.rcode, wire::rcode::kNoError);
  EXPECT_THAT(Texts(r.answer), ElementsAre("example.org.\t3600\tIN\tA\t192.0.2.1"));
  EXPECT_THAT(Texts(r.authority), ElementsAre(kNs1, kNs2));
  EXPECT_THAT(r.additional, IsEmpty());
}

TEST_F(ExampleOrgTest, MxAndSrvTargetsInAdditional) {
  LookupResult mx = Q("example.org.", type::kMx);
  EXPECT_THAT(Texts(mx.additional), ElementsAre("mail.example.org.\t3600\tIN\tA\t192.0.2.25",
                                                "mail.example.org.\t3600\tIN\tAAAA\t2001:db8::25"));
  // Only in-zone targets; the host's TXT is not an address.
  LookupResult mx2 = Q("mx2.example.org.", type::kMx);
  EXPECT_EQ(mx2.answer.size(), 2u);
  EXPECT_EQ(mx2.additional.size(), 2u);
  LookupResult srv = Q("srv.example.org.", type::kSrv);
  EXPECT_THAT(Texts(srv.additional), ElementsAre("host.example.org.\t3600\tIN\tA\t192.0.2.80"));
}

TEST_F(ExampleOrgTest, NoDataHasSoa) {
  for (auto [name, t] : Questions{{"example.org.", type::kAaaa},
                                  {"host.example.org.", type::kMx},
                                  {"host.example.org.", type::kSoa},
                                  {"host.example.org.", type::kAny}}) {
    LookupResult r = Q(name, t);
    EXPECT_EQ(r.outcome, Outcome::kNoData) << name << " " << t;
    EXPECT_EQ(r.rcode, wire::rcode::kNoError);
    EXPECT_THAT(r.answer, IsEmpty());
    EXPECT_THAT(Texts(r.authority), ElementsAre(kSoa));
  }
}

TEST_F(ExampleOrgTest, NxDomainHasSoa) {
  LookupResult r = Q("nope.example.org.", type::kA);
  EXPECT_EQ(r.outcome, Outcome::kNameError);
  EXPECT_EQ(r.rcode, wire::rcode::kNxDomain);
  EXPECT_TRUE(r.authoritative);
  EXPECT_THAT(Texts(r.authority), ElementsAre(kSoa));
}

TEST_F(ExampleOrgTest, QueryCaseDoesNotMatterAndAnswersAreLowercase) {
  LookupResult r = Q("MIXEDcase.Example.ORG.", type::kA);
  EXPECT_THAT(Texts(r.answer), ElementsAre("mixedcase.example.org.\t3600\tIN\tA\t192.0.2.77"));
}

TEST_F(ExampleOrgTest, InZoneCnameChainIsFollowed) {
  LookupResult r = Q("www.example.org.", type::kA);
  EXPECT_EQ(r.outcome, Outcome::kSuccess);
  EXPECT_FALSE(r.external_cname);
  EXPECT_THAT(Texts(r.answer), ElementsAre("www.example.org.\t3600\tIN\tCNAME\tweb.example.org.",
                                           "web.example.org.\t3600\tIN\tCNAME\thost.example.org.",
                                           "host.example.org.\t3600\tIN\tA\t192.0.2.80"));
  EXPECT_THAT(Texts(r.authority), ElementsAre(kNs1, kNs2));
}

TEST_F(ExampleOrgTest, CnameToNameWithoutTypeIsNoErrorWithNs) {
  // CoreDNS returns the chain with the apex NS, not a NODATA SOA.
  LookupResult r = Q("www.example.org.", type::kAaaa);
  EXPECT_EQ(r.outcome, Outcome::kSuccess);
  EXPECT_EQ(r.answer.size(), 2u);
  EXPECT_THAT(Texts(r.authority), ElementsAre(kNs1, kNs2));
}

TEST_F(ExampleOrgTest, CnameQuestionIsNotChased) {
  LookupResult r = Q("www.example.org.", type::kCname);
  EXPECT_THAT(Texts(r.answer), ElementsAre("www.example.org.\t3600\tIN\tCNAME\tweb.example.org."));
}

TEST_F(ExampleOrgTest, CnameLoopStopsAfterEightHops) {
  LookupResult r = Q("loop1.example.org.", type::kA);
  EXPECT_EQ(r.outcome, Outcome::kSuccess);
  EXPECT_FALSE(r.external_cname);
  EXPECT_EQ(r.answer.size(), 10u);  // the first CNAME and nine more
}

TEST_F(ExampleOrgTest, CnameOutOfTreeIsResolvedExternally) {
  for (auto [name, target] : std::vector<std::pair<std::string, std::string>>{
           {"ext.example.org.", "target.example.net."},
           {"dangling.example.org.", "nothere.example.org."}}) {
    LookupResult r = Q(name, type::kA);
    EXPECT_TRUE(r.external_cname) << name;
    EXPECT_EQ(r.external_target.ToText(), target);
    EXPECT_EQ(r.answer.size(), 1u);
  }
  // NS questions always go through the server (apex NS is not in the tree).
  LookupResult ns = Q("www.example.org.", type::kNs);
  EXPECT_TRUE(ns.external_cname);
  EXPECT_EQ(ns.external_target.ToText(), "web.example.org.");
}

TEST_F(ExampleOrgTest, ResolveExternalMapsTheServersAnswer) {
  wire::Rr a;
  a.name = N("target.example.net.");
  a.type = type::kA;
  a.ttl = 60;
  a.rdata = {192, 0, 2, 9};

  LookupResult data = Q("ext.example.org.", type::kA);
  wire::Message up;
  up.answer = {a};
  zone_->ResolveExternal(&up, false, &data);
  EXPECT_FALSE(data.external_cname);
  EXPECT_EQ(data.outcome, Outcome::kSuccess);
  EXPECT_EQ(data.answer.size(), 2u);
  EXPECT_THAT(Texts(data.authority), ElementsAre(kNs1, kNs2));

  LookupResult nx = Q("ext.example.org.", type::kA);
  wire::Message up_nx;
  up_nx.SetRcode(wire::rcode::kNxDomain);
  zone_->ResolveExternal(&up_nx, false, &nx);
  EXPECT_EQ(nx.rcode, wire::rcode::kNxDomain);
  EXPECT_EQ(nx.answer.size(), 1u);
  EXPECT_THAT(Texts(nx.authority), ElementsAre(kSoa));

  LookupResult nodata = Q("ext.example.org.", type::kA);
  wire::Message up_empty;
  zone_->ResolveExternal(&up_empty, false, &nodata);
  EXPECT_EQ(nodata.outcome, Outcome::kNoData);
  EXPECT_THAT(Texts(nodata.authority), ElementsAre(kSoa));

  LookupResult fail = Q("ext.example.org.", type::kA);
  zone_->ResolveExternal(nullptr, false, &fail);
  EXPECT_EQ(fail.rcode, wire::rcode::kServFail);
  EXPECT_EQ(fail.answer.size(), 1u);
}

TEST_F(ExampleOrgTest, WildcardSynthesisUsesQname) {
  LookupResult r = Q("Foo.Wild.example.org.", type::kA);
  EXPECT_EQ(r.outcome, Outcome::kSuccess);
  EXPECT_THAT(Texts(r.answer), ElementsAre("foo.wild.example.org.\t3600\tIN\tA\t192.0.2.99"));
  EXPECT_THAT(Texts(r.authority), ElementsAre(kNs1, kNs2));
  // A wildcard matches any number of labels.
  EXPECT_THAT(Texts(Q("a.b.wild.example.org.", type::kA).answer),
              ElementsAre("a.b.wild.example.org.\t3600\tIN\tA\t192.0.2.99"));
}

TEST_F(ExampleOrgTest, WildcardAnswerGetsAdditionalProcessing) {
  LookupResult r = Q("foo.wild.example.org.", type::kMx);
  EXPECT_THAT(Texts(r.answer),
              ElementsAre("foo.wild.example.org.\t3600\tIN\tMX\t10 mail.example.org."));
  EXPECT_EQ(r.additional.size(), 2u);
}

TEST_F(ExampleOrgTest, WildcardNoData) {
  LookupResult r = Q("foo.wild.example.org.", type::kTxt);
  EXPECT_EQ(r.outcome, Outcome::kNoData);
  EXPECT_THAT(Texts(r.authority), ElementsAre(kSoa));
}

TEST_F(ExampleOrgTest, ExistingNamesBlockTheWildcard) {
  EXPECT_THAT(Texts(Q("deep.wild.example.org.", type::kTxt).answer),
              ElementsAre("deep.wild.example.org.\t3600\tIN\tTXT\t\"real\""));
  EXPECT_EQ(Q("deep.wild.example.org.", type::kA).outcome, Outcome::kNoData);
  // deep.wild is the closest encloser and has no wildcard child.
  EXPECT_EQ(Q("x.deep.wild.example.org.", type::kA).outcome, Outcome::kNameError);
  // So does an empty non-terminal between the wildcard's parent and qname.
  EXPECT_EQ(Q("x.ent2.wild.example.org.", type::kA).outcome, Outcome::kNameError);
}

TEST_F(ExampleOrgTest, EmptyNonTerminalBelowWildcardParentMatchesTheWildcard) {
  // CoreDNS's closerENTExists only looks at strict ancestors of qname, so an
  // ENT qname directly under the wildcard's parent is synthesised (RFC 4592
  // would say NODATA). Kept for CoreDNS compatibility.
  EXPECT_THAT(Texts(Q("ent2.wild.example.org.", type::kA).answer),
              ElementsAre("ent2.wild.example.org.\t3600\tIN\tA\t192.0.2.99"));
}

TEST_F(ExampleOrgTest, WildcardBelowEmptyNonTerminals) {
  EXPECT_THAT(Texts(Q("a.x.cover.example.org.", type::kTxt).answer),
              ElementsAre("a.x.cover.example.org.\t3600\tIN\tTXT\t\"covered\""));
  EXPECT_EQ(Q("b.a.x.cover.example.org.", type::kTxt).answer.size(), 1u);
  EXPECT_EQ(Q("x.cover.example.org.", type::kTxt).outcome, Outcome::kSuccess);  // ENT
  EXPECT_THAT(Q("x.cover.example.org.", type::kTxt).answer, IsEmpty());
  EXPECT_EQ(Q("y.cover.example.org.", type::kTxt).outcome, Outcome::kNameError);
}

TEST_F(ExampleOrgTest, WildcardCnameIsChased) {
  LookupResult r = Q("foo.cwild.example.org.", type::kA);
  EXPECT_THAT(Texts(r.answer),
              ElementsAre("foo.cwild.example.org.\t3600\tIN\tCNAME\thost.example.org.",
                          "host.example.org.\t3600\tIN\tA\t192.0.2.80"));
  EXPECT_THAT(Texts(Q("foo.cwild.example.org.", type::kCname).answer),
              ElementsAre("foo.cwild.example.org.\t3600\tIN\tCNAME\thost.example.org."));
}

TEST_F(ExampleOrgTest, EmptyNonTerminalIsNoErrorWithSoa) {
  for (const char* name : {"ent.example.org.", "b.ent.example.org.", "cover.example.org."}) {
    LookupResult r = Q(name, type::kA);
    EXPECT_EQ(r.outcome, Outcome::kSuccess) << name;
    EXPECT_EQ(r.rcode, wire::rcode::kNoError);
    EXPECT_THAT(r.answer, IsEmpty());
    EXPECT_THAT(Texts(r.authority), ElementsAre(kSoa));
  }
}

TEST_F(ExampleOrgTest, DelegationIsAReferralWithGlue) {
  for (auto [name, t] : Questions{{"foo.sub.example.org.", type::kA},
                                  {"sub.example.org.", type::kNs},
                                  {"sub.example.org.", type::kA},
                                  {"ns.sub.example.org.", type::kA},
                                  {"a.b.sub.example.org.", type::kSoa}}) {
    LookupResult r = Q(name, t);
    EXPECT_EQ(r.outcome, Outcome::kDelegation) << name;
    EXPECT_FALSE(r.authoritative);
    EXPECT_EQ(r.rcode, wire::rcode::kNoError);
    EXPECT_THAT(r.answer, IsEmpty());
    EXPECT_THAT(Texts(r.authority),
                ElementsAre("sub.example.org.\t3600\tIN\tNS\tns.sub.example.org.",
                            "sub.example.org.\t3600\tIN\tNS\tns.example.net."));
    EXPECT_THAT(Texts(r.additional),
                ElementsAre("ns.sub.example.org.\t3600\tIN\tA\t192.0.2.200",
                            "ns.sub.example.org.\t3600\tIN\tAAAA\t2001:db8::200"));
  }
}

TEST_F(ExampleOrgTest, DsAtTheCutIsAnsweredByTheParent) {
  LookupResult ds = Q("secure.example.org.", type::kDs);
  EXPECT_EQ(ds.outcome, Outcome::kSuccess);
  EXPECT_TRUE(ds.authoritative);
  EXPECT_EQ(ds.answer.size(), 1u);
  EXPECT_THAT(Texts(ds.authority), ElementsAre(kNs1, kNs2));
  LookupResult none = Q("sub.example.org.", type::kDs);
  EXPECT_EQ(none.outcome, Outcome::kNoData);
  EXPECT_THAT(Texts(none.authority), ElementsAre(kSoa));
  EXPECT_EQ(Q("x.secure.example.org.", type::kDs).outcome, Outcome::kDelegation);
}

TEST_F(ExampleOrgTest, ReferralCarriesDsOnlyWithDo) {
  EXPECT_EQ(Q("foo.secure.example.org.", type::kA).authority.size(), 1u);
  LookupResult r = Q("foo.secure.example.org.", type::kA, true);
  EXPECT_EQ(r.authority.size(), 2u);
  EXPECT_EQ(r.authority[1].type, type::kDs);
}

TEST_F(ExampleOrgTest, DnameSynthesis) {
  LookupResult r = Q("www.dname.example.org.", type::kA);
  EXPECT_EQ(r.outcome, Outcome::kSuccess);
  EXPECT_THAT(Texts(r.answer),
              ElementsAre("dname.example.org.\t3600\tIN\tDNAME\tdtarget.example.org.",
                          "www.dname.example.org.\t3600\tIN\tCNAME\twww.dtarget.example.org.",
                          "www.dtarget.example.org.\t3600\tIN\tA\t192.0.2.81"));
  EXPECT_EQ(Q("www.dname.example.org.", type::kCname).answer.size(), 2u);
  LookupResult ext = Q("x.dname.example.org.", type::kA);
  EXPECT_TRUE(ext.external_cname);
  EXPECT_EQ(ext.external_target.ToText(), "x.dtarget.example.org.");
  EXPECT_THAT(Texts(Q("dname.example.org.", type::kDname).answer),
              ElementsAre("dname.example.org.\t3600\tIN\tDNAME\tdtarget.example.org."));
}

class SignedTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    zone_ = LoadOrDie("signed.test.zone.signed", "signed.test.").release();
  }
  static void TearDownTestSuite() { delete zone_; }
  static LookupResult Q(std::string_view qname, uint16_t qtype, bool dnssec_ok = true) {
    return zone_->Lookup(N(qname), qtype, dnssec_ok);
  }
  static const Zone* zone_;
};
const Zone* SignedTest::zone_ = nullptr;

const char kSSoa[] =
    "signed.test.\t3600\tIN\tSOA\tns1.signed.test. hostmaster.signed.test. 7 7200 3600 1209600 "
    "3600";
const char kSSoaSig[] = "signed.test. RRSIG SOA";
const char kSNs1[] = "signed.test.\t3600\tIN\tNS\tns.example.net.";
const char kSNs2[] = "signed.test.\t3600\tIN\tNS\tns1.signed.test.";
const char kSNsSig[] = "signed.test. RRSIG NS";

TEST_F(SignedTest, SignaturesOnlyWithDo) {
  LookupResult plain = Q("a.signed.test.", type::kA, false);
  EXPECT_THAT(Texts(plain.answer), ElementsAre("a.signed.test.\t3600\tIN\tA\t192.0.2.2"));
  EXPECT_THAT(Texts(plain.authority), ElementsAre(kSNs1, kSNs2));
  LookupResult r = Q("a.signed.test.", type::kA);
  EXPECT_THAT(Texts(r.answer),
              ElementsAre("a.signed.test.\t3600\tIN\tA\t192.0.2.2", "a.signed.test. RRSIG A"));
  EXPECT_THAT(Texts(r.authority), ElementsAre(kSNs1, kSNs2, kSNsSig));
}

TEST_F(SignedTest, Apex) {
  LookupResult soa = Q("signed.test.", type::kSoa);
  EXPECT_THAT(Texts(soa.answer), ElementsAre(kSSoa, kSSoaSig));
  EXPECT_THAT(Texts(soa.authority), ElementsAre(kSNs1, kSNs2, kSNsSig));
  LookupResult ns = Q("signed.test.", type::kNs);
  EXPECT_THAT(Texts(ns.answer), ElementsAre(kSNs1, kSNs2, kSNsSig));
  EXPECT_THAT(Texts(ns.additional),
              ElementsAre("ns1.signed.test.\t3600\tIN\tA\t192.0.2.53", "ns1.signed.test. RRSIG A"));
  LookupResult keys = Q("signed.test.", type::kDnskey);
  EXPECT_EQ(keys.answer.size(), 3u);
  EXPECT_EQ(Text(keys.answer.back()), "signed.test. RRSIG DNSKEY");
}

TEST_F(SignedTest, NoDataProvesWithTheNamesNsec) {
  LookupResult r = Q("a.signed.test.", type::kAaaa);
  EXPECT_EQ(r.outcome, Outcome::kNoData);
  EXPECT_THAT(Texts(r.authority),
              ElementsAre(kSSoa, kSSoaSig,
                          "a.signed.test.\t3600\tIN\tNSEC\tc.b.ent.signed.test. A TXT RRSIG NSEC",
                          "a.signed.test. RRSIG NSEC"));
}

TEST_F(SignedTest, NxDomainProvesNameAndWildcardAbsence) {
  LookupResult r = Q("b.signed.test.", type::kA);
  EXPECT_EQ(r.outcome, Outcome::kNameError);
  EXPECT_THAT(Texts(r.authority),
              ElementsAre(kSSoa, kSSoaSig,
                          "a.signed.test.\t3600\tIN\tNSEC\tc.b.ent.signed.test. A TXT RRSIG NSEC",
                          "a.signed.test. RRSIG NSEC",
                          "signed.test.\t3600\tIN\tNSEC\ta.signed.test. A NS SOA RRSIG NSEC DNSKEY",
                          "signed.test. RRSIG NSEC"));
  // When one NSEC covers both, it is not repeated.
  LookupResult one = Q("0.signed.test.", type::kA);
  EXPECT_EQ(one.authority.size(), 4u);
}

TEST_F(SignedTest, EmptyNonTerminalProvesWithCoveringNsec) {
  LookupResult r = Q("b.ent.signed.test.", type::kA);
  EXPECT_EQ(r.outcome, Outcome::kSuccess);
  EXPECT_THAT(Texts(r.authority),
              ElementsAre(kSSoa, kSSoaSig,
                          "a.signed.test.\t3600\tIN\tNSEC\tc.b.ent.signed.test. A TXT RRSIG NSEC",
                          "a.signed.test. RRSIG NSEC"));
}

TEST_F(SignedTest, WildcardAnswerWithNsecForNoCloserMatch) {
  LookupResult r = Q("x.wild.signed.test.", type::kTxt);
  EXPECT_THAT(Texts(r.answer), ElementsAre("x.wild.signed.test.\t3600\tIN\tTXT\t\"wild\"",
                                           "x.wild.signed.test. RRSIG TXT"));
  EXPECT_EQ(r.answer[1].rdata[3], 3);  // labels of the wildcard owner, not of qname
  EXPECT_THAT(Texts(r.authority),
              ElementsAre(kSNs1, kSNs2, kSNsSig,
                          "*.wild.signed.test.\t3600\tIN\tNSEC\twww.signed.test. TXT RRSIG NSEC",
                          "*.wild.signed.test. RRSIG NSEC"));
}

TEST_F(SignedTest, WildcardNoDataUsesTheWildcardsNsec) {
  LookupResult r = Q("x.wild.signed.test.", type::kA);
  EXPECT_EQ(r.outcome, Outcome::kNoData);
  EXPECT_THAT(Texts(r.authority),
              ElementsAre(kSSoa, kSSoaSig,
                          "*.wild.signed.test.\t3600\tIN\tNSEC\twww.signed.test. TXT RRSIG NSEC",
                          "*.wild.signed.test. RRSIG NSEC"));
}

TEST_F(SignedTest, CnameChainIsSigned) {
  LookupResult r = Q("www.signed.test.", type::kA);
  EXPECT_THAT(Texts(r.answer),
              ElementsAre("www.signed.test.\t3600\tIN\tCNAME\ta.signed.test.",
                          "www.signed.test. RRSIG CNAME", "a.signed.test.\t3600\tIN\tA\t192.0.2.2",
                          "a.signed.test. RRSIG A"));
}

TEST_F(SignedTest, Delegations) {
  LookupResult secure = Q("foo.secure.signed.test.", type::kA);
  EXPECT_EQ(secure.outcome, Outcome::kDelegation);
  EXPECT_THAT(Texts(secure.authority),
              ElementsAre("secure.signed.test.\t3600\tIN\tNS\tns.secure.signed.test.",
                          "secure.signed.test.\t3600\tIN\tDS\t12345 13 2 "
                          "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF",
                          "secure.signed.test. RRSIG DS"));
  EXPECT_THAT(Texts(secure.additional),
              ElementsAre("ns.secure.signed.test.\t3600\tIN\tA\t192.0.2.101"));
  // No NSEC proving the absence of DS at an insecure cut (CoreDNS).
  LookupResult insecure = Q("foo.insecure.signed.test.", type::kA);
  EXPECT_THAT(Texts(insecure.authority),
              ElementsAre("insecure.signed.test.\t3600\tIN\tNS\tns.insecure.signed.test."));
  LookupResult ds = Q("secure.signed.test.", type::kDs);
  EXPECT_EQ(ds.outcome, Outcome::kSuccess);
  EXPECT_EQ(ds.answer.size(), 2u);
  EXPECT_THAT(Texts(ds.authority), ElementsAre(kSNs1, kSNs2, kSNsSig));
}

TEST_F(SignedTest, DnssecTypesArePlainTypes) {
  EXPECT_THAT(Texts(Q("a.signed.test.", type::kNsec, false).answer),
              ElementsAre("a.signed.test.\t3600\tIN\tNSEC\tc.b.ent.signed.test. A TXT RRSIG NSEC"));
  EXPECT_EQ(Q("a.signed.test.", type::kNsec).answer.size(), 2u);
  EXPECT_THAT(Texts(Q("a.signed.test.", type::kRrsig, false).answer),
              UnorderedElementsAre("a.signed.test. RRSIG A", "a.signed.test. RRSIG TXT",
                                   "a.signed.test. RRSIG NSEC"));
}

TEST_F(SignedTest, NsecAndRrsigAtACnameOwnerFollowTheCname) {
  // lookup.go chases a CNAME for every qtype but CNAME, so the owner's own
  // NSEC and RRSIGs are not what comes back (an authoritative server per
  // RFC 4035 would return them).
  EXPECT_THAT(Texts(Q("www.signed.test.", type::kNsec).answer),
              ElementsAre("www.signed.test.\t3600\tIN\tCNAME\ta.signed.test.",
                          "www.signed.test. RRSIG CNAME",
                          "a.signed.test.\t3600\tIN\tNSEC\tc.b.ent.signed.test. A TXT RRSIG NSEC",
                          "a.signed.test. RRSIG NSEC"));
  EXPECT_EQ(Q("www.signed.test.", type::kRrsig, false).answer.size(), 4u);
}

TEST_F(SignedTest, AdditionalSectionIsSigned) {
  LookupResult r = Q("mail.signed.test.", type::kMx);
  EXPECT_THAT(Texts(r.additional),
              ElementsAre("a.signed.test.\t3600\tIN\tA\t192.0.2.2", "a.signed.test. RRSIG A"));
}

class ZoneFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    std::filesystem::path p = std::filesystem::temp_directory_path() /
                              ("warpdns_zone_test_" + std::to_string(::getpid()) + ".zone");
    std::ofstream(p) << text;
    paths_.push_back(p);
    return p.string();
  }
  void TearDown() override {
    for (const auto& p : paths_) std::filesystem::remove(p);
  }
  std::vector<std::filesystem::path> paths_;
};

TEST_F(ZoneFileTest, RecordsWithoutTtlTakeTheLastOneOrTheDirective) {
  std::string path = Write(
      "$ORIGIN example.org.\n@ IN SOA ns hm 1 2 3 4 5\n@ 600 IN NS ns\nns IN A 192.0.2.1\n"
      "$TTL 60\nx 30 IN A 192.0.2.2\ny IN A 192.0.2.3\n");
  std::string error;
  std::unique_ptr<Zone> z = Zone::Load(path, N("example.org."), &error);
  ASSERT_NE(z, nullptr) << error;
  EXPECT_EQ(z->Lookup(N("example.org."), type::kSoa, false).answer[0].ttl, 3600u);
  EXPECT_EQ(z->Lookup(N("ns.example.org."), type::kA, false).answer[0].ttl, 600u);
  EXPECT_EQ(z->Lookup(N("x.example.org."), type::kA, false).answer[0].ttl, 30u);
  EXPECT_EQ(z->Lookup(N("y.example.org."), type::kA, false).answer[0].ttl, 60u);
}

TEST_F(ZoneFileTest, SyntaxErrorNamesFileAndLine) {
  std::string path = Write(
      "$ORIGIN example.org.\n@ 3600 IN SOA ns hm 1 2 3 4 5\n@ 3600 IN NS ns\nbad 3600 IN A "
      "1.2.3\n");
  std::string error;
  EXPECT_EQ(Zone::Load(path, N("example.org."), &error), nullptr);
  EXPECT_THAT(error, HasSubstr(path + ":4: "));
}

TEST_F(ZoneFileTest, MissingSoa) {
  std::string path = Write("$ORIGIN example.org.\n@ 3600 IN NS ns\n");
  std::string error;
  EXPECT_EQ(Zone::Load(path, N("example.org."), &error), nullptr);
  EXPECT_EQ(error, "file \"" + path + "\" has no SOA record for origin example.org.");
}

TEST_F(ZoneFileTest, Nsec3IsRejected) {
  std::string path =
      Write("$ORIGIN example.org.\n@ 3600 IN SOA ns hm 1 2 3 4 5\n@ 3600 IN NSEC3PARAM 1 0 1 -\n");
  std::string error;
  EXPECT_EQ(Zone::Load(path, N("example.org."), &error), nullptr);
  EXPECT_THAT(error, HasSubstr("NSEC3 zone is not supported"));
}

TEST_F(ZoneFileTest, MissingFile) {
  std::string error;
  EXPECT_EQ(Zone::Load("/nonexistent/zone", N("example.org."), &error), nullptr);
  EXPECT_THAT(error, HasSubstr("/nonexistent/zone"));
}

TEST(FromRecordsTest, BuildsAZone) {
  wire::Rr soa;
  soa.name = N("Example.COM.");
  soa.type = type::kSoa;
  soa.ttl = 60;
  wire::Name mname = N("ns.example.com.");
  soa.rdata.assign(mname.data(), mname.data() + mname.size());
  soa.rdata.insert(soa.rdata.end(), mname.data(), mname.data() + mname.size());
  for (uint8_t b : {0, 0, 0, 42, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1})
    soa.rdata.push_back(b);
  wire::Rr a;
  a.name = N("www.example.com.");
  a.type = type::kA;
  a.ttl = 60;
  a.rdata = {192, 0, 2, 1};
  std::string error;
  std::unique_ptr<Zone> z = Zone::FromRecords(N("example.com."), {soa, a}, &error);
  ASSERT_NE(z, nullptr) << error;
  EXPECT_EQ(z->Serial(), 42u);
  EXPECT_EQ(z->Lookup(N("www.example.com."), type::kA, false).answer.size(), 1u);
  EXPECT_EQ(Zone::FromRecords(N("example.com."), {a}, &error), nullptr);
}

}  // namespace
}  // namespace warpdns::slowpath::file
