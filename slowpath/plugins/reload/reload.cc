// reload: re-read the Corefile when its contents (or an import's) change.
#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::reload {
namespace {

constexpr int64_t kDefaultIntervalNs = 30'000'000'000;
constexpr int64_t kDefaultJitterNs = 15'000'000'000;
constexpr int64_t kMinIntervalNs = 2'000'000'000;
constexpr int64_t kMinJitterNs = 1'000'000'000;

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (d.args.size() > 2) {
    *error = "plugin/reload: " + config::ArgErrorAt(d.args[2]);
    return nullptr;
  }
  int64_t interval = kDefaultIntervalNs;
  int64_t jitter = kDefaultJitterNs;
  std::string why;
  for (size_t k = 0; k < d.args.size(); ++k) {
    // CoreDNS passes time.ParseDuration's error through.
    if (!config::ParseDuration(d.args[k].text, k == 0 ? &interval : &jitter, &why)) {
      *error = "plugin/reload: " + config::ErrorAt(d.args[k], why);
      return nullptr;
    }
  }
  if (!d.args.empty() && interval < kMinIntervalNs) {
    *error = "plugin/reload: " +
             config::ErrorAt(d.args[0], "interval value must be greater or equal to 2s");
    return nullptr;
  }
  if (d.args.size() > 1 && jitter != 0 && jitter < kMinJitterNs) {
    *error = "plugin/reload: " +
             config::ErrorAt(d.args[1], "jitter value must be greater or equal to 1s");
    return nullptr;
  }
  // CoreDNS caps the jitter at half the interval.
  if (jitter > interval / 2) jitter = interval / 2;
  ctx.host->EnableReload(interval / 1'000'000, jitter / 1'000'000);
  return nullptr;
}

const Registrar kRegistrar({"reload", Setup, true});

}  // namespace
}  // namespace warpdns::slowpath::reload
