// Per-agent admission of reports that are valid but arrive too often: the server, not the agent,
// decides how much of the shared writer one agent may use.
//
// - Health: a sample collected less than `min_health_interval_ms` after (or before) the agent's
//   previous new sample is refused. The agent's own floor is 1 s (tests and demos), so the default
//   0.5 s never refuses a real agent's jittered schedule, while a flood of samples stamped with
//   the same moment is refused.
// - Inventory: a token bucket per agent (`inventory_burst` at once, then one per
//   `inventory_refill_ms`), on the server's clock. A real agent sends one at start, one per
//   inventory interval (≥ 60 s) and one per "collect now" command; 29 inventories in 20 s are not
//   a real agent. A refused inventory loses nothing: the next one is a full snapshot.
//
// Resends (seq not above the highest seq this agent has offered) are never refused here: the store
// answers them DUPLICATE, which is what the agent needs to clear its spool.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "ingest/wire_shape.hpp"

namespace dozor::server {

struct AdmissionOptions {
  int64_t min_health_interval_ms = 500;
  int inventory_burst = 6;
  int64_t inventory_refill_ms = 60'000;
};

class ReportAdmission {
 public:
  explicit ReportAdmission(AdmissionOptions options = {}) : options_(options) {}

  // nullopt admits the report (and records it); otherwise the reason it is refused.
  std::optional<std::string> Admit(std::string_view agent_id, uint64_t seq, PayloadKind kind,
                                   int64_t collected_at_ms, int64_t now_ms);

  // Forgets an agent (revoked): its memory is bounded by the number of agents that sent reports.
  void Forget(std::string_view agent_id);

 private:
  struct AgentState {
    uint64_t highest_seq = 0;
    std::optional<int64_t> last_health_collected_at_ms;
    double inventory_tokens = 0;
    int64_t inventory_refilled_at_ms = 0;
    bool initialised = false;
  };

  AdmissionOptions options_;
  std::mutex mutex_;
  std::unordered_map<std::string, AgentState> agents_;
};

}  // namespace dozor::server
