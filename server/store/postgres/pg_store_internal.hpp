// What the PostgreSQL areas share: row mappers of the tables several areas read, the people
// bookkeeping that organisations and users both do (primary engineers), audit snapshots that
// contract moves record, and small validation helpers. Internal to store/postgres.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"
#include "store/organization_store.hpp"
#include "store/postgres/pg_client.hpp"

namespace dozor::server::pg_store_internal {

inline constexpr size_t kMaxNameLength = 200;
inline constexpr int kMaxPageLimit = 1000;

inline bool IsAllDigits(std::string_view text) {
  if (text.empty() || text.size() > 18) {
    return false;
  }
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

inline std::string ActorOr(std::string_view actor, std::string_view fallback) {
  return std::string(actor.empty() ? fallback : actor);
}

// A unique violation becomes "<what> already exists"; other results pass through.
template <typename T>
Result<T> NameConflict(Result<T> result, const std::string& what) {
  if (!result.ok() && result.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists, what + " already exists");
  }
  return result;
}

// The select list of an organisation (ReadOrganization maps it), before FROM.
inline constexpr const char* kOrgSelect =
    "SELECT o.id, o.name, o.contract_status, o.contract_type, o.engineer, o.created_at, "
    "(SELECT count(*) FROM agents a WHERE a.org_id = o.id AND a.revoked_at IS NULL), "
    "o.declared_hosts";
inline constexpr int kOrgColumnCount = 8;
Organization ReadOrganization(const pg::Rows& rows, int row);

// organizations.engineer is kept as the primary engineers' display names for the reports and
// the rule facts that read it; the assignments are the truth. Refreshes one organisation's, or
// those of every organisation a user is assigned to.
Status RefreshOrgEngineerNames(pg::Connection& db, std::optional<int64_t> org_id,
                               std::optional<int64_t> user_id);
// Assigns (or re-kinds) an engineer; kNotFound for a missing org or user, kInvalidArgument for a
// client account.
Status AssignEngineer(pg::Connection& db, int64_t org_id, int64_t user_id, std::string_view kind,
                      std::string_view specialty, int64_t now_ms);
// The old free-text engineer field: replaces the org's primary engineers with the account whose
// login (or, when exactly one bears it, display name) is `name`, creating a password-less
// engineer account when none matches; empty removes them.
Status LinkLegacyEngineer(pg::Connection& db, int64_t org_id, std::string_view name,
                          int64_t now_ms);

// Freezes the org's active findings into a new snapshot; returns its id.
Result<int64_t> RecordSnapshot(pg::Connection& db, int64_t org_id, AuditSnapshotKind kind,
                               std::string_view actor, int64_t now_ms);

}  // namespace dozor::server::pg_store_internal
