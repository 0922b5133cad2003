// Security events: refusals of anonymous and agent callers (enrollments refused, wrong agent
// secrets, callers throttled), aggregated by the caller (ingest/security_audit.hpp) so a flood
// costs a few rows. The audit log of people's actions joins this area with user accounts.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dozor/common/result.hpp"

namespace dozor::server {

enum class SecurityEventKind {
  kEnrollRefused,
  kAgentAuthFailed,
  kThrottled,
  kApiAuthFailed,
  kImportRefused,
};

// Stored spelling (the table's CHECK constraint lists the same words).
[[nodiscard]] const char* SecurityEventKindName(SecurityEventKind kind);

struct SecurityEvent {
  int64_t id = 0;
  int64_t at_ms = 0;  // the first refusal the row stands for
  SecurityEventKind kind = SecurityEventKind::kEnrollRefused;
  std::string source;   // peer address
  std::string subject;  // agent id or token hint the caller presented, escaped
  std::string detail;   // the reason given to the caller
  int64_t count = 1;    // refusals this row stands for
};

class SecurityEventStore {
 public:
  virtual ~SecurityEventStore() = default;

  // Appends the rows in one transaction (ids assigned by the store).
  virtual Status RecordSecurityEvents(const std::vector<SecurityEvent>& events) = 0;
  // Newest first, at most `limit`, only rows at or after since_ms.
  virtual Result<std::vector<SecurityEvent>> ListSecurityEvents(int64_t since_ms, size_t limit) = 0;
  // Deletes rows older than before_ms; the number deleted.
  virtual Result<int64_t> PruneSecurityEvents(int64_t before_ms) = 0;
};

}  // namespace dozor::server
