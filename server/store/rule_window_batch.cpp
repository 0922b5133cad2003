#include "store/rule_window_batch.hpp"

#include <algorithm>

namespace dozor::server {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;

double Percent(double part, double whole) { return whole > 0 ? 100.0 * part / whole : 0.0; }

int64_t AsInt(uint64_t value) { return static_cast<int64_t>(value); }

}  // namespace

int64_t HourStart(int64_t at_ms) { return at_ms - (((at_ms % kHourMs) + kHourMs) % kHourMs); }

void RuleWindowBatch::Add(int64_t agent_pk, int64_t at_ms, int64_t clock_offset_ms,
                          const dozor::v1::HealthSample& h) {
  auto mem_total = static_cast<double>(h.memory_total_bytes());
  auto mem_avail = static_cast<double>(h.memory_available_bytes());
  auto swap_total = static_cast<double>(h.swap_total_bytes());
  auto swap_free = static_cast<double>(h.swap_free_bytes());
  hosts_.push_back(HostWindowRow{
      .agent = agent_pk,
      .at = at_ms,
      .cpu_pct = h.cpu_percent(),
      .iowait_pct = h.cpu_iowait_percent(),
      .load1 = h.load1(),
      .load5 = h.load5(),
      .load15 = h.load15(),
      .mem_total_bytes = AsInt(h.memory_total_bytes()),
      .mem_available_bytes = AsInt(h.memory_available_bytes()),
      .mem_used_pct = Percent(std::max(0.0, mem_total - mem_avail), mem_total),
      .swap_total_bytes = AsInt(h.swap_total_bytes()),
      .swap_used_pct = Percent(std::max(0.0, swap_total - swap_free), swap_total),
      .process_count = static_cast<int64_t>(h.process_count()),
      .clock_offset_ms = clock_offset_ms,
  });
  const int64_t hour = HourStart(at_ms);
  for (const dozor::v1::FilesystemUsage& fs : h.filesystems()) {
    // As df shows it: used / (used + available to unprivileged users), so the root reserve
    // counts as used.
    auto used = static_cast<double>(
        fs.total_bytes() >= fs.free_bytes() ? fs.total_bytes() - fs.free_bytes() : 0);
    double used_pct =
        fs.total_bytes() > 0 ? Percent(used, used + static_cast<double>(fs.available_bytes())) : 0;
    double inodes_used_pct =
        fs.inodes_total() > 0 && fs.inodes_total() >= fs.inodes_free()
            ? Percent(static_cast<double>(fs.inodes_total() - fs.inodes_free()),
                      static_cast<double>(fs.inodes_total()))
            : 0.0;
    filesystems_.push_back(FsWindowRow{
        .agent = agent_pk,
        .mount = fs.mount_point(),
        .at = at_ms,
        .device = fs.device(),
        .fs_type = fs.fs_type(),
        .total_bytes = AsInt(fs.total_bytes()),
        .avail_bytes = AsInt(fs.available_bytes()),
        .used_pct = used_pct,
        .inodes_total = AsInt(fs.inodes_total()),
        .inodes_used_pct = inodes_used_pct,
    });
    trend_candidates_.push_back(FsTrendPoint{.agent = agent_pk,
                                             .mount = fs.mount_point(),
                                             .hour = hour,
                                             .at = at_ms,
                                             .total_bytes = AsInt(fs.total_bytes()),
                                             .avail_bytes = AsInt(fs.available_bytes())});
  }
  // Only intervals with errors or drops: rules sum them over a window, and a clean interval adds
  // nothing but rows to scan (docs/rule-language.md, health_nic).
  for (const dozor::v1::NetworkIo& nic : h.networks()) {
    if (nic.rx_errors() + nic.tx_errors() + nic.rx_dropped() + nic.tx_dropped() == 0) {
      continue;
    }
    nics_.push_back(NicWindowRow{
        .agent = agent_pk,
        .interface = nic.interface(),
        .at = at_ms,
        .rx_errors = AsInt(nic.rx_errors()),
        .tx_errors = AsInt(nic.tx_errors()),
        .rx_dropped = AsInt(nic.rx_dropped()),
        .tx_dropped = AsInt(nic.tx_dropped()),
    });
  }
}

void RuleWindowBatch::Clear() {
  hosts_.clear();
  filesystems_.clear();
  nics_.clear();
  trend_candidates_.clear();
  trend_.clear();
}

// Sorting compares only (agent, at): rows of one sample share them and stay in the sample's order,
// which is all the B-tree needs for locality, and integer keys keep the sort cheap next to the
// inserts. Stable, so equal keys keep their arrival order (see the header).
template <typename Row>
void SortByAgentAndTime(std::vector<Row>& rows) {
  std::stable_sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.agent != b.agent ? a.agent < b.agent : a.at < b.at;
  });
}

const std::vector<HostWindowRow>& RuleWindowBatch::SortedHosts() {
  SortByAgentAndTime(hosts_);
  return hosts_;
}

const std::vector<FsWindowRow>& RuleWindowBatch::SortedFilesystems() {
  SortByAgentAndTime(filesystems_);
  return filesystems_;
}

const std::vector<NicWindowRow>& RuleWindowBatch::SortedNics() {
  SortByAgentAndTime(nics_);
  return nics_;
}

const std::vector<FsTrendPoint>& RuleWindowBatch::CoalescedTrend() {
  // Group by (agent, hour) with integer compares; arrival order is kept inside a group. A group
  // holds the few samples of one host in one hour of this batch, so finding the mount among the
  // group's points so far is a short scan.
  std::stable_sort(trend_candidates_.begin(), trend_candidates_.end(),
                   [](const FsTrendPoint& a, const FsTrendPoint& b) {
                     return a.agent != b.agent ? a.agent < b.agent : a.hour < b.hour;
                   });
  trend_.clear();
  size_t group_start = 0;
  for (const FsTrendPoint& point : trend_candidates_) {
    if (group_start < trend_.size() &&
        (trend_[group_start].agent != point.agent || trend_[group_start].hour != point.hour)) {
      group_start = trend_.size();
    }
    auto same_mount =
        std::find_if(trend_.begin() + static_cast<ptrdiff_t>(group_start), trend_.end(),
                     [&](const FsTrendPoint& kept) { return kept.mount == point.mount; });
    if (same_mount == trend_.end()) {
      trend_.push_back(point);
    } else if (point.at >= same_mount->at) {
      *same_mount = point;  // newer, or as new and later: what "keep the newer" upserts leave
    }
  }
  return trend_;
}

}  // namespace dozor::server
