#include "store/rule_window_batch.hpp"

#include <doctest/doctest.h>

namespace dozor::server {
namespace {

constexpr int64_t kHour = 3600 * 1000;
constexpr int64_t kT0 = 1'700'000'000'000 - (1'700'000'000'000 % kHour);

dozor::v1::HealthSample Sample(uint64_t root_avail, bool nic_errors = false) {
  dozor::v1::HealthSample h;
  h.set_cpu_percent(40);
  h.set_memory_total_bytes(8'000'000'000);
  h.set_memory_available_bytes(2'000'000'000);
  h.set_swap_total_bytes(1'000'000'000);
  h.set_swap_free_bytes(750'000'000);
  h.set_process_count(123);
  for (const char* mount : {"/var", "/"}) {
    auto* fs = h.add_filesystems();
    fs->set_mount_point(mount);
    fs->set_device("/dev/sda1");
    fs->set_fs_type("ext4");
    fs->set_total_bytes(100'000'000'000);
    fs->set_free_bytes(root_avail + 5'000'000'000);
    fs->set_available_bytes(root_avail);
    fs->set_inodes_total(1000);
    fs->set_inodes_free(250);
  }
  auto* nic = h.add_networks();
  nic->set_interface("eth0");
  if (nic_errors) {
    nic->set_rx_errors(3);
    nic->set_tx_dropped(7);
  }
  return h;
}

TEST_CASE("rule window batch derives percentages as df and free do") {
  auto sample = Sample(5'000'000'000, true);
  RuleWindowBatch batch;
  batch.Add(7, kT0 + 60'000, 1500, sample);
  const auto& hosts = batch.SortedHosts();
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0].mem_used_pct == doctest::Approx(75.0));
  CHECK(hosts[0].swap_used_pct == doctest::Approx(25.0));
  CHECK(hosts[0].clock_offset_ms == 1500);
  CHECK(hosts[0].process_count == 123);
  const auto& fs = batch.SortedFilesystems();
  REQUIRE(fs.size() == 2);
  CHECK(fs[1].mount == "/");  // a sample's filesystems stay in the sample's order
  CHECK(fs[1].used_pct == doctest::Approx(100.0 * 90.0 / 95.0));  // root reserve counts as used
  CHECK(fs[1].inodes_used_pct == doctest::Approx(75.0));
  const auto& nics = batch.SortedNics();
  REQUIRE(nics.size() == 1);
  CHECK(nics[0].rx_errors + nics[0].tx_dropped == 10);
}

TEST_CASE("rule window batch keeps NIC rows only for intervals with errors or drops") {
  auto clean = Sample(1, false);
  RuleWindowBatch batch;
  batch.Add(1, kT0, 0, clean);
  CHECK(batch.SortedNics().empty());
  CHECK(batch.SortedFilesystems().size() == 2);
}

TEST_CASE("rule window batch sorts by key and keeps equal keys in arrival order") {
  auto first = Sample(1);
  auto second = Sample(2);
  auto other = Sample(3);
  RuleWindowBatch batch;
  batch.Add(2, kT0, 0, other);
  batch.Add(1, kT0 + 60'000, 11, first);
  batch.Add(1, kT0 + 60'000, 22, second);  // same collected_at: must win, as it did row by row
  batch.Add(1, kT0, 33, first);
  const auto& hosts = batch.SortedHosts();
  REQUIRE(hosts.size() == 4);
  CHECK(hosts[0].agent == 1);
  CHECK(hosts[0].at == kT0);
  CHECK(hosts[1].clock_offset_ms == 11);
  CHECK(hosts[2].clock_offset_ms == 22);
  CHECK(hosts[3].agent == 2);
}

TEST_CASE("rule window batch coalesces the trend to the newest sample per host, mount and hour") {
  auto a = Sample(10);
  auto b = Sample(20);
  auto c = Sample(30);
  auto d = Sample(40);
  RuleWindowBatch batch;
  batch.Add(1, kT0 + 120'000, 0, a);
  batch.Add(1, kT0 + 60'000, 0, b);     // older, arrives later: does not replace a
  batch.Add(1, kT0 + kHour + 1, 0, c);  // next hour: a point of its own
  batch.Add(2, kT0 + 120'000, 0, d);
  batch.Add(1, kT0 + 120'000, 0, d);  // same time as a, later: replaces it
  const auto& trend = batch.CoalescedTrend();
  REQUIRE(trend.size() == 6);  // (agent 1: 2 hours, agent 2: 1 hour) x 2 mounts
  auto find = [&](int64_t agent, std::string_view mount, int64_t hour) {
    const FsTrendPoint* found = nullptr;
    for (const auto& p : trend) {
      if (p.agent == agent && p.mount == mount && p.hour == hour) {
        CHECK(found == nullptr);  // one point per key
        found = &p;
      }
    }
    REQUIRE(found != nullptr);
    return *found;
  };
  CHECK(find(1, "/", kT0).at == kT0 + 120'000);
  CHECK(find(1, "/", kT0).avail_bytes == 40);
  CHECK(find(1, "/var", kT0).avail_bytes == 40);
  CHECK(find(1, "/", kT0 + kHour).avail_bytes == 30);
  CHECK(find(2, "/var", kT0).avail_bytes == 40);
  CHECK(trend[0].agent == 1);  // grouped by host, then hour
  CHECK(trend[0].hour == kT0);
  CHECK(trend[5].agent == 2);
}

TEST_CASE("rule window batch hour start is a floor, also before 1970") {
  CHECK(HourStart(kT0 + 1) == kT0);
  CHECK(HourStart(kT0) == kT0);
  CHECK(HourStart(-1) == -kHour);
}

TEST_CASE("rule window batch clear forgets every row") {
  auto sample = Sample(1, true);
  RuleWindowBatch batch;
  batch.Add(1, kT0, 0, sample);
  batch.Clear();
  CHECK(batch.empty());
  CHECK(batch.SortedFilesystems().empty());
  CHECK(batch.SortedNics().empty());
  CHECK(batch.CoalescedTrend().empty());
}

}  // namespace
}  // namespace dozor::server
