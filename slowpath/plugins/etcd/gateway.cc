#include "slowpath/plugins/etcd/gateway.h"

#include <openssl/evp.h>

#include <nlohmann/json.hpp>

namespace warpdns::slowpath::etcd {
namespace {

using Json = nlohmann::json;

// etcd's own limit for a unary call (CoreDNS's etcdTimeout).
constexpr long kCallTimeoutMs = 5000;
constexpr long kConnectTimeoutMs = 3000;
// A connection whose peer vanished without closing it (a cable, not a
// crash) is noticed by TCP keepalive after about idle + 3 x interval.
constexpr long kKeepaliveIdleS = 5;
constexpr long kKeepaliveIntervalS = 2;

std::string Base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool Unbase64(std::string_view in, std::string* out) {
  if (in.size() % 4 != 0) return false;
  out->assign(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts the padding as zero octets.
  size_t len = static_cast<size_t>(n);
  if (!in.empty() && in.back() == '=') --len;
  if (in.size() > 1 && in[in.size() - 2] == '=') --len;
  out->resize(len);
  return true;
}

// int64 fields come as JSON strings; a missing field is zero.
int64_t Int64(const Json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return 0;
  if (it->is_string()) return std::stoll(it->get<std::string>());
  if (it->is_number()) return it->get<int64_t>();
  throw std::invalid_argument(std::string(field) + " is not a number");
}

std::string Bytes(const Json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return "";
  std::string out;
  if (!it->is_string() || !Unbase64(it->get<std::string>(), &out)) {
    throw std::invalid_argument(std::string(field) + " is not base64");
  }
  return out;
}

KeyValue ToKeyValue(const Json& kv) {
  return {Bytes(kv, "key"), Bytes(kv, "value"), Int64(kv, "mod_revision"), Int64(kv, "lease")};
}

// The error a gateway reply carries, if any: {"error": "...", "code": N}
// for unary calls, {"error": {"message": "..."}} inside a stream.
bool ErrorOf(const Json& doc, std::string* error) {
  auto it = doc.find("error");
  if (it == doc.end()) return false;
  if (it->is_string()) {
    *error = it->get<std::string>();
  } else if (it->is_object() && it->contains("message") && (*it)["message"].is_string()) {
    *error = (*it)["message"].get<std::string>();
  } else {
    *error = it->dump();
  }
  return true;
}

// Parses a reply and runs `read` on it, turning every failure into *error.
template <typename Fn>
bool Parse(std::string_view body, std::string* error, Fn&& read) {
  try {
    const Json doc = Json::parse(body);
    if (!doc.is_object()) {
      *error = "unexpected reply: " + std::string(body.substr(0, 200));
      return false;
    }
    if (ErrorOf(doc, error)) return false;
    read(doc);
    return true;
  } catch (const std::exception& e) {
    *error = std::string("bad reply from etcd: ") + e.what();
    return false;
  }
}

size_t Append(char* data, size_t size, size_t count, void* to) {
  static_cast<std::string*>(to)->append(data, size * count);
  return size * count;
}

}  // namespace

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

std::string RangeRequest(std::string_view key, std::string_view range_end, int64_t revision,
                         int64_t limit) {
  Json req = {{"key", Base64(key)}, {"range_end", Base64(range_end)}};
  if (revision != 0) req["revision"] = std::to_string(revision);
  if (limit != 0) req["limit"] = std::to_string(limit);
  return req.dump();
}

std::string WatchRequest(std::string_view key, std::string_view range_end, int64_t start_revision) {
  return Json{{"create_request",
               {{"key", Base64(key)},
                {"range_end", Base64(range_end)},
                {"start_revision", std::to_string(start_revision)}}}}
      .dump();
}

std::string LeaseTimeToLiveRequest(int64_t lease) {
  return Json{{"ID", std::to_string(lease)}}.dump();
}

std::string AuthenticateRequest(std::string_view name, std::string_view password) {
  return Json{{"name", name}, {"password", password}}.dump();
}

bool ParseRange(std::string_view body, RangeResult* out, std::string* error) {
  *out = RangeResult{};
  return Parse(body, error, [&](const Json& doc) {
    out->revision = Int64(doc.value("header", Json::object()), "revision");
    for (const Json& kv : doc.value("kvs", Json::array())) out->kvs.push_back(ToKeyValue(kv));
    out->more = doc.value("more", false);
  });
}

bool ParseWatch(std::string_view line, WatchResult* out, std::string* error) {
  *out = WatchResult{};
  return Parse(line, error, [&](const Json& doc) {
    const Json result = doc.value("result", Json::object());
    out->revision = Int64(result.value("header", Json::object()), "revision");
    out->created = result.value("created", false);
    out->canceled = result.value("canceled", false);
    out->compact_revision = Int64(result, "compact_revision");
    out->cancel_reason = result.value("cancel_reason", "");
    for (const Json& event : result.value("events", Json::array())) {
      WatchEvent& e = out->events.emplace_back();
      e.deleted = event.value("type", "PUT") == "DELETE";
      e.kv = ToKeyValue(event.value("kv", Json::object()));
    }
  });
}

bool ParseLeaseTimeToLive(std::string_view body, int64_t* ttl, std::string* error) {
  return Parse(body, error, [&](const Json& doc) { *ttl = Int64(doc, "TTL"); });
}

bool ParseAuthenticate(std::string_view body, std::string* token, std::string* error) {
  return Parse(body, error, [&](const Json& doc) { *token = doc.value("token", ""); });
}

struct Transport::Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string request;
  std::string response;
  char error[CURL_ERROR_SIZE] = {};
  bool done = false;
  CURLcode result = CURLE_OK;
  long status = 0;
};

Transport::Transport(Tls tls) : tls_(std::move(tls)) {
  static const bool kCurlReady = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  (void)kCurlReady;
  multi_ = curl_multi_init();
}

Transport::~Transport() {
  CloseStream();
  curl_multi_cleanup(multi_);
}

void Transport::Stop() {
  stopping_.store(true, std::memory_order_release);
  curl_multi_wakeup(multi_);
}

std::unique_ptr<Transport::Transfer> Transport::Start(const std::string& url,
                                                      const std::string& body, bool stream) {
  auto t = std::make_unique<Transfer>();
  t->request = body;
  t->easy = curl_easy_init();
  CURL* e = t->easy;
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.c_str());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->request.size()));
  t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
  if (!token_.empty())
    t->headers = curl_slist_append(t->headers, ("Authorization: " + token_).c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, Append);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &t->response);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
  curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, kConnectTimeoutMs);
  if (!stream) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, kCallTimeoutMs);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, kKeepaliveIdleS);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, kKeepaliveIntervalS);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  if (tls_.enabled) {
    if (!tls_.cert.empty()) curl_easy_setopt(e, CURLOPT_SSLCERT, tls_.cert.c_str());
    if (!tls_.key.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, tls_.key.c_str());
    if (!tls_.ca.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, tls_.ca.c_str());
  }
  curl_multi_add_handle(multi_, e);
  return t;
}

void Transport::Finish(std::unique_ptr<Transfer> t) {
  curl_multi_remove_handle(multi_, t->easy);
  curl_easy_cleanup(t->easy);
  curl_slist_free_all(t->headers);
}

void Transport::Pump(int timeout_ms) {
  // Wait first (libcurl shortens the wait when it has work of its own, a
  // new transfer to start say), then move whatever arrived to the caller.
  if (!stopping()) curl_multi_poll(multi_, nullptr, 0, timeout_ms, nullptr);
  int running = 0;
  curl_multi_perform(multi_, &running);
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &t);
    t->done = true;
    t->result = msg->data.result;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &t->status);
  }
}

std::string Transport::Outcome(const Transfer& t) {
  if (t.result != CURLE_OK) return t.error[0] != '\0' ? t.error : curl_easy_strerror(t.result);
  if (t.status == 200) return "";
  std::string error;
  if (!Parse(t.response, &error, [](const Json&) {}) || !error.empty()) {
    return "HTTP " + std::to_string(t.status) + ": " + error;
  }
  return "HTTP " + std::to_string(t.status);
}

bool Transport::Call(const std::string& url, const std::string& body, std::string* response,
                     std::string* error) {
  std::unique_ptr<Transfer> t = Start(url, body, false);
  Transfer& call = *t;
  while (!call.done && !stopping()) Pump(kCallTimeoutMs);
  const bool done = call.done;
  *error = done ? Outcome(call) : "stopping";
  *response = std::move(call.response);
  Finish(std::move(t));
  return done && error->empty();
}

void Transport::OpenStream(const std::string& url, const std::string& body) {
  CloseStream();
  stream_ = Start(url, body, true);
}

void Transport::CloseStream() {
  if (stream_ != nullptr) Finish(std::move(stream_));
}

bool Transport::ReadStream(int timeout_ms, std::vector<std::string>* lines, std::string* error) {
  if (stream_ == nullptr || stopping()) {
    *error = "stopping";
    return false;
  }
  // Data may already be waiting (read while a Call ran): no wait then.
  if (stream_->response.find('\n') == std::string::npos && !stream_->done) Pump(timeout_ms);
  std::string& buffer = stream_->response;
  size_t start = 0;
  for (size_t nl; (nl = buffer.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (nl > start) lines->push_back(buffer.substr(start, nl - start));
  }
  buffer.erase(0, start);
  if (stream_->done || stopping()) {
    *error = stopping() ? "stopping" : Outcome(*stream_);
    if (error->empty()) *error = "watch stream closed by etcd";
    return false;
  }
  return true;
}

}  // namespace warpdns::slowpath::etcd
