// The event feed: what the dashboard and alerts follow (finding opened / regressed / resolved /
// acknowledged / waived / verification asked and decided, contract moves, hosts going offline and
// back, agent trouble). One append-only table with an increasing id, so a reader keeps a cursor
// ("after") and never misses or repeats an event. Finding and contract events are appended by the
// store in the same transaction as the change itself; host presence by the server's monitor.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dozor/common/result.hpp"

namespace dozor::server {

struct FeedEvent {
  int64_t id = 0;
  int64_t at_ms = 0;
  // "finding_opened", "finding_resolved", ..., "contract_moved", "host_offline", "host_online",
  // "agent_trouble".
  std::string kind;
  std::optional<int64_t> org_id;
  std::string org_name;  // joined for reading
  std::string agent_id;  // empty when not about a host
  std::string hostname;  // joined for reading
  std::optional<int64_t> finding_id;
  std::string rule_id;   // joined for finding events
  std::string severity;  // joined for finding events
  std::string actor;     // who (a login, "system")
  std::string detail;    // a comment, "prospect -> remediation", ...
};

struct FeedFilter {
  int64_t after_id = 0;
  // Only these organisations (the caller's scope); nullopt = all.
  std::optional<std::vector<int64_t>> visible_org_ids;
  std::optional<int64_t> org_id;
  int limit = 200;
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  virtual Status AppendEvent(const FeedEvent& event) = 0;
  // Oldest first, id > after_id. Events of no organisation are shown to callers who see all.
  virtual Result<std::vector<FeedEvent>> ListEvents(const FeedFilter& filter) = 0;
  // The newest id (0 when empty): a new reader's starting cursor.
  virtual Result<int64_t> LatestEventId() = 0;
  // The last host_online/host_offline kind per agent id, for the presence monitor's restart.
  virtual Result<std::vector<std::pair<std::string, std::string>>> LastPresence() = 0;
  // Deletes events older than before_ms; the count.
  virtual Result<int64_t> PruneEvents(int64_t before_ms) = 0;
};

}  // namespace dozor::server
