// pprof: profiling endpoints under /debug/pprof (a CPU profile of the whole
// process from gperftools, in the format `pprof` reads) and the fast path's
// per-stage cycle histograms under /debug/fastpath/stages.
#include <gperftools/profiler.h>
#include <stdlib.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <thread>

#include "fastpath/profile/stage_profile.h"
#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::pprof {
namespace {

constexpr char kDefaultAddress[] = "localhost:6053";
constexpr double kMaxSeconds = 300;

// The `seconds` parameter of a query string, `fallback` when absent; false
// when it is not a positive number of seconds up to kMaxSeconds.
bool Seconds(const std::string& query, double fallback, double* out) {
  *out = fallback;
  std::istringstream in(query);
  for (std::string kv; std::getline(in, kv, '&');) {
    if (!kv.starts_with("seconds=")) continue;
    const std::string v = kv.substr(8);
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
    if (ec != std::errc() || end != v.data() + v.size()) return false;
  }
  return *out > 0 && *out <= kMaxSeconds;
}

// Go's /debug/pprof/profile: profiles the process for `seconds` (default
// 30) and answers the profile. Blocks this endpoint's HTTP thread meanwhile.
std::pair<int, std::string> CpuProfile(const std::string& query) {
  static std::mutex busy;
  double seconds;
  if (!Seconds(query, 30, &seconds)) return {400, "bad seconds parameter\n"};
  std::unique_lock lock(busy, std::try_to_lock);
  if (!lock) return {500, "Could not enable CPU profiling: cpu profiling already in use\n"};
  char path[] = "/tmp/warpdns-cpu-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return {500, "Could not create a profile file\n"};
  close(fd);
  if (!ProfilerStart(path)) {
    unlink(path);
    return {500, "Could not enable CPU profiling\n"};
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  ProfilerStop();
  std::ifstream in(path, std::ios::binary);
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  unlink(path);
  return {200, std::move(body)};
}

std::pair<int, std::string> Stages(const std::string& query) {
  double seconds;
  if (!Seconds(query, 5, &seconds)) return {400, "bad seconds parameter\n"};
  return {200, fastpath::StageProfile::Get().Take(seconds)};
}

std::pair<int, std::string> Cmdline(const std::string&) {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string args((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Go's handler: the arguments joined by NULs, none after the last.
  if (!args.empty() && args.back() == '\0') args.pop_back();
  return {200, args};
}

std::pair<int, std::string> Index(const std::string&) {
  return {200,
          "/debug/pprof/\n\n"
          "profile?seconds=N  CPU profile of the process for N seconds (default 30), gperftools "
          "format: pprof warpdns URL\n"
          "cmdline            the command line\n"
          "/debug/fastpath/stages?seconds=N  cycles per packet of each fast-path stage "
          "(default 5 s)\n"};
}

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (d.args.size() > 1) {
    *error = "plugin/pprof: " + config::ArgErrorAt(d.args[1]);
    return nullptr;
  }
  for (const config::Directive& opt : d.block) {
    if (opt.name.text != "block") {
      *error = "plugin/pprof: " +
               config::ErrorAt(opt.name, "unknown property '" + opt.name.text + "'");
      return nullptr;
    }
    // Go's block profile rate: accepted, there is no block profile here.
    if (opt.args.size() > 1) {
      *error = "plugin/pprof: " + config::ArgErrorAt(opt.args[1]);
      return nullptr;
    }
    int rate = 0;
    if (opt.args.size() == 1) {
      const std::string& v = opt.args[0].text;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), rate);
      if (ec != std::errc() || end != v.data() + v.size()) {
        *error = "plugin/pprof: " + config::ErrorAt(opt.args[0], "invalid block rate: " + v);
        return nullptr;
      }
    }
  }
  const std::string address = d.args.empty() ? kDefaultAddress : d.args[0].text;
  const std::pair<const char*, Host::HttpHandler> endpoints[] = {
      {"/debug/pprof/", Index},
      {"/debug/pprof/profile", CpuProfile},
      {"/debug/pprof/cmdline", Cmdline},
      {"/debug/fastpath/stages", Stages}};
  for (const auto& [path, handler] : endpoints) {
    std::string err;
    if (!ctx.host->AddHttpEndpoint(address, path, handler, &err)) {
      *error = "plugin/pprof: " + config::ErrorAt(d.name, err);
      return nullptr;
    }
  }
  return nullptr;  // not on the query path
}

const Registrar kRegistrar({"pprof", Setup, true});

}  // namespace
}  // namespace warpdns::slowpath::pprof
