// The PostgreSQL backend's hosts area (store/host_store.hpp): the ingest commit path and the
// queries over hosts, inventory, changes and health.
//
// Exactly-once across replicas: a batch locks the agents rows of its reports (FOR UPDATE, in key
// order so two batches never deadlock) before screening them, so a report of an agent whose
// stream moved to another replica mid-batch waits for that replica's commit and is then seen as
// a duplicate of what it stored. Nothing is cached between batches: another replica may have
// moved an agent's sequence number on.
#pragma once

#include <mutex>
#include <optional>

#include "store/host_store.hpp"
#include "store/postgres/pg_context.hpp"
#include "store/postgres/pg_health_blocks.hpp"
#include "store/postgres/pg_health_partitions.hpp"

namespace dozor::server {

class PgHostStore final : public HostStore {
 public:
  explicit PgHostStore(PgContext& context)
      : context_(context), partitions_(context.pool), blocks_(context.pool, partitions_) {}

  Result<std::vector<CommitResult>> CommitReports(std::vector<IncomingReport>& batch) override;
  void SetCommitObserver(CommitObserver observer) override;

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
  Result<EstateSummary> GetEstateSummary(int64_t org_id,
                                         const std::vector<std::string>& package_names) override;
  Result<std::vector<std::pair<int64_t, int64_t>>> ListLiveHostKeys() override;
  Result<int64_t> HostPk(std::string_view agent_id) override;
  Result<int64_t> PruneHealth(int64_t cutoff_ms) override;
  Result<int64_t> PruneInventoryChanges(int64_t cutoff_ms, int64_t max_rows_per_host) override;

  // Rule windows keep rule_window_s of history, the hourly trend rule_trend_s (as SQLite's
  // PruneRuleWindows). Returns the rows deleted.
  Result<int64_t> PruneRuleWindows(int64_t now_ms, int64_t window_ms, int64_t trend_ms);

  PgHealthPartitions& health_partitions() { return partitions_; }
  PgHealthBlocks& health_blocks() { return blocks_; }

  // Writes reports like CommitReports but inside the caller's transaction on `db` (imports go
  // through ingest's writer); `encoded` holds each health report's serialized sample. The health
  // partitions of the samples must exist (health_partitions().EnsureFor, before the transaction).
  Status WriteReportsIn(pg::Connection& db, std::vector<IncomingReport>& reports,
                        std::vector<std::string> encoded, std::vector<CommitResult>* results,
                        std::vector<CommittedHost>* committed);
  // Hands committed hosts to the observer; after COMMIT, outside any transaction.
  void NotifyCommitted(const std::vector<CommittedHost>& hosts);

 private:
  struct Batch;
  Status WriteBatch(pg::Connection& db, Batch& batch);
  Status CommitOneByOne(Batch& batch);
  // (org id, agents.id) of a public agent id; kNotFound. Per-host tables are keyed by both.
  Result<std::pair<int64_t, int64_t>> HostKeyOf(pg::Connection& db, std::string_view agent_id);

  PgContext& context_;
  PgHealthPartitions partitions_;
  PgHealthBlocks blocks_;  // after partitions_, which it uses
  std::mutex observer_mu_;
  CommitObserver observer_;
};

}  // namespace dozor::server
