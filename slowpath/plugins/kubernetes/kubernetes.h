// kubernetes: Kubernetes DNS-based service discovery (CoreDNS
// plugin/kubernetes): answers from a watched copy of the cluster's Services,
// EndpointSlices, Namespaces and Pods.
#ifndef WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_KUBERNETES_H_
#define WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_KUBERNETES_H_

#include <memory>
#include <string_view>

#include "slowpath/chain/plugin.h"
#include "slowpath/plugins/kubernetes/controller.h"
#include "slowpath/plugins/kubernetes/lookup.h"

namespace warpdns::slowpath::kubernetes {

class Kubernetes : public Plugin {
 public:
  Kubernetes(Config config, std::unique_ptr<Controller> controller, Host* host, uint16_t source)
      : config_(std::move(config)), controller_(std::move(controller)), host_(host),
        source_(source) {}

  std::string_view Name() const override { return "kubernetes"; }
  // Answers depend on the question and the published snapshot only (each
  // publication bumps the data generation); ExternalName targets resolved
  // through the server opt their reply out.
  bool Deterministic() const override { return true; }
  Task<Result> ServeDns(Request& req, ResponseWriter& w) override;

  // True once every watched resource has been listed (for `ready`); it
  // stays true while the API server is unreachable.
  bool Ready() const { return controller_->Current()->synced; }

 private:
  const Config config_;
  const std::unique_ptr<Controller> controller_;
  Host* const host_;
  const uint16_t source_;  // fastpath::SourceId of this copy; 0: none left
};

}  // namespace warpdns::slowpath::kubernetes

#endif  // WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_KUBERNETES_H_
