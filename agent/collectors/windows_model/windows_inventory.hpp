// The inventory of a Windows machine, built from its sources (sources.hpp): one function per part,
// the same split as on Linux (hardware, os, network, software) plus security. Each fills what it
// can and lists what it could not, with the reason, in the part's `unavailable` (a WMI class a
// Windows edition lacks, access denied, Wine's partial WMI), so a missing fact is reported as
// unavailable instead of failing the whole part. A part fails (an error Status) only when its
// first, essential source does (e.g. Win32_OperatingSystem for the os part).
#pragma once

#include "collectors/windows_model/sources.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::agent::windows {

[[nodiscard]] Status BuildHardware(Machine& machine, dozor::v1::Hardware* out);
[[nodiscard]] Status BuildOperatingSystem(Machine& machine, dozor::v1::OperatingSystem* out);
[[nodiscard]] Status BuildNetwork(Machine& machine, dozor::v1::Network* out);
[[nodiscard]] Status BuildSoftware(Machine& machine, dozor::v1::Software* out);
[[nodiscard]] Status BuildSecurity(Machine& machine, dozor::v1::Security* out);

}  // namespace dozor::agent::windows
