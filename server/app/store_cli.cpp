#include "app/store_cli.hpp"

#include <chrono>
#include <iomanip>
#include <memory>
#include <ostream>

#include "app/import_key_file.hpp"
#include "store/migrate/sqlite_to_postgres.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace dozor::server {

int RunStoreMigrate(const std::string& from, const std::string& to, int64_t batch_rows,
                    std::ostream& out, std::ostream& err) {
  StoreMigrationOptions options;
  options.sqlite_path = from.rfind("sqlite:", 0) == 0 ? from.substr(7) : from;
  options.postgres_conninfo = to;
  options.batch_rows = batch_rows;
  if (options.sqlite_path.empty() || to.empty()) {
    err << "dozor-server store migrate: --from sqlite:PATH and --to postgresql://... are "
           "required\n";
    return 2;
  }
  options.progress = [&](const std::string& line) { err << "  " << line << "\n"; };
  const auto started = std::chrono::steady_clock::now();
  auto report = MigrateSqliteToPostgres(options);
  if (!report.ok()) {
    err << "dozor-server store migrate: " << report.error().message << "\n";
    const ErrorCode code = report.error().code;
    return code == ErrorCode::kFailedPrecondition || code == ErrorCode::kDataLoss ? 1 : 2;
  }
  int64_t rows = 0;
  out << std::left << std::setw(34) << "table" << std::right << std::setw(12) << "rows"
      << "  checksum\n";
  for (const TableMigration& table : report->tables) {
    out << std::left << std::setw(34) << table.table << std::right << std::setw(12)
        << table.target_rows << "  " << table.target_checksum
        << (table.verified() ? "  verified" : "  MISMATCH") << "\n";
    rows += table.target_rows;
  }
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  out << report->tables.size() << " tables, " << rows << " rows copied and verified in "
      << std::fixed << std::setprecision(1) << seconds << " s (SQLite schema version "
      << report->sqlite_schema_version << ")\n";
  return 0;
}

int RunRotateImportKey(const ServerConfig& config, std::ostream& out, std::ostream& err) {
  std::unique_ptr<Store> store;
  if (config.UsesPostgres()) {
    PostgresStoreOptions options;
    options.conninfo = config.store;
    options.pool_size = 1;
    options.maintenance_interval_s = 0;  // a one-shot command: no background passes
    auto opened = PostgresStore::Open(options);
    if (!opened.ok()) {
      err << "dozor-server store rotate-import-key: storage.store (--store): PostgreSQL: "
          << opened.error().message << "\n";
      return 2;
    }
    store = std::move(opened).value();
  } else {
    SqliteStoreOptions options;
    options.path = config.DatabasePath().string();
    options.background_checkpoint = false;
    options.health_compact_interval_s = 0;
    auto opened = OpenSqliteStore(options);
    if (!opened.ok()) {
      err << "dozor-server store rotate-import-key: " << opened.error().message << "\n";
      return 2;
    }
    store = std::move(opened).value();
  }
  auto rotated = RotateImportKeyFile(config.ImportKeyPath(), store->Imports());
  if (!rotated.ok()) {
    err << "dozor-server store rotate-import-key: " << rotated.error().message << "\n";
    const ErrorCode code = rotated.error().code;
    return code == ErrorCode::kFailedPrecondition || code == ErrorCode::kNotFound ? 1 : 2;
  }
  out << (rotated->resumed ? "finished an interrupted rotation: " : "rotated: ")
      << config.ImportKeyPath().string() << " is now key " << rotated->new_key_id << " (was "
      << rotated->old_key_id << ")\n";
  out << rotated->keys.rewrapped << " import keys rewrapped, " << rotated->keys.already
      << " already under the new key, " << rotated->keys.unreadable.size()
      << " left as they were (under neither key)\n";
  for (const std::string& reason : rotated->keys.unreadable) {
    out << "  " << reason << "\n";
  }
  return 0;
}

}  // namespace dozor::server
