#include "store/sqlite/rule_window_writer.hpp"

#include <string>

namespace dozor::server {

Status MultiRowInsert::Prepare(sqlite::Database& db, std::string_view head, int columns,
                               std::string_view tail) {
  columns_ = columns;
  std::string row = "(";
  for (int c = 0; c < columns; ++c) {
    row += c == 0 ? "?" : ", ?";
  }
  row += ")";
  for (int k = 0; k < kSizes; ++k) {
    std::string sql(head);
    for (size_t i = 0; i < (size_t{1} << k); ++i) {
      sql += i == 0 ? " " : ", ";
      sql += row;
    }
    if (!tail.empty()) {
      sql += " ";
      sql += tail;
    }
    DOZOR_ASSIGN_OR_RETURN(by_size_[static_cast<size_t>(k)], db.Prepare(sql));
  }
  return OkStatus();
}

Status MultiRowInsert::Execute(sqlite::Statement& statement, int bind_rc) {
  if (bind_rc != SQLITE_OK) {
    statement.Reset();
    return sqlite::ToError(sqlite3_db_handle(statement.get()), bind_rc, "bind");
  }
  return statement.Run();
}

Result<std::unique_ptr<RuleWindowWriter>> RuleWindowWriter::Prepare(sqlite::Database& db) {
  auto writer = std::make_unique<RuleWindowWriter>();
  // OR REPLACE: two samples with the same collected_at (or a mount listed twice) must not fail
  // the whole batch; the later one wins.
  DOZOR_RETURN_IF_ERROR(writer->host_.Prepare(
      db,
      "INSERT OR REPLACE INTO rule_health_host(agent, at, cpu_pct, iowait_pct, load1, load5, "
      "load15, mem_total_bytes, mem_available_bytes, mem_used_pct, swap_total_bytes, "
      "swap_used_pct, process_count, clock_offset_ms) VALUES",
      14, ""));
  DOZOR_RETURN_IF_ERROR(writer->fs_.Prepare(
      db,
      "INSERT OR REPLACE INTO rule_health_fs(agent, mount, at, device, fs_type, total_bytes, "
      "avail_bytes, used_pct, inodes_total, inodes_used_pct) VALUES",
      10, ""));
  DOZOR_RETURN_IF_ERROR(writer->nic_.Prepare(
      db,
      "INSERT OR REPLACE INTO rule_health_nic(agent, interface, at, rx_errors, tx_errors, "
      "rx_dropped, tx_dropped) VALUES",
      7, ""));
  // The point keeps the newest sample of its hour, also against rows of earlier batches.
  DOZOR_RETURN_IF_ERROR(writer->trend_.Prepare(
      db, "INSERT INTO rule_fs_trend(agent, mount, hour, at, total_bytes, avail_bytes) VALUES", 6,
      "ON CONFLICT(agent, mount, hour) DO UPDATE SET at = excluded.at, "
      "total_bytes = excluded.total_bytes, avail_bytes = excluded.avail_bytes "
      "WHERE excluded.at >= rule_fs_trend.at"));
  return writer;
}

Status RuleWindowWriter::Write(RuleWindowBatch& batch) {
  if (batch.empty()) {
    return OkStatus();
  }
  DOZOR_RETURN_IF_ERROR(host_.Run(batch.SortedHosts(), [](RowBinder& b, const HostWindowRow& r) {
    b.Int(r.agent)
        .Int(r.at)
        .Real(r.cpu_pct)
        .Real(r.iowait_pct)
        .Real(r.load1)
        .Real(r.load5)
        .Real(r.load15)
        .Int(r.mem_total_bytes)
        .Int(r.mem_available_bytes)
        .Real(r.mem_used_pct)
        .Int(r.swap_total_bytes)
        .Real(r.swap_used_pct)
        .Int(r.process_count)
        .Int(r.clock_offset_ms);
  }));
  DOZOR_RETURN_IF_ERROR(fs_.Run(batch.SortedFilesystems(), [](RowBinder& b, const FsWindowRow& r) {
    b.Int(r.agent)
        .Text(r.mount)
        .Int(r.at)
        .Text(r.device)
        .Text(r.fs_type)
        .Int(r.total_bytes)
        .Int(r.avail_bytes)
        .Real(r.used_pct)
        .Int(r.inodes_total)
        .Real(r.inodes_used_pct);
  }));
  DOZOR_RETURN_IF_ERROR(nic_.Run(batch.SortedNics(), [](RowBinder& b, const NicWindowRow& r) {
    b.Int(r.agent)
        .Text(r.interface)
        .Int(r.at)
        .Int(r.rx_errors)
        .Int(r.tx_errors)
        .Int(r.rx_dropped)
        .Int(r.tx_dropped);
  }));
  return trend_.Run(batch.CoalescedTrend(), [](RowBinder& b, const FsTrendPoint& p) {
    b.Int(p.agent).Text(p.mount).Int(p.hour).Int(p.at).Int(p.total_bytes).Int(p.avail_bytes);
  });
}

}  // namespace dozor::server
