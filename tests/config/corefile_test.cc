#include "config/corefile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace warpdns::config {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const char* FakeEnv(const char* name) {
  if (std::strcmp(name, "ZONE") == 0) return "Example.ORG";
  if (std::strcmp(name, "PORT") == 0) return "1053";
  if (std::strcmp(name, "BADPORT") == 0) return "abc";
  if (std::strcmp(name, "UPSTREAM") == 0) return "9.9.9.9";
  if (std::strcmp(name, "SPACED") == 0) return "two words";
  return nullptr;
}

ParseOptions Options(uint16_t dns_port = 53) {
  ParseOptions options;
  options.default_dns_port = dns_port;
  options.getenv = FakeEnv;
  return options;
}

Corefile Parse(std::string_view text, const ParseOptions& options = Options(),
               const std::string& filename = "Corefile") {
  std::string error;
  std::optional<Corefile> corefile = ParseCorefile(text, filename, options, &error);
  EXPECT_TRUE(corefile.has_value()) << error;
  return corefile.value_or(Corefile{});
}

std::string ParseError(std::string_view text, const std::string& filename = "Corefile") {
  std::string error;
  std::optional<Corefile> corefile = ParseCorefile(text, filename, Options(), &error);
  EXPECT_FALSE(corefile.has_value()) << "parsed without error:\n" << text;
  return error;
}

std::vector<std::string> Zones(const ServerBlock& block) {
  std::vector<std::string> zones;
  for (const Address& a : block.addresses) zones.push_back(a.ToString());
  return zones;
}

std::vector<std::string> Names(const std::vector<Directive>& directives) {
  std::vector<std::string> names;
  for (const Directive& d : directives) names.push_back(d.name.text);
  return names;
}

std::vector<std::string> Args(const Directive& d) {
  std::vector<std::string> args;
  for (const Token& t : d.args) args.push_back(t.text);
  return args;
}

// A scratch directory for import tests, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "warpdns-config-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, std::string_view contents) const {
    fs::path p = fs::path(path_) / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << contents;
    return p.string();
  }
  std::string Path(const std::string& name) const { return (fs::path(path_) / name).string(); }

 private:
  std::string path_;
};

TEST(CorefileTest, KubeadmDefault) {
  const char* kText = R"(.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
)";
  Corefile c = Parse(kText);
  EXPECT_FALSE(c.global.has_value());
  EXPECT_THAT(c.files, ElementsAre("Corefile"));
  ASSERT_EQ(c.blocks.size(), 1u);
  const ServerBlock& b = c.blocks[0];
  EXPECT_THAT(Zones(b), ElementsAre("dns://.:53"));
  EXPECT_TRUE(b.addresses[0].port_explicit);
  EXPECT_EQ(b.first_key.text, ".:53");
  EXPECT_EQ(b.first_key.line, 1);
  EXPECT_THAT(Names(b.directives),
              ElementsAre("errors", "health", "ready", "kubernetes", "prometheus", "forward",
                          "cache", "loop", "reload", "loadbalance"));
  const Directive& health = b.directives[1];
  EXPECT_TRUE(health.has_block);
  EXPECT_EQ(health.block_open.line, 3);
  ASSERT_EQ(health.block.size(), 1u);
  EXPECT_EQ(health.block[0].name.text, "lameduck");
  EXPECT_THAT(Args(health.block[0]), ElementsAre("5s"));
  const Directive& k8s = b.directives[3];
  EXPECT_EQ(k8s.name.line, 7);
  EXPECT_THAT(Args(k8s), ElementsAre("cluster.local", "in-addr.arpa", "ip6.arpa"));
  EXPECT_THAT(Names(k8s.block), ElementsAre("pods", "fallthrough", "ttl"));
  EXPECT_THAT(Args(k8s.block[1]), ElementsAre("in-addr.arpa", "ip6.arpa"));
  EXPECT_EQ(k8s.block[2].name.line, 10);
  EXPECT_THAT(Args(b.directives[4]), ElementsAre(":9153"));
  const Directive& forward = b.directives[5];
  EXPECT_THAT(Args(forward), ElementsAre(".", "/etc/resolv.conf"));
  ASSERT_EQ(forward.block.size(), 1u);
  EXPECT_THAT(Args(forward.block[0]), ElementsAre("1000"));
  EXPECT_THAT(Args(b.directives[6]), ElementsAre("30"));
  EXPECT_FALSE(b.directives[7].has_block);
  EXPECT_TRUE(b.directives[7].args.empty());
  EXPECT_EQ(b.directives[9].name.line, 19);
}

TEST(CorefileTest, EmptyFilesHaveNoBlocks) {
  EXPECT_TRUE(Parse("").blocks.empty());
  EXPECT_TRUE(Parse("\n\n# just a comment\n").blocks.empty());
}

TEST(CorefileTest, SeveralKeysSpacesAndCommas) {
  Corefile c = Parse("example.org example.net, Example.COM:1053,other.org {\n  whoami\n}\n");
  ASSERT_EQ(c.blocks.size(), 1u);
  EXPECT_THAT(Zones(c.blocks[0]), ElementsAre("dns://example.org.:53", "dns://example.net.:53",
                                              "dns://example.com.:1053", "dns://other.org.:53"));
  EXPECT_EQ(c.blocks[0].addresses[2].key.text, "Example.COM:1053");
}

TEST(CorefileTest, TrailingCommaContinuesKeysOnNextLine) {
  Corefile c = Parse("a.org,\n  b.org,\n  c.org {\n  whoami\n}\n");
  ASSERT_EQ(c.blocks.size(), 1u);
  EXPECT_THAT(Zones(c.blocks[0]),
              ElementsAre("dns://a.org.:53", "dns://b.org.:53", "dns://c.org.:53"));
  EXPECT_EQ(c.blocks[0].addresses[2].key.line, 3);
  EXPECT_THAT(Names(c.blocks[0].directives), ElementsAre("whoami"));
}

TEST(CorefileTest, SeveralBlocks) {
  Corefile c = Parse("example.org {\n  file db.example.org\n}\n\n. {\n  forward . 8.8.8.8\n}\n");
  ASSERT_EQ(c.blocks.size(), 2u);
  EXPECT_THAT(Zones(c.blocks[0]), ElementsAre("dns://example.org.:53"));
  EXPECT_THAT(Zones(c.blocks[1]), ElementsAre("dns://.:53"));
  EXPECT_EQ(c.blocks[1].directives[0].name.line, 6);
}

TEST(CorefileTest, TransportsAndDefaultPorts) {
  Corefile c = Parse(
      "dns://a.org tls://a.org grpc://a.org https://a.org quic://a.org https3://a.org "
      "TLS://b.org:8853 c.org {\n  whoami\n}\n");
  ASSERT_EQ(c.blocks.size(), 1u);
  EXPECT_THAT(Zones(c.blocks[0]),
              ElementsAre("dns://a.org.:53", "tls://a.org.:853", "grpc://a.org.:443",
                          "https://a.org.:443", "quic://a.org.:853", "https3://a.org.:443",
                          "tls://b.org.:8853", "dns://c.org.:53"));
  EXPECT_FALSE(c.blocks[0].addresses[1].port_explicit);
  EXPECT_TRUE(c.blocks[0].addresses[6].port_explicit);
  EXPECT_EQ(c.blocks[0].addresses[6].transport, "tls");
  EXPECT_EQ(c.blocks[0].addresses[6].zone, "b.org.");
  EXPECT_EQ(c.blocks[0].addresses[6].port, 8853);
}

TEST(CorefileTest, DnsPortFlagReplacesOnlyTheDnsDefault) {
  Corefile c = Parse(". tls://. example.org:53 dns://example.net {\n  whoami\n}\n", Options(1053));
  EXPECT_THAT(Zones(c.blocks[0]), ElementsAre("dns://.:1053", "tls://.:853",
                                              "dns://example.org.:53", "dns://example.net.:1053"));
}

TEST(CorefileTest, PortOnlyKeyIsTheRoot) {
  Corefile c = Parse(":1053 {\n  whoami\n}\n");
  EXPECT_THAT(Zones(c.blocks[0]), ElementsAre("dns://.:1053"));
}

TEST(CorefileTest, ZonesAreLowercaseFqdn) {
  Corefile c = Parse("Example.ORG. sub.Example.org {\n}\n");
  EXPECT_EQ(c.blocks[0].addresses[0].zone, "example.org.");
  EXPECT_EQ(c.blocks[0].addresses[1].zone, "sub.example.org.");
  EXPECT_TRUE(c.blocks[0].directives.empty());
}

TEST(CorefileTest, Ipv4CidrKeys) {
  Corefile c = Parse(
      "10.0.0.0/8 172.16.0.0/16 192.168.1.0/24 192.168.2.7/32:1053 0.0.0.0/0 {\n  whoami\n}\n");
  EXPECT_THAT(Zones(c.blocks[0]),
              ElementsAre("dns://10.in-addr.arpa.:53", "dns://16.172.in-addr.arpa.:53",
                          "dns://1.168.192.in-addr.arpa.:53",
                          "dns://7.2.168.192.in-addr.arpa.:1053", "dns://in-addr.arpa.:53"));
  for (const Address& a : c.blocks[0].addresses) EXPECT_EQ(a.cidr_filter, "");
}

TEST(CorefileTest, CidrOffBoundaryUsesEnclosingZoneAndFilter) {
  Corefile c = Parse("10.0.0.0/27 {\n}\n10.1.0.37/27 {\n}\n");
  ASSERT_EQ(c.blocks.size(), 2u);
  ASSERT_EQ(c.blocks[0].addresses.size(), 1u);
  EXPECT_EQ(c.blocks[0].addresses[0].zone, "0.0.10.in-addr.arpa.");
  EXPECT_EQ(c.blocks[0].addresses[0].cidr_filter, "10.0.0.0/27");
  EXPECT_EQ(c.blocks[0].addresses[0].key.text, "10.0.0.0/27");
  EXPECT_EQ(c.blocks[1].addresses[0].zone, "0.1.10.in-addr.arpa.");
  EXPECT_EQ(c.blocks[1].addresses[0].cidr_filter, "10.1.0.32/27");  // host bits dropped
}

TEST(CorefileTest, CidrShorterThanBoundarySplitsIntoZones) {
  Corefile c = Parse("10.0.0.0/23 {\n}\n10.4.0.0/14 {\n}\n");
  EXPECT_THAT(Zones(c.blocks[0]),
              ElementsAre("dns://0.0.10.in-addr.arpa.:53", "dns://1.0.10.in-addr.arpa.:53"));
  EXPECT_THAT(Zones(c.blocks[1]),
              ElementsAre("dns://4.10.in-addr.arpa.:53", "dns://5.10.in-addr.arpa.:53",
                          "dns://6.10.in-addr.arpa.:53", "dns://7.10.in-addr.arpa.:53"));
}

TEST(CorefileTest, Ipv6CidrKeysAreNibbleZones) {
  Corefile c = Parse("2001:db8::/64 2001:DB8:aa00::/56 2001:db8::/32:1053 {\n}\n");
  EXPECT_THAT(Zones(c.blocks[0]), ElementsAre("dns://0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.:53",
                                              "dns://0.0.0.0.a.a.8.b.d.0.1.0.0.2.ip6.arpa.:53",
                                              "dns://8.b.d.0.1.0.0.2.ip6.arpa.:1053"));
}

TEST(CorefileTest, Ipv6CidrOffNibbleBoundary) {
  Corefile c = Parse("2001:db8::/63 {\n}\nfd00::10/126 {\n}\n");
  EXPECT_THAT(Zones(c.blocks[0]),
              ElementsAre("dns://0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.:53",
                          "dns://1.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.:53"));
  ASSERT_EQ(c.blocks[1].addresses.size(), 1u);
  EXPECT_EQ(c.blocks[1].addresses[0].zone,
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.");
  EXPECT_EQ(c.blocks[1].addresses[0].cidr_filter, "fd00::10/126");
}

TEST(CorefileTest, TrailingDotKeepsCidrLiteral) {
  Corefile c = Parse("10.0.0.0/24. {\n}\n");
  EXPECT_THAT(Zones(c.blocks[0]), ElementsAre("dns://10.0.0.0/24.:53"));
  // A name with a slash that is not an address is a plain name (RFC 2317 style).
  Corefile rfc2317 = Parse("0/26.2.0.192.in-addr.arpa {\n}\n");
  EXPECT_EQ(rfc2317.blocks[0].addresses[0].zone, "0/26.2.0.192.in-addr.arpa.");
}

TEST(CorefileTest, QuotesEscapesAndComments) {
  Corefile c = Parse(R"(# leading comment
example.org { # after the brace
    # a whole-line comment
    template IN TXT {
        answer "{{ .Name }} 60 IN TXT \"a # b\""
    }
    log . "{remote} - {>id}" # trailing comment
}
)");
  const auto& d = c.blocks[0].directives;
  ASSERT_THAT(Names(d), ElementsAre("template", "log"));
  ASSERT_EQ(d[0].block.size(), 1u);
  EXPECT_THAT(Args(d[0].block[0]), ElementsAre("{{ .Name }} 60 IN TXT \"a # b\""));
  EXPECT_TRUE(d[0].block[0].args[0].quoted);
  EXPECT_THAT(Args(d[1]), ElementsAre(".", "{remote} - {>id}"));
  EXPECT_EQ(d[1].name.line, 7);
}

TEST(CorefileTest, QuotedBraceIsAnArgument) {
  Corefile c = Parse(". {\n  whoami \"{\"\n}\n");
  EXPECT_THAT(Args(c.blocks[0].directives[0]), ElementsAre("{"));
  EXPECT_FALSE(c.blocks[0].directives[0].has_block);
}

TEST(CorefileTest, EnvironmentVariablesInKeysAndArguments) {
  Corefile c = Parse(
      "{$ZONE}:{$PORT} {\n  forward . {$UPSTREAM} {%UPSTREAM%}:53\n"
      "  log {$SPACED} x{$UNSET}y\n}\n");
  EXPECT_THAT(Zones(c.blocks[0]), ElementsAre("dns://example.org.:1053"));
  EXPECT_EQ(c.blocks[0].addresses[0].key.text, "Example.ORG:1053");
  EXPECT_THAT(Args(c.blocks[0].directives[0]), ElementsAre(".", "9.9.9.9", "9.9.9.9:53"));
  EXPECT_THAT(Args(c.blocks[0].directives[1]), ElementsAre("two words", "xy"));
}

TEST(CorefileTest, SnippetsAreSplicedWhereImported) {
  Corefile c = Parse(R"((common) {
    errors
    log
}
(upstream) { forward . 1.1.1.1 }
example.org {
    import common
    whoami
}
example.net {
    import upstream
    cache {
        import common
    }
}
)");
  ASSERT_EQ(c.blocks.size(), 2u);
  EXPECT_THAT(Names(c.blocks[0].directives), ElementsAre("errors", "log", "whoami"));
  // Spliced tokens keep the line where the snippet defined them.
  EXPECT_EQ(c.blocks[0].directives[0].name.line, 2);
  EXPECT_EQ(c.blocks[0].directives[2].name.line, 8);
  ASSERT_THAT(Names(c.blocks[1].directives), ElementsAre("forward", "cache"));
  EXPECT_THAT(Args(c.blocks[1].directives[0]), ElementsAre(".", "1.1.1.1"));
  EXPECT_THAT(Names(c.blocks[1].directives[1].block), ElementsAre("errors", "log"));
}

TEST(CorefileTest, SnippetImportingSnippetAndTopLevelImport) {
  Corefile c = Parse(R"((base) {
    errors
}
(full) {
    import base
    log
}
(zone) {
    example.org {
        import full
    }
}
import zone
)");
  ASSERT_EQ(c.blocks.size(), 1u);
  EXPECT_THAT(Zones(c.blocks[0]), ElementsAre("dns://example.org.:53"));
  EXPECT_THAT(Names(c.blocks[0].directives), ElementsAre("errors", "log"));
}

TEST(CorefileTest, NestedBlocksTwoDeep) {
  Corefile c = Parse(R"(. {
    kubernetes cluster.local {
        endpoint https://k8s:6443
        tls cert key ca
        namespaces {
            default kube-system
        }
    }
    health { lameduck 5s }
}
)");
  const Directive& k8s = c.blocks[0].directives[0];
  ASSERT_THAT(Names(k8s.block), ElementsAre("endpoint", "tls", "namespaces"));
  const Directive& ns = k8s.block[2];
  EXPECT_TRUE(ns.has_block);
  ASSERT_EQ(ns.block.size(), 1u);
  EXPECT_EQ(ns.block[0].name.text, "default");
  EXPECT_THAT(Args(ns.block[0]), ElementsAre("kube-system"));
  EXPECT_EQ(ns.block[0].name.line, 6);
  const Directive& health = c.blocks[0].directives[1];
  ASSERT_EQ(health.block.size(), 1u);
  EXPECT_THAT(Args(health.block[0]), ElementsAre("5s"));
}

TEST(CorefileTest, EmptyNestedBlock) {
  Corefile c = Parse(". {\n  health {\n  }\n  ready {}\n}\n");
  EXPECT_TRUE(c.blocks[0].directives[0].has_block);
  EXPECT_TRUE(c.blocks[0].directives[0].block.empty());
  // "{}" is one token, an argument: braces must stand alone.
  EXPECT_THAT(Args(c.blocks[0].directives[1]), ElementsAre("{}"));
}

TEST(CorefileTest, SingleBlockWithoutBraces) {
  Corefile c = Parse("example.org:1053\nwhoami\nforward . 8.8.8.8 {\n  max_fails 2\n}\nlog\n");
  ASSERT_EQ(c.blocks.size(), 1u);
  EXPECT_THAT(Zones(c.blocks[0]), ElementsAre("dns://example.org.:1053"));
  EXPECT_THAT(Names(c.blocks[0].directives), ElementsAre("whoami", "forward", "log"));
  EXPECT_EQ(c.blocks[0].directives[2].name.line, 6);
}

TEST(CorefileTest, KeysOnly) {
  Corefile c = Parse("example.org");
  ASSERT_EQ(c.blocks.size(), 1u);
  EXPECT_TRUE(c.blocks[0].directives.empty());
}

TEST(CorefileTest, BraceOnItsOwnLine) {
  Corefile c = Parse("example.org\n{\n  forward . 1.1.1.1\n  {\n    max_fails 1\n  }\n}\n");
  ASSERT_EQ(c.blocks.size(), 1u);
  ASSERT_EQ(c.blocks[0].directives.size(), 1u);
  EXPECT_TRUE(c.blocks[0].directives[0].has_block);
  EXPECT_EQ(c.blocks[0].directives[0].block_open.line, 4);
}

TEST(CorefileTest, OneLineBlocks) {
  Corefile c = Parse(". { whoami }\nexample.org { log\n}\n");
  ASSERT_EQ(c.blocks.size(), 2u);
  EXPECT_THAT(Names(c.blocks[0].directives), ElementsAre("whoami"));
  EXPECT_THAT(Names(c.blocks[1].directives), ElementsAre("log"));
}

TEST(CorefileTest, GlobalOptionsBlock) {
  Corefile c = Parse(R"({
    io af_xdp eth0
    cores 2-3
    eal {
        --huge-dir /mnt/huge
    }
}
.:53 {
    whoami
}
)");
  ASSERT_TRUE(c.global.has_value());
  EXPECT_EQ(c.global->name.text, "{");
  EXPECT_EQ(c.global->name.line, 1);
  EXPECT_TRUE(c.global->has_block);
  ASSERT_THAT(Names(c.global->block), ElementsAre("io", "cores", "eal"));
  EXPECT_THAT(Args(c.global->block[0]), ElementsAre("af_xdp", "eth0"));
  EXPECT_EQ(c.global->block[2].block[0].name.text, "--huge-dir");
  ASSERT_EQ(c.blocks.size(), 1u);
}

TEST(CorefileTest, ViewAllowsTheSameZoneTwice) {
  Corefile c = Parse(R"(. {
    view internal {
        expr incidr(client_ip(), '10.0.0.0/8')
    }
    whoami
}
. {
    forward . 1.1.1.1
}
)");
  EXPECT_EQ(c.blocks.size(), 2u);
}

TEST(CorefileTest, SameZoneOnDifferentPortsOrTransports) {
  Corefile c = Parse("example.org {\n}\nexample.org:1053 {\n}\ntls://example.org {\n}\n");
  EXPECT_EQ(c.blocks.size(), 3u);
}

TEST(CorefileTest, ImportFilesAndGlobs) {
  TempDir dir;
  dir.Write("conf.d/b.conf", "b.org {\n  log\n}\n");
  dir.Write("conf.d/a.conf", "a.org {\n  import ../common.inc\n}\n");
  dir.Write("conf.d/subdir/ignored.conf", "not parsed\n");
  dir.Write("common.inc", "errors\ncache 30\n");
  dir.Write("upstream.inc", "max_fails 3\n");
  const std::string corefile = dir.Write("Corefile", R"(import conf.d/*.conf
import nothing/*.conf
. {
    forward . 1.1.1.1 {
        import upstream.inc
    }
}
)");
  std::string error;
  auto c = ParseCorefileFile(corefile, Options(), &error);
  ASSERT_TRUE(c.has_value()) << error;
  ASSERT_EQ(c->blocks.size(), 3u);
  EXPECT_THAT(Zones(c->blocks[0]), ElementsAre("dns://a.org.:53"));
  EXPECT_THAT(Zones(c->blocks[1]), ElementsAre("dns://b.org.:53"));
  EXPECT_THAT(Zones(c->blocks[2]), ElementsAre("dns://.:53"));
  const auto& a = c->blocks[0].directives;
  ASSERT_THAT(Names(a), ElementsAre("errors", "cache"));
  // Imported tokens keep their own file and line.
  EXPECT_EQ(a[1].name.file, dir.Path("common.inc"));
  EXPECT_EQ(a[1].name.line, 2);
  EXPECT_EQ(c->blocks[0].first_key.file, dir.Path("conf.d/a.conf"));
  const Directive& forward = c->blocks[2].directives[0];
  ASSERT_EQ(forward.block.size(), 1u);
  EXPECT_EQ(forward.block[0].name.text, "max_fails");
  // Read order: a glob's matches are all read when the glob is expanded.
  EXPECT_THAT(c->files, ElementsAre(corefile, dir.Path("conf.d/a.conf"), dir.Path("conf.d/b.conf"),
                                    dir.Path("common.inc"), dir.Path("upstream.inc")));
}

TEST(CorefileTest, SameFileImportedTwiceIsNotACycle) {
  TempDir dir;
  dir.Write("common.inc", "errors\n");
  const std::string corefile =
      dir.Write("Corefile", "a.org {\n  import common.inc\n}\nb.org {\n  import common.inc\n}\n");
  std::string error;
  auto c = ParseCorefileFile(corefile, Options(), &error);
  ASSERT_TRUE(c.has_value()) << error;
  EXPECT_THAT(Names(c->blocks[1].directives), ElementsAre("errors"));
  EXPECT_EQ(c->files.size(), 2u);
}

TEST(CorefileTest, SnippetsDefinedInImportedFiles) {
  TempDir dir;
  dir.Write("snippets.inc", "(common) {\n  errors\n}\n");
  const std::string corefile =
      dir.Write("Corefile", "import snippets.inc\n. {\n  import common\n}\n");
  std::string error;
  auto c = ParseCorefileFile(corefile, Options(), &error);
  ASSERT_TRUE(c.has_value()) << error;
  EXPECT_THAT(Names(c->blocks[0].directives), ElementsAre("errors"));
  EXPECT_EQ(c->blocks[0].directives[0].name.file, dir.Path("snippets.inc"));
}

TEST(CorefileTest, ImportErrorsNameTheImportedFileAndLine) {
  TempDir dir;
  dir.Write("inc.conf", "errors\n\nbogus arg\n");
  const std::string corefile = dir.Write("Corefile", ". {\n  import inc.conf\n}\n");
  std::string error;
  EXPECT_FALSE(ParseCorefileFile(corefile, Options(), &error).has_value());
  EXPECT_EQ(error, dir.Path("inc.conf") + ":3 - Error during parsing: Unknown directive 'bogus'");
}

TEST(CorefileTest, RecursiveFileImportIsAnError) {
  TempDir dir;
  dir.Write("a.conf", "log\nimport b.conf\n");
  dir.Write("b.conf", "errors\n\nimport a.conf\n");
  const std::string corefile = dir.Write("Corefile", ". {\n  import a.conf\n}\n");
  std::string error;
  EXPECT_FALSE(ParseCorefileFile(corefile, Options(), &error).has_value());
  EXPECT_THAT(error, StartsWith(dir.Path("b.conf") + ":3 - Error during parsing: Import cycle"));
}

TEST(CorefileTest, GlobMatchingTheImportingFileIsACycle) {
  TempDir dir;
  dir.Write("zones/a.conf", "a.org {\n}\nimport *.conf\n");
  const std::string corefile = dir.Write("Corefile", "import zones/*.conf\n");
  std::string error;
  EXPECT_FALSE(ParseCorefileFile(corefile, Options(), &error).has_value());
  EXPECT_THAT(error, StartsWith(dir.Path("zones/a.conf") + ":3 - Error during parsing: Import "
                                                           "cycle"));
}

TEST(CorefileTest, ImportOfTheMainFileIsACycle) {
  TempDir dir;
  const std::string corefile = dir.Write("Corefile", ". {\n  whoami\n}\nimport Corefile\n");
  std::string error;
  EXPECT_FALSE(ParseCorefileFile(corefile, Options(), &error).has_value());
  EXPECT_THAT(error, StartsWith(corefile + ":4 - Error during parsing: Import cycle"));
}

TEST(CorefileTest, ImportCapStopsFanOut) {
  // s0 imports s1 twice, s1 imports s2 twice, ...: no cycle, 2^15 imports.
  std::string text;
  for (int i = 14; i >= 0; --i) {
    const std::string next = "s" + std::to_string(i + 1);
    text += "(s" + std::to_string(i) + ") {\n";
    text += i == 14 ? "  whoami\n" : "  import " + next + "\n  import " + next + "\n";
    text += "}\n";
  }
  text += ". {\n  import s0\n}\n";
  const std::string error = ParseError(text);
  EXPECT_THAT(error, StartsWith("Corefile:"));
  EXPECT_THAT(error, HasSubstr("Maximum number of imports (10000) exceeded"));
}

TEST(CorefileTest, MissingCorefile) {
  std::string error;
  EXPECT_FALSE(ParseCorefileFile("/nonexistent/Corefile", Options(), &error).has_value());
  EXPECT_THAT(error, StartsWith("/nonexistent/Corefile:0 - Error during parsing: Could not read"));
}

struct BadCase {
  const char* name;
  const char* text;
  int line;
  const char* fragment;
};

const BadCase kBadCases[] = {
    {"UnclosedBlock", ".:53 {\n  log\n", 1, "Unexpected EOF, expected '}'"},
    {"UnclosedBlockAfterOthers", "a.org {\n}\n\nb.org {\n  log\n  errors\n", 4,
     "Unexpected EOF, expected '}'"},
    {"NestedUnclosed", ".:53 {\n  forward . 1.1.1.1 {\n    max_fails 3\n", 2,
     "Unexpected EOF, expected '}'"},
    {"DeepNestedUnclosed", ". {\n  kubernetes {\n    namespaces {\n      a\n    }\n", 2,
     "expected '}'"},
    {"ExtraCloseBrace", ".:53 {\n  log\n}\n}\n", 4,
     "Unexpected '}' because no matching opening brace"},
    {"CloseBraceInsteadOfKeys", "}\n", 1, "no matching opening brace"},
    {"CloseBraceInBracelessBlock", "example.org\nlog\n}\n", 3, "no matching opening brace"},
    {"UnknownDirective", ".:53 {\n  log\n  foo bar\n}\n", 3, "Unknown directive 'foo'"},
    {"UnknownDirectiveInBracelessBlock", "example.org\nlog\nproxi . 8.8.8.8\n", 3,
     "Unknown directive 'proxi'"},
    {"KeyListThenDirective", "example.org\nfoo\n", 2, "Unknown directive 'foo'"},
    {"DirectiveBeforeAnyKey", "log\n.:53 {\n}\n", 2, "Unknown directive '.:53'"},
    {"PortNotNumeric", "example.org:abc {\n}\n", 1, "Invalid port 'abc'"},
    {"PortZero", "\n\nexample.org:0 {\n}\n", 3, "Invalid port '0'"},
    {"PortTooLarge", "example.org:70000 {\n}\n", 1, "Invalid port '70000'"},
    {"PortMissing", "example.org: {\n}\n", 1, "Missing port after ':'"},
    {"PortFromEnvironment", "example.org:{$BADPORT} {\n}\n", 1, "Invalid port 'abc'"},
    {"PortFromUnsetEnvironment", "a.org {\n}\nexample.org:{$UNSET} {\n}\n", 3, "Missing port"},
    {"UnknownScheme", "udp://example.org {\n}\n", 1, "Unknown scheme 'udp'"},
    {"EmptyZone", "dns:// {\n}\n", 1, "Empty zone"},
    {"EmptyKey", "\"\" {\n}\n", 1, "Empty server block key"},
    {"EmptyLabel", "a..org {\n}\n", 1, "empty label"},
    {"BraceGluedToKey", "example.org{\n}\n", 1, "must be separated"},
    {"DuplicateZoneTwoBlocks", "example.org {\n}\n\nEXAMPLE.org.:53 {\n}\n", 4,
     "cannot serve dns://example.org.:53 - it is already defined"},
    {"DuplicateZoneInOneBlock", "a.org example.org example.org {\n}\n", 1,
     "cannot serve dns://example.org.:53 - it is already defined"},
    {"DuplicateOnContinuationLine", "a.org,\nb.org,\na.org {\n}\n", 3,
     "cannot serve dns://a.org.:53 - it is already defined"},
    {"DuplicateViaDnsPortDefault", ".:53 {\n}\n. {\n}\n", 3, "cannot serve dns://.:53"},
    {"DuplicateReverseZone", "10.0.0.0/24 {\n}\n0.0.10.in-addr.arpa {\n}\n", 3,
     "cannot serve dns://0.0.10.in-addr.arpa.:53"},
    {"BadCidrV4", "10.0.0.0/33 {\n}\n", 1, "Invalid CIDR '10.0.0.0/33'"},
    {"BadCidrV6", "2001:db8::/129 {\n}\n", 1, "Invalid CIDR"},
    {"BadCidrMask", "10.0.0.0/x {\n}\n", 1, "Invalid CIDR"},
    {"MissingImportFile", ".:53 {\n  log\n  import missing.conf\n}\n", 3,
     "File to import not found: missing.conf"},
    {"ImportUndefinedSnippet", ".:53 {\n  import common\n}\n(common) {\n  log\n}\n", 2,
     "File to import not found: common"},
    {"SnippetRedefined", "(a) {\n  log\n}\n(a) {\n  errors\n}\n", 4,
     "Redeclaration of previously declared snippet a"},
    {"SnippetWithoutBrace", "(a)\nlog\n", 1, "must be followed by '{'"},
    {"SnippetUnclosed", "(a) {\n  log\n", 1, "expected '}'"},
    {"SnippetAmongKeys", "(a) b.org {\n}\n", 1, "must be the only key"},
    {"RecursiveSnippet", "(a) {\n  import a\n}\n.:53 {\n  import a\n}\n", 2, "Import cycle"},
    {"MutuallyRecursiveSnippets",
     "(a) {\n  import b\n}\n(b) {\n  log\n  import a\n}\n. {\n"
     "  import a\n}\n",
     6, "Import cycle: snippet 'a' imports itself"},
    {"UnknownDirectiveFromSnippet", "(s) {\n  bogus\n}\n.:53 {\n  import s\n}\n", 2,
     "Unknown directive 'bogus'"},
    {"ImportExtraArgs", ".:53 {\n  import a b\n}\n", 2, "Import takes only one argument"},
    {"ImportNoArgs", ".:53 {\n  import\n}\n", 2,
     "Wrong argument count or unexpected line ending after 'import'"},
    {"ImportEmptyPattern", ".:53 {\n  import \"\"\n}\n", 2, "non-empty filepath"},
    {"UnclosedQuote", ".:53 {\n  log \"abc\n}\n", 2, "Unclosed quote"},
    {"OpenBraceWhereKeysExpected", "a.org {\n}\n{\n}\n", 3, "expected server block keys"},
    {"SecondGlobalBlock", "{\n}\n{\n}\n", 3, "expected server block keys"},
    {"OpenBraceWhereDirectiveExpected", ".:53 {\n  {\n  }\n}\n", 2, "expected a directive name"},
    {"OpenBraceAfterNestedBlock", ".:53 {\n  log {\n  }\n  {\n  }\n}\n", 4,
     "expected a directive name"},
    {"TokenAfterNestedClose", ".:53 {\n  health {\n  } ready\n}\n", 3, "after '}'"},
    {"ExtraCommaBeforeBrace", "a.org, {\n}\n", 1, "check for extra comma"},
    {"TrailingCommaAtEof", "a.org,b.org,", 1, "expected another key"},
    {"DirectiveAfterMultilineQuote", ". {\n  log \"a\nb\"\n  nope\n}\n", 4,
     "Unknown directive 'nope'"},
};

class BadCorefileTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadCorefileTest, ErrorNamesFileLineAndProblem) {
  const BadCase& c = GetParam();
  const std::string error = ParseError(c.text, "conf/Corefile");
  const std::string prefix =
      "conf/Corefile:" + std::to_string(c.line) + " - Error during parsing: ";
  EXPECT_THAT(error, StartsWith(prefix)) << c.text;
  EXPECT_THAT(error, HasSubstr(c.fragment));
}

INSTANTIATE_TEST_SUITE_P(Malformed, BadCorefileTest, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(CorefileTest, ErrorFormat) {
  Token t;
  t.file = "Corefile";
  t.line = 7;
  t.text = "cache";
  EXPECT_EQ(ErrorAt(t, "boom"), "Corefile:7 - Error during parsing: boom");
  EXPECT_EQ(ArgErrorAt(t),
            "Corefile:7 - Error during parsing: Wrong argument count or unexpected line ending "
            "after 'cache'");
  t.text = "{";
  EXPECT_EQ(ArgErrorAt(t),
            "Corefile:7 - Error during parsing: Unexpected token '{', expecting "
            "argument");
}

TEST(PluginOrderTest, MatchesPluginCfg) {
  const auto& order = PluginOrder();
  // Today's plugin.cfg plus the 2017 `proxy`, placed after forward as in
  // CoreDNS 1.0-1.4, so that seed-era Corefiles still parse.
  EXPECT_EQ(order.size(), 61u);
  EXPECT_EQ(order.front(), "root");
  EXPECT_EQ(order.back(), "nomad");
  EXPECT_EQ(PluginIndex("root"), 0);
  EXPECT_EQ(PluginIndex("nomad"), 60);
  EXPECT_EQ(PluginIndex("proxy"), PluginIndex("forward") + 1);
  EXPECT_EQ(PluginIndex("nosuchplugin"), -1);
  EXPECT_EQ(PluginIndex(""), -1);
  EXPECT_LT(PluginIndex("prometheus"), PluginIndex("errors"));
  EXPECT_LT(PluginIndex("errors"), PluginIndex("log"));
  EXPECT_LT(PluginIndex("rewrite"), PluginIndex("cache"));
  EXPECT_LT(PluginIndex("loadbalance"), PluginIndex("cache"));
  EXPECT_LT(PluginIndex("cache"), PluginIndex("dnssec"));
  EXPECT_LT(PluginIndex("kubernetes"), PluginIndex("forward"));
  for (size_t i = 0; i < order.size(); ++i) EXPECT_EQ(PluginIndex(order[i]), int(i));
}

TEST(ParseDurationTest, GoSyntax) {
  struct {
    const char* text;
    int64_t ns;
  } good[] = {
      {"0", 0},
      {"-0", 0},
      {"5s", 5'000'000'000},
      {"300ms", 300'000'000},
      {"1.5h", 5'400'000'000'000},
      {"1m30s", 90'000'000'000},
      {"10us", 10'000},
      {"10\xC2\xB5s", 10'000},
      {"10\xCE\xBCs", 10'000},
      {"7ns", 7},
      {".5s", 500'000'000},
      {"1.s", 1'000'000'000},
      {"-1.5m", -90'000'000'000},
      {"+2h", 7'200'000'000'000},
      {"1h2m3s4ms5us6ns", 3'723'004'005'006},
      {"2562047h47m16.854775807s", INT64_MAX},
      {"-2562047h47m16.854775808s", INT64_MIN},
  };
  for (const auto& g : good) {
    int64_t ns = -42;
    EXPECT_TRUE(ParseDuration(g.text, &ns)) << g.text;
    EXPECT_EQ(ns, g.ns) << g.text;
  }
  for (const char* bad : {"", "5", "30", "-", "s", ".s", "5x", "5 s", "1h ", "3.4.5s",
                          "2562047h47m16.854775808s", "9999999999999999999h", "5S"}) {
    int64_t ns = 0;
    EXPECT_FALSE(ParseDuration(bad, &ns)) << bad;
  }
  // Go's messages, which CoreDNS passes on.
  int64_t ns = 0;
  std::string why;
  EXPECT_FALSE(ParseDuration("abc", &ns, &why));
  EXPECT_EQ(why, "time: invalid duration \"abc\"");
  EXPECT_FALSE(ParseDuration("10", &ns, &why));
  EXPECT_EQ(why, "time: missing unit in duration \"10\"");
  EXPECT_FALSE(ParseDuration("10x", &ns, &why));
  EXPECT_EQ(why, "time: unknown unit \"x\" in duration \"10x\"");
}

TEST(AddressTest, ParseAddressKeyDirectly) {
  Token key;
  key.text = "grpc://Example.org:5553";
  key.file = "Corefile";
  key.line = 3;
  std::vector<Address> out;
  std::string error;
  ASSERT_TRUE(ParseAddressKey(key, 53, &out, &error)) << error;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].transport, "grpc");
  EXPECT_EQ(out[0].zone, "example.org.");
  EXPECT_EQ(out[0].port, 5553);
  EXPECT_EQ(out[0].ToString(), "grpc://example.org.:5553");
  EXPECT_EQ(out[0].key.line, 3);
  key.text = "example.org:65536";
  EXPECT_FALSE(ParseAddressKey(key, 53, &out, &error));
  EXPECT_THAT(error, StartsWith("Corefile:3 - Error during parsing: Invalid port '65536'"));
}

TEST(CorefileTest, CanonicalIsCaddysServerBlocksAsGoMarshalsThem) {
  // Snippets and the import line are left out, the snippet's tokens are the
  // directive's; nested blocks keep their braces; a directive used twice
  // gathers both; map keys sorted; <, > and & escaped as Go's json.Marshal does.
  Corefile c = Parse(
      "(common) {\n  errors\n}\n"
      "a.org, b.org {\n  whoami\n  import common\n  hosts {\n    192.0.2.1 x<y>&z\n  }\n"
      "  errors \"say \\\"hi\\\"\"\n}\n");
  EXPECT_EQ(c.canonical,
            R"([{"Keys":["a.org","b.org"],"Tokens":{)"
            R"("errors":[{"File":"Corefile","Line":2,"Text":"errors"},)"
            R"({"File":"Corefile","Line":10,"Text":"errors"},)"
            R"({"File":"Corefile","Line":10,"Text":"say \"hi\""}],)"
            R"("hosts":[{"File":"Corefile","Line":7,"Text":"hosts"},)"
            R"({"File":"Corefile","Line":7,"Text":"{"},)"
            R"({"File":"Corefile","Line":8,"Text":"192.0.2.1"},)"
            R"({"File":"Corefile","Line":8,"Text":"x\u003cy\u003e\u0026z"},)"
            R"({"File":"Corefile","Line":9,"Text":"}"}],)"
            R"("whoami":[{"File":"Corefile","Line":5,"Text":"whoami"}]}}])");
  // Only comments and blank space differ: the same form.
  EXPECT_EQ(Parse("a.org {\n  whoami # me\n}\n").canonical,
            Parse("a.org {   \n  whoami\n}  # end\n\n# more\n").canonical);
  EXPECT_EQ(Parse("# nothing\n").canonical, "null");
}

}  // namespace
}  // namespace warpdns::config
