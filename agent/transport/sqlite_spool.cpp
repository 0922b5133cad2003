#include "transport/sqlite_spool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <string>
#include <utility>

#include "dozor/common/path_text.hpp"

namespace dozor::agent {
namespace {

constexpr const char* kNextSeqKey = "next_seq";
constexpr const char* kDroppedHealthKey = "dropped_health_total";
constexpr std::chrono::minutes kDropLogInterval{10};
// Seqs are stored as SQLite INTEGER (int64); anything above cannot be represented.
constexpr uint64_t kMaxSeq = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) - 1;

}  // namespace

Result<std::unique_ptr<SqliteSpool>> SqliteSpool::OpenFile(const SpoolOptions& options) {
  sqlite::OpenOptions open_options;
  open_options.wal = true;
  open_options.synchronous = "FULL";  // an appended report must survive power loss
  DOZOR_ASSIGN_OR_RETURN(sqlite::Database db, sqlite::Database::Open(options.path, open_options));
  DOZOR_RETURN_IF_ERROR(db.QuickCheck());
  // The spool is written once per report and read once per send: SQLite's default 2 MiB page
  // cache would only keep the last inventory's pages resident in an idle agent.
  DOZOR_RETURN_IF_ERROR(db.Exec("PRAGMA cache_size=-256"));
  std::unique_ptr<SqliteSpool> spool(new SqliteSpool(std::move(db), options.max_bytes));
  DOZOR_RETURN_IF_ERROR(spool->Init());
  return spool;
}

Status SqliteSpool::Init() {
  DOZOR_ASSIGN_OR_RETURN(auto version_stmt, db_.Prepare("PRAGMA user_version"));
  DOZOR_ASSIGN_OR_RETURN(bool has_row, version_stmt.Step());
  int64_t version = has_row ? version_stmt.Int(0) : 0;
  version_stmt.Reset();
  if (version > kSpoolSchemaVersion) {
    // Written by a newer agent: refuse rather than guess, the file holds unsent reports.
    return MakeError(ErrorCode::kFailedPrecondition,
                     PathToUtf8(db_.path()) + " has spool schema version " +
                         std::to_string(version) + ", this agent understands up to " +
                         std::to_string(kSpoolSchemaVersion));
  }
  if (version < kSpoolSchemaVersion) {
    sqlite::Transaction tx(db_);
    DOZOR_RETURN_IF_ERROR(tx.Begin());
    DOZOR_RETURN_IF_ERROR(db_.Exec(
        "CREATE TABLE IF NOT EXISTS reports(seq INTEGER PRIMARY KEY, is_inventory INTEGER NOT NULL,"
        " collected_at INTEGER NOT NULL, payload BLOB NOT NULL)"));
    DOZOR_RETURN_IF_ERROR(
        db_.Exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL)"));
    DOZOR_RETURN_IF_ERROR(
        db_.Exec("INSERT OR IGNORE INTO meta(key, value) VALUES ('next_seq', 1), "
                 "('dropped_health_total', 0), ('reconciled', 0)"));
    DOZOR_RETURN_IF_ERROR(db_.Exec("PRAGMA user_version=1"));
    DOZOR_RETURN_IF_ERROR(tx.Commit());
  }
  // Spools written before the 'reconciled' flag existed were already in step with their server.
  DOZOR_RETURN_IF_ERROR(
      db_.Exec("INSERT OR IGNORE INTO meta(key, value) VALUES ('reconciled', 1)"));
  DOZOR_RETURN_IF_ERROR(
      db_.Exec("CREATE TABLE IF NOT EXISTS dropped_after_send(seq INTEGER PRIMARY KEY)"));
  DOZOR_RETURN_IF_ERROR(CountParkedDrops());
  // An earlier process may have sent anything it left in the file.
  DOZOR_ASSIGN_OR_RETURN(int64_t next_seq, ReadMeta(kNextSeqKey));
  sent_frontier_ = next_seq > 1 ? static_cast<uint64_t>(next_seq) - 1 : 0;
  DOZOR_ASSIGN_OR_RETURN(auto sum_stmt,
                         db_.Prepare("SELECT COALESCE(SUM(length(payload)), 0) FROM reports"));
  DOZOR_ASSIGN_OR_RETURN(has_row, sum_stmt.Step());
  total_bytes_ = has_row ? static_cast<uint64_t>(sum_stmt.Int(0)) : 0;
  return OkStatus();
}

Result<int64_t> SqliteSpool::ReadMeta(const char* key) {
  DOZOR_ASSIGN_OR_RETURN(auto stmt, db_.Prepare("SELECT value FROM meta WHERE key = ?"));
  stmt.Bind(1, key);
  DOZOR_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
  if (!has_row) {
    return MakeError(ErrorCode::kDataLoss,
                     PathToUtf8(db_.path()) + ": spool meta row '" + key + "' is missing");
  }
  return stmt.Int(0);
}

Status SqliteSpool::WriteMeta(const char* key, int64_t value) {
  DOZOR_ASSIGN_OR_RETURN(auto stmt, db_.Prepare("UPDATE meta SET value = ? WHERE key = ?"));
  stmt.Bind(1, value).Bind(2, key);
  return stmt.Run();
}

Status SqliteSpool::CountParkedDrops() {
  DOZOR_ASSIGN_OR_RETURN(auto count, db_.Prepare("SELECT count(*) FROM dropped_after_send"));
  DOZOR_ASSIGN_OR_RETURN(bool has_row, count.Step());
  parked_drops_ = has_row ? static_cast<uint64_t>(count.Int(0)) : 0;
  return OkStatus();
}

Status SqliteSpool::EnforceBound(uint64_t total_bytes, uint64_t keep_seq, uint64_t* freed_bytes,
                                 uint64_t* dropped, uint64_t* parked) {
  *freed_bytes = 0;
  *dropped = 0;
  *parked = 0;
  if (total_bytes <= max_bytes_) {
    return OkStatus();
  }
  // Walk health reports oldest first and find the last one that has to go; then one DELETE.
  DOZOR_ASSIGN_OR_RETURN(auto scan, db_.Prepare("SELECT seq, length(payload) FROM reports "
                                                "WHERE is_inventory = 0 AND seq < ? ORDER BY seq"));
  scan.Bind(1, keep_seq);
  uint64_t cutoff_seq = 0;
  while (total_bytes - *freed_bytes > max_bytes_) {
    DOZOR_ASSIGN_OR_RETURN(bool has_row, scan.Step());
    if (!has_row) {
      break;
    }
    cutoff_seq = static_cast<uint64_t>(scan.Int(0));
    *freed_bytes += static_cast<uint64_t>(scan.Int(1));
    if (cutoff_seq <= sent_frontier_) {
      ++*parked;
    } else {
      ++*dropped;
    }
  }
  scan.Reset();
  if (*dropped == 0 && *parked == 0) {
    return OkStatus();
  }
  if (*parked > 0) {
    // Sent (maybe): whether the server has it is known at the next ack or connection.
    DOZOR_ASSIGN_OR_RETURN(
        auto park, db_.Prepare("INSERT OR IGNORE INTO dropped_after_send(seq) SELECT seq FROM "
                               "reports WHERE is_inventory = 0 AND seq <= ? AND seq <= ?"));
    park.Bind(1, cutoff_seq).Bind(2, sent_frontier_);
    DOZOR_RETURN_IF_ERROR(park.Run());
  }
  DOZOR_ASSIGN_OR_RETURN(auto del,
                         db_.Prepare("DELETE FROM reports WHERE is_inventory = 0 AND seq <= ?"));
  del.Bind(1, cutoff_seq);
  return del.Run();
}

Status SqliteSpool::SettleDropsAfterSend(uint64_t received_up_to, bool lost_above) {
  if (parked_drops_ == 0) {
    return OkStatus();
  }
  DOZOR_ASSIGN_OR_RETURN(auto received,
                         db_.Prepare("DELETE FROM dropped_after_send WHERE seq <= ?"));
  received.Bind(1, std::min(received_up_to, kMaxSeq));
  DOZOR_RETURN_IF_ERROR(received.Run());
  if (!lost_above) {
    return OkStatus();
  }
  DOZOR_ASSIGN_OR_RETURN(auto lost, db_.Prepare("DELETE FROM dropped_after_send RETURNING seq"));
  int64_t lost_count = 0;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, lost.Step());
    if (!row) break;
    ++lost_count;
  }
  lost.Reset();
  if (lost_count == 0) {
    return OkStatus();
  }
  DOZOR_ASSIGN_OR_RETURN(int64_t dropped_total, ReadMeta(kDroppedHealthKey));
  return WriteMeta(kDroppedHealthKey, dropped_total + lost_count);
}

Result<uint64_t> SqliteSpool::Append(dozor::v1::Report* report) {
  if (report == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "spool append: null report");
  }
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t previous_seq = report->seq();
  const uint64_t previous_dropped = report->dropped_health_samples();
  auto restore = [&] {
    report->set_seq(previous_seq);
    report->set_dropped_health_samples(previous_dropped);
  };

  sqlite::Transaction tx(db_);
  DOZOR_RETURN_IF_ERROR(tx.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t next_seq_value, ReadMeta(kNextSeqKey));
  DOZOR_ASSIGN_OR_RETURN(int64_t dropped_total_value, ReadMeta(kDroppedHealthKey));
  const uint64_t seq = static_cast<uint64_t>(std::max<int64_t>(next_seq_value, 1));
  if (seq > kMaxSeq) {
    return MakeError(ErrorCode::kFailedPrecondition, "spool sequence numbers exhausted");
  }
  report->set_seq(seq);
  report->set_dropped_health_samples(static_cast<uint64_t>(dropped_total_value));
  std::string payload;
  if (!report->SerializeToString(&payload)) {
    restore();
    return MakeError(ErrorCode::kInvalidArgument, "spool append: report does not serialize");
  }
  const bool is_inventory = report->has_inventory();

  Status status = [&]() -> Status {
    DOZOR_ASSIGN_OR_RETURN(auto insert, db_.Prepare("INSERT INTO reports(seq, is_inventory, "
                                                    "collected_at, payload) VALUES (?, ?, ?, ?)"));
    insert.Bind(1, seq)
        .Bind(2, is_inventory)
        .Bind(3, report->collected_at_ms())
        .BindBlob(4, payload);
    DOZOR_RETURN_IF_ERROR(insert.Run());
    return WriteMeta(kNextSeqKey, static_cast<int64_t>(seq + 1));
  }();
  if (!status.ok()) {
    restore();
    return status.error().Wrap("spool append");
  }

  uint64_t freed = 0;
  uint64_t dropped = 0;
  uint64_t parked = 0;
  status = [&]() -> Status {
    DOZOR_RETURN_IF_ERROR(
        EnforceBound(total_bytes_ + payload.size(), seq, &freed, &dropped, &parked));
    if (dropped > 0) {
      DOZOR_RETURN_IF_ERROR(
          WriteMeta(kDroppedHealthKey, dropped_total_value + static_cast<int64_t>(dropped)));
    }
    return tx.Commit();
  }();
  if (!status.ok()) {
    restore();
    return status.error().Wrap("spool append");
  }

  total_bytes_ = total_bytes_ + payload.size() - freed;
  if (parked > 0) {
    (void)CountParkedDrops();  // only the in-memory shortcut; the table is the truth
  }
  if (dropped + parked > 0) {
    drops_not_logged_ += dropped + parked;
    const auto now = std::chrono::steady_clock::now();
    if (drop_logged_at_ == std::chrono::steady_clock::time_point{} ||
        now - drop_logged_at_ >= kDropLogInterval) {
      spdlog::warn(
          "spool {} over its {} byte bound: dropped {} oldest health report(s) since the last "
          "such message ({} counted as never received in all, {} removed after being sent "
          "and counted once the server says it lacks them; inventories are kept; next summary "
          "in {} min at most)",
          PathToUtf8(db_.path()), max_bytes_, drops_not_logged_,
          dropped_total_value + static_cast<int64_t>(dropped), parked_drops_,
          std::chrono::duration_cast<std::chrono::minutes>(kDropLogInterval).count());
      drop_logged_at_ = now;
      drops_not_logged_ = 0;
    }
  }
  if (total_bytes_ > max_bytes_) {
    if (!over_bound_warned_) {
      spdlog::warn(
          "spool {} holds {} bytes, over its {} byte bound, in reports that are never "
          "dropped (inventory); it shrinks once the server acknowledges them",
          PathToUtf8(db_.path()), total_bytes_, max_bytes_);
      over_bound_warned_ = true;
    }
  } else {
    over_bound_warned_ = false;
  }
  return seq;
}

Result<std::vector<SpooledReport>> SqliteSpool::ReadAfter(uint64_t after_seq, size_t limit) {
  std::vector<SpooledReport> out;
  if (limit == 0 || after_seq > kMaxSeq) {
    return out;
  }
  std::lock_guard<std::mutex> lock(mu_);
  DOZOR_ASSIGN_OR_RETURN(auto stmt, db_.Prepare("SELECT seq, is_inventory, collected_at, payload "
                                                "FROM reports WHERE seq > ? ORDER BY seq LIMIT ?"));
  const auto capped_limit = static_cast<int64_t>(
      std::min<uint64_t>(limit, static_cast<uint64_t>(std::numeric_limits<int64_t>::max())));
  stmt.Bind(1, after_seq).Bind(2, capped_limit);
  while (true) {
    auto has_row = stmt.Step();
    if (!has_row.ok()) {
      return has_row.error().Wrap("spool read");
    }
    if (!*has_row) {
      break;
    }
    SpooledReport item;
    item.seq = static_cast<uint64_t>(stmt.Int(0));
    item.is_inventory = stmt.Int(1) != 0;
    item.collected_at_ms = stmt.Int(2);
    item.payload = stmt.Blob(3);
    out.push_back(std::move(item));
  }
  if (!out.empty()) {
    sent_frontier_ = std::max(sent_frontier_, out.back().seq);  // the caller sends them next
  }
  return out;
}

Status SqliteSpool::Remove(uint64_t seq) { return RemoveOne(seq, /*acknowledged=*/false); }

Status SqliteSpool::Acknowledged(uint64_t seq) { return RemoveOne(seq, /*acknowledged=*/true); }

Status SqliteSpool::RemoveOne(uint64_t seq, bool acknowledged) {
  if (seq > kMaxSeq) {
    return OkStatus();  // never assigned, so nothing to remove
  }
  std::lock_guard<std::mutex> lock(mu_);
  // The server has this report: if its deletion is lost to a power cut, ReconcileWithServer drops
  // the report at the next connection. So the deletion is committed without a WAL sync of its
  // own (synchronous=NORMAL; it survives a crash of the agent), and the next Append's synced
  // commit makes it durable too. One fsync per report instead of two.
  DOZOR_RETURN_IF_ERROR(db_.Exec("PRAGMA synchronous=NORMAL"));
  Status deleted = [&]() -> Status {
    DOZOR_ASSIGN_OR_RETURN(
        auto stmt, db_.Prepare("DELETE FROM reports WHERE seq = ? RETURNING length(payload)"));
    stmt.Bind(1, seq);
    uint64_t freed = 0;
    while (true) {
      auto has_row = stmt.Step();
      if (!has_row.ok()) {
        return has_row.error().Wrap("spool remove");
      }
      if (!*has_row) {
        break;
      }
      freed += static_cast<uint64_t>(stmt.Int(0));
    }
    total_bytes_ -= std::min(freed, total_bytes_);
    if (acknowledged && parked_drops_ > 0) {
      DOZOR_RETURN_IF_ERROR(SettleDropsAfterSend(seq, /*lost_above=*/false));
      return CountParkedDrops();
    }
    return OkStatus();
  }();
  // Appends must stay synced whatever happened above.
  Status restored = db_.Exec("PRAGMA synchronous=FULL");
  DOZOR_RETURN_IF_ERROR(deleted);
  return restored;
}

Status SqliteSpool::RemoveUpTo(uint64_t seq) {
  seq = std::min(seq, kMaxSeq);
  std::lock_guard<std::mutex> lock(mu_);
  // Sum and delete in one transaction so the in-memory byte count matches what was deleted.
  sqlite::Transaction tx(db_);
  DOZOR_RETURN_IF_ERROR(tx.Begin());
  DOZOR_ASSIGN_OR_RETURN(
      auto sum,
      db_.Prepare("SELECT COALESCE(SUM(length(payload)), 0) FROM reports WHERE seq <= ?"));
  sum.Bind(1, seq);
  DOZOR_ASSIGN_OR_RETURN(bool has_row, sum.Step());
  const uint64_t freed = has_row ? static_cast<uint64_t>(sum.Int(0)) : 0;
  sum.Reset();
  DOZOR_ASSIGN_OR_RETURN(auto del, db_.Prepare("DELETE FROM reports WHERE seq <= ?"));
  del.Bind(1, seq);
  DOZOR_RETURN_IF_ERROR(del.Run());
  DOZOR_RETURN_IF_ERROR(SettleDropsAfterSend(seq, /*lost_above=*/false));
  Status committed = tx.Commit();
  DOZOR_RETURN_IF_ERROR(CountParkedDrops());
  DOZOR_RETURN_IF_ERROR(committed);
  total_bytes_ -= std::min(freed, total_bytes_);
  return OkStatus();
}

Status SqliteSpool::EnsureNextSeqAbove(uint64_t seq) {
  if (seq >= kMaxSeq) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "spool: sequence number " + std::to_string(seq) + " is out of range");
  }
  std::lock_guard<std::mutex> lock(mu_);
  DOZOR_ASSIGN_OR_RETURN(auto stmt, db_.Prepare("UPDATE meta SET value = ? "
                                                "WHERE key = 'next_seq' AND value <= ?"));
  stmt.Bind(1, seq + 1).Bind(2, seq);
  return stmt.Run();
}

Status SqliteSpool::ReconcileWithServer(uint64_t last_committed_seq) {
  if (last_committed_seq >= kMaxSeq / 2) {
    return MakeError(ErrorCode::kInvalidArgument, "spool: server's sequence number " +
                                                      std::to_string(last_committed_seq) +
                                                      " is out of range");
  }
  std::lock_guard<std::mutex> lock(mu_);
  sqlite::Transaction tx(db_);
  DOZOR_RETURN_IF_ERROR(tx.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t reconciled, ReadMeta("reconciled"));
  DOZOR_ASSIGN_OR_RETURN(int64_t next_seq, ReadMeta(kNextSeqKey));
  auto committed = static_cast<int64_t>(last_committed_seq);
  Status settled = [&]() -> Status {
    DOZOR_RETURN_IF_ERROR(CountParkedDrops());
    // A spool never reconciled has sent nothing to this server.
    return SettleDropsAfterSend(reconciled == 0 ? 0 : last_committed_seq, /*lost_above=*/true);
  }();
  DOZOR_RETURN_IF_ERROR(settled);
  if (reconciled == 0) {
    // Shift every pending report by `committed`: order is kept and all land above it. Highest
    // first, so no shifted number collides with one not yet shifted.
    DOZOR_ASSIGN_OR_RETURN(auto select, db_.Prepare("SELECT seq FROM reports ORDER BY seq DESC"));
    std::vector<int64_t> seqs;
    while (true) {
      DOZOR_ASSIGN_OR_RETURN(bool row, select.Step());
      if (!row) break;
      seqs.push_back(select.Int(0));
    }
    select.Reset();
    DOZOR_ASSIGN_OR_RETURN(auto shift, db_.Prepare("UPDATE reports SET seq = ? WHERE seq = ?"));
    for (int64_t seq : seqs) {
      shift.Bind(1, seq + committed).Bind(2, seq);
      DOZOR_RETURN_IF_ERROR(shift.Run());
    }
    DOZOR_RETURN_IF_ERROR(WriteMeta(kNextSeqKey, std::max(next_seq + committed, committed + 1)));
    DOZOR_RETURN_IF_ERROR(WriteMeta("reconciled", 1));
  } else {
    DOZOR_ASSIGN_OR_RETURN(auto remove, db_.Prepare("DELETE FROM reports WHERE seq <= ?"));
    remove.Bind(1, committed);
    DOZOR_RETURN_IF_ERROR(remove.Run());
    if (next_seq <= committed) {
      DOZOR_RETURN_IF_ERROR(WriteMeta(kNextSeqKey, committed + 1));
    }
  }
  Status committed_status = tx.Commit();
  DOZOR_RETURN_IF_ERROR(CountParkedDrops());
  DOZOR_RETURN_IF_ERROR(committed_status);
  // A new stream starts here: nothing above what the server has was sent on it yet. (Without
  // this, a report sent on the old stream but never committed, then dropped before it was sent
  // again, would be settled as received by an ack of a later report on the new stream.)
  sent_frontier_ = last_committed_seq;
  DOZOR_ASSIGN_OR_RETURN(auto sum,
                         db_.Prepare("SELECT COALESCE(SUM(length(payload)), 0) FROM reports"));
  DOZOR_ASSIGN_OR_RETURN(bool has_row, sum.Step());
  total_bytes_ = has_row ? static_cast<uint64_t>(sum.Int(0)) : 0;
  return OkStatus();
}

Result<SpoolStats> SqliteSpool::Stats() {
  std::lock_guard<std::mutex> lock(mu_);
  SpoolStats stats;
  DOZOR_ASSIGN_OR_RETURN(auto stmt, db_.Prepare("SELECT count(*), COALESCE(SUM(is_inventory), 0), "
                                                "COALESCE(MIN(collected_at), 0) FROM reports"));
  DOZOR_ASSIGN_OR_RETURN(bool has_row, stmt.Step());
  if (has_row) {
    stats.count = static_cast<uint64_t>(stmt.Int(0));
    stats.inventory_count = static_cast<uint64_t>(stmt.Int(1));
    stats.oldest_collected_at_ms = stmt.Int(2);
  }
  stmt.Reset();
  stats.bytes = total_bytes_;
  DOZOR_ASSIGN_OR_RETURN(int64_t next_seq, ReadMeta(kNextSeqKey));
  DOZOR_ASSIGN_OR_RETURN(int64_t dropped, ReadMeta(kDroppedHealthKey));
  stats.next_seq = static_cast<uint64_t>(next_seq);
  stats.dropped_health_total = static_cast<uint64_t>(dropped);
  stats.dropped_awaiting_server = parked_drops_;
  return stats;
}

Status SqliteSpool::SetMaxPageCountForTesting(int64_t pages) {
  std::lock_guard<std::mutex> lock(mu_);
  // A number formatted by us, not user text: safe to put in the pragma.
  return db_.Exec("PRAGMA max_page_count=" + std::to_string(pages));
}

}  // namespace dozor::agent
