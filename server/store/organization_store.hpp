// Organisations (clients) and their contracts: phase moves, the contract event log and the
// audit snapshots (first audit, signing baseline) that reports compare against.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/contract.hpp"
#include "domain/finding.hpp"
#include "dozor/common/result.hpp"
#include "store/list_page.hpp"

namespace dozor::server {

struct Organization {
  int64_t id = 0;
  std::string name;
  ContractPhase contract_status = ContractPhase::kProspect;
  ContractType contract_type = ContractType::kComplex;
  // The primary engineers' display names, kept by the store from the assignments
  // (user_store.hpp). On create: an engineer's login or display name to assign as primary (a new
  // password-less engineer account when nobody matches), or empty.
  std::string engineer;
  int64_t created_at_ms = 0;
  int64_t host_count = 0;
  // How many machines the client says it has (the report's coverage); nullopt: not recorded.
  std::optional<int64_t> declared_hosts;
};

inline constexpr int64_t kMaxDeclaredHosts = 1'000'000;

struct OrganizationPatch {
  std::optional<ContractPhase> contract_status;
  std::optional<ContractType> contract_type;
  // Replaces the primary engineers with this one (login or display name); empty removes them.
  std::optional<std::string> engineer;
  // Set (a count) or clear (nullopt inside) the declared machine count; outer nullopt: unchanged.
  std::optional<std::optional<int64_t>> declared_hosts;
  std::string actor;  // who made the change (recorded in contract_events); "system" if empty
};

enum class OrgSort { kName, kCreated };

// A page of organisations for the list route; every filter is optional.
struct OrgQuery {
  // Substring of the name (case-insensitive for ASCII letters).
  std::optional<std::string> name_contains;
  std::optional<ContractPhase> contract_status;
  std::optional<ContractType> contract_type;
  // Only these organisations (the caller's scope); nullopt = every organisation.
  std::optional<std::vector<int64_t>> visible_org_ids;
  OrgSort sort = OrgSort::kName;
  SortDirection direction = SortDirection::kAscending;
  PageRequest page;
};

struct SnapshotFinding {
  std::string rule_id;
  std::string target;
  std::string agent_id;
  std::string hostname;
  Severity severity = Severity::kInfo;
  FindingState state = FindingState::kOpen;
  std::string object;  // "" for a finding about the whole target
};

struct AuditSnapshot {
  int64_t id = 0;
  int64_t org_id = 0;
  AuditSnapshotKind kind = AuditSnapshotKind::kFirstAudit;
  int64_t at_ms = 0;
  std::string actor;
  std::vector<SnapshotFinding> findings;
};

class OrganizationStore {
 public:
  virtual ~OrganizationStore() = default;

  // Organisations. Names are unique (case-sensitive, trimmed by the caller).
  virtual Result<Organization> CreateOrganization(const Organization& org) = 0;
  virtual Result<std::vector<Organization>> ListOrganizations() = 0;
  // One keyset page in the query's order (name: (name, id); created: (created_at, id)).
  virtual Result<Page<Organization>> QueryOrganizations(const OrgQuery& query) = 0;
  // Looks up by numeric id (if `key` is all digits) or by exact name.
  virtual Result<Organization> FindOrganization(std::string_view key) = 0;
  // Changes the contract phase (PlanContractMove decides; the move and the audit snapshot it
  // calls for are recorded in the same transaction), type or engineer. kFailedPrecondition for a
  // phase move that is not allowed.
  virtual Result<Organization> UpdateOrganization(int64_t id, const OrganizationPatch& patch) = 0;

  // Oldest first.
  virtual Result<std::vector<ContractEvent>> ListContractEvents(int64_t org_id) = 0;
  // Freezes the org's active findings (open/acknowledged/regressed/waived).
  virtual Result<AuditSnapshot> RecordAuditSnapshot(int64_t org_id, AuditSnapshotKind kind,
                                                    std::string_view actor, int64_t now_ms) = 0;
  // Latest snapshot of that kind, or nullopt.
  virtual Result<std::optional<AuditSnapshot>> GetAuditSnapshot(int64_t org_id,
                                                                AuditSnapshotKind kind) = 0;
};

}  // namespace dozor::server
