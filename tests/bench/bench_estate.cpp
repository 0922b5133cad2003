#include "bench_estate.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <utility>
#include <vector>

#include "dozor/common/crypto.hpp"

namespace dozor::bench {

v1::Inventory MakeInventory(int index, int packages, const Flaws& flaws, bool one_c_server,
                            bool one_c_client) {
  auto flaw = [&](Flaw f) { return flaws.test(static_cast<size_t>(f)); };
  v1::Inventory inv;
  auto* os = inv.mutable_os();
  const bool old_os = flaw(Flaw::kOldOs);
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
  os->set_uptime_seconds(flaw(Flaw::kLongUptime) ? 400LL * 86400 : 20LL * 86400);
  os->set_boot_time(1700000000);
  os->set_clock_synchronized(flaw(Flaw::kClockUnsynced) ? 0 : 1);
  os->set_reboot_required(flaw(Flaw::kRebootPending));
  os->set_pending_updates(3);
  os->set_pending_security_updates(0);
  os->set_machine_id("machine-" + std::to_string(index));
  auto* hw = inv.mutable_hardware();
  hw->mutable_cpu()->set_model("Intel(R) Xeon(R) Silver 4210R CPU @ 2.40GHz");
  hw->mutable_cpu()->set_sockets(1);
  hw->mutable_cpu()->set_cores(10);
  hw->mutable_cpu()->set_threads(20);
  hw->set_memory_total_bytes((flaw(Flaw::kSmallRam) ? 2ULL : 32ULL) << 30);
  hw->mutable_dmi()->set_system_vendor("Dell Inc.");
  hw->mutable_dmi()->set_system_model("PowerEdge R440");
  hw->mutable_dmi()->set_bios_date(flaw(Flaw::kOldBios) ? "2012-03-01" : "2022-05-10");
  hw->mutable_dmi()->set_chassis_type("Rack Mount Chassis");
  hw->set_smartctl_available(true);
  for (int d = 0; d < 2; ++d) {
    auto* disk = hw->add_disks();
    disk->set_name(d == 0 ? "sda" : "sdb");
    disk->set_model("SAMSUNG MZ7LH480");
    disk->set_size_bytes(480ULL << 30);
    disk->set_rotational(false);
    disk->set_transport("sata");
    disk->set_smart_status(flaw(Flaw::kSmartFailed) && d == 1 ? "failed" : "passed");
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
  if (!flaw(Flaw::kSingleDns)) {
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
  if (flaw(Flaw::kTelnet)) {
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
  if (!flaw(Flaw::kNoBackup)) {
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
    app->set_version(one_c_client && flaw(Flaw::kOldOneCClient) ? "8.3.22.1709" : "8.3.24.1467");
    app->set_kind(one_c_server ? "server" : "client");
    app->set_path("/opt/1cv8/x86_64/8.3.24.1467");
  }
  return inv;
}

v1::HealthSample MakeSample(const Flaws& flaws, int minute) {
  const bool cpu_saturated = flaws.test(static_cast<size_t>(Flaw::kCpuSaturated));
  const bool disk_low = flaws.test(static_cast<size_t>(Flaw::kDiskFilling));
  v1::HealthSample s;
  s.set_cpu_percent(cpu_saturated ? 97 : 20 + minute % 7);
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
    uint64_t avail = (disk_low && i == 1) ? (3ULL << 30) : (60ULL << 30);
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

Flaws FlawsOf(int host_index, const EstateShape& shape) {
  Flaws flaws;
  if (shape.flaws_per_host <= 0) {
    if (host_index % 8 == 0) {
      flaws.set(static_cast<size_t>(1 + (host_index / 8) % kFlawKinds));
    }
    return flaws;
  }
  // N consecutive kinds starting at a different one per host, so every rule fires somewhere.
  const int count = std::min(shape.flaws_per_host, kFlawKinds);
  for (int k = 0; k < count; ++k) {
    flaws.set(static_cast<size_t>(1 + (host_index + k) % kFlawKinds));
  }
  return flaws;
}

Status GenerateEstate(server::SqliteStore& store, const EstateShape& shape, int64_t now_ms) {
  std::vector<std::pair<int, int>> orgs;  // (first host index, size)
  for (int first = 0; first < shape.hosts; first += shape.org_size) {
    orgs.emplace_back(first, std::min(shape.org_size, shape.hosts - first));
  }
  const bool report_org = shape.report_org_hosts > 0;
  if (report_org) {
    orgs.emplace_back(shape.hosts, shape.report_org_hosts);
  }
  const auto started = std::chrono::steady_clock::now();
  for (size_t o = 0; o < orgs.size(); ++o) {
    server::Organization org;
    org.name =
        report_org && o + 1 == orgs.size() ? "ООО «Большой клиент»" : "client-" + std::to_string(o);
    auto created = store.CreateOrganization(org);
    if (!created.ok()) {
      return created.error();
    }
    const std::string token = "bench-token-" + std::to_string(o);
    server::NewEnrollmentToken new_token;
    new_token.org_id = created->id;
    new_token.token_hash = Sha256Hex(token);
    if (auto made = store.CreateEnrollmentToken(new_token); !made.ok()) {
      return made.error();
    }
    std::vector<server::IncomingReport> batch;
    auto flush = [&]() -> Status {
      if (batch.empty()) {
        return {};
      }
      auto committed = store.CommitReports(batch);
      batch.clear();
      if (!committed.ok()) {
        return committed.error();
      }
      return {};
    };
    const auto [first, size] = orgs[o];
    for (int h = first; h < first + size; ++h) {
      server::NewAgent agent;
      agent.agent_id = "bench-" + std::to_string(h);
      agent.secret_hash = Sha256Hex(agent.agent_id);
      agent.hostname = "host-" + std::to_string(h);
      if (auto enrolled = store.EnrollAgent(new_token.token_hash, agent, now_ms - 86400000LL * 2);
          !enrolled.ok()) {
        return enrolled.error();
      }
      const Flaws flaws = FlawsOf(h, shape);
      const bool disk_filling = flaws.test(static_cast<size_t>(Flaw::kDiskFilling));
      const bool server_1c = (h - first) == 0;
      const bool client_1c = !server_1c && (h - first) % 4 == 1;
      uint64_t seq = 1;
      auto add = [&](int64_t collected_at, auto fill) {
        server::IncomingReport item;
        item.agent_id = agent.agent_id;
        item.received_at_ms = collected_at + 50;
        item.report.set_seq(seq++);
        item.report.set_collected_at_ms(collected_at);
        item.report.set_agent_version("0.1.0");
        fill(item.report);
        batch.push_back(std::move(item));
      };
      for (int hour = 24; hour >= 1; --hour) {
        add(now_ms - hour * 3600000LL, [&](v1::Report& r) {
          *r.mutable_health() = MakeSample(flaws, hour * 60);
          if (disk_filling) {  // /var filling ~1 GiB an hour
            r.mutable_health()->mutable_filesystems(1)->set_available_bytes(
                (3ULL << 30) + static_cast<uint64_t>(hour) * (1ULL << 30));
          }
        });
      }
      add(now_ms - (shape.samples + 1) * 60000LL, [&](v1::Report& r) {
        *r.mutable_inventory() = MakeInventory(h, shape.packages, flaws, server_1c, client_1c);
      });
      for (int m = shape.samples; m >= 1; --m) {
        add(now_ms - m * 60000LL,
            [&](v1::Report& r) { *r.mutable_health() = MakeSample(flaws, m); });
      }
      if (batch.size() >= 200) {
        if (auto flushed = flush(); !flushed.ok()) {
          return flushed;
        }
      }
    }
    if (auto flushed = flush(); !flushed.ok()) {
      return flushed;
    }
    if (o % 20 == 0) {
      std::fprintf(
          stderr, "  generated %d hosts (%.0f s)\n", first + size,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
  }
  return {};
}

Status ApplyResults(server::FindingStore& findings, const server::rules::RulePack& pack,
                    const std::vector<server::rules::EvaluationResult>& results, int64_t at_ms) {
  std::map<std::string, server::RuleMeta> meta;
  for (const auto& rule : pack.rules) {
    auto severity = server::ParseSeverity(rule.severity);
    if (!severity) {
      return MakeError(ErrorCode::kInternal, "rule " + rule.id + ": unknown severity");
    }
    meta[rule.id] = server::RuleMeta{*severity, rule.category};
  }
  for (const auto& result : results) {
    server::EvaluationInput input;
    input.host_scope = result.scope == server::rules::RuleScope::kHost;
    input.rule_ids = result.rule_ids;
    input.targets = result.targets;
    input.meta.insert(meta.begin(), meta.end());
    for (const auto& hit : result.hits) {
      input.hits.push_back(server::FindingHit{hit.rule_id, hit.org_id, hit.host_id,
                                              hit.evidence_json, hit.sustain_only, ""});
    }
    if (auto applied = findings.ApplyEvaluation(input, at_ms); !applied.ok()) {
      return applied.error();
    }
  }
  return {};
}

}  // namespace dozor::bench
