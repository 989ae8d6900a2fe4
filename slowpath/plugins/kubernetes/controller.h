// The plugin's client of the Kubernetes API (client-go's reflectors): on a
// thread of its own it lists, then watches, Namespaces, Services,
// EndpointSlices (discovery.k8s.io/v1) and, for `pods verified`, Pods, all
// over one libcurl multi handle; it resumes a dropped watch from the last
// resourceVersion, relists on 410 Gone, backs off on errors and keeps the
// last good data while the API server is away. Each batch of changes is
// published at once as a new Snapshot.
#ifndef WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_CONTROLLER_H_
#define WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_CONTROLLER_H_

#include <curl/curl.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "slowpath/chain/plugin.h"
#include "slowpath/plugins/kubernetes/client.h"
#include "slowpath/plugins/kubernetes/snapshot.h"

namespace warpdns::slowpath::kubernetes {

class Controller {
 public:
  struct Options {
    ApiConfig api;
    std::string labels;            // canonical selector: services, slices, pods
    std::string namespace_labels;  // canonical selector: namespaces
    bool endpoints = true;         // false with `noendpoints`
    bool pods = false;             // `pods verified`
    Host* host = nullptr;          // for log lines
    uint16_t source = 0;           // generation.h source bumped by changes; 0: the data generation
  };

  explicit Controller(Options options);
  // Stops the thread: transfers in flight are abandoned.
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // The latest version; never blocks.
  std::shared_ptr<const Snapshot> Current() const { return current_.load(); }
  // Waits at most `timeout_ms` for the first sync; returns whether it came.
  bool WaitSynced(int64_t timeout_ms);

 private:
  struct Reflector;

  void Run();
  void Start(Reflector& r, int64_t now_ns);
  void Finish(Reflector& r, CURLcode result);
  void Count(Reflector& r);
  void Consume(Reflector& r);
  void Apply(Reflector& r, const std::string& line);
  void Retry(Reflector& r, const std::string& what);
  void Publish();
  void Log(const std::string& line) const;
  static size_t OnData(char* data, size_t size, size_t count, void* reflector);
  static size_t OnHeader(char* data, size_t size, size_t count, void* reflector);

  const Options options_;
  const std::string host_label_;  // host:port of the API server, for metrics
  std::vector<std::unique_ptr<Reflector>> reflectors_;
  CURLM* multi_ = nullptr;
  std::atomic<bool> stopping_{false};
  // The version being edited (API thread only) and whether it differs from
  // the one published.
  Snapshot working_;
  bool dirty_ = false;
  std::atomic<std::shared_ptr<const Snapshot>> current_;
  std::mutex synced_mu_;
  std::condition_variable synced_cv_;
  std::thread thread_;
};

}  // namespace warpdns::slowpath::kubernetes

#endif  // WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_CONTROLLER_H_
