// chaos: answers CH-class TXT queries for the server's version, authors and
// host name (CoreDNS plugin/chaos).
#ifndef WARPDNS_SLOWPATH_PLUGINS_CHAOS_CHAOS_H_
#define WARPDNS_SLOWPATH_PLUGINS_CHAOS_CHAOS_H_

#include <string_view>

namespace warpdns::slowpath::chaos {

// warpdns's version, the default answer to version.bind ("warpdns-<this>").
std::string_view WarpdnsVersion();

}  // namespace warpdns::slowpath::chaos

#endif  // WARPDNS_SLOWPATH_PLUGINS_CHAOS_CHAOS_H_
