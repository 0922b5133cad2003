// Classifies a host as a server or a workstation from its inventory, for rules whose thresholds
// depend on the role (RAM too small for the role, 10/100 Mb links on servers, ...).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dozor/v1/agent.pb.h"

namespace dozor::server {

enum class HostRole { kServer, kWorkstation };

// The stored and API spelling: "server", "workstation".
std::string_view ToString(HostRole role);
// "" for a host without a role yet (no inventory): the API's and the report's spelling of none.
std::string_view ToString(const std::optional<HostRole>& role);
// nullopt for any other text (a host without an inventory has an empty role).
std::optional<HostRole> ParseHostRole(std::string_view text);

// A workstation when a desktop / display manager is installed (package or service) or the DMI
// chassis type is a desktop or portable kind; otherwise a server. Tower chassis count as server:
// tower servers are common.
HostRole ClassifyHostRole(const dozor::v1::Inventory& inventory);

// Whether a DMI chassis type (as dmidecode / sysfs names it) is a desktop or portable kind.
bool IsWorkstationChassis(std::string_view chassis_type);

}  // namespace dozor::server
