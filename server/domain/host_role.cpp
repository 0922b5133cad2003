#include "domain/host_role.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "domain/enum_spelling.hpp"
#include "dozor/common/text.hpp"

namespace dozor::server {
namespace {

// Display managers and desktop sessions: a host running one has a person in front of it.
constexpr std::array<std::string_view, 12> kDesktopNames = {"gdm3",
                                                            "gdm",
                                                            "lightdm",
                                                            "sddm",
                                                            "xdm",
                                                            "gnome-shell",
                                                            "plasma-desktop",
                                                            "plasma-workspace",
                                                            "xfce4-session",
                                                            "cinnamon",
                                                            "mate-session-manager",
                                                            "xserver-xorg-core"};

// SMBIOS chassis types of desktop and portable machines. "Tower" is deliberately absent.
constexpr std::array<std::string_view, 13> kWorkstationChassis = {
    "desktop",    "low profile desktop", "laptop", "notebook",    "portable",   "hand held",
    "all in one", "sub notebook",        "tablet", "convertible", "detachable", "mini pc",
    "stick pc"};

// Service names may carry a ".service" suffix.
std::string_view StripServiceSuffix(std::string_view name) {
  constexpr std::string_view kSuffix = ".service";
  if (name.size() > kSuffix.size() && name.substr(name.size() - kSuffix.size()) == kSuffix) {
    return name.substr(0, name.size() - kSuffix.size());
  }
  return name;
}

bool IsDesktopName(std::string_view name) {
  return std::find(kDesktopNames.begin(), kDesktopNames.end(), name) != kDesktopNames.end();
}

constexpr enum_spelling::Table<HostRole, 2> kHostRoleSpelling = {{
    {HostRole::kServer, "server"},
    {HostRole::kWorkstation, "workstation"},
}};

}  // namespace

std::string_view ToString(HostRole role) { return enum_spelling::Spell(kHostRoleSpelling, role); }

std::string_view ToString(const std::optional<HostRole>& role) {
  return role ? ToString(*role) : std::string_view();
}

std::optional<HostRole> ParseHostRole(std::string_view text) {
  return enum_spelling::Lookup(kHostRoleSpelling, text);
}

bool IsWorkstationChassis(std::string_view chassis_type) {
  std::string lower = Lower(chassis_type);
  return std::find(kWorkstationChassis.begin(), kWorkstationChassis.end(), lower) !=
         kWorkstationChassis.end();
}

HostRole ClassifyHostRole(const dozor::v1::Inventory& inventory) {
  // Windows says when it is a server edition, whatever case it runs in.
  const std::string& product_type = inventory.os().product_type();
  if (product_type == "server" || product_type == "domain_controller") {
    return HostRole::kServer;
  }
  if (IsWorkstationChassis(inventory.hardware().dmi().chassis_type())) {
    return HostRole::kWorkstation;
  }
  for (const auto& package : inventory.software().packages()) {
    if (IsDesktopName(package.name())) {
      return HostRole::kWorkstation;
    }
  }
  for (const auto& service : inventory.software().services()) {
    if (IsDesktopName(StripServiceSuffix(service.name()))) {
      return HostRole::kWorkstation;
    }
  }
  return HostRole::kServer;
}

}  // namespace dozor::server
