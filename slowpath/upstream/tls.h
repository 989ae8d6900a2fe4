// DNS over TLS to upstreams (RFC 7858): the client context (CoreDNS's `tls
// [CERT KEY] [CA]` and `tls_servername`, TLS 1.2 minimum) and one session
// over a connected TCP socket. OpenSSL through Asio.
#ifndef WARPDNS_SLOWPATH_UPSTREAM_TLS_H_
#define WARPDNS_SLOWPATH_UPSTREAM_TLS_H_

#include <asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include "slowpath/chain/task.h"

namespace warpdns::slowpath::upstream {

// One TLS session on `socket` (which the caller owns and closes to abort).
class TlsStream {
 public:
  virtual ~TlsStream() = default;
  virtual Task<std::error_code> Handshake() = 0;
  virtual Task<std::error_code> Write(const uint8_t* data, size_t len) = 0;
  // Reads exactly `len` octets.
  virtual Task<std::error_code> Read(uint8_t* data, size_t len) = 0;
};

class TlsContext {
 public:
  virtual ~TlsContext() = default;
  // `cert`/`key` a client certificate (both or neither), `ca` the roots to
  // verify the upstream with (empty: the system's), `server_name` the name
  // to send and verify (tls_servername). Without a name the certificate must
  // name the upstream's IP, as Go verifies a dial address. Returns null and
  // sets *error on failure.
  static std::shared_ptr<TlsContext> Create(const std::string& cert, const std::string& key,
                                            const std::string& ca, const std::string& server_name,
                                            std::string* error);
  // `sni` overrides the context's server name when not empty; `ip` is
  // verified when there is no name.
  virtual std::unique_ptr<TlsStream> NewStream(asio::ip::tcp::socket& socket,
                                               const std::string& sni, const std::string& ip) = 0;
};

}  // namespace warpdns::slowpath::upstream

#endif  // WARPDNS_SLOWPATH_UPSTREAM_TLS_H_
