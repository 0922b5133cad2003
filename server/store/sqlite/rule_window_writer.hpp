// Writes a RuleWindowBatch into the rule-window tables of migration 003 (rule_health_host,
// rule_health_fs, rule_health_nic, rule_fs_trend) inside the caller's write transaction.
//
// Why a writer of its own: the window rows are most of what a health report costs to commit.
// Each table gets multi-row statements (64, 32, ..., 1 rows) prepared once, rows go in primary-key
// order, and text is bound without copying (the batch's views stay valid until Write returns).
// The result is the same table contents the row-by-row INSERT OR REPLACE / upsert produced.
//
// Not thread-safe: the owner serialises calls with its writer connection's lock.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "dozor/common/result.hpp"
#include "dozor/common/sqlite.hpp"
#include "store/rule_window_batch.hpp"

namespace dozor::server {

// An INSERT of up to kMaxRows rows per execution: one prepared statement per power of two.
class MultiRowInsert {
 public:
  static constexpr int kSizes = 7;  // 1, 2, 4, ..., 64 rows
  static constexpr size_t kMaxRows = size_t{1} << (kSizes - 1);

  // `head` is "INSERT ... INTO t(c1, ..., cN) VALUES", `tail` follows the VALUES list (an
  // ON CONFLICT clause or empty); `columns` is N.
  [[nodiscard]] Status Prepare(sqlite::Database& db, std::string_view head, int columns,
                               std::string_view tail);

  // Inserts rows[0..n) with bind_row(statement, first_parameter_index, row) per row.
  template <typename Row, typename BindRow>
  [[nodiscard]] Status Run(const std::vector<Row>& rows, BindRow&& bind_row);

 private:
  [[nodiscard]] Status Execute(sqlite::Statement& statement, int bind_rc);

  int columns_ = 0;
  std::array<sqlite::Statement, kSizes> by_size_;  // by_size_[k] inserts 2^k rows
};

class RuleWindowWriter {
 public:
  [[nodiscard]] static Result<std::unique_ptr<RuleWindowWriter>> Prepare(sqlite::Database& db);

  // Writes the batch's rows; the caller holds an open write transaction on the same connection.
  [[nodiscard]] Status Write(RuleWindowBatch& batch);

 private:
  MultiRowInsert host_, fs_, nic_, trend_;
};

// ---------------------------------------------------------------- implementation of Run

// Binds without copying text (SQLITE_STATIC): every bound view outlives the statement's step.
class RowBinder {
 public:
  RowBinder(sqlite3_stmt* statement, int first_index) : s_(statement), index_(first_index) {}
  RowBinder& Int(int64_t value) { return Check(sqlite3_bind_int64(s_, index_++, value)); }
  RowBinder& Real(double value) { return Check(sqlite3_bind_double(s_, index_++, value)); }
  RowBinder& Text(std::string_view text) {
    return Check(
        sqlite3_bind_text64(s_, index_++, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  [[nodiscard]] int rc() const { return rc_; }

 private:
  RowBinder& Check(int rc) {
    if (rc != SQLITE_OK) {
      rc_ = rc;
    }
    return *this;
  }
  sqlite3_stmt* s_;
  int index_;
  int rc_ = SQLITE_OK;
};

template <typename Row, typename BindRow>
Status MultiRowInsert::Run(const std::vector<Row>& rows, BindRow&& bind_row) {
  size_t next = 0;
  while (next < rows.size()) {
    size_t left = rows.size() - next;
    int k = kSizes - 1;
    while ((size_t{1} << k) > left) {
      --k;
    }
    const size_t count = size_t{1} << k;
    sqlite::Statement& statement = by_size_[static_cast<size_t>(k)];
    int bind_rc = SQLITE_OK;
    for (size_t i = 0; i < count; ++i) {
      RowBinder binder(statement.get(), static_cast<int>(i) * columns_ + 1);
      bind_row(binder, rows[next + i]);
      if (binder.rc() != SQLITE_OK) {
        bind_rc = binder.rc();
      }
    }
    DOZOR_RETURN_IF_ERROR(Execute(statement, bind_rc));
    next += count;
  }
  return OkStatus();
}

}  // namespace dozor::server
