// Health storage on PostgreSQL: a day of samples for M agents (loadgen-shaped, one a minute,
// yesterday's date) committed through PostgresStore, then the day compacted into hourly blocks
// (store/postgres/pg_health_blocks.hpp). Prints bytes per sample and MB per agent per day raw
// (the day's partition with its index) and compacted (health_blocks with its indexes), and the
// compaction's CPU time.
//
//   pg_health_storage_bench --postgres CONNINFO [--agents M] [--per-day N]
//
// CONNINFO names an empty database (the bench writes its schema and an organisation there).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "simulated_host.hpp"
#include "store/postgres/pg_client.hpp"
#include "store/postgres/postgres_store.hpp"

namespace {

double ProcessCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

int64_t QueryInt(dozor::pg::Connection& db, const std::string& sql) {
  auto rows = db.Query(sql);
  if (!rows.ok() || rows->empty()) {
    std::fprintf(stderr, "%s: %s\n", sql.c_str(),
                 rows.ok() ? "no row" : rows.error().ToString().c_str());
    std::exit(1);
  }
  return rows->IsNull(0, 0) ? 0 : rows->Int(0, 0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string conninfo;
  int agents = 50;
  int per_day = 1440;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--postgres") {
      conninfo = next();
    } else if (arg == "--agents") {
      agents = std::atoi(next());
    } else if (arg == "--per-day") {
      per_day = std::atoi(next());
    } else {
      conninfo.clear();
      break;
    }
  }
  if (conninfo.empty() || agents <= 0 || per_day <= 0) {
    std::fprintf(stderr,
                 "usage: pg_health_storage_bench --postgres CONNINFO [--agents M] [--per-day N]\n");
    return 2;
  }
  dozor::server::PostgresStoreOptions options;
  options.conninfo = conninfo;
  options.maintenance_interval_s = 0;
  auto opened = dozor::server::PostgresStore::Open(options);
  if (!opened.ok()) {
    std::fprintf(stderr, "%s\n", opened.error().ToString().c_str());
    return 1;
  }
  auto& store = **opened;
  dozor::server::Organization org;
  org.name = "storage-bench";
  auto created = store.Organizations().CreateOrganization(org);
  if (!created.ok()) {
    std::fprintf(stderr, "%s (is the database empty?)\n", created.error().ToString().c_str());
    return 1;
  }
  dozor::server::NewEnrollmentToken token;
  token.org_id = created->id;
  token.token_hash = "storage-bench-token";
  if (!store.Agents().CreateEnrollmentToken(token).ok()) {
    return 1;
  }
  std::vector<std::string> ids;
  std::vector<dozor::bench::SimulatedHost> hosts;
  for (int a = 0; a < agents; ++a) {
    dozor::server::NewAgent agent;
    agent.agent_id = "storage-" + std::to_string(a);
    agent.secret_hash = "secret";
    agent.hostname = "host-" + std::to_string(a);
    if (!store.Agents().EnrollAgent(token.token_hash, agent, 0).ok()) {
      return 1;
    }
    ids.push_back(agent.agent_id);
    hosts.emplace_back(static_cast<uint64_t>(a));
  }
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  const int64_t day =
      dozor::server::PgHealthPartitions::DayOf(now_ms) - dozor::server::PgHealthPartitions::kDayMs;
  const int64_t step = dozor::server::PgHealthPartitions::kDayMs / per_day;
  for (int minute = 0; minute < per_day; ++minute) {
    std::vector<dozor::server::IncomingReport> batch;
    for (int a = 0; a < agents; ++a) {
      dozor::server::IncomingReport in;
      in.agent_id = ids[static_cast<size_t>(a)];
      in.received_at_ms = day + minute * step;
      in.report.set_seq(static_cast<uint64_t>(minute) + 1);
      in.report.set_collected_at_ms(day + minute * step);
      *in.report.mutable_health() = hosts[static_cast<size_t>(a)].Next();
      batch.push_back(std::move(in));
    }
    auto committed = store.Hosts().CommitReports(batch);
    if (!committed.ok()) {
      std::fprintf(stderr, "commit: %s\n", committed.error().ToString().c_str());
      return 1;
    }
  }
  auto db = dozor::pg::Connection::Open(conninfo);
  if (!db.ok()) {
    return 1;
  }
  const std::string partition = dozor::server::PgHealthPartitions::PartitionName(day);
  (void)db->Exec("VACUUM ANALYZE " + partition);
  const int64_t samples = QueryInt(*db, "SELECT count(*) FROM " + partition);
  const int64_t raw = QueryInt(*db, "SELECT pg_total_relation_size('" + partition + "')");
  const double cpu0 = ProcessCpuSeconds();
  const auto wall0 = std::chrono::steady_clock::now();
  auto first = store.Hosts().health_blocks().Compact(now_ms);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  const double cpu = ProcessCpuSeconds() - cpu0;
  auto second = store.Hosts().health_blocks().Compact(now_ms);  // truncates the emptied day
  if (!first.ok() || !second.ok()) {
    std::fprintf(stderr, "compaction: %s\n",
                 (first.ok() ? second.error() : first.error()).ToString().c_str());
    return 1;
  }
  (void)db->Exec("VACUUM ANALYZE health_blocks");
  const int64_t blocks = QueryInt(*db, "SELECT pg_total_relation_size('health_blocks')");
  const int64_t left = QueryInt(*db, "SELECT pg_total_relation_size('" + partition + "')");
  const double per_agent_day = static_cast<double>(per_day) / 1e6;
  std::printf("%d agents x %d samples: %lld samples of %s\n", agents, per_day,
              static_cast<long long>(samples), partition.c_str());
  std::printf("raw        %.1f MB = %.0f bytes per sample = %.2f MB per agent per day\n",
              static_cast<double>(raw) / 1e6,
              static_cast<double>(raw) / static_cast<double>(samples),
              static_cast<double>(raw) / static_cast<double>(samples) * per_agent_day);
  std::printf(
      "compacted  %.1f MB = %.0f bytes per sample = %.2f MB per agent per day "
      "(%lld blocks; the emptied partition now %lld bytes, %lld failed buckets)\n",
      static_cast<double>(blocks) / 1e6, static_cast<double>(blocks) / static_cast<double>(samples),
      static_cast<double>(blocks) / static_cast<double>(samples) * per_agent_day,
      static_cast<long long>(first->blocks_written), static_cast<long long>(left),
      static_cast<long long>(first->failed_buckets));
  std::printf("compaction %.1f s wall, %.1f s CPU in this process (%.0f us per sample)\n", wall,
              cpu, cpu * 1e6 / static_cast<double>(samples));
  return 0;
}
