// Server unit tests: a real SQLite store (default options) in a test's temporary directory.
#pragma once

#include <doctest/doctest.h>

#include <memory>

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

}  // namespace dozor::testing
