// Jobs that run on one replica at a time (store/job_coordinator.hpp) over PostgreSQL advisory
// locks: one holder per job, the job moves on when its holder goes, and a holder that lost its
// connection stops claiming it.
#include <doctest/doctest.h>

#include <memory>

#include "backends.hpp"
#include "store/postgres/pg_job_coordinator.hpp"

namespace dozor::server {
namespace {

using dozor::testing::Ok;
using dozor::testing::TestPostgresDatabase;

TEST_CASE("replicas: each job has one holder, and moves on when the holder goes") {
  TestPostgresDatabase database;
  auto first = std::make_unique<PgJobCoordinator>(database.conninfo());
  PgJobCoordinator second(database.conninfo());
  CHECK(first->Holds(SingletonJob::kEstateEvaluation));
  CHECK(first->Holds(SingletonJob::kEstateEvaluation));  // still, on every ask
  CHECK_FALSE(second.Holds(SingletonJob::kEstateEvaluation));
  // Jobs are independent: the second replica may hold another one.
  CHECK(second.Holds(SingletonJob::kRetention));
  CHECK_FALSE(first->Holds(SingletonJob::kRetention));
  CHECK(first->Holds(SingletonJob::kAlertPlanning));

  first.reset();  // the holder's process ends: its connection, and with it its locks, go
  CHECK(second.Holds(SingletonJob::kEstateEvaluation));
  CHECK(second.Holds(SingletonJob::kAlertPlanning));
  CHECK(LocalJobCoordinator().Holds(SingletonJob::kRetention));
}

TEST_CASE("replicas: a holder whose connection was cut stops running the job until it wins again") {
  TestPostgresDatabase database;
  PgJobCoordinator holder(database.conninfo());
  PgJobCoordinator other(database.conninfo());
  REQUIRE(holder.Holds(SingletonJob::kRetention));
  // An administrator (or a failover) ends the holder's session: its lock is gone.
  auto admin = Ok(pg::Connection::Open(database.conninfo()));
  Ok(
      admin.Query("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND "
                  "granted AND database = (SELECT oid FROM pg_database WHERE datname = "
                  "current_database())"));
  CHECK(other.Holds(SingletonJob::kRetention));
  // The old holder notices on its next ask, reconnects, and finds the job taken.
  CHECK_FALSE(holder.Holds(SingletonJob::kRetention));
  CHECK_FALSE(holder.Holds(SingletonJob::kRetention));
}

TEST_CASE("replicas: without a database nobody claims the job") {
  PgJobCoordinator unreachable("host=127.0.0.1 port=1 dbname=nothing connect_timeout=2");
  CHECK_FALSE(unreachable.Holds(SingletonJob::kEstateEvaluation));
}

}  // namespace
}  // namespace dozor::server
