// How the plugin reaches the Kubernetes API: client-go's rest.Config from an
// endpoint URL with `tls` files, from a kubeconfig file, or from the service
// account a pod has mounted (in-cluster), and the libcurl settings of one
// request under it.
#ifndef WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_CLIENT_H_
#define WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_CLIENT_H_

#include <curl/curl.h>

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

namespace warpdns::slowpath::kubernetes {

struct ApiConfig {
  std::string server;  // "https://10.96.0.1:443"
  // PEM, from a file or inline (kubeconfig's *-data, base64-decoded).
  std::string ca_file, ca_data;
  std::string cert_file, cert_data;
  std::string key_file, key_data;
  std::string token;       // bearer token
  std::string token_file;  // read at every request: projected tokens rotate
  bool insecure = false;   // insecure-skip-tls-verify
};

// rest.InClusterConfig: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT
// with the service account's token and CA.
bool InClusterConfig(ApiConfig* out, std::string* error);

// A kubeconfig file; `context` "" means its current-context. Relative paths
// in it are relative to the file. exec and auth-provider credentials are
// not supported.
bool KubeconfigConfig(const std::string& path, const std::string& context, ApiConfig* out,
                      std::string* error);

// A kubeconfig's YAML (or JSON) as JSON, read by yaml-cpp; scalars become
// strings. On error, *error says "line N: why".
bool ParseYaml(std::string_view text, nlohmann::json* out, std::string* error);

// Sets URL, TLS and credentials on `curl` for a GET of `path_and_query`;
// *headers receives the header list the handle uses (the caller frees it
// after the transfer). Returns false with *error when the token file
// cannot be read.
bool ConfigureRequest(const ApiConfig& config, const std::string& path_and_query, CURL* curl,
                      curl_slist** headers, std::string* error);

}  // namespace warpdns::slowpath::kubernetes

#endif  // WARPDNS_SLOWPATH_PLUGINS_KUBERNETES_CLIENT_H_
