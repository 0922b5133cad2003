// What changed between two inventory snapshots of one host: the host's change log.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/v1/agent.pb.h"

namespace dozor::server {

// One row of a host's change log.
// category: hardware | os | network | package | application | service | user | host
// action:   added | removed | changed | upgraded | downgraded
struct InventoryChange {
  int64_t id = 0;
  std::string agent_id;
  int64_t at_ms = 0;  // collected_at of the snapshot that showed the change
  std::string category;
  std::string action;
  std::string subject;  // e.g. package name, "os.kernel", interface name
  std::string old_value;
  std::string new_value;
};

// Compares `before` with `after` (both complete snapshots of one host) and returns one change per
// difference, all stamped `at_ms` and `agent_id`, in a stable order (category by category, then
// by subject). Pure: no I/O. Categories and subjects:
//   package      name (or name:arch when a name is installed for several architectures);
//                added/removed, upgraded/downgraded by dpkg version order, changed otherwise
//   application  "name version" (side-by-side 1C platforms are separate entries); added/removed
//   service      unit name; added/removed, changed (active/sub state or enablement)
//   os           os.pretty_name, os.version_id, os.kernel, os.hostname, os.timezone; changed
//   hardware     hardware.cpu_model, hardware.memory_total_bytes, hardware.bios_version,
//                hardware.bios_date (changed); "disk <model> <serial>" (added/removed)
//   network      interface name (added/removed); "<interface> <address>/<prefix>" (added/removed);
//                network.dns_servers, network.gateways (changed)
//   user         account name; added/removed, changed (administrator rights)
std::vector<InventoryChange> DiffInventories(const dozor::v1::Inventory& before,
                                             const dozor::v1::Inventory& after, int64_t at_ms,
                                             std::string_view agent_id);

// The single change row recorded for a host's first inventory instead of listing everything as
// added: category "host", action "added", subject "first inventory".
InventoryChange FirstInventoryChange(int64_t at_ms, std::string_view agent_id);

// The change log is bounded per inventory: a real upgrade (Debian 11 -> 12 changes ~2,000
// packages) is listed in full, while a flood of inventories that each differ completely from the
// last cannot write millions of rows. Beyond max_changes, the first max_changes - 1 are kept and
// one row says how many more there were (category "inventory", action "truncated").
inline constexpr size_t kMaxChangesPerInventory = 5000;
void CapInventoryChanges(std::vector<InventoryChange>& changes,
                         size_t max_changes = kMaxChangesPerInventory);

}  // namespace dozor::server
