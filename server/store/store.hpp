// The server's storage interface. The SQLite implementation (sqlite_store.*) is the default; a
// PostgreSQL one can follow behind the same interface.
//
// Thread-safety: every method may be called from any thread. Implementations serialise writes on
// one connection and serve reads from their own connection(s), so HTTP reads never wait behind an
// ingest batch for longer than SQLite's WAL allows.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::server {

// ------------------------------------------------------------------ organisations

// contract_status: prospect | remediation | active | ended
// contract_type:   technical | application | complex
struct Organization {
  int64_t id = 0;
  std::string name;
  std::string contract_status = "prospect";
  std::string contract_type = "complex";
  std::string engineer;  // assigned engineer (name or e-mail), may be empty
  int64_t created_at_ms = 0;
  int64_t host_count = 0;
};

struct OrganizationPatch {
  std::optional<std::string> contract_status;
  std::optional<std::string> contract_type;
  std::optional<std::string> engineer;
  std::string actor;  // who made the change (recorded in contract_events); "system" if empty
};

bool IsValidContractStatus(std::string_view value);
bool IsValidContractType(std::string_view value);

// ------------------------------------------------------------------ enrollment tokens

struct EnrollmentToken {
  int64_t id = 0;
  int64_t org_id = 0;
  std::string org_name;
  std::string label;
  std::string hint;  // first characters of the token, for recognising it in listings
  int64_t created_at_ms = 0;
  std::optional<int64_t> expires_at_ms;
  std::optional<int64_t> revoked_at_ms;
  int64_t uses = 0;
};

struct NewEnrollmentToken {
  int64_t org_id = 0;
  std::string token_hash;  // Sha256Hex of the plaintext token; the plaintext is never stored
  std::string hint;
  std::string label;
  std::optional<int64_t> expires_at_ms;
};

// ------------------------------------------------------------------ agents / hosts

struct NewAgent {
  std::string agent_id;     // public identifier, random
  std::string secret_hash;  // Sha256Hex of the agent secret
  std::string hostname;
  std::string machine_id;
  std::string agent_version;
  std::string os;
};

struct EnrolledAgent {
  std::string agent_id;
  int64_t org_id = 0;
  std::string org_name;
};

struct AgentCredential {
  std::string agent_id;
  int64_t org_id = 0;
  std::string secret_hash;
  bool revoked = false;
  uint64_t last_committed_seq = 0;
};

struct HostSummary {
  std::string agent_id;
  int64_t org_id = 0;
  std::string org_name;
  std::string hostname;
  std::string os_pretty_name;
  std::string os_family;
  std::vector<std::string> addresses;  // non-loopback IPs from the latest inventory
  std::string agent_version;
  int64_t enrolled_at_ms = 0;
  int64_t last_seen_ms = 0;       // last committed report (0 never)
  int64_t last_inventory_ms = 0;  // collected_at of the latest inventory (0 none)
  bool revoked = false;
  uint64_t dropped_health_samples = 0;  // total the agent reported dropping from its spool
  // "agent": a running dozor-agent; "import": a one-shot snapshot loaded with dozorctl import.
  std::string source = "agent";
};

struct HostInventory {
  HostSummary host;
  dozor::v1::Inventory inventory;
  std::vector<dozor::v1::CollectorStatus> collectors;  // from the latest inventory report
};

// category: hardware | os | network | package | application | service | user
// action:   added | removed | changed | upgraded | downgraded
struct InventoryChange {
  int64_t id = 0;
  std::string agent_id;
  int64_t at_ms = 0;  // collected_at of the snapshot that showed the change
  std::string category;
  std::string action;
  std::string subject;  // e.g. package name, "os.kernel", interface name
  std::string old_value;
  std::string new_value;
};

struct HealthRecord {
  uint64_t seq = 0;
  int64_t collected_at_ms = 0;
  dozor::v1::HealthSample sample;
};

// ------------------------------------------------------------------ ingest

// One report from an authenticated agent, already validated by ingest.
struct IncomingReport {
  std::string agent_id;
  int64_t received_at_ms = 0;
  dozor::v1::Report report;
};

enum class CommitOutcome { kStored, kDuplicate, kRejected };

struct CommitResult {
  uint64_t seq = 0;
  CommitOutcome outcome = CommitOutcome::kStored;
  std::string reason;  // for kRejected
};

// ------------------------------------------------------------------ API tokens

// role: admin (everything) | operator (everything but API-token management) | viewer (read only)
struct ApiToken {
  int64_t id = 0;
  std::string name;
  std::string role;
  std::string hint;
  int64_t created_at_ms = 0;
  std::optional<int64_t> revoked_at_ms;
  std::optional<int64_t> expires_at_ms;
};


// ------------------------------------------------------------------ findings (issue 3)

// One rule hit as the store sees it (the rules library converts its RuleHit into this, so the
// store does not depend on the rules library).
struct FindingHit {
  std::string rule_id;
  int64_t org_id = 0;
  std::optional<int64_t> host_pk;  // agents.id for a per-host rule; empty for estate-wide
  std::string evidence_json;       // JSON array of row objects (truncated beyond 64 KiB)
  bool sustain_only = false;       // matched only the sustain query: keeps, never opens
};

struct RuleMeta {
  std::string severity;
  std::string category;
};

// One evaluation to apply atomically. Every (rule in rule_ids) x (target in targets) pair is
// considered: targets are host pks when host_scope, org ids otherwise.
struct EvaluationInput {
  bool host_scope = true;
  std::vector<std::string> rule_ids;
  std::vector<int64_t> targets;
  std::vector<FindingHit> hits;
  std::unordered_map<std::string, RuleMeta> meta;  // by rule id; copied into the finding row
};

struct FindingsChange {
  int64_t opened = 0;
  int64_t regressed = 0;
  int64_t resolved = 0;
  int64_t updated = 0;
  int64_t waivers_expired = 0;
  std::vector<int64_t> opened_or_regressed_ids;
};

// state: open | acknowledged | resolved | regressed | waived
struct Finding {
  int64_t id = 0;
  std::string rule_id;
  int64_t org_id = 0;
  std::string org_name;
  std::string agent_id;  // empty for estate-wide
  std::string hostname;  // empty for estate-wide
  std::string target;    // 'host:<pk>' or 'org:<id>'
  std::string severity;
  std::string category;
  std::string state;
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;
  int64_t state_changed_ms = 0;
  std::optional<int64_t> resolved_at_ms;
  std::string evidence_json;
  std::string ack_by;
  std::string ack_comment;
  std::string waived_by;
  std::string waive_reason;
  std::optional<int64_t> waived_until_ms;
  int64_t regressions = 0;
};

// kind: opened | acknowledged | resolved | regressed | waived | waive_expired | unwaived | comment
struct FindingEvent {
  int64_t id = 0;
  int64_t finding_id = 0;
  int64_t at_ms = 0;
  std::string actor;
  std::string kind;
  std::string from_state;
  std::string to_state;
  std::string comment;
};

struct FindingFilter {
  std::optional<int64_t> org_id;
  std::optional<std::string> agent_id;
  std::vector<std::string> states;      // empty = all
  std::vector<std::string> severities;  // empty = all
  std::optional<std::string> rule_id;
  int limit = 1000;
};

// Longest comment / reason accepted on a finding (bytes).
inline constexpr size_t kMaxFindingCommentBytes = 4000;
// Largest evidence JSON kept per finding (bytes); longer arrays are truncated with a note.
inline constexpr size_t kMaxEvidenceBytes = 64 * 1024;

// ------------------------------------------------------------------ contract lifecycle

struct ContractEvent {
  int64_t at_ms = 0;
  std::string actor;
  std::string from_status;
  std::string to_status;
};

struct SnapshotFinding {
  std::string rule_id;
  std::string target;
  std::string agent_id;
  std::string hostname;
  std::string severity;
  std::string state;
};

// kind: first-audit | signing
struct AuditSnapshot {
  int64_t id = 0;
  int64_t org_id = 0;
  std::string kind;
  int64_t at_ms = 0;
  std::string actor;
  std::vector<SnapshotFinding> findings;
};

// True if the contract_status move from -> to is allowed (same status is a no-op, not a move).
bool IsAllowedContractMove(std::string_view from, std::string_view to);

// ------------------------------------------------------------------ estate summary

struct EstateHost {
  std::string agent_id;
  std::string hostname;
  std::string os_pretty_name;
  std::string os_family;
  std::string os_id;
  std::string os_version_id;
  std::string role;
  std::string cpu_model;
  int64_t cpu_cores = 0;
  int64_t memory_bytes = 0;
  std::string system_vendor;
  std::string system_model;
  std::string bios_date;
  bool virtual_machine = false;
  int64_t disk_bytes = 0;
  int64_t last_seen_ms = 0;
  int64_t last_inventory_ms = 0;
  std::string agent_version;
  std::vector<std::string> addresses;
  int64_t package_count = 0;
};

struct ApplicationCount {
  std::string name;
  std::string version;
  std::string kind;
  int64_t hosts = 0;
};

struct EstateSummary {
  std::vector<EstateHost> hosts;
  std::vector<ApplicationCount> applications;
  // (package name, number of live hosts with it installed) for the names asked.
  std::vector<std::pair<std::string, int64_t>> package_hosts;
};

// ------------------------------------------------------------------ imports (issue 4)

// An enrollment token's stored hash, the key that authenticates an import file made with it.
struct EnrollmentTokenKey {
  int64_t id = 0;
  std::string token_hash;  // Sha256Hex of the plaintext token
  std::optional<int64_t> expires_at_ms;
};

// One verified snapshot file (dozor-agent collect) to load into an organisation. The caller has
// checked the file's integrity and HMAC and validated both reports like ingest does.
struct SnapshotImport {
  int64_t org_id = 0;
  std::string sha256;  // hex SHA-256 over the file's payload bytes: the duplicate key
  std::string hostname;
  std::string machine_id;  // required: the imported host is keyed by (org, machine_id)
  std::string agent_version;
  std::optional<int64_t> token_id;  // the enrollment token whose key matched the file
  std::string actor;
  int64_t now_ms = 0;
  dozor::v1::Report inventory;              // has_inventory(); its seq is replaced
  std::optional<dozor::v1::Report> health;  // has_health(); its seq is replaced
};

// outcome: created (new host) | updated (newer inventory stored) | stale (recorded only: the
// host already holds an inventory at least as new, which is not rolled back)
struct ImportRecord {
  int64_t id = 0;
  int64_t org_id = 0;
  std::string sha256;
  std::string agent_id;  // the imported host
  std::string hostname;
  std::string machine_id;
  std::string agent_version;
  int64_t collected_at_ms = 0;  // of the inventory
  int64_t imported_at_ms = 0;
  std::string actor;
  std::string outcome;
};

struct ImportResult {
  ImportRecord record;
  bool duplicate = false;  // seen before: `record` is that earlier import, nothing changed
};

// The deterministic agent id of an imported host: "snap-" + the first 16 hex characters of
// Sha256Hex("<org_id>:<machine_id>"), so re-imports of one machine land on one host.
std::string ImportedAgentId(int64_t org_id, std::string_view machine_id);

// ------------------------------------------------------------------ commit observer

// One agent touched by a committed CommitReports batch.
struct CommittedHost {
  int64_t host_pk = 0;
  int64_t org_id = 0;
  bool inventory = false;  // an inventory report was stored
  bool health = false;     // a health report was stored
};

using CommitObserver = std::function<void(const std::vector<CommittedHost>&)>;

class Store {
 public:
  virtual ~Store() = default;

  // Organisations. Names are unique (case-sensitive, trimmed by the caller).
  virtual Result<Organization> CreateOrganization(const Organization& org) = 0;
  virtual Result<std::vector<Organization>> ListOrganizations() = 0;
  // Looks up by numeric id (if `key` is all digits) or by exact name.
  virtual Result<Organization> FindOrganization(std::string_view key) = 0;
  virtual Result<Organization> UpdateOrganization(int64_t id, const OrganizationPatch& patch) = 0;

  // Enrollment tokens.
  virtual Result<EnrollmentToken> CreateEnrollmentToken(const NewEnrollmentToken& token) = 0;
  virtual Result<std::vector<EnrollmentToken>> ListEnrollmentTokens(std::optional<int64_t> org_id) = 0;
  virtual Status RevokeEnrollmentToken(int64_t token_id, int64_t now_ms) = 0;

  // Atomically checks the token (exists, not revoked, not expired at now_ms), counts its use and
  // creates the agent. kPermissionDenied (with a reason) for a bad token.
  virtual Result<EnrolledAgent> EnrollAgent(std::string_view token_hash, const NewAgent& agent,
                                            int64_t now_ms) = 0;
  virtual Result<AgentCredential> GetAgentCredential(std::string_view agent_id) = 0;
  virtual Status RevokeAgent(std::string_view agent_id, int64_t now_ms) = 0;

  // Commits a batch of reports in one transaction, then returns one result per report in input
  // order. A report whose seq is at or below the agent's last committed seq is kDuplicate and not
  // stored. Inventory reports replace the host's current inventory and append to its change log.
  // On error nothing of the batch is committed and no report may be acked.
  virtual Result<std::vector<CommitResult>> CommitReports(std::vector<IncomingReport>& batch) = 0;

  // Queries for the management API.
  virtual Result<std::vector<HostSummary>> ListHosts(std::optional<int64_t> org_id) = 0;
  virtual Result<HostSummary> GetHost(std::string_view agent_id) = 0;
  virtual Result<HostInventory> GetInventory(std::string_view agent_id) = 0;
  virtual Result<std::vector<InventoryChange>> ListChanges(std::string_view agent_id, int64_t since_ms,
                                                           int limit) = 0;
  // Newest first.
  virtual Result<std::vector<HealthRecord>> ListHealth(std::string_view agent_id, int64_t since_ms,
                                                       int limit) = 0;

  // API tokens (management API authentication).
  virtual Result<ApiToken> CreateApiToken(std::string_view name, std::string_view role,
                                          std::string_view token_hash, std::string_view hint,
                                          std::optional<int64_t> expires_at_ms) = 0;
  // kPermissionDenied if unknown, revoked or expired.
  virtual Result<ApiToken> AuthenticateApiToken(std::string_view token_hash, int64_t now_ms) = 0;
  virtual Result<std::vector<ApiToken>> ListApiTokens() = 0;
  virtual Status RevokeApiToken(int64_t id, int64_t now_ms) = 0;
  virtual Result<int64_t> CountApiTokens() = 0;

  // Deletes health samples collected before `cutoff_ms`; returns how many.
  virtual Result<int64_t> PruneHealth(int64_t cutoff_ms) = 0;

  // ---------------------------------------------------------------- findings (issue 3)

  // Applies one evaluation atomically (one transaction). For every (rule, target) pair:
  //  hit & no finding -> create 'open' (event opened)
  //  hit & finding resolved -> 'regressed' (regressions++, event regressed)
  //  (hit or sustain_only hit) & finding active -> stays, last_seen=now, evidence updated
  //  sustain_only & no active finding -> nothing
  //  no hit & finding active (open/acknowledged/regressed/waived) -> 'resolved' (actor system)
  // Also expires waivers (waived_until <= now -> open, event waive_expired).
  virtual Result<FindingsChange> ApplyEvaluation(const EvaluationInput& input, int64_t now_ms) = 0;
  // Waived findings whose waived_until <= now_ms go back to open; returns how many.
  virtual Result<int64_t> ExpireWaivers(int64_t now_ms) = 0;
  // Active findings of rules not in `live_rule_ids` become resolved; returns how many.
  virtual Result<int64_t> ResolveFindingsOfRemovedRules(
      const std::vector<std::string>& live_rule_ids, int64_t now_ms) = 0;

  // Severity order (critical first), then first_seen.
  virtual Result<std::vector<Finding>> ListFindings(const FindingFilter& filter) = 0;
  virtual Result<Finding> GetFinding(int64_t id) = 0;  // kNotFound
  // Oldest first.
  virtual Result<std::vector<FindingEvent>> ListFindingEvents(int64_t finding_id) = 0;
  // Lifecycle by people. kFailedPrecondition for a transition not allowed from the current
  // state, kInvalidArgument for a missing reason or a comment over kMaxFindingCommentBytes.
  // From open|regressed.
  virtual Result<Finding> AcknowledgeFinding(int64_t id, std::string_view actor,
                                             std::string_view comment, int64_t now_ms) = 0;
  // From open|acknowledged|regressed; reason required; until_ms empty = indefinitely.
  virtual Result<Finding> WaiveFinding(int64_t id, std::string_view actor, std::string_view reason,
                                       std::optional<int64_t> until_ms, int64_t now_ms) = 0;
  // waived -> open.
  virtual Result<Finding> UnwaiveFinding(int64_t id, std::string_view actor,
                                         std::string_view comment, int64_t now_ms) = 0;
  // Any state; comment required.
  virtual Result<Finding> CommentFinding(int64_t id, std::string_view actor,
                                         std::string_view comment, int64_t now_ms) = 0;

  // ---------------------------------------------------------------- contract lifecycle / audit

  // Oldest first.
  virtual Result<std::vector<ContractEvent>> ListContractEvents(int64_t org_id) = 0;
  // Freezes the org's active findings (open/acknowledged/regressed/waived).
  virtual Result<AuditSnapshot> RecordAuditSnapshot(int64_t org_id, std::string_view kind,
                                                    std::string_view actor, int64_t now_ms) = 0;
  // Latest snapshot of that kind, or nullopt.
  virtual Result<std::optional<AuditSnapshot>> GetAuditSnapshot(int64_t org_id,
                                                                std::string_view kind) = 0;

  // Estate summary for the report (live, non-revoked hosts of the org).
  virtual Result<EstateSummary> GetEstateSummary(int64_t org_id,
                                                 const std::vector<std::string>& package_names) = 0;
  // Live (non-revoked) hosts: (host pk, org id).
  virtual Result<std::vector<std::pair<int64_t, int64_t>>> ListLiveHostKeys() = 0;
  // agents.id for a public agent id; kNotFound.
  virtual Result<int64_t> HostPk(std::string_view agent_id) = 0;

  // ---------------------------------------------------------------- imports (issue 4)
  // The default implementations answer kFailedPrecondition (a store without import support).

  // Non-revoked enrollment tokens of the organisation whose hint equals `hint` (expired ones
  // included: a file collected before expiry may be imported later).
  virtual Result<std::vector<EnrollmentTokenKey>> FindEnrollmentTokensByHint(int64_t org_id,
                                                                             std::string_view hint);
  // In one transaction: records the import (kept unique by sha256; a file seen before returns
  // that import with duplicate = true and changes nothing), finds or creates the imported host
  // (agents.source = 'import', a secret that can never authenticate) and, unless the host
  // already holds an inventory at least as new, commits the reports like CommitReports with the
  // next sequence numbers (change log, rule windows and the commit observer included).
  // kAlreadyExists if the file was imported into another organisation, kFailedPrecondition if
  // the imported host was revoked, kInvalidArgument for a malformed import.
  virtual Result<ImportResult> ImportSnapshot(const SnapshotImport& import);
  // Newest first.
  virtual Result<std::vector<ImportRecord>> ListImports(int64_t org_id, int limit);

  // Called after each committed CommitReports batch that stored at least one report, on the
  // committing thread and outside the store's locks; must be cheap (enqueue only). Set it before
  // ingest starts; an empty function removes it.
  virtual void SetCommitObserver(CommitObserver observer) = 0;
};

struct SqliteStoreOptions {
  std::string path;  // database file
  // Run WAL checkpoints on a background thread instead of inside COMMIT (keeps ack p99 low).
  bool background_checkpoint = true;
  // Health samples whose hour bucket ended at least this long ago are moved from one row per
  // sample into per-agent hourly blocks compressed together (about 7x smaller on disk).
  int64_t health_compact_after_s = 3600;
  // How often the background thread (the checkpoint thread, so only with background_checkpoint)
  // runs that compaction; 0 = never in the background (SqliteStore::CompactHealth still works).
  int64_t health_compact_interval_s = 300;
  // Rule windows (rule_health_host/fs/nic) keep this much history; rule_fs_trend keeps
  // rule_trend_s. Pruned in the background compaction pass (SqliteStore::PruneRuleWindows).
  int64_t rule_window_s = 3600;
  int64_t rule_trend_s = 172800;
};

// Opens (creating if needed) the database, applies pending migrations. kDataLoss if the file is
// not a usable database; the error names the file.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options);

}  // namespace dozor::server
