// prometheus: records CoreDNS's DNS metrics for the block's queries and
// serves every registered metric at ADDRESS/metrics.
#include <time.h>

#include <algorithm>

#include "slowpath/chain/clock.h"
#include "slowpath/chain/plugin.h"
#include "slowpath/chain/server.h"
#include "slowpath/metrics/dns_metrics.h"
#include "slowpath/metrics/metrics.h"

namespace warpdns::slowpath::prometheus_plugin {
namespace {

constexpr char kDefaultAddress[] = "localhost:9153";

// Notes the rcode and the plugin that wrote the reply (dnstest.Recorder).
class Recorder : public ResponseWriter {
 public:
  Recorder(ResponseWriter& inner, const Request& req) : inner_(inner), req_(req) {}
  void WriteMsg(const wire::Message& reply) override {
    if (!inner_.Written()) {
      rcode_ = reply.Rcode();
      caller_ = req_.active_plugin;
    }
    // What dnstest.Recorder sums: the size CoreDNS reports, uncompressed.
    length_ += wire::UncompressedLength(reply);
    inner_.WriteMsg(reply);
  }
  bool Written() const override { return inner_.Written(); }
  size_t Len() const override { return inner_.Len(); }
  int rcode() const { return rcode_; }
  std::string_view caller() const { return caller_; }
  size_t length() const { return length_; }

 private:
  ResponseWriter& inner_;
  const Request& req_;
  int rcode_ = 0;
  std::string_view caller_;
  size_t length_ = 0;
};

class Metrics : public Plugin {
 public:
  std::string_view Name() const override { return "prometheus"; }

  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    const int64_t start = MonotonicNs();
    Recorder rec(w, req);
    Result r = co_await Next(req, rec);
    // Nothing written: the server writes the returned rcode, and that is
    // what the client sees.
    const bool wrote = rec.Written();
    const int rcode = wrote ? rec.rcode() : r.rcode;
    const std::string_view plugin = wrote ? rec.caller() : "";
    if (req.FromClient()) {
      metrics::ReportRequest(req, req.zone, rcode, plugin, rec.length(), MonotonicNs() - start);
    }
    // A reply the fast path may replay is counted there as here.
    if (Server::MayMemoize(req)) {
      req.replay.tags.stats = metrics::FastPathSlot(req, req.zone, rcode, plugin);
      req.replay.tags.rsize = static_cast<uint16_t>(std::min<size_t>(rec.length(), UINT16_MAX));
      if (req.replay.tags.stats == 0) req.memoizable = false;
    }
    co_return r;
  }

  // What is counted depends only on the query and the reply.
  bool Deterministic() const override { return true; }
};

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
          address, "/metrics",
          [](const std::string&) { return std::pair{200, metrics::Serialize()}; }, &err)) {
    *error = "plugin/prometheus: " + config::ErrorAt(d.name, err);
    return nullptr;
  }
  return std::make_unique<Metrics>();
}

const Registrar kRegistrar({"prometheus", Setup, true});

}  // namespace
}  // namespace warpdns::slowpath::prometheus_plugin
