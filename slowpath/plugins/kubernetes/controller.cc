#include "slowpath/plugins/kubernetes/controller.h"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "fastpath/table/generation.h"
#include "slowpath/metrics/metrics.h"

namespace warpdns::slowpath::kubernetes {
namespace {

using nlohmann::json;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kInitialBackoffNs = 500 * kMs;
constexpr int64_t kMaxBackoffNs = 8'000 * kMs;
// A watch that ends sooner than this without an event is retried after a
// backoff, so a server that closes every watch at once is not hammered.
constexpr int64_t kMinWatchNs = 1'000 * kMs;
constexpr int64_t kMaxPollNs = 1'000 * kMs;
constexpr char kListPageSize[] = "500";
// client-go's watch timeout: 5 to 10 minutes, spread so watches do not
// all restart together.
constexpr int kMinWatchSeconds = 300;
constexpr size_t kMaxErrorBody = 64 * 1024;

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t WallNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

double Random01() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(rng);
}

std::string Escape(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += {'%', kHex[c >> 4], kHex[c & 15]};
    }
  }
  return out;
}

// host:port of the server URL, the `host` label of the client metrics.
std::string HostOf(const std::string& server) {
  std::string host =
      server.substr(server.find("://") == std::string::npos ? 0 : server.find("://") + 3);
  return host.substr(0, host.find('/'));
}

// The message of an API Status body, else the HTTP code.
std::string StatusMessage(const std::string& body, long code) {
  try {
    json status = json::parse(body);
    if (status.is_object() && status.contains("message"))
      return status["message"].get<std::string>();
  } catch (const json::exception&) {
  }
  return "the server responded with HTTP " + std::to_string(code);
}

struct Metrics {
  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& request_duration;
  prometheus::Histogram& programming_headless;
};

prometheus::Histogram::BucketBoundaries Exponential(double start, int count) {
  prometheus::Histogram::BucketBoundaries b;
  for (int i = 0; i < count; ++i, start *= 2) b.push_back(start);
  return b;
}

Metrics& GetMetrics() {
  static Metrics* m = [] {
    prometheus::Registry& r = metrics::Registry();
    auto& programming =
        prometheus::BuildHistogram()
            .Name("coredns_kubernetes_dns_programming_duration_seconds")
            .Help("Histogram of the time (in seconds) it took to program a dns instance.")
            .Register(r);
    return new Metrics{
        prometheus::BuildCounter()
            .Name("coredns_kubernetes_rest_client_requests_total")
            .Help("Number of HTTP requests, partitioned by status code, method, and host.")
            .Register(r),
        prometheus::BuildHistogram()
            .Name("coredns_kubernetes_rest_client_request_duration_seconds")
            .Help("Request latency in seconds. Broken down by verb and host.")
            .Register(r),
        // From 1 millisecond to ~17 minutes, as CoreDNS.
        programming.Add({{"service_kind", "headless_with_selector"}}, Exponential(0.001, 20)),
    };
  }();
  return *m;
}

struct Resource {
  Kind kind;
  const char* path;
  const char* type_name;  // client-go's name in log lines
};

// CoreDNS's: pods that ran to completion or are lost have no records.
constexpr char kPodFieldSelector[] =
    "status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown";

constexpr Resource kResources[] = {
    {Kind::kNamespace, "/api/v1/namespaces", "*v1.Namespace"},
    {Kind::kService, "/api/v1/services", "*v1.Service"},
    {Kind::kEndpointSlice, "/apis/discovery.k8s.io/v1/endpointslices", "*v1.EndpointSlice"},
    {Kind::kPod, "/api/v1/pods", "*v1.Pod"},
};

}  // namespace

struct Controller::Reflector {
  Controller* owner;
  Resource resource;
  std::string selector;
  bool listed = false;  // its first list completed
  bool relist = true;   // the next transfer is a list, not a watch
  std::string rv;       // where the watch resumes
  std::string continue_token;
  std::vector<std::pair<std::string, Object>> pending;  // list pages so far
  // The transfer in flight.
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  bool watching = false;
  bool got_event = false;
  bool counted = false;  // in the client metrics
  std::string body;      // a list page, or the unfinished line of a watch
  std::string url;
  int64_t started_ns = 0;
  int64_t next_start_ns = 0;
  int64_t backoff_ns = 0;
};

Controller::Controller(Options options)
    : options_(std::move(options)),
      host_label_(HostOf(options_.api.server)),
      current_(std::make_shared<const Snapshot>()) {
  static std::once_flag curl_init;
  std::call_once(curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  GetMetrics();
  for (const Resource& res : kResources) {
    if ((res.kind == Kind::kEndpointSlice && !options_.endpoints) ||
        (res.kind == Kind::kPod && !options_.pods)) {
      continue;
    }
    auto r = std::make_unique<Reflector>();
    r->owner = this;
    r->resource = res;
    r->selector = res.kind == Kind::kNamespace ? options_.namespace_labels : options_.labels;
    reflectors_.push_back(std::move(r));
  }
  multi_ = curl_multi_init();
  thread_ = std::thread([this] { Run(); });
}

Controller::~Controller() {
  stopping_.store(true);
  curl_multi_wakeup(multi_);
  thread_.join();
  curl_multi_cleanup(multi_);
}

void Controller::Log(const std::string& line) const {
  if (options_.host != nullptr) options_.host->Log(line);
}

void Controller::Run() {
  while (!stopping_.load()) {
    for (auto& r : reflectors_) {
      if (r->curl == nullptr && NowNs() >= r->next_start_ns) Start(*r, NowNs());
    }
    int running = 0;
    curl_multi_perform(multi_, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      const CURLcode result = msg->data.result;
      Reflector* r = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &r);
      Finish(*r, result);
    }
    if (dirty_) Publish();
    int64_t wait_ns = kMaxPollNs;
    for (const auto& r : reflectors_) {
      if (r->curl == nullptr)
        wait_ns = std::min(wait_ns, std::max<int64_t>(0, r->next_start_ns - NowNs()));
    }
    curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait_ns / kMs), nullptr);
  }
  for (auto& r : reflectors_) {
    if (r->curl == nullptr) continue;
    curl_multi_remove_handle(multi_, r->curl);
    curl_easy_cleanup(r->curl);
    curl_slist_free_all(r->headers);
  }
}

void Controller::Start(Reflector& r, int64_t now_ns) {
  std::string query;
  int watch_seconds = 0;
  if (r.relist) {
    query = std::string("?limit=") + kListPageSize;
    if (!r.continue_token.empty()) query += "&continue=" + Escape(r.continue_token);
  } else {
    watch_seconds = kMinWatchSeconds + static_cast<int>(Random01() * kMinWatchSeconds);
    query = "?allowWatchBookmarks=true&resourceVersion=" + Escape(r.rv) +
            "&timeoutSeconds=" + std::to_string(watch_seconds) + "&watch=true";
  }
  if (!r.selector.empty()) query += "&labelSelector=" + Escape(r.selector);
  if (r.resource.kind == Kind::kPod) query += "&fieldSelector=" + Escape(kPodFieldSelector);
  r.curl = curl_easy_init();
  std::string error;
  if (!ConfigureRequest(options_.api, r.resource.path + query, r.curl, &r.headers, &error)) {
    curl_easy_cleanup(r.curl);
    curl_slist_free_all(r.headers);
    r.curl = nullptr;
    r.headers = nullptr;
    Retry(r, std::string("Failed to ") + (r.relist ? "list " : "watch ") + r.resource.type_name +
                 ": " + error);
    return;
  }
  r.url = options_.api.server + r.resource.path + query;
  r.error[0] = '\0';
  curl_easy_setopt(r.curl, CURLOPT_WRITEFUNCTION, &Controller::OnData);
  curl_easy_setopt(r.curl, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(r.curl, CURLOPT_HEADERFUNCTION, &Controller::OnHeader);
  curl_easy_setopt(r.curl, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(r.curl, CURLOPT_PRIVATE, &r);
  curl_easy_setopt(r.curl, CURLOPT_ERRORBUFFER, r.error);
  curl_easy_setopt(r.curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(r.curl, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
  // A peer that vanished without closing shows up through keepalives.
  curl_easy_setopt(r.curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(r.curl, CURLOPT_TCP_KEEPIDLE, 30L);
  curl_easy_setopt(r.curl, CURLOPT_TCP_KEEPINTVL, 10L);
  if (r.relist) {
    curl_easy_setopt(r.curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(r.curl, CURLOPT_LOW_SPEED_TIME, 60L);
  } else {
    curl_easy_setopt(r.curl, CURLOPT_TIMEOUT, static_cast<long>(watch_seconds + 30));
  }
  r.watching = !r.relist;
  r.got_event = false;
  r.counted = false;
  r.body.clear();
  r.started_ns = now_ns;
  curl_multi_add_handle(multi_, r.curl);
}

size_t Controller::OnData(char* data, size_t size, size_t count, void* reflector) {
  Reflector& r = *static_cast<Reflector*>(reflector);
  const size_t n = size * count;
  long code = 0;
  curl_easy_getinfo(r.curl, CURLINFO_RESPONSE_CODE, &code);
  if (code != 200 && r.body.size() > kMaxErrorBody) return n;
  r.body.append(data, n);
  if (r.watching && code == 200) r.owner->Consume(r);
  return n;
}

size_t Controller::OnHeader(char* data, size_t size, size_t count, void* reflector) {
  Reflector& r = *static_cast<Reflector*>(reflector);
  // The blank line ends the headers: the answer has started.
  if (size * count == 2 && data[0] == '\r') r.owner->Count(r);
  return size * count;
}

// Applies the complete lines of a watch stream and keeps the rest.
void Controller::Consume(Reflector& r) {
  size_t start = 0;
  for (size_t nl; (nl = r.body.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (nl > start) Apply(r, r.body.substr(start, nl - start));
  }
  r.body.erase(0, start);
}

void Controller::Apply(Reflector& r, const std::string& line) {
  if (r.relist) return;  // the watch expired: nothing more from it counts
  const Kind kind = r.resource.kind;
  try {
    const json event = json::parse(line);
    const std::string type = event.at("type").get<std::string>();
    const json& object = event.at("object");
    if (type == "ERROR") {
      if (object.value("code", 0) == 410) {
        // The resourceVersion is older than the server keeps: start over.
        r.relist = true;
        Log(std::string("[INFO] plugin/kubernetes: watch of ") + r.resource.type_name +
            " ended with: " + object.value("message", "410 Gone"));
      } else {
        Log(std::string("[ERROR] plugin/kubernetes: watch of ") + r.resource.type_name +
            " ended with: " + object.value("message", "an error event"));
      }
      return;
    }
    const std::string rv = object.at("metadata").value("resourceVersion", "");
    if (type == "ADDED" || type == "MODIFIED") {
      const Object decoded = Decode(kind, object);
      if (kind == Kind::kEndpointSlice) {
        // CoreDNS's DNS programming latency: headless services only.
        const auto& ep = std::get<std::shared_ptr<const Endpoints>>(decoded);
        const auto& services = working_.services.Get(ep->Index());
        if (ep->last_change_trigger_ns != 0 && services.size() == 1 && services[0]->Headless()) {
          GetMetrics().programming_headless.Observe(
              static_cast<double>(WallNs() - ep->last_change_trigger_ns) / 1e9);
        }
      }
      dirty_ |= Put(&working_, kind, PrimaryKey(kind, object), decoded);
    } else if (type == "DELETED") {
      dirty_ |= Erase(&working_, kind, PrimaryKey(kind, object));
    } else if (type != "BOOKMARK") {
      return;
    }
    if (!rv.empty()) r.rv = rv;
    r.got_event = true;
  } catch (const json::exception& e) {
    Log(std::string("[ERROR] plugin/kubernetes: bad watch event for ") + r.resource.type_name +
        ": " + e.what());
  }
}

// The client metrics of a request, once its answer starts (a watch counts
// when it is established, as in client-go) or it fails.
void Controller::Count(Reflector& r) {
  if (r.counted) return;
  r.counted = true;
  long code = 0;
  curl_easy_getinfo(r.curl, CURLINFO_RESPONSE_CODE, &code);
  Metrics& m = GetMetrics();
  m.requests
      .Add({{"code", code == 0 ? "<error>" : std::to_string(code)},
            {"method", "GET"},
            {"host", host_label_}})
      .Increment();
  if (code == 0) return;
  curl_off_t first_byte_us = 0;
  curl_easy_getinfo(r.curl, CURLINFO_STARTTRANSFER_TIME_T, &first_byte_us);
  m.request_duration.Add({{"verb", "GET"}, {"host", host_label_}}, Exponential(0.001, 16))
      .Observe(static_cast<double>(first_byte_us) / 1e6);
}

void Controller::Finish(Reflector& r, CURLcode result) {
  Count(r);
  long code = 0;
  curl_easy_getinfo(r.curl, CURLINFO_RESPONSE_CODE, &code);
  const std::string reason =
      "Get \"" + r.url + "\": " + (r.error[0] != '\0' ? r.error : curl_easy_strerror(result));
  curl_multi_remove_handle(multi_, r.curl);
  curl_easy_cleanup(r.curl);
  curl_slist_free_all(r.headers);
  r.curl = nullptr;
  r.headers = nullptr;
  const int64_t now = NowNs();

  if (r.watching) {
    if (code == 410) {
      r.relist = true;
      r.next_start_ns = now;
    } else if (code != 200) {
      Retry(r, std::string("Failed to watch ") + r.resource.type_name + ": " +
                   (code == 0 ? reason : StatusMessage(r.body, code)));
    } else if (r.relist || r.got_event || now - r.started_ns >= kMinWatchNs) {
      // Ended (timeout, a dropped connection, 410): resume at once, from
      // r.rv or with a list.
      if (result != CURLE_OK) {
        Log(std::string("[WARNING] plugin/kubernetes: watch of ") + r.resource.type_name +
            " ended with: " + reason);
      }
      r.backoff_ns = 0;
      r.next_start_ns = now;
    } else {
      Retry(r, result == CURLE_OK
                   ? ""
                   : std::string("Failed to watch ") + r.resource.type_name + ": " + reason);
    }
    return;
  }

  auto restart_list = [&r] {
    r.pending.clear();
    r.continue_token.clear();
  };
  if (code == 410 && !r.continue_token.empty()) {  // the continue token expired
    restart_list();
    r.next_start_ns = now;
    return;
  }
  if (result != CURLE_OK || code != 200) {
    restart_list();
    Retry(r, std::string("Failed to list ") + r.resource.type_name + ": " +
                 (code == 0 ? reason : StatusMessage(r.body, code)));
    return;
  }
  try {
    const json list = json::parse(r.body);
    for (const json& item : list.at("items")) {
      r.pending.emplace_back(PrimaryKey(r.resource.kind, item), Decode(r.resource.kind, item));
    }
    const json& meta = list.at("metadata");
    if (std::string next = meta.value("continue", ""); !next.empty()) {
      r.continue_token = std::move(next);
      r.next_start_ns = now;
      return;
    }
    // The whole list replaces what was known of the resource.
    Reset(&working_, r.resource.kind);
    for (const auto& [key, object] : r.pending) Put(&working_, r.resource.kind, key, object);
    r.rv = meta.value("resourceVersion", "");
    restart_list();
    r.listed = true;
    r.relist = false;
    r.backoff_ns = 0;
    r.next_start_ns = now;
    working_.synced = std::all_of(reflectors_.begin(), reflectors_.end(),
                                  [](const auto& x) { return x->listed; });
    dirty_ = true;
  } catch (const json::exception& e) {
    restart_list();
    Retry(r, std::string("Failed to list ") + r.resource.type_name + ": " + e.what());
  }
}

void Controller::Retry(Reflector& r, const std::string& what) {
  if (!what.empty()) Log("[ERROR] plugin/kubernetes: " + what);
  r.backoff_ns = std::clamp(r.backoff_ns * 2, kInitialBackoffNs, kMaxBackoffNs);
  r.next_start_ns =
      NowNs() + static_cast<int64_t>(static_cast<double>(r.backoff_ns) * (0.8 + 0.4 * Random01()));
}

void Controller::Publish() {
  working_.modified = time(nullptr);
  {
    std::lock_guard lock(synced_mu_);
    current_.store(std::make_shared<const Snapshot>(working_));
  }
  // After the store: a reply memoized under the new generation was made
  // from this snapshot or a later one.
  fastpath::BumpSourceGeneration(options_.source);
  synced_cv_.notify_all();
  working_.Seal();
  dirty_ = false;
}

bool Controller::WaitSynced(int64_t timeout_ms) {
  std::unique_lock lock(synced_mu_);
  return synced_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                             [this] { return Current()->synced; });
}

}  // namespace warpdns::slowpath::kubernetes
