// health: HTTP /health answering 200 OK while the process is up, with an
// optional lameduck delay at shutdown.
#include <chrono>
#include <thread>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::health {
namespace {

constexpr char kDefaultAddress[] = ":8080";

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (d.args.size() > 1) {
    *error = "plugin/health: " + config::ArgErrorAt(d.args[1]);
    return nullptr;
  }
  std::string address = d.args.empty() ? kDefaultAddress : d.args[0].text;
  int64_t lameduck_ns = 0;
  for (const config::Directive& opt : d.block) {
    if (opt.name.text != "lameduck") {
      *error = "plugin/health: " +
               config::ErrorAt(opt.name, "unknown property '" + opt.name.text + "'");
      return nullptr;
    }
    if (opt.args.size() != 1) {
      *error = "plugin/health: " + config::ArgErrorAt(opt.name);
      return nullptr;
    }
    if (!config::ParseDuration(opt.args[0].text, &lameduck_ns) || lameduck_ns < 0) {
      *error = "plugin/health: " +
               config::ErrorAt(opt.args[0], "unable to parse lameduck duration value: '" +
                                                opt.args[0].text + "'");
      return nullptr;
    }
  }
  std::string err;
  if (!ctx.host->AddHttpEndpoint(address, "/health",
                                 [](const std::string&) { return std::pair{200, std::string("OK")}; },
                                 &err)) {
    *error = "plugin/health: " + config::ErrorAt(d.name, err);
    return nullptr;
  }
  if (lameduck_ns > 0) {
    Host* host = ctx.host;
    ctx.host->OnShutdown([host, lameduck_ns] {
      // Keep answering DNS and /health while load balancers drain us.
      host->Log("[INFO] plugin/health: Going into lameduck mode for " +
                std::to_string(lameduck_ns / 1000000000) + "s");
      std::this_thread::sleep_for(std::chrono::nanoseconds(lameduck_ns));
    });
  }
  return nullptr;
}

const Registrar kRegistrar({"health", Setup, true});

}  // namespace
}  // namespace warpdns::slowpath::health
