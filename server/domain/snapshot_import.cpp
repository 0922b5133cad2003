#include "domain/snapshot_import.hpp"

#include <nlohmann/json.hpp>

#include "domain/enum_spelling.hpp"

namespace dozor::server {
namespace {

constexpr enum_spelling::Table<ImportOutcome, 3> kOutcomes = {{{ImportOutcome::kCreated, "created"},
                                                               {ImportOutcome::kUpdated, "updated"},
                                                               {ImportOutcome::kStale, "stale"}}};

}  // namespace

std::string_view ToString(ImportOutcome outcome) {
  return enum_spelling::Spell(kOutcomes, outcome);
}
std::optional<ImportOutcome> ParseImportOutcome(std::string_view text) {
  return enum_spelling::Lookup(kOutcomes, text);
}
void to_json(nlohmann::json& out, ImportOutcome value) { out = ToString(value); }

ImportOutcome DecideImportOutcome(std::optional<int64_t> host_last_inventory_ms,
                                  int64_t snapshot_collected_at_ms) {
  if (!host_last_inventory_ms) {
    return ImportOutcome::kCreated;
  }
  return snapshot_collected_at_ms > *host_last_inventory_ms ? ImportOutcome::kUpdated
                                                            : ImportOutcome::kStale;
}

}  // namespace dozor::server
