// The live registry as a RegistrySource (collectors/windows_model/sources.hpp): RegOpenKeyExW in
// the asked view, subkeys and values enumerated, strings converted from UTF-16 to UTF-8.
// Bounded, because a key's contents are whatever some installer wrote there.
#pragma once

#include <cstddef>

#include "collectors/windows_model/sources.hpp"

namespace dozor::agent::windows {

// Holds no handle between calls; safe to use from several threads at once.
class Win32Registry final : public RegistrySource {
 public:
  struct Limits {
    size_t max_entries = 100000;           // subkeys or values of one key (kResourceExhausted)
    size_t max_value_bytes = 1024 * 1024;  // larger values are skipped
  };

  Win32Registry() = default;
  explicit Win32Registry(Limits limits) : limits_(limits) {}

  [[nodiscard]] Result<std::vector<std::string>> Subkeys(std::string_view key,
                                                         RegistryView view) override;
  [[nodiscard]] Result<RegistryValues> Values(std::string_view key, RegistryView view) override;

 private:
  Limits limits_;
};

}  // namespace dozor::agent::windows
