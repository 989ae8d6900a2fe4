// health: HTTP /health answering 200 OK while the process is up, with an
// optional lameduck delay at shutdown, and CoreDNS's once-a-second self-check.
#include <curl/curl.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <chrono>
#include <thread>

#include "slowpath/chain/plugin.h"
#include "slowpath/metrics/metrics.h"

namespace warpdns::slowpath::health {
namespace {

constexpr char kDefaultAddress[] = ":8080";
constexpr int64_t kCheckPeriodMs = 1000;
constexpr long kCheckTimeoutMs = 3000;

// CoreDNS's overloaded(): the time a GET of our own /health takes tells how
// loaded the process is. Process-wide series without labels.
struct CheckMetrics {
  prometheus::Histogram& duration;
  prometheus::Counter& failures;
};

CheckMetrics& GetCheckMetrics() {
  static CheckMetrics* m = [] {
    prometheus::Registry& r = metrics::Registry();
    return new CheckMetrics{
        prometheus::BuildHistogram()
            .Name("coredns_health_request_duration_seconds")
            .Help("Histogram of the time (in seconds) each request took.")
            .Register(r)
            .Add({}, prometheus::Histogram::BucketBoundaries{0.00025, 0.0025, 0.025, 0.25, 2.5}),
        prometheus::BuildCounter()
            .Name("coredns_health_request_failures_total")
            .Help("The number of times the health check failed.")
            .Register(r)
            .Add({})};
  }();
  return *m;
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

void SelfCheck(const std::string& url) {
  CheckMetrics& m = GetCheckMetrics();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return;
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, kCheckTimeoutMs);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  const auto start = std::chrono::steady_clock::now();
  const CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK || status != 200) {
    m.failures.Increment();
    return;
  }
  m.duration.Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

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
  // ":8080" listens on every address; the check asks the local one.
  const std::string url =
      "http://" + (address.starts_with(":") ? "localhost" + address : address) + "/health";
  GetCheckMetrics();
  ctx.host->Every(kCheckPeriodMs, [url] { SelfCheck(url); });
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
