// The I/O plan: how warpdns gets packets (kernel sockets or DPDK), parsed
// from the `io` line of the Corefile's global options block. See docs/io.md.
#ifndef WARPDNS_CONFIG_IO_H_
#define WARPDNS_CONFIG_IO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/corefile.h"

namespace warpdns::config {

// One DPDK port and the addresses the fast path answers on.
struct IoPort {
  // DPDK vdev or PCI spec as written: "net_af_xdp0,iface=veth0", "0000:03:00.0".
  std::string devargs;
  // Normalised "10.99.0.1/24", "fd00:99::1/64" (prefix defaults: /32 v4, /128 v6).
  std::vector<std::string> addresses;
  Token at;  // the 'port' token, for later errors

  // Ignores `at`.
  bool operator==(const IoPort& other) const;
};

struct IoPlan {
  enum class Mode { kSocket, kDpdk };
  Mode mode = Mode::kSocket;
  int workers = 0;  // socket and dpdk: 0 = automatic

  // dpdk only:
  std::vector<std::string> eal_args;  // tokens after 'eal', argv[0] NOT included
  // Lcores in the EAL -l/--lcores/-c option, 0 = not given. Derived from
  // eal_args, so the runtime can size automatic workers without re-parsing.
  int eal_lcores = 0;
  std::vector<IoPort> ports;  // exactly one for now
  std::string exception_tap;  // 'exception tap NAME'; "" = no exception interface
  // 'descriptors N': RX and TX ring size per queue, power of two 64..16384.
  uint16_t rx_descriptors = 1024;
  uint32_t mbufs = 0;         // 'mbufs N', 0 = automatic, else 1024..(1 << 24)
  uint32_t burst = 32;        // 'burst N', 1..256
  uint32_t punt_ring = 4096;  // 'punt_ring N', power of two 64..65536
  // 'table_slots N': answer table size, power of two 1024..(1 << 26).
  uint32_t table_slots = 1 << 20;
  Token at;  // the 'io' token (empty when defaulted)

  // Compares every field but tokens: io settings are read at start-up only,
  // so a reload whose plan differs needs a restart.
  bool operator==(const IoPlan& other) const;
};

// "socket" or "dpdk", as written in the Corefile (for logs and errors).
const char* IoModeName(IoPlan::Mode mode);

// Parses `global` (Corefile::global; nullptr or no 'io' directive -> socket
// mode with defaults). On error returns nullopt and sets *error to
// "FILE:LINE - Error during parsing: ..." pointing at the offending token
// (`error` may be null).
// Unknown global options (anything but 'io') and unknown io options are
// errors; 'io' may appear once.
std::optional<IoPlan> ParseIoPlan(const Directive* global, std::string* error);

}  // namespace warpdns::config

#endif  // WARPDNS_CONFIG_IO_H_
