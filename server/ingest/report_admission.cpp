#include "ingest/report_admission.hpp"

#include <algorithm>
#include <cstdlib>

namespace dozor::server {

std::optional<std::string> ReportAdmission::Admit(std::string_view agent_id, uint64_t seq,
                                                  PayloadKind kind, int64_t collected_at_ms,
                                                  int64_t now_ms) {
  std::lock_guard lock(mutex_);
  AgentState& state = agents_[std::string(agent_id)];
  if (!state.initialised) {
    state.initialised = true;
    state.inventory_tokens = options_.inventory_burst;
    state.inventory_refilled_at_ms = now_ms;
  }
  if (seq <= state.highest_seq) {
    return std::nullopt;  // a resend: the store decides (DUPLICATE or the first commit)
  }
  if (kind == PayloadKind::kHealth) {
    if (state.last_health_collected_at_ms &&
        std::llabs(collected_at_ms - *state.last_health_collected_at_ms) <
            options_.min_health_interval_ms) {
      state.highest_seq = seq;
      return "health sample collected " +
             std::to_string(std::llabs(collected_at_ms - *state.last_health_collected_at_ms)) +
             " ms from the previous one; the server accepts at most one per " +
             std::to_string(options_.min_health_interval_ms) + " ms";
    }
    state.last_health_collected_at_ms = collected_at_ms;
  } else if (kind == PayloadKind::kInventory) {
    if (options_.inventory_refill_ms > 0 && now_ms > state.inventory_refilled_at_ms) {
      state.inventory_tokens = std::min<double>(
          options_.inventory_burst,
          state.inventory_tokens + static_cast<double>(now_ms - state.inventory_refilled_at_ms) /
                                       static_cast<double>(options_.inventory_refill_ms));
      state.inventory_refilled_at_ms = now_ms;
    }
    if (state.inventory_tokens < 1.0) {
      state.highest_seq = seq;
      return "too many inventories: the server accepts " +
             std::to_string(options_.inventory_burst) + " at once, then one per " +
             std::to_string(options_.inventory_refill_ms / 1000) +
             " s; the next scheduled inventory carries the full state";
    }
    state.inventory_tokens -= 1.0;
  }
  state.highest_seq = seq;
  return std::nullopt;
}

void ReportAdmission::Forget(std::string_view agent_id) {
  std::lock_guard lock(mutex_);
  agents_.erase(std::string(agent_id));
}

}  // namespace dozor::server
