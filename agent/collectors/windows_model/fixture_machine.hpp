// A Windows machine read from a fixture tree instead of the live system: what
// deploy/windows/capture-fixture.ps1 writes on a real machine, and what tests/fixtures/windows/
// holds. Layout under `root`:
//   wmi/<namespace>/<Class>.json   a JSON array of instances (absent: no such class/namespace)
//   registry/*.reg                 regedit exports, merged
//   fs/<drive letter>/...          files at their Windows paths (C:\X -> fs/C/X)
//   win32/account_policy.json      {"min_password_length", "max_password_age_days",
//                                   "lockout_threshold", "password_complexity"}
//   win32/windows_update.json      {"last_search_success", "last_install_success" (RFC 3339 or
//                                   null), "pending": [{"title", "kb", "security"}], "error"}
// Names are matched case-insensitively, as Windows does. Used by the tests on every platform and
// by `dozor-agent collect --root` on a capture.
#pragma once

#include <filesystem>
#include <memory>

#include "collectors/windows_model/sources.hpp"

namespace dozor::agent::windows {

class FixtureMachine {
 public:
  // Reads the registry exports at once (kDataLoss names a file that is not one); the rest is read
  // when asked.
  [[nodiscard]] static Result<std::unique_ptr<FixtureMachine>> Open(
      const std::filesystem::path& root, int64_t now_s);
  ~FixtureMachine();
  FixtureMachine(const FixtureMachine&) = delete;
  FixtureMachine& operator=(const FixtureMachine&) = delete;

  [[nodiscard]] Machine machine() const { return machine_; }

 private:
  FixtureMachine();
  struct Sources;
  std::unique_ptr<Sources> sources_;
  Machine machine_;
};

// A path under `root` for a name that may differ in case from what is on disk: each component is
// taken as written when it exists, else the first entry equal to it ignoring ASCII case.
[[nodiscard]] std::filesystem::path ResolveNoCase(const std::filesystem::path& root,
                                                  const std::vector<std::string>& components);

}  // namespace dozor::agent::windows
