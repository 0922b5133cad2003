// `dozor-server store migrate`: copies an installation's SQLite database into an empty PostgreSQL
// database, so a customer can move to the PostgreSQL backend without losing history.
//
// The copy reads one consistent snapshot of the SQLite file (a read transaction: the server may
// keep running and writing meanwhile; what it writes after the snapshot is not copied) and writes
// everything in ONE PostgreSQL transaction, which commits only when every table verifies: the row
// count and an order-independent checksum of every row's values (each side rendered by this code
// from typed values, so "1.5" and 1.5 compare equal and a changed byte does not) match between
// source and target. Anything else rolls back and leaves the target as it was.
//
// Tables are matched by name and columns by name (the PostgreSQL schema keeps SQLite's names);
// columns PostgreSQL adds are derived: org_id from the row's host (agent), finding, snapshot or
// token, ordinal/position from SQLite's row order. Health samples are the exception: SQLite keeps
// old ones compacted in hourly blocks (and some zlib-compressed), PostgreSQL one plain row per
// sample in daily partitions; the copy decodes every block and row and verifies per sample.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "dozor/common/result.hpp"

namespace dozor::server {

struct StoreMigrationOptions {
  std::string sqlite_path;        // the source database file (opened read-only)
  std::string postgres_conninfo;  // the target; must hold no Dozor data yet
  int64_t batch_rows = 5000;      // rows per INSERT statement
  // Called with a line of progress per table (and every ~100k rows of a large one).
  std::function<void(const std::string&)> progress;
};

struct TableMigration {
  std::string table;  // the PostgreSQL table ("health_samples" also covers health_blocks)
  int64_t source_rows = 0;
  int64_t target_rows = 0;
  std::string source_checksum;  // hex
  std::string target_checksum;
  [[nodiscard]] bool verified() const {
    return source_rows == target_rows && source_checksum == target_checksum;
  }
};

struct StoreMigrationReport {
  std::vector<TableMigration> tables;
  // SQLite tables with rows that have no PostgreSQL counterpart (none today; reported, never
  // silently dropped).
  std::vector<std::string> not_copied;
  int64_t sqlite_schema_version = 0;
};

// kFailedPrecondition when the source is not at this binary's SQLite schema version (run the
// server on it once to upgrade it first) or the target already holds organisations or agents;
// kDataLoss when a table does not verify (nothing is committed then); connection and I/O errors
// as they come.
Result<StoreMigrationReport> MigrateSqliteToPostgres(const StoreMigrationOptions& options);

}  // namespace dozor::server
