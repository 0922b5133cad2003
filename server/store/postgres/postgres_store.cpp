#include "store/postgres/postgres_store.hpp"

#include <set>

#include <spdlog/spdlog.h>
#include <string>

#include "store/postgres/pg_agent_store.hpp"
#include "store/postgres/pg_locks.hpp"
#include "store/postgres/pg_organization_store.hpp"
#include "store/postgres/pg_user_store.hpp"
#include "store/postgres/postgres_migrations.hpp"

namespace dozor::server {
Status ApplyPostgresMigrations(pg::Connection& connection, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(connection.Exec("BEGIN"));
  auto apply = [&]() -> Status {
    // Replicas starting together: the second waits here and then finds nothing to do.
    DOZOR_RETURN_IF_ERROR(
        connection.Query("SELECT pg_advisory_xact_lock($1)", pg::Params(pg_locks::kMigrations)));
    DOZOR_RETURN_IF_ERROR(
        connection.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY "
                        "KEY, name text NOT NULL, applied_at bigint NOT NULL)"));
    DOZOR_ASSIGN_OR_RETURN(pg::Rows applied, connection.Query("SELECT version FROM "
                                                              "schema_migrations"));
    std::set<int64_t> versions;
    for (int row = 0; row < applied.size(); ++row) {
      versions.insert(applied.Int(row, 0));
    }
    const auto& migrations = PostgresMigrations();
    const int64_t known = migrations.empty() ? 0 : migrations.back().version;
    if (!versions.empty() && *versions.rbegin() > known) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "the PostgreSQL database's schema is at version " +
                           std::to_string(*versions.rbegin()) + ", newer than this server (" +
                           std::to_string(known) + "); run the newer dozor-server");
    }
    for (const Migration& migration : migrations) {
      if (versions.count(migration.version) != 0) {
        continue;
      }
      if (Status done = connection.Exec(migration.sql); !done.ok()) {
        return done.error().Wrap(std::string("PostgreSQL migration ") + migration.name);
      }
      DOZOR_RETURN_IF_ERROR(connection.Query(
          "INSERT INTO schema_migrations(version, name, applied_at) VALUES ($1, $2, $3)",
          pg::Params(migration.version, migration.name, now_ms)));
    }
    return OkStatus();
  };
  Status applied = apply();
  if (!applied.ok()) {
    (void)connection.Exec("ROLLBACK");
    return applied;
  }
  return connection.Exec("COMMIT");
}

Result<std::unique_ptr<PostgresStore>> PostgresStore::Open(const PostgresStoreOptions& options) {
  const Clock& clock = options.clock != nullptr ? *options.clock : SystemClock::Instance();
  DOZOR_RETURN_IF_ERROR(pg::CheckTransportSecurity(options.conninfo));
  if (options.maintenance_interval_s > 0 && options.pool_size < 2) {
    // The pass holds one connection for its lock and works on another.
    return MakeError(ErrorCode::kInvalidArgument,
                     "PostgreSQL pool size must be at least 2 with background maintenance");
  }
  pg::PoolOptions pool_options;
  pool_options.conninfo = options.conninfo;
  pool_options.size = options.pool_size;
  DOZOR_ASSIGN_OR_RETURN(auto pool, pg::Pool::Open(pool_options));
  {
    DOZOR_ASSIGN_OR_RETURN(auto lease, pool->Acquire());
    DOZOR_RETURN_IF_ERROR(ApplyPostgresMigrations(*lease, clock.NowMs()));
  }
  std::unique_ptr<PostgresStore> store(new PostgresStore());
  store->pool_ = std::move(pool);
  store->context_.reset(new PgContext{*store->pool_, clock});
  store->organizations_ = std::make_unique<PgOrganizationStore>(*store->context_);
  store->agents_ = std::make_unique<PgAgentStore>(*store->context_);
  store->hosts_ = std::make_unique<PgHostStore>(*store->context_);
  store->imports_ = std::make_unique<PgImportStore>(*store->context_, *store->hosts_);
  store->findings_ = std::make_unique<PgFindingStore>(*store->context_);
  // Today's and the next days' health partitions exist before the first sample arrives.
  DOZOR_RETURN_IF_ERROR(store->hosts_->health_partitions().EnsureWindow(clock.NowMs()));
  store->api_tokens_ = std::make_unique<PgApiTokenStore>(*store->context_);
  store->security_events_ = std::make_unique<PgSecurityEventStore>(*store->context_);
  store->audit_log_ = std::make_unique<PgAuditLogStore>(*store->context_);
  store->events_ = std::make_unique<PgEventStore>(*store->context_);
  if (options.maintenance_interval_s > 0) {
    store->maintenance_ = std::make_unique<PeriodicWorker>(
        std::chrono::seconds(options.maintenance_interval_s),
        [raw = store.get(), options] { (void)raw->RunMaintenance(options); });
    store->maintenance_->Start();
  }
  store->users_ = std::make_unique<PgUserStore>(*store->context_);
  store->alerts_ = std::make_unique<PgAlertStore>(*store->context_);
  return store;
}

PostgresStore::~PostgresStore() {
  closing_.store(true);
  if (maintenance_) {
    maintenance_->Stop();
  }
}

Result<int64_t> PostgresStore::RunMaintenance(const PostgresStoreOptions& options) {
  const int64_t now_ms = context_->clock.NowMs();
  // One replica per pass: the others find the lock taken and skip (the work is idempotent, this
  // only saves them doing it again). A session lock on a connection held for the pass: released
  // by the unlock below, or by the server when this process dies with the connection.
  DOZOR_ASSIGN_OR_RETURN(auto holder, pool_->Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows locked, holder->Query("SELECT pg_try_advisory_lock($1)",
                                                        pg::Params(pg_locks::kMaintenance)));
  if (!locked.Bool(0, 0)) {
    return 0;
  }
  struct Unlock {
    pg::Connection& db;
    ~Unlock() {
      (void)db.Query("SELECT pg_advisory_unlock($1)", pg::Params(pg_locks::kMaintenance));
    }
  } unlock{*holder};
  if (Status ahead = hosts_->health_partitions().EnsureWindow(now_ms); !ahead.ok()) {
    spdlog::warn("store: health partitions ahead: {}", ahead.error().ToString());
  }
  auto pruned =
      hosts_->PruneRuleWindows(now_ms, options.rule_window_s * 1000, options.rule_trend_s * 1000);
  if (!pruned.ok()) {
    spdlog::warn("store: rule window pruning: {}", pruned.error().ToString());
  }
  auto compacted = hosts_->health_blocks().Compact(
      now_ms - options.health_compact_after_s * 1000, &closing_,
      std::chrono::steady_clock::now() + std::chrono::seconds(options.health_compact_budget_s));
  if (!compacted.ok()) {
    spdlog::warn("store: health compaction: {}", compacted.error().ToString());
  } else {
    if (compacted->buckets > 0 || compacted->partitions_truncated > 0) {
      spdlog::info(
          "store: compacted {} health samples into {} blocks ({} agent-hours, {} -> {} bytes), "
          "{} emptied partitions truncated",
          compacted->samples, compacted->blocks_written, compacted->buckets, compacted->raw_bytes,
          compacted->block_bytes, compacted->partitions_truncated);
    }
    if (compacted->failed_buckets > 0) {
      spdlog::warn("store: health compaction skipped {} agent-hours; first: {}",
                   compacted->failed_buckets, compacted->first_failure);
    }
  }
  if (!pruned.ok()) {
    return pruned.error();
  }
  return *pruned;
}

}  // namespace dozor::server
