// The store suites that run on every backend: each TEST_CASE_TEMPLATE runs once with SqliteBackend
// and once with PostgresBackend (CTest lists them as "…<sqlite>" and "…<postgresql>").
// A backend is a fresh, empty store: a SQLite file in a temporary directory, or a database of
// its own in the CTest run's PostgreSQL cluster (tests/postgres/test_cluster.py, whose conninfo
// file DOZOR_TEST_POSTGRES_CONNINFO_FILE names), dropped afterwards. Both stores date their rows
// with the backend's FakeClock.
//
// A test reaches the areas with the accessors both backends have (backend.store->Organizations(),
// ->Agents(), …), so one body checks both.
#pragma once

#include <doctest/doctest.h>

#include <unistd.h>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "store/postgres/pg_client.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::testing {

inline constexpr int64_t kBackendClockStartMs = 1'800'000'000'000;

struct SqliteBackend {
  static constexpr const char* kName = "sqlite";
  FakeClock clock{kBackendClockStartMs};
  TempDir dir;
  std::unique_ptr<server::SqliteStore> store;

  SqliteBackend() {
    server::SqliteStoreOptions options;
    options.path = (dir / "dozor.db").string();
    options.background_checkpoint = false;
    options.clock = &clock;
    auto opened = server::OpenSqliteStore(options);
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().ToString()));
    store = std::move(opened).value();
  }

  // The single integer a query returns (a count), read with a connection of the test's own.
  int64_t QueryInt(const std::string& sql) {
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    auto statement = db->Prepare(sql);
    REQUIRE_MESSAGE(statement.ok(), sql);
    auto row = statement->Step();
    REQUIRE(row.ok());
    REQUIRE(*row);
    return statement->Int(0);
  }
};

// The conninfo of the run's cluster ("host=… port=… user=… dbname=postgres"); fails the test when
// the cluster is missing (CTest starts it; see tests/postgres/test_cluster.py).
inline std::string TestClusterConninfo() {
  const char* file = std::getenv("DOZOR_TEST_POSTGRES_CONNINFO_FILE");
  REQUIRE_MESSAGE(file != nullptr,
                  "DOZOR_TEST_POSTGRES_CONNINFO_FILE is not set: run this suite through CTest, "
                  "which starts the PostgreSQL test cluster");
  std::ifstream in(file);
  std::string conninfo;
  std::getline(in, conninfo);
  REQUIRE_MESSAGE(!conninfo.empty(), (std::string("no PostgreSQL test cluster: ") + file +
                                      " is missing or empty (is postgresql-15 installed?)"));
  return conninfo;
}

// A database of the test's own in the cluster, dropped (with FORCE) on destruction.
class TestPostgresDatabase {
 public:
  TestPostgresDatabase() : admin_conninfo_(TestClusterConninfo()) {
    static std::atomic<int> counter{0};
    auto random = RandomHex(4);
    REQUIRE(random.ok());
    name_ =
        "dozor_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" + *random;
    auto admin = pg::Connection::Open(admin_conninfo_);
    REQUIRE_MESSAGE(admin.ok(), (admin.ok() ? "" : admin.error().ToString()));
    // A name of our own making (digits, hex and underscores): safe to splice into DDL, which
    // takes no parameters.
    auto created = admin->Exec("CREATE DATABASE " + name_ + " TEMPLATE template0");
    REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().ToString()));
    conninfo_ = admin_conninfo_ + " dbname=" + name_;
  }
  ~TestPostgresDatabase() {
    auto admin = pg::Connection::Open(admin_conninfo_);
    if (admin.ok()) {
      (void)admin->Exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    }
  }
  TestPostgresDatabase(const TestPostgresDatabase&) = delete;
  TestPostgresDatabase& operator=(const TestPostgresDatabase&) = delete;

  // The later dbname= wins over the cluster's dbname=postgres.
  [[nodiscard]] const std::string& conninfo() const { return conninfo_; }
  [[nodiscard]] const std::string& name() const { return name_; }

 private:
  std::string admin_conninfo_;
  std::string name_;
  std::string conninfo_;
};

struct PostgresBackend {
  static constexpr const char* kName = "postgresql";
  FakeClock clock{kBackendClockStartMs};
  TestPostgresDatabase database;
  std::unique_ptr<server::PostgresStore> store;

  PostgresBackend() {
    server::PostgresStoreOptions options;
    options.conninfo = database.conninfo();
    options.pool_size = 4;
    options.clock = &clock;
    auto opened = server::PostgresStore::Open(options);
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().ToString()));
    store = std::move(opened).value();
  }
  ~PostgresBackend() { store.reset(); }  // connections closed before the database is dropped

  int64_t QueryInt(const std::string& sql) {
    auto db = pg::Connection::Open(database.conninfo());
    REQUIRE(db.ok());
    auto rows = db->Query(sql);
    REQUIRE_MESSAGE(rows.ok(), (rows.ok() ? "" : rows.error().ToString()));
    REQUIRE(rows->size() == 1);
    return rows->Int(0, 0);
  }
};

// Requires a Result to be ok, printing its error otherwise; returns the value.
template <typename T>
T Ok(Result<T> result) {
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? "" : result.error().ToString()));
  return std::move(result).value();
}
inline void Ok(Status status) {
  REQUIRE_MESSAGE(status.ok(), (status.ok() ? "" : status.error().ToString()));
}

// A new organisation `org_name` (made when missing) with one agent enrolled into it by a token
// of its own; returns the agent id.
template <typename Store>
std::string EnrollHost(Store& store, const std::string& org_name, const std::string& agent_id) {
  auto org = store.Organizations().FindOrganization(org_name);
  int64_t org_id = 0;
  if (org.ok()) {
    org_id = org->id;
  } else {
    server::Organization created;
    created.name = org_name;
    org_id = Ok(store.Organizations().CreateOrganization(created)).id;
  }
  server::NewEnrollmentToken token;
  token.org_id = org_id;
  token.token_hash = "token-for-" + agent_id;
  Ok(store.Agents().CreateEnrollmentToken(token));
  server::NewAgent agent;
  agent.agent_id = agent_id;
  agent.secret_hash = "secret";
  agent.hostname = "host-" + agent_id;
  Ok(store.Agents().EnrollAgent(token.token_hash, agent, 1000));
  return agent_id;
}

// A health report of `agent_id`: one filesystem ("/", 40% used) and one interface with errors.
inline server::IncomingReport HealthReport(const std::string& agent_id, uint64_t seq, int64_t at_ms,
                                           double cpu = 12.5) {
  server::IncomingReport in;
  in.agent_id = agent_id;
  in.received_at_ms = at_ms + 100;
  in.report.set_seq(seq);
  in.report.set_collected_at_ms(at_ms);
  in.report.set_agent_version("1.4.0");
  auto* health = in.report.mutable_health();
  health->set_cpu_percent(cpu);
  health->set_load1(0.5);
  health->set_memory_total_bytes(8ULL << 30);
  health->set_memory_available_bytes(2ULL << 30);
  health->set_process_count(120);
  auto* fs = health->add_filesystems();
  fs->set_mount_point("/");
  fs->set_device("/dev/sda1");
  fs->set_fs_type("ext4");
  fs->set_total_bytes(100ULL << 30);
  fs->set_free_bytes(60ULL << 30);
  fs->set_available_bytes(60ULL << 30);
  auto* nic = health->add_networks();
  nic->set_interface("eth0");
  nic->set_rx_errors(seq);
  auto* collector = in.report.add_collectors();
  collector->set_name("health");
  collector->set_ok(true);
  return in;
}

// Commits a batch and returns its results (requiring the commit to succeed).
template <typename Store>
std::vector<server::CommitResult> Commit(Store& store, std::vector<server::IncomingReport> batch) {
  return Ok(store.Hosts().CommitReports(batch));
}

// A new organisation named `name` (its primary engineer linked from `engineer` when not empty).
template <typename Store>
int64_t MakeOrg(Store& store, const std::string& name, const std::string& engineer = "") {
  server::Organization org;
  org.name = name;
  org.engineer = engineer;
  return Ok(store.Organizations().CreateOrganization(org)).id;
}

}  // namespace dozor::testing

TYPE_TO_STRING_AS("sqlite", dozor::testing::SqliteBackend);
TYPE_TO_STRING_AS("postgresql", dozor::testing::PostgresBackend);
#define DOZOR_BACKENDS dozor::testing::SqliteBackend, dozor::testing::PostgresBackend
