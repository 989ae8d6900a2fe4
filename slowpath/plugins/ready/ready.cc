// ready: HTTP /ready, 200 once every plugin that can be not ready is ready.
#include <numeric>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::ready {
namespace {

constexpr char kDefaultAddress[] = ":8181";

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (d.args.size() > 1) {
    *error = "plugin/ready: " + config::ArgErrorAt(d.args[1]);
    return nullptr;
  }
  bool continuously = false;
  for (const config::Directive& opt : d.block) {
    if (opt.name.text != "monitor") {
      *error = "plugin/ready: " +
               config::ErrorAt(opt.name, "unknown property '" + opt.name.text + "'");
      return nullptr;
    }
    if (opt.args.size() != 1 ||
        (opt.args[0].text != "until-ready" && opt.args[0].text != "continuously")) {
      *error = "plugin/ready: " +
               config::ErrorAt(opt.args.empty() ? opt.name : opt.args[0],
                               "monitor expects 'until-ready' or 'continuously'");
      return nullptr;
    }
    continuously = opt.args[0].text == "continuously";
  }
  Host* host = ctx.host;
  std::string err;
  // Asked at request time: plugins set up after this one register their
  // checks later in the same configuration.
  auto handler = [host, continuously](const std::string&) {
    std::vector<std::string> not_ready = host->NotReady(continuously);
    if (not_ready.empty()) return std::pair{200, std::string("OK")};
    std::string body;
    for (const std::string& name : not_ready) body += (body.empty() ? "" : ",") + name;
    return std::pair{503, body};
  };
  const std::string address = d.args.empty() ? kDefaultAddress : d.args[0].text;
  if (!host->AddHttpEndpoint(address, "/ready", handler, &err)) {
    *error = "plugin/ready: " + config::ErrorAt(d.name, err);
    return nullptr;
  }
  return nullptr;
}

const Registrar kRegistrar({"ready", Setup, true});

}  // namespace
}  // namespace warpdns::slowpath::ready
