#include "control/http_server.h"

#include <asio.hpp>
#include <mutex>

namespace warpdns::control {

using asio::ip::tcp;

struct HttpServer::Impl {
  asio::io_context io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::mutex mu;  // guards handlers: reload replaces them while serving
  std::map<std::string, Handler> handlers;
  std::thread thread;
  bool started = false;

  void Accept();
};

namespace {

std::string StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer::Impl* owner)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), owner_(owner) {}

  void Start() {
    timer_.expires_after(std::chrono::seconds(5));
    timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      asio::error_code ignored;
      if (!ec) self->socket_.close(ignored);
    });
    asio::async_read_until(socket_, asio::dynamic_buffer(request_, 16384), "\r\n\r\n",
                           [self = shared_from_this()](const asio::error_code& ec, size_t) {
                             if (ec) return;
                             self->Respond();
                           });
  }

 private:
  void Respond() {
    // Request line: METHOD SP PATH SP VERSION.
    size_t sp1 = request_.find(' ');
    size_t sp2 = sp1 == std::string::npos ? sp1 : request_.find(' ', sp1 + 1);
    std::string method = request_.substr(0, sp1);
    std::string path = sp2 == std::string::npos ? "" : request_.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string query;
    if (size_t q = path.find('?'); q != std::string::npos) {
      query = path.substr(q + 1);
      path.resize(q);
    }
    int status = 404;
    std::string body = "404 page not found\n";
    HttpServer::Handler handler;
    {
      std::lock_guard lock(owner_->mu);
      if (auto it = owner_->handlers.find(path); it != owner_->handlers.end()) handler = it->second;
    }
    if (handler) {
      if (method == "GET" || method == "HEAD") {
        std::tie(status, body) = handler(query);
      } else {
        status = 405;
        body = "";
      }
    }
    response_ = "HTTP/1.1 " + std::to_string(status) + " " + StatusText(status) +
                "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
                std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    if (method != "HEAD") response_ += body;
    asio::async_write(socket_, asio::buffer(response_),
                      [self = shared_from_this()](const asio::error_code&, size_t) {
                        asio::error_code ignored;
                        self->timer_.cancel();
                        self->socket_.shutdown(tcp::socket::shutdown_both, ignored);
                        self->socket_.close(ignored);
                      });
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  HttpServer::Impl* owner_;
  std::string request_;
  std::string response_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor->async_accept([this](const asio::error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Session>(std::move(socket), this)->Start();
    Accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<HttpServer> HttpServer::Create(const std::string& address, std::string* error) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    *error = "address " + address + ": missing port";
    return nullptr;
  }
  std::string host = address.substr(0, colon);
  std::string port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  int port = 0;
  try {
    port = std::stoi(port_text);
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    *error = "address " + address + ": invalid port";
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  asio::error_code ec;
  asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) {
    *error = "address " + address + ": " + ec.message();
    return nullptr;
  }
  tcp::endpoint ep(ip, static_cast<uint16_t>(port));
  impl->acceptor = std::make_unique<tcp::acceptor>(impl->io);
  impl->acceptor->open(ep.protocol(), ec);
  if (!ec) impl->acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl->acceptor->bind(ep, ec);
  if (!ec) impl->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "listen tcp " + address + ": " + ec.message();
    return nullptr;
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::SetHandlers(std::map<std::string, Handler> handlers) {
  std::lock_guard lock(impl_->mu);
  impl_->handlers = std::move(handlers);
}

void HttpServer::Start() {
  impl_->started = true;
  impl_->Accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

void HttpServer::Stop() {
  if (!impl_->started) return;
  impl_->started = false;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  asio::error_code ec;
  impl_->acceptor->close(ec);
}

}  // namespace warpdns::control
