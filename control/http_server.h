// A small HTTP/1.1 server for control endpoints (/health, later /ready and
// /metrics): GET only, one request per connection.
#ifndef WARPDNS_CONTROL_HTTP_SERVER_H_
#define WARPDNS_CONTROL_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

namespace warpdns::control {

class HttpServer {
 public:
  // Called with the query string (after '?'); returns status and body.
  using Handler = std::function<std::pair<int, std::string>(const std::string& query)>;

  // `address` is HOST:PORT, ":PORT" (all addresses) or "localhost:PORT".
  static std::unique_ptr<HttpServer> Create(const std::string& address, std::string* error);
  ~HttpServer();

  // Replaces the path → handler table; safe while serving (reload).
  void SetHandlers(std::map<std::string, Handler> handlers);
  void Start();
  void Stop();

 struct Impl;  // public so the .cc's helper classes can name it

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace warpdns::control

#endif  // WARPDNS_CONTROL_HTTP_SERVER_H_
