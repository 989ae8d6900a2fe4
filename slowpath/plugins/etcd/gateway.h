// The etcd v3 API through its JSON gateway (grpc-gateway in front of the KV,
// Watch, Lease and Auth services): request bodies, response parsing (keys
// and values base64, int64 as strings, fields left out when zero, PUT events
// without a type) and an HTTP transport on libcurl.
#ifndef WARPDNS_SLOWPATH_PLUGINS_ETCD_GATEWAY_H_
#define WARPDNS_SLOWPATH_PLUGINS_ETCD_GATEWAY_H_

#include <curl/curl.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace warpdns::slowpath::etcd {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t mod_revision = 0;
  int64_t lease = 0;  // lease ID, 0 for none
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision when it answered
  std::vector<KeyValue> kvs;
  bool more = false;  // a limit cut the result short
};

struct WatchEvent {
  bool deleted = false;
  KeyValue kv;  // for deletes only key and mod_revision
};

// One message of a watch stream.
struct WatchResult {
  int64_t revision = 0;  // header revision
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // the start revision was compacted away
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};

// The first key after every key starting with `prefix` (clientv3.GetPrefixRangeEnd).
std::string PrefixEnd(std::string_view prefix);

// POST bodies for /v3/kv/range, /v3/watch, /v3/lease/timetolive and
// /v3/auth/authenticate. `revision` 0 reads the latest; `limit` 0 is none.
std::string RangeRequest(std::string_view key, std::string_view range_end, int64_t revision,
                         int64_t limit);
std::string WatchRequest(std::string_view key, std::string_view range_end, int64_t start_revision);
std::string LeaseTimeToLiveRequest(int64_t lease);
std::string AuthenticateRequest(std::string_view name, std::string_view password);

// Response parsers: false with *error on malformed JSON or an error reply.
bool ParseRange(std::string_view body, RangeResult* out, std::string* error);
bool ParseWatch(std::string_view line, WatchResult* out, std::string* error);
// The lease's remaining seconds (-1 once it has expired).
bool ParseLeaseTimeToLive(std::string_view body, int64_t* ttl, std::string* error);
bool ParseAuthenticate(std::string_view body, std::string* token, std::string* error);

// HTTP POSTs to the gateway, at most one streaming (the watch) at a time.
// One thread makes the calls; Stop may come from any other and makes every
// call in progress or to come fail at once.
class Transport {
 public:
  struct Tls {
    bool enabled = false;
    std::string cert;  // client certificate (PEM), optional
    std::string key;   // its private key
    std::string ca;    // CA bundle; empty: the system's
  };

  explicit Transport(Tls tls);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Sent as the Authorization header from now on (etcd auth token).
  void SetToken(std::string token) { token_ = std::move(token); }

  // POSTs `body` and waits for the whole response (5 s at most). False on a
  // transport error or an HTTP status other than 200 (*error says which, with
  // the gateway's message).
  bool Call(const std::string& url, const std::string& body, std::string* response,
            std::string* error);

  // Opens a streaming POST, replacing any open stream.
  void OpenStream(const std::string& url, const std::string& body);
  // Waits up to `timeout_ms` for stream data and appends the complete lines
  // received (one JSON message each) to *lines. Returns false once the
  // stream has ended (*error says how); lines before the end still come.
  bool ReadStream(int timeout_ms, std::vector<std::string>* lines, std::string* error);
  void CloseStream();

  // Any thread: every call returns false from now on.
  void Stop();
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }

 private:
  struct Transfer;
  std::unique_ptr<Transfer> Start(const std::string& url, const std::string& body, bool stream);
  void Finish(std::unique_ptr<Transfer> t);
  // Runs transfers and waits (up to timeout_ms) for activity or Stop.
  void Pump(int timeout_ms);
  static std::string Outcome(const Transfer& t);

  const Tls tls_;
  std::string token_;
  CURLM* multi_;
  std::unique_ptr<Transfer> stream_;
  std::atomic<bool> stopping_{false};
};

}  // namespace warpdns::slowpath::etcd

#endif  // WARPDNS_SLOWPATH_PLUGINS_ETCD_GATEWAY_H_
