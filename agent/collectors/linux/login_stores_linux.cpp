#include "collectors/linux/login_stores_linux.hpp"

#include <sqlite3.h>

#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "dozor/common/path_text.hpp"
#include "dozor/common/sqlite.hpp"

namespace dozor::agent {
namespace login_store_detail {

namespace fs = std::filesystem;

// PAM writes a row in milliseconds; a lock held longer is a stuck writer, not worth waiting for.
constexpr int kBusyTimeoutMs = 250;
// The query is interrupted after this many progress callbacks of kProgressSteps virtual-machine
// instructions each (about a second of work: a wtmp.db of some million sessions).
constexpr int kProgressSteps = 1000;
constexpr int kMaxProgressCallbacks = 50'000;
// No value a login program writes comes near this; a larger one is refused, not loaded.
constexpr int kMaxValueBytes = 1 << 20;
// substr() in the queries cuts every text to one character past what NewestStoreLogins keeps, so a
// huge value costs nothing and is still recognised as too long.
constexpr std::string_view kLastlog2Query =
    "SELECT substr(Name, 1, 257), Time, substr(TTY, 1, 257), substr(RemoteHost, 1, 257) "
    "FROM Lastlog2 LIMIT ?1";
// One row per user: SQLite takes the bare columns of a max() query from the row holding the
// maximum, so the terminal and host are those of the newest session. Type 3 = USER_PROCESS (a
// login; 1 is a boot, 2 a runlevel). Times past now + a day are left out in SQL, or a single
// garbage row would hide that user's real last login.
constexpr std::string_view kWtmpdbQuery =
    "SELECT substr(User, 1, 257), max(Login), substr(TTY, 1, 257), substr(RemoteHost, 1, 257) "
    "FROM wtmp WHERE Type = 3 AND Login <= ?2 GROUP BY User LIMIT ?1";
constexpr int64_t kWtmpdbUsecPerSecond = 1'000'000;
constexpr int64_t kClockSlackSeconds = 86400;

struct CloseDatabase {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct FinalizeStatement {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using DatabaseHandle = std::unique_ptr<sqlite3, CloseDatabase>;
using StatementHandle = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

// A read-only "file:" URI for an absolute path. Every byte but the unreserved ones and '/' is
// percent-encoded, so a root holding '?', '#' or '%' still names the same file.
std::string ReadOnlyUri(const fs::path& path) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string uri = "file:";
  for (unsigned char c : PathToUtf8(path)) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                            c == '~' || c == '/';
    if (unreserved) {
      uri += static_cast<char>(c);
    } else {
      uri += '%';
      uri += kHex[c >> 4];
      uri += kHex[c & 0xf];
    }
  }
  return uri + "?mode=ro";
}

Error StoreError(sqlite3* db, int rc, std::string_view stage) {
  if ((rc & 0xff) == SQLITE_INTERRUPT) {
    return MakeError(ErrorCode::kResourceExhausted, std::string(stage) + ": too large to read");
  }
  return sqlite::ToError(db, rc, stage);
}

int CountProgress(void* callbacks_left) {
  int* left = static_cast<int*>(callbacks_left);
  return --*left < 0 ? 1 : 0;  // non-zero interrupts the statement
}

std::string ColumnText(sqlite3_stmt* statement, int column) {
  const unsigned char* text = sqlite3_column_text(statement, column);
  const int size = sqlite3_column_bytes(statement, column);
  return text == nullptr
             ? std::string()
             : std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
}

// The rows of `query` (parameters: ?1 the row limit, ?2 `upper_time`), or none when `table` does
// not exist.
Result<std::vector<LoginStoreRow>> QueryStore(const fs::path& database, std::string_view table,
                                              std::string_view query, int64_t upper_time) {
  int callbacks_left = kMaxProgressCallbacks;  // outlives the connection that points at it
  sqlite3* raw = nullptr;
  const std::string uri = ReadOnlyUri(database);
  int rc = sqlite3_open_v2(uri.c_str(), &raw,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
  DatabaseHandle db(raw);
  if (rc != SQLITE_OK) return StoreError(db.get(), rc, "open");
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
  sqlite3_limit(db.get(), SQLITE_LIMIT_LENGTH, kMaxValueBytes);
  sqlite3_progress_handler(db.get(), kProgressSteps, CountProgress, &callbacks_left);

  auto prepare = [&](std::string_view sql, StatementHandle* out) {
    sqlite3_stmt* statement = nullptr;
    int prepared =
        sqlite3_prepare_v2(db.get(), sql.data(), static_cast<int>(sql.size()), &statement, nullptr);
    out->reset(statement);
    return prepared;
  };
  // The schema is read here first: a file that is not a database fails on this statement.
  StatementHandle has_table;
  rc = prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1", &has_table);
  if (rc != SQLITE_OK) return StoreError(db.get(), rc, "read");
  sqlite3_bind_text(has_table.get(), 1, table.data(), static_cast<int>(table.size()),
                    SQLITE_STATIC);
  rc = sqlite3_step(has_table.get());
  if (rc == SQLITE_DONE) return std::vector<LoginStoreRow>{};  // created, never written
  if (rc != SQLITE_ROW) return StoreError(db.get(), rc, "read");

  StatementHandle rows;
  rc = prepare(query, &rows);
  if (rc != SQLITE_OK) return StoreError(db.get(), rc, "read");
  sqlite3_bind_int64(rows.get(), 1, static_cast<sqlite3_int64>(kMaxLoginStoreRows));
  if (sqlite3_bind_parameter_count(rows.get()) >= 2) {
    sqlite3_bind_int64(rows.get(), 2, upper_time);
  }
  std::vector<LoginStoreRow> out;
  while ((rc = sqlite3_step(rows.get())) == SQLITE_ROW) {
    LoginStoreRow row;
    row.user = ColumnText(rows.get(), 0);
    row.time = sqlite3_column_int64(rows.get(), 1);
    row.tty = ColumnText(rows.get(), 2);
    row.remote_host = ColumnText(rows.get(), 3);
    out.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) return StoreError(db.get(), rc, "read");
  return out;
}

}  // namespace login_store_detail

Result<std::map<std::string, LastLogin>> ReadLastlog2(const std::filesystem::path& database,
                                                      int64_t now_seconds) {
  DOZOR_ASSIGN_OR_RETURN(
      std::vector<LoginStoreRow> rows,
      login_store_detail::QueryStore(database, "Lastlog2", login_store_detail::kLastlog2Query, 0));
  return NewestStoreLogins(rows, LoginTimeUnit::kSeconds, now_seconds);
}

Result<std::map<std::string, LastLogin>> ReadWtmpdb(const std::filesystem::path& database,
                                                    int64_t now_seconds) {
  const int64_t upper_usec = (now_seconds + login_store_detail::kClockSlackSeconds) *
                             login_store_detail::kWtmpdbUsecPerSecond;
  DOZOR_ASSIGN_OR_RETURN(std::vector<LoginStoreRow> rows,
                         login_store_detail::QueryStore(
                             database, "wtmp", login_store_detail::kWtmpdbQuery, upper_usec));
  return NewestStoreLogins(rows, LoginTimeUnit::kMicroseconds, now_seconds);
}

}  // namespace dozor::agent
