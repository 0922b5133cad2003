// What every dozorctl test against a real server starts from: a temporary directory, a SQLite
// store in it (the test stops when it cannot be opened) and the system clock. Tests take the
// parts with `auto& [dir, store, clock] = env;` and start their own HttpServer, whose options
// differ.
#pragma once

#include <doctest/doctest.h>

#include <memory>

#include "dozor/common/clock.hpp"
#include "dozor/common/result.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::ctl {

struct StoreInTempDir {
  StoreInTempDir() : store(server::OpenSqliteStore(OptionsFor(dir))) {
    REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().ToString()));
  }

  dozor::testing::TempDir dir;
  Result<std::unique_ptr<server::SqliteStore>> store;
  SystemClock clock;

 private:
  static server::SqliteStoreOptions OptionsFor(const dozor::testing::TempDir& dir) {
    server::SqliteStoreOptions options;
    options.path = (dir / "dozor.db").string();
    return options;
  }
};

}  // namespace dozor::ctl
