#include "dozor/common/sqlite.hpp"

#include "dozor/common/path_text.hpp"

#include <utility>

namespace dozor::sqlite {

Error ToError(sqlite3* db, int rc, std::string_view context) {
  ErrorCode code = ErrorCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_FULL:
      code = ErrorCode::kResourceExhausted;
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = ErrorCode::kUnavailable;
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = ErrorCode::kDataLoss;
      break;
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
      code = ErrorCode::kPermissionDenied;
      break;
    case SQLITE_CONSTRAINT: {
      // A duplicate key is a caller's clash (a name taken); a CHECK refusing a word outside its
      // enum is this program writing what it must not, not "already exists".
      const int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
      code = extended == SQLITE_CONSTRAINT_CHECK ? ErrorCode::kInternal : ErrorCode::kAlreadyExists;
      break;
    }
    case SQLITE_TOOBIG:
      code = ErrorCode::kInvalidArgument;
      break;
    default:
      break;
  }
  std::string message(context);
  message += ": ";
  message += (db != nullptr) ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return MakeError(code, std::move(message));
}

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), bind_error_(other.bind_error_) {
  other.stmt_ = nullptr;
}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    bind_error_ = other.bind_error_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, double value) {
  int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  int rc =
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::BindBlob(int index, std::string_view bytes) {
  int rc = sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Statement& Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) bind_error_ = rc;
  return *this;
}

Result<bool> Statement::Step() {
  if (bind_error_ != SQLITE_OK) {
    int rc = bind_error_;
    bind_error_ = SQLITE_OK;
    return ToError(db_, rc, "bind");
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return ToError(
      db_, rc,
      sqlite3_sql(stmt_) != nullptr ? std::string_view(sqlite3_sql(stmt_)).substr(0, 80) : "step");
}

Status Statement::Run() {
  while (true) {
    auto row = Step();
    if (!row.ok()) {
      Reset();
      return row.error();
    }
    if (!*row) break;
  }
  Reset();
  return OkStatus();
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_ = SQLITE_OK;
}

int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::Double(int column) const { return sqlite3_column_double(stmt_, column); }
std::string Statement::Text(int column) const {
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  return text != nullptr
             ? std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size))
             : std::string();
}
std::string Statement::Blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  int size = sqlite3_column_bytes(stmt_, column);
  return data != nullptr ? std::string(static_cast<const char*>(data), static_cast<size_t>(size))
                         : std::string();
}
bool Statement::IsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    sqlite3_close_v2(db_);
    db_ = other.db_;
    path_ = std::move(other.path_);
    other.db_ = nullptr;
  }
  return *this;
}

Database::~Database() { sqlite3_close_v2(db_); }

Result<Database> Database::Open(const std::filesystem::path& path, const OpenOptions& options) {
  Database db;
  db.path_ = path;
  int flags = SQLITE_OPEN_NOMUTEX;
  if (options.read_only) {
    flags |= SQLITE_OPEN_READONLY;
  } else {
    flags |= SQLITE_OPEN_READWRITE;
    if (options.create) flags |= SQLITE_OPEN_CREATE;
  }
  const char* vfs = options.combine_wal_writes ? WalWriteCombiningVfs() : nullptr;
  if (options.combine_wal_writes && vfs == nullptr) {
    return Error{ErrorCode::kInternal,
                 "the WAL write-combining SQLite VFS could not be registered"};
  }
  int rc = sqlite3_open_v2(PathToUtf8(path).c_str(), &db.db_, flags, vfs);
  if (rc != SQLITE_OK) {
    Error error = ToError(db.db_, rc, "open " + PathToUtf8(path));
    return error;
  }
  sqlite3_extended_result_codes(db.db_, 1);
  sqlite3_busy_timeout(db.db_, options.busy_timeout_ms);
  // Reading the schema is the first thing that notices a file that is not a database.
  DOZOR_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys=ON"));
  if (!options.read_only) {
    if (options.wal) {
      DOZOR_RETURN_IF_ERROR(db.Exec("PRAGMA journal_mode=WAL"));
    }
    DOZOR_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=" + options.synchronous));
  }
  auto probe = db.Prepare("SELECT count(*) FROM sqlite_master");
  if (!probe.ok()) return probe.error().Wrap(PathToUtf8(path));
  auto row = probe->Step();
  if (!row.ok()) return row.error().Wrap(PathToUtf8(path));
  return db;
}

Status Database::Exec(std::string_view sql) {
  char* message = nullptr;
  std::string text(sql);
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string detail = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    Error error = ToError(nullptr, rc, text.substr(0, 80));
    error.message = text.substr(0, 80) + ": " + detail;
    return error;
  }
  return OkStatus();
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    return ToError(db_, rc, "prepare " + std::string(sql.substr(0, 80)));
  }
  return Statement(db_, stmt);
}

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int Database::Changes() const { return sqlite3_changes(db_); }

Status Database::QuickCheck() {
  DOZOR_ASSIGN_OR_RETURN(auto stmt, Prepare("PRAGMA quick_check"));
  DOZOR_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row || stmt.Text(0) != "ok") {
    return MakeError(ErrorCode::kDataLoss,
                     PathToUtf8(path_) + " failed integrity check: " + (row ? stmt.Text(0) : ""));
  }
  return OkStatus();
}

Transaction::~Transaction() {
  if (open_) {
    (void)db_.Exec("ROLLBACK");
  }
}

Status Transaction::Begin() {
  DOZOR_RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
  open_ = true;
  return OkStatus();
}

Status Transaction::Commit() {
  DOZOR_RETURN_IF_ERROR(db_.Exec("COMMIT"));
  open_ = false;
  return OkStatus();
}

ReadTransaction::~ReadTransaction() {
  if (open_) {
    (void)db_.Exec("COMMIT");
  }
}

Status ReadTransaction::Begin() {
  DOZOR_RETURN_IF_ERROR(db_.Exec("BEGIN"));
  open_ = true;
  return OkStatus();
}

}  // namespace dozor::sqlite
