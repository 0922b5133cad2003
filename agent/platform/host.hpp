// Who this machine is: its host name and its machine id. The only place the agent asks the OS
// (linux/host_linux.cpp; windows/host_windows.cpp later).
#pragma once

#include <filesystem>
#include <string>

#include "dozor/common/result.hpp"

namespace dozor::agent::platform {

// The longest machine id accepted; a longer one is treated as absent (not an id the server could
// match on).
inline constexpr size_t kMaxMachineIdLength = 64;

// The running machine's host name; empty when the OS will not say.
[[nodiscard]] std::string Hostname();

// The machine id of the system under `root` ("/" for this machine; a fixture tree in tests): on
// Linux the first line of <root>/etc/machine-id. kNotFound when there is none, kDataLoss when it is
// empty or longer than kMaxMachineIdLength.
[[nodiscard]] Result<std::string> ReadMachineId(const std::filesystem::path& root);

}  // namespace dozor::agent::platform
