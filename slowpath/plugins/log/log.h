// log: one line per query after the reply, in CoreDNS's formats and with
// its placeholders (CoreDNS plugin/log and plugin/pkg/replacer).
#ifndef WARPDNS_SLOWPATH_PLUGINS_LOG_LOG_H_
#define WARPDNS_SLOWPATH_PLUGINS_LOG_LOG_H_

#include <cstdint>
#include <string>

namespace warpdns::slowpath::log {

// {duration}: Go's strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s", the
// shortest decimal that reads back as the same float64 ("0.037990251s").
std::string DurationText(int64_t ns);

}  // namespace warpdns::slowpath::log

#endif  // WARPDNS_SLOWPATH_PLUGINS_LOG_LOG_H_
