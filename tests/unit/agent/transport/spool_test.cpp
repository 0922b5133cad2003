#include "transport/spool.hpp"

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"
#include "transport/sqlite_spool.hpp"

namespace dozor::agent {
namespace {

using dozor::testing::TempDir;

dozor::v1::Report HealthReport(int64_t collected_at_ms, size_t padding = 0) {
  dozor::v1::Report report;
  report.set_collected_at_ms(collected_at_ms);
  report.set_agent_version(std::string(padding, 'h'));
  report.mutable_health();
  return report;
}

dozor::v1::Report InventoryReport(int64_t collected_at_ms, size_t padding = 0) {
  dozor::v1::Report report;
  report.set_collected_at_ms(collected_at_ms);
  report.set_agent_version(std::string(padding, 'i'));
  report.mutable_inventory();
  return report;
}

std::unique_ptr<Spool> OpenSpool(const std::filesystem::path& path, uint64_t max_bytes = 1 << 20) {
  auto spool = Spool::Open(SpoolOptions{path, max_bytes});
  REQUIRE_MESSAGE(spool.ok(), spool.error().ToString());
  return std::move(spool).value();
}

uint64_t AppendOk(Spool& spool, dozor::v1::Report report) {
  auto seq = spool.Append(&report);
  REQUIRE_MESSAGE(seq.ok(), seq.error().ToString());
  CHECK(report.seq() == *seq);
  return *seq;
}

std::vector<uint64_t> AllSeqs(Spool& spool) {
  auto all = spool.ReadAfter(0, 1'000'000);
  REQUIRE(all.ok());
  std::vector<uint64_t> seqs;
  for (const auto& item : *all) {
    seqs.push_back(item.seq);
  }
  return seqs;
}

TEST_CASE("drops at the spool's bound are logged once, then summed, not once per append") {
  // An agent offline for days at its bound used to log a warning on every append (80 lines for
  // 95 drops in a short run).
  TempDir dir;
  auto spool = OpenSpool(dir / "spool.db", 64 * 1024);
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_st>(captured)));
  for (int i = 0; i < 200; ++i) {
    AppendOk(*spool, HealthReport(1'700'000'000'000 + i, 2000));
  }
  spdlog::set_default_logger(previous);
  auto stats = spool->Stats();
  REQUIRE(stats.ok());
  REQUIRE(stats->dropped_health_total > 100);  // the bound did drop many
  size_t lines = 0;
  for (size_t at = captured.str().find("dropped"); at != std::string::npos;
       at = captured.str().find("dropped", at + 1)) {
    ++lines;
  }
  CHECK(lines == 1);
  CHECK(captured.str().find("next summary") != std::string::npos);
}

TEST_CASE("spool keeps appended reports and their seqs across close and reopen") {
  TempDir dir;
  const auto path = dir / "spool.db";
  {
    auto spool = OpenSpool(path);
    CHECK(AppendOk(*spool, HealthReport(1000)) == 1);
    CHECK(AppendOk(*spool, InventoryReport(2000)) == 2);
    CHECK(AppendOk(*spool, HealthReport(3000)) == 3);
  }
  auto spool = OpenSpool(path);
  auto items = spool->ReadAfter(0, 10);
  REQUIRE(items.ok());
  REQUIRE(items->size() == 3);
  CHECK((*items)[0].seq == 1);
  CHECK_FALSE((*items)[0].is_inventory);
  CHECK((*items)[1].is_inventory);
  CHECK((*items)[1].collected_at_ms == 2000);
  dozor::v1::Report decoded;
  REQUIRE(decoded.ParseFromString((*items)[2].payload));
  CHECK(decoded.seq() == 3);  // the payload carries its own seq
  CHECK(decoded.collected_at_ms() == 3000);
  CHECK(decoded.has_health());

  auto stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->count == 3);
  CHECK(stats->inventory_count == 1);
  CHECK(stats->next_seq == 4);
  CHECK(stats->oldest_collected_at_ms == 1000);
  uint64_t payload_bytes = 0;
  for (const auto& item : *items) {
    payload_bytes += item.payload.size();
  }
  CHECK(stats->bytes == payload_bytes);  // recomputed at open
}

TEST_CASE("spool seqs keep increasing after removals and reopen") {
  TempDir dir;
  const auto path = dir / "spool.db";
  {
    auto spool = OpenSpool(path);
    AppendOk(*spool, HealthReport(1));
    AppendOk(*spool, HealthReport(2));
    REQUIRE(spool->RemoveUpTo(2).ok());
    CHECK(AllSeqs(*spool).empty());
    CHECK(AppendOk(*spool, HealthReport(3)) == 3);  // never reuses an acked seq
    REQUIRE(spool->Remove(3).ok());
  }
  auto spool = OpenSpool(path);
  CHECK(AppendOk(*spool, HealthReport(4)) == 4);
  auto stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->count == 1);
  CHECK(stats->oldest_collected_at_ms == 4);
}

TEST_CASE("spool ReadAfter pages in seq order and honours the limit") {
  TempDir dir;
  auto spool = OpenSpool(dir / "spool.db");
  for (int i = 0; i < 10; ++i) {
    AppendOk(*spool, HealthReport(i));
  }
  auto page = spool->ReadAfter(4, 3);
  REQUIRE(page.ok());
  REQUIRE(page->size() == 3);
  CHECK((*page)[0].seq == 5);
  CHECK((*page)[2].seq == 7);
  auto tail = spool->ReadAfter(9, 100);
  REQUIRE(tail.ok());
  REQUIRE(tail->size() == 1);
  CHECK((*tail)[0].seq == 10);
  auto none = spool->ReadAfter(0, 0);
  REQUIRE(none.ok());
  CHECK(none->empty());
}

TEST_CASE("spool Remove deletes one report and tolerates a repeated ack") {
  TempDir dir;
  auto spool = OpenSpool(dir / "spool.db");
  AppendOk(*spool, HealthReport(1));
  AppendOk(*spool, HealthReport(2, 100));
  AppendOk(*spool, HealthReport(3));
  auto before = spool->Stats();
  REQUIRE(before.ok());
  REQUIRE(spool->Remove(2).ok());
  REQUIRE(spool->Remove(2).ok());
  REQUIRE(spool->Remove(999).ok());
  CHECK(AllSeqs(*spool) == std::vector<uint64_t>{1, 3});
  auto after = spool->Stats();
  REQUIRE(after.ok());
  CHECK(before->bytes - after->bytes > 100);
}

TEST_CASE("spool RemoveUpTo removes every report at or below the seq") {
  TempDir dir;
  auto spool = OpenSpool(dir / "spool.db");
  for (int i = 0; i < 6; ++i) {
    AppendOk(*spool, i % 2 == 0 ? HealthReport(i) : InventoryReport(i));
  }
  REQUIRE(spool->RemoveUpTo(4).ok());
  CHECK(AllSeqs(*spool) == std::vector<uint64_t>{5, 6});
  auto stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->count == 2);
  CHECK(stats->inventory_count == 1);
  REQUIRE(spool->RemoveUpTo(100).ok());
  stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->count == 0);
  CHECK(stats->bytes == 0);
  CHECK(stats->oldest_collected_at_ms == 0);
}

TEST_CASE("spool EnsureNextSeqAbove raises the next seq persistently and never lowers it") {
  TempDir dir;
  const auto path = dir / "spool.db";
  {
    auto spool = OpenSpool(path);
    AppendOk(*spool, HealthReport(1));
    REQUIRE(spool->EnsureNextSeqAbove(500).ok());
    CHECK(AppendOk(*spool, HealthReport(2)) == 501);
    REQUIRE(spool->EnsureNextSeqAbove(10).ok());  // below: no effect
  }
  auto spool = OpenSpool(path);
  CHECK(AppendOk(*spool, HealthReport(3)) == 502);
  CHECK(spool->EnsureNextSeqAbove(UINT64_MAX).error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("spool over its bound drops the oldest health reports first and counts them") {
  TempDir dir;
  const auto path = dir / "spool.db";
  auto one = HealthReport(0, 1000);
  one.set_seq(1);
  const size_t report_bytes = one.ByteSizeLong();
  // Room for about 5 reports.
  auto spool = OpenSpool(path, report_bytes * 5 + report_bytes / 2);
  AppendOk(*spool, HealthReport(1, 1000));
  AppendOk(*spool, InventoryReport(2, 1000));
  for (int i = 3; i <= 8; ++i) {
    AppendOk(*spool, HealthReport(i, 1000));
  }
  // 8 appended, 5 fit: the three oldest health reports (1, 3, 4) went, the inventory stayed.
  CHECK(AllSeqs(*spool) == std::vector<uint64_t>{2, 5, 6, 7, 8});
  auto stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->dropped_health_total == 3);
  CHECK(stats->bytes <= report_bytes * 5 + report_bytes / 2);

  // The count survives a restart and is stamped into the next report for the server.
  spool.reset();
  spool = OpenSpool(path, report_bytes * 5 + report_bytes / 2);
  auto next = HealthReport(9, 1000);
  REQUIRE(spool->Append(&next).ok());
  CHECK(next.dropped_health_samples() == 3);
  stats = spool->Stats();
  REQUIRE(stats.ok());
  // Report 5 was in the file at open, so the earlier process may have sent it: its drop waits
  // for the server's word instead of being counted now.
  CHECK(stats->dropped_health_total == 3);
  CHECK(stats->dropped_awaiting_server == 1);
  // This spool never met a server: whatever it dropped, the server never got.
  REQUIRE(spool->ReconcileWithServer(0).ok());
  stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->dropped_health_total == 4);
  CHECK(stats->dropped_awaiting_server == 0);
}

TEST_CASE("a health report dropped after it was sent is counted only if the server lacks it") {
  TempDir dir;
  const auto path = dir / "spool.db";
  auto one = HealthReport(0, 1000);
  one.set_seq(1);
  const uint64_t bound = one.ByteSizeLong() * 3 + one.ByteSizeLong() / 2;  // room for 3
  auto spool = OpenSpool(path, bound);
  REQUIRE(spool->ReconcileWithServer(0).ok());  // a new agent's first connection
  for (int i = 1; i <= 3; ++i) AppendOk(*spool, HealthReport(i, 1000));
  auto sent = spool->ReadAfter(0, 10);  // the stream sends 1..3
  REQUIRE(sent.ok());
  REQUIRE(sent->size() == 3);
  AppendOk(*spool, HealthReport(4, 1000));
  AppendOk(*spool, HealthReport(5, 1000));
  AppendOk(*spool, HealthReport(6, 1000));  // 1, 2 and 3 went, all sent: none counted yet
  AppendOk(*spool, HealthReport(7, 1000));  // 4 went, never sent: counted at once
  CHECK(AllSeqs(*spool) == std::vector<uint64_t>{5, 6, 7});
  auto stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->dropped_health_total == 1);
  CHECK(stats->dropped_awaiting_server == 3);

  // A removal that says nothing about the server (an unreadable report) settles nothing.
  REQUIRE(spool->Remove(5).ok());
  stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->dropped_awaiting_server == 3);

  // The ack of 1 on the stream: the server has 1.
  REQUIRE(spool->Acknowledged(1).ok());
  stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->dropped_health_total == 1);
  CHECK(stats->dropped_awaiting_server == 2);

  // The stream broke; the server says it committed up to 2: 3 never arrived and is counted.
  // The state survives a restart in between.
  spool.reset();
  spool = OpenSpool(path, bound);
  stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->dropped_awaiting_server == 2);
  REQUIRE(spool->ReconcileWithServer(2).ok());
  stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->dropped_health_total == 2);
  CHECK(stats->dropped_awaiting_server == 0);
  auto next = HealthReport(8, 1000);
  REQUIRE(spool->Append(&next).ok());
  CHECK(next.dropped_health_samples() == 2);  // the server learns the settled count
}

TEST_CASE(
    "a report sent on an old stream and dropped before it was sent again is not settled by the new "
    "stream's acks") {
  TempDir dir;
  auto one = HealthReport(0, 1000);
  one.set_seq(1);
  const uint64_t bound = one.ByteSizeLong() * 3 + one.ByteSizeLong() / 2;  // room for 3
  auto spool = OpenSpool(dir / "spool.db", bound);
  REQUIRE(spool->ReconcileWithServer(0).ok());
  for (int i = 1; i <= 3; ++i) AppendOk(*spool, HealthReport(i, 1000));
  REQUIRE(spool->ReadAfter(0, 10).ok());  // the old stream sent 1..3, the server committed none
  REQUIRE(spool->ReconcileWithServer(0).ok());  // a new stream: the server has nothing
  AppendOk(*spool, HealthReport(4, 1000));      // 1 goes before the new stream resent it
  auto resent = spool->ReadAfter(0, 10);        // the new stream sends 2..4
  REQUIRE(resent.ok());
  REQUIRE(resent->size() == 3);
  REQUIRE(spool->Acknowledged(2).ok());
  auto stats = spool->Stats();
  REQUIRE(stats.ok());
  // 1 never reached the server: counted at once, not parked and then settled by the ack of 2.
  CHECK(stats->dropped_health_total == 1);
  CHECK(stats->dropped_awaiting_server == 0);
}

TEST_CASE("drops of reports left by an earlier process wait for the server, which may have them") {
  TempDir dir;
  const auto path = dir / "spool.db";
  auto one = HealthReport(0, 1000);
  one.set_seq(1);
  const uint64_t bound = one.ByteSizeLong() * 3 + one.ByteSizeLong() / 2;
  {
    auto spool = OpenSpool(path, bound);
    REQUIRE(spool->ReconcileWithServer(0).ok());
    for (int i = 1; i <= 3; ++i) AppendOk(*spool, HealthReport(i, 1000));
  }  // the process may have sent 1..3 before it stopped
  auto spool = OpenSpool(path, bound);
  AppendOk(*spool, HealthReport(4, 1000));
  AppendOk(*spool, HealthReport(5, 1000));
  auto stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->dropped_health_total == 0);
  CHECK(stats->dropped_awaiting_server == 2);
  REQUIRE(spool->ReconcileWithServer(2).ok());  // it had: nothing was lost
  stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->dropped_health_total == 0);
  CHECK(stats->dropped_awaiting_server == 0);
  CHECK(AllSeqs(*spool) == std::vector<uint64_t>{3, 4, 5});
}

TEST_CASE("spool never drops inventory even when inventory alone is over the bound") {
  TempDir dir;
  auto spool = OpenSpool(dir / "spool.db", 3000);
  AppendOk(*spool, HealthReport(1, 1000));
  for (int i = 2; i <= 6; ++i) {
    AppendOk(*spool, InventoryReport(i, 1000));
  }
  // The newest health report is kept: the bound never discards what was just appended.
  AppendOk(*spool, HealthReport(7, 1000));
  CHECK(AllSeqs(*spool) == std::vector<uint64_t>{2, 3, 4, 5, 6, 7});
  auto stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->inventory_count == 5);
  CHECK(stats->dropped_health_total == 1);
  CHECK(stats->bytes > 3000);  // over the bound, visible to the caller
  AppendOk(*spool, HealthReport(8, 10));
  CHECK(AllSeqs(*spool) == std::vector<uint64_t>{2, 3, 4, 5, 6, 8});
}

TEST_CASE("spool moves a corrupt file aside and starts a fresh one") {
  TempDir dir;
  const auto path = dir / "spool.db";
  {
    std::ofstream out(path, std::ios::binary);
    out << std::string(8192, 'x');  // not a database
  }
  std::string warning;
  auto spool = Spool::Open(SpoolOptions{path, 1 << 20}, &warning);
  REQUIRE_MESSAGE(spool.ok(), spool.error().ToString());
  CHECK(warning.find("corrupt") != std::string::npos);
  CHECK(warning.find(path.string()) != std::string::npos);
  int aside_files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    if (entry.path().filename().string().rfind("spool.db.corrupt-", 0) == 0) {
      ++aside_files;
      CHECK(std::filesystem::file_size(entry.path()) == 8192);
    }
  }
  CHECK(aside_files == 1);
  CHECK(AppendOk(**spool, HealthReport(1)) == 1);
  CHECK(AllSeqs(**spool) == std::vector<uint64_t>{1});
}

TEST_CASE("spool with a damaged page is moved aside") {
  TempDir dir;
  const auto path = dir / "spool.db";
  {
    auto spool = OpenSpool(path);
    for (int i = 0; i < 50; ++i) {
      AppendOk(*spool, HealthReport(i, 2000));
    }
  }
  // Checkpointed on close; scribble over an interior page, keeping the header intact.
  REQUIRE(std::filesystem::file_size(path) > 4096 * 4);
  {
    std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(4096 * 2);
    const std::string garbage(4096, '\x5a');
    io.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  std::string warning;
  auto spool = Spool::Open(SpoolOptions{path, 1 << 20}, &warning);
  REQUIRE_MESSAGE(spool.ok(), spool.error().ToString());
  CHECK_FALSE(warning.empty());
  CHECK(AllSeqs(**spool).empty());
}

TEST_CASE("spool on a healthy file gives no warning") {
  TempDir dir;
  std::string warning;
  auto spool = Spool::Open(SpoolOptions{dir / "sub" / "spool.db", 1 << 20}, &warning);
  REQUIRE(spool.ok());
  CHECK(warning.empty());
}

TEST_CASE("spool on a full disk returns kResourceExhausted, loses nothing and recovers") {
  TempDir dir;
  auto opened = Spool::Open(SpoolOptions{dir / "spool.db", 64 << 20});
  REQUIRE(opened.ok());
  auto& spool = *opened.value();
  auto* sqlite_spool = dynamic_cast<SqliteSpool*>(&spool);
  REQUIRE(sqlite_spool != nullptr);
  AppendOk(spool, HealthReport(1, 100));
  AppendOk(spool, InventoryReport(2, 100));

  // Simulated full disk: the file may not grow by one more page.
  REQUIRE(sqlite_spool->SetMaxPageCountForTesting(1).ok());
  auto big = HealthReport(3, 200'000);
  auto failed = spool.Append(&big);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == ErrorCode::kResourceExhausted);
  CHECK(big.seq() == 0);  // not stamped with a seq that was never stored
  CHECK(AllSeqs(spool) == std::vector<uint64_t>{1, 2});
  auto stats = spool.Stats();
  REQUIRE(stats.ok());
  CHECK(stats->count == 2);
  CHECK(stats->next_seq == 3);

  // Space comes back: the spool carries on with the next seq.
  REQUIRE(sqlite_spool->SetMaxPageCountForTesting(1 << 30).ok());
  CHECK(AppendOk(spool, big) == 3);
  CHECK(AllSeqs(spool) == std::vector<uint64_t>{1, 2, 3});
}

TEST_CASE("spool refuses a file written by a newer schema instead of discarding it") {
  TempDir dir;
  const auto path = dir / "spool.db";
  {
    auto db = sqlite::Database::Open(path);
    REQUIRE(db.ok());
    REQUIRE(db->Exec("PRAGMA user_version=99").ok());
  }
  std::string warning;
  auto spool = Spool::Open(SpoolOptions{path, 1 << 20}, &warning);
  REQUIRE_FALSE(spool.ok());
  CHECK(spool.error().code == ErrorCode::kFailedPrecondition);
  CHECK(std::filesystem::exists(path));
}

TEST_CASE("spool appends on one thread while another reads and removes") {
  TempDir dir;
  auto spool = OpenSpool(dir / "spool.db", 64 << 20);
  constexpr int kReports = 300;
  std::atomic<bool> writer_failed{false};
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kReports; ++i) {
      auto report = HealthReport(i, 50);
      if (!spool->Append(&report).ok()) {
        writer_failed = true;
      }
    }
    done = true;
  });
  uint64_t acked = 0;
  uint64_t last_seen = 0;
  bool ordered = true;
  bool reader_failed = false;
  while (true) {
    const bool finished = done.load();
    auto page = spool->ReadAfter(acked, 32);
    if (!page.ok()) {
      reader_failed = true;
      break;
    }
    for (const auto& item : *page) {
      ordered = ordered && item.seq > last_seen;
      last_seen = item.seq;
    }
    if (!page->empty()) {
      acked = page->back().seq;
      if (!spool->RemoveUpTo(acked).ok()) {
        reader_failed = true;
        break;
      }
    } else if (finished) {
      break;
    }
  }
  writer.join();
  CHECK_FALSE(writer_failed.load());
  CHECK_FALSE(reader_failed);
  CHECK(ordered);
  CHECK(last_seen == kReports);
  auto stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->count == 0);
  CHECK(stats->bytes == 0);
}

}  // namespace
}  // namespace dozor::agent

namespace dozor::agent {
namespace {

TEST_CASE("a fresh spool renumbers its reports above what the server already committed") {
  // The state dir was restored or the spool was recreated: the server has this agent up to 100,
  // and the spool's new reports 1..3 must not be mistaken for already committed ones.
  testing::TempDir dir;
  auto spool = OpenSpool(dir / "spool.db");
  AppendOk(*spool, HealthReport(1));
  AppendOk(*spool, HealthReport(2));
  AppendOk(*spool, HealthReport(3));
  REQUIRE(spool->ReconcileWithServer(100).ok());
  CHECK(AllSeqs(*spool) == std::vector<uint64_t>{101, 102, 103});
  CHECK(AppendOk(*spool, HealthReport(4)) == 104);
  // Once reconciled, a later connect removes what the server has (its acks were lost).
  REQUIRE(spool->ReconcileWithServer(102).ok());
  CHECK(AllSeqs(*spool) == std::vector<uint64_t>{103, 104});
  auto stats = spool->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->count == 2);
  CHECK(stats->next_seq == 105);
}

TEST_CASE("a reconciled spool survives reopen and keeps numbering above the server") {
  testing::TempDir dir;
  {
    auto spool = OpenSpool(dir / "spool.db");
    REQUIRE(spool->ReconcileWithServer(0).ok());  // first connect of a new agent
    AppendOk(*spool, HealthReport(1));
    AppendOk(*spool, HealthReport(2));
  }
  auto spool = OpenSpool(dir / "spool.db");
  REQUIRE(spool->ReconcileWithServer(1).ok());
  CHECK(AllSeqs(*spool) == std::vector<uint64_t>{2});
  REQUIRE(spool->ReconcileWithServer(50).ok());  // server ahead (e.g. spool restored from backup)
  CHECK(AllSeqs(*spool).empty());
  CHECK(AppendOk(*spool, HealthReport(3)) == 51);
}

}  // namespace
}  // namespace dozor::agent
