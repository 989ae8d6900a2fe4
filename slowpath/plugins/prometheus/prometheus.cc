// prometheus: serves every registered metric at ADDRESS/metrics.
#include "slowpath/chain/plugin.h"
#include "slowpath/metrics/metrics.h"

namespace warpdns::slowpath::prometheus_plugin {
namespace {

constexpr char kDefaultAddress[] = "localhost:9153";

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (d.args.size() > 1) {
    *error = "plugin/prometheus: " + config::ArgErrorAt(d.args[1]);
    return nullptr;
  }
  for (const config::Directive& opt : d.block) {
    // runtime_metrics exports Go runtime figures in CoreDNS: nothing to add here.
    if (opt.name.text != "runtime_metrics") {
      *error = "plugin/prometheus: " +
               config::ErrorAt(opt.name, "unknown property '" + opt.name.text + "'");
      return nullptr;
    }
  }
  std::string address = d.args.empty() ? kDefaultAddress : d.args[0].text;
  std::string err;
  if (!ctx.host->AddHttpEndpoint(
          address, "/metrics", [] { return std::pair{200, metrics::Serialize()}; }, &err)) {
    *error = "plugin/prometheus: " + config::ErrorAt(d.name, err);
    return nullptr;
  }
  return nullptr;
}

const Registrar kRegistrar({"prometheus", Setup, true});

}  // namespace
}  // namespace warpdns::slowpath::prometheus_plugin
