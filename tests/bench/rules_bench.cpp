// Rule engine and audit report benchmark (goals of the rules and the audit report):
//   - the whole default pack over a synthetic estate of 10,000 hosts: <= 1 s on one core;
//   - re-evaluating one host after its report: <= 5 ms;
//   - the PDF audit report of a 500-host client: <= 3 s.
//
//   rules_bench [--hosts N] [--org-size K] [--packages P] [--samples S] [--db PATH] [--reuse]
//               [--host-runs R] [--report-org-hosts H] [--per-rule]
//
// The estate is written through Store::CommitReports exactly as ingest writes it (inventory with
// P packages per host, S one-minute health samples plus 24 hourly ones for the fill trends),
// in organisations of K hosts plus one organisation of H hosts for the report. About one host in
// eight carries a weak spot (EOL OS, full disk, telnet, no backup, mismatched 1C, ...), so rules
// return realistic amounts of evidence. --reuse skips generation when --db already holds an
// estate of the same shape (generation takes a minute or two; evaluation is what is measured).
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
#include "dozor/common/crypto.hpp"
#include "report/renderers.hpp"
#include "report/report_builder.hpp"
#include "report/synthetic_report.hpp"
#include "rules/rule.hpp"
#include "rules/rule_engine.hpp"
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

struct Shape {
  int hosts = 10000;
  int org_size = 50;
  int packages = 400;
  int samples = 30;  // one a minute: the default 30-minute rule window
  int report_org_hosts = 500;
};

// A plausible Debian/RHEL server or workstation; `flaw` (0 = clean) picks one weak spot.
dozor::v1::Inventory MakeInventory(int index, int packages, int flaw, bool one_c_server,
                                   bool one_c_client) {
  dozor::v1::Inventory inv;
  auto* os = inv.mutable_os();
  const bool old_os = flaw == 1;
  os->set_id(index % 5 == 0 ? "rocky" : "debian");
  os->set_family("linux");
  os->set_version_id(old_os ? "10" : (index % 5 == 0 ? "9.3" : "12"));
  os->set_name(index % 5 == 0 ? "Rocky Linux" : "Debian GNU/Linux");
  os->set_pretty_name(os->name() + " " + os->version_id());
  os->set_kernel("6.1.0-18-amd64");
  os->set_architecture("x86_64");
  os->set_hostname("host-" + std::to_string(index));
  os->set_fqdn(os->hostname() + ".corp.example");
  os->set_timezone("Europe/Moscow");
  os->set_uptime_seconds(flaw == 2 ? 400LL * 86400 : 20LL * 86400);
  os->set_boot_time(1700000000);
  os->set_clock_synchronized(flaw == 3 ? 0 : 1);
  os->set_reboot_required(flaw == 4);
  os->set_pending_updates(3);
  os->set_pending_security_updates(0);
  os->set_machine_id("machine-" + std::to_string(index));
  auto* hw = inv.mutable_hardware();
  hw->mutable_cpu()->set_model("Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz");
  hw->mutable_cpu()->set_sockets(1);
  hw->mutable_cpu()->set_cores(10);
  hw->mutable_cpu()->set_threads(20);
  hw->set_memory_total_bytes((flaw == 5 ? 2ULL : 32ULL) << 30);
  hw->mutable_dmi()->set_system_vendor("Dell Inc.");
  hw->mutable_dmi()->set_system_model("PowerEdge R440");
  hw->mutable_dmi()->set_bios_date(flaw == 6 ? "2012-03-01" : "2022-05-10");
  hw->mutable_dmi()->set_chassis_type("Rack Mount Chassis");
  hw->set_smartctl_available(true);
  for (int d = 0; d < 2; ++d) {
    auto* disk = hw->add_disks();
    disk->set_name(d == 0 ? "sda" : "sdb");
    disk->set_model("SAMSUNG MZ7LH480");
    disk->set_size_bytes(480ULL << 30);
    disk->set_rotational(false);
    disk->set_transport("sata");
    disk->set_smart_status(flaw == 7 && d == 1 ? "failed" : "passed");
    disk->set_power_on_hours(12000);
    disk->set_temperature_c(35);
  }
  auto* net = inv.mutable_network();
  auto* lo = net->add_interfaces();
  lo->set_name("lo");
  lo->set_loopback(true);
  lo->set_state("unknown");
  auto* a = lo->add_addresses();
  a->set_address("127.0.0.1");
  a->set_prefix(8);
  a->set_family(4);
  auto* eth = net->add_interfaces();
  eth->set_name("eth0");
  eth->set_mac("52:54:00:00:00:01");
  eth->set_mtu(1500);
  eth->set_state("up");
  eth->set_speed_mbps(1000);
  eth->set_duplex("full");
  auto* ip = eth->add_addresses();
  ip->set_address("10." + std::to_string(index / 65536 % 256) + "." +
                  std::to_string(index / 256 % 256) + "." + std::to_string(index % 256));
  ip->set_prefix(16);
  ip->set_family(4);
  auto* gw = net->add_gateways();
  gw->set_address("10.0.0.1");
  gw->set_interface("eth0");
  gw->set_family(4);
  net->add_dns_servers("10.0.0.2");
  if (flaw != 8) {
    net->add_dns_servers("10.0.0.3");
  }
  auto listen = [&](const char* address, uint32_t port, const char* process) {
    auto* l = net->add_listening();
    l->set_protocol("tcp");
    l->set_family(4);
    l->set_address(address);
    l->set_port(port);
    l->set_process(process);
  };
  listen("0.0.0.0", 22, "sshd");
  listen("127.0.0.1", 5432, "postgres");
  if (flaw == 9) {
    listen("0.0.0.0", 23, "inetd");
  }
  auto* sw = inv.mutable_software();
  for (int p = 0; p < packages; ++p) {
    auto* pkg = sw->add_packages();
    pkg->set_name("lib-package-" + std::to_string(p));
    pkg->set_version("1." + std::to_string(p % 17) + "-" + std::to_string(p % 5));
    pkg->set_architecture("amd64");
    pkg->set_source("dpkg");
    pkg->set_vendor("Debian");
  }
  if (flaw != 10) {
    auto* backup = sw->add_packages();
    backup->set_name("restic");
    backup->set_version("0.14.0-1");
    backup->set_source("dpkg");
  }
  for (const char* unit : {"ssh.service", "cron.service", "nftables.service", "rsyslog.service",
                           "systemd-timesyncd.service"}) {
    auto* service = sw->add_services();
    service->set_name(unit);
    service->set_load_state("loaded");
    service->set_active_state("active");
    service->set_sub_state(std::string(unit) == "nftables.service" ? "exited" : "running");
    service->set_enabled("enabled");
  }
  // A Debian server lists 100-200 units; rules scan services for backups, firewalls, failures.
  for (int u = 0; u < 110; ++u) {
    auto* service = sw->add_services();
    service->set_name("unit-" + std::to_string(u) + ".service");
    service->set_load_state("loaded");
    service->set_active_state(u % 3 == 0 ? "inactive" : "active");
    service->set_sub_state(u % 3 == 0 ? "dead" : "running");
    // Mostly enabled and running; inactive ones mostly static or disabled (a few oneshots).
    service->set_enabled(u % 3 != 0 ? "enabled" : (u % 9 == 0 ? "enabled" : "static"));
  }
  if (one_c_server || one_c_client) {
    auto* app = sw->add_applications();
    app->set_name("1C:Enterprise");
    app->set_version(one_c_client && flaw == 11 ? "8.3.22.1709" : "8.3.24.1467");
    app->set_kind(one_c_server ? "server" : "client");
    app->set_path("/opt/1cv8/x86_64/8.3.24.1467");
  }
  return inv;
}

dozor::v1::HealthSample MakeSample(int flaw, int minute) {
  dozor::v1::HealthSample s;
  s.set_cpu_percent(flaw == 12 ? 97 : 20 + minute % 7);
  s.set_cpu_iowait_percent(1);
  s.set_load1(1.2);
  s.set_load5(1.1);
  s.set_load15(1.0);
  s.set_memory_total_bytes(32ULL << 30);
  s.set_memory_available_bytes(16ULL << 30);
  s.set_swap_total_bytes(2ULL << 30);
  s.set_swap_free_bytes(2ULL << 30);
  s.set_process_count(180);
  s.set_interval_seconds(60);
  const char* mounts[] = {"/", "/var", "/srv"};
  for (int i = 0; i < 3; ++i) {
    auto* fs = s.add_filesystems();
    fs->set_mount_point(mounts[i]);
    fs->set_device(std::string("/dev/sda") + std::to_string(i + 1));
    fs->set_fs_type("ext4");
    fs->set_total_bytes(100ULL << 30);
    uint64_t avail = (flaw == 13 && i == 1) ? (3ULL << 30) : (60ULL << 30);
    fs->set_available_bytes(avail);
    fs->set_free_bytes(avail + (5ULL << 30));
    fs->set_inodes_total(6'000'000);
    fs->set_inodes_free(5'000'000);
  }
  for (const char* name : {"eth0", "eth1"}) {
    auto* n = s.add_networks();
    n->set_interface(name);
    n->set_rx_bytes_per_s(1e5);
    n->set_tx_bytes_per_s(1e5);
  }
  return s;
}

int Flaw(int index) { return index % 8 == 0 ? 1 + (index / 8) % 13 : 0; }

bool Generate(SqliteStore& store, const Shape& shape, int64_t now_ms) {
  std::vector<std::pair<int, int>> orgs;  // (first host index, size)
  for (int first = 0; first < shape.hosts; first += shape.org_size) {
    orgs.emplace_back(first, std::min(shape.org_size, shape.hosts - first));
  }
  orgs.emplace_back(shape.hosts, shape.report_org_hosts);
  auto started = SteadyClock::now();
  for (size_t o = 0; o < orgs.size(); ++o) {
    dozor::server::Organization org;
    org.name = o + 1 == orgs.size() ? "ООО «Большой клиент»" : "client-" + std::to_string(o);
    auto created = store.CreateOrganization(org);
    if (!created.ok()) {
      std::fprintf(stderr, "create org: %s\n", created.error().ToString().c_str());
      return false;
    }
    std::string token = "bench-token-" + std::to_string(o);
    dozor::server::NewEnrollmentToken new_token;
    new_token.org_id = created->id;
    new_token.token_hash = dozor::Sha256Hex(token);
    if (!store.CreateEnrollmentToken(new_token).ok()) {
      return false;
    }
    std::vector<dozor::server::IncomingReport> batch;
    auto flush = [&] {
      if (batch.empty()) {
        return true;
      }
      auto committed = store.CommitReports(batch);
      batch.clear();
      if (!committed.ok()) {
        std::fprintf(stderr, "commit: %s\n", committed.error().ToString().c_str());
        return false;
      }
      return true;
    };
    auto [first, size] = orgs[o];
    for (int h = first; h < first + size; ++h) {
      dozor::server::NewAgent agent;
      agent.agent_id = "bench-" + std::to_string(h);
      agent.secret_hash = dozor::Sha256Hex(agent.agent_id);
      agent.hostname = "host-" + std::to_string(h);
      if (!store.EnrollAgent(new_token.token_hash, agent, now_ms - 86400000LL * 2).ok()) {
        std::fprintf(stderr, "enroll failed\n");
        return false;
      }
      const int flaw = Flaw(h);
      const bool server_1c = (h - first) == 0;
      const bool client_1c = !server_1c && (h - first) % 4 == 1;
      uint64_t seq = 1;
      auto add = [&](int64_t collected_at, auto fill) {
        dozor::server::IncomingReport item;
        item.agent_id = agent.agent_id;
        item.received_at_ms = collected_at + 50;
        item.report.set_seq(seq++);
        item.report.set_collected_at_ms(collected_at);
        item.report.set_agent_version("0.1.0");
        fill(item.report);
        batch.push_back(std::move(item));
      };
      for (int hour = 24; hour >= 1; --hour) {
        add(now_ms - hour * 3600000LL, [&](dozor::v1::Report& r) {
          *r.mutable_health() = MakeSample(flaw, hour * 60);
          if (flaw == 13) {  // /var filling ~1 GiB an hour
            r.mutable_health()->mutable_filesystems(1)->set_available_bytes(
                (3ULL << 30) + static_cast<uint64_t>(hour) * (1ULL << 30));
          }
        });
      }
      add(now_ms - (shape.samples + 1) * 60000LL, [&](dozor::v1::Report& r) {
        *r.mutable_inventory() = MakeInventory(h, shape.packages, flaw, server_1c, client_1c);
      });
      for (int m = shape.samples; m >= 1; --m) {
        add(now_ms - m * 60000LL,
            [&](dozor::v1::Report& r) { *r.mutable_health() = MakeSample(flaw, m); });
      }
      if (batch.size() >= 200 && !flush()) {
        return false;
      }
    }
    if (!flush()) {
      return false;
    }
    if (o % 20 == 0) {
      std::fprintf(stderr, "  generated %d hosts (%.0f s)\n", first + size,
                   std::chrono::duration<double>(SteadyClock::now() - started).count());
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Shape shape;
  std::string db_path;
  bool reuse = false;
  bool per_rule = false;
  int host_runs = 300;
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
    if (!Generate(**store, shape, now_ms)) {
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

  auto pack = dozor::server::rules::LoadRulePack({}, true);
  if (per_rule) {
    // Each rule alone over the whole estate, costliest first (CPU of this thread).
    // With the findings already in the store (a reused database), sustain queries run only
    // for active targets, as in the server's steady state.
    auto listed = dozor::server::ActiveFindingTargets(**store);
    std::optional<dozor::server::rules::ActiveTargets> per_rule_active;
    if (listed.ok() && listed->has_value()) {
      per_rule_active = std::move(**listed);
    }
    std::vector<std::pair<double, std::string>> costs;
    for (const auto& rule : pack.rules) {
      dozor::server::rules::RulePack one;
      one.rules.push_back(rule);
      auto single_facts = dozor::server::MakeSqliteFactSource(db_path);
      auto single = dozor::server::rules::RuleEngine::Open(*single_facts, std::move(one));
      if (!single.ok()) {
        continue;
      }
      double cpu0 = CpuSeconds();
      auto result = (*single)->EvaluateAll(now_ms, per_rule_active ? &*per_rule_active : nullptr);
      double took = CpuSeconds() - cpu0;
      costs.emplace_back(took * 1000, rule.id + (result.ok() ? "" : " (failed)"));
    }
    std::sort(costs.rbegin(), costs.rend());
    double total = 0;
    for (const auto& [ms, id] : costs) {
      total += ms;
      std::printf("  %-36s %8.1f ms\n", id.c_str(), ms);
    }
    std::printf("  sum of single-rule runs: %.1f ms\n", total);
  }
  if (!pack.errors.empty()) {
    std::fprintf(stderr, "the built-in pack has %zu errors\n", pack.errors.size());
    return 1;
  }
  const size_t rule_count = pack.rules.size();
  auto facts = dozor::server::MakeSqliteFactSource(db_path);
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
    for (const auto& result : results) {
      dozor::server::EvaluationInput input;
      input.host_scope = result.scope == dozor::server::rules::RuleScope::kHost;
      input.rule_ids = result.rule_ids;
      input.targets = result.targets;
      for (const auto& rule : rule_engine.pack().rules) {
        input.meta[rule.id] =
            dozor::server::RuleMeta{*dozor::server::ParseSeverity(rule.severity), rule.category};
      }
      for (const auto& hit : result.hits) {
        input.hits.push_back(dozor::server::FindingHit{hit.rule_id, hit.org_id, hit.host_id,
                                                       hit.evidence_json, hit.sustain_only});
      }
      auto applied = (*store)->ApplyEvaluation(input, at_ms);
      if (!applied.ok()) {
        std::fprintf(stderr, "ApplyEvaluation: %s\n", applied.error().ToString().c_str());
        return false;
      }
    }
    return true;
  };
  for (int run = 0; run < 4; ++run) {
    const bool steady = run > 0;
    std::optional<dozor::server::rules::ActiveTargets> active;
    if (steady) {
      auto listed = dozor::server::ActiveFindingTargets(**store);
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
  auto keys = (*store)->ListLiveHostKeys();
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
  auto org = (*store)->FindOrganization("ООО «Большой клиент»");
  if (!org.ok()) {
    std::fprintf(stderr, "report org: %s\n", org.error().ToString().c_str());
    return 1;
  }
  for (int run = 0; run < 2; ++run) {
    auto t0 = SteadyClock::now();
    auto report = dozor::server::report::BuildAuditReport(
        **store, **store, **store, rule_engine.pack(), org->id, now_ms, "ru");
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
