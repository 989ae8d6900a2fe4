// Kubernetes API objects reduced to what DNS needs, as CoreDNS's
// plugin/kubernetes/object does: Services, EndpointSlices (as their ready
// addresses), Pods and Namespaces, decoded from the API's JSON.
#ifndef WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_OBJECTS_H_
#define WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_OBJECTS_H_

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace warpdns::slowpath::kubernetes {

// An IP address in 16 octets; IPv4 is kept v4-mapped (::ffff:a.b.c.d) so one
// key stands for an address however it was written, as net.IP does in Go.
using Ip = std::array<uint8_t, 16>;

// Go's net.ParseIP: dotted IPv4 or IPv6 text, no zone, no prefix.
bool ParseIp(std::string_view text, Ip* out);
bool IsV4(const Ip& ip);
// The address as the 16-octet key of the snapshot's address indexes.
std::string IpKey(const Ip& ip);

struct Port {
  int32_t port = -1;  // -1: the object declares no ports (CoreDNS's sentinel)
  std::string name;
  std::string protocol;
  bool operator==(const Port&) const = default;
};

struct Service {
  std::string name;
  std::string ns;
  std::string type;           // spec.type, "ClusterIP" when absent
  std::string external_name;  // spec.externalName
  // spec.clusterIPs, else {spec.clusterIP}: "None" for a headless service.
  std::vector<std::string> cluster_ips;
  std::vector<Port> ports;  // {{-1}} when the service declares none

  bool Headless() const { return cluster_ips.front() == "None"; }
  bool IsExternalName() const { return type == "ExternalName"; }
  // "name.namespace", CoreDNS's object.ServiceKey.
  std::string Key() const { return name + "." + ns; }
  bool operator==(const Service&) const = default;
};

struct EndpointAddress {
  std::string ip;
  std::string hostname;
  std::string target_ref_name;  // the pod's name, when it fits in a label
  bool operator==(const EndpointAddress&) const = default;
};

// One EndpointSlice: its ready addresses and its ports.
struct Endpoints {
  std::string name;  // the slice's own name
  std::string ns;
  std::string service;  // its kubernetes.io/service-name label
  std::vector<EndpointAddress> addresses;
  std::vector<Port> ports;  // {{-1}} when the slice declares none
  // endpoints.kubernetes.io/last-change-trigger-time (unix ns, 0: absent),
  // for the DNS programming latency metric.
  int64_t last_change_trigger_ns = 0;

  // "service.namespace": the key of the service the slice belongs to.
  std::string Index() const { return service + "." + ns; }
  bool operator==(const Endpoints&) const = default;
};

struct Pod {
  std::string name;
  std::string ns;
  std::string ip;  // status.podIP as written
  bool operator==(const Pod&) const = default;
};

struct Namespace {
  std::string name;
  bool operator==(const Namespace&) const = default;
};

// The resources watched, in the order their lists are requested.
enum class Kind : uint8_t { kNamespace, kService, kEndpointSlice, kPod };

// One decoded object; a null pointer means "absent" (a pod being deleted is
// treated as gone, as CoreDNS does).
using Object = std::variant<std::shared_ptr<const Namespace>, std::shared_ptr<const Service>,
                            std::shared_ptr<const Endpoints>, std::shared_ptr<const Pod>>;

// Decodes one API object of `kind`. Throws nlohmann::json::exception on JSON
// that is not shaped like the resource.
Object Decode(Kind kind, const nlohmann::json& object);

// The key that identifies an object of `kind` in the snapshot:
// "name.namespace" for services, "namespace/name" for slices and pods, the
// name for namespaces.
std::string PrimaryKey(Kind kind, const nlohmann::json& object);

}  // namespace warpdns::slowpath::kubernetes

#endif  // WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_OBJECTS_H_
