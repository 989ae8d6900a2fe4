// CoreDNS's core DNS metrics (plugin/metrics/vars): one call per request,
// from the prometheus plugin or, for queries rejected before any chain, from
// the server with zone "dropped".
#ifndef WARPDNS_SLOWPATH_METRICS_DNS_METRICS_H_
#define WARPDNS_SLOWPATH_METRICS_DNS_METRICS_H_

#include <cstdint>
#include <string_view>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::metrics {

inline constexpr std::string_view kDroppedZone = "dropped";

// vars.Report: requests, DO requests, request size, responses by rcode and
// writing plugin, duration, response size. Thread-safe; the label lookups are
// cached per thread so concurrent workers share no lock.
void ReportRequest(const Request& req, std::string_view zone, int rcode, std::string_view plugin,
                   size_t response_size, int64_t duration_ns);

// The fastpath::StatsBank slot in which the fast path counts its replays of
// the reply ReportRequest just counted with these labels (over UDP), 0 when
// the bank is full. A scrape folds the slots into the same series.
uint16_t FastPathSlot(const Request& req, std::string_view zone, int rcode,
                      std::string_view plugin);

// The `type` label: the mnemonic for the types CoreDNS tracks, else "other".
std::string_view TypeLabel(uint16_t qtype);

}  // namespace warpdns::slowpath::metrics

#endif  // WARPDNS_SLOWPATH_METRICS_DNS_METRICS_H_
