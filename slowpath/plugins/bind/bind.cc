// bind: the addresses a server block listens on. Setup only.
#include <arpa/inet.h>
#include <net/if.h>
#include <ifaddrs.h>

#include "slowpath/chain/plugin.h"

namespace warpdns::slowpath::bind {
namespace {

bool IsIp(const std::string& s) {
  in6_addr a6;
  in_addr a4;
  return inet_pton(AF_INET, s.c_str(), &a4) == 1 || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

// An interface name binds to every address configured on it, as CoreDNS does.
bool InterfaceAddresses(const std::string& ifname, std::vector<std::string>* out) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || ifname != i->ifa_name) continue;
    char buf[INET6_ADDRSTRLEN];
    if (i->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, buf, sizeof(buf));
    } else if (i->ifa_addr->sa_family == AF_INET6) {
      auto* a6 = reinterpret_cast<sockaddr_in6*>(i->ifa_addr);
      if (IN6_IS_ADDR_LINKLOCAL(&a6->sin6_addr)) continue;  // needs a scope id
      inet_ntop(AF_INET6, &a6->sin6_addr, buf, sizeof(buf));
    } else {
      continue;
    }
    out->push_back(buf);
    found = true;
  }
  freeifaddrs(list);
  return found;
}

std::unique_ptr<Plugin> Setup(SetupContext& ctx, std::string* error) {
  const config::Directive& d = ctx.directive;
  if (d.args.empty()) {
    *error = "plugin/bind: " + config::ArgErrorAt(d.name);
    return nullptr;
  }
  for (const config::Token& t : d.args) {
    if (IsIp(t.text)) {
      ctx.bind.push_back(t.text);
    } else if (!InterfaceAddresses(t.text, &ctx.bind)) {
      *error = "plugin/bind: " +
               config::ErrorAt(t, "not a valid IP address or interface name: '" + t.text + "'");
      return nullptr;
    }
  }
  return nullptr;
}

const Registrar kRegistrar({"bind", Setup, false});

}  // namespace
}  // namespace warpdns::slowpath::bind
