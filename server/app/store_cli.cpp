#include "app/store_cli.hpp"

#include <chrono>
#include <iomanip>
#include <ostream>

#include "store/migrate/sqlite_to_postgres.hpp"

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

}  // namespace dozor::server
