// The server's storage interface. The SQLite implementation (sqlite_store.*) is the default; a
// PostgreSQL one can follow behind the same interface.
//
// Thread-safety: every method may be called from any thread. Implementations serialise writes on
// one connection and serve reads from their own connection(s), so HTTP reads never wait behind an
// ingest batch for longer than SQLite's WAL allows.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
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
};

// Opens (creating if needed) the database, applies pending migrations. kDataLoss if the file is
// not a usable database; the error names the file.
Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options);

}  // namespace dozor::server
