// Thin RAII wrapper over the SQLite C API, shared by the agent spool and the server store.
// Prepared statements only: values are always bound, never spliced into SQL text.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor::sqlite {

// Maps a SQLite result code to an Error (SQLITE_FULL -> kResourceExhausted, BUSY -> kUnavailable,
// CORRUPT/NOTADB -> kDataLoss).
Error ToError(sqlite3* db, int rc, std::string_view context);

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Binding uses 1-based indexes, like sqlite3_bind_*.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, int value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, uint32_t value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, uint64_t value) { return Bind(index, static_cast<int64_t>(value)); }
  Statement& Bind(int index, double value);
  Statement& Bind(int index, bool value) {
    return Bind(index, static_cast<int64_t>(value ? 1 : 0));
  }
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, const char* text) { return Bind(index, std::string_view(text)); }
  Statement& Bind(int index, const std::string& text) {
    return Bind(index, std::string_view(text));
  }
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindNull(int index);
  template <typename T>
  Statement& Bind(int index, const std::optional<T>& value) {
    return value ? Bind(index, *value) : BindNull(index);
  }

  // Steps once. true = a row is available, false = done.
  [[nodiscard]] Result<bool> Step();
  // Steps to completion, for statements that return no rows.
  [[nodiscard]] Status Run();
  // Resets so the statement can be re-bound and run again (keeps the compiled plan).
  void Reset();

  [[nodiscard]] int64_t Int(int column) const;
  [[nodiscard]] double Double(int column) const;
  [[nodiscard]] std::string Text(int column) const;
  [[nodiscard]] std::string Blob(int column) const;
  [[nodiscard]] bool IsNull(int column) const;

  [[nodiscard]] sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int bind_error_ = SQLITE_OK;
};

struct OpenOptions {
  bool create = true;
  bool read_only = false;
  bool wal = true;
  // FULL: a commit survives power loss (what an ack promises). NORMAL for read/derived data.
  std::string synchronous = "FULL";
  int busy_timeout_ms = 5000;
  // Write a WAL transaction's frames with a few large writes instead of two per page (see
  // WalWriteCombiningVfs). For connections that commit often; readers gain nothing from it.
  bool combine_wal_writes = false;
};

// The name of a VFS that wraps the default one and gathers the frames of each WAL transaction
// into writes of ~124 KiB instead of two per page, written before the commit can become visible to
// any reader (src/sqlite_wal_combiner.cpp says why that is safe). nullptr if it could not be
// registered.
const char* WalWriteCombiningVfs();

// Process-wide counts of that VFS's WAL writes: calls SQLite made, calls passed to the OS.
struct WalWriteCounts {
  uint64_t writes_received = 0;
  uint64_t writes_issued = 0;
};
WalWriteCounts WalWriteCombinerCounts();

class Database {
 public:
  Database() = default;
  Database(Database&& other) noexcept : db_(other.db_), path_(std::move(other.path_)) {
    other.db_ = nullptr;
  }
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  [[nodiscard]] static Result<Database> Open(const std::filesystem::path& path,
                                             const OpenOptions& options = {});

  [[nodiscard]] Status Exec(std::string_view sql);  // for fixed DDL / pragmas only
  [[nodiscard]] Result<Statement> Prepare(std::string_view sql);
  [[nodiscard]] int64_t LastInsertRowId() const;
  [[nodiscard]] int Changes() const;
  [[nodiscard]] sqlite3* get() const { return db_; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

  // Runs PRAGMA quick_check; kDataLoss if the file is damaged.
  [[nodiscard]] Status QuickCheck();

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path path_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  [[nodiscard]] Status Begin();
  [[nodiscard]] Status Commit();

 private:
  Database& db_;
  bool open_ = false;
};

// A deferred read transaction: the queries run between Begin and destruction see one snapshot.
// Ends with COMMIT (nothing was written), so a reader never pins the WAL after it returns.
class ReadTransaction {
 public:
  explicit ReadTransaction(Database& db) : db_(db) {}
  ~ReadTransaction();
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  [[nodiscard]] Status Begin();

 private:
  Database& db_;
  bool open_ = false;
};

}  // namespace dozor::sqlite
