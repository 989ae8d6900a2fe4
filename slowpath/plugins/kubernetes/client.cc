#include "slowpath/plugins/kubernetes/client.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace warpdns::slowpath::kubernetes {
namespace {

using nlohmann::json;

constexpr char kTokenFile[] = "/var/run/secrets/kubernetes.io/serviceaccount/token";
constexpr char kRootCaFile[] = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

// Go's error text for a failed open: "open PATH: no such file or directory".
std::string OpenError(const std::string& path, int err) {
  std::string what = std::strerror(err);
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  return "open " + path + ": " + what;
}

bool ReadFile(const std::string& path, std::string* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = OpenError(path, errno);
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  *out = text.str();
  return true;
}

bool Base64Decode(std::string_view in, std::string* out) {
  out->clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=' || c == '\n' || c == '\r' || c == ' ')
      continue;
    else
      return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

std::string Trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  return std::string(s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1));
}

// A YAML node as JSON, scalars as their text (kubeconfig readers compare
// strings: `insecure-skip-tls-verify: true` is "true").
json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json object = json::object();
      for (const auto& entry : node) object[entry.first.as<std::string>()] = ToJson(entry.second);
      return object;
    }
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const auto& item : node) array.push_back(ToJson(item));
      return array;
    }
    case YAML::NodeType::Scalar:
      return node.Scalar();
    default:
      return nullptr;
  }
}

const json* Named(const json& doc, const char* list, const char* field, const std::string& name) {
  auto it = doc.find(list);
  if (it == doc.end() || !it->is_array()) return nullptr;
  for (const json& entry : *it) {
    if (entry.is_object() && entry.value("name", "") == name) {
      auto f = entry.find(field);
      return f != entry.end() && f->is_object() ? &*f : nullptr;
    }
  }
  return nullptr;
}

std::string Field(const json& object, const char* key) {
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A path from the kubeconfig, relative to its directory.
std::string Relative(const std::string& kubeconfig, const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  const size_t slash = kubeconfig.rfind('/');
  return slash == std::string::npos ? path : kubeconfig.substr(0, slash + 1) + path;
}

}  // namespace

bool ParseYaml(std::string_view text, json* out, std::string* error) {
  try {
    const YAML::Node doc = YAML::Load(std::string(text));
    *out = doc.IsNull() ? json::object() : ToJson(doc);
    return true;
  } catch (const YAML::Exception& e) {
    *error = "line " + std::to_string(e.mark.line + 1) + ": " + e.msg;
    return false;
  }
}

bool InClusterConfig(ApiConfig* out, std::string* error) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || *host == '\0' || port == nullptr || *port == '\0') {
    *error =
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and "
        "KUBERNETES_SERVICE_PORT must be defined";
    return false;
  }
  std::string unused;
  if (!ReadFile(kTokenFile, &unused, error)) return false;
  const std::string h = host;
  out->server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  out->token_file = kTokenFile;
  // client-go goes on without the CA when it cannot be read.
  if (std::ifstream(kRootCaFile)) out->ca_file = kRootCaFile;
  return true;
}

bool KubeconfigConfig(const std::string& path, const std::string& context, ApiConfig* out,
                      std::string* error) {
  std::string text;
  if (!ReadFile(path, &text, error)) return false;
  json doc;
  std::string why;
  if (!ParseYaml(text, &doc, &why) || !doc.is_object()) {
    *error = "error loading config file \"" + path + "\": " + (why.empty() ? "not a mapping" : why);
    return false;
  }
  const std::string name = context.empty() ? Field(doc, "current-context") : context;
  const json* ctx = Named(doc, "contexts", "context", name);
  if (ctx == nullptr) {
    *error = "context was not found for specified context: " + name;
    return false;
  }
  const std::string cluster_name = Field(*ctx, "cluster");
  const json* cluster = Named(doc, "clusters", "cluster", cluster_name);
  if (cluster == nullptr || Field(*cluster, "server").empty()) {
    *error = "invalid configuration: no server found for cluster \"" + cluster_name + "\"";
    return false;
  }
  out->server = Field(*cluster, "server");
  while (out->server.ends_with('/')) out->server.pop_back();
  out->ca_file = Relative(path, Field(*cluster, "certificate-authority"));
  if (auto it = cluster->find("insecure-skip-tls-verify"); it != cluster->end()) {
    out->insecure = *it == true || *it == "true";
  }
  const std::string user_name = Field(*ctx, "user");
  static const json kNoUser = json::object();
  const json* user = Named(doc, "users", "user", user_name);
  if (user == nullptr) user = &kNoUser;
  if (user->contains("exec") || user->contains("auth-provider")) {
    *error = "kubeconfig user \"" + user_name +
             "\" uses exec or auth-provider credentials, which are not supported";
    return false;
  }
  out->cert_file = Relative(path, Field(*user, "client-certificate"));
  out->key_file = Relative(path, Field(*user, "client-key"));
  out->token = Field(*user, "token");
  out->token_file = Relative(path, Field(*user, "tokenFile"));
  const std::tuple<const json*, const char*, std::string*> data[] = {
      {cluster, "certificate-authority-data", &out->ca_data},
      {user, "client-certificate-data", &out->cert_data},
      {user, "client-key-data", &out->key_data}};
  for (const auto& [object, key, target] : data) {
    if (!Base64Decode(Field(*object, key), target)) {
      *error = "invalid configuration: " + std::string(key) + " is not base64";
      return false;
    }
  }
  return true;
}

bool ConfigureRequest(const ApiConfig& config, const std::string& path_and_query, CURL* curl,
                      curl_slist** headers, std::string* error) {
  std::string token = config.token;
  if (!config.token_file.empty()) {
    if (!ReadFile(config.token_file, &token, error)) return false;
    token = Trim(token);
  }
  curl_easy_setopt(curl, CURLOPT_URL, (config.server + path_and_query).c_str());
  *headers = curl_slist_append(nullptr, "Accept: application/json");
  if (!token.empty())
    *headers = curl_slist_append(*headers, ("Authorization: Bearer " + token).c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, *headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "warpdns kubernetes plugin");
  auto pem = [curl](CURLoption file_opt, CURLoption blob_opt, const std::string& file,
                    const std::string& data) {
    if (!file.empty()) curl_easy_setopt(curl, file_opt, file.c_str());
    if (!data.empty()) {
      curl_blob blob{const_cast<char*>(data.data()), data.size(), CURL_BLOB_COPY};
      curl_easy_setopt(curl, blob_opt, &blob);
    }
  };
  pem(CURLOPT_CAINFO, CURLOPT_CAINFO_BLOB, config.ca_file, config.ca_data);
  pem(CURLOPT_SSLCERT, CURLOPT_SSLCERT_BLOB, config.cert_file, config.cert_data);
  pem(CURLOPT_SSLKEY, CURLOPT_SSLKEY_BLOB, config.key_file, config.key_data);
  if (config.insecure) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  return true;
}

}  // namespace warpdns::slowpath::kubernetes
