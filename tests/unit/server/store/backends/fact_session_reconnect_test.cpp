// A PostgreSQL rule session outlives a lost connection (a database restart, a failover): between
// evaluations it connects again with its views and statements; in the middle of a snapshot the
// evaluation fails instead of reading two states.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "backends.hpp"
#include "store/postgres/pg_fact_source.hpp"

namespace dozor::server {
namespace {

using dozor::testing::EnrollHost;
using dozor::testing::Ok;

void CutRuleConnections(const std::string& conninfo) {
  auto admin = Ok(pg::Connection::Open(conninfo));
  Ok(
      admin.Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name "
                  "= 'dozor-rules' AND datname = current_database()"));
}

int64_t CountHosts(FactSession& session, FactStatement& statement) {
  int64_t count = -1;
  Ok(session.Run(statement, std::chrono::milliseconds(5000), [&](const FactRow& row) {
    count = row.Int(0);
    return true;
  }));
  return count;
}

TEST_CASE("rule sessions on PostgreSQL reconnect between evaluations, not within one") {
  testing::PostgresBackend backend;
  EnrollHost(*backend.store, "Acme", "a1");
  EnrollHost(*backend.store, "Acme", "a2");
  auto facts = MakePostgresFactSource(backend.database.conninfo());
  auto session = Ok(facts->OpenSession(FactSessionKind::kEstate));
  auto statement = Ok(session->PrepareRule("SELECT count(*) AS n FROM hosts"));
  Ok(session->BeginSnapshot());
  CHECK(CountHosts(*session, *statement) == 2);
  Ok(session->EndSnapshot());

  // Between evaluations: the next one connects again and runs the same prepared rule.
  CutRuleConnections(backend.database.conninfo());
  Ok(session->BeginSnapshot());
  CHECK(CountHosts(*session, *statement) == 2);
  Ok(session->EndSnapshot());
  CHECK(Ok(session->LiveHosts()).size() == 2);

  // Within one: that evaluation fails (kUnavailable), the next one works again.
  Ok(session->BeginSnapshot());
  CutRuleConnections(backend.database.conninfo());
  auto lost = session->Run(*statement, std::chrono::milliseconds(5000),
                           [](const FactRow&) { return true; });
  REQUIRE_FALSE(lost.ok());
  CHECK(lost.error().code == ErrorCode::kUnavailable);
  CHECK_FALSE(session->EndSnapshot().ok());
  EnrollHost(*backend.store, "Acme", "a3");
  Ok(session->BeginSnapshot());
  CHECK(CountHosts(*session, *statement) == 3);
  Ok(session->EndSnapshot());

  // A scoped session gets its scope table back with its connection.
  auto scoped = Ok(facts->OpenSession(FactSessionKind::kScoped));
  auto scoped_count = Ok(scoped->PrepareRule("SELECT count(*) AS n FROM hosts"));
  CutRuleConnections(backend.database.conninfo());
  Ok(scoped->ScopeToHosts({Ok(backend.store->Hosts().HostPk("a1"))}));
  Ok(scoped->BeginSnapshot());
  CHECK(CountHosts(*scoped, *scoped_count) == 1);
  Ok(scoped->EndSnapshot());
}

}  // namespace
}  // namespace dozor::server
