#include <doctest/doctest.h>

#include "dozor/common/sqlite.hpp"
#include "test_util.hpp"

namespace dozor {
namespace {

TEST_CASE("a duplicate key reads as 'already exists', a CHECK refusal as an internal error") {
  testing::TempDir dir;
  auto db = sqlite::Database::Open(dir.path() / "errors.db");
  REQUIRE(db.ok());
  REQUIRE(db->Exec("CREATE TABLE t (name TEXT PRIMARY KEY, "
                   "state TEXT NOT NULL CHECK (state IN ('open', 'closed')))")
              .ok());
  REQUIRE(db->Exec("INSERT INTO t VALUES ('a', 'open')").ok());
  const Status duplicate = db->Exec("INSERT INTO t VALUES ('a', 'closed')");
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().code == ErrorCode::kAlreadyExists);
  const Status bad_word = db->Exec("INSERT INTO t VALUES ('b', 'opened')");
  REQUIRE_FALSE(bad_word.ok());
  CHECK(bad_word.error().code == ErrorCode::kInternal);
  CHECK(bad_word.error().message.find("CHECK constraint failed") != std::string::npos);
  // Through a prepared statement as well (the store's path).
  auto insert = db->Prepare("INSERT INTO t VALUES (?, ?)");
  REQUIRE(insert.ok());
  const Status prepared_bad = insert->Bind(1, "c").Bind(2, "OPEN").Run();
  REQUIRE_FALSE(prepared_bad.ok());
  CHECK(prepared_bad.error().code == ErrorCode::kInternal);
}

}  // namespace
}  // namespace dozor
