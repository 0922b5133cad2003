// Records refusals (security_event_store.hpp) without letting a flood of them become a flood of
// writes or log lines: refusals are aggregated in memory by (kind, source) and written every few
// seconds as one row each, with the count. The first refusal of a (kind, source) since the last
// flush is logged at once; the rest are summed into one line at the flush. A caller that logs
// each refusal itself (bounded its own way) records with Logging::kByCaller: the audit then
// stores and counts it without a line of its own, so no refusal is logged twice.
//
// Memory is bounded: beyond `max_pending` distinct (kind, source) pairs between two flushes,
// further ones are summed into one row per kind with source "*".
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "dozor/common/clock.hpp"
#include "dozor/common/periodic_worker.hpp"
#include "store/security_event_store.hpp"

namespace dozor::server {

struct SecurityAuditOptions {
  int64_t flush_every_ms = 5'000;
  size_t max_pending = 10'000;
};

class SecurityAudit {
 public:
  SecurityAudit(SecurityEventStore& store, const Clock& clock, SecurityAuditOptions options = {});
  ~SecurityAudit();
  SecurityAudit(const SecurityAudit&) = delete;
  SecurityAudit& operator=(const SecurityAudit&) = delete;

  // Starts the flushing thread; Stop (or the destructor) joins it and flushes what is pending.
  void Start() { flusher_.Start(); }
  void Stop();

  enum class Logging { kFirstOfKind, kByCaller };

  // Any thread. Texts are the caller's words and are escaped before logging or storing.
  void Record(SecurityEventKind kind, std::string_view source, std::string_view subject,
              std::string_view detail, Logging logging = Logging::kFirstOfKind);

  // Writes what is pending now (the flushing thread calls it; tests call it directly).
  Status Flush();

 private:
  SecurityEventStore& store_;
  const Clock& clock_;
  SecurityAuditOptions options_;
  std::mutex mutex_;  // guards pending_
  struct Pending {
    SecurityEvent event;
    Logging logging = Logging::kFirstOfKind;
  };
  std::map<std::pair<SecurityEventKind, std::string>, Pending> pending_;
  PeriodicWorker flusher_;  // last: stopped before the members its task uses are destroyed
};

// The address part of a gRPC peer ("ipv4:10.0.0.5:53124" -> "ipv4:10.0.0.5", "ipv6:[::1]:80" ->
// "ipv6:[::1]"): the key throttling and auditing use, since the port changes on every connection.
[[nodiscard]] std::string PeerAddress(std::string_view peer);

}  // namespace dozor::server
