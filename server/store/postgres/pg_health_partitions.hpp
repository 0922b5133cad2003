// The daily partitions of health_samples (migration 007). Samples are written into the partition
// of their collection day; days from a week back to two days ahead get a partition of their own
// (created on demand by ingest and ahead of time by maintenance), anything else — a backlog older
// than a week, a clock far ahead — lands in the default partition. Retention then drops whole
// partitions (DROP TABLE: no row-by-row DELETE, no vacuum debt) and deletes only what the default
// partition and the partition holding the cutoff keep of older samples.
//
// Thread-safe; partition DDL runs in its own transaction under an advisory lock, so replicas
// creating the same day's partition at once do it once.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "dozor/common/result.hpp"
#include "store/postgres/pg_client.hpp"

namespace dozor::server {

class PgHealthPartitions {
 public:
  static constexpr int64_t kDayMs = 86'400'000;
  static constexpr int64_t kDaysBack = 7;
  static constexpr int64_t kDaysAhead = 2;

  explicit PgHealthPartitions(pg::Pool& pool) : pool_(pool) {}

  // The day (start, Unix ms) a sample collected at `at_ms` belongs to.
  static int64_t DayOf(int64_t at_ms);
  // "health_samples_p20261205" for the day starting at `day_ms`.
  static std::string PartitionName(int64_t day_ms);

  // Makes sure the partitions of these sample times exist where they are due one (within
  // [now - kDaysBack, now + kDaysAhead] days); the others go to the default partition.
  Status EnsureFor(const std::vector<int64_t>& collected_at_ms, int64_t now_ms);
  // Creates the partitions of the days from now - kDaysBack to now + kDaysAhead.
  Status EnsureWindow(int64_t now_ms);

  // Deletes samples collected before cutoff_ms: drops partitions wholly before it, deletes rows
  // from the one holding it and from the default partition. Returns the samples removed.
  Result<int64_t> Prune(int64_t cutoff_ms);

  // The partitions as the database has them: (day start, name), oldest first.
  Result<std::vector<std::pair<int64_t, std::string>>> List();

 private:
  Status Create(int64_t day_ms);

  pg::Pool& pool_;
  std::mutex mu_;
  std::set<int64_t> known_days_;  // partitions this process saw exist
};

}  // namespace dozor::server
