// The libpq client under the PostgreSQL backend (store/postgres/pg_client.hpp): error mapping,
// transport security, parameters and arrays, the pool (limits, a connection the server dropped),
// and the transaction helper's retries, against the test cluster.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>

#include "backends.hpp"
#include "store/postgres/pg_client.hpp"

namespace dozor::server {
namespace {

using dozor::testing::Ok;
using dozor::testing::TestPostgresDatabase;

TEST_CASE("pg client: SQLSTATEs map to error codes, serialization failures are retryable") {
  CHECK(pg::ErrorFromSqlState("23505", "dup").code == ErrorCode::kAlreadyExists);
  CHECK(pg::ErrorFromSqlState("23503", "fk").code == ErrorCode::kFailedPrecondition);
  CHECK(pg::ErrorFromSqlState("22021", "utf8").code == ErrorCode::kInvalidArgument);
  CHECK(pg::ErrorFromSqlState("53100", "disk full").code == ErrorCode::kResourceExhausted);
  CHECK(pg::ErrorFromSqlState("08006", "gone").code == ErrorCode::kUnavailable);
  CHECK(pg::ErrorFromSqlState("28P01", "password").code == ErrorCode::kPermissionDenied);
  CHECK(pg::ErrorFromSqlState("XX001", "corrupt").code == ErrorCode::kDataLoss);
  CHECK(pg::ErrorFromSqlState("42P01", "no table").code == ErrorCode::kInternal);
  CHECK(pg::ErrorFromSqlState("23505", "dup").message == "dup (SQLSTATE 23505)");
  CHECK(pg::IsRetryable(pg::ErrorFromSqlState("40001", "serialization")));
  CHECK(pg::IsRetryable(pg::ErrorFromSqlState("40P01", "deadlock")));
  CHECK_FALSE(pg::IsRetryable(pg::ErrorFromSqlState("08006", "gone")));
  CHECK_FALSE(pg::IsRetryable(pg::ErrorFromSqlState("23505", "dup")));
}

TEST_CASE("pg client: a server across the network needs verified TLS") {
  CHECK(pg::CheckTransportSecurity("host=127.0.0.1 port=5432 dbname=dozor").ok());
  CHECK(pg::CheckTransportSecurity("host=/var/run/postgresql dbname=dozor").ok());
  CHECK(pg::CheckTransportSecurity("postgresql://dozor@localhost/dozor").ok());
  CHECK(pg::CheckTransportSecurity("postgresql://dozor@[::1]:5433/dozor").ok());
  CHECK(pg::CheckTransportSecurity("dbname=dozor").ok());  // the default Unix socket
  auto plain = pg::CheckTransportSecurity("postgresql://dozor:secret@db.example/dozor");
  REQUIRE_FALSE(plain.ok());
  CHECK(plain.error().code == ErrorCode::kInvalidArgument);
  CHECK(plain.error().message.find("sslmode=verify-full") != std::string::npos);
  CHECK(plain.error().message.find("secret") == std::string::npos);
  CHECK_FALSE(pg::CheckTransportSecurity("host=10.0.0.5 sslmode=require").ok());
  CHECK_FALSE(pg::CheckTransportSecurity("host=127.0.0.1,db2.example dbname=x").ok());
  CHECK_FALSE(pg::CheckTransportSecurity("hostaddr=10.0.0.5 dbname=x").ok());
  CHECK(pg::CheckTransportSecurity("host=db.example sslmode=verify-full").ok());
  CHECK(pg::CheckTransportSecurity("postgresql://db.example/dozor?sslmode=verify-ca").ok());
  auto broken = pg::CheckTransportSecurity("host=db.example password='hunter2");
  REQUIRE_FALSE(broken.ok());
  CHECK(broken.error().message.find("does not parse") != std::string::npos);
  CHECK(broken.error().message.find("hunter2") == std::string::npos);
}

TEST_CASE("pg client: parameters and arrays round-trip every value") {
  TestPostgresDatabase database;
  auto db = Ok(pg::Connection::Open(database.conninfo()));
  pg::Rows row = Ok(db.Query(
      "SELECT $1::bigint, $2::text, $3::float8, $4::boolean, $5::bytea, $6::text IS NULL, "
      "$7::text",
      pg::Params(int64_t{-9'000'000'000'000'000'000}, std::string("кавычка ' и \\ обратная"), 0.1,
                 true, std::nullopt, std::nullopt, std::string("nul\0in", 6))));
  CHECK(row.Int(0, 0) == -9'000'000'000'000'000'000);
  CHECK(row.Text(0, 1) == "кавычка ' и \\ обратная");
  CHECK(row.Double(0, 2) == 0.1);
  CHECK(row.Bool(0, 3));
  CHECK(row.IsNull(0, 4));
  CHECK(row.Bool(0, 5));
  CHECK(row.Text(0, 6) == "nul\\x00in");  // text cannot hold a NUL: escaped, not cut short
  pg::Params bytes;
  bytes.AddBytes(std::string("\0\x01\xff", 3));
  CHECK(Ok(db.Query("SELECT $1::bytea", bytes)).Bytes(0, 0) == std::string("\0\x01\xff", 3));

  pg::ArrayLiteral texts;
  texts.Add("a,b").Add("{x}").Add("\"q\"").Add("NULL").AddNull().Add("").Add("\\");
  pg::Rows unnested = Ok(db.Query(
      "SELECT coalesce(x, '<null>') FROM unnest($1::text[]) WITH ORDINALITY AS t(x, n) ORDER BY n",
      pg::Params(texts)));
  REQUIRE(unnested.size() == 7);
  CHECK(unnested.Text(0, 0) == "a,b");
  CHECK(unnested.Text(1, 0) == "{x}");
  CHECK(unnested.Text(2, 0) == "\"q\"");
  CHECK(unnested.Text(3, 0) == "NULL");
  CHECK(unnested.Text(4, 0) == "<null>");
  CHECK(unnested.Text(5, 0) == "");
  CHECK(unnested.Text(6, 0) == "\\");
  pg::ArrayLiteral blobs;
  blobs.AddBytes(std::string("\0\"\\", 3)).AddBytes("");
  pg::Rows decoded =
      Ok(db.Query("SELECT x FROM unnest($1::bytea[]) WITH ORDINALITY AS t(x, n) "
                  "ORDER BY n",
                  pg::Params(blobs)));
  CHECK(decoded.Bytes(0, 0) == std::string("\0\"\\", 3));
  CHECK(decoded.Bytes(1, 0).empty());
  // The binary bytea[]: every byte value, an empty element, many elements, and an empty array.
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) {
    all_bytes.push_back(static_cast<char>(b));
  }
  pg::ByteaArray binary;
  binary.Add(all_bytes).Add("");
  for (int i = 0; i < 1000; ++i) {
    binary.Add(std::string(static_cast<size_t>(i % 7), static_cast<char>(i)));
  }
  pg::Rows received =
      Ok(db.Query("SELECT x, n FROM unnest($1::bytea[]) WITH ORDINALITY AS t(x, n) ORDER BY n",
                  pg::Params(binary)));
  REQUIRE(received.size() == 1002);
  CHECK(received.Bytes(0, 0) == all_bytes);
  CHECK(received.Bytes(1, 0).empty());
  CHECK(received.Bytes(1001, 0) == std::string(999 % 7, static_cast<char>(999)));
  CHECK(Ok(db.Query("SELECT cardinality($1::bytea[])", pg::Params(pg::ByteaArray()))).Int(0, 0) ==
        0);
  // The same text prepared once per connection, run with other values.
  for (int i = 0; i < 3; ++i) {
    CHECK(Ok(db.Query("SELECT $1::bigint * 2", pg::Params(i))).Int(0, 0) == i * 2);
  }
  auto bad = db.Query("SELECT 1/0");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("SQLSTATE 22012") != std::string::npos);
}

TEST_CASE("pg client: the pool waits for a free connection, times out, replaces dropped ones") {
  TestPostgresDatabase database;
  pg::PoolOptions options;
  options.conninfo = database.conninfo();
  options.size = 2;
  options.acquire_timeout = std::chrono::milliseconds(300);
  auto pool = Ok(pg::Pool::Open(options));
  {
    auto first = Ok(pool->Acquire());
    auto second = Ok(pool->Acquire());
    auto third = pool->Acquire();
    REQUIRE_FALSE(third.ok());
    CHECK(third.error().code == ErrorCode::kUnavailable);
    CHECK(third.error().message.find("all 2 pooled connections") != std::string::npos);
  }
  // A connection the server ends (a restart, an administrator) is noticed and replaced.
  int64_t pid = 0;
  {
    auto lease = Ok(pool->Acquire());
    pid = Ok(lease->Query("SELECT pg_backend_pid()")).Int(0, 0);
    auto admin = Ok(pg::Connection::Open(database.conninfo()));
    Ok(admin.Query("SELECT pg_terminate_backend($1::int)", pg::Params(pid)));
    auto lost = lease->Query("SELECT 1");
    REQUIRE_FALSE(lost.ok());
    CHECK(lost.error().code == ErrorCode::kUnavailable);
  }
  for (int i = 0; i < 3; ++i) {
    auto lease = Ok(pool->Acquire());
    CHECK(Ok(lease->Query("SELECT 1")).Int(0, 0) == 1);
    CHECK(Ok(lease->Query("SELECT pg_backend_pid()")).Int(0, 0) != pid);
  }
  // A lease returned inside a transaction is rolled back for the next user.
  {
    auto lease = Ok(pool->Acquire());
    Ok(lease->Exec("CREATE TABLE t (x int)"));
    Ok(lease->Exec("BEGIN"));
    Ok(lease->Exec("INSERT INTO t VALUES (1)"));
  }
  for (int i = 0; i < 2; ++i) {
    auto lease = Ok(pool->Acquire());
    CHECK_FALSE(lease->in_transaction());
    CHECK(Ok(lease->Query("SELECT count(*) FROM t")).Int(0, 0) == 0);
  }
}

TEST_CASE("pg client: InTransaction runs a body again after a serialization failure") {
  TestPostgresDatabase database;
  pg::PoolOptions options;
  options.conninfo = database.conninfo();
  auto pool = Ok(pg::Pool::Open(options));
  {
    auto lease = Ok(pool->Acquire());
    Ok(lease->Exec("CREATE TABLE counter (n bigint); INSERT INTO counter VALUES (0)"));
  }
  int attempts = 0;
  auto result = pg::InTransaction(*pool, [&](pg::Connection& db) -> Result<int64_t> {
    ++attempts;
    if (attempts < 3) {
      return pg::ErrorFromSqlState("40001", "could not serialize access");
    }
    DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db.Query("UPDATE counter SET n = n + 1 RETURNING n"));
    return rows.Int(0, 0);
  });
  CHECK(Ok(std::move(result)) == 1);
  CHECK(attempts == 3);
  // A body error that is not retryable rolls back at once.
  attempts = 0;
  auto refused = pg::InTransaction(*pool, [&](pg::Connection& db) -> Status {
    ++attempts;
    DOZOR_RETURN_IF_ERROR(db.Run("UPDATE counter SET n = 100"));
    return MakeError(ErrorCode::kInvalidArgument, "no");
  });
  CHECK_FALSE(refused.ok());
  CHECK(attempts == 1);
  auto lease = Ok(pool->Acquire());
  CHECK(Ok(lease->Query("SELECT n FROM counter")).Int(0, 0) == 1);
  // Pooled connections the server ended while idle (a restart): the next transaction takes a new
  // one instead of failing.
  {
    auto admin = Ok(pg::Connection::Open(database.conninfo()));
    Ok(
        admin.Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                    "current_database() AND pid <> pg_backend_pid()"));
  }
  auto after_cut = pg::InTransaction(*pool, [&](pg::Connection& db) -> Result<int64_t> {
    DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db.Query("SELECT n FROM counter"));
    return rows.Int(0, 0);
  });
  CHECK(Ok(std::move(after_cut)) == 1);
  // Giving up after the attempts names how many.
  auto exhausted = pg::InTransaction(
      *pool, [&](pg::Connection&) -> Status { return pg::ErrorFromSqlState("40P01", "deadlock"); },
      2);
  REQUIRE_FALSE(exhausted.ok());
  CHECK(exhausted.error().message.find("gave up after 2 attempts") != std::string::npos);
}

}  // namespace
}  // namespace dozor::server
