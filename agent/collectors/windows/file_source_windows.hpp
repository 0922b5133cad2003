// The live file system as a FileSource (collectors/windows_model/sources.hpp): UTF-8 Windows
// paths ("C:\Users\ivanov\AppData\Roaming\1C\1CEStart\ibases.v8i") opened as wide paths.
#pragma once

#include <cstddef>

#include "collectors/windows_model/sources.hpp"

namespace dozor::agent::windows {

// Stateless; safe to use from several threads at once.
class Win32Files final : public FileSource {
 public:
  struct Limits {
    size_t max_entries = 100000;  // entries of one folder (kResourceExhausted)
  };

  Win32Files() = default;
  explicit Win32Files(Limits limits) : limits_(limits) {}

  // Regular files only: a pipe or device path is refused (kInvalidArgument), never waited on.
  [[nodiscard]] Result<std::string> Read(std::string_view windows_path, size_t max_bytes) override;
  [[nodiscard]] Result<std::vector<std::string>> List(std::string_view windows_folder) override;

 private:
  Limits limits_;
};

}  // namespace dozor::agent::windows
