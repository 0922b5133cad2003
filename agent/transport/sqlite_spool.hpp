// The SQLite implementation of Spool (see spool.hpp for the contract). Callers use Spool::Open;
// this header exists so tests can reach the test-only hooks.
//
// File layout (PRAGMA user_version = kSpoolSchemaVersion):
//   reports(seq INTEGER PRIMARY KEY, is_inventory INTEGER, collected_at INTEGER, payload BLOB)
//   meta(key TEXT PRIMARY KEY, value INTEGER): next_seq, dropped_health_total, reconciled
//   dropped_after_send(seq INTEGER PRIMARY KEY): health reports dropped by the bound after they
//     may have been sent, not yet counted (added without a version bump: an older agent ignores
//     the table and keeps working on the file)
// WAL with synchronous=FULL: Append() returns only after the report is on stable storage.
//
// Size bound: after each append, while the payload bytes exceed max_bytes, the oldest health
// reports are deleted (never the one just appended, so the newest sample is always kept) and
// counted in dropped_health_total, unless they may have been sent already (seq at or below the
// highest seq ReadAfter has returned, or present when the file was opened: an earlier process may
// have sent it): those go to dropped_after_send and are counted only when the server says it
// lacks them. Inventory reports are never dropped: if inventory alone is over
// the bound the spool stays over it, Stats().bytes shows it and a warning is logged once.
// Append() also stamps report.dropped_health_samples with the running total, so the server learns
// about drops even when the drop itself happened while it was away.
#pragma once

#include <chrono>

#include <cstdint>
#include <memory>
#include <mutex>

#include "dozor/common/sqlite.hpp"
#include "transport/spool.hpp"

namespace dozor::agent {

inline constexpr int kSpoolSchemaVersion = 1;

class SqliteSpool final : public Spool {
 public:
  // Opens an existing file or creates it; does not move corrupt files aside (Spool::Open does).
  // kDataLoss when the file is not a database or fails quick_check.
  static Result<std::unique_ptr<SqliteSpool>> OpenFile(const SpoolOptions& options);

  Result<uint64_t> Append(dozor::v1::Report* report) override;
  Result<std::vector<SpooledReport>> ReadAfter(uint64_t after_seq, size_t limit) override;
  Status Remove(uint64_t seq) override;
  Status Acknowledged(uint64_t seq) override;
  Status RemoveUpTo(uint64_t seq) override;
  Status EnsureNextSeqAbove(uint64_t seq) override;
  Status ReconcileWithServer(uint64_t last_committed_seq) override;
  Result<SpoolStats> Stats() override;

  // Test-only: caps the database file at `pages` pages (PRAGMA max_page_count; a value below the
  // current size caps it at the current size), so growing the file fails with SQLITE_FULL as it
  // would on a full disk.
  Status SetMaxPageCountForTesting(int64_t pages);

 private:
  SqliteSpool(sqlite::Database db, uint64_t max_bytes)
      : db_(std::move(db)), max_bytes_(max_bytes) {}
  Status Init();
  Result<int64_t> ReadMeta(const char* key);
  Status WriteMeta(const char* key, int64_t value);
  // Deletes the oldest health reports (seq < keep_seq) until the bound holds. Returns bytes freed
  // and rows dropped; runs inside the caller's transaction.
  // Drops of reports that may have been sent are parked in dropped_after_send, not counted.
  Status EnforceBound(uint64_t total_bytes, uint64_t keep_seq, uint64_t* freed_bytes,
                      uint64_t* dropped, uint64_t* parked);
  // Settles parked drops with seq <= `received_up_to` as received; with `lost_above` set, the
  // rest are counted in dropped_health_total. Runs inside the caller's transaction.
  Status SettleDropsAfterSend(uint64_t received_up_to, bool lost_above);
  Status CountParkedDrops();  // parked_drops_ from the table
  Status RemoveOne(uint64_t seq, bool acknowledged);

  std::mutex mu_;
  sqlite::Database db_;
  uint64_t max_bytes_;
  uint64_t total_bytes_ = 0;  // SUM(length(payload)), kept in memory
  // Highest seq that may have been sent: ReadAfter's highest, or next_seq - 1 at open.
  uint64_t sent_frontier_ = 0;
  uint64_t parked_drops_ = 0;  // rows in dropped_after_send
  bool over_bound_warned_ = false;
  // Drops at the bound are logged once, then summed into at most one line per kDropLogInterval:
  // an agent offline for days would otherwise log a warning on every append.
  std::chrono::steady_clock::time_point drop_logged_at_{};
  uint64_t drops_not_logged_ = 0;
};

}  // namespace dozor::agent
