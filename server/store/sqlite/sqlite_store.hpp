// The SQLite backend: every store area (store/*_store.hpp) over one database file. One writer
// connection (all writes, serialised by a mutex), a small pool of reader connections (each query
// leases one) so management reads never queue behind an ingest batch nor a cheap read behind an
// estate-wide one, and optionally a checkpoint connection on a background thread that
// checkpoints the WAL about once a second so COMMIT never pays for a checkpoint.
//
// Health samples live in two tiers: ingest appends one row per sample to health_samples (plain
// protobuf, no per-row compression, cheap on the hot path); CompactHealth later moves samples of
// finished hour buckets into health_blocks, one row per agent and hour with all samples of that
// hour compressed together. The checkpoint thread runs CompactHealth every
// SqliteStoreOptions::health_compact_interval_s. ListHealth, VisitHealth and PruneHealth see
// both tiers.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "domain/inventory_diff.hpp"
#include "dozor/common/clock.hpp"
#include "dozor/common/sqlite.hpp"
#include "store/health_block_codec.hpp"
#include "store/host_row_parts.hpp"
#include "store/store.hpp"

namespace dozor::server {

class SqliteStore;

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
  // Reader connections (1..64; 0 = max(4, hardware threads), about the HTTP handler threads).
  // Each management read leases one for its duration; WAL lets them all read while the writer
  // commits.
  int reader_connections = 0;
  // Stamps the rows the store dates itself (created_at, contract events, applied migrations) and
  // drives the background pruning; null = the system clock. Must outlive the store.
  const Clock* clock = nullptr;
};

// Opens (creating if needed) the database, applies pending migrations. kDataLoss if the file is
// not a usable database; the error names the file.
Result<std::unique_ptr<SqliteStore>> OpenSqliteStore(const SqliteStoreOptions& options);

// Implements every area itself (they share the connections); each accessor returns *this.
class SqliteStore final : public Store,
                          public OrganizationStore,
                          public AgentStore,
                          public HostStore,
                          public FindingStore,
                          public ImportStore,
                          public ApiTokenStore,
                          public SecurityEventStore,
                          public UserStore,
                          public AuditLogStore,
                          public EventStore,
                          public AlertStore {
 public:
  // Opens (creating if needed) the database at options.path and applies pending migrations in one
  // transaction. kDataLoss if the file is not a database, kFailedPrecondition if its schema is
  // newer than this binary knows; both name the file.
  static Result<std::unique_ptr<SqliteStore>> Open(const SqliteStoreOptions& options);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  OrganizationStore& Organizations() override { return *this; }
  AgentStore& Agents() override { return *this; }
  HostStore& Hosts() override { return *this; }
  FindingStore& Findings() override { return *this; }
  ImportStore& Imports() override { return *this; }
  ApiTokenStore& ApiTokens() override { return *this; }
  SecurityEventStore& SecurityEvents() override { return *this; }
  UserStore& Users() override { return *this; }
  AuditLogStore& AuditLog() override { return *this; }
  EventStore& Events() override { return *this; }
  AlertStore& Alerts() override { return *this; }

  Result<Organization> CreateOrganization(const Organization& org) override;
  Result<std::vector<Organization>> ListOrganizations() override;
  Result<Page<Organization>> QueryOrganizations(const OrgQuery& query) override;
  Result<Organization> FindOrganization(std::string_view key) override;
  Result<Organization> UpdateOrganization(int64_t id, const OrganizationPatch& patch) override;

  Result<EnrollmentToken> CreateEnrollmentToken(const NewEnrollmentToken& token) override;
  Result<std::vector<EnrollmentToken>> ListEnrollmentTokens(std::optional<int64_t> org_id) override;
  Result<EnrollmentToken> GetEnrollmentToken(int64_t token_id) override;
  Status RevokeEnrollmentToken(int64_t token_id, int64_t now_ms) override;

  Result<EnrolledAgent> EnrollAgent(std::string_view token_hash, const NewAgent& agent,
                                    int64_t now_ms) override;
  Result<AgentCredential> GetAgentCredential(std::string_view agent_id) override;
  Status RevokeAgent(std::string_view agent_id, int64_t now_ms) override;

  Result<std::vector<CommitResult>> CommitReports(std::vector<IncomingReport>& batch) override;
  std::shared_ptr<const PreparedReport> PrepareReport(const IncomingReport& report) override;

  Result<std::vector<HostSummary>> ListHosts(std::optional<int64_t> org_id) override;
  Result<Page<HostSummary>> QueryHosts(const HostQuery& query) override;
  Result<HostSearchResult> SearchHosts(const HostSearchQuery& query) override;
  Result<HostSummary> GetHost(std::string_view agent_id) override;
  Result<HostInventory> GetInventory(std::string_view agent_id) override;
  Result<std::vector<InventoryChange>> ListChanges(std::string_view agent_id, int64_t since_ms,
                                                   int limit) override;
  Result<std::vector<HealthRecord>> ListHealth(std::string_view agent_id, int64_t since_ms,
                                               int limit) override;
  Status VisitHealth(std::string_view agent_id, int64_t from_ms, int64_t to_ms,
                     const HealthSampleVisitor& visit) override;
  Result<std::vector<HostLifetime>> ListHostLifetimes(int64_t org_id) override;

  Result<ApiToken> CreateApiToken(std::string_view name, ApiRole role, std::string_view token_hash,
                                  std::string_view hint, std::optional<int64_t> expires_at_ms,
                                  std::optional<int64_t> user_id = std::nullopt) override;
  Result<ApiToken> AuthenticateApiToken(std::string_view token_hash, int64_t now_ms) override;
  Result<std::vector<ApiToken>> ListApiTokens() override;
  Result<ApiToken> GetApiToken(int64_t id) override;
  Status RevokeApiToken(int64_t id, int64_t now_ms) override;
  Result<int64_t> CountApiTokens() override;

  Result<int64_t> PruneHealth(int64_t cutoff_ms) override;
  Result<int64_t> PruneInventoryChanges(int64_t cutoff_ms, int64_t max_rows_per_host) override;

  Status RecordSecurityEvents(const std::vector<SecurityEvent>& events) override;
  Result<std::vector<SecurityEvent>> ListSecurityEvents(const SecurityEventFilter& filter) override;
  Result<int64_t> PruneSecurityEvents(int64_t before_ms) override;

  Result<User> CreateUser(const NewUser& user, int64_t now_ms) override;
  Result<User> GetUser(int64_t id) override;
  Result<User> FindUserByLogin(std::string_view login) override;
  Result<std::vector<User>> ListUsers() override;
  Result<User> UpdateUser(int64_t id, const UserPatch& patch, int64_t now_ms) override;
  Result<std::pair<User, std::string>> PasswordOf(std::string_view login) override;
  Result<int64_t> SetPasswordHash(int64_t user_id, std::string_view password_hash, int64_t now_ms,
                                  std::optional<int64_t> keep_session_id,
                                  bool revoke_api_tokens) override;
  Result<Assignment> AssignEngineer(int64_t org_id, int64_t user_id, AssignmentKind kind,
                                    std::string_view specialty, int64_t now_ms) override;
  Status UnassignEngineer(int64_t org_id, int64_t user_id) override;
  Result<std::vector<Assignment>> ListAssignments(std::optional<int64_t> org_id) override;
  Result<std::vector<int64_t>> AssignedOrgIds(int64_t user_id) override;
  Result<NoteVersion> SaveOrgNote(int64_t org_id, std::string_view body,
                                  std::optional<int64_t> author_user_id, std::string_view author,
                                  int64_t now_ms) override;
  Result<std::vector<NoteVersion>> ListOrgNotes(int64_t org_id, int limit) override;
  Result<Session> CreateSession(const NewSession& session) override;
  Result<std::pair<Session, User>> AuthenticateSession(std::string_view session_hash,
                                                       int64_t now_ms, int64_t idle_ms) override;
  Status DeleteSession(int64_t session_id) override;
  Result<std::vector<Session>> ListUserSessions(int64_t user_id, int64_t now_ms,
                                                int64_t idle_ms) override;
  Status EndUserSession(int64_t user_id, int64_t session_id) override;
  Result<int64_t> PruneSessions(int64_t now_ms, int64_t idle_ms) override;

  Status AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(const AuditFilter& filter) override;
  Result<int64_t> PruneAudit(int64_t before_ms) override;

  Result<std::optional<int64_t>> AlertCursor() override;
  Status RecordAlerts(const std::vector<NewAlert>& alerts, const std::vector<AlertAck>& acks,
                      int64_t cursor, int64_t now_ms) override;
  Result<std::vector<Alert>> DueEscalations(int64_t now_ms, int limit) override;
  Result<bool> EscalateAlert(int64_t alert_id, int stage,
                             std::optional<int64_t> next_escalate_at_ms,
                             const std::vector<NewDelivery>& deliveries, int64_t now_ms) override;
  Result<std::vector<Delivery>> DueDeliveries(AlertChannel channel, int64_t now_ms,
                                              int limit) override;
  Status MarkDelivered(int64_t delivery_id, int64_t now_ms) override;
  Status MarkAllDelivered(const std::vector<int64_t>& delivery_ids, int64_t now_ms) override;
  Result<std::vector<Delivery>> GroupCompanions(const Delivery& leader, int64_t now_ms,
                                                int64_t window_ms, int limit) override;
  Status MarkAttemptFailed(int64_t delivery_id, std::string_view error,
                           std::optional<int64_t> retry_at_ms, int64_t now_ms) override;
  Result<Alert> GetAlert(int64_t alert_id) override;
  Result<Alert> FindAlertByEvent(int64_t event_id, std::string_view kind) override;
  Result<std::vector<Alert>> ListAlerts(const AlertFilter& filter) override;
  Result<Alert> AcknowledgeAlert(int64_t alert_id, std::string_view actor, int64_t now_ms) override;
  Result<std::vector<ChannelBacklog>> AlertBacklog() override;
  Result<int64_t> PruneAlerts(int64_t before_ms) override;
  Result<OrgAlertSettings> GetOrgAlertSettings(int64_t org_id) override;
  Result<OrgAlertSettings> PutOrgAlertSettings(const OrgAlertSettings& settings,
                                               std::string_view actor, int64_t now_ms) override;
  Result<std::vector<MaintenanceWindow>> ListMaintenanceWindows(
      std::optional<int64_t> org_id) override;
  Result<MaintenanceWindow> AddMaintenanceWindow(const MaintenanceWindow& window,
                                                 int64_t now_ms) override;
  Status DeleteMaintenanceWindow(int64_t org_id, int64_t window_id) override;
  Result<int64_t> PruneMaintenanceWindows(int64_t before_ms) override;
  Result<int> CountFindingAlerts(int64_t finding_id, int64_t since_ms) override;
  Result<bool> FindingAnnounced(int64_t finding_id, int64_t now_ms) override;
  Result<int> CountSentTo(int64_t user_id, AlertChannel channel, int64_t since_ms) override;
  Status HoldDelivery(int64_t delivery_id, std::string_view reason, int64_t until_ms) override;
  Result<bool> RecordNotice(const NewAlert& alert, const MonthlyReportRecord* monthly,
                            int64_t now_ms) override;
  Result<std::optional<MonthlyReportRecord>> GetMonthlyReport(int64_t org_id,
                                                              std::string_view month) override;

  Status AppendEvent(const FeedEvent& event) override;
  Result<std::vector<FeedEvent>> ListEvents(const FeedFilter& filter) override;
  Result<int64_t> LatestEventId() override;
  Result<std::vector<std::pair<std::string, std::string>>> LastPresence() override;
  Result<int64_t> PruneEvents(int64_t before_ms) override;

  Result<FindingsChange> ApplyEvaluation(const EvaluationInput& input, int64_t now_ms) override;
  Result<int64_t> ExpireWaivers(int64_t now_ms) override;
  Result<int64_t> ResolveFindingsOfRemovedRules(const std::vector<std::string>& live_rule_ids,
                                                int64_t now_ms) override;
  Result<std::vector<Finding>> ListFindings(const FindingFilter& filter) override;
  Result<Page<Finding>> QueryFindings(const FindingQuery& query) override;
  Result<Finding> GetFinding(int64_t id) override;
  Result<std::vector<FindingEvent>> ListFindingEvents(int64_t finding_id) override;
  Result<Finding> AcknowledgeFinding(int64_t id, std::string_view actor, std::string_view comment,
                                     int64_t now_ms) override;
  Result<Finding> WaiveFinding(int64_t id, std::string_view actor, std::string_view reason,
                               std::optional<int64_t> until_ms, int64_t now_ms) override;
  Result<Finding> UnwaiveFinding(int64_t id, std::string_view actor, std::string_view comment,
                                 int64_t now_ms) override;
  Result<Finding> CommentFinding(int64_t id, std::string_view actor, std::string_view comment,
                                 int64_t now_ms) override;

  Result<Finding> RequestVerification(int64_t id, std::string_view actor, std::string_view comment,
                                      int64_t now_ms) override;
  Result<std::vector<FindingTimeline>> ListFindingTimelines(int64_t org_id) override;
  Result<std::vector<ActiveFindingCount>> CountActiveFindings(
      const std::optional<std::vector<int64_t>>& org_ids) override;
  Result<Finding> AcceptWaiver(int64_t id, std::string_view actor, std::string_view comment,
                               int64_t now_ms) override;
  Result<std::vector<ContractEvent>> ListContractEvents(int64_t org_id) override;
  Result<AuditSnapshot> RecordAuditSnapshot(int64_t org_id, AuditSnapshotKind kind,
                                            std::string_view actor, int64_t now_ms) override;
  Result<std::optional<AuditSnapshot>> GetAuditSnapshot(int64_t org_id,
                                                        AuditSnapshotKind kind) override;
  Result<EstateSummary> GetEstateSummary(int64_t org_id,
                                         const std::vector<std::string>& package_names) override;
  Result<std::vector<std::pair<int64_t, int64_t>>> ListLiveHostKeys() override;
  Result<int64_t> HostPk(std::string_view agent_id) override;
  Result<std::vector<EnrollmentTokenKey>> FindEnrollmentTokensByHint(
      int64_t org_id, std::string_view hint) override;
  Status SaveTokenImportKey(int64_t token_id, std::string_view wrapped_key,
                            int64_t now_ms) override;
  Result<std::vector<StoredImportKey>> ListImportKeys() override;
  Status ReplaceImportKeys(const std::vector<ImportKeyReplacement>& replacements) override;
  Result<ImportResult> ImportSnapshot(const SnapshotImport& import) override;
  Result<std::vector<ImportRecord>> ListImports(int64_t org_id, int limit) override;
  void SetCommitObserver(CommitObserver observer) override;

  // Not part of Store: deletes rule-window rows (rule_health_host/fs/nic) older than
  // now_ms - rule_window_s and rule_fs_trend rows older than now_ms - rule_trend_s. Returns the
  // number of rows deleted. Run by the background compaction pass with the wall clock.
  Result<int64_t> PruneRuleWindows(int64_t now_ms);

  // Not part of Store: runs one WAL checkpoint now (PASSIVE, or TRUNCATE when `truncate`) on the
  // checkpoint connection. For tests, benchmarks and shutdown paths.
  Status CheckpointNow(bool truncate);

  // Not part of Store: moves raw health samples of every hour bucket that ends at or before
  // `older_than_ms` into health_blocks. One transaction per agent-hour on the writer connection
  // (deleting the raw rows and writing the block commit together, so a crash loses or doubles
  // nothing); ingest batches interleave between them. Samples arriving late for an hour that
  // was already compacted are merged into its block on the next run. Returns early (with what
  // it did) when the store is closing.
  Result<CompactionStats> CompactHealth(int64_t older_than_ms);

  // Highest schema version this binary knows (the last embedded migration).
  static int LatestSchemaVersion();

  struct WriterStatements;
  struct ReaderStatements;
  struct ReaderSlot;
  struct FindingStatements;

 private:
  struct CachedAgent {
    int64_t pk = 0;
    uint64_t last_seq = 0;
    bool revoked = false;
    int64_t org_id = 0;
  };

  SqliteStore() = default;

  // Open() in steps: writer (with migrations) and reader connections and their statements;
  // then, when enabled, the checkpoint connection and its thread.
  Status OpenConnections();
  Status StartCheckpointer();
  // Hosts stored before migration 016 have no duties (NULL): read them from each host's stored
  // inventory, once, when the store opens.
  Status ClassifyHostsWithoutDuties();

  Result<CachedAgent*> LookupAgentLocked(const std::string& agent_id);

  // An inventory's work that needs no writer: the stored inventory it replaces (read on a reader
  // connection), the change log against it, which row parts changed, the new compressed blob.
  // For a 45,000-package host that is most of the commit's time; the writer then only checks
  // that the stored inventory is still the one compared with, and writes.
  struct StoredInventory {
    std::string blob;
    int64_t rows_schema = 0;  // the schema version the host's rows were last written under
    bool operator==(const StoredInventory&) const = default;
  };
  struct PreparedInventory : PreparedReport {
    std::optional<StoredInventory> base;   // what was compared with; nullopt: none stored
    std::vector<InventoryChange> changes;  // capped
    HostRowParts changed_parts = kAllHostRowParts;
    std::string blob;  // EncodeCompressed(inventory); empty if it could not be encoded
  };
  // What CommitReports computes for a batch before it takes write_mu_.
  struct BatchPrework {
    std::vector<std::string> encoded;  // the health samples, serialised
    std::vector<bool> unencodable;
    // Empty, or one per report (null: prepared by the writer itself).
    std::vector<std::shared_ptr<const PreparedInventory>> inventories;
  };
  static std::shared_ptr<PreparedInventory> PrepareInventory(
      const std::optional<StoredInventory>& stored, const dozor::v1::Inventory& inventory,
      int64_t at, const std::string& agent_id);
  // PrepareInventory against the stored inventory as a reader sees it; null when the agent
  // is unknown or the read fails (the writer then prepares it itself, and reports any error).
  std::shared_ptr<const PreparedInventory> PrepareInventoryOnReader(const IncomingReport& item);
  BatchPrework PrepareBatch(const std::vector<IncomingReport>& batch);

  // After a batch failed on a report fault: each report in its own transaction; those the
  // database refuses get kRejected with the reason, the others are stored.
  Status CommitOneByOneLocked(std::vector<IncomingReport>& batch, BatchPrework& prework,
                              std::vector<CommitResult>& results,
                              std::vector<CommittedHost>& committed);
  Status CommitLocked(std::vector<IncomingReport>& batch, const BatchPrework& prework,
                      std::vector<CommitResult>& results,
                      std::unordered_map<std::string, CachedAgent>& saved,
                      std::vector<CommittedHost>& committed);
  // CommitLocked's body without the transaction: the caller holds write_mu_ and an open
  // transaction (ImportSnapshot writes its own rows in the same one).
  Status WriteBatchLocked(std::vector<IncomingReport>& batch, const BatchPrework& prework,
                          std::vector<CommitResult>& results,
                          std::unordered_map<std::string, CachedAgent>& saved,
                          std::vector<CommittedHost>& committed);
  Status ApplyInventoryLocked(int64_t pk, const std::string& agent_id,
                              const dozor::v1::Report& report, const PreparedInventory* prepared);
  Result<HostSummary> ReadHostOn(ReaderSlot& reader, std::string_view agent_id, int64_t* pk);
  // One reader connection with its prepared statements (sqlite_store_internal.hpp), leased by
  // one query at a time.
  struct ReaderSlotDeleter {
    void operator()(ReaderSlot* slot) const;  // defined where the type is complete
  };
  class ReaderLease {
   public:
    ReaderLease(SqliteStore& store, ReaderSlot* slot) : store_(&store), slot_(slot) {}
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    ~ReaderLease() { store_->ReleaseReader(slot_); }
    ReaderSlot* operator->() const { return slot_; }
    ReaderSlot& operator*() const { return *slot_; }

   private:
    SqliteStore* store_;
    ReaderSlot* slot_;
  };
  // Waits for a free reader connection (never long: queries are short and the pool is about
  // the size of the handler pool).
  ReaderLease AcquireReader();
  void ReleaseReader(ReaderSlot* slot);
  Result<std::unique_ptr<ReaderSlot, ReaderSlotDeleter>> OpenReader();
  Result<int64_t> AgentPkOn(ReaderSlot& reader, std::string_view agent_id);
  Result<std::vector<int64_t>> AgentPks();
  struct BucketSnapshot;
  using EncodedBlock = EncodedHealthBlock;
  // Compacts the oldest pending hour bucket of one agent; false when it has none left.
  // Compacts the agent's oldest raw bucket in [from_ms, limit_ms); false when there is none.
  // *bucket is set to that bucket's start as soon as it is known (so a caller can skip it).
  Result<bool> CompactNextBucket(int64_t pk, int64_t from_ms, int64_t limit_ms,
                                 CompactionStats* stats, std::optional<int64_t>* bucket);
  Result<bool> ReadBucketLocked(int64_t pk, int64_t from_ms, int64_t limit_ms,
                                BucketSnapshot* snap);
  static Result<std::vector<EncodedBlock>> BuildBlocks(int64_t pk, const BucketSnapshot& snap);
  Result<bool> ReplaceBucketLocked(int64_t pk, const BucketSnapshot& snap,
                                   const std::vector<EncodedBlock>& blocks);
  Result<int64_t> PruneBlocks(const std::vector<int64_t>& agents, int64_t cutoff_ms);
  void CheckpointLoop();
  void CompactAndLog();
  // Findings helpers (sqlite_store_findings.cpp); callers hold write_mu_.
  Status PrepareFindingStatements();
  Result<int64_t> ExpireWaiversLocked(int64_t now_ms);
  // Writes the mutations the domain planned (finding_lifecycle.hpp) and their events; fills
  // change->opened_or_regressed_ids with the ids of opened findings as they are inserted.
  Status ApplyFindingMutationsLocked(const std::vector<FindingMutation>& mutations,
                                     const std::vector<std::string>& evidence, int64_t now_ms,
                                     FindingsChange* change);
  Result<Finding> ReadFindingLocked(int64_t id);
  // Decides the pending "please verify" requests among the findings this evaluation covered
  // whose host has been collected since the request (sqlite_store_findings.cpp).
  Status ConcludeVerificationsLocked(const EvaluationInput& input, int64_t now_ms);
  Status AddFindingEventLocked(int64_t finding_id, int64_t at_ms, std::string_view actor,
                               FindingEventKind kind, std::optional<FindingState> from_state,
                               FindingState to_state, std::string_view comment);
  Result<AuditSnapshot> RecordSnapshotLocked(int64_t org_id, AuditSnapshotKind kind,
                                             std::string_view actor, int64_t now_ms);
  Result<Finding> ApplyPeopleAction(int64_t id, const PeopleRequest& request);
  void NotifyCommitted(const std::vector<CommittedHost>& hosts);
  Status ContractMoveLocked(int64_t org_id, const OrganizationPatch& patch, int64_t now_ms);
  // People helpers (sqlite_store_users.cpp); callers hold write_mu_ (and a transaction).
  // Rewrites organizations.engineer (the primary engineers' display names) of one organisation,
  // or of every organisation a user is assigned to, or of all.
  Status RefreshOrgEngineerNamesLocked(std::optional<int64_t> org_id,
                                       std::optional<int64_t> user_id);
  Status AssignEngineerLocked(int64_t org_id, int64_t user_id, AssignmentKind kind,
                              std::string_view specialty, int64_t now_ms);
  // The old free-text engineer field on create/update: makes `name` (an engineer's login or
  // display name; a new password-less engineer account when nobody matches) the organisation's
  // only primary engineer; empty removes the primary engineers.
  Status LinkLegacyEngineerLocked(int64_t org_id, std::string_view name, int64_t now_ms);

  std::string path_;
  const Clock* clock_ = &SystemClock::Instance();
  bool background_checkpoint_ = true;
  int64_t compact_after_ms_ = 3600 * 1000;
  int64_t compact_interval_ms_ = 300 * 1000;
  int64_t rule_window_ms_ = 3600 * 1000;
  int64_t rule_trend_ms_ = 172800 * 1000;
  std::atomic<bool> closing_{false};

  std::mutex write_mu_;
  sqlite::Database writer_;
  std::unique_ptr<WriterStatements> ws_;
  std::unordered_map<std::string, CachedAgent> agent_cache_;  // guarded by write_mu_

  // What DueDeliveries / DueEscalations handed out and nobody settled yet: id -> claimed until
  // (alert_store.hpp, kAlertClaimMs). In memory: one process owns a SQLite file, and a restart
  // ends every pass that held a claim.
  std::mutex alert_claims_mu_;
  std::unordered_map<int64_t, int64_t> claimed_deliveries_;   // guarded by alert_claims_mu_
  std::unordered_map<int64_t, int64_t> claimed_escalations_;  // guarded by alert_claims_mu_
  void ReleaseDeliveryClaims(const std::vector<int64_t>& delivery_ids);

  int reader_count_ = 4;
  std::mutex readers_mu_;  // guards free_readers_
  std::condition_variable reader_freed_;
  std::vector<std::unique_ptr<ReaderSlot, ReaderSlotDeleter>> readers_;  // fixed after Open
  std::vector<ReaderSlot*> free_readers_;
  // Findings / contract statements of the writer connection (write_mu_).
  struct FindingStatementsDeleter {
    void operator()(FindingStatements* statements) const;  // defined where the type is complete
  };
  std::unique_ptr<FindingStatements, FindingStatementsDeleter> fs_;

  std::mutex observer_mu_;  // guards observer_ (never held while calling into the store)
  CommitObserver observer_;

  std::mutex checkpoint_mu_;  // guards checkpointer_ and stop_
  std::condition_variable checkpoint_cv_;
  bool stop_ = false;
  std::mutex checkpoint_run_mu_;  // one checkpoint at a time on checkpointer_
  sqlite::Database checkpointer_;
  sqlite::Statement checkpoint_passive_;
  sqlite::Statement checkpoint_truncate_;
  std::thread checkpoint_thread_;
};

}  // namespace dozor::server
