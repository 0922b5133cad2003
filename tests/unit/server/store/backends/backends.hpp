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
