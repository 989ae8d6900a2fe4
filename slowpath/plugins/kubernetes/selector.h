// Label selectors for `labels` and `namespace_labels`: parsed as CoreDNS
// does (meta.ParseToLabelSelector, then LabelSelectorAsSelector) and written
// back in the API's canonical form, which the list and watch requests carry
// so the API server does the filtering.
#ifndef WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_SELECTOR_H_
#define WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_SELECTOR_H_

#include <string>
#include <string_view>

namespace warpdns::slowpath::kubernetes {

// "environment in (staging, qa),application=nginx" ->
// "application=nginx,environment in (qa,staging)". Returns false with a
// reason in *error when the text is not a selector CoreDNS accepts.
bool ParseSelector(std::string_view text, std::string* canonical, std::string* error);

}  // namespace warpdns::slowpath::kubernetes

#endif  // WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_SELECTOR_H_
