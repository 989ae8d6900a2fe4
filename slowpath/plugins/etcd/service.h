// The SkyDNS data model (CoreDNS plugin/etcd/msg): the JSON service stored
// at each etcd key, and the mapping between DNS names and etcd keys.
#ifndef WARPDNS_SLOWPATH_PLUGINS_ETCD_SERVICE_H_
#define WARPDNS_SLOWPATH_PLUGINS_ETCD_SERVICE_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace warpdns::slowpath::etcd {

// One etcd value, as CoreDNS's msg.Service. Ints are Go ints (64-bit).
struct Service {
  std::string host;
  int64_t port = 0;
  int64_t priority = 0;
  int64_t weight = 0;
  std::string text;
  bool mail = false;
  uint32_t ttl = 0;
  int64_t target_strip = 0;
  std::string group;
};

// Decodes `json` as Go's encoding/json decodes it into msg.Service: keys are
// matched case-insensitively, unknown keys and nulls are ignored, a value of
// the wrong type (a string TTL, a fractional port, a negative TTL) is an
// error, as is anything but an object or null at the top. On error sets
// *error and returns false.
bool ParseService(std::string_view json, Service* out, std::string* error);

// What a service's host stands for (msg.Service.HostType).
enum class HostKind : uint8_t {
  kA,     // an IPv4 address (IPv4-mapped IPv6 included)
  kAaaa,  // an IPv6 address
  kName,  // a domain name: CNAME, or the target of SRV/MX/PTR
  kText,  // not an address, and the service has text: a TXT record
};

// Classifies the host; for addresses fills `address` (4 or 16 octets, see
// `address_len`).
HostKind ClassifyHost(const Service& s, std::array<uint8_t, 16>* address, size_t* address_len);

// msg.Path: "service.staging.skydns.local." under prefix "skydns" is
// "/skydns/local/skydns/staging/service". `name` is presentation format.
std::string PathOf(std::string_view name, std::string_view prefix);

// msg.PathWithWildcard: as PathOf, but cut above the first label (from the
// top) that is "*" or "any"; `wildcard` says whether one was found.
std::string PathWithWildcard(std::string_view name, std::string_view prefix, bool* wildcard);

// msg.Domain: the DNS name of a key, dropping its first path component (the
// prefix): "/skydns/local/skydns/x" is "x.skydns.local.".
std::string DomainOf(std::string_view key);

// Go's path.Clean for a rooted path.
std::string CleanPath(std::string_view path);

// dns.SplitDomainName: the labels of a presentation-format name, escapes
// kept ("a\.b.example." has labels "a\.b" and "example").
std::vector<std::string> SplitDomainName(std::string_view name);

// TXT strings of `text` as CoreDNS splits it: 255-octet pieces (a text of
// exactly 255 octets gets an empty second string, as in CoreDNS).
std::vector<std::string> Split255(std::string_view text);

// msg targetStrip: `fqdn` without its `labels` leftmost labels; the name
// unchanged if it has no more labels than that.
std::string TargetStrip(std::string_view fqdn, int64_t labels);

// dns.Fqdn.
std::string Fqdn(std::string_view name);

}  // namespace warpdns::slowpath::etcd

#endif  // WARPDNS_SLOWPATH_PLUGINS_ETCD_SERVICE_H_
