#include "slowpath/chain/plugin.h"

#include <arpa/inet.h>

#include <algorithm>
#include <mutex>

namespace warpdns::slowpath {

std::string_view ProtoName(Proto p) {
  return p == Proto::kUdp ? "udp" : "tcp";
}

std::string Request::QNameText() const { return QName().ToLowerText(); }

uint16_t Request::UdpSize() const {
  if (proto != Proto::kUdp) return wire::kMaxMessageSize;
  if (!msg.edns.present) return wire::kMinUdpSize;
  return std::max<uint16_t>(msg.edns.udp_size, wire::kMinUdpSize);
}

namespace {

std::string IpOf(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, buf, sizeof(buf));
  } else if (ss.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(ss);
    // A v4-mapped address is an IPv4 client on a dual-stack socket.
    if (IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr)) {
      inet_ntop(AF_INET, &a6.sin6_addr.s6_addr[12], buf, sizeof(buf));
    } else {
      inet_ntop(AF_INET6, &a6.sin6_addr, buf, sizeof(buf));
    }
  }
  return buf;
}

uint16_t PortOf(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(ss).sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(ss).sin6_port);
  return 0;
}

}  // namespace

std::string Request::RemoteIp() const { return IpOf(remote); }
uint16_t Request::RemotePort() const { return PortOf(remote); }
std::string Request::LocalIp() const { return IpOf(local); }
uint16_t Request::LocalPort() const { return PortOf(local); }

int Request::Family() const {
  if (remote.ss_family == AF_INET6) {
    const auto& a6 = reinterpret_cast<const sockaddr_in6&>(remote);
    return IN6_IS_ADDR_V4MAPPED(&a6.sin6_addr) ? 1 : 2;
  }
  return 1;
}

void Request::DependsOn(uint16_t source, uint32_t generation) {
  if (source == 0) return;
  fastpath::EntryTags& tags = replay.tags;
  if (tags.source != 0 && (tags.source != source || tags.source_gen != generation)) {
    memoizable = false;
    return;
  }
  tags.source = source;
  tags.source_gen = generation;
}

bool CallerMustWrite(int rcode) {
  return rcode == wire::rcode::kServFail || rcode == wire::rcode::kRefused ||
         rcode == wire::rcode::kFormErr || rcode == wire::rcode::kNotImp;
}

Task<Result> Plugin::Next(Request& req, ResponseWriter& w) {
  if (next_ == nullptr) {
    co_return Result{wire::rcode::kServFail,
                     "plugin/" + std::string(Name()) + ": no next plugin found"};
  }
  const std::string_view caller = req.active_plugin;
  req.active_plugin = next_->Name();
  Result r = co_await next_->ServeDns(req, w);
  req.active_plugin = caller;
  co_return r;
}

namespace {

struct Registry {
  std::mutex mu;
  std::vector<PluginSpec> specs;
};

Registry& GetRegistry() {
  static Registry* registry = new Registry;  // never destroyed: used by static registrars
  return *registry;
}

}  // namespace

void RegisterPlugin(PluginSpec spec) {
  Registry& r = GetRegistry();
  std::lock_guard lock(r.mu);
  r.specs.push_back(std::move(spec));
}

const PluginSpec* FindPlugin(std::string_view name) {
  Registry& r = GetRegistry();
  std::lock_guard lock(r.mu);
  for (const PluginSpec& s : r.specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<std::string_view> RegisteredPluginNames() {
  Registry& r = GetRegistry();
  std::lock_guard lock(r.mu);
  std::vector<std::string_view> names;
  for (const PluginSpec& s : r.specs) names.push_back(s.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace warpdns::slowpath
