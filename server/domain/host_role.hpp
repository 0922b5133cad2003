// Classifies a host as a server or a workstation from its inventory, for rules whose thresholds
// depend on the role (RAM too small for the role, 10/100 Mb links on servers, ...).
#pragma once

#include <string>
#include <string_view>

#include "dozor/v1/agent.pb.h"

namespace dozor::server {

// "workstation" when a desktop / display manager is installed (package or service) or the DMI
// chassis type is a desktop or portable kind; otherwise "server". Tower chassis count as server:
// tower servers are common.
std::string ClassifyHostRole(const dozor::v1::Inventory& inventory);

// Whether a DMI chassis type (as dmidecode / sysfs names it) is a desktop or portable kind.
bool IsWorkstationChassis(std::string_view chassis_type);

}  // namespace dozor::server
