// The rule-window rows of one ingest batch (migration 003: rule_health_host, rule_health_fs,
// rule_health_nic, rule_fs_trend), derived from the batch's health samples before any of them is
// written. Pure: no database; RuleWindowWriter writes a batch in the ingest transaction.
//
// Collecting a whole batch first is what makes the window cheap to keep: rows are written in
// primary-key order with a few multi-row statements instead of ~14 single-row statements per
// sample, and the hourly trend gets one upsert per (host, mount, hour) per batch instead of one
// per sample (only the newest sample of an hour survives in rule_fs_trend anyway).
//
// Lifetime: text columns are views into the samples passed to Add; the samples must outlive the
// batch (or the next Clear). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "dozor/v1/agent.pb.h"

namespace dozor::server {

// One row of rule_health_host.
struct HostWindowRow {
  int64_t agent = 0;
  int64_t at = 0;
  double cpu_pct = 0;
  double iowait_pct = 0;
  double load1 = 0;
  double load5 = 0;
  double load15 = 0;
  int64_t mem_total_bytes = 0;
  int64_t mem_available_bytes = 0;
  double mem_used_pct = 0;
  int64_t swap_total_bytes = 0;
  double swap_used_pct = 0;
  int64_t process_count = 0;
  int64_t clock_offset_ms = 0;
};

// One row of rule_health_fs.
struct FsWindowRow {
  int64_t agent = 0;
  std::string_view mount;
  int64_t at = 0;
  std::string_view device;
  std::string_view fs_type;
  int64_t total_bytes = 0;
  int64_t avail_bytes = 0;
  double used_pct = 0;
  int64_t inodes_total = 0;
  double inodes_used_pct = 0;
};

// One row of rule_health_nic (only intervals with errors or drops are kept).
struct NicWindowRow {
  int64_t agent = 0;
  std::string_view interface;
  int64_t at = 0;
  int64_t rx_errors = 0;
  int64_t tx_errors = 0;
  int64_t rx_dropped = 0;
  int64_t tx_dropped = 0;
};

// One point of rule_fs_trend: the newest sample of (agent, mount, hour).
struct FsTrendPoint {
  int64_t agent = 0;
  std::string_view mount;
  int64_t hour = 0;  // start of the hour, Unix ms
  int64_t at = 0;
  int64_t total_bytes = 0;
  int64_t avail_bytes = 0;
};

// Start of the hour holding `at_ms` (floor, also before 1970).
int64_t HourStart(int64_t at_ms);

class RuleWindowBatch {
 public:
  // Adds the rows of one health sample collected at `at_ms` by the agent with primary key
  // `agent_pk`. Samples are added in the order they are committed.
  void Add(int64_t agent_pk, int64_t at_ms, int64_t clock_offset_ms,
           const dozor::v1::HealthSample& sample);
  void Clear();
  [[nodiscard]] bool empty() const { return hosts_.empty(); }

  // Rows grouped by host and time (the leading primary-key columns), so that consecutive inserts
  // land on the same B-tree page. Rows of one sample, and rows with the same key, stay in the
  // order they were added: an INSERT OR REPLACE of them in this order keeps the later one, as
  // row-by-row writes did.
  [[nodiscard]] const std::vector<HostWindowRow>& SortedHosts();
  [[nodiscard]] const std::vector<FsWindowRow>& SortedFilesystems();
  [[nodiscard]] const std::vector<NicWindowRow>& SortedNics();
  // One point per (agent, mount, hour), grouped by host and hour: the sample with the largest
  // `at` (of equal ones, the later added), i.e. what upserting every sample with "keep the
  // newer" leaves.
  [[nodiscard]] const std::vector<FsTrendPoint>& CoalescedTrend();

 private:
  std::vector<HostWindowRow> hosts_;
  std::vector<FsWindowRow> filesystems_;
  std::vector<NicWindowRow> nics_;
  std::vector<FsTrendPoint> trend_candidates_;  // one per filesystem and sample, in order
  std::vector<FsTrendPoint> trend_;
};

}  // namespace dozor::server
