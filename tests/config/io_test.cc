#include "config/io.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/corefile.h"

namespace warpdns::config {
namespace {

using ::testing::ElementsAre;

// Real tokens (file "Corefile", real lines) from the Corefile parser.
std::optional<IoPlan> Plan(std::string_view text, std::string* error) {
  std::string parse_error;
  std::optional<Corefile> corefile = ParseCorefile(text, "Corefile", ParseOptions{}, &parse_error);
  EXPECT_TRUE(corefile.has_value()) << parse_error;
  if (!corefile.has_value()) return std::nullopt;
  return ParseIoPlan(corefile->global.has_value() ? &*corefile->global : nullptr, error);
}

IoPlan MustPlan(std::string_view text) {
  std::string error;
  std::optional<IoPlan> plan = Plan(text, &error);
  EXPECT_TRUE(plan.has_value()) << error << "\n" << text;
  return plan.value_or(IoPlan{});
}

std::string PlanError(std::string_view text) {
  std::string error;
  std::optional<IoPlan> plan = Plan(text, &error);
  EXPECT_FALSE(plan.has_value()) << "parsed without error:\n" << text;
  return error;
}

// A valid dpdk block with `extra` lines from line 5 on (eal is line 3, port
// line 4).
std::string Dpdk(std::string_view extra) {
  return "{\n"
         "    io dpdk {\n"
         "        eal --no-huge -m 512 --no-pci --no-shconf -l 0-1\n"
         "        port net_tap0 address 10.99.0.1/24\n" +
         std::string(extra) +
         "    }\n"
         "}\n";
}

// A dpdk block with the given eal line (line 3) and `extra` from line 5.
std::string DpdkEal(std::string_view eal, std::string_view extra = "") {
  return "{\n"
         "    io dpdk {\n"
         "        " +
         std::string(eal) +
         "\n"
         "        port net_tap0 address 10.99.0.1/24\n" +
         std::string(extra) +
         "    }\n"
         "}\n";
}

// A dpdk block with the given port line (line 4).
std::string DpdkPort(std::string_view port) {
  return "{\n"
         "    io dpdk {\n"
         "        eal --no-huge -l 0-1\n"
         "        " +
         std::string(port) +
         "\n"
         "    }\n"
         "}\n";
}

std::string SocketBlock(std::string_view lines) {
  return "{\n    io socket {\n" + std::string(lines) + "    }\n}\n";
}

std::string At(int line, std::string_view message) {
  return "Corefile:" + std::to_string(line) + " - Error during parsing: " + std::string(message);
}

// ---------------------------------------------------------------- defaults

TEST(IoPlanTest, NoGlobalBlockIsSocketWithDefaults) {
  std::string error;
  std::optional<IoPlan> plan = ParseIoPlan(nullptr, &error);
  ASSERT_TRUE(plan.has_value());
  EXPECT_EQ(plan->mode, IoPlan::Mode::kSocket);
  EXPECT_EQ(plan->workers, 0);
  EXPECT_TRUE(plan->eal_args.empty());
  EXPECT_EQ(plan->eal_lcores, 0);
  EXPECT_TRUE(plan->ports.empty());
  EXPECT_EQ(plan->exception_tap, "");
  EXPECT_EQ(plan->rx_descriptors, 1024);
  EXPECT_EQ(plan->mbufs, 0u);
  EXPECT_EQ(plan->burst, 32u);
  EXPECT_EQ(plan->punt_ring, 4096u);
  EXPECT_EQ(plan->table_slots, 1u << 20);
  EXPECT_EQ(plan->at.line, 0);
  EXPECT_EQ(error, "");

  EXPECT_EQ(MustPlan(". {\n    whoami\n}\n"), IoPlan{});
}

TEST(IoPlanTest, GlobalBlockWithoutIoIsSocketWithDefaults) {
  EXPECT_EQ(MustPlan("{\n}\n. {\n    whoami\n}\n"), IoPlan{});
}

TEST(IoPlanTest, IoSocketLine) {
  IoPlan plan = MustPlan("{\n    io socket\n}\n.:53 {\n    whoami\n}\n");
  EXPECT_EQ(plan.mode, IoPlan::Mode::kSocket);
  EXPECT_EQ(plan.workers, 0);
  EXPECT_EQ(plan.at.text, "io");
  EXPECT_EQ(plan.at.line, 2);
  EXPECT_EQ(plan, IoPlan{});
}

TEST(IoPlanTest, IoSocketBlock) {
  IoPlan plan = MustPlan(SocketBlock("        workers 2\n"));
  EXPECT_EQ(plan.mode, IoPlan::Mode::kSocket);
  EXPECT_EQ(plan.workers, 2);
  EXPECT_TRUE(plan.ports.empty());

  EXPECT_EQ(MustPlan(SocketBlock("")).workers, 0);
  EXPECT_EQ(MustPlan(SocketBlock("        workers 128\n")).workers, 128);
}

// ---------------------------------------------------------------- dpdk

TEST(IoPlanTest, FullDpdkBlock) {
  IoPlan plan = MustPlan(R"({
    io dpdk {
        eal --no-huge -m 512 --no-pci --no-shconf -l 0-1
        port net_af_xdp0,iface=veth0 address 10.99.0.1/24 fd00:99::1/64
        workers 1
        exception tap wdns0
        descriptors 1024
        burst 32
    }
}
.:53 {
    whoami
}
)");
  EXPECT_EQ(plan.mode, IoPlan::Mode::kDpdk);
  EXPECT_EQ(plan.at.text, "io");
  EXPECT_EQ(plan.at.line, 2);
  EXPECT_THAT(plan.eal_args,
              ElementsAre("--no-huge", "-m", "512", "--no-pci", "--no-shconf", "-l", "0-1"));
  EXPECT_EQ(plan.eal_lcores, 2);
  ASSERT_EQ(plan.ports.size(), 1u);
  EXPECT_EQ(plan.ports[0].devargs, "net_af_xdp0,iface=veth0");
  EXPECT_THAT(plan.ports[0].addresses, ElementsAre("10.99.0.1/24", "fd00:99::1/64"));
  EXPECT_EQ(plan.ports[0].at.text, "port");
  EXPECT_EQ(plan.ports[0].at.file, "Corefile");
  EXPECT_EQ(plan.ports[0].at.line, 4);
  EXPECT_EQ(plan.workers, 1);
  EXPECT_EQ(plan.exception_tap, "wdns0");
  EXPECT_EQ(plan.rx_descriptors, 1024);
  EXPECT_EQ(plan.burst, 32u);
  EXPECT_EQ(plan.mbufs, 0u);
  EXPECT_EQ(plan.punt_ring, 4096u);
  EXPECT_EQ(plan.table_slots, 1u << 20);
}

TEST(IoPlanTest, MinimalDpdkBlockKeepsDefaults) {
  IoPlan plan = MustPlan(Dpdk(""));
  EXPECT_EQ(plan.mode, IoPlan::Mode::kDpdk);
  EXPECT_EQ(plan.workers, 0);  // automatic even with an -l list
  EXPECT_EQ(plan.eal_lcores, 2);
  EXPECT_EQ(plan.exception_tap, "");
  EXPECT_EQ(plan.rx_descriptors, 1024);
  EXPECT_EQ(plan.burst, 32u);
}

TEST(IoPlanTest, EveryKnob) {
  IoPlan plan =
      MustPlan(Dpdk("        descriptors 16384\n"
                    "        mbufs 262144\n"
                    "        burst 256\n"
                    "        punt_ring 65536\n"
                    "        table_slots 67108864\n"));
  EXPECT_EQ(plan.rx_descriptors, 16384);
  EXPECT_EQ(plan.mbufs, 262144u);
  EXPECT_EQ(plan.burst, 256u);
  EXPECT_EQ(plan.punt_ring, 65536u);
  EXPECT_EQ(plan.table_slots, 67108864u);

  plan =
      MustPlan(Dpdk("        descriptors 64\n"
                    "        mbufs 0\n"
                    "        burst 1\n"
                    "        punt_ring 64\n"
                    "        table_slots 1024\n"));
  EXPECT_EQ(plan.rx_descriptors, 64);
  EXPECT_EQ(plan.mbufs, 0u);
  EXPECT_EQ(plan.burst, 1u);
  EXPECT_EQ(plan.punt_ring, 64u);
  EXPECT_EQ(plan.table_slots, 1024u);

  EXPECT_EQ(MustPlan(Dpdk("        mbufs 1024\n")).mbufs, 1024u);
  EXPECT_EQ(MustPlan(Dpdk("        mbufs 16777216\n")).mbufs, 16777216u);
}

TEST(IoPlanTest, AddressesAreNormalised) {
  IoPlan plan = MustPlan(
      DpdkPort("port 0000:03:00.0 address 10.99.0.1 FD00:0099:0:0::1 fd00:99::2/64 2001:db8::/48 "
               "::ffff:192.0.2.1"));
  ASSERT_EQ(plan.ports.size(), 1u);
  EXPECT_EQ(plan.ports[0].devargs, "0000:03:00.0");
  EXPECT_THAT(plan.ports[0].addresses,
              ElementsAre("10.99.0.1/32", "fd00:99::1/128", "fd00:99::2/64", "2001:db8::/48",
                          "::ffff:192.0.2.1/128"));
}

TEST(IoPlanTest, Ipv6OnlyPort) {
  IoPlan plan = MustPlan(DpdkPort("port net_ring0 address fd00:99::1/64"));
  ASSERT_EQ(plan.ports.size(), 1u);
  EXPECT_EQ(plan.ports[0].devargs, "net_ring0");
  EXPECT_THAT(plan.ports[0].addresses, ElementsAre("fd00:99::1/64"));
}

TEST(IoPlanTest, LcoreListsAndMasks) {
  struct Case {
    const char* eal;
    int lcores;
  };
  const Case cases[] = {
      {"eal --no-huge", 0},
      {"eal -l 0", 1},
      {"eal -l 0-1", 2},
      {"eal -l 0,2,4", 3},
      {"eal -l 1-3,5", 4},
      {"eal -l 1-3,2-4", 4},  // overlaps count once
      {"eal -l0-3", 4},
      {"eal --lcores 0-1", 2},
      {"eal --lcores=0-2", 3},
      {"eal --lcores (0-1)@2,3@4", 3},
      {"eal --lcores 0@(1,2),1", 2},
      {"eal -c 0x3", 2},
      {"eal -c f", 4},
      {"eal -c0x1F", 5},
      {"eal -c 0X10000000000000001", 2},  // wider than 64 bits
  };
  for (const Case& c : cases) {
    IoPlan plan = MustPlan(DpdkEal(c.eal));
    EXPECT_EQ(plan.eal_lcores, c.lcores) << c.eal;
  }
}

TEST(IoPlanTest, WorkersFitTheLcores) {
  EXPECT_EQ(MustPlan(DpdkEal("eal -l 0-1", "        workers 1\n")).workers, 1);
  EXPECT_EQ(MustPlan(DpdkEal("eal -l 0-4", "        workers 4\n")).workers, 4);
  EXPECT_EQ(MustPlan(DpdkEal("eal -c 0x7", "        workers 2\n")).workers, 2);
  // No lcore list: the EAL default (every CPU) is the runtime's to check.
  EXPECT_EQ(MustPlan(DpdkEal("eal --no-huge", "        workers 128\n")).workers, 128);
  // Automatic workers with a single lcore: the runtime decides.
  EXPECT_EQ(MustPlan(DpdkEal("eal -l 0")).workers, 0);
}

TEST(IoPlanTest, EalArgumentsKeptAsWritten) {
  IoPlan plan = MustPlan(
      DpdkEal("eal --in-memory --proc-type primary --proc-type=primary --file-prefix wdns -a "
              "0000:03:00.0 --lcores=0-1"));
  EXPECT_THAT(plan.eal_args,
              ElementsAre("--in-memory", "--proc-type", "primary", "--proc-type=primary",
                          "--file-prefix", "wdns", "-a", "0000:03:00.0", "--lcores=0-1"));
  EXPECT_EQ(plan.eal_lcores, 2);
}

TEST(IoPlanTest, CommentsAndBlankLinesDoNotMatter) {
  IoPlan commented = MustPlan(R"(# warpdns
{

    io dpdk {   # fast path
        eal --no-huge -l 0-1

        port net_tap0 address 10.99.0.1/24   # the service address
    }
}
)");
  IoPlan plain =
      MustPlan(Dpdk("").replace(Dpdk("").find(" -m 512 --no-pci --no-shconf"),
                                std::string_view(" -m 512 --no-pci --no-shconf").size(), ""));
  EXPECT_EQ(commented.at.line, 4);
  EXPECT_EQ(commented.ports[0].at.line, 7);
  EXPECT_EQ(plain.at.line, 2);
  EXPECT_EQ(commented, plain);
}

// ---------------------------------------------------------------- equality

TEST(IoPlanTest, EqualityIgnoresTokens) {
  const std::string text = Dpdk("        workers 1\n        exception tap wdns0\n");
  IoPlan a = MustPlan(text);
  IoPlan b = MustPlan("# moved down a line\n" + text);
  EXPECT_NE(a.at.line, b.at.line);
  EXPECT_NE(a.ports[0].at.line, b.ports[0].at.line);
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(a.ports[0] == b.ports[0]);
}

TEST(IoPlanTest, EqualityComparesEveryField) {
  const IoPlan base = MustPlan(Dpdk("        workers 1\n        exception tap wdns0\n"));
  std::vector<void (*)(IoPlan*)> changes = {
      [](IoPlan* p) { p->mode = IoPlan::Mode::kSocket; },
      [](IoPlan* p) { p->workers = 0; },
      [](IoPlan* p) { p->eal_args.push_back("--no-telemetry"); },
      [](IoPlan* p) { p->eal_lcores = 3; },
      [](IoPlan* p) { p->ports.clear(); },
      [](IoPlan* p) { p->ports[0].devargs = "net_tap1"; },
      [](IoPlan* p) { p->ports[0].addresses.push_back("10.99.0.2/24"); },
      [](IoPlan* p) { p->exception_tap = "wdns1"; },
      [](IoPlan* p) { p->rx_descriptors = 2048; },
      [](IoPlan* p) { p->mbufs = 8192; },
      [](IoPlan* p) { p->burst = 64; },
      [](IoPlan* p) { p->punt_ring = 8192; },
      [](IoPlan* p) { p->table_slots = 1 << 21; },
  };
  for (size_t i = 0; i < changes.size(); ++i) {
    IoPlan changed = base;
    changes[i](&changed);
    EXPECT_FALSE(changed == base) << "change " << i;
    EXPECT_FALSE(base == changed) << "change " << i;
  }
  IoPlan same = base;
  same.at.line = 99;
  same.ports[0].at.file = "other";
  EXPECT_TRUE(same == base);
}

TEST(IoPlanTest, SocketAndDpdkPlansDiffer) {
  EXPECT_FALSE(MustPlan(SocketBlock("        workers 1\n")) ==
               MustPlan(Dpdk("        workers 1\n")));
  EXPECT_FALSE(MustPlan(SocketBlock("        workers 1\n")) ==
               MustPlan(SocketBlock("        workers 2\n")));
}

TEST(IoPlanTest, ModeNames) {
  EXPECT_STREQ(IoModeName(IoPlan::Mode::kSocket), "socket");
  EXPECT_STREQ(IoModeName(IoPlan::Mode::kDpdk), "dpdk");
}

// ---------------------------------------------------------------- errors

struct BadCase {
  std::string name;
  std::string text;
  std::string error;  // the exact error line
};

const std::string kDpdkOptions =
    "expected eal, port, workers, exception, descriptors, mbufs, burst, punt_ring or table_slots";
const std::string kPortSyntax = "port DEVARGS address ADDR...";
const std::string kInMemoryNoHuge =
    "EAL options --in-memory and --no-huge cannot be used together (DPDK rejects them: "
    "--no-huge implies --legacy-mem, which --in-memory does not support), expected --no-huge "
    "--no-shconf to run without hugepages";
const std::string kBadLcores = "expected lcore ids and ranges such as 0-1, 0,2,4 or 1-3,5";
const std::string kBadAddress =
    "expected an IPv4 or IPv6 address with an optional /prefix (10.99.0.1/24, fd00:99::1/64)";
const std::string kBadTap = "expected 1..15 characters (IFNAMSIZ) without '/', ':' or spaces";
const std::string kWorkersExpected = "an integer 1..128 (leave it out for automatic)";

std::vector<BadCase> BadCases() {
  return {
      // The global block and the io line.
      {"UnknownGlobalOption", "{\n    cores 2-3\n}\n",
       At(2, "unknown global option 'cores', expected 'io'")},
      {"UnknownGlobalOptionAfterIo", "{\n    io socket\n    eal --no-huge\n}\n",
       At(3, "unknown global option 'eal', expected 'io'")},
      {"IoTwice", "{\n    io socket\n    io dpdk {\n    }\n}\n",
       At(3, "'io' may appear only once (first at Corefile:2)")},
      {"IoWithoutMode", "{\n    io\n}\n", At(2, "'io' expects a mode: 'socket' or 'dpdk'")},
      {"IoBlockWithoutMode", "{\n    io\n    {\n        workers 2\n    }\n}\n",
       At(3, "'io' expects a mode: 'socket' or 'dpdk'")},
      {"UnknownMode", "{\n    io af_xdp eth0\n}\n",
       At(2, "unknown io mode 'af_xdp', expected 'socket' or 'dpdk'")},
      {"ModeIsCaseSensitive", "{\n    io DPDK\n}\n",
       At(2, "unknown io mode 'DPDK', expected 'socket' or 'dpdk'")},
      {"ExtraAfterMode", "{\n    io socket 2\n}\n",
       At(2, "unexpected '2' after 'io socket', expected '{' or the end of the line")},
      {"DpdkWithoutBlock", "{\n    io dpdk\n}\n",
       At(2, "'io dpdk' requires a block with 'eal' and 'port' lines: 'io dpdk {'")},

      // Socket mode.
      {"SocketUnknownOption", SocketBlock("        threads 2\n"),
       At(3, "unknown io socket option 'threads', expected 'workers'")},
      {"SocketDpdkOption", SocketBlock("        workers 1\n        eal --no-huge\n"),
       At(4, "'eal' is an io dpdk option, io socket takes only 'workers'")},
      {"SocketPort", SocketBlock("        port net_tap0 address 10.0.0.1\n"),
       At(3, "'port' is an io dpdk option, io socket takes only 'workers'")},

      // workers, and what every option shares (one value, once, no block).
      {"WorkersZero", SocketBlock("        workers 0\n"),
       At(3, "invalid workers '0', expected " + kWorkersExpected)},
      {"WorkersTooMany", SocketBlock("        workers 129\n"),
       At(3, "invalid workers '129', expected " + kWorkersExpected)},
      {"WorkersNegative", SocketBlock("        workers -1\n"),
       At(3, "invalid workers '-1', expected " + kWorkersExpected)},
      {"WorkersWord", SocketBlock("        workers auto\n"),
       At(3, "invalid workers 'auto', expected " + kWorkersExpected)},
      {"WorkersHuge", SocketBlock("        workers 99999999999999999999999\n"),
       At(3, "invalid workers '99999999999999999999999', expected " + kWorkersExpected)},
      {"WorkersMissing", SocketBlock("        workers\n"),
       At(3, "'workers' expects " + kWorkersExpected)},
      {"WorkersExtra", SocketBlock("        workers 2 3\n"),
       At(3, "unexpected '3' after 'workers 2', expected the end of the line")},
      {"WorkersTwice", SocketBlock("        workers 2\n        workers 3\n"),
       At(4, "'workers' may appear only once in the io block (first at Corefile:3)")},
      {"WorkersTwiceDpdk", Dpdk("        workers 1\n        workers 1\n"),
       At(6, "'workers' may appear only once in the io block (first at Corefile:5)")},
      {"OptionWithBlock", SocketBlock("        workers 2 {\n        }\n"),
       At(3, "unexpected '{' after 'workers', io options take no block")},
      {"EmptyArgument", SocketBlock("        workers \"\"\n"),
       At(3, "empty argument to 'workers' (an unset environment variable?)")},
      {"EmptyArgumentFromEnvironment", Dpdk("        exception tap {$WARPDNS_IO_TEST_UNSET}\n"),
       At(5, "empty argument to 'exception' (an unset environment variable?)")},

      // dpdk mode: required lines and unknown options.
      {"DpdkUnknownOption", Dpdk("        cores 2\n"),
       At(5, "unknown io dpdk option 'cores', " + kDpdkOptions)},
      {"DpdkEmptyBlock", "{\n    io dpdk {\n    }\n}\n",
       At(2,
          "'io dpdk' requires an 'eal' line with the EAL arguments, such as: eal --no-huge -m "
          "512 --no-pci -l 0-1")},
      {"DpdkMissingEal", "{\n    io dpdk {\n        port net_tap0 address 10.0.0.1\n    }\n}\n",
       At(2,
          "'io dpdk' requires an 'eal' line with the EAL arguments, such as: eal --no-huge -m "
          "512 --no-pci -l 0-1")},
      {"DpdkMissingPort", "{\n    io dpdk {\n        eal --no-huge\n    }\n}\n",
       At(2, "'io dpdk' requires a 'port' line: " + kPortSyntax)},

      // eal.
      {"EalWithoutArguments", DpdkEal("eal"),
       At(3, "'eal' expects EAL arguments, such as: eal --no-huge -m 512 --no-pci -l 0-1")},
      {"EalTwice", Dpdk("        eal --no-pci\n"),
       At(5, "'eal' may appear only once in the io block (first at Corefile:3)")},
      {"EalInMemoryWithNoHuge", DpdkEal("eal --in-memory -m 512 --no-huge"),
       At(3, kInMemoryNoHuge)},
      {"EalNoHugeWithInMemory", DpdkEal("eal --no-huge --in-memory"), At(3, kInMemoryNoHuge)},
      {"EalHelp", DpdkEal("eal --no-huge --help"),
       At(3,
          "EAL option '--help' prints usage and exits the process, expected EAL options to run "
          "with")},
      {"EalShortHelp", DpdkEal("eal -h"),
       At(3,
          "EAL option '-h' prints usage and exits the process, expected EAL options to run "
          "with")},
      {"EalSecondaryProcess", DpdkEal("eal --proc-type secondary"),
       At(3,
          "EAL --proc-type 'secondary' is not supported, expected 'primary' (warpdns owns its "
          "port, so it must be DPDK's primary process)")},
      {"EalAutoProcessType", DpdkEal("eal --proc-type=auto"),
       At(3,
          "EAL --proc-type 'auto' is not supported, expected 'primary' (warpdns owns its "
          "port, so it must be DPDK's primary process)")},
      {"EalProcTypeWithoutValue", DpdkEal("eal --proc-type"),
       At(3, "EAL option '--proc-type' expects a value")},
      {"EalLcoreListMissing", DpdkEal("eal --no-huge -l"),
       At(3, "EAL option '-l' expects a value")},
      {"EalLcoresMissing", DpdkEal("eal --lcores"), At(3, "EAL option '--lcores' expects a value")},
      {"EalMaskMissing", DpdkEal("eal -c"), At(3, "EAL option '-c' expects a value")},
      {"EalLcoreListNotNumbers", DpdkEal("eal -l 0-x"),
       At(3, "invalid EAL lcore list '0-x' after '-l', " + kBadLcores)},
      {"EalLcoreListBackwards", DpdkEal("eal -l 3-1"),
       At(3, "invalid EAL lcore list '3-1' after '-l', " + kBadLcores)},
      {"EalLcoreListDoubleComma", DpdkEal("eal -l 0,,1"),
       At(3, "invalid EAL lcore list '0,,1' after '-l', " + kBadLcores)},
      {"EalLcoreListOpenRange", DpdkEal("eal -l0-"),
       At(3, "invalid EAL lcore list '0-' after '-l', " + kBadLcores)},
      {"EalLcoreListTooLarge", DpdkEal("eal -l 0-99999999"),
       At(3, "invalid EAL lcore list '0-99999999' after '-l', " + kBadLcores)},
      {"EalLcoresUnclosedGroup", DpdkEal("eal --lcores=(0-1@2"),
       At(3, "invalid EAL lcore list '(0-1@2' after '--lcores', " + kBadLcores)},
      {"EalLcoresEmptyCpuSet", DpdkEal("eal --lcores 0@"),
       At(3, "invalid EAL lcore list '0@' after '--lcores', " + kBadLcores)},
      {"EalMaskNotHex", DpdkEal("eal -c 0xg"),
       At(3, "invalid EAL core mask '0xg' after '-c', expected a hexadecimal mask such as 0x3")},
      {"EalMaskZero", DpdkEal("eal -c 0x0"),
       At(3, "invalid EAL core mask '0x0' after '-c', expected a hexadecimal mask such as 0x3")},
      {"EalTwoLcoreLists", DpdkEal("eal -l 0-1 -c 0x3"),
       At(3,
          "EAL option '-c' repeats the lcore list given by '-l 0-1', expected one of -l, "
          "--lcores or -c")},

      // workers against the EAL lcores.
      {"WorkersExceedLcoreList", Dpdk("        workers 2\n"),
       At(5,
          "workers 2 needs 3 EAL lcores (one per worker plus the main lcore), but '-l 0-1' "
          "gives 2")},
      {"WorkersExceedCoreMask", DpdkEal("eal -c 0x3", "        workers 3\n"),
       At(5,
          "workers 3 needs 4 EAL lcores (one per worker plus the main lcore), but '-c 0x3' "
          "gives 2")},
      {"WorkersWithOnlyTheMainLcore", DpdkEal("eal --lcores=0", "        workers 1\n"),
       At(5,
          "workers 1 needs 2 EAL lcores (one per worker plus the main lcore), but '--lcores 0' "
          "gives 1")},
      {"WorkersBeforeEal",
       "{\n    io dpdk {\n        workers 4\n        eal -l 0-3\n"
       "        port net_tap0 address 10.0.0.1\n    }\n}\n",
       At(3,
          "workers 4 needs 5 EAL lcores (one per worker plus the main lcore), but '-l 0-3' "
          "gives 4")},

      // port.
      {"PortWithoutArguments", DpdkPort("port"),
       At(4, "'port' expects a DPDK device and its addresses: " + kPortSyntax)},
      {"PortWithoutAddress", DpdkPort("port net_tap0"),
       At(4, "expected 'address' and at least one address after 'port net_tap0': " + kPortSyntax)},
      {"PortAddressWithoutKeyword", DpdkPort("port net_tap0 10.99.0.1/24"),
       At(4,
          "unexpected '10.99.0.1/24' after 'port net_tap0', expected 'address': " + kPortSyntax)},
      {"PortAddressKeywordOnly", DpdkPort("port net_tap0 address"),
       At(4, "'address' expects at least one IPv4 or IPv6 address: " + kPortSyntax)},
      {"PortBadIpv4", DpdkPort("port net_tap0 address 10.99.0.256/24"),
       At(4, "invalid address '10.99.0.256/24', " + kBadAddress)},
      {"PortShortIpv4", DpdkPort("port net_tap0 address 10.99.1"),
       At(4, "invalid address '10.99.1', " + kBadAddress)},
      {"PortBadIpv6", DpdkPort("port net_tap0 address fd00::99::1"),
       At(4, "invalid address 'fd00::99::1', " + kBadAddress)},
      {"PortHostname", DpdkPort("port net_tap0 address localhost"),
       At(4, "invalid address 'localhost', " + kBadAddress)},
      {"PortSecondAddressBad", DpdkPort("port net_tap0 address 10.99.0.1/24 fd00:99::1/6x"),
       At(4, "invalid prefix length in 'fd00:99::1/6x', expected /1../128")},
      {"PortPrefixTooLongV4", DpdkPort("port net_tap0 address 10.99.0.1/33"),
       At(4, "invalid prefix length in '10.99.0.1/33', expected /1../32")},
      {"PortPrefixTooLongV6", DpdkPort("port net_tap0 address fd00:99::1/129"),
       At(4, "invalid prefix length in 'fd00:99::1/129', expected /1../128")},
      {"PortPrefixZero", DpdkPort("port net_tap0 address 10.99.0.1/0"),
       At(4, "invalid prefix length in '10.99.0.1/0', expected /1../32")},
      {"PortPrefixEmpty", DpdkPort("port net_tap0 address 10.99.0.1/"),
       At(4, "invalid prefix length in '10.99.0.1/', expected /1../32")},
      {"PortPrefixTwice", DpdkPort("port net_tap0 address 10.99.0.1/24/24"),
       At(4, "invalid prefix length in '10.99.0.1/24/24', expected /1../32")},
      {"PortUnspecifiedV4Host", DpdkPort("port net_tap0 address 0.0.0.0"),
       At(4, "address '0.0.0.0' is unspecified, expected a unicast address for the port")},
      {"PortUnspecifiedV6", DpdkPort("port net_tap0 address ::/64"),
       At(4, "address '::/64' is unspecified, expected a unicast address for the port")},
      {"PortMulticastV4", DpdkPort("port net_tap0 address 224.0.0.251"),
       At(4, "address '224.0.0.251' is multicast, expected a unicast address for the port")},
      {"PortMulticastV6", DpdkPort("port net_tap0 address ff02::fb"),
       At(4, "address 'ff02::fb' is multicast, expected a unicast address for the port")},
      {"PortDuplicateAddress", DpdkPort("port net_tap0 address 10.99.0.1/24 10.99.0.1/32"),
       At(4, "address '10.99.0.1/32' repeats '10.99.0.1/24' on the same port")},
      {"PortDuplicateIpv6Spelling", DpdkPort("port net_tap0 address fd00:99::1 FD00:99:0::1"),
       At(4, "address 'FD00:99:0::1' repeats 'fd00:99::1' on the same port")},
      {"TwoPorts", Dpdk("        port net_tap1 address 10.98.0.1/24\n"),
       At(5, "only one port is supported (first at Corefile:4)")},

      // exception.
      {"ExceptionWithoutArguments", Dpdk("        exception\n"),
       At(5, "'exception' expects 'tap NAME'")},
      {"ExceptionNotTap", Dpdk("        exception kni wdns0\n"),
       At(5, "unknown exception interface type 'kni', expected 'tap NAME'")},
      {"ExceptionTapWithoutName", Dpdk("        exception tap\n"),
       At(5, "'exception tap' expects an interface name")},
      {"ExceptionTapExtra", Dpdk("        exception tap wdns0 wdns1\n"),
       At(5, "unexpected 'wdns1' after 'exception tap wdns0', expected the end of the line")},
      {"ExceptionTapNameTooLong", Dpdk("        exception tap abcdefghijklmnop\n"),
       At(5, "invalid tap name 'abcdefghijklmnop', " + kBadTap)},
      {"ExceptionTapNameSlash", Dpdk("        exception tap wdns/0\n"),
       At(5, "invalid tap name 'wdns/0', " + kBadTap)},
      {"ExceptionTapNameColon", Dpdk("        exception tap wdns:0\n"),
       At(5, "invalid tap name 'wdns:0', " + kBadTap)},
      {"ExceptionTapNameSpace", Dpdk("        exception tap \"wdns 0\"\n"),
       At(5, "invalid tap name 'wdns 0', " + kBadTap)},
      {"ExceptionTapNameDot", Dpdk("        exception tap .\n"),
       At(5, "invalid tap name '.', " + kBadTap)},
      {"ExceptionTwice", Dpdk("        exception tap a\n        exception tap b\n"),
       At(6, "'exception' may appear only once in the io block (first at Corefile:5)")},

      // Ring and table sizes.
      {"DescriptorsNotPowerOfTwo", Dpdk("        descriptors 1000\n"),
       At(5, "invalid descriptors '1000', expected a power of two 64..16384")},
      {"DescriptorsTooSmall", Dpdk("        descriptors 32\n"),
       At(5, "invalid descriptors '32', expected a power of two 64..16384")},
      {"DescriptorsTooLarge", Dpdk("        descriptors 32768\n"),
       At(5, "invalid descriptors '32768', expected a power of two 64..16384")},
      {"DescriptorsMissing", Dpdk("        descriptors\n"),
       At(5, "'descriptors' expects a power of two 64..16384")},
      {"DescriptorsTwice", Dpdk("        descriptors 512\n        descriptors 512\n"),
       At(6, "'descriptors' may appear only once in the io block (first at Corefile:5)")},
      {"MbufsTooFew", Dpdk("        mbufs 1023\n"),
       At(5, "invalid mbufs '1023', expected 0 (automatic) or an integer 1024..16777216")},
      {"MbufsTooMany", Dpdk("        mbufs 16777217\n"),
       At(5, "invalid mbufs '16777217', expected 0 (automatic) or an integer 1024..16777216")},
      {"MbufsHex", Dpdk("        mbufs 0x1000\n"),
       At(5, "invalid mbufs '0x1000', expected 0 (automatic) or an integer 1024..16777216")},
      {"BurstZero", Dpdk("        burst 0\n"),
       At(5, "invalid burst '0', expected an integer 1..256")},
      {"BurstTooLarge", Dpdk("        burst 257\n"),
       At(5, "invalid burst '257', expected an integer 1..256")},
      {"BurstExtra", Dpdk("        burst 32 64\n"),
       At(5, "unexpected '64' after 'burst 32', expected the end of the line")},
      {"PuntRingNotPowerOfTwo", Dpdk("        punt_ring 5000\n"),
       At(5, "invalid punt_ring '5000', expected a power of two 64..65536")},
      {"PuntRingTooSmall", Dpdk("        punt_ring 32\n"),
       At(5, "invalid punt_ring '32', expected a power of two 64..65536")},
      {"PuntRingTooLarge", Dpdk("        punt_ring 131072\n"),
       At(5, "invalid punt_ring '131072', expected a power of two 64..65536")},
      {"TableSlotsNotPowerOfTwo", Dpdk("        table_slots 1000000\n"),
       At(5, "invalid table_slots '1000000', expected a power of two 1024..67108864")},
      {"TableSlotsTooSmall", Dpdk("        table_slots 512\n"),
       At(5, "invalid table_slots '512', expected a power of two 1024..67108864")},
      {"TableSlotsTooLarge", Dpdk("        table_slots 134217728\n"),
       At(5, "invalid table_slots '134217728', expected a power of two 1024..67108864")},
  };
}

class BadIoPlanTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadIoPlanTest, ExactErrorLine) {
  const BadCase& c = GetParam();
  EXPECT_EQ(PlanError(c.text), c.error) << c.text;
}

INSTANTIATE_TEST_SUITE_P(Malformed, BadIoPlanTest, ::testing::ValuesIn(BadCases()),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           return info.param.name;
                         });

TEST(IoPlanTest, ErrorIsUntouchedOnSuccessAndNullIsAllowed) {
  std::string error = "unchanged";
  EXPECT_TRUE(Plan(Dpdk(""), &error).has_value());
  EXPECT_EQ(error, "unchanged");
  EXPECT_FALSE(Plan("{\n    io\n}\n", nullptr).has_value());
}

}  // namespace
}  // namespace warpdns::config
