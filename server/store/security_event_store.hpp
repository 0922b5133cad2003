// Security events: refusals of anonymous and agent callers (enrollments refused, wrong agent
// secrets, callers throttled), aggregated by the caller (ingest/security_audit.hpp) so a flood
// costs a few rows. The audit log of people's actions joins this area with user accounts.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
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

inline constexpr std::array kSecurityEventKinds = {
    SecurityEventKind::kEnrollRefused, SecurityEventKind::kAgentAuthFailed,
    SecurityEventKind::kThrottled,     SecurityEventKind::kApiAuthFailed,
    SecurityEventKind::kImportRefused,
};

// Stored spelling (the table's CHECK constraint lists the same words), also the API's.
[[nodiscard]] const char* SecurityEventKindName(SecurityEventKind kind);
// The kind a spelling names; nullopt for any other text.
[[nodiscard]] std::optional<SecurityEventKind> SecurityEventKindFromName(std::string_view name);

struct SecurityEvent {
  int64_t id = 0;
  int64_t at_ms = 0;  // the first refusal the row stands for
  SecurityEventKind kind = SecurityEventKind::kEnrollRefused;
  std::string source;   // peer address
  std::string subject;  // agent id or token hint the caller presented, escaped
  std::string detail;   // the reason given to the caller
  int64_t count = 1;    // refusals this row stands for
};

// Which rows ListSecurityEvents returns: newest recorded first (by id), one page at a time.
struct SecurityEventFilter {
  int64_t since_ms = 0;                  // rows whose first refusal is at or after this
  std::optional<int64_t> until_ms;       // ... and before this
  std::vector<SecurityEventKind> kinds;  // empty: every kind
  std::optional<int64_t> before_id;      // the page after this row
  size_t limit = 100;                    // clamped to 1..10,000
};

class SecurityEventStore {
 public:
  virtual ~SecurityEventStore() = default;

  // Appends the rows in one transaction (ids assigned by the store).
  virtual Status RecordSecurityEvents(const std::vector<SecurityEvent>& events) = 0;
  virtual Result<std::vector<SecurityEvent>> ListSecurityEvents(
      const SecurityEventFilter& filter) = 0;
  // Deletes rows older than before_ms; the number deleted.
  virtual Result<int64_t> PruneSecurityEvents(int64_t before_ms) = 0;
};

}  // namespace dozor::server
