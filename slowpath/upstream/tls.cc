#include "slowpath/upstream/tls.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <asio/redirect_error.hpp>
#include <asio/read.hpp>
#include <asio/ssl.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace warpdns::slowpath::upstream {

namespace {

class AsioTlsStream : public TlsStream {
 public:
  AsioTlsStream(asio::ssl::context& ctx, asio::ip::tcp::socket& socket, const std::string& name,
                const std::string& ip)
      : stream_(socket, ctx) {
    SSL* ssl = stream_.native_handle();
    if (!name.empty()) {
      SSL_set_tlsext_host_name(ssl, name.c_str());
      SSL_set1_host(ssl, name.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip.c_str());
    }
  }

  Task<std::error_code> Handshake() override {
    asio::error_code ec;
    co_await stream_.async_handshake(asio::ssl::stream_base::client,
                                     asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
  }

  Task<std::error_code> Write(const uint8_t* data, size_t len) override {
    asio::error_code ec;
    co_await asio::async_write(stream_, asio::buffer(data, len),
                               asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
  }

  Task<std::error_code> Read(uint8_t* data, size_t len) override {
    asio::error_code ec;
    co_await asio::async_read(stream_, asio::buffer(data, len),
                              asio::redirect_error(asio::use_awaitable, ec));
    co_return ec;
  }

 private:
  asio::ssl::stream<asio::ip::tcp::socket&> stream_;
};

class OpenSslContext : public TlsContext {
 public:
  OpenSslContext() : ctx_(asio::ssl::context::tls_client) {}

  bool Init(const std::string& cert, const std::string& key, const std::string& ca,
            const std::string& server_name, std::string* error) {
    server_name_ = server_name;
    SSL_CTX_set_min_proto_version(ctx_.native_handle(), TLS1_2_VERSION);
    asio::error_code ec;
    ctx_.set_verify_mode(asio::ssl::verify_peer, ec);
    if (ca.empty()) {
      ctx_.set_default_verify_paths(ec);
    } else if (ctx_.load_verify_file(ca, ec); ec) {
      *error = "unable to read CA file \"" + ca + "\": " + ec.message();
      return false;
    }
    if (!cert.empty()) {
      if (ctx_.use_certificate_chain_file(cert, ec); ec) {
        *error = "unable to read certificate \"" + cert + "\": " + ec.message();
        return false;
      }
      if (ctx_.use_private_key_file(key, asio::ssl::context::pem, ec); ec) {
        *error = "unable to read key \"" + key + "\": " + ec.message();
        return false;
      }
    }
    return true;
  }

  std::unique_ptr<TlsStream> NewStream(asio::ip::tcp::socket& socket, const std::string& sni,
                                       const std::string& ip) override {
    return std::make_unique<AsioTlsStream>(ctx_, socket, sni.empty() ? server_name_ : sni, ip);
  }

 private:
  asio::ssl::context ctx_;
  std::string server_name_;
};

}  // namespace

std::shared_ptr<TlsContext> TlsContext::Create(const std::string& cert, const std::string& key,
                                               const std::string& ca,
                                               const std::string& server_name,
                                               std::string* error) {
  auto ctx = std::make_shared<OpenSslContext>();
  if (!ctx->Init(cert, key, ca, server_name, error)) return nullptr;
  return ctx;
}


}  // namespace warpdns::slowpath::upstream
