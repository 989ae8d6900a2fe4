// Watches the Corefile for the `reload` plugin as CoreDNS does: the SHA512 of
// its parsed server blocks (config::Corefile::canonical), checked every
// interval plus jitter, so an edit that moves no token (a comment, blank
// space) is no change. A file that does not parse is told apart by its raw
// contents, so each broken version is tried (and counted) once.
#ifndef WARPDNS_CONTROL_RELOAD_WATCH_H_
#define WARPDNS_CONTROL_RELOAD_WATCH_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace warpdns::control {

class ReloadWatch {
 public:
  // Parses the Corefile as it is now: its canonical form, nullopt if it does
  // not parse.
  using Parse = std::function<std::optional<std::string>()>;

  // `canonical` is the running configuration's; `files` (the Corefile and its
  // imports) are read raw when the Corefile does not parse.
  ReloadWatch(Parse parse, std::vector<std::string> files, const std::string& canonical);

  // Lowercase hex SHA512 of the running configuration's canonical form.
  const std::string& hash() const { return hash_; }
  // True once `interval_ms` plus a random part of `jitter_ms` has passed
  // since the last check; starts the next period.
  bool Due(int64_t interval_ms, int64_t jitter_ms);
  // Whether the Corefile now differs from what was last seen.
  bool Changed() const;
  // Takes the Corefile as it is now as seen (after a failed reload of it).
  void Remember();
  // Lowercase hex SHA512 of `text`.
  static std::string Sha512Hex(std::string_view text);

 private:
  std::string Fingerprint() const;

  Parse parse_;
  std::vector<std::string> files_;
  std::string hash_;
  std::string seen_;  // Fingerprint() of what was last seen
  std::chrono::steady_clock::time_point next_check_;
  bool scheduled_ = false;
};

}  // namespace warpdns::control

#endif  // WARPDNS_CONTROL_RELOAD_WATCH_H_
