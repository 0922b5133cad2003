// What importing a snapshot file (dozor-agent collect) does to its host. Pure.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string_view>

namespace dozor::server {

// created: a new host; updated: the snapshot's inventory became the host's; stale: recorded
// only, because the host already holds an inventory at least as new (never rolled back).
enum class ImportOutcome { kCreated, kUpdated, kStale };

std::string_view ToString(ImportOutcome outcome);
std::optional<ImportOutcome> ParseImportOutcome(std::string_view text);
void to_json(nlohmann::json& out, ImportOutcome value);

// `host_last_inventory_ms`: the collected_at of the host's current inventory, or nullopt when the
// imported machine has no host yet.
ImportOutcome DecideImportOutcome(std::optional<int64_t> host_last_inventory_ms,
                                  int64_t snapshot_collected_at_ms);

}  // namespace dozor::server
