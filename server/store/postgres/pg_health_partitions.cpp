#include "store/postgres/pg_health_partitions.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <ctime>

#include "dozor/common/clock.hpp"
#include "store/postgres/pg_locks.hpp"

namespace dozor::server {
int64_t PgHealthPartitions::DayOf(int64_t at_ms) { return FloorToStep(at_ms, kDayMs); }

std::string PgHealthPartitions::PartitionName(int64_t day_ms) {
  const std::time_t seconds = static_cast<std::time_t>(day_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char name[48];
  std::snprintf(name, sizeof name, "health_samples_p%04d%02d%02d", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday);
  return name;
}

Status PgHealthPartitions::EnsureFor(const std::vector<int64_t>& collected_at_ms, int64_t now_ms) {
  const int64_t today = DayOf(now_ms);
  std::set<int64_t> wanted;
  {
    std::lock_guard lock(mu_);
    for (int64_t at : collected_at_ms) {
      const int64_t day = DayOf(at);
      if (day >= today - kDaysBack * kDayMs && day <= today + kDaysAhead * kDayMs &&
          known_days_.count(day) == 0) {
        wanted.insert(day);
      }
    }
  }
  for (int64_t day : wanted) {
    DOZOR_RETURN_IF_ERROR(Create(day));
  }
  return OkStatus();
}

Status PgHealthPartitions::EnsureWindow(int64_t now_ms) {
  const int64_t today = DayOf(now_ms);
  std::vector<int64_t> days;
  for (int64_t offset = -kDaysBack; offset <= kDaysAhead; ++offset) {
    days.push_back(today + offset * kDayMs);
  }
  return EnsureFor(days, now_ms);
}

Status PgHealthPartitions::Create(int64_t day_ms) {
  const std::string name = PartitionName(day_ms);
  // The bounds and name come from an integer day, never from input: safe in DDL, which takes
  // no parameters.
  const std::string from = std::to_string(day_ms);
  const std::string to = std::to_string(day_ms + kDayMs);
  Status created = pg::InTransaction(pool_, [&](pg::Connection& db) -> Status {
    DOZOR_RETURN_IF_ERROR(
        db.Query("SELECT pg_advisory_xact_lock($1)", pg::Params(pg_locks::kHealthPartitions)));
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows exists,
        db.Query("SELECT 1 FROM pg_class WHERE relname = $1 AND relkind = 'r'", pg::Params(name)));
    if (!exists.empty()) {
      return OkStatus();
    }
    // Samples of that day already in the default partition (a clock ahead when the day was not
    // yet due) would make the new partition's bounds overlap them: move them over.
    DOZOR_RETURN_IF_ERROR(db.Exec(
        "CREATE TEMP TABLE moving_samples ON COMMIT DROP AS SELECT * FROM health_samples_default "
        "WHERE collected_at >= " +
        from + " AND collected_at < " + to));
    DOZOR_RETURN_IF_ERROR(db.Exec("DELETE FROM health_samples_default WHERE collected_at >= " +
                                  from + " AND collected_at < " + to));
    DOZOR_RETURN_IF_ERROR(db.Exec("CREATE TABLE " + name +
                                  " PARTITION OF health_samples FOR "
                                  "VALUES FROM (" +
                                  from + ") TO (" + to + ")"));
    DOZOR_RETURN_IF_ERROR(db.Exec("INSERT INTO health_samples SELECT * FROM moving_samples"));
    return OkStatus();
  });
  if (!created.ok()) {
    return created.error().Wrap("creating health partition " + name);
  }
  std::lock_guard lock(mu_);
  known_days_.insert(day_ms);
  return OkStatus();
}

Result<std::vector<std::pair<int64_t, std::string>>> PgHealthPartitions::List() {
  DOZOR_ASSIGN_OR_RETURN(auto db, pool_.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'health_samples' "
                "AND c.relname LIKE 'health_samples_p%' ORDER BY c.relname"));
  std::vector<std::pair<int64_t, std::string>> out;
  for (int row = 0; row < rows.size(); ++row) {
    const std::string name = rows.Text(row, 0);
    std::tm day{};
    if (name.size() != 24 || strptime(name.c_str() + 16, "%Y%m%d", &day) == nullptr) {
      continue;  // not one of ours
    }
    out.emplace_back(static_cast<int64_t>(timegm(&day)) * 1000, name);
  }
  return out;
}

Result<int64_t> PgHealthPartitions::Prune(int64_t cutoff_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto partitions, List());
  int64_t removed = 0;
  for (const auto& [day, name] : partitions) {
    if (day + kDayMs <= cutoff_ms) {
      DOZOR_ASSIGN_OR_RETURN(
          int64_t count, pg::InTransaction(pool_, [&](pg::Connection& db) -> Result<int64_t> {
            DOZOR_RETURN_IF_ERROR(db.Query("SELECT pg_advisory_xact_lock($1)",
                                           pg::Params(pg_locks::kHealthPartitions)));
            DOZOR_ASSIGN_OR_RETURN(pg::Rows counted, db.Query("SELECT count(*) FROM " + name));
            DOZOR_RETURN_IF_ERROR(db.Exec("DROP TABLE IF EXISTS " + name));
            return counted.Int(0, 0);
          }));
      removed += count;
      std::lock_guard lock(mu_);
      known_days_.erase(day);
    }
  }
  // The partition holding the cutoff and the default one: row by row, in the parent (partition
  // pruning limits the scan to them).
  DOZOR_ASSIGN_OR_RETURN(auto db, pool_.Acquire());
  DOZOR_ASSIGN_OR_RETURN(int64_t deleted, db->Run("DELETE FROM health_samples WHERE collected_at "
                                                  "< $1",
                                                  pg::Params(cutoff_ms)));
  return removed + deleted;
}

}  // namespace dozor::server
