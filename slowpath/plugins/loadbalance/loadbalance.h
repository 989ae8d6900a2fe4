// loadbalance: reorders the records of NOERROR replies, a random shuffle of
// the A, AAAA and MX records (`round_robin`) or a weighted choice of the
// first address (`weighted`), then addresses in `prefer` subnets first
// (CoreDNS plugin/loadbalance). Pure functions of a section and a random
// source, so the fast path can apply the same orders with per-core state.
#ifndef WARPDNS_SLOWPATH_PLUGINS_LOADBALANCE_LOADBALANCE_H_
#define WARPDNS_SLOWPATH_PLUGINS_LOADBALANCE_LOADBALANCE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fastpath/wire/message.h"

namespace warpdns::slowpath::loadbalance {

namespace wire = ::warpdns::fastpath::wire;

// Uniform random 32-bit values. The plugin uses one generator per thread.
using Random = std::function<uint32_t()>;

// CoreDNS's roundRobin: CNAMEs first (glibc wants them there), then the
// other types, then the A/AAAA records shuffled, then the MX records
// shuffled. Both shuffles are CoreDNS's: two records swap with probability
// 1/2; for more, position j swaps with j + r % (n - j), r a 16-bit random
// value (dns.Id()).
std::vector<wire::Rr> RoundRobin(std::vector<wire::Rr> section, const Random& random);

// IPv4 addresses are kept v4-mapped, so one address is one key.
using Address = std::array<uint8_t, 16>;

// The weights file: for each owner name (lowercase FQDN) the weight of
// some of its addresses (1..255; addresses not listed weigh 1).
struct WeightTable {
  std::map<std::string, std::vector<std::pair<Address, uint8_t>>> domains;
};

// Parses a weights file: blocks of a domain name line followed by "IP WEIGHT"
// lines, '#' comments. `file` names it in errors.
bool ParseWeights(std::istream& in, const std::string& file, WeightTable* table,
                  std::string* error);

// CoreDNS's weightedRoundRobin: one A/AAAA record, chosen with probability
// proportional to its weight, moves to the front of the addresses; the
// section is otherwise ordered CNAMEs, others, addresses, MX.
std::vector<wire::Rr> WeightedRoundRobin(std::vector<wire::Rr> section, const WeightTable& table,
                                         const Random& random);

}  // namespace warpdns::slowpath::loadbalance

#endif  // WARPDNS_SLOWPATH_PLUGINS_LOADBALANCE_LOADBALANCE_H_
