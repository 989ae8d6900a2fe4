#include "slowpath/plugins/kubernetes/objects.h"

#include <arpa/inet.h>

#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

namespace warpdns::slowpath::kubernetes {
namespace {

using nlohmann::json;

constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// The string at `key` of a JSON object, "" when absent or null.
std::string Str(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json& Child(const json& object, const char* key) {
  static const json kEmpty = json::object();
  auto it = object.find(key);
  return it != object.end() && it->is_object() ? *it : kEmpty;
}

const json& List(const json& object, const char* key) {
  static const json kEmpty = json::array();
  auto it = object.find(key);
  return it != object.end() && it->is_array() ? *it : kEmpty;
}

std::vector<Port> Ports(const json& list) {
  std::vector<Port> ports;
  for (const json& p : list) {
    Port port;
    if (auto it = p.find("port"); it != p.end() && it->is_number_integer()) {
      port.port = it->get<int32_t>();
    }
    port.name = Str(p, "name");
    port.protocol = Str(p, "protocol");
    ports.push_back(std::move(port));
  }
  if (ports.empty()) ports.emplace_back();  // the -1 sentinel
  return ports;
}

// RFC 3339 with optional fractional seconds and "Z" (what the API writes);
// 0 when it does not parse.
int64_t ParseTime(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return 0;
  int64_t ns = 0;
  if (*rest == '.') {
    int64_t scale = 100'000'000;
    for (++rest; *rest >= '0' && *rest <= '9'; ++rest, scale /= 10) ns += (*rest - '0') * scale;
  }
  if (std::strcmp(rest, "Z") != 0) return 0;
  return int64_t{timegm(&tm)} * 1'000'000'000 + ns;
}

std::shared_ptr<const Service> DecodeService(const json& object) {
  const json& meta = Child(object, "metadata");
  const json& spec = Child(object, "spec");
  auto svc = std::make_shared<Service>();
  svc->name = Str(meta, "name");
  svc->ns = Str(meta, "namespace");
  svc->type = Str(spec, "type");
  if (svc->type.empty()) svc->type = "ClusterIP";
  svc->external_name = Str(spec, "externalName");
  for (const json& ip : List(spec, "clusterIPs")) svc->cluster_ips.push_back(ip.get<std::string>());
  if (svc->cluster_ips.empty()) svc->cluster_ips.push_back(Str(spec, "clusterIP"));
  svc->ports = Ports(List(spec, "ports"));
  return svc;
}

std::shared_ptr<const Endpoints> DecodeEndpointSlice(const json& object) {
  const json& meta = Child(object, "metadata");
  auto ep = std::make_shared<Endpoints>();
  ep->name = Str(meta, "name");
  ep->ns = Str(meta, "namespace");
  ep->service = Str(Child(meta, "labels"), "kubernetes.io/service-name");
  ep->last_change_trigger_ns = ParseTime(
      Str(Child(meta, "annotations"), "endpoints.kubernetes.io/last-change-trigger-time"));
  ep->ports = Ports(List(object, "ports"));
  for (const json& end : List(object, "endpoints")) {
    // A missing ready condition means "unknown", which consumers treat as ready.
    auto ready = Child(end, "conditions").find("ready");
    if (ready != Child(end, "conditions").end() && ready->is_boolean() && !ready->get<bool>()) {
      continue;
    }
    for (const json& address : List(end, "addresses")) {
      EndpointAddress a;
      a.ip = address.get<std::string>();
      Ip unused;
      if (!ParseIp(a.ip, &unused)) continue;  // FQDN slices name no address
      a.hostname = Str(end, "hostname");
      // Pod names too long for a label are not used as one.
      if (std::string pod = Str(Child(end, "targetRef"), "name"); pod.size() < 64) {
        a.target_ref_name = std::move(pod);
      }
      ep->addresses.push_back(std::move(a));
    }
  }
  return ep;
}

std::shared_ptr<const Pod> DecodePod(const json& object) {
  const json& meta = Child(object, "metadata");
  if (!Str(meta, "deletionTimestamp").empty()) return nullptr;
  // CoreDNS watches pods with a field selector leaving these phases out (a pod that
  // enters one is a deletion to it); the API server applies it, this is for one that
  // does not.
  const json& status = Child(object, "status");
  const std::string phase = Str(status, "phase");
  if (phase == "Succeeded" || phase == "Failed" || phase == "Unknown") return nullptr;
  auto pod = std::make_shared<Pod>();
  pod->name = Str(meta, "name");
  pod->ns = Str(meta, "namespace");
  pod->ip = Str(status, "podIP");
  return pod;
}

}  // namespace

bool ParseIp(std::string_view text, Ip* out) {
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in_addr a4;
  if (inet_pton(AF_INET, buf, &a4) == 1) {
    std::memcpy(out->data(), kMapped, sizeof(kMapped));
    std::memcpy(out->data() + 12, &a4, 4);
    return true;
  }
  return inet_pton(AF_INET6, buf, out->data()) == 1;
}

bool IsV4(const Ip& ip) { return std::memcmp(ip.data(), kMapped, sizeof(kMapped)) == 0; }

std::string IpKey(const Ip& ip) { return std::string(ip.begin(), ip.end()); }

Object Decode(Kind kind, const json& object) {
  switch (kind) {
    case Kind::kNamespace:
      return std::make_shared<const Namespace>(Namespace{Str(Child(object, "metadata"), "name")});
    case Kind::kService:
      return DecodeService(object);
    case Kind::kEndpointSlice:
      return DecodeEndpointSlice(object);
    case Kind::kPod:
      return DecodePod(object);
  }
  return {};
}

std::string PrimaryKey(Kind kind, const json& object) {
  const json& meta = Child(object, "metadata");
  switch (kind) {
    case Kind::kNamespace:
      return Str(meta, "name");
    case Kind::kService:
      return Str(meta, "name") + "." + Str(meta, "namespace");
    case Kind::kEndpointSlice:
    case Kind::kPod:
      return Str(meta, "namespace") + "/" + Str(meta, "name");
  }
  return {};
}

}  // namespace warpdns::slowpath::kubernetes
