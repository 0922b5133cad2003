#include "store/migrate/sqlite_to_postgres.hpp"

#include <sqlite3.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dozor/common/crypto.hpp"
#include "dozor/common/sqlite.hpp"
#include "dozor/contract/codec.hpp"
#include "store/health_block_codec.hpp"
#include "store/postgres/pg_client.hpp"
#include "store/postgres/pg_health_partitions.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/migrations.hpp"

namespace dozor::server {
namespace {

enum class ColumnType { kInteger, kDouble, kBoolean, kText, kBytes };

struct TargetColumn {
  std::string name;
  ColumnType type = ColumnType::kText;
  std::string sql_type;  // as format_type() spells it, for the unnest casts
  bool has_default = false;
};

// One value, converted to what the target column holds.
struct Cell {
  bool null = true;
  int64_t integer = 0;
  double real = 0;
  std::string text;  // text, or the raw bytes of a bytea
};

std::string FormatDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.17g", value);
  return buffer;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// The canonical rendering both sides are compared in.
std::string Render(const Cell& cell, ColumnType type) {
  if (cell.null) return "\\N";
  switch (type) {
    case ColumnType::kInteger:
      return std::to_string(cell.integer);
    case ColumnType::kDouble:
      return FormatDouble(cell.real);
    case ColumnType::kBoolean:
      return cell.integer != 0 ? "1" : "0";
    case ColumnType::kText:
      return cell.text;
    case ColumnType::kBytes:
      return Hex(cell.text);
  }
  return cell.text;
}

// An order-independent checksum of a multiset of rows: the sum (mod 2^128, two 64-bit lanes) of
// each row's SHA-256 prefix. Streams; a changed, missing or extra row changes it.
class RowChecksum {
 public:
  void Add(const std::vector<Cell>& row, const std::vector<TargetColumn>& columns) {
    std::string joined;
    for (size_t i = 0; i < row.size(); ++i) {
      joined += Render(row[i], columns[i].type);
      joined.push_back('\x1f');
    }
    const std::string digest = Sha256Hex(joined);
    high_ += std::strtoull(digest.substr(0, 16).c_str(), nullptr, 16);
    low_ += std::strtoull(digest.substr(16, 16).c_str(), nullptr, 16);
    ++rows_;
  }
  [[nodiscard]] std::string Hex() const {
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%016" PRIx64 "%016" PRIx64, high_, low_);
    return buffer;
  }
  [[nodiscard]] int64_t rows() const { return rows_; }

 private:
  uint64_t high_ = 0;
  uint64_t low_ = 0;
  int64_t rows_ = 0;
};

// A SQLite value converted for a target column of `type` (SQLite's loose typing: an integer in
// a REAL column, a number in a TEXT one).
Cell FromSqlite(sqlite3_stmt* statement, int index, ColumnType type) {
  Cell cell;
  const int kind = sqlite3_column_type(statement, index);
  if (kind == SQLITE_NULL) {
    return cell;
  }
  cell.null = false;
  switch (type) {
    case ColumnType::kInteger:
    case ColumnType::kBoolean:
      cell.integer = sqlite3_column_int64(statement, index);
      break;
    case ColumnType::kDouble:
      cell.real = sqlite3_column_double(statement, index);
      break;
    case ColumnType::kText: {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, index));
      // What PostgreSQL will hold (a NUL or bytes that are not UTF-8 are escaped on the way).
      cell.text = pg::StorableText(
          std::string_view(text, static_cast<size_t>(sqlite3_column_bytes(statement, index))));
      break;
    }
    case ColumnType::kBytes: {
      const void* blob = sqlite3_column_blob(statement, index);
      cell.text.assign(static_cast<const char*>(blob),
                       static_cast<size_t>(sqlite3_column_bytes(statement, index)));
      break;
    }
  }
  return cell;
}

Cell FromPostgres(const pg::Rows& rows, int row, int column, ColumnType type) {
  Cell cell;
  if (rows.IsNull(row, column)) {
    return cell;
  }
  cell.null = false;
  switch (type) {
    case ColumnType::kInteger:
      cell.integer = rows.Int(row, column);
      break;
    case ColumnType::kBoolean:
      cell.integer = rows.Bool(row, column) ? 1 : 0;
      break;
    case ColumnType::kDouble:
      cell.real = std::strtod(rows.Text(row, column).c_str(), nullptr);
      break;
    case ColumnType::kText:
      cell.text = rows.Text(row, column);
      break;
    case ColumnType::kBytes:
      cell.text = rows.Bytes(row, column);
      break;
  }
  return cell;
}

void AddToArray(pg::ArrayLiteral& array, const Cell& cell, ColumnType type) {
  if (cell.null) {
    array.AddNull();
    return;
  }
  switch (type) {
    case ColumnType::kInteger:
      array.Add(cell.integer);
      break;
    case ColumnType::kBoolean:
      array.Add(cell.integer != 0);
      break;
    case ColumnType::kDouble:
      array.Add(cell.real);
      break;
    case ColumnType::kText:
      array.Add(cell.text);
      break;
    case ColumnType::kBytes:
      array.AddBytes(cell.text);
      break;
  }
}

Result<ColumnType> TypeOf(const std::string& table, const std::string& column,
                          const std::string& sql_type) {
  if (sql_type == "bigint" || sql_type == "integer" || sql_type == "smallint") {
    return ColumnType::kInteger;
  }
  if (sql_type == "double precision" || sql_type == "real") return ColumnType::kDouble;
  if (sql_type == "boolean") return ColumnType::kBoolean;
  if (sql_type == "text") return ColumnType::kText;
  if (sql_type == "bytea") return ColumnType::kBytes;
  return MakeError(ErrorCode::kInternal, "store migrate: " + table + "." + column +
                                             " has a type the copy does not know: " + sql_type);
}

// Batches rows into one multi-row INSERT per `batch_rows`.
class BatchInserter {
 public:
  BatchInserter(pg::Connection& db, std::string table, const std::vector<TargetColumn>& columns,
                int64_t batch_rows)
      : db_(db), table_(std::move(table)), columns_(columns), batch_rows_(batch_rows) {
    arrays_.resize(columns.size());
  }
  Status Add(const std::vector<Cell>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      AddToArray(arrays_[i], row[i], columns_[i].type);
    }
    if (++pending_ >= batch_rows_) {
      return Flush();
    }
    return OkStatus();
  }
  Status Flush() {
    if (pending_ == 0) {
      return OkStatus();
    }
    std::string names;
    std::string casts;
    pg::Params params;
    for (size_t i = 0; i < columns_.size(); ++i) {
      names += (i == 0 ? "" : ", ") + columns_[i].name;
      casts += (i == 0 ? "" : ", ") + params.Placeholder(arrays_[i]) + "::" + columns_[i].sql_type +
               "[]";
    }
    // Table and column names come from the target's catalog, not from the source file.
    DOZOR_RETURN_IF_ERROR(db_.Run(
        "INSERT INTO " + table_ + " (" + names + ") SELECT * FROM unnest(" + casts + ")", params));
    arrays_.assign(columns_.size(), pg::ArrayLiteral());
    pending_ = 0;
    return OkStatus();
  }

 private:
  pg::Connection& db_;
  std::string table_;
  const std::vector<TargetColumn>& columns_;
  int64_t batch_rows_;
  std::vector<pg::ArrayLiteral> arrays_;
  int64_t pending_ = 0;
};

// Reads a target table back in pages (a cursor: memory stays at one page) into a checksum.
Result<RowChecksum> ChecksumTarget(pg::Connection& db, const std::string& table,
                                   const std::vector<TargetColumn>& columns) {
  std::string names;
  for (size_t i = 0; i < columns.size(); ++i) {
    names += (i == 0 ? "" : ", ") + columns[i].name;
  }
  DOZOR_RETURN_IF_ERROR(
      db.Exec("DECLARE verify_rows NO SCROLL CURSOR FOR SELECT " + names + " FROM " + table));
  RowChecksum checksum;
  std::vector<Cell> row(columns.size());
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(pg::Rows rows, db.Query("FETCH 10000 FROM verify_rows"));
    for (int r = 0; r < rows.size(); ++r) {
      for (size_t c = 0; c < columns.size(); ++c) {
        row[c] = FromPostgres(rows, r, static_cast<int>(c), columns[c].type);
      }
      checksum.Add(row, columns);
    }
    if (rows.size() < 10000) {
      break;
    }
  }
  DOZOR_RETURN_IF_ERROR(db.Exec("CLOSE verify_rows"));
  return checksum;
}

// How a column PostgreSQL has and SQLite lacks is filled, as a SQLite expression over `t`.
Result<std::string> DerivedColumn(const std::string& table, const std::string& column,
                                  const std::set<std::string>& source_columns) {
  if (column == "org_id") {
    if (source_columns.count("agent") != 0) {
      return std::string("(SELECT x.org_id FROM agents x WHERE x.id = t.agent)");
    }
    if (source_columns.count("finding_id") != 0) {
      return std::string("(SELECT x.org_id FROM findings x WHERE x.id = t.finding_id)");
    }
    if (source_columns.count("snapshot_id") != 0) {
      return std::string("(SELECT x.org_id FROM audit_snapshots x WHERE x.id = t.snapshot_id)");
    }
    if (source_columns.count("token_id") != 0) {
      return std::string("(SELECT x.org_id FROM enrollment_tokens x WHERE x.id = t.token_id)");
    }
    if (source_columns.count("alert_id") != 0) {
      return std::string("(SELECT x.org_id FROM alerts x WHERE x.id = t.alert_id)");
    }
  }
  if (column == "ordinal" && source_columns.count("agent") != 0) {
    return std::string("row_number() OVER (PARTITION BY t.agent ORDER BY t.rowid)");
  }
  if (column == "position" && source_columns.count("snapshot_id") != 0) {
    return std::string("row_number() OVER (PARTITION BY t.snapshot_id ORDER BY t.rowid)");
  }
  return MakeError(ErrorCode::kInternal, "store migrate: no way to fill " + table + "." + column +
                                             " from the SQLite database");
}

struct TargetTable {
  std::string name;
  std::vector<TargetColumn> columns;
};

Result<std::vector<TargetTable>> TargetTables(pg::Connection& db) {
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db.Query("SELECT cl.relname, a.attname, format_type(a.atttypid, a.atttypmod), "
               "a.atthasdef OR a.attidentity <> '' FROM pg_class cl JOIN pg_namespace n ON n.oid "
               "= cl.relnamespace JOIN pg_attribute a ON a.attrelid = cl.oid WHERE n.nspname = "
               "current_schema() AND cl.relkind IN ('r', 'p') AND NOT cl.relispartition AND "
               "a.attnum > 0 AND NOT a.attisdropped AND cl.relname <> 'schema_migrations' "
               "ORDER BY cl.relname, a.attnum"));
  std::map<std::string, TargetTable> by_name;
  for (int row = 0; row < rows.size(); ++row) {
    TargetTable& table = by_name[rows.Text(row, 0)];
    table.name = rows.Text(row, 0);
    TargetColumn column;
    column.name = rows.Text(row, 1);
    column.sql_type = rows.Text(row, 2);
    column.has_default = rows.Bool(row, 3);
    DOZOR_ASSIGN_OR_RETURN(column.type, TypeOf(table.name, column.name, column.sql_type));
    table.columns.push_back(std::move(column));
  }
  // Parents before children: the foreign keys are checked row by row.
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows edges,
      db.Query("SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint "
               "c WHERE c.contype = 'f' AND c.conrelid <> c.confrelid"));
  std::map<std::string, std::set<std::string>> parents;
  for (int row = 0; row < edges.size(); ++row) {
    parents[edges.Text(row, 0)].insert(edges.Text(row, 1));
  }
  std::vector<TargetTable> ordered;
  std::set<std::string> placed;
  while (placed.size() < by_name.size()) {
    bool progressed = false;
    for (auto& [name, table] : by_name) {
      if (placed.count(name) != 0) continue;
      bool ready = true;
      for (const std::string& parent : parents[name]) {
        if (by_name.count(parent) != 0 && placed.count(parent) == 0) ready = false;
      }
      if (ready) {
        ordered.push_back(table);
        placed.insert(name);
        progressed = true;
      }
    }
    if (!progressed) {
      return MakeError(ErrorCode::kInternal, "store migrate: foreign keys form a cycle");
    }
  }
  return ordered;
}

Result<std::set<std::string>> SqliteColumns(sqlite::Database& db, const std::string& table) {
  DOZOR_ASSIGN_OR_RETURN(auto statement, db.Prepare("SELECT name FROM pragma_table_info(?)"));
  statement.Bind(1, table);
  std::set<std::string> columns;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, statement.Step());
    if (!row) break;
    columns.insert(statement.Text(0));
  }
  return columns;
}

// Copies one ordinary table; returns its verification.
Result<TableMigration> CopyTable(sqlite::Database& source, pg::Connection& target,
                                 const TargetTable& table, const std::set<std::string>& source_cols,
                                 const StoreMigrationOptions& options) {
  std::vector<TargetColumn> columns;
  std::string select;
  for (const TargetColumn& column : table.columns) {
    std::string expression;
    if (source_cols.count(column.name) != 0) {
      expression = "t.\"" + column.name + "\"";
    } else {
      auto derived = DerivedColumn(table.name, column.name, source_cols);
      if (!derived.ok()) {
        if (column.has_default) continue;  // a PostgreSQL-only column: its default fills it
        return derived.error();
      }
      expression = *derived;
    }
    select += (select.empty() ? "" : ", ") + expression;
    columns.push_back(column);
  }
  // Names from SQLite's own catalog matched against the target's: nothing from outside.
  DOZOR_ASSIGN_OR_RETURN(auto statement,
                         source.Prepare("SELECT " + select + " FROM \"" + table.name + "\" t"));
  BatchInserter inserter(target, table.name, columns, options.batch_rows);
  RowChecksum source_sum;
  std::vector<Cell> row(columns.size());
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool more, statement.Step());
    if (!more) break;
    for (size_t i = 0; i < columns.size(); ++i) {
      row[i] = FromSqlite(statement.get(), static_cast<int>(i), columns[i].type);
    }
    source_sum.Add(row, columns);
    if (Status added = inserter.Add(row); !added.ok()) {
      return added.error().Wrap("store migrate: table " + table.name);
    }
    if (options.progress && source_sum.rows() % 100000 == 0) {
      options.progress(table.name + ": " + std::to_string(source_sum.rows()) + " rows");
    }
  }
  if (Status flushed = inserter.Flush(); !flushed.ok()) {
    return flushed.error().Wrap("store migrate: table " + table.name);
  }
  DOZOR_ASSIGN_OR_RETURN(RowChecksum target_sum, ChecksumTarget(target, table.name, columns));
  return TableMigration{table.name, source_sum.rows(), target_sum.rows(), source_sum.Hex(),
                        target_sum.Hex()};
}

// health_samples (raw rows, some zlib-compressed) and health_blocks (hourly blocks) into the
// partitioned health_samples, one plain row per sample.
Result<TableMigration> CopyHealth(sqlite::Database& source, pg::Connection& target,
                                  const StoreMigrationOptions& options) {
  const std::vector<TargetColumn> columns = {
      {"org_id", ColumnType::kInteger, "bigint", false},
      {"agent", ColumnType::kInteger, "bigint", false},
      {"collected_at", ColumnType::kInteger, "bigint", false},
      {"seq", ColumnType::kInteger, "bigint", false},
      {"sample", ColumnType::kBytes, "bytea", false}};
  // Every day holding a sample gets its partition (history older than the ingest window too, so
  // retention drops it by partition later).
  std::set<int64_t> days;
  for (const char* sql :
       {"SELECT DISTINCT collected_at FROM health_samples",
        "SELECT start_at FROM health_blocks UNION SELECT end_at FROM health_blocks"}) {
    DOZOR_ASSIGN_OR_RETURN(auto statement, source.Prepare(sql));
    while (true) {
      DOZOR_ASSIGN_OR_RETURN(bool more, statement.Step());
      if (!more) break;
      days.insert(PgHealthPartitions::DayOf(statement.Int(0)));
    }
  }
  for (int64_t day : days) {
    const std::string name = PgHealthPartitions::PartitionName(day);
    DOZOR_RETURN_IF_ERROR(target.Exec(
        "CREATE TABLE IF NOT EXISTS " + name + " PARTITION OF health_samples FOR VALUES FROM (" +
        std::to_string(day) + ") TO (" + std::to_string(day + PgHealthPartitions::kDayMs) + ")"));
  }
  BatchInserter inserter(target, "health_samples", columns, options.batch_rows);
  RowChecksum source_sum;
  auto add = [&](int64_t org_id, int64_t agent, int64_t at, int64_t seq,
                 std::string plain) -> Status {
    std::vector<Cell> row(5);
    for (auto& cell : row) cell.null = false;
    row[0].integer = org_id;
    row[1].integer = agent;
    row[2].integer = at;
    row[3].integer = seq;
    row[4].text = std::move(plain);
    source_sum.Add(row, columns);
    return inserter.Add(row);
  };
  DOZOR_ASSIGN_OR_RETURN(
      auto raw, source.Prepare("SELECT (SELECT x.org_id FROM agents x WHERE x.id = h.agent), "
                               "h.agent, h.collected_at, h.seq, h.sample, h.encoding FROM "
                               "health_samples h"));
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool more, raw.Step());
    if (!more) break;
    std::string bytes = raw.Blob(4);
    if (raw.Int(5) == 0) {  // zlib (before SQLite migration 002): stored plain here
      dozor::v1::HealthSample sample;
      if (Status decoded = DecodeCompressed(bytes, &sample); !decoded.ok()) {
        return decoded.error().Wrap("store migrate: health sample " + std::to_string(raw.Int(3)) +
                                    " of host " + std::to_string(raw.Int(1)));
      }
      bytes = sample.SerializeAsString();
    }
    DOZOR_RETURN_IF_ERROR(add(raw.Int(0), raw.Int(1), raw.Int(2), raw.Int(3), std::move(bytes)));
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto blocks, source.Prepare("SELECT (SELECT x.org_id FROM agents x WHERE x.id = b.agent), "
                                  "b.agent, b.start_at, b.data FROM health_blocks b"));
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool more, blocks.Step());
    if (!more) break;
    std::vector<BlockSample> samples;
    if (Status decoded = DecodeHealthBlock(blocks.Blob(3), &samples); !decoded.ok()) {
      return decoded.error().Wrap("store migrate: health block of host " +
                                  std::to_string(blocks.Int(1)) + " at " +
                                  std::to_string(blocks.Int(2)));
    }
    for (BlockSample& item : samples) {
      DOZOR_RETURN_IF_ERROR(add(blocks.Int(0), blocks.Int(1), item.collected_at_ms,
                                static_cast<int64_t>(item.seq), item.sample.SerializeAsString()));
    }
    if (options.progress && source_sum.rows() % 100000 < samples.size()) {
      options.progress("health_samples: " + std::to_string(source_sum.rows()) + " samples");
    }
  }
  DOZOR_RETURN_IF_ERROR(inserter.Flush());
  DOZOR_ASSIGN_OR_RETURN(RowChecksum target_sum, ChecksumTarget(target, "health_samples", columns));
  return TableMigration{"health_samples", source_sum.rows(), target_sum.rows(), source_sum.Hex(),
                        target_sum.Hex()};
}

}  // namespace

Result<StoreMigrationReport> MigrateSqliteToPostgres(const StoreMigrationOptions& options) {
  if (options.batch_rows < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "store migrate: batch rows must be positive");
  }
  sqlite::OpenOptions read_only;
  read_only.create = false;
  read_only.read_only = true;
  DOZOR_ASSIGN_OR_RETURN(sqlite::Database source,
                         sqlite::Database::Open(options.sqlite_path, read_only));
  StoreMigrationReport report;
  {
    DOZOR_ASSIGN_OR_RETURN(auto version,
                           source.Prepare("SELECT max(version) FROM schema_migrations"));
    DOZOR_ASSIGN_OR_RETURN(bool row, version.Step());
    report.sqlite_schema_version = row ? version.Int(0) : 0;
  }
  const int64_t expected = Migrations().back().version;
  if (report.sqlite_schema_version != expected) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "store migrate: " + options.sqlite_path + " is at schema version " +
                         std::to_string(report.sqlite_schema_version) + ", this server's is " +
                         std::to_string(expected) +
                         "; start this dozor-server on it once to upgrade it, then migrate");
  }
  // The target's schema, by the store's own migrations.
  {
    PostgresStoreOptions store_options;
    store_options.conninfo = options.postgres_conninfo;
    store_options.pool_size = 1;
    store_options.maintenance_interval_s = 0;
    DOZOR_ASSIGN_OR_RETURN(auto store, PostgresStore::Open(store_options));
  }
  DOZOR_ASSIGN_OR_RETURN(pg::Connection target, pg::Connection::Open(options.postgres_conninfo));
  DOZOR_ASSIGN_OR_RETURN(pg::Rows existing,
                         target.Query("SELECT (SELECT count(*) FROM organizations) + (SELECT "
                                      "count(*) FROM agents) + (SELECT count(*) FROM users)"));
  if (existing.Int(0, 0) != 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "store migrate: the PostgreSQL database already holds Dozor data "
                     "(organisations, agents or users); migrate into an empty database");
  }
  DOZOR_ASSIGN_OR_RETURN(std::vector<TargetTable> tables, TargetTables(target));

  // One snapshot of the source for the whole copy.
  sqlite::ReadTransaction snapshot(source);
  DOZOR_RETURN_IF_ERROR(snapshot.Begin());
  DOZOR_RETURN_IF_ERROR(target.Exec("BEGIN"));
  auto copy = [&]() -> Status {
    std::set<std::string> copied;
    for (const TargetTable& table : tables) {
      DOZOR_ASSIGN_OR_RETURN(std::set<std::string> source_cols, SqliteColumns(source, table.name));
      if (source_cols.empty()) {
        continue;  // a PostgreSQL-only table
      }
      if (table.name == "health_blocks") {
        // CopyHealth moves SQLite's blocks into samples (verified sample by sample); the
        // target's maintenance compacts closed days into its own blocks again.
        continue;
      }
      Result<TableMigration> done = table.name == "health_samples"
                                        ? CopyHealth(source, target, options)
                                        : CopyTable(source, target, table, source_cols, options);
      if (!done.ok()) {
        return done.error();
      }
      if (options.progress) {
        options.progress(table.name + ": " + std::to_string(done->target_rows) + " rows copied");
      }
      report.tables.push_back(std::move(done).value());
      copied.insert(table.name);
      // Identities go on after the highest copied id.
      if (std::any_of(table.columns.begin(), table.columns.end(),
                      [](const TargetColumn& c) { return c.name == "id"; })) {
        DOZOR_RETURN_IF_ERROR(target.Query("SELECT setval(s, (SELECT max(id) FROM " + table.name +
                                               ")) FROM "
                                               "pg_get_serial_sequence($1, 'id') AS s WHERE s IS "
                                               "NOT NULL AND EXISTS (SELECT 1 FROM " +
                                               table.name + ")",
                                           pg::Params(table.name)));
      }
    }
    // SQLite tables with rows and nowhere to go are reported, never dropped silently.
    DOZOR_ASSIGN_OR_RETURN(auto names,
                           source.Prepare("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name NOT LIKE 'sqlite_%' ORDER BY name"));
    while (true) {
      DOZOR_ASSIGN_OR_RETURN(bool more, names.Step());
      if (!more) break;
      const std::string name = names.Text(0);
      if (copied.count(name) != 0 || name == "schema_migrations" || name == "health_blocks") {
        continue;
      }
      DOZOR_ASSIGN_OR_RETURN(auto count, source.Prepare("SELECT count(*) FROM \"" + name + "\""));
      DOZOR_ASSIGN_OR_RETURN(bool row, count.Step());
      if (row && count.Int(0) > 0) {
        report.not_copied.push_back(name);
      }
    }
    for (const TableMigration& table : report.tables) {
      if (!table.verified()) {
        return MakeError(ErrorCode::kDataLoss,
                         "store migrate: table " + table.table + " does not verify (" +
                             std::to_string(table.source_rows) + " rows, checksum " +
                             table.source_checksum + " in SQLite; " +
                             std::to_string(table.target_rows) + " rows, checksum " +
                             table.target_checksum + " in PostgreSQL); nothing was committed");
      }
    }
    if (!report.not_copied.empty()) {
      std::string list;
      for (const auto& name : report.not_copied) list += (list.empty() ? "" : ", ") + name;
      return MakeError(ErrorCode::kDataLoss,
                       "store migrate: SQLite tables with rows this copy "
                       "cannot place: " +
                           list + "; nothing was committed");
    }
    return OkStatus();
  };
  Status copied = copy();
  if (!copied.ok()) {
    (void)target.Exec("ROLLBACK");
    return copied.error();
  }
  DOZOR_RETURN_IF_ERROR(target.Exec("COMMIT"));
  // Why: the planner knows nothing of a table bulk-loaded in one transaction until autovacuum
  // gets to it, and in the meantime plans the rules' joins over millions of rows as if the tables
  // were empty (a rule over 10,000 hosts ran past its deadline). pg_restore's advice, here done.
  if (options.progress) {
    options.progress("ANALYZE: planner statistics for the copied tables");
  }
  DOZOR_RETURN_IF_ERROR(target.Exec("ANALYZE"));
  return report;
}

}  // namespace dozor::server
