// Compacted health on PostgreSQL (store/postgres/pg_health_blocks.hpp): closed days move into
// hourly blocks and read back exactly as before, emptied partitions give their space back, late
// samples merge into their hour's blocks, and retention cuts through blocks exactly.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::Commit;
using dozor::testing::EnrollHost;
using dozor::testing::HealthReport;
using dozor::testing::Ok;
using dozor::testing::PostgresBackend;

constexpr int64_t kBlocksT0 = dozor::testing::kBackendClockStartMs;  // 2027-01-15 08:00 UTC
constexpr int64_t kBlocksDay = 86'400'000;
constexpr int64_t kBlocksStep = 5 * 60'000;

using SeenSample = std::tuple<int64_t, uint64_t, double>;  // collected_at, seq, cpu

std::vector<SeenSample> Listed(Store& store, const std::string& agent) {
  std::vector<SeenSample> out;
  for (const HealthRecord& record : Ok(store.Hosts().ListHealth(agent, 0, 100000))) {
    out.emplace_back(record.collected_at_ms, record.seq, record.sample.cpu_percent());
  }
  return out;
}

std::vector<std::pair<int64_t, double>> Visited(Store& store, const std::string& agent,
                                                int64_t from_ms, int64_t to_ms) {
  std::vector<std::pair<int64_t, double>> out;
  Ok(store.Hosts().VisitHealth(agent, from_ms, to_ms,
                               [&](int64_t at, const dozor::v1::HealthSample& sample) {
                                 out.emplace_back(at, sample.cpu_percent());
                               }));
  return out;
}

TEST_CASE("PostgreSQL health blocks: closed days compact, read back unchanged, space comes back") {
  PostgresBackend backend;
  auto& store = *backend.store;
  auto& blocks = backend.store->Hosts().health_blocks();
  EnrollHost(store, "Acme", "b1");
  EnrollHost(store, "Acme", "b2");
  // Three days and a bit of samples every 5 minutes, cpu moving a little each time.
  const int64_t now = kBlocksT0 + 3 * kBlocksDay + 2 * 3'600'000;
  backend.clock.SetMs(now);
  uint64_t seq = 0;
  std::vector<IncomingReport> batch;
  for (int64_t at = kBlocksT0; at < now; at += kBlocksStep) {
    ++seq;
    for (const char* agent : {"b1", "b2"}) {
      batch.push_back(HealthReport(agent, seq, at, 10.0 + static_cast<double>(seq % 37) / 10));
      if (batch.size() == 500) {
        Commit(store, std::move(batch));
        batch.clear();
      }
    }
  }
  Commit(store, std::move(batch));
  const auto listed_before = Listed(store, "b1");
  const auto visited_before = Visited(store, "b1", kBlocksT0 - kBlocksDay, now);
  const auto window_before = Visited(store, "b2", kBlocksT0 + kBlocksDay + 7'777, now - 99'999);
  REQUIRE(listed_before.size() == seq);
  const int64_t raw_before = backend.QueryInt("SELECT count(*) FROM health_samples");

  // 2027-01-15, -16, -17 (UTC) are over; the 18th is open.
  const int64_t day18 = (now / kBlocksDay) * kBlocksDay;
  auto first = Ok(blocks.Compact(now - 3'600'000));
  CHECK(first.failed_buckets == 0);
  CHECK(first.first_failure.empty());
  const int64_t open_day = backend.QueryInt(
      "SELECT count(*) FROM health_samples WHERE collected_at >= " + std::to_string(day18));
  CHECK(first.samples == raw_before - open_day);
  CHECK(backend.QueryInt("SELECT count(*) FROM health_samples") == open_day);
  CHECK(first.buckets == 2 * (day18 - kBlocksT0) / 3'600'000);
  CHECK(backend.QueryInt("SELECT coalesce(sum(count), 0)::bigint FROM health_blocks") ==
        first.samples);
  MESSAGE("compacted " << first.samples << " samples: " << first.raw_bytes << " bytes raw, "
                       << first.block_bytes << " in " << first.blocks_written << " blocks");
  CHECK(first.block_bytes * 3 < first.raw_bytes);

  CHECK(Listed(store, "b1") == listed_before);
  CHECK(Visited(store, "b1", kBlocksT0 - kBlocksDay, now) == visited_before);
  // A range reaching far past the samples reads only the days that have some.
  CHECK(Visited(store, "b1", INT64_MIN, INT64_MAX) == visited_before);
  CHECK(Visited(store, "b2", kBlocksT0 + kBlocksDay + 7'777, now - 99'999) == window_before);
  // The newest few come from the raw rows, a page reaching into blocks from both.
  auto newest = Ok(store.Hosts().ListHealth("b1", 0, 3));
  REQUIRE(newest.size() == 3);
  CHECK(newest[0].seq == seq);
  auto across = Ok(store.Hosts().ListHealth("b1", 0, static_cast<int>(open_day / 2 + 30)));
  REQUIRE(across.size() == static_cast<size_t>(open_day / 2 + 30));
  CHECK(across.back().collected_at_ms < day18);
  for (size_t i = 1; i < across.size(); ++i) {
    CHECK(across[i - 1].collected_at_ms > across[i].collected_at_ms);
  }

  // The emptied partitions are truncated by the next pass, and only they.
  const auto partition_bytes = [&](int64_t day) {
    return backend.QueryInt("SELECT pg_relation_size('" + PgHealthPartitions::PartitionName(day) +
                            "')");
  };
  CHECK(partition_bytes(day18 - kBlocksDay) > 0);
  auto second = Ok(blocks.Compact(now - 3'600'000));
  CHECK(second.partitions_truncated == 3);
  CHECK(second.samples == 0);
  CHECK(partition_bytes(day18 - kBlocksDay) == 0);
  CHECK(partition_bytes(day18) > 0);
  CHECK(Listed(store, "b1") == listed_before);
  // Already empty: left alone.
  auto third = Ok(blocks.Compact(now - 3'600'000));
  CHECK(third.partitions_truncated == 0);
  CHECK(third.samples == 0);

  // A sample arriving late for a compacted hour merges into that hour's blocks.
  const int64_t late_at = kBlocksT0 + kBlocksDay + 3 * 3'600'000 + 60'000;
  Commit(store, {HealthReport("b1", seq + 1, late_at, 99.5)});
  auto merged = Ok(blocks.Compact(now - 3'600'000));
  CHECK(merged.samples == 1);
  CHECK(merged.buckets == 1);
  auto after_late = Visited(store, "b1", late_at - 3'600'000, late_at + 3'600'000);
  CHECK(after_late.size() == 25);
  CHECK(std::count(after_late.begin(), after_late.end(), std::make_pair(late_at, 99.5)) == 1);

  // Retention cutting through an hour's block drops exactly the samples before the cutoff.
  const int64_t cutoff = kBlocksT0 + 2 * 3'600'000 + 17 * 60'000;
  const int64_t before_cutoff =
      static_cast<int64_t>(Visited(store, "b1", kBlocksT0 - kBlocksDay, cutoff).size() +
                           Visited(store, "b2", kBlocksT0 - kBlocksDay, cutoff).size());
  CHECK(before_cutoff == 2 * 28);  // 08:00 to 10:15 every 5 minutes, for each agent
  CHECK(Ok(store.Hosts().PruneHealth(cutoff)) == before_cutoff);
  CHECK(Visited(store, "b1", kBlocksT0 - kBlocksDay, cutoff).empty());
  CHECK(Visited(store, "b1", cutoff, now).front().first == kBlocksT0 + 2 * 3'600'000 + 20 * 60'000);
}

}  // namespace
}  // namespace dozor::server
