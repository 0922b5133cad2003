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

#include "dozor/common/sqlite.hpp"
#include "dozor/contract/codec.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// One simulated machine: labels and totals fixed per agent, metrics that wander the way real
// ones do (slow drifts, a noisy but bounded CPU, counters rounded like the agent rounds them),
// not fresh random noise in every digit of every value.
class SimulatedHost {
 public:
  explicit SimulatedHost(uint64_t index) : rng_(index * 7919 + 1) {
    std::uniform_int_distribution<int> gb(8, 500);
    memory_total_ = static_cast<uint64_t>(8 + index % 56) << 30;
    memory_available_ = memory_total_ / 2;
    for (int i = 0; i < 6; ++i) {
      uint64_t total = static_cast<uint64_t>(gb(rng_)) << 30;
      fs_total_.push_back(total);
      fs_free_.push_back(total / 2);
      inodes_free_.push_back((total >> 14) * 8 / 10);
    }
    for (int i = 0; i < 10; ++i) {
      pids_.push_back(300 + static_cast<uint32_t>(rng_() % 30000));
      rss_.push_back(static_cast<uint64_t>(400e6 / (i + 1)));
    }
  }

  dozor::v1::HealthSample Next() {
    ++minute_;
    double day = std::sin(static_cast<double>(minute_) * 2 * M_PI / 1440.0);  // daily cycle
    double busy = std::clamp(25 + 15 * day + Noise(6), 0.0, 100.0);
    dozor::v1::HealthSample s;
    s.set_cpu_percent(Round(busy, 0.1));
    s.set_cpu_iowait_percent(Round(std::clamp(2 + Noise(1.5), 0.0, 100.0), 0.1));
    load_ = std::max(0.0, load_ * 0.8 + busy / 100 * 4 * 0.2 + Noise(0.1));
    load5_ = load5_ * 0.9 + load_ * 0.1;
    load15_ = load15_ * 0.97 + load_ * 0.03;
    s.set_load1(Round(load_, 0.01));
    s.set_load5(Round(load5_, 0.01));
    s.set_load15(Round(load15_, 0.01));
    s.set_memory_total_bytes(memory_total_);
    memory_available_ =
        Walk(memory_available_, memory_total_ / 200, memory_total_ / 10, memory_total_ * 9 / 10);
    s.set_memory_available_bytes(memory_available_ & ~4095ULL);
    s.set_swap_total_bytes(2ULL << 30);
    s.set_swap_free_bytes(((2ULL << 30) - (16ULL << 20) - (minute_ / 60) * 4096) & ~4095ULL);
    processes_ = static_cast<uint32_t>(
        std::clamp(static_cast<int>(processes_) + static_cast<int>(rng_() % 5) - 2, 150, 260));
    s.set_process_count(processes_);
    s.set_interval_seconds(60);
    const char* mounts[] = {"/", "/boot", "/var", "/home", "/srv", "/var/lib/postgresql"};
    for (size_t i = 0; i < fs_total_.size(); ++i) {
      auto* fs = s.add_filesystems();
      fs->set_mount_point(mounts[i]);
      fs->set_device("/dev/sda" + std::to_string(i + 1));
      fs->set_fs_type(i % 3 == 2 ? "xfs" : "ext4");
      // Most filesystems barely move; /var and the database one churn.
      uint64_t step = (i == 2 || i == 5) ? 64ULL << 20 : (i == 0 ? 1ULL << 20 : 0);
      fs_free_[i] = Walk(fs_free_[i], step, fs_total_[i] / 10, fs_total_[i] * 9 / 10);
      fs->set_total_bytes(fs_total_[i]);
      fs->set_free_bytes(fs_free_[i] & ~4095ULL);
      fs->set_available_bytes((fs_free_[i] - fs_total_[i] / 20) & ~4095ULL);
      fs->set_inodes_total(fs_total_[i] >> 14);
      inodes_free_[i] = Walk(inodes_free_[i], step ? 50 : 0, 1000, fs_total_[i] >> 14);
      fs->set_inodes_free(inodes_free_[i]);
    }
    for (const char* name : {"sda", "sdb"}) {
      auto* d = s.add_disks();
      d->set_device(name);
      double activity = busy / 25;
      d->set_read_bytes_per_s(Round(std::max(0.0, 2e6 * activity + Noise(5e5)), 512));
      d->set_write_bytes_per_s(Round(std::max(0.0, 4e6 * activity + Noise(1e6)), 512));
      d->set_reads_per_s(Round(std::max(0.0, 40 * activity + Noise(8)), 0.1));
      d->set_writes_per_s(Round(std::max(0.0, 80 * activity + Noise(15)), 0.1));
      d->set_busy_percent(Round(std::clamp(10 * activity + Noise(2), 0.0, 100.0), 0.1));
    }
    for (const char* name : {"eth0", "eth1"}) {
      auto* n = s.add_networks();
      n->set_interface(name);
      n->set_rx_bytes_per_s(Round(std::max(0.0, 5e5 * busy / 25 + Noise(1e5)), 1));
      n->set_tx_bytes_per_s(Round(std::max(0.0, 3e5 * busy / 25 + Noise(6e4)), 1));
      n->set_rx_errors(rng_() % 200 == 0 ? 1 : 0);
    }
    const char* names[] = {"postgres", "rphost",  "java",    "nginx", "ragent",
                           "rmngr",    "dockerd", "python3", "sshd",  "systemd-journald"};
    for (int i = 0; i < 10; ++i) {
      auto* p = i < 5 ? s.add_top_cpu() : s.add_top_memory();
      p->set_pid(pids_[static_cast<size_t>(i)]);
      p->set_name(names[i]);
      p->set_cpu_percent(Round(std::max(0.0, busy / (i + 1) + Noise(2)), 0.1));
      rss_[static_cast<size_t>(i)] =
          Walk(rss_[static_cast<size_t>(i)], 2ULL << 20, 4ULL << 20, 8ULL << 30);
      p->set_rss_bytes(rss_[static_cast<size_t>(i)] & ~4095ULL);
    }
    const char* sensors[] = {"coretemp/Package id 0", "nvme/Composite"};
    for (int i = 0; i < 2; ++i) {
      auto* t = s.add_temperatures();
      t->set_sensor(sensors[i]);
      t->set_celsius(Round(40 + busy / 5 + i * 3 + Noise(1), 1));
    }
    return s;
  }

 private:
  static double Round(double value, double step) { return std::round(value / step) * step; }
  double Noise(double spread) {
    return std::uniform_real_distribution<double>(-1, 1)(rng_) * spread;
  }
  uint64_t Walk(uint64_t value, uint64_t step, uint64_t low, uint64_t high) {
    if (step == 0) {
      return value;
    }
    auto delta = static_cast<int64_t>(rng_() % (2 * step + 1)) - static_cast<int64_t>(step);
    auto next = static_cast<int64_t>(value) + delta;
    return static_cast<uint64_t>(
        std::clamp<int64_t>(next, static_cast<int64_t>(low), static_cast<int64_t>(high)));
  }

  std::mt19937_64 rng_;
  uint64_t minute_ = 0;
  uint64_t memory_total_ = 0;
  uint64_t memory_available_ = 0;
  double load_ = 1, load5_ = 1, load15_ = 1;
  uint32_t processes_ = 180;
  std::vector<uint64_t> fs_total_, fs_free_, inodes_free_, rss_;
  std::vector<uint32_t> pids_;
};

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
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  dozor::server::SqliteStoreOptions options;
  options.path = (dir / "bench.db").string();
  options.background_checkpoint = background_checkpoint;
  options.health_compact_interval_s = 0;  // compaction is run explicitly below
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
  std::vector<SimulatedHost> hosts;
  for (int a = 0; a < agents; ++a) {
    dozor::server::NewAgent agent{
        "agent-" + std::to_string(a), "secret", "host", "", "0.1", "linux"};
    if (!store.EnrollAgent("bench-token", agent, 0).ok()) {
      return 1;
    }
    agent_ids.push_back(agent.agent_id);
    hosts.emplace_back(static_cast<uint64_t>(a));
  }

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
