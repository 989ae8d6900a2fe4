#include "control/reload_watch.h"

#include <openssl/evp.h>

#include <fstream>
#include <random>
#include <sstream>

namespace warpdns::control {

ReloadWatch::ReloadWatch(Parse parse, std::vector<std::string> files,
                         const std::string& canonical)
    : parse_(std::move(parse)), files_(std::move(files)), hash_(Sha512Hex(canonical)) {
  seen_ = "parsed " + hash_;
}

std::string ReloadWatch::Sha512Hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), digest, &len, EVP_sha512(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

std::string ReloadWatch::Fingerprint() const {
  if (std::optional<std::string> canonical = parse_()) return "parsed " + Sha512Hex(*canonical);
  std::string raw;
  for (const std::string& f : files_) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    raw += buf.str();
  }
  return "raw " + Sha512Hex(raw);
}

bool ReloadWatch::Due(int64_t interval_ms, int64_t jitter_ms) {
  const auto now = std::chrono::steady_clock::now();
  if (scheduled_ && now < next_check_) return false;
  const bool due = scheduled_;
  // Jitter spreads the checks of a fleet that was restarted together.
  static thread_local std::mt19937_64 rng(std::random_device{}());
  const int64_t jitter = jitter_ms > 0 ? static_cast<int64_t>(rng() % jitter_ms) : 0;
  next_check_ = now + std::chrono::milliseconds(interval_ms + jitter);
  scheduled_ = true;
  return due;
}

bool ReloadWatch::Changed() const { return Fingerprint() != seen_; }

void ReloadWatch::Remember() { seen_ = Fingerprint(); }

}  // namespace warpdns::control
