#include "slowpath/plugins/etcd/service.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

namespace warpdns::slowpath::etcd {
namespace {

using Json = nlohmann::ordered_json;

bool EqualFold(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Go's name for the JSON kind of a value, as its decoding errors print it.
std::string JsonKind(const Json& v) {
  switch (v.type()) {
    case Json::value_t::string:
      return "string";
    case Json::value_t::boolean:
      return "bool";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    default:
      return "number";
  }
}

std::string TypeError(const Json& v, std::string_view field, std::string_view go_type) {
  std::string what = JsonKind(v);
  if (v.is_number()) what += " " + v.dump();
  return "json: cannot unmarshal " + what + " into Go struct field Service." + std::string(field) +
         " of type " + std::string(go_type);
}

// Go decodes a number into an integer field only if its literal is an
// integer in range: 1.0 and 1e3 are errors.
bool IntegerIn(const Json& v, int64_t lo, int64_t hi, int64_t* out) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(hi)) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (i < lo || i > hi) return false;
    *out = i;
    return true;
  }
  return false;
}

bool ParseV4(const std::string& s, uint8_t* out) { return inet_pton(AF_INET, s.c_str(), out) == 1; }

}  // namespace

bool ParseService(std::string_view json, Service* out, std::string* error) {
  *out = Service{};
  Json doc;
  try {
    doc = Json::parse(json);
  } catch (const Json::parse_error& e) {
    // Drop nlohmann's "[json.exception.parse_error.101] " tag.
    std::string what = e.what();
    if (size_t tag = what.find("] "); tag != std::string::npos) what.erase(0, tag + 2);
    *error = what;
    return false;
  }
  if (doc.is_null()) return true;
  if (!doc.is_object()) {
    *error = "json: cannot unmarshal " + JsonKind(doc) + " into Go value of type msg.Service";
    return false;
  }
  constexpr int64_t kIntMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kIntMax = std::numeric_limits<int64_t>::max();
  // Go keeps decoding after a type error and reports the first one.
  std::string first_error;
  auto fail = [&](std::string message) {
    if (first_error.empty()) first_error = std::move(message);
  };
  for (const auto& [key, v] : doc.items()) {
    if (v.is_null()) continue;
    std::string* text_field = nullptr;
    int64_t* int_field = nullptr;
    std::string_view name;
    if (EqualFold(key, "host")) {
      text_field = &out->host, name = "host";
    } else if (EqualFold(key, "text")) {
      text_field = &out->text, name = "text";
    } else if (EqualFold(key, "group")) {
      text_field = &out->group, name = "group";
    } else if (EqualFold(key, "port")) {
      int_field = &out->port, name = "port";
    } else if (EqualFold(key, "priority")) {
      int_field = &out->priority, name = "priority";
    } else if (EqualFold(key, "weight")) {
      int_field = &out->weight, name = "weight";
    } else if (EqualFold(key, "targetstrip")) {
      int_field = &out->target_strip, name = "targetstrip";
    } else if (EqualFold(key, "mail")) {
      if (v.is_boolean()) {
        out->mail = v.get<bool>();
      } else {
        fail(TypeError(v, "mail", "bool"));
      }
      continue;
    } else if (EqualFold(key, "ttl")) {
      int64_t ttl = 0;
      if (IntegerIn(v, 0, std::numeric_limits<uint32_t>::max(), &ttl)) {
        out->ttl = static_cast<uint32_t>(ttl);
      } else {
        fail(TypeError(v, "ttl", "uint32"));
      }
      continue;
    } else {
      continue;  // unknown keys are ignored
    }
    if (text_field != nullptr) {
      if (v.is_string()) {
        *text_field = v.get<std::string>();
      } else {
        fail(TypeError(v, name, "string"));
      }
    } else if (!IntegerIn(v, kIntMin, kIntMax, int_field)) {
      fail(TypeError(v, name, "int"));
    }
  }
  if (!first_error.empty()) {
    *error = std::move(first_error);
    return false;
  }
  return true;
}

HostKind ClassifyHost(const Service& s, std::array<uint8_t, 16>* address, size_t* address_len) {
  // Go's net.ParseIP: dotted quads, or IPv6 (an IPv4-mapped one counts as
  // IPv4, as ip.To4() does).
  if (ParseV4(s.host, address->data())) {
    *address_len = 4;
    return HostKind::kA;
  }
  if (inet_pton(AF_INET6, s.host.c_str(), address->data()) == 1) {
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(address->data(), kMapped, sizeof(kMapped)) == 0) {
      std::memmove(address->data(), address->data() + 12, 4);
      *address_len = 4;
      return HostKind::kA;
    }
    *address_len = 16;
    return HostKind::kAaaa;
  }
  *address_len = 0;
  return s.text.empty() ? HostKind::kName : HostKind::kText;
}

std::vector<std::string> SplitDomainName(std::string_view name) {
  std::vector<std::string> labels;
  std::string label;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '\\' && i + 1 < name.size()) {
      label += c;
      label += name[++i];
    } else if (c == '.') {
      if (!label.empty()) labels.push_back(std::move(label));
      label.clear();
    } else {
      label += c;
    }
  }
  if (!label.empty()) labels.push_back(std::move(label));
  return labels;
}

std::string CleanPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(start, slash - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = slash + 1;
  }
  std::string out;
  for (std::string_view part : parts) {
    out += '/';
    out += part;
  }
  return out.empty() ? "/" : out;
}

std::string PathWithWildcard(std::string_view name, std::string_view prefix, bool* wildcard) {
  std::vector<std::string> labels = SplitDomainName(name);
  std::reverse(labels.begin(), labels.end());
  std::string path = "/" + std::string(prefix) + "/";
  *wildcard = false;
  for (const std::string& label : labels) {
    if (label == "*" || label == "any") {
      *wildcard = true;
      break;
    }
    path += "/" + label;
  }
  return CleanPath(path);
}

std::string PathOf(std::string_view name, std::string_view prefix) {
  std::vector<std::string> labels = SplitDomainName(name);
  std::string path = "/" + std::string(prefix) + "/";
  for (auto it = labels.rbegin(); it != labels.rend(); ++it) path += "/" + *it;
  return CleanPath(path);
}

std::string DomainOf(std::string_view key) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t slash = key.find('/', start);
    parts.push_back(key.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.back().empty()) parts.pop_back();
  // parts[0] is the empty string before the leading '/', parts[1] the
  // prefix; the rest, reversed, are the labels.
  std::string out;
  for (size_t i = parts.size(); i > 2; --i) {
    out += parts[i - 1];
    out += '.';
  }
  return out.empty() ? "." : out;
}

std::vector<std::string> Split255(std::string_view text) {
  if (text.size() < 255) return {std::string(text)};
  std::vector<std::string> out;
  for (size_t p = 0;; p += 255) {
    if (p + 255 <= text.size()) {
      out.emplace_back(text.substr(p, 255));
    } else {
      out.emplace_back(text.substr(p));
      break;
    }
  }
  return out;
}

std::string TargetStrip(std::string_view fqdn, int64_t labels) {
  size_t offset = 0;
  for (int64_t i = 0; i < labels; ++i) {
    // dns.NextLabel: the next unescaped dot that is not the final one.
    size_t j = offset;
    bool found = false;
    for (; j + 1 < fqdn.size(); ++j) {
      if (fqdn[j] != '.') continue;
      size_t backslashes = 0;
      while (backslashes < j && fqdn[j - 1 - backslashes] == '\\') ++backslashes;
      if (backslashes % 2 == 1) continue;
      found = true;
      break;
    }
    if (!found) return std::string(fqdn);  // overshot: keep the whole name
    offset = j + 1;
  }
  return std::string(fqdn.substr(offset));
}

std::string Fqdn(std::string_view name) {
  std::string out(name);
  if (out.empty() || out.back() != '.') out += '.';
  return out;
}

}  // namespace warpdns::slowpath::etcd
