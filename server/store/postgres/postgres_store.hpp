// The PostgreSQL backend: the store areas (store/*_store.hpp) over one PostgreSQL database, for
// estates that outgrow one machine and for several dozor-server replicas on one database.
//
// Each area is its own class (pg_<area>_store.hpp) over the shared PgContext: a connection pool
// and the clock. Writes run in short READ COMMITTED transactions (pg::InTransaction) and take
// the row locks they need, so replicas and threads write concurrently; a schema change or any
// work that must happen once takes a PostgreSQL advisory lock (pg_locks.hpp names them).
//
// `dozor-server --store postgresql://…` opens it (docs/architecture.md, "PostgreSQL backend").
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "dozor/common/clock.hpp"
#include "dozor/common/periodic_worker.hpp"
#include "dozor/common/result.hpp"
#include "store/postgres/pg_agent_store.hpp"
#include "store/postgres/pg_alert_store.hpp"
#include "store/postgres/pg_api_token_store.hpp"
#include "store/postgres/pg_audit_log_store.hpp"
#include "store/postgres/pg_client.hpp"
#include "store/postgres/pg_context.hpp"
#include "store/postgres/pg_event_store.hpp"
#include "store/postgres/pg_finding_store.hpp"
#include "store/postgres/pg_host_store.hpp"
#include "store/postgres/pg_import_store.hpp"
#include "store/postgres/pg_organization_store.hpp"
#include "store/postgres/pg_security_event_store.hpp"
#include "store/postgres/pg_user_store.hpp"
#include "store/store.hpp"

namespace dozor::server {

struct PostgresStoreOptions {
  // libpq connection string or URI: "host=db port=5432 dbname=dozor user=dozor" or
  // "postgresql://dozor@db/dozor?sslmode=verify-full".
  std::string conninfo;
  // Connections at most, shared by ingest and the management API (each request and each commit
  // batch leases one for its duration).
  int pool_size = 8;
  // Stamps the rows the store dates itself (created_at, contract events, applied migrations);
  // null = the system clock. Must outlive the store.
  const Clock* clock = nullptr;
  // Rule windows keep this much history, the hourly filesystem trend rule_trend_s (as SQLite's).
  int64_t rule_window_s = 3600;
  int64_t rule_trend_s = 172800;
  // How often a background pass creates the coming days' health partitions and prunes the rule
  // windows (RunMaintenance); 0 = never in the background.
  int64_t maintenance_interval_s = 300;
  // Health samples of a day whose end is this long past are compacted into hourly blocks by the
  // maintenance pass (pg_health_blocks.hpp), at most health_compact_budget_s of it per pass.
  int64_t health_compact_after_s = 3600;
  int64_t health_compact_budget_s = 60;
};

class PostgresStore final : public Store {
 public:
  // Connects, then applies the migrations the database lacks in one transaction under an
  // advisory lock (replicas starting together apply them once). kFailedPrecondition if the
  // database's schema is newer than this binary knows; connection errors as pg::Connection.
  static Result<std::unique_ptr<PostgresStore>> Open(const PostgresStoreOptions& options);

  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  PgOrganizationStore& Organizations() override { return *organizations_; }
  PgAgentStore& Agents() override { return *agents_; }
  PgHostStore& Hosts() override { return *hosts_; }
  PgImportStore& Imports() override { return *imports_; }
  PgApiTokenStore& ApiTokens() override { return *api_tokens_; }
  PgSecurityEventStore& SecurityEvents() override { return *security_events_; }
  PgAuditLogStore& AuditLog() override { return *audit_log_; }
  PgEventStore& Events() override { return *events_; }
  PgUserStore& Users() override { return *users_; }
  PgFindingStore& Findings() override { return *findings_; }
  PgAlertStore& Alerts() override { return *alerts_; }

  pg::Pool& pool() { return *pool_; }

  // One maintenance pass (the background worker runs it every maintenance_interval_s): health
  // partitions for the coming days, rule windows pruned. Returns the window rows deleted; 0 when
  // another replica holds the pass.
  Result<int64_t> RunMaintenance(const PostgresStoreOptions& options);

 private:
  PostgresStore() = default;

  std::unique_ptr<pg::Pool> pool_;
  std::unique_ptr<PeriodicWorker> maintenance_;
  std::atomic<bool> closing_{false};  // a long compaction pass stops between agents
  std::unique_ptr<PgContext> context_;
  std::unique_ptr<PgOrganizationStore> organizations_;
  std::unique_ptr<PgAgentStore> agents_;
  std::unique_ptr<PgHostStore> hosts_;
  std::unique_ptr<PgImportStore> imports_;
  std::unique_ptr<PgApiTokenStore> api_tokens_;
  std::unique_ptr<PgSecurityEventStore> security_events_;
  std::unique_ptr<PgAuditLogStore> audit_log_;
  std::unique_ptr<PgEventStore> events_;
  std::unique_ptr<PgUserStore> users_;
  std::unique_ptr<PgFindingStore> findings_;
  std::unique_ptr<PgAlertStore> alerts_;
};

// Applies the migrations `connection`'s database lacks (exposed for the migration tests).
Status ApplyPostgresMigrations(pg::Connection& connection, int64_t now_ms);

}  // namespace dozor::server
