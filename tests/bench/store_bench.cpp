// Store ingest benchmark: commits N synthetic health reports from M agents (spread over one
// simulated day) in batches through SqliteStore::CommitReports, prints throughput, CPU per
// report, commit latency and on-disk bytes per sample; then runs health compaction and prints
// the size again (bytes per sample, MB per agent per day).
//
//   store_bench [--reports N] [--agents M] [--batch B] [--dir PATH] [--no-bg-checkpoint]
//               [--no-compact]
//
// The sample is shaped like loadgen's: 52 changing values (CPU, load, memory, swap,
// 6 filesystems, 2 disks, 2 NICs, 5+5 top processes, 2 temperatures) that wander like a real
// machine's rather than being fresh noise every minute.
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

#include "bench_store.hpp"
#include "dozor/common/sqlite.hpp"
#include "dozor/contract/codec.hpp"
#include "simulated_host.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct DiskUse {
  int64_t used_bytes = 0;    // (page_count - freelist_count) * page_size
  int64_t health_bytes = 0;  // pages of health_samples + health_blocks (dbstat), 0 if unavailable
};

DiskUse MeasureDisk(const std::string& path) {
  DiskUse use;
  auto db = dozor::sqlite::Database::Open(path, dozor::sqlite::OpenOptions{.create = false});
  if (!db.ok()) {
    return use;
  }
  auto pages = db->Prepare(
      "SELECT (page_count - freelist_count) * page_size FROM pragma_page_count(), "
      "pragma_freelist_count(), pragma_page_size()");
  if (pages.ok() && pages->Step().value_or(false)) {
    use.used_bytes = pages->Int(0);
  }
  auto health = db->Prepare(
      "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN "
      "('health_samples', 'health_blocks')");
  if (health.ok() && health->Step().value_or(false)) {
    use.health_bytes = health->Int(0);
  }
  return use;
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
  int64_t reports = 144000;
  int agents = 100;
  int batch_size = 200;
  bool background_checkpoint = true;
  bool compact = true;
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
    } else if (arg == "--no-compact") {
      compact = false;
    } else {
      std::fprintf(stderr,
                   "usage: store_bench [--reports N] [--agents M] [--batch B] [--dir PATH] "
                   "[--no-bg-checkpoint] [--no-compact]\n");
      return 2;
    }
  }
  if (reports <= 0 || agents <= 0 || batch_size <= 0) {
    std::fprintf(stderr, "store_bench: --reports, --agents and --batch must be positive\n");
    return 2;
  }
  std::vector<std::string> agent_ids;
  std::vector<dozor::bench::SimulatedHost> hosts;
  for (int a = 0; a < agents; ++a) {
    agent_ids.push_back("agent-" + std::to_string(a));
    hosts.emplace_back(static_cast<uint64_t>(a));
  }
  dozor::server::SqliteStoreOptions options;
  options.background_checkpoint = background_checkpoint;
  options.health_compact_interval_s = 0;  // compaction is run explicitly below
  auto opened = dozor::bench::OpenBenchStore(dir, options, agent_ids);
  if (opened == nullptr) {
    return 1;
  }
  auto& store = *opened;
  options.path = (dir / "bench.db").string();

  // Each agent's samples are spread evenly over one simulated day (1 per minute when
  // reports / agents = 1440, the default).
  const int64_t per_agent = (reports + agents - 1) / agents;
  const int64_t step_ms = std::max<int64_t>(1, 86'400'000 / per_agent);
  const int64_t start_ms = 1'700'000'000'000;
  std::vector<uint64_t> seq(static_cast<size_t>(agents), 0);
  std::vector<double> commit_ms;
  int64_t produced = 0;
  int64_t stored = 0;
  size_t raw_bytes = 0;
  size_t zlib_bytes = 0;
  int64_t size_samples = 0;
  double commit_wall = 0;
  double commit_thread_cpu = 0;
  double commit_process_cpu = 0;
  int64_t max_ms = 0;
  while (produced < reports) {
    // Samples are generated outside the timed region: only CommitReports is measured.
    std::vector<dozor::server::IncomingReport> batch;
    batch.reserve(static_cast<size_t>(batch_size));
    for (int i = 0; i < batch_size && produced < reports; ++i, ++produced) {
      size_t a = static_cast<size_t>(produced % agents);
      uint64_t s = ++seq[a];
      dozor::server::IncomingReport in;
      in.agent_id = agent_ids[a];
      int64_t at = start_ms + static_cast<int64_t>(s - 1) * step_ms;
      max_ms = std::max(max_ms, at);
      in.received_at_ms = at;
      in.report.set_seq(s);
      in.report.set_collected_at_ms(at);
      in.report.set_agent_version("0.1");
      *in.report.mutable_health() = hosts[a].Next();
      auto* status = in.report.add_collectors();
      status->set_name("health");
      status->set_ok(true);
      status->set_duration_ms(7);
      if (produced % 97 == 0) {
        raw_bytes += in.report.health().ByteSizeLong();
        zlib_bytes += dozor::EncodeCompressed(in.report.health()).size();
        ++size_samples;
      }
      batch.push_back(std::move(in));
    }
    double thread0 = ThreadCpuSeconds();
    double process0 = ProcessCpuSeconds();
    auto t0 = Clock::now();
    auto results = store.CommitReports(batch);
    auto t1 = Clock::now();
    commit_thread_cpu += ThreadCpuSeconds() - thread0;
    commit_process_cpu += ProcessCpuSeconds() - process0;
    if (!results.ok()) {
      std::fprintf(stderr, "store_bench: commit failed: %s\n", results.error().ToString().c_str());
      return 1;
    }
    for (const auto& r : *results) {
      stored += r.outcome == dozor::server::CommitOutcome::kStored ? 1 : 0;
    }
    double ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    commit_wall += ms / 1000;
    commit_ms.push_back(ms);
  }

  if (!store.CheckpointNow(/*truncate=*/true).ok()) {
    std::fprintf(stderr, "store_bench: checkpoint failed (file size may include WAL)\n");
  }
  DiskUse before = MeasureDisk(options.path);
  double n = static_cast<double>(stored);
  std::printf("reports=%lld agents=%d batch=%d stored=%lld bg_checkpoint=%s span=24h step=%llds\n",
              static_cast<long long>(reports), agents, batch_size, static_cast<long long>(stored),
              background_checkpoint ? "on" : "off", static_cast<long long>(step_ms / 1000));
  std::printf("ingest: %.0f reports/s wall (commit calls only), %.1f us/report wall\n",
              n / commit_wall, commit_wall * 1e6 / n);
  std::printf(
      "ingest cpu: %.1f us/report committing thread, %.1f us/report all threads "
      "= %.0f reports per CPU-second\n",
      commit_thread_cpu * 1e6 / n, commit_process_cpu * 1e6 / n, n / commit_process_cpu);
  std::printf("commit latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              Percentile(commit_ms, 0.50), Percentile(commit_ms, 0.99), Percentile(commit_ms, 1.0));
  std::printf("sample: %.0f bytes protobuf, %.0f bytes as a per-row zlib blob (pre-002 format)\n",
              static_cast<double>(raw_bytes) / static_cast<double>(size_samples),
              static_cast<double>(zlib_bytes) / static_cast<double>(size_samples));
  auto print_size = [&](const char* label, const DiskUse& use) {
    double per_sample = static_cast<double>(use.used_bytes) / n;
    double health_per_sample = static_cast<double>(use.health_bytes) / n;
    std::printf(
        "%s: used pages %.1f bytes/sample (%.3f MB per agent per day at 1/min); "
        "health tables %.1f bytes/sample (%.3f MB per agent per day)\n",
        label, per_sample, per_sample * 1440 / 1e6, health_per_sample,
        health_per_sample * 1440 / 1e6);
  };
  print_size("size before compaction", before);
  if (!compact) {
    return stored == reports ? 0 : 1;
  }

  double cpu0 = ProcessCpuSeconds();
  auto c0 = Clock::now();
  auto stats = store.CompactHealth(max_ms + 2 * 3'600'000);
  double compact_seconds = std::chrono::duration<double>(Clock::now() - c0).count();
  double compact_cpu = ProcessCpuSeconds() - cpu0;
  if (!stats.ok()) {
    std::fprintf(stderr, "store_bench: compaction failed: %s\n", stats.error().ToString().c_str());
    return 1;
  }
  if (!store.CheckpointNow(/*truncate=*/true).ok()) {
    std::fprintf(stderr, "store_bench: checkpoint failed (file size may include WAL)\n");
  }
  DiskUse after = MeasureDisk(options.path);
  std::printf(
      "compaction: %lld samples, %lld agent-hours, %lld blocks, %.1f s wall, "
      "%.1f us CPU per sample, %.2f ms wall per agent-hour (encoding outside the writer lock); raw "
      "%.0f -> block "
      "%.0f bytes/sample\n",
      static_cast<long long>(stats->samples), static_cast<long long>(stats->buckets),
      static_cast<long long>(stats->blocks_written), compact_seconds,
      compact_cpu * 1e6 / static_cast<double>(std::max<int64_t>(1, stats->samples)),
      compact_seconds * 1e3 / static_cast<double>(std::max<int64_t>(1, stats->buckets)),
      static_cast<double>(stats->raw_bytes) /
          static_cast<double>(std::max<int64_t>(1, stats->samples)),
      static_cast<double>(stats->block_bytes) /
          static_cast<double>(std::max<int64_t>(1, stats->samples)));
  print_size("size after compaction", after);

  // Read-back check: every sample of one agent is still there, newest first.
  auto listed = store.ListHealth(agent_ids.front(), 0, 10000);
  if (!listed.ok() || static_cast<int64_t>(listed->size()) != per_agent ||
      listed->front().seq != static_cast<uint64_t>(per_agent)) {
    std::fprintf(stderr, "store_bench: read-back after compaction is wrong\n");
    return 1;
  }
  double r0 = ProcessCpuSeconds();
  for (int i = 0; i < 100; ++i) {
    (void)store.ListHealth(agent_ids[static_cast<size_t>(i % agents)], 0, 60);
  }
  std::printf("ListHealth(limit 60) after compaction: %.2f ms CPU per call\n",
              (ProcessCpuSeconds() - r0) * 1e3 / 100);
  return stored == reports ? 0 : 1;
}
