// RuleWindowWriter against the row-by-row statements it replaced: the same samples, committed in
// batches of any size, leave exactly the same rule-window tables.
#include "store/sqlite/rule_window_writer.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "dozor/common/sqlite.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

using dozor::testing::TempDir;

constexpr int64_t kWriterHour = 3600 * 1000;
constexpr int64_t kWriterT0 = 1'700'000'000'000 - (1'700'000'000'000 % kWriterHour);

sqlite::Database OpenSchema(const TempDir& dir, const std::string& name) {
  SqliteStoreOptions options;
  options.path = (dir / name).string();
  options.background_checkpoint = false;
  {
    auto store = SqliteStore::Open(options);  // applies the migrations
    REQUIRE(store.ok());
  }
  auto db = sqlite::Database::Open(options.path);
  REQUIRE(db.ok());
  return std::move(db).value();
}

struct WriterSample {
  int64_t agent = 0;
  int64_t at = 0;
  int64_t clock_offset_ms = 0;
  dozor::v1::HealthSample health;
};

std::vector<WriterSample> RandomSamples(size_t count) {
  std::mt19937_64 rng(42);
  std::vector<WriterSample> samples;
  for (size_t i = 0; i < count; ++i) {
    WriterSample s;
    s.agent = 1 + static_cast<int64_t>(rng() % 4);
    // Mostly advancing, sometimes a repeat or an older sample, crossing a few hours.
    s.at =
        kWriterT0 + static_cast<int64_t>(i / 3) * 60'000 - static_cast<int64_t>(rng() % 3) * 60'000;
    s.clock_offset_ms = static_cast<int64_t>(rng() % 1000);
    auto& h = s.health;
    h.set_cpu_percent(static_cast<double>(rng() % 1000) / 10);
    h.set_memory_total_bytes(8'000'000'000);
    h.set_memory_available_bytes(rng() % 8'000'000'000);
    h.set_swap_total_bytes(rng() % 2 == 0 ? 0 : 1'000'000'000);
    h.set_swap_free_bytes(rng() % 1'000'000'000);
    h.set_process_count(static_cast<uint32_t>(rng() % 300));
    for (const char* mount : {"/", "/var", "/home"}) {
      if (rng() % 5 == 0) {
        continue;
      }
      auto* fs = h.add_filesystems();
      fs->set_mount_point(mount);
      fs->set_device("/dev/sda" + std::to_string(rng() % 3));
      fs->set_fs_type(rng() % 2 == 0 ? "ext4" : "xfs");
      fs->set_total_bytes(100'000'000'000);
      fs->set_free_bytes(rng() % 100'000'000'000);
      fs->set_available_bytes(rng() % 90'000'000'000);
      fs->set_inodes_total(rng() % 2 == 0 ? 0 : 1000);
      fs->set_inodes_free(rng() % 1000);
    }
    for (const char* nic_name : {"eth0", "eth1"}) {
      auto* nic = h.add_networks();
      nic->set_interface(nic_name);
      nic->set_rx_errors(rng() % 4 == 0 ? rng() % 10 : 0);
      nic->set_tx_dropped(rng() % 6 == 0 ? rng() % 10 : 0);
    }
    samples.push_back(std::move(s));
  }
  return samples;
}

// The statements ingest ran per sample before RuleWindowWriter (the reference behaviour).
void WriteRowByRow(sqlite::Database& db, const WriterSample& s) {
  RuleWindowBatch one;
  one.Add(s.agent, s.at, s.clock_offset_ms, s.health);
  auto host = db.Prepare(
      "INSERT OR REPLACE INTO rule_health_host(agent, at, cpu_pct, iowait_pct, load1, load5, "
      "load15, mem_total_bytes, mem_available_bytes, mem_used_pct, swap_total_bytes, "
      "swap_used_pct, process_count, clock_offset_ms) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  auto fs = db.Prepare(
      "INSERT OR REPLACE INTO rule_health_fs(agent, mount, at, device, fs_type, total_bytes, "
      "avail_bytes, used_pct, inodes_total, inodes_used_pct) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?)");
  auto trend = db.Prepare(
      "INSERT INTO rule_fs_trend(agent, mount, hour, at, total_bytes, avail_bytes) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(agent, mount, hour) DO UPDATE SET "
      "at = excluded.at, total_bytes = excluded.total_bytes, "
      "avail_bytes = excluded.avail_bytes WHERE excluded.at >= rule_fs_trend.at");
  auto nic = db.Prepare(
      "INSERT OR REPLACE INTO rule_health_nic(agent, interface, at, rx_errors, tx_errors, "
      "rx_dropped, tx_dropped) VALUES (?, ?, ?, ?, ?, ?, ?)");
  REQUIRE((host.ok() && fs.ok() && trend.ok() && nic.ok()));
  for (const auto& r : one.SortedHosts()) {
    REQUIRE(host->Bind(1, r.agent)
                .Bind(2, r.at)
                .Bind(3, r.cpu_pct)
                .Bind(4, r.iowait_pct)
                .Bind(5, r.load1)
                .Bind(6, r.load5)
                .Bind(7, r.load15)
                .Bind(8, r.mem_total_bytes)
                .Bind(9, r.mem_available_bytes)
                .Bind(10, r.mem_used_pct)
                .Bind(11, r.swap_total_bytes)
                .Bind(12, r.swap_used_pct)
                .Bind(13, r.process_count)
                .Bind(14, r.clock_offset_ms)
                .Run()
                .ok());
  }
  // Row by row in the sample's own order, as the old code did.
  for (const auto& f : s.health.filesystems()) {
    for (const auto& r : one.SortedFilesystems()) {
      if (r.mount != f.mount_point()) {
        continue;
      }
      REQUIRE(fs->Bind(1, r.agent)
                  .Bind(2, r.mount)
                  .Bind(3, r.at)
                  .Bind(4, r.device)
                  .Bind(5, r.fs_type)
                  .Bind(6, r.total_bytes)
                  .Bind(7, r.avail_bytes)
                  .Bind(8, r.used_pct)
                  .Bind(9, r.inodes_total)
                  .Bind(10, r.inodes_used_pct)
                  .Run()
                  .ok());
      REQUIRE(trend->Bind(1, r.agent)
                  .Bind(2, r.mount)
                  .Bind(3, HourStart(r.at))
                  .Bind(4, r.at)
                  .Bind(5, r.total_bytes)
                  .Bind(6, r.avail_bytes)
                  .Run()
                  .ok());
    }
  }
  for (const auto& r : one.SortedNics()) {
    REQUIRE(nic->Bind(1, r.agent)
                .Bind(2, r.interface)
                .Bind(3, r.at)
                .Bind(4, r.rx_errors)
                .Bind(5, r.tx_errors)
                .Bind(6, r.rx_dropped)
                .Bind(7, r.tx_dropped)
                .Run()
                .ok());
  }
}

std::string Dump(sqlite::Database& db, const std::string& sql) {
  auto s = db.Prepare(sql);
  REQUIRE(s.ok());
  std::string out;
  int columns = sqlite3_column_count(s->get());
  while (true) {
    auto row = s->Step();
    REQUIRE(row.ok());
    if (!*row) {
      break;
    }
    for (int c = 0; c < columns; ++c) {
      out += s->IsNull(c) ? "NULL" : s->Text(c);
      out += c + 1 < columns ? "|" : "\n";
    }
  }
  return out;
}

void CheckSameTables(sqlite::Database& a, sqlite::Database& b) {
  for (const char* sql : {"SELECT * FROM rule_health_host ORDER BY agent, at",
                          "SELECT * FROM rule_health_fs ORDER BY agent, at, mount",
                          "SELECT * FROM rule_health_nic ORDER BY agent, at, interface",
                          "SELECT * FROM rule_fs_trend ORDER BY agent, mount, hour"}) {
    CAPTURE(sql);
    std::string expected = Dump(b, sql);
    CHECK(!expected.empty());
    CHECK(Dump(a, sql) == expected);
  }
}

TEST_CASE("rule window writer leaves the same tables as row-by-row writes, for any batching") {
  TempDir dir;
  auto samples = RandomSamples(400);
  sqlite::Database reference = OpenSchema(dir, "reference.db");
  {
    sqlite::Transaction txn(reference);
    REQUIRE(txn.Begin().ok());
    for (const auto& s : samples) {
      WriteRowByRow(reference, s);
    }
    REQUIRE(txn.Commit().ok());
  }
  for (size_t batch_size : {size_t{1}, size_t{7}, size_t{64}, size_t{150}, size_t{400}}) {
    CAPTURE(batch_size);
    sqlite::Database db = OpenSchema(dir, "batched" + std::to_string(batch_size) + ".db");
    auto writer = RuleWindowWriter::Prepare(db);
    REQUIRE(writer.ok());
    RuleWindowBatch batch;
    for (size_t start = 0; start < samples.size(); start += batch_size) {
      sqlite::Transaction txn(db);
      REQUIRE(txn.Begin().ok());
      batch.Clear();
      for (size_t i = start; i < std::min(samples.size(), start + batch_size); ++i) {
        batch.Add(samples[i].agent, samples[i].at, samples[i].clock_offset_ms, samples[i].health);
      }
      auto written = (*writer)->Write(batch);
      REQUIRE_MESSAGE(written.ok(), (written.ok() ? "" : written.error().ToString()));
      REQUIRE(txn.Commit().ok());
    }
    CheckSameTables(db, reference);
  }
}

TEST_CASE("rule window writer writes nothing for an empty batch") {
  TempDir dir;
  sqlite::Database db = OpenSchema(dir, "empty.db");
  auto writer = RuleWindowWriter::Prepare(db);
  REQUIRE(writer.ok());
  RuleWindowBatch batch;
  REQUIRE((*writer)->Write(batch).ok());
  CHECK(Dump(db, "SELECT count(*) FROM rule_health_host") == "0\n");
}

}  // namespace
}  // namespace dozor::server
