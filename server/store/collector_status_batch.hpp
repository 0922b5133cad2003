// The host_collectors rows of one ingest batch: each report carries its collectors' statuses,
// and the table keeps one row per (host, collector), so only the last status per key in the
// batch needs writing. Pure: the store writes the rows in its ingest transaction.
//
// Lifetime: rows point into the statuses passed to Add, which must outlive the batch (or the next
// Clear). Not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "dozor/v1/agent.pb.h"

namespace dozor::server {

struct CollectorStatusRow {
  int64_t agent = 0;
  int64_t at = 0;  // collected_at of the report that carried the status
  const dozor::v1::CollectorStatus* status = nullptr;
};

class CollectorStatusBatch {
 public:
  // Statuses are added in commit order; a later one replaces an earlier one of the same key.
  void Add(int64_t agent_pk, int64_t at_ms, const dozor::v1::CollectorStatus& status);
  void Clear() { rows_.clear(); }

  // One row per (agent, collector name), grouped by agent: the last one added. Writing these
  // with INSERT OR REPLACE leaves what writing every added row in order left.
  [[nodiscard]] const std::vector<CollectorStatusRow>& Latest();

 private:
  std::vector<CollectorStatusRow> rows_;
  std::vector<CollectorStatusRow> latest_;
};

}  // namespace dozor::server
