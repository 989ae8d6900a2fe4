// whoami: answers every query with the client's address, port and transport
// in the additional section (CoreDNS plugin/whoami).
#include <netinet/in.h>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::whoami {
namespace {

// The client address as A (IPv4, also when v4-mapped on a dual-stack socket)
// or AAAA rdata.
wire::Rr AddressRecord(const Request& req) {
  wire::Rr rr;
  rr.name = req.QName();
  rr.rclass = req.QClass();
  if (req.remote.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(req.remote);
    const uint8_t* bytes = a6.sin6_addr.s6_addr;
    if (req.Family() == 1) {
      rr.type = wire::type::kA;
      rr.rdata.assign(bytes + 12, bytes + 16);
    } else {
      rr.type = wire::type::kAaaa;
      rr.rdata.assign(bytes, bytes + 16);
    }
  } else {
    const auto& a4 = reinterpret_cast<const sockaddr_in&>(req.remote);
    const auto* bytes = reinterpret_cast<const uint8_t*>(&a4.sin_addr);
    rr.type = wire::type::kA;
    rr.rdata.assign(bytes, bytes + 4);
  }
  return rr;
}

class Whoami : public Plugin {
 public:
  std::string_view Name() const override { return "whoami"; }

  Task<Result> ServeDns(Request& req, ResponseWriter& w) override {
    wire::Message reply = wire::MakeReply(req.msg);
    reply.header.SetFlag(wire::flag::kAa, true);
    reply.additional.push_back(AddressRecord(req));

    // "_udp.<qname>" ("_udp." for the root), SRV 0 0 <port> "." (an empty
    // target: the root name).
    wire::Rr srv;
    srv.name = req.QName();
    srv.type = wire::type::kSrv;
    srv.rclass = req.QClass();
    const uint16_t port = req.RemotePort();
    srv.rdata = {0, 0, 0, 0, static_cast<uint8_t>(port >> 8), static_cast<uint8_t>(port), 0};
    // A qname of 250+ octets leaves no room for the label; CoreDNS fails to
    // pack such a reply, we leave the SRV out instead.
    if (srv.name.PrependLabel("_" + std::string(ProtoName(req.proto)))) {
      reply.additional.push_back(std::move(srv));
    }
    w.WriteMsg(reply);
    co_return Result{};
  }
};

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (!d.args.empty()) {
    *error = "plugin/whoami: " + config::ArgErrorAt(d.args[0]);
    return nullptr;
  }
  if (d.has_block) {
    *error = "plugin/whoami: " +
             config::ErrorAt(d.block_open, "Unexpected token '{', expecting argument");
    return nullptr;
  }
  return std::make_unique<Whoami>();
}

const Registrar kRegistrar({"whoami", Setup});

}  // namespace
}  // namespace warpdns::slowpath::whoami
