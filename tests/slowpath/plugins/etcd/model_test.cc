// The SkyDNS data model (values, key paths), the JSON gateway messages and
// the copy-on-write snapshot: pure functions, no etcd.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "slowpath/plugins/etcd/gateway.h"
#include "slowpath/plugins/etcd/service.h"
#include "slowpath/plugins/etcd/snapshot.h"

namespace warpdns::slowpath::etcd {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

Service MustParse(std::string_view json) {
  Service s;
  std::string error;
  EXPECT_TRUE(ParseService(json, &s, &error)) << json << ": " << error;
  return s;
}

std::string ParseError(std::string_view json) {
  Service s;
  std::string error;
  EXPECT_FALSE(ParseService(json, &s, &error)) << json;
  return error;
}

TEST(ServiceTest, ReadsEveryField) {
  Service s =
      MustParse(R"({"host":"10.0.0.1","port":8080,"priority":20,"weight":50,"text":"hello",)"
                R"("mail":true,"ttl":60,"targetstrip":1,"group":"g1"})");
  EXPECT_EQ(s.host, "10.0.0.1");
  EXPECT_EQ(s.port, 8080);
  EXPECT_EQ(s.priority, 20);
  EXPECT_EQ(s.weight, 50);
  EXPECT_EQ(s.text, "hello");
  EXPECT_TRUE(s.mail);
  EXPECT_EQ(s.ttl, 60u);
  EXPECT_EQ(s.target_strip, 1);
  EXPECT_EQ(s.group, "g1");
}

TEST(ServiceTest, KeysAreCaseInsensitiveAndUnknownOnesIgnored) {
  // SkyDNS's documentation writes "Host"; Go matches keys case-insensitively.
  Service s = MustParse(R"({"Host":"a.example.","PORT":53,"color":"blue","ttl":null})");
  EXPECT_EQ(s.host, "a.example.");
  EXPECT_EQ(s.port, 53);
  EXPECT_EQ(s.ttl, 0u);
  // A later duplicate wins, whatever its case.
  EXPECT_EQ(MustParse(R"({"host":"first","HOST":"second"})").host, "second");
  // A top-level null is an empty service, as Go decodes it.
  EXPECT_EQ(MustParse("null").host, "");
}

TEST(ServiceTest, WrongTypesAreErrorsAsInGo) {
  // The README example "ttl":"60" does not decode in CoreDNS either.
  EXPECT_EQ(ParseError(R"({"host":"a","ttl":"60"})"),
            "json: cannot unmarshal string into Go struct field Service.ttl of type uint32");
  EXPECT_EQ(ParseError(R"({"port":80.5})"),
            "json: cannot unmarshal number 80.5 into Go struct field Service.port of type int");
  EXPECT_THAT(ParseError(R"({"ttl":-1})"), HasSubstr("Service.ttl of type uint32"));
  EXPECT_THAT(ParseError(R"({"ttl":4294967296})"), HasSubstr("Service.ttl of type uint32"));
  EXPECT_THAT(ParseError(R"({"mail":"yes"})"), HasSubstr("Service.mail of type bool"));
  EXPECT_THAT(ParseError(R"({"host":5})"), HasSubstr("Service.host of type string"));
  // The first error is reported.
  EXPECT_THAT(ParseError(R"({"port":"x","ttl":"y"})"), HasSubstr("Service.port"));
  EXPECT_EQ(ParseError("[1]"), "json: cannot unmarshal array into Go value of type msg.Service");
  EXPECT_THAT(ParseError(R"({"host":)"), HasSubstr("parse error"));
  EXPECT_THAT(ParseError(""), HasSubstr("parse error"));
}

TEST(ServiceTest, HostKinds) {
  std::array<uint8_t, 16> addr;
  size_t len = 0;
  EXPECT_EQ(ClassifyHost(MustParse(R"({"host":"10.0.0.1"})"), &addr, &len), HostKind::kA);
  EXPECT_EQ(len, 4u);
  EXPECT_EQ(addr[0], 10);
  EXPECT_EQ(ClassifyHost(MustParse(R"({"host":"2003::8:1"})"), &addr, &len), HostKind::kAaaa);
  EXPECT_EQ(len, 16u);
  // An IPv4-mapped address is IPv4 (Go's To4).
  EXPECT_EQ(ClassifyHost(MustParse(R"({"host":"::ffff:10.1.2.3"})"), &addr, &len), HostKind::kA);
  EXPECT_EQ(addr[3], 3);
  EXPECT_EQ(ClassifyHost(MustParse(R"({"host":"web.example."})"), &addr, &len), HostKind::kName);
  // A name with text is a TXT service, never followed as a CNAME.
  EXPECT_EQ(ClassifyHost(MustParse(R"({"host":"web.example.","text":"t"})"), &addr, &len),
            HostKind::kText);
  EXPECT_EQ(ClassifyHost(MustParse(R"({"text":"t"})"), &addr, &len), HostKind::kText);
  // An address with text stays an address.
  EXPECT_EQ(ClassifyHost(MustParse(R"({"host":"10.0.0.1","text":"t"})"), &addr, &len),
            HostKind::kA);
}

TEST(KeyTest, NamesMapToReversedPaths) {
  EXPECT_EQ(PathOf("service.staging.skydns.local.", "skydns"),
            "/skydns/local/skydns/staging/service");
  EXPECT_EQ(PathOf("service.staging.skydns.local.", "/skydns"),
            "/skydns/local/skydns/staging/service");
  EXPECT_EQ(PathOf("a.b.", "/dns/records/"), "/dns/records/b/a");
  EXPECT_EQ(PathOf(".", "skydns"), "/skydns");
  // A label with a slash becomes two path components, as path.Join makes it.
  EXPECT_EQ(PathOf("x/y.local.", "skydns"), "/skydns/local/x/y");
  bool wildcard = false;
  EXPECT_EQ(PathWithWildcard("staging.*.skydns.local.", "skydns", &wildcard),
            "/skydns/local/skydns");
  EXPECT_TRUE(wildcard);
  EXPECT_EQ(PathWithWildcard("a.any.b.local.", "skydns", &wildcard), "/skydns/local/b");
  EXPECT_TRUE(wildcard);
  EXPECT_EQ(PathWithWildcard("a.b.local.", "skydns", &wildcard), "/skydns/local/b/a");
  EXPECT_FALSE(wildcard);
}

TEST(KeyTest, KeysMapToNames) {
  EXPECT_EQ(DomainOf("/skydns/local/skydns/east/rails/1"), "1.rails.east.skydns.local.");
  EXPECT_EQ(DomainOf("/skydns/local/skydns/"), "skydns.local.");
  // Only the first component is the prefix (msg.Domain, not DomainWithPrefix).
  EXPECT_EQ(DomainOf("/dns/records/b/a"), "a.b.records.");
  EXPECT_EQ(DomainOf("/skydns/arpa/in-addr/10/0/0/127"), "127.0.0.10.in-addr.arpa.");
}

TEST(KeyTest, Helpers) {
  EXPECT_EQ(CleanPath("//skydns//a/./b/../c/"), "/skydns/a/c");
  EXPECT_EQ(CleanPath("/"), "/");
  EXPECT_THAT(SplitDomainName("a\\.b.example."), ElementsAre("a\\.b", "example"));
  EXPECT_THAT(SplitDomainName("."), ElementsAre());
  EXPECT_EQ(TargetStrip("a.b.c.", 1), "b.c.");
  EXPECT_EQ(TargetStrip("a.b.c.", 2), "c.");
  EXPECT_EQ(TargetStrip("a.b.c.", 3), "a.b.c.");  // overshoot keeps the name
  EXPECT_EQ(TargetStrip("a\\.b.c.", 1), "c.");
  EXPECT_THAT(Split255("short"), ElementsAre("short"));
  EXPECT_THAT(Split255(std::string(300, 'x')),
              ElementsAre(std::string(255, 'x'), std::string(45, 'x')));
  // CoreDNS's split255 gives exactly 255 octets an empty second string.
  EXPECT_THAT(Split255(std::string(255, 'x')), ElementsAre(std::string(255, 'x'), ""));
  EXPECT_EQ(Fqdn("a.b"), "a.b.");
  EXPECT_EQ(Fqdn("a.b."), "a.b.");
}

TEST(GatewayTest, RequestsCarryBase64KeysAndStringRevisions) {
  EXPECT_EQ(PrefixEnd("/skydns"), "/skydnt");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(RangeRequest("/skydns", "/skydnt", 0, 0),
            R"({"key":"L3NreWRucw==","range_end":"L3NreWRudA=="})");
  EXPECT_EQ(RangeRequest("/a", "/b", 7, 100),
            R"({"key":"L2E=","limit":"100","range_end":"L2I=","revision":"7"})");
  EXPECT_EQ(WatchRequest("/a", "/b", 12),
            R"({"create_request":{"key":"L2E=","range_end":"L2I=","start_revision":"12"}})");
  EXPECT_EQ(LeaseTimeToLiveRequest(4111120242083349255), R"({"ID":"4111120242083349255"})");
}

TEST(GatewayTest, ParsesRangeReplies) {
  // As etcd 3.4 sends them: int64 as strings, zero fields left out.
  RangeResult r;
  std::string error;
  ASSERT_TRUE(ParseRange(
      R"({"header":{"cluster_id":"1","member_id":"2","revision":"3","raft_term":"2"},"kvs":[)"
      R"({"key":"L3NreWRucy9sb2NhbC9za3lkbnMveA==","create_revision":"2","mod_revision":"2",)"
      R"("version":"1","value":"eyJob3N0IjoiMTAuMC4wLjEifQ=="},)"
      R"({"key":"L3NreWRucy9sb2NhbC9za3lkbnMveQ==","create_revision":"3","mod_revision":"3",)"
      R"("version":"1","value":"eyJob3N0IjoiMTAuMC4wLjIifQ==","lease":"4111120242083349255"}],)"
      R"("count":"2"})",
      &r, &error))
      << error;
  EXPECT_EQ(r.revision, 3);
  ASSERT_EQ(r.kvs.size(), 2u);
  EXPECT_EQ(r.kvs[0].key, "/skydns/local/skydns/x");
  EXPECT_EQ(r.kvs[0].value, R"({"host":"10.0.0.1"})");
  EXPECT_EQ(r.kvs[0].lease, 0);
  EXPECT_EQ(r.kvs[1].lease, 4111120242083349255);
  EXPECT_FALSE(r.more);
  ASSERT_TRUE(ParseRange(R"({"header":{"revision":"9"}})", &r, &error));
  EXPECT_TRUE(r.kvs.empty());
  EXPECT_FALSE(
      ParseRange(R"({"error":"etcdserver: mvcc: required revision has been compacted","code":11})",
                 &r, &error));
  EXPECT_EQ(error, "etcdserver: mvcc: required revision has been compacted");
  EXPECT_FALSE(ParseRange("not json", &r, &error));
}

TEST(GatewayTest, ParsesWatchMessages) {
  WatchResult w;
  std::string error;
  ASSERT_TRUE(ParseWatch(R"({"result":{"header":{"revision":"4"},"created":true}})", &w, &error));
  EXPECT_TRUE(w.created);
  EXPECT_EQ(w.revision, 4);
  // A PUT event has no "type"; a DELETE has no value.
  ASSERT_TRUE(ParseWatch(R"({"result":{"header":{"revision":"6"},"events":[)"
                         R"({"kv":{"key":"L2E=","mod_revision":"5","value":"e30=","lease":"7"}},)"
                         R"({"type":"DELETE","kv":{"key":"L2I=","mod_revision":"6"}}]}})",
                         &w, &error))
      << error;
  ASSERT_EQ(w.events.size(), 2u);
  EXPECT_FALSE(w.events[0].deleted);
  EXPECT_EQ(w.events[0].kv.key, "/a");
  EXPECT_EQ(w.events[0].kv.value, "{}");
  EXPECT_EQ(w.events[0].kv.lease, 7);
  EXPECT_TRUE(w.events[1].deleted);
  EXPECT_EQ(w.events[1].kv.key, "/b");
  EXPECT_EQ(w.events[1].kv.mod_revision, 6);
  // A start revision that was compacted away.
  ASSERT_TRUE(ParseWatch(
      R"({"result":{"header":{"raft_term":"2"},"canceled":true,"compact_revision":"4"}})", &w,
      &error));
  EXPECT_TRUE(w.canceled);
  EXPECT_EQ(w.compact_revision, 4);
  EXPECT_FALSE(
      ParseWatch(R"({"error":{"grpc_code":16,"message":"invalid auth token"}})", &w, &error));
  EXPECT_EQ(error, "invalid auth token");
}

TEST(GatewayTest, ParsesLeasesAndTokens) {
  int64_t ttl = 0;
  std::string error;
  ASSERT_TRUE(ParseLeaseTimeToLive(
      R"({"header":{"revision":"3"},"ID":"4111120242083349255","TTL":"59","grantedTTL":"60"})",
      &ttl, &error));
  EXPECT_EQ(ttl, 59);
  ASSERT_TRUE(ParseLeaseTimeToLive(R"({"header":{},"ID":"1","TTL":"-1"})", &ttl, &error));
  EXPECT_EQ(ttl, -1);
  std::string token;
  ASSERT_TRUE(ParseAuthenticate(R"({"header":{},"token":"abc.7"})", &token, &error));
  EXPECT_EQ(token, "abc.7");
}

std::shared_ptr<Record> MakeRecord(const std::string& key) {
  auto r = std::make_shared<Record>();
  r->key = key;
  r->service = Service{};
  r->service->host = key;
  return r;
}

std::vector<std::string> Keys(const Snapshot& s, std::string_view prefix) {
  std::vector<std::string> keys;
  s.ForEachWithPrefix(prefix, [&](const Record& r) { keys.push_back(r.key); });
  return keys;
}

TEST(SnapshotTest, PutDeleteAndPrefixReads) {
  SnapshotBuilder b(nullptr);
  for (const char* key : {"/skydns/local/b", "/skydns/local/a/x", "/skydns/local/a", "/skydnsx"}) {
    b.Put(MakeRecord(key));
  }
  std::shared_ptr<const Snapshot> s1 = b.Build(5);
  EXPECT_EQ(s1->revision(), 5);
  EXPECT_EQ(s1->size(), 4u);
  EXPECT_THAT(Keys(*s1, "/skydns/local/a/"), ElementsAre("/skydns/local/a/x"));
  EXPECT_THAT(Keys(*s1, "/skydns/"),
              ElementsAre("/skydns/local/a", "/skydns/local/a/x", "/skydns/local/b"));
  ASSERT_NE(s1->Find("/skydns/local/a"), nullptr);
  EXPECT_EQ(s1->Find("/skydns/local/c"), nullptr);

  // The next version shares the old one's records and leaves it intact.
  SnapshotBuilder b2(s1.get());
  b2.Delete("/skydns/local/a/x");
  b2.Put(MakeRecord("/skydns/local/c"));
  auto replaced = MakeRecord("/skydns/local/b");
  replaced->service->host = "new";
  b2.Put(replaced);
  std::shared_ptr<const Snapshot> s2 = b2.Build(6);
  EXPECT_THAT(Keys(*s2, "/skydns/"),
              ElementsAre("/skydns/local/a", "/skydns/local/b", "/skydns/local/c"));
  EXPECT_EQ(s2->Find("/skydns/local/b")->service->host, "new");
  EXPECT_EQ(s2->Find("/skydns/local/a"), s1->Find("/skydns/local/a"));
  EXPECT_THAT(Keys(*s1, "/skydns/"),
              ElementsAre("/skydns/local/a", "/skydns/local/a/x", "/skydns/local/b"));
  EXPECT_EQ(s1->Find("/skydns/local/b")->service->host, "/skydns/local/b");
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(SnapshotTest, RandomChangesMatchAnOrderedMap) {
  // Enough keys to split and empty chunks; every version checked against
  // std::map, and the first version checked again at the end.
  std::mt19937 rng(7);
  std::map<std::string, std::string> reference;
  std::shared_ptr<const Snapshot> current;
  std::shared_ptr<const Snapshot> first;
  std::map<std::string, std::string> first_reference;
  for (int round = 0; round < 40; ++round) {
    SnapshotBuilder b(current.get());
    for (int i = 0; i < 300; ++i) {
      const std::string key = "/k/" + std::to_string(rng() % 3000);
      if (rng() % 3 == 0) {
        b.Delete(key);
        reference.erase(key);
      } else {
        auto r = MakeRecord(key);
        r->service->host = std::to_string(round);
        b.Put(r);
        reference[key] = r->service->host;
      }
    }
    current = b.Build(round);
    if (round == 0) {
      first = current;
      first_reference = reference;
    }
    ASSERT_EQ(current->size(), reference.size());
    Pairs seen;
    current->ForEachWithPrefix("/k/",
                               [&](const Record& r) { seen.emplace_back(r.key, r.service->host); });
    ASSERT_EQ(seen, Pairs(reference.begin(), reference.end()));
    ASSERT_THAT(Keys(*current, "/k/12"), ::testing::Each(::testing::StartsWith("/k/12")));
  }
  Pairs seen;
  first->ForEachWithPrefix("", [&](const Record& r) { seen.emplace_back(r.key, r.service->host); });
  EXPECT_EQ(seen, Pairs(first_reference.begin(), first_reference.end()));
}

}  // namespace
}  // namespace warpdns::slowpath::etcd
