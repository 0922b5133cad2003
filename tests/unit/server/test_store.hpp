// Server unit tests: a real SQLite store (default options) in a test's temporary directory.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dozor/common/sqlite.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::testing {

inline std::unique_ptr<server::SqliteStore> OpenTestStore(const TempDir& dir) {
  server::SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  auto store = server::OpenSqliteStore(options);
  REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().ToString()));
  return std::move(store).value();
}

// A new organisation `org_name` with one agent enrolled into it (agent id `agent_id`, shown as
// `hostname`); returns the agent id.
inline std::string EnrollTestHost(server::SqliteStore& store, const std::string& org_name,
                                  const std::string& agent_id, const std::string& hostname) {
  server::Organization org;
  org.name = org_name;
  auto created = store.CreateOrganization(org);
  REQUIRE(created.ok());
  server::NewEnrollmentToken token;
  token.org_id = created->id;
  token.token_hash = "hash-" + org_name;
  token.hint = "tok";
  REQUIRE(store.CreateEnrollmentToken(token).ok());
  server::NewAgent agent;
  agent.agent_id = agent_id;
  agent.secret_hash = "secret";
  agent.hostname = hostname;
  auto enrolled = store.EnrollAgent(token.token_hash, agent, 1000);
  REQUIRE_MESSAGE(enrolled.ok(), (enrolled.ok() ? "" : enrolled.error().ToString()));
  return agent.agent_id;
}

// Report number `seq` of an agent carrying this inventory, received and collected at a fixed
// time plus seq milliseconds.
inline server::IncomingReport InventoryReport(const std::string& agent_id, uint64_t seq,
                                              const dozor::v1::Inventory& inv) {
  server::IncomingReport in;
  in.agent_id = agent_id;
  in.received_at_ms = 1796212800000 + static_cast<int64_t>(seq);
  in.report.set_seq(seq);
  in.report.set_collected_at_ms(in.received_at_ms);
  *in.report.mutable_inventory() = inv;
  return in;
}

// Commits one report and requires it stored.
inline void CommitOne(server::SqliteStore& store, server::IncomingReport report) {
  std::vector<server::IncomingReport> batch;
  batch.push_back(std::move(report));
  auto results = store.CommitReports(batch);
  REQUIRE_MESSAGE(results.ok(), (results.ok() ? "" : results.error().ToString()));
  REQUIRE((*results)[0].outcome == server::CommitOutcome::kStored);
}

// Every row of a one-column query (the columns joined in SQL), in the query's order.
inline std::vector<std::string> QueryRows(sqlite::Database& db, const std::string& sql) {
  auto statement = db.Prepare(sql);
  REQUIRE_MESSAGE(statement.ok(), sql);
  std::vector<std::string> rows;
  while (true) {
    auto row = statement->Step();
    REQUIRE(row.ok());
    if (!*row) {
      return rows;
    }
    rows.push_back(statement->Text(0));
  }
}

}  // namespace dozor::testing
