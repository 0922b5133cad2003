// Store ingest benchmark: commits N synthetic health reports from M agents in batches through
// SqliteStore::CommitReports and prints throughput, commit latency and on-disk bytes per sample.
//
//   store_bench [--reports N] [--agents M] [--batch B] [--dir PATH] [--no-bg-checkpoint]
//
// The sample is shaped like a real one: ~50 values (CPU, load, memory, swap, 3 filesystems,
// 2 disks, 2 network interfaces, 2 temperatures) plus the top 5 processes by CPU.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "dozor/common/codec.hpp"
#include "dozor/common/sqlite.hpp"
#include "store/sqlite_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

dozor::v1::HealthSample MakeSample(std::mt19937_64& rng, int minute) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  dozor::v1::HealthSample s;
  double wave = 0.5 + 0.4 * std::sin(minute / 60.0);
  s.set_cpu_percent(std::round(100 * wave * unit(rng) * 10) / 10);
  s.set_cpu_iowait_percent(std::round(unit(rng) * 50) / 10);
  s.set_load1(std::round(wave * 400 * unit(rng)) / 100);
  s.set_load5(std::round(wave * 300) / 100);
  s.set_load15(std::round(wave * 250) / 100);
  s.set_memory_total_bytes(16ull << 30);
  s.set_memory_available_bytes((6ull << 30) + static_cast<uint64_t>(unit(rng) * (1ull << 30)));
  s.set_swap_total_bytes(2ull << 30);
  s.set_swap_free_bytes((2ull << 30) - static_cast<uint64_t>(unit(rng) * (64ull << 20)));
  s.set_process_count(180 + static_cast<uint32_t>(unit(rng) * 20));
  s.set_interval_seconds(60);
  const char* mounts[][3] = {{"/", "/dev/sda1", "ext4"},
                             {"/var/lib/postgresql", "/dev/sdb1", "xfs"},
                             {"/boot", "/dev/sda2", "ext4"}};
  for (const auto& m : mounts) {
    auto* fs = s.add_filesystems();
    fs->set_mount_point(m[0]);
    fs->set_device(m[1]);
    fs->set_fs_type(m[2]);
    fs->set_total_bytes(500ull << 30);
    fs->set_free_bytes((200ull << 30) + static_cast<uint64_t>(unit(rng) * (1ull << 30)));
    fs->set_available_bytes((175ull << 30) + static_cast<uint64_t>(unit(rng) * (1ull << 30)));
    fs->set_inodes_total(32768000);
    fs->set_inodes_free(31000000 + static_cast<uint64_t>(unit(rng) * 10000));
  }
  for (const char* name : {"sda", "sdb"}) {
    auto* d = s.add_disks();
    d->set_device(name);
    d->set_read_bytes_per_s(std::round(unit(rng) * 5e6));
    d->set_write_bytes_per_s(std::round(unit(rng) * 8e6));
    d->set_reads_per_s(std::round(unit(rng) * 2000) / 10);
    d->set_writes_per_s(std::round(unit(rng) * 3000) / 10);
    d->set_busy_percent(std::round(unit(rng) * 400) / 10);
  }
  for (const char* name : {"eth0", "eth1"}) {
    auto* n = s.add_networks();
    n->set_interface(name);
    n->set_rx_bytes_per_s(std::round(unit(rng) * 2e6));
    n->set_tx_bytes_per_s(std::round(unit(rng) * 1e6));
    n->set_rx_errors(0);
    n->set_tx_errors(0);
    n->set_rx_dropped(unit(rng) < 0.1 ? 1 : 0);
    n->set_tx_dropped(0);
  }
  const char* processes[] = {"postgres", "java", "rphost", "nginx", "systemd-journald"};
  for (int i = 0; i < 5; ++i) {
    auto* p = s.add_top_cpu();
    p->set_pid(1000 + static_cast<uint32_t>(i) * 37);
    p->set_name(processes[i]);
    p->set_cpu_percent(std::round(unit(rng) * 800) / 10);
    p->set_rss_bytes((100ull << 20) + static_cast<uint64_t>(unit(rng) * (500ull << 20)));
  }
  for (const char* sensor : {"coretemp/Package id 0", "nvme/Composite"}) {
    auto* t = s.add_temperatures();
    t->set_sensor(sensor);
    t->set_celsius(std::round((40 + unit(rng) * 20) * 10) / 10);
  }
  return s;
}

// Process CPU time (all threads, including the background checkpointer): on a shared machine the
// wall clock mostly measures fsync latency and other tenants, CPU time measures the store itself.
double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  size_t index = static_cast<size_t>(p * static_cast<double>(values.size() - 1));
  return values[index];
}

}  // namespace

int main(int argc, char** argv) {
  int64_t reports = 200000;
  int agents = 1000;
  int batch_size = 200;
  bool background_checkpoint = true;
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "dozor-store-bench";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : "0"; };
    if (arg == "--reports") {
      reports = std::atoll(next());
    } else if (arg == "--agents") {
      agents = std::atoi(next());
    } else if (arg == "--batch") {
      batch_size = std::atoi(next());
    } else if (arg == "--dir") {
      dir = next();
    } else if (arg == "--no-bg-checkpoint") {
      background_checkpoint = false;
    } else {
      std::fprintf(stderr,
                   "usage: store_bench [--reports N] [--agents M] [--batch B] [--dir PATH] "
                   "[--no-bg-checkpoint]\n");
      return 2;
    }
  }
  if (reports <= 0 || agents <= 0 || batch_size <= 0) {
    std::fprintf(stderr, "store_bench: --reports, --agents and --batch must be positive\n");
    return 2;
  }
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  dozor::server::SqliteStoreOptions options;
  options.path = (dir / "bench.db").string();
  options.background_checkpoint = background_checkpoint;
  auto opened = dozor::server::SqliteStore::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", opened.error().ToString().c_str());
    return 1;
  }
  auto& store = *opened.value();

  dozor::server::Organization org;
  org.name = "bench";
  auto created = store.CreateOrganization(org);
  if (!created.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", created.error().ToString().c_str());
    return 1;
  }
  dozor::server::NewEnrollmentToken token{created->id, "bench-token", "bench", "", std::nullopt};
  if (!store.CreateEnrollmentToken(token).ok()) {
    return 1;
  }
  std::vector<std::string> agent_ids;
  for (int a = 0; a < agents; ++a) {
    dozor::server::NewAgent agent{
        "agent-" + std::to_string(a), "secret", "host", "", "0.1", "linux"};
    if (!store.EnrollAgent("bench-token", agent, 0).ok()) {
      return 1;
    }
    agent_ids.push_back(agent.agent_id);
  }

  // A pool of distinct samples, generated up front so the timing measures the store only.
  std::mt19937_64 rng(42);
  std::vector<dozor::v1::HealthSample> pool;
  size_t encoded_bytes = 0;
  for (int i = 0; i < 512; ++i) {
    pool.push_back(MakeSample(rng, i));
    encoded_bytes += dozor::EncodeCompressed(pool.back()).size();
  }
  size_t raw_bytes = pool.front().ByteSizeLong();

  const int64_t start_ms = 1'700'000'000'000;
  std::vector<uint64_t> seq(static_cast<size_t>(agents), 0);
  std::vector<double> commit_ms;
  int64_t produced = 0;
  int64_t stored = 0;
  auto begin = Clock::now();
  double cpu_begin = ProcessCpuSeconds();
  while (produced < reports) {
    std::vector<dozor::server::IncomingReport> batch;
    batch.reserve(static_cast<size_t>(batch_size));
    for (int i = 0; i < batch_size && produced < reports; ++i, ++produced) {
      size_t a = static_cast<size_t>(produced % agents);
      uint64_t s = ++seq[a];
      dozor::server::IncomingReport in;
      in.agent_id = agent_ids[a];
      in.received_at_ms = start_ms + static_cast<int64_t>(s) * 60'000;
      in.report.set_seq(s);
      in.report.set_collected_at_ms(start_ms + static_cast<int64_t>(s) * 60'000);
      *in.report.mutable_health() = pool[static_cast<size_t>(produced) % pool.size()];
      batch.push_back(std::move(in));
    }
    auto t0 = Clock::now();
    auto results = store.CommitReports(batch);
    auto t1 = Clock::now();
    if (!results.ok()) {
      std::fprintf(stderr, "store_bench: commit failed: %s\n", results.error().ToString().c_str());
      return 1;
    }
    for (const auto& r : *results) {
      stored += r.outcome == dozor::server::CommitOutcome::kStored ? 1 : 0;
    }
    commit_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
  double cpu_seconds = ProcessCpuSeconds() - cpu_begin;

  if (!store.CheckpointNow(/*truncate=*/true).ok()) {
    std::fprintf(stderr, "store_bench: final checkpoint failed (file size may include WAL)\n");
  }
  int64_t file_bytes = 0;
  {
    auto db =
        dozor::sqlite::Database::Open(options.path, dozor::sqlite::OpenOptions{.create = false});
    if (db.ok()) {
      auto pages =
          db->Prepare("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()");
      if (pages.ok() && pages->Step().value_or(false)) {
        file_bytes = pages->Int(0);
      }
    }
  }
  double per_sample = static_cast<double>(file_bytes) / static_cast<double>(stored);
  std::printf("reports=%lld agents=%d batch=%d stored=%lld bg_checkpoint=%s\n",
              static_cast<long long>(reports), agents, batch_size, static_cast<long long>(stored),
              background_checkpoint ? "on" : "off");
  std::printf("throughput: %.0f reports/s, %.1f us/report\n", static_cast<double>(stored) / seconds,
              seconds * 1e6 / static_cast<double>(stored));
  std::printf("cpu: %.1f us/report (all threads) = %.0f reports per CPU-second\n",
              cpu_seconds * 1e6 / static_cast<double>(stored),
              static_cast<double>(stored) / cpu_seconds);
  std::printf("commit latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              Percentile(commit_ms, 0.50), Percentile(commit_ms, 0.99), Percentile(commit_ms, 1.0));
  std::printf("sample: %zu bytes protobuf, %.0f bytes compressed blob\n", raw_bytes,
              static_cast<double>(encoded_bytes) / static_cast<double>(pool.size()));
  std::printf(
      "file: %.1f bytes per sample (page_count*page_size / samples) = %.2f MB per agent "
      "per day at 1 sample/min\n",
      per_sample, per_sample * 1440 / 1e6);
  return stored == reports ? 0 : 1;
}
