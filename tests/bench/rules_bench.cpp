// Rule engine and audit report benchmark (goals of the rules and the audit report):
//   - the whole default pack over a synthetic estate of 10,000 hosts: <= 1 s on one core;
//   - re-evaluating one host after its report: <= 5 ms;
//   - the PDF audit report of a 500-host client: <= 3 s.
//
//   rules_bench [--hosts N] [--org-size K] [--packages P] [--samples S] [--db PATH] [--reuse]
//               [--host-runs R] [--report-org-hosts H] [--per-rule] [--postgres CONNINFO]
//
// --postgres: the estate is generated on SQLite as usual, then copied into that (empty)
// PostgreSQL database with `store migrate`'s copy, and everything measured runs on the
// PostgreSQL store and fact source (wall times: the work is in the PostgreSQL server process).
//
// The estate (bench_estate.hpp) is written through Store::CommitReports as ingest writes it
// (inventory with P packages per host, S one-minute health samples plus 24 hourly ones for the
// fill trends), in organisations of K hosts plus one organisation of H hosts for the report. About
// one host in eight carries a weak spot (EOL OS, full disk, telnet, no backup, mismatched 1C, ...),
// so rules return realistic amounts of evidence. --reuse skips generation when --db already holds
// an estate of the same shape (generation takes a minute or two; evaluation is what is measured).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "app/rule_evaluator.hpp"
#include "bench_estate.hpp"
#include "dozor/common/crypto.hpp"
#include "report/renderers.hpp"
#include "report/report_builder.hpp"
#include "report/synthetic_report.hpp"
#include "rules/rule.hpp"
#include "rules/rule_engine.hpp"
#include "store/migrate/sqlite_to_postgres.hpp"
#include "store/postgres/pg_fact_source.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_fact_source.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace {

using SteadyClock = std::chrono::steady_clock;
using dozor::server::SqliteStore;

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  dozor::bench::EstateShape shape;
  std::string db_path;
  bool reuse = false;
  bool per_rule = false;
  int host_runs = 300;
  std::string postgres;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--hosts")
      shape.hosts = std::atoi(next().c_str());
    else if (arg == "--org-size")
      shape.org_size = std::atoi(next().c_str());
    else if (arg == "--packages")
      shape.packages = std::atoi(next().c_str());
    else if (arg == "--samples")
      shape.samples = std::atoi(next().c_str());
    else if (arg == "--report-org-hosts")
      shape.report_org_hosts = std::atoi(next().c_str());
    else if (arg == "--host-runs")
      host_runs = std::atoi(next().c_str());
    else if (arg == "--db")
      db_path = next();
    else if (arg == "--reuse")
      reuse = true;
    else if (arg == "--per-rule")
      per_rule = true;
    else if (arg == "--postgres")
      postgres = next();
    else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of rules_bench.cpp)\n",
                   arg.c_str());
      return 2;
    }
  }
  if (shape.hosts < 1 || shape.org_size < 1 || shape.packages < 0 || shape.samples < 3) {
    std::fprintf(stderr, "bad shape\n");
    return 2;
  }
  std::filesystem::path dir;
  if (db_path.empty()) {
    dir =
        std::filesystem::temp_directory_path() / ("dozor-rules-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    db_path = (dir / "bench.db").string();
  }
  // Generation and evaluation share one "now" so the windows line up; a reused database keeps the
  // time it was generated at.
  const std::string now_file = db_path + ".now";
  int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const bool have_estate =
      reuse && std::filesystem::exists(db_path) && std::filesystem::exists(now_file);
  dozor::server::SqliteStoreOptions options;
  options.path = db_path;
  options.health_compact_interval_s = 0;
  auto store = dozor::server::OpenSqliteStore(options);
  if (!store.ok()) {
    std::fprintf(stderr, "%s\n", store.error().ToString().c_str());
    return 1;
  }
  if (have_estate) {
    FILE* f = std::fopen(now_file.c_str(), "r");
    long long saved = 0;
    if (f != nullptr && std::fscanf(f, "%lld", &saved) == 1) {
      now_ms = saved;
    }
    if (f != nullptr) {
      std::fclose(f);
    }
    std::printf("reusing estate in %s\n", db_path.c_str());
  } else {
    std::printf("generating %d hosts (+%d in the report org), %d packages each, %d samples...\n",
                shape.hosts, shape.report_org_hosts, shape.packages, shape.samples);
    auto started = SteadyClock::now();
    if (auto generated = dozor::bench::GenerateEstate(**store, shape, now_ms); !generated.ok()) {
      std::fprintf(stderr, "generating the estate: %s\n", generated.error().ToString().c_str());
      return 1;
    }
    std::printf("generated in %.1f s\n",
                std::chrono::duration<double>(SteadyClock::now() - started).count());
    if (FILE* f = std::fopen(now_file.c_str(), "w")) {
      std::fprintf(f, "%lld\n", static_cast<long long>(now_ms));
      std::fclose(f);
    }
  }

  // What the background pass does every few minutes in the server: the rule window keeps only
  // the last hour (hourly trend points stay for 48 h).
  if (auto* sqlite = dynamic_cast<dozor::server::SqliteStore*>(store->get()); sqlite != nullptr) {
    auto pruned = sqlite->PruneRuleWindows(now_ms);
    if (pruned.ok() && *pruned > 0) {
      std::printf("pruned %lld rule-window rows older than the window\n",
                  static_cast<long long>(*pruned));
    }
  }

  // The store the measurements run on: the SQLite estate, or its copy in PostgreSQL.
  dozor::server::Store* bench = store->get();
  std::unique_ptr<dozor::server::PostgresStore> pg_store;
  // --reuse with --postgres: a database that already holds hosts keeps them (the copy of the
  // same estate from an earlier run) instead of being copied again.
  bool postgres_filled = false;
  if (!postgres.empty() && reuse) {
    dozor::server::PostgresStoreOptions probe_options;
    probe_options.conninfo = postgres;
    probe_options.maintenance_interval_s = 0;
    if (auto probe = dozor::server::PostgresStore::Open(probe_options); probe.ok()) {
      auto keys = (*probe)->Hosts().ListLiveHostKeys();
      postgres_filled = keys.ok() && !keys->empty();
    }
    if (postgres_filled) {
      std::printf("reusing the estate already in PostgreSQL\n");
    }
  }
  if (!postgres.empty() && !postgres_filled) {
    dozor::server::StoreMigrationOptions copy;
    copy.sqlite_path = db_path;
    copy.postgres_conninfo = postgres;
    const auto copy_started = SteadyClock::now();
    auto copied = dozor::server::MigrateSqliteToPostgres(copy);
    if (!copied.ok()) {
      std::fprintf(stderr, "copying the estate to PostgreSQL: %s\n",
                   copied.error().ToString().c_str());
      return 1;
    }
    std::printf("copied the estate to PostgreSQL in %.1f s\n",
                std::chrono::duration<double>(SteadyClock::now() - copy_started).count());
  }
  if (!postgres.empty()) {
    dozor::server::PostgresStoreOptions pg_options;
    pg_options.conninfo = postgres;
    pg_options.maintenance_interval_s = 0;
    auto opened = dozor::server::PostgresStore::Open(pg_options);
    if (!opened.ok()) {
      std::fprintf(stderr, "%s\n", opened.error().ToString().c_str());
      return 1;
    }
    pg_store = std::move(opened).value();
    bench = pg_store.get();
  }
  auto make_facts = [&]() {
    return postgres.empty() ? dozor::server::MakeSqliteFactSource(db_path)
                            : dozor::server::MakePostgresFactSource(postgres);
  };

  auto pack = dozor::server::rules::LoadRulePack({}, true);
  if (per_rule) {
    // Each rule alone over the whole estate, costliest first: wall time (on PostgreSQL the work
    // is in the server process) and this thread's CPU.
    // With the findings already in the store (a reused database), sustain queries run only
    // for active targets, as in the server's steady state.
    auto listed = dozor::server::ActiveFindingTargets(bench->Findings());
    std::optional<dozor::server::rules::ActiveTargets> per_rule_active;
    if (listed.ok() && listed->has_value()) {
      per_rule_active = std::move(**listed);
    }
    struct RuleCost {
      double wall_ms = 0;
      double cpu_ms = 0;
      std::string id;
    };
    std::vector<RuleCost> costs;
    for (const auto& rule : pack.rules) {
      dozor::server::rules::RulePack one;
      one.rules.push_back(rule);
      auto single_facts = make_facts();
      auto single = dozor::server::rules::RuleEngine::Open(*single_facts, std::move(one));
      if (!single.ok()) {
        continue;
      }
      const double cpu0 = CpuSeconds();
      const auto wall0 = SteadyClock::now();
      auto result = (*single)->EvaluateAll(now_ms, per_rule_active ? &*per_rule_active : nullptr);
      const double wall = std::chrono::duration<double>(SteadyClock::now() - wall0).count();
      const double cpu = CpuSeconds() - cpu0;
      bool failed = !result.ok();
      if (result.ok()) {
        for (const auto& r : *result) {
          failed = failed || !r.rule_errors.empty();
        }
      }
      costs.push_back({wall * 1000, cpu * 1000, rule.id + (failed ? " (failed)" : "")});
    }
    std::sort(costs.begin(), costs.end(),
              [](const RuleCost& a, const RuleCost& b) { return a.wall_ms > b.wall_ms; });
    double total_wall = 0;
    double total_cpu = 0;
    std::printf("  %-36s %11s %10s\n", "rule", "wall", "cpu here");
    for (const auto& cost : costs) {
      total_wall += cost.wall_ms;
      total_cpu += cost.cpu_ms;
      std::printf("  %-36s %8.1f ms %7.1f ms\n", cost.id.c_str(), cost.wall_ms, cost.cpu_ms);
    }
    std::printf("  sum of single-rule runs: wall %.1f ms, cpu here %.1f ms\n", total_wall,
                total_cpu);
    std::fflush(stdout);
  }
  if (!pack.errors.empty()) {
    std::fprintf(stderr, "the built-in pack has %zu errors\n", pack.errors.size());
    return 1;
  }
  const size_t rule_count = pack.rules.size();
  auto facts = make_facts();
  auto engine = dozor::server::rules::RuleEngine::Open(*facts, std::move(pack));
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", engine.error().ToString().c_str());
    return 1;
  }
  auto& rule_engine = **engine;

  // 1. Whole pack over the whole estate, then 2. applying it to the findings table. The first
  // run has no findings yet (sustain queries run everywhere); the steady-state runs pass the
  // active targets as the server's evaluator does (sustain only where a finding can be kept).
  auto apply = [&](const std::vector<dozor::server::rules::EvaluationResult>& results,
                   int64_t at_ms) {
    auto applied =
        dozor::bench::ApplyResults(bench->Findings(), rule_engine.pack(), results, at_ms);
    if (!applied.ok()) {
      std::fprintf(stderr, "ApplyEvaluation: %s\n", applied.error().ToString().c_str());
      return false;
    }
    return true;
  };
  for (int run = 0; run < 4; ++run) {
    const bool steady = run > 0;
    std::optional<dozor::server::rules::ActiveTargets> active;
    if (steady) {
      auto listed = dozor::server::ActiveFindingTargets(bench->Findings());
      if (!listed.ok()) {
        std::fprintf(stderr, "active targets: %s\n", listed.error().ToString().c_str());
        return 1;
      }
      active = std::move(*listed);
    }
    double cpu0 = CpuSeconds();
    auto t0 = SteadyClock::now();
    auto results = rule_engine.EvaluateAll(now_ms, active ? &*active : nullptr);
    double wall = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    double cpu = CpuSeconds() - cpu0;
    if (!results.ok()) {
      std::fprintf(stderr, "EvaluateAll: %s\n", results.error().ToString().c_str());
      return 1;
    }
    size_t hits = 0;
    for (const auto& r : *results) {
      hits += r.hits.size();
      for (const auto& e : r.rule_errors) {
        std::fprintf(stderr, "rule error: %s\n", e.c_str());
      }
    }
    auto t1 = SteadyClock::now();
    if (!apply(*results, now_ms + run)) {
      return 1;
    }
    double apply_s = std::chrono::duration<double>(SteadyClock::now() - t1).count();
    std::printf(
        "full evaluation %s: %zu rules over %d hosts: CPU %.3f s (one thread), wall "
        "%.3f s, %zu targets hit; applying to findings %.3f s\n",
        steady ? "(as the server runs it: sustain only for active findings)"
               : "(sustain queries over every host)",
        rule_count, shape.hosts + shape.report_org_hosts, cpu, wall, hits, apply_s);
  }

  // 3. One host after its report.
  auto keys = bench->Hosts().ListLiveHostKeys();
  if (!keys.ok() || keys->empty()) {
    std::fprintf(stderr, "no hosts\n");
    return 1;
  }
  std::mt19937 rng(7);
  for (auto filter :
       {dozor::server::rules::RuleFilter::kAll, dozor::server::rules::RuleFilter::kHealthOnly}) {
    std::vector<double> times, cpu_times;
    for (int run = 0; run < host_runs; ++run) {
      int64_t host = (*keys)[rng() % keys->size()].first;
      double cpu0 = CpuSeconds();
      auto t0 = SteadyClock::now();
      auto result = rule_engine.EvaluateHost(host, now_ms, filter);
      times.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
      cpu_times.push_back((CpuSeconds() - cpu0) * 1000);
      if (!result.ok()) {
        std::fprintf(stderr, "EvaluateHost: %s\n", result.error().ToString().c_str());
        return 1;
      }
    }
    std::printf(
        "one host, %s rules: wall p50 %.2f ms, p99 %.2f ms, max %.2f ms; CPU p50 %.2f ms, "
        "p99 %.2f ms (%d runs)\n",
        filter == dozor::server::rules::RuleFilter::kAll ? "all" : "health-only",
        Percentile(times, 0.5), Percentile(times, 0.99), Percentile(times, 1.0),
        Percentile(cpu_times, 0.5), Percentile(cpu_times, 0.99), host_runs);
  }

  // 4. The audit report of the big organisation.
  auto org = bench->Organizations().FindOrganization("ООО «Большой клиент»");
  if (!org.ok()) {
    std::fprintf(stderr, "report org: %s\n", org.error().ToString().c_str());
    return 1;
  }
  for (int run = 0; run < 2; ++run) {
    auto t0 = SteadyClock::now();
    auto report =
        dozor::server::report::BuildAuditReport(*bench, rule_engine.pack(), org->id, now_ms, "ru");
    auto t1 = SteadyClock::now();
    if (!report.ok()) {
      std::fprintf(stderr, "BuildAuditReport: %s\n", report.error().ToString().c_str());
      return 1;
    }
    auto pdf = dozor::server::report::RenderPdf(*report);
    auto t2 = SteadyClock::now();
    if (!pdf.ok()) {
      std::fprintf(stderr, "RenderPdf: %s\n", pdf.error().ToString().c_str());
      return 1;
    }
    auto html = dozor::server::report::RenderHtml(*report);
    auto t3 = SteadyClock::now();
    std::printf(
        "report of %lld hosts: build %.3f s, PDF %.3f s (%zu KiB), total %.3f s; HTML "
        "%.3f s (%zu KiB)\n",
        static_cast<long long>(org->host_count), std::chrono::duration<double>(t1 - t0).count(),
        std::chrono::duration<double>(t2 - t1).count(), pdf->size() / 1024,
        std::chrono::duration<double>(t2 - t0).count(),
        std::chrono::duration<double>(t3 - t2).count(), html.size() / 1024);
  }
  // 5. A worst case for the renderer: 500 hosts with 6 findings each (3,000 findings).
  for (int run = 0; run < 2; ++run) {
    auto synthetic = dozor::server::report::MakeSyntheticReport(500, 6, "ru");
    auto t0 = SteadyClock::now();
    auto pdf = dozor::server::report::RenderPdf(synthetic);
    double took = std::chrono::duration<double>(SteadyClock::now() - t0).count();
    if (!pdf.ok()) {
      std::fprintf(stderr, "RenderPdf: %s\n", pdf.error().ToString().c_str());
      return 1;
    }
    std::printf("synthetic report, 500 hosts x 6 findings: PDF %.3f s (%zu KiB)\n", took,
                pdf->size() / 1024);
  }
  if (!dir.empty()) {
    std::filesystem::remove_all(dir);
  }
  return 0;
}
