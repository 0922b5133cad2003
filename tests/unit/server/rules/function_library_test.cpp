// The rule dialect's function library on the SQLite fact source: the semantics documented in
// docs/rule-language.md (and defined for PostgreSQL in rules/portable/postgres_functions.sql).
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_fact_source.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

using dozor::testing::TempDir;

struct Facts {
  TempDir dir;
  std::unique_ptr<FactSource> source;
  std::unique_ptr<FactSession> session;

  Facts() {
    SqliteStoreOptions options;
    options.path = (dir / "dozor.db").string();
    options.background_checkpoint = false;
    {
      auto store = OpenSqliteStore(options);  // creates the schema
      REQUIRE(store.ok());
    }
    source = MakeSqliteFactSource(options.path);
    auto opened = source->OpenSession(FactSessionKind::kEstate);
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().ToString()));
    session = std::move(opened).value();
  }

  // The single row of `select` (no FROM needed), as values.
  std::vector<FactValue> Row(const std::string& select) {
    auto statement = session->PrepareRule("SELECT " + select);
    REQUIRE_MESSAGE(statement.ok(), (statement.ok() ? "" : statement.error().ToString()));
    std::vector<FactValue> values;
    auto run =
        session->Run(**statement, std::chrono::milliseconds(1000), [&values](const FactRow& row) {
          for (size_t c = 0; c < row.size(); ++c) {
            values.push_back(row.Get(c));
          }
          return true;
        });
    REQUIRE(run.ok());
    return values;
  }
};

bool IsNull(const FactValue& value) { return std::holds_alternative<std::monostate>(value); }

TEST_CASE("greatest and least ignore NULLs and are NULL only when every argument is") {
  Facts facts;
  auto row = facts.Row(
      "greatest(1, NULL, 3), least(2, NULL, -1), greatest(NULL, NULL), greatest(1, 2.5), "
      "least('b', 'a')");
  REQUIRE(row.size() == 5);
  CHECK(std::get<int64_t>(row[0]) == 3);
  CHECK(std::get<int64_t>(row[1]) == -1);
  CHECK(IsNull(row[2]));
  CHECK(std::get<double>(row[3]) == 2.5);
  CHECK(std::get<std::string>(row[4]) == "a");
}

TEST_CASE("strpos counts characters from 1 and gives 0 when absent") {
  Facts facts;
  auto row = facts.Row("strpos('web-01', '-'), strpos('abc', 'x'), strpos('Ромашка-1', '-')");
  CHECK(std::get<int64_t>(row[0]) == 4);
  CHECK(std::get<int64_t>(row[1]) == 0);
  CHECK(std::get<int64_t>(row[2]) == 8);
}

TEST_CASE("text_list joins sorted non-NULL values and honours DISTINCT") {
  Facts facts;
  auto row = facts.Row(
      "(SELECT text_list(x) FROM (SELECT 'b' AS x UNION ALL SELECT 'a' UNION ALL SELECT NULL "
      "UNION ALL SELECT 'b')), "
      "(SELECT text_list(DISTINCT x) FROM (SELECT 'b' AS x UNION ALL SELECT 'a' UNION ALL "
      "SELECT 'b')), "
      "(SELECT text_list(x) FROM (SELECT NULL AS x))");
  CHECK(std::get<std::string>(row[0]) == "a,b,b");
  CHECK(std::get<std::string>(row[1]) == "a,b");
  CHECK(IsNull(row[2]));
}

TEST_CASE("date_to_ms accepts exactly valid YYYY-MM-DD dates and ms_to_date inverts it") {
  Facts facts;
  auto row = facts.Row(
      "date_to_ms('1970-01-02'), date_to_ms('2024-02-29'), date_to_ms('2023-02-29'), "
      "date_to_ms('2020-13-01'), date_to_ms('2020-1-01'), date_to_ms('not a date'), "
      "ms_to_date(1793534400000), ms_to_date(date_to_ms('2024-02-29') + 86399999)");
  CHECK(std::get<int64_t>(row[0]) == 86'400'000);
  CHECK(std::get<int64_t>(row[1]) == 1'709'164'800'000);
  CHECK(IsNull(row[2]));
  CHECK(IsNull(row[3]));
  CHECK(IsNull(row[4]));
  CHECK(IsNull(row[5]));
  CHECK(std::get<std::string>(row[6]) == "2026-11-01");
  CHECK(std::get<std::string>(row[7]) == "2024-02-29");
}

TEST_CASE("version_compare orders Debian versions and LIKE is case-sensitive") {
  Facts facts;
  auto row = facts.Row(
      "version_compare('1.1.1n-0+deb11u5', '3.0'), version_compare('1:1.0', '2.0'), "
      "version_compare('1.0~rc1', '1.0'), version_compare('1.0', NULL), 'ABC' LIKE 'abc', "
      "lower('ABC') LIKE 'abc'");
  CHECK(std::get<int64_t>(row[0]) == -1);
  CHECK(std::get<int64_t>(row[1]) == 1);
  CHECK(std::get<int64_t>(row[2]) == -1);
  CHECK(IsNull(row[3]));
  CHECK(std::get<int64_t>(row[4]) == 0);
  CHECK(std::get<int64_t>(row[5]) == 1);
}

}  // namespace
}  // namespace dozor::server
