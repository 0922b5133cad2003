// Row <-> struct mapping for the store's management queries. Each k*Columns is a SELECT prefix
// (callers append WHERE / ORDER BY); the Read* function next to it maps one row of it. Keeping
// the two side by side is what keeps column numbers and SQL in step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/sqlite.hpp"
#include "dozor/v1/agent.pb.h"
#include "store/store.hpp"

namespace dozor::server {

// NULL -> nullopt.
std::optional<int64_t> OptionalInt(const sqlite::Statement& s, int column);

// The select lists and FROM clauses apart, so a keyset page can add its key columns between.
inline constexpr const char* kOrgSelect =
    "SELECT o.id, o.name, o.contract_status, o.contract_type, o.engineer, o.created_at, "
    "(SELECT count(*) FROM agents a WHERE a.org_id = o.id AND a.revoked_at IS NULL), "
    "o.declared_hosts";
inline constexpr const char* kOrgFrom = " FROM organizations o ";
inline constexpr int kOrgColumnCount = 8;
inline const std::string kOrgColumns = std::string(kOrgSelect) + kOrgFrom;
Organization ReadOrganization(const sqlite::Statement& s);

inline constexpr const char* kTokenColumns =
    "SELECT t.id, t.org_id, o.name, t.label, t.hint, t.created_at, t.expires_at, t.revoked_at, "
    "t.uses, t.max_uses, "
    "EXISTS (SELECT 1 FROM enrollment_token_import_keys k WHERE k.token_id = t.id) "
    "FROM enrollment_tokens t JOIN organizations o ON o.id = t.org_id ";
EnrollmentToken ReadEnrollmentToken(const sqlite::Statement& s);

inline constexpr const char* kApiTokenColumns =
    "SELECT id, name, role, hint, created_at, revoked_at, expires_at, user_id FROM api_tokens ";
ApiToken ReadApiToken(const sqlite::Statement& s);

// Column 0 is the agent pk; the rest map onto HostSummary (addresses are read separately).
inline constexpr const char* kHostSelect =
    "SELECT a.id, a.agent_id, a.org_id, o.name, "
    "coalesce(nullif(h.hostname, ''), a.hostname), coalesce(h.pretty_name, ''), "
    "coalesce(h.family, ''), a.agent_version, a.enrolled_at, a.last_seen, a.last_inventory_at, "
    "a.revoked_at IS NOT NULL, a.dropped_health_total, a.source, coalesce(h.role, ''), "
    "coalesce(h.duties, '')";
inline constexpr const char* kHostFrom =
    " FROM agents a JOIN organizations o ON o.id = a.org_id LEFT JOIN host_os h ON h.agent = a.id ";
inline constexpr int kHostColumnCount = 16;
inline const std::string kHostColumns = std::string(kHostSelect) + kHostFrom;
HostSummary ReadHost(const sqlite::Statement& s);

inline constexpr const char* kCredentialColumns =
    "SELECT agent_id, org_id, secret_hash, revoked_at IS NOT NULL, last_seq FROM agents ";
AgentCredential ReadAgentCredential(const sqlite::Statement& s);

inline constexpr const char* kChangeColumns =
    "SELECT id, at, category, action, subject, old_value, new_value FROM inventory_changes ";
// The rows carry no agent id (they are selected by agent pk); the caller supplies it.
InventoryChange ReadInventoryChange(const sqlite::Statement& s, std::string_view agent_id);

inline constexpr const char* kCollectorColumns =
    "SELECT name, ok, error, duration_ms FROM host_collectors ";
dozor::v1::CollectorStatus ReadCollectorStatus(const sqlite::Statement& s);

}  // namespace dozor::server
