#include "store/collector_status_batch.hpp"

#include <algorithm>

namespace dozor::server {

void CollectorStatusBatch::Add(int64_t agent_pk, int64_t at_ms,
                               const dozor::v1::CollectorStatus& status) {
  rows_.push_back(CollectorStatusRow{.agent = agent_pk, .at = at_ms, .status = &status});
}

const std::vector<CollectorStatusRow>& CollectorStatusBatch::Latest() {
  // Stable by agent: a host's statuses stay in commit order, and a host has only a handful of
  // collectors, so finding the name among its rows so far is a short scan.
  std::stable_sort(
      rows_.begin(), rows_.end(),
      [](const CollectorStatusRow& a, const CollectorStatusRow& b) { return a.agent < b.agent; });
  latest_.clear();
  size_t group_start = 0;
  for (const CollectorStatusRow& row : rows_) {
    if (group_start < latest_.size() && latest_[group_start].agent != row.agent) {
      group_start = latest_.size();
    }
    auto same = std::find_if(
        latest_.begin() + static_cast<ptrdiff_t>(group_start), latest_.end(),
        [&](const CollectorStatusRow& kept) { return kept.status->name() == row.status->name(); });
    if (same == latest_.end()) {
      latest_.push_back(row);
    } else {
      *same = row;
    }
  }
  return latest_;
}

}  // namespace dozor::server
