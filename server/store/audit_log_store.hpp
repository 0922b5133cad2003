// The audit log: who changed what, when and from where, through the management API (and failed
// logins). Written by the API layer after every state-changing request; read by admins.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/access.hpp"
#include "dozor/common/result.hpp"

namespace dozor::server {

struct AuditEntry {
  int64_t id = 0;
  int64_t at_ms = 0;
  std::optional<int64_t> actor_user_id;
  std::string actor;
  Via via = Via::kApi;
  std::string source;
  std::string action;
  std::optional<int64_t> org_id;
  std::string object;
  int status = 0;
  std::string detail;
};

struct AuditFilter {
  std::optional<int64_t> since_ms;
  std::optional<int64_t> until_ms;  // exclusive
  std::optional<int64_t> actor_user_id;
  std::optional<std::string> actor;  // login or token name, exact
  std::optional<int64_t> org_id;
  std::optional<std::string> action_prefix;
  // Cursor: entries with id < before_id (the list is newest first).
  std::optional<int64_t> before_id;
  int limit = 100;
};

class AuditLogStore {
 public:
  virtual ~AuditLogStore() = default;

  virtual Status AppendAudit(const AuditEntry& entry) = 0;
  // Newest first.
  virtual Result<std::vector<AuditEntry>> ListAudit(const AuditFilter& filter) = 0;
  // Deletes entries older than before_ms (in small transactions); the count.
  virtual Result<int64_t> PruneAudit(int64_t before_ms) = 0;
};

}  // namespace dozor::server
