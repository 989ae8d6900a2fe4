#include "slowpath/plugins/kubernetes/snapshot.h"

namespace warpdns::slowpath::kubernetes {
namespace {

// The secondary keys an object is indexed under, per index. A service is found by its
// cluster IPs only: CoreDNS indexes external and load balancer IPs apart, for
// k8s_external, so a reverse lookup of one is not this plugin's answer.
void ForEachIpKey(const Service& svc, const std::function<void(const std::string&)>& f) {
  for (const std::string& text : svc.cluster_ips) {
    Ip ip;
    if (ParseIp(text, &ip)) f(IpKey(ip));
  }
}

void ForEachIpKey(const Endpoints& ep, const std::function<void(const std::string&)>& f) {
  for (const EndpointAddress& a : ep.addresses) {
    Ip ip;
    if (ParseIp(a.ip, &ip)) f(IpKey(ip));
  }
}

void Link(Snapshot* s, const std::string& key, const std::shared_ptr<const Namespace>& ns) {
  s->namespaces.Add(key, ns);
}
void Unlink(Snapshot* s, const std::string& key, const Namespace& ns) {
  s->namespaces.Remove(key, &ns);
}

void Link(Snapshot* s, const std::string& key, const std::shared_ptr<const Service>& svc) {
  s->services.Add(key, svc);
  ForEachIpKey(*svc, [&](const std::string& ip) { s->services_by_ip.Add(ip, svc); });
}
void Unlink(Snapshot* s, const std::string& key, const Service& svc) {
  s->services.Remove(key, &svc);
  ForEachIpKey(svc, [&](const std::string& ip) { s->services_by_ip.Remove(ip, &svc); });
}

void Link(Snapshot* s, const std::string& key, const std::shared_ptr<const Endpoints>& ep) {
  s->endpoints.Add(key, ep);
  s->endpoints_by_service.Add(ep->Index(), ep);
  ForEachIpKey(*ep, [&](const std::string& ip) { s->endpoints_by_ip.Add(ip, ep); });
}
void Unlink(Snapshot* s, const std::string& key, const Endpoints& ep) {
  s->endpoints.Remove(key, &ep);
  s->endpoints_by_service.Remove(ep.Index(), &ep);
  ForEachIpKey(ep, [&](const std::string& ip) { s->endpoints_by_ip.Remove(ip, &ep); });
}

void Link(Snapshot* s, const std::string& key, const std::shared_ptr<const Pod>& pod) {
  s->pods.Add(key, pod);
  if (!pod->ip.empty()) s->pods_by_ip.Add(pod->ip, pod);
}
void Unlink(Snapshot* s, const std::string& key, const Pod& pod) {
  s->pods.Remove(key, &pod);
  if (!pod.ip.empty()) s->pods_by_ip.Remove(pod.ip, &pod);
}

template <typename T>
bool Replace(Snapshot* s, const Index<T>& primary, const std::string& key,
             const std::shared_ptr<const T>& object) {
  const auto& items = primary.Get(key);
  // Keep the old version alive while it is unlinked.
  const std::shared_ptr<const T> old = items.empty() ? nullptr : items.front();
  if (old == nullptr && object == nullptr) return false;
  if (old != nullptr && object != nullptr && *old == *object) return false;
  if (old != nullptr) Unlink(s, key, *old);
  if (object != nullptr) Link(s, key, object);
  return true;
}

}  // namespace

void Snapshot::Seal() {
  namespaces.Seal();
  services.Seal();
  services_by_ip.Seal();
  endpoints.Seal();
  endpoints_by_service.Seal();
  endpoints_by_ip.Seal();
  pods.Seal();
  pods_by_ip.Seal();
}

bool Put(Snapshot* s, Kind kind, const std::string& key, const Object& object) {
  switch (kind) {
    case Kind::kNamespace:
      return Replace(s, s->namespaces, key, std::get<std::shared_ptr<const Namespace>>(object));
    case Kind::kService:
      return Replace(s, s->services, key, std::get<std::shared_ptr<const Service>>(object));
    case Kind::kEndpointSlice:
      return Replace(s, s->endpoints, key, std::get<std::shared_ptr<const Endpoints>>(object));
    case Kind::kPod:
      return Replace(s, s->pods, key, std::get<std::shared_ptr<const Pod>>(object));
  }
  return false;
}

bool Erase(Snapshot* s, Kind kind, const std::string& key) {
  switch (kind) {
    case Kind::kNamespace:
      return Put(s, kind, key, std::shared_ptr<const Namespace>());
    case Kind::kService:
      return Put(s, kind, key, std::shared_ptr<const Service>());
    case Kind::kEndpointSlice:
      return Put(s, kind, key, std::shared_ptr<const Endpoints>());
    case Kind::kPod:
      return Put(s, kind, key, std::shared_ptr<const Pod>());
  }
  return false;
}

void Reset(Snapshot* s, Kind kind) {
  switch (kind) {
    case Kind::kNamespace:
      s->namespaces.Clear();
      break;
    case Kind::kService:
      s->services.Clear();
      s->services_by_ip.Clear();
      break;
    case Kind::kEndpointSlice:
      s->endpoints.Clear();
      s->endpoints_by_service.Clear();
      s->endpoints_by_ip.Clear();
      break;
    case Kind::kPod:
      s->pods.Clear();
      s->pods_by_ip.Clear();
      break;
  }
}

}  // namespace warpdns::slowpath::kubernetes
