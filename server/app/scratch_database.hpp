// A throw-away SQLite database of the current schema in a temporary directory, for the server's
// offline subcommands (`rules check`, `routes`): they need the real schema, and the operator's
// database must not be touched (or even be present) to run them.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace dozor::server {

// Owns the directory <tmp>/<prefix>-<pid> and removes it (with the database) when destroyed.
// Not thread-safe; one per process run.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(std::string_view prefix);
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  // Creates the database with every migration applied and returns the open store; the file
  // stays until this object is destroyed, so a store must be closed before that.
  Result<std::unique_ptr<SqliteStore>> Open();
  // The database file (exists once Open succeeded).
  [[nodiscard]] std::string path() const;

 private:
  std::filesystem::path dir_;
};

}  // namespace dozor::server
