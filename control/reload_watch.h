// Watches the Corefile and everything it imports for the `reload` plugin:
// a SHA512 over their contents, checked every interval plus jitter.
#ifndef WARPDNS_CONTROL_RELOAD_WATCH_H_
#define WARPDNS_CONTROL_RELOAD_WATCH_H_

#include <chrono>
#include <string>
#include <vector>

namespace warpdns::control {

class ReloadWatch {
 public:
  explicit ReloadWatch(std::vector<std::string> files);

  // Lowercase hex SHA512 of the contents the running configuration came from.
  const std::string& hash() const { return hash_; }
  // True once `interval_ms` plus a random part of `jitter_ms` has passed
  // since the last check; starts the next period.
  bool Due(int64_t interval_ms, int64_t jitter_ms);
  // Whether the files now hash differently from hash().
  bool Changed() const;
  // Takes the current contents as seen (after a failed reload of them).
  void Remember();

 private:
  std::string HashFiles() const;

  std::vector<std::string> files_;
  std::string hash_;
  std::chrono::steady_clock::time_point next_check_;
  bool scheduled_ = false;
};

}  // namespace warpdns::control

#endif  // WARPDNS_CONTROL_RELOAD_WATCH_H_
