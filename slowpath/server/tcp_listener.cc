#include "slowpath/server/tcp_listener.h"

#include <asio.hpp>
#include <cstring>
#include <deque>

namespace warpdns::slowpath {

using asio::ip::tcp;

struct TcpListener::Impl {
  ServerSlot* slot;
  TcpOptions options;
  asio::io_context io;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::thread> threads;
  std::atomic<int> connections{0};
  std::atomic<bool> stopped{false};

  void Accept(tcp::acceptor* acceptor);
};

namespace {

// One client connection. All handlers run on the connection's strand, so
// its state needs no lock; it lives as long as an operation holds it.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, TcpListener::Impl* owner)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), owner_(owner) {
    owner_->connections.fetch_add(1, std::memory_order_relaxed);
  }
  ~Connection() { owner_->connections.fetch_sub(1, std::memory_order_relaxed); }

  void Start() {
    asio::error_code ec;
    auto remote = socket_.remote_endpoint(ec);
    auto local = socket_.local_endpoint(ec);
    std::memcpy(&remote_, remote.data(), remote.size());
    std::memcpy(&local_, local.data(), local.size());
    ReadLength();
  }

 private:
  void Arm(std::chrono::milliseconds d) {
    timer_.expires_after(d);
    timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec) self->Close();
    });
  }

  void Close() {
    asio::error_code ec;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  void ReadLength() {
    Arm(owner_->options.idle_timeout);
    asio::async_read(socket_, asio::buffer(len_buf_),
                     [self = shared_from_this()](const asio::error_code& ec, size_t) {
                       if (ec) return self->Close();
                       size_t len = size_t{self->len_buf_[0]} << 8 | self->len_buf_[1];
                       if (len == 0) return self->Close();
                       self->ReadBody(len);
                     });
  }

  void ReadBody(size_t len) {
    body_.resize(len);
    Arm(owner_->options.read_timeout);
    asio::async_read(socket_, asio::buffer(body_),
                     [self = shared_from_this()](const asio::error_code& ec, size_t) {
                       if (ec) return self->Close();
                       self->OnMessage();
                     });
  }

  void OnMessage() {
    auto req = std::make_unique<Request>();
    std::vector<uint8_t> reply;
    std::shared_ptr<Server> server = owner_->slot->Get();
    switch (server->Admit(body_.data(), body_.size(), remote_, local_, Proto::kTcp, req.get(),
                          &reply)) {
      case Server::Admission::kDrop:
        return ReadLength();
      case Server::Admission::kReply:
        Send(reply);
        return ReadLength();
      case Server::Admission::kServe:
        break;
    }
    // Queries on one connection are served in order, as CoreDNS does; the
    // next one is read (it may already be buffered: pipelining) once this
    // one's reply is queued.
    asio::co_spawn(socket_.get_executor(), Serve(std::move(server), std::move(req)),
                   [self = shared_from_this()](std::exception_ptr) { self->ReadLength(); });
  }

  Task<void> Serve(std::shared_ptr<Server> server, std::unique_ptr<Request> req) {
    std::vector<uint8_t> reply;
    co_await server->Respond(*req, &reply);
    Send(reply);
  }

  void Send(const std::vector<uint8_t>& reply) {
    if (reply.empty()) return;
    std::vector<uint8_t> framed(reply.size() + 2);
    framed[0] = static_cast<uint8_t>(reply.size() >> 8);
    framed[1] = static_cast<uint8_t>(reply.size());
    std::memcpy(framed.data() + 2, reply.data(), reply.size());
    out_.push_back(std::move(framed));
    if (!writing_) Write();
  }

  void Write() {
    writing_ = true;
    asio::async_write(socket_, asio::buffer(out_.front()),
                      [self = shared_from_this()](const asio::error_code& ec, size_t) {
                        if (ec) return self->Close();
                        self->out_.pop_front();
                        if (self->out_.empty()) {
                          self->writing_ = false;
                        } else {
                          self->Write();
                        }
                      });
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  TcpListener::Impl* owner_;
  sockaddr_storage remote_{};
  sockaddr_storage local_{};
  uint8_t len_buf_[2] = {0, 0};
  std::vector<uint8_t> body_;
  std::deque<std::vector<uint8_t>> out_;
  bool writing_ = false;
};

}  // namespace

void TcpListener::Impl::Accept(tcp::acceptor* acceptor) {
  acceptor->async_accept(asio::make_strand(io), [this, acceptor](const asio::error_code& ec,
                                                                 tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopped.load()) return;
    if (!ec) {
      if (connections.load(std::memory_order_relaxed) >= options.max_connections) {
        asio::error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Connection>(std::move(socket), this)->Start();
      }
    }
    Accept(acceptor);
  });
}

TcpListener::TcpListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

std::unique_ptr<TcpListener> TcpListener::Create(ServerSlot* slot, const std::string& bind_ip,
                                                 uint16_t port, const TcpOptions& options,
                                                 std::string* error) {
  auto impl = std::make_unique<Impl>();
  impl->slot = slot;
  impl->options = options;
  std::vector<std::string> ips;
  if (bind_ip.empty()) {
    ips = {"0.0.0.0", "::"};
  } else {
    ips = {bind_ip};
  }
  for (const std::string& ip : ips) {
    asio::error_code ec;
    asio::ip::address addr = asio::ip::make_address(ip, ec);
    if (ec) {
      *error = "bad address " + ip;
      return nullptr;
    }
    auto acceptor = std::make_unique<tcp::acceptor>(impl->io);
    tcp::endpoint ep(addr, port);
    acceptor->open(ep.protocol(), ec);
    if (ec) {
      if (bind_ip.empty() && addr.is_v6()) continue;  // no IPv6 on this host
      *error = "listen tcp " + ip + ": " + ec.message();
      return nullptr;
    }
    acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    int one = 1;
    setsockopt(acceptor->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (addr.is_v6()) acceptor->set_option(asio::ip::v6_only(true), ec);
    acceptor->bind(ep, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      *error = "listen tcp " + (addr.is_v6() ? "[" + ip + "]" : ip) + ":" + std::to_string(port) +
               ": bind: " + ec.message();
      return nullptr;
    }
    impl->acceptors.push_back(std::move(acceptor));
  }
  return std::unique_ptr<TcpListener>(new TcpListener(std::move(impl)));
}

TcpListener::~TcpListener() { Stop(); }

void TcpListener::Start() {
  for (auto& a : impl_->acceptors) impl_->Accept(a.get());
  for (int i = 0; i < impl_->options.threads; ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
}

void TcpListener::Stop() {
  if (impl_->stopped.exchange(true)) return;
  impl_->io.stop();
  for (std::thread& t : impl_->threads) t.join();
  impl_->threads.clear();
  asio::error_code ec;
  for (auto& a : impl_->acceptors) a->close(ec);
}

int TcpListener::open_connections() const { return impl_->connections.load(); }

}  // namespace warpdns::slowpath
