// dozorctl output for hosts: lists, summaries, inventory, changes, health, imports.
#include <algorithm>
#include <string>
#include <vector>

#include "ctl/format.hpp"
#include "ctl/format_internal.hpp"

namespace dozor::ctl {

namespace {

std::string HostState(const nlohmann::json& host) {
  if (JsonBool(At(host, "revoked"))) {
    return "revoked";
  }
  if (JsonStr(host, "source") == "import") {
    return "snapshot";
  }
  return JsonBool(At(host, "online")) ? "online" : "offline";
}

// "agent" or "import"; hosts listed by an older server carry no source and are agents.
std::string HostSource(const nlohmann::json& host) {
  const std::string source = JsonStr(host, "source");
  return source.empty() ? "agent" : source;
}

std::string CpuLine(const nlohmann::json& cpu) {
  if (!cpu.is_object()) {
    return "-";
  }
  std::string out = OrDash(JsonStr(cpu, "model"));
  out += " (" + std::to_string(JsonU64(At(cpu, "cores"))) + " cores, " +
         std::to_string(JsonU64(At(cpu, "threads"))) + " threads)";
  return out;
}

std::string AddressList(const nlohmann::json& interface) {
  std::string out;
  for (const auto& address : Array(interface, "addresses")) {
    if (!out.empty()) {
      out += ", ";
    }
    out += JsonStr(address, "address") + "/" + std::to_string(JsonU64(At(address, "prefix")));
  }
  return OrDash(out);
}

std::string SmartLine(const nlohmann::json& disk) {
  std::string status = OrDash(JsonStr(disk, "smart_status"));
  const std::string message = JsonStr(disk, "smart_message");
  if (!message.empty() && status != "passed") {
    status += " (" + message + ")";
  }
  return status;
}

// "yes (KVM)", "yes (hypervisor not identified)", "no": the hypervisor's name, not "unknown",
// which would read as "whether it is a VM is not known".
std::string VirtualMachineLine(const nlohmann::json& hardware, Lang lang) {
  if (!JsonBool(At(hardware, "virtual_machine"))) return Label("no", lang);
  std::string hypervisor = JsonStr(hardware, "hypervisor");
  if (hypervisor.empty() || hypervisor == "unknown") {
    hypervisor = Label("hypervisor not identified", lang);
  }
  return Label("yes", lang) + " (" + hypervisor + ")";
}

// "GenuineIntel family 6 model 85 stepping 7, microcode 0x5003604, cache 8192 KiB"; "-" when
// the agent did not report the CPU's identity (ARM, older agents).
std::string CpuIdentityLine(const nlohmann::json& cpu) {
  std::string out = JsonStr(cpu, "vendor");
  if (JsonU64(At(cpu, "family")) > 0 || JsonU64(At(cpu, "model_number")) > 0) {
    out += " family " + std::to_string(JsonU64(At(cpu, "family"))) + " model " +
           std::to_string(JsonU64(At(cpu, "model_number"))) + " stepping " +
           std::to_string(JsonU64(At(cpu, "stepping")));
  }
  if (!JsonStr(cpu, "microcode").empty()) out += ", microcode " + JsonStr(cpu, "microcode");
  if (JsonU64(At(cpu, "cache_kb")) > 0) {
    out += ", cache " + std::to_string(JsonU64(At(cpu, "cache_kb"))) + " KiB";
  }
  return OrDash(std::string(Trim(out, " ,")));
}

Table DiskTable(Lang lang, const nlohmann::json& hardware) {
  Table table({"DISK", "MODEL", "SERIAL", "SIZE", "TYPE", "SMART", "POWER-ON H", "TEMP"}, lang);
  table.AlignRight(3);
  table.AlignRight(6);
  for (const auto& disk : Array(hardware, "disks")) {
    const bool rotational = JsonBool(At(disk, "rotational"));
    const std::string transport = JsonStr(disk, "transport");
    const int64_t hours =
        At(disk, "power_on_hours").is_null() ? 0 : JsonI64(At(disk, "power_on_hours"));
    const int64_t temp =
        At(disk, "temperature_c").is_null() ? 0 : JsonI64(At(disk, "temperature_c"));
    // The vendor where it says more than the bus ("ATA") or a PCI id ("0x1af4").
    std::string vendor = JsonStr(disk, "vendor");
    std::string model = JsonStr(disk, "model");
    if (!vendor.empty() && vendor != "ATA" && vendor.rfind("0x", 0) != 0 &&
        model.rfind(vendor, 0) != 0) {
      model = vendor + " " + model;
    }
    table.AddRow({JsonStr(disk, "name"), OrDash(std::string(Trim(model))),
                  OrDash(JsonStr(disk, "serial")), HumanBytes(JsonU64(At(disk, "size_bytes"))),
                  OrDash(transport) + (rotational ? " hdd" : ""), SmartLine(disk),
                  hours > 0 ? std::to_string(hours) : "-",
                  temp > -1000 && temp != 0 ? std::to_string(temp) + " C" : "-"});
  }
  return table;
}

Table InterfaceTable(Lang lang, const nlohmann::json& network) {
  Table table({"INTERFACE", "STATE", "MAC", "SPEED", "ADDRESSES"}, lang);
  for (const auto& interface : Array(network, "interfaces")) {
    if (JsonBool(At(interface, "loopback"))) {
      continue;
    }
    const int64_t speed = JsonI64(At(interface, "speed_mbps"));
    table.AddRow({JsonStr(interface, "name"), OrDash(JsonStr(interface, "state")),
                  OrDash(JsonStr(interface, "mac")),
                  speed > 0 ? std::to_string(speed) + " Mb/s" : "-", AddressList(interface)});
  }
  return table;
}

// What the Linux host firewall does with new TCP connections to a listening socket: "open",
// "restricted: 10.0.0.20", "closed", "unknown", "-" when not judged (UDP, no ruleset read).
std::string FirewallVerdict(const nlohmann::json& socket, const nlohmann::json& security,
                            Lang lang) {
  if (JsonStr(socket, "protocol") != "tcp") return "-";
  const auto family = JsonU64(At(socket, "family"));
  const auto port = JsonU64(At(socket, "port"));
  for (const auto& verdict : Array(At(security, "host_firewall"), "ports")) {
    if (JsonU64(At(verdict, "port")) != port || JsonU64(At(verdict, "family")) != family) continue;
    std::string out = Label(JsonStr(verdict, "verdict"), lang);
    if (!JsonStr(verdict, "sources").empty()) out += ": " + JsonStr(verdict, "sources");
    return out;
  }
  return "-";
}

Table ListeningTable(Lang lang, const nlohmann::json& network, const nlohmann::json& security) {
  Table table({"PROTO", "ADDRESS", "PORT", "PROCESS", "HOST FIREWALL"}, lang);
  table.AlignRight(2);
  for (const auto& socket : Array(network, "listening")) {
    const std::string process = JsonStr(socket, "process");
    const uint64_t pid = JsonU64(At(socket, "pid"));
    table.AddRow(
        {JsonStr(socket, "protocol"), OrDash(JsonStr(socket, "address")),
         std::to_string(JsonU64(At(socket, "port"))),
         process.empty() ? "-" : process + (pid > 0 ? " (" + std::to_string(pid) + ")" : ""),
         FirewallVerdict(socket, security, lang)});
  }
  return table;
}

Table CollectorTable(Lang lang, const nlohmann::json& collectors) {
  Table table({"COLLECTOR", "STATUS", "MS", "ERROR"}, lang);
  table.AlignRight(2);
  if (!collectors.is_array()) {
    return table;
  }
  for (const auto& collector : collectors) {
    table.AddRow({JsonStr(collector, "name"), JsonBool(At(collector, "ok")) ? "ok" : "FAILED",
                  std::to_string(JsonU64(At(collector, "duration_ms"))),
                  OrDash(JsonStr(collector, "error"))});
  }
  return table;
}

// "1C:Enterprise 8.3.22.1709 (server)" for every application whose name mentions 1C.
std::vector<std::string> OneCVersions(const nlohmann::json& software) {
  std::vector<std::string> out;
  for (const auto& app : Array(software, "applications")) {
    const std::string name = JsonStr(app, "name");
    if (name.find("1C") == std::string::npos && name.find("1С") == std::string::npos) {
      continue;
    }
    std::string line = name + " " + JsonStr(app, "version");
    if (const std::string kind = JsonStr(app, "kind"); !kind.empty()) {
      line += " (" + kind + ")";
    }
    out.push_back(line);
  }
  return out;
}

std::string HostSummaryBlock(Lang lang, const nlohmann::json& host) {
  KeyValues kv(lang);
  kv.Add("Host", OrDash(JsonStr(host, "hostname")));
  kv.Add("Agent ID", JsonStr(host, "agent_id"));
  kv.Add("Organisation", OrDash(JsonStr(host, "org")));
  kv.Add("State", HostState(host));
  kv.Add("Source", HostSource(host) == "import" ? "import (one-shot snapshot)" : "agent");
  kv.Add("OS", OrDash(JsonStr(host, "os_pretty_name")));
  kv.Add("Addresses", OrDash(JoinJsonStrings(At(host, "addresses"), ", ")));
  kv.Add("Agent version", OrDash(JsonStr(host, "agent_version")));
  kv.Add("Enrolled", TimeField(host, "enrolled_at_ms"));
  kv.Add("Last seen", TimeField(host, "last_seen_ms"));
  kv.Add("Last inventory", TimeField(host, "last_inventory_ms"));
  if (const uint64_t dropped = JsonU64(At(host, "dropped_health_samples")); dropped > 0) {
    kv.Add("Dropped samples", std::to_string(dropped));
  }
  return kv.Render();
}

}  // namespace

std::string RenderImport(const nlohmann::json& reply, Lang /*lang*/) {
  const auto& record = At(reply, "import");
  const std::string host = OrDash(JsonStr(record, "hostname"));
  const std::string agent_id = JsonStr(record, "agent_id");
  const std::string collected = TimeField(record, "collected_at_ms");
  if (JsonBool(At(reply, "duplicate"))) {
    return "Already imported on " + TimeField(record, "imported_at_ms") + ": " + host + " (host " +
           agent_id + ", collected " + collected + "); nothing changed.\n";
  }
  const std::string outcome = JsonStr(record, "outcome");
  const std::string org = JsonStr(reply, "org");
  if (outcome == "created") {
    return "Imported " + host + " into " + org + " as a new host " + agent_id + " (collected " +
           collected + ").\n";
  }
  if (outcome == "updated") {
    return "Imported " + host + " into " + org + ": updated host " + agent_id + " (collected " +
           collected + ").\n";
  }
  return "Recorded " + host + " (collected " + collected + ") but host " + agent_id +
         " already has a newer inventory; it was kept.\n";
}

std::string RenderHostList(const nlohmann::json& reply, Lang lang) {
  Table table(
      {"AGENT ID", "HOSTNAME", "ORG", "OS", "ADDRESS", "STATE", "SOURCE", "LAST SEEN", "VERSION"},
      lang);
  for (const auto& host : Array(reply, "hosts")) {
    const auto& addresses = At(host, "addresses");
    const std::string first_address =
        addresses.is_array() && !addresses.empty() && addresses[0].is_string()
            ? addresses[0].get<std::string>()
            : "-";
    table.AddRow({JsonStr(host, "agent_id"), OrDash(JsonStr(host, "hostname")),
                  JsonStr(host, "org"), OrDash(JsonStr(host, "os_pretty_name")), first_address,
                  HostState(host), HostSource(host), TimeField(host, "last_seen_ms"),
                  OrDash(JsonStr(host, "agent_version"))});
  }
  return table.Render();
}

std::string RenderHostSearch(const nlohmann::json& reply, Lang lang) {
  const auto& hits = Array(reply, "hits");
  if (hits.empty()) {
    return Label("No host matches.", lang) + "\n";
  }
  Table table({"AGENT ID", "HOSTNAME", "ORG", "STATE", "MATCHED"}, lang);
  for (const auto& hit : hits) {
    const auto& host = At(hit, "host");
    std::string matched;
    for (const auto& match : Array(hit, "matches")) {
      matched +=
          (matched.empty() ? "" : ", ") + JsonStr(match, "field") + " " + JsonStr(match, "value");
    }
    table.AddRow({JsonStr(host, "agent_id"), OrDash(JsonStr(host, "hostname")),
                  JsonStr(host, "org"), HostState(host), matched});
  }
  std::string out = table.Render();
  if (JsonBool(At(reply, "truncated"))) {
    out += Label("More hosts matched than shown; narrow the search or raise --limit.", lang) + "\n";
  }
  return out;
}

namespace {

// "nftables, input policy drop": the Linux host firewall as the agent read it; "-" when the
// agent does not read one (Windows, older agents).
std::string HostFirewallSummary(const nlohmann::json& security, Lang lang) {
  const auto& firewall = At(security, "host_firewall");
  if (!firewall.is_object() || firewall.empty()) return "-";
  if (JsonStr(firewall, "backend").empty()) {
    return Label("not read", lang) + ": " + JsonStr(firewall, "status");
  }
  std::string out = JsonStr(firewall, "backend") + ", " + Label("input policy", lang) + " " +
                    OrDash(JsonStr(firewall, "input_policy"));
  if (JsonStr(firewall, "status") != "ok") out += " (" + JsonStr(firewall, "status") + ")";
  return out;
}

// The PostgreSQL instances' databases with their newest backup, and the data directory's free
// space: "is every database backed up, and is there room".
std::string DatabasesSection(Lang lang, const nlohmann::json& software) {
  const auto& servers = Array(software, "database_servers");
  if (servers.empty()) return {};
  std::string out = Section("Databases", lang);
  for (const auto& server : servers) {
    out += JsonStr(server, "kind") + " " + JsonStr(server, "version") + " :" +
           std::to_string(JsonU64(At(server, "port"))) + " " + JsonStr(server, "data_directory");
    const uint64_t total = JsonU64(At(server, "data_fs_total_bytes"));
    if (total > 0) {
      const uint64_t free = JsonU64(At(server, "data_fs_available_bytes"));
      out += " (" + OrDash(JsonStr(server, "data_mount_point")) + ": " + HumanBytes(free) + " " +
             Label("free of", lang) + " " + HumanBytes(total) + ")";
    }
    out += "\n";
    if (!JsonBool(At(server, "databases_listed"))) {
      out += "  " + Label("databases unknown (psql could not list them)", lang) + "\n";
      continue;
    }
    Table table({"DATABASE", "SIZE", "LAST BACKUP", "SOURCE"}, lang);
    table.AlignRight(1);
    for (const auto& database : Array(server, "databases")) {
      const int64_t size = JsonI64(At(database, "size_bytes"));
      const int64_t backup_s = JsonI64(At(database, "last_backup_time"));
      std::string from = JsonStr(database, "last_backup_source");
      if (JsonBool(At(database, "covered_without_freshness"))) {
        from += (from.empty() ? "" : "; ") + Label("covered by a job of unknown freshness", lang);
      }
      table.AddRow({JsonStr(database, "name"),
                    size >= 0 ? HumanBytes(static_cast<uint64_t>(size)) : std::string("-"),
                    backup_s > 0 ? FormatLocalTime(backup_s * 1000) : Label("none", lang),
                    OrDash(from)});
    }
    out += table.Render();
  }
  return out;
}

// "8 jobs, newest completed backup 2026-12-05 03:05, 1 failed": the overview's answer to "is this
// host backed up"; the jobs themselves are in `host inventory`.
std::string BackupSummary(const nlohmann::json& software, Lang lang) {
  const auto& jobs = Array(software, "backup_jobs");
  if (jobs.empty()) return "-";
  int64_t newest_s = 0;
  size_t failed = 0;
  for (const auto& job : jobs) {
    newest_s = std::max(newest_s, JsonI64(At(job, "last_success_time")));
    failed += JsonStr(job, "last_status") == "failed" ? 1 : 0;
  }
  std::string out = std::to_string(jobs.size()) + " " + Label("jobs", lang);
  if (newest_s > 0) {
    out += ", " + Label("newest completed backup", lang) + " " + FormatLocalTime(newest_s * 1000);
  }
  if (failed > 0) out += ", " + Label("failed", lang) + ": " + std::to_string(failed);
  return out;
}

// "md1 raid1 active, degraded; tank mirror DEGRADED, resilver 20%": the overview's answer to
// "is the storage redundant"; "-" when the host has no arrays.
std::string StorageSummary(const nlohmann::json& hardware, Lang lang) {
  const auto& arrays = Array(hardware, "storage_arrays");
  if (arrays.empty()) return "-";
  std::string out;
  for (const auto& array : arrays) {
    if (!out.empty()) out += "; ";
    out += JsonStr(array, "name");
    if (!JsonStr(array, "level").empty()) out += " " + JsonStr(array, "level");
    out += " " + JsonStr(array, "state");
    if (JsonBool(At(array, "degraded"))) out += ", " + Label("DEGRADED", lang);
    const std::string action = JsonStr(array, "sync_action");
    if (!action.empty()) {
      out += ", " + action + " " +
             std::to_string(static_cast<int>(JsonDouble(At(array, "sync_percent")))) + "%";
    }
  }
  return out;
}

// "srv-apc (apcupsd) OB, 35%, 9 min; eaton@localhost (nut) OL CHRG, not monitored": what
// protects the host from a power cut; "none" when the agent looked and found nothing.
std::string UpsSummary(const nlohmann::json& hardware, Lang lang) {
  const auto& power = At(hardware, "power");
  const auto& upses = Array(power, "ups");
  if (upses.empty()) return JsonBool(At(power, "checked")) ? Label("none", lang) : "-";
  std::string out;
  for (const auto& ups : upses) {
    if (!out.empty()) out += "; ";
    out += JsonStr(ups, "name") + " (" + JsonStr(ups, "daemon") + ") " +
           OrDash(JsonStr(ups, "status"));
    const double charge = JsonDouble(At(ups, "battery_charge_pct"));
    if (charge >= 0) {  // -1 unknown; absent is 0 in protobuf's JSON
      out += ", " + std::to_string(static_cast<int>(charge)) + "%";
    }
    const int64_t runtime_s = JsonI64(At(ups, "runtime_seconds"));
    if (runtime_s > 0) out += ", " + std::to_string(runtime_s / 60) + " " + Label("min", lang);
    if (!JsonBool(At(ups, "monitored"))) out += ", " + Label("not monitored", lang);
  }
  return out;
}

// The running 1C cluster: its agents and processes with memory, start and the ports each listens
// on (from the listening sockets), what rac said of the clusters, the technological logs and the
// licensing. Empty when the host runs no 1C server and has no licence or tech log.
std::string OneCClusterSection(Lang lang, const nlohmann::json& software,
                               const nlohmann::json& network) {
  const auto& agents = Array(software, "onec_server_agents");
  const auto& logs = Array(software, "onec_tech_logs");
  const auto& licensing = At(software, "onec_licensing");
  const auto& licence_files = Array(licensing, "licence_files");
  const auto& managers = Array(licensing, "hasp_manager_processes");
  if (agents.empty() && logs.empty() && licence_files.empty() && managers.empty()) return {};
  auto ports_of = [&](uint64_t pid) {
    std::vector<std::string> ports;
    for (const auto& socket : Array(network, "listening")) {
      if (JsonU64(At(socket, "pid")) == pid)
        ports.push_back(std::to_string(JsonU64(At(socket, "port"))));
    }
    std::sort(ports.begin(), ports.end());
    ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
    return ports.empty() ? std::string("-") : JoinStrings(ports, ",");
  };
  std::string out = Section("1C cluster", lang);
  KeyValues kv(lang);
  Table processes({"ROLE", "PID", "VERSION", "MEMORY", "STARTED", "PORTS"}, lang);
  for (const auto& agent : agents) {
    const uint64_t agent_pid = JsonU64(At(agent, "pid"));
    std::string line = OrDash(JsonStr(agent, "version")) + ", " + Label("ports", lang) + " " +
                       std::to_string(JsonU64(At(agent, "agent_port"))) + "/" +
                       std::to_string(JsonU64(At(agent, "manager_port"))) + "/" +
                       std::to_string(JsonU64(At(agent, "range_first"))) + ":" +
                       std::to_string(JsonU64(At(agent, "range_last")));
    const uint64_t restarted = JsonU64(At(agent, "restarted_workers"));
    if (restarted > 0)
      line += ", " + Label("restarted working processes", lang) + ": " + std::to_string(restarted);
    kv.Add("Server agent", line);
    kv.Add("Cluster registry", OrDash(JsonStr(agent, "registry_path")));
    const std::string rac = JsonStr(agent, "rac_status");
    if (rac != "ok") kv.Add("rac", OrDash(rac));
    for (const auto& cluster : Array(agent, "clusters")) {
      const int64_t admin = JsonI64(At(cluster, "admin_configured"));
      std::string detail = JsonStr(cluster, "host") + ":" +
                           std::to_string(JsonU64(At(cluster, "port"))) + ", " +
                           Label("administrator", lang) + ": " +
                           Label(admin > 0    ? "configured"
                                 : admin == 0 ? "not configured"
                                              : "unknown",
                                 lang);
      const int64_t infobases = JsonI64(At(cluster, "infobase_count"));
      if (infobases >= 0)
        detail += ", " + Label("infobases", lang) + ": " + std::to_string(infobases);
      kv.Add(Label("Cluster", lang) + " «" + JsonStr(cluster, "name") + "»", detail);
    }
    processes.AddRow({"ragent", std::to_string(agent_pid), JsonStr(agent, "version"), "-",
                      FormatLocalTime(JsonI64(At(agent, "start_time")) * 1000),
                      ports_of(agent_pid)});
    for (const auto& process : Array(agent, "processes")) {
      const uint64_t pid = JsonU64(At(process, "pid"));
      processes.AddRow({JsonStr(process, "role"), std::to_string(pid), JsonStr(process, "version"),
                        HumanBytes(JsonU64(At(process, "rss_bytes"))),
                        FormatLocalTime(JsonI64(At(process, "start_time")) * 1000), ports_of(pid)});
    }
  }
  for (const auto& log : logs) {
    std::string line = Label(JsonBool(At(log, "enabled")) ? "on" : "off", lang);
    if (JsonBool(At(log, "enabled"))) {
      line += ", " + OrDash(JsonStr(log, "location")) + ", " +
              std::to_string(JsonI64(At(log, "history_hours"))) + " h, " +
              (JsonBool(At(log, "size_complete")) ? "" : "≥ ") +
              HumanBytes(JsonU64(At(log, "size_bytes")));
    }
    kv.Add(Label("Tech log", lang) + " " + JsonStr(log, "config_path"), line);
  }
  if (!licence_files.empty()) kv.Add("Licence files", std::to_string(licence_files.size()));
  kv.Add("HASP licence manager",
         managers.empty() ? std::string("-") : JoinJsonStrings(managers, ", "));
  out += kv.Render();
  if (!agents.empty()) out += processes.Render();
  return out;
}

}  // namespace

std::string RenderHostShow(const nlohmann::json& host, const nlohmann::json& inventory_reply,
                           Lang lang) {
  std::string out = HostSummaryBlock(lang, host);
  const auto& inventory = At(inventory_reply, "inventory");
  // The server sends an empty inventory object for a host that has not reported one yet.
  if (!inventory.is_object() || inventory.empty()) {
    return out + "\nNo inventory received yet.\n";
  }
  const auto& hardware = At(inventory, "hardware");
  const auto& os = At(inventory, "os");
  const auto& network = At(inventory, "network");
  const auto& software = At(inventory, "software");
  const auto& security = At(inventory, "security");

  out += Section("Overview", lang);
  KeyValues kv(lang);
  kv.Add("OS", OrDash(JsonStr(os, "pretty_name")) + ", kernel " + OrDash(JsonStr(os, "kernel")));
  kv.Add("CPU", CpuLine(At(hardware, "cpu")));
  kv.Add("RAM", HumanBytes(JsonU64(At(hardware, "memory_total_bytes"))));
  kv.Add("Virtual machine", VirtualMachineLine(hardware, lang));
  if (!JsonStr(hardware, "container").empty()) {
    kv.Add("Container", JsonStr(hardware, "container"));
  }
  kv.Add("Packages", std::to_string(Array(software, "packages").size()));
  kv.Add("Services", std::to_string(Array(software, "services").size()));
  kv.Add("Backups", BackupSummary(software, lang));
  kv.Add("Storage arrays", StorageSummary(hardware, lang));
  kv.Add("UPS", UpsSummary(hardware, lang));
  kv.Add("Host firewall", HostFirewallSummary(security, lang));
  const auto one_c = OneCVersions(software);
  if (one_c.empty()) {
    kv.Add("1C", "-");
  }
  for (size_t i = 0; i < one_c.size(); ++i) {
    kv.Add(one_c.size() == 1 ? "1C" : "1C #" + std::to_string(i + 1), one_c[i]);
  }
  out += kv.Render();
  out += OneCClusterSection(lang, software, network);
  out += DatabasesSection(lang, software);

  out += Section("Disks", lang);
  out += DiskTable(lang, hardware).Render();
  out += Section("Interfaces", lang);
  out += InterfaceTable(lang, network).Render();
  out += Section("Listening ports", lang);
  out += ListeningTable(lang, network, security).Render();
  out += Section("Collectors", lang);
  out += CollectorTable(lang, At(inventory_reply, "collectors")).Render();
  return out;
}

namespace {

// The sections of `host inventory`, in the order they print.
std::string OsSection(Lang lang, const nlohmann::json& os) {
  KeyValues os_kv(lang);
  os_kv.Add("Name", OrDash(JsonStr(os, "pretty_name")));
  os_kv.Add("Kernel", OrDash(JsonStr(os, "kernel")));
  os_kv.Add("Architecture", OrDash(JsonStr(os, "architecture")));
  os_kv.Add("FQDN", OrDash(JsonStr(os, "fqdn")));
  os_kv.Add("Timezone", OrDash(JsonStr(os, "timezone")));
  os_kv.Add("Boot time", FormatLocalTime(JsonI64(At(os, "boot_time")) * 1000));
  const int64_t sync = JsonI64(At(os, "clock_synchronized"));
  os_kv.Add("Clock synchronised", sync == 1 ? "yes" : (sync == 0 ? "NO" : "unknown"));
  os_kv.Add("Reboot required", JsonBool(At(os, "reboot_required")) ? "yes" : "no");
  os_kv.Add("Pending updates", CountOrUnknown(At(os, "pending_updates")) + " (security: " +
                                   CountOrUnknown(At(os, "pending_security_updates")) + ")");
  return Section("Operating system", lang) + os_kv.Render();
}

std::string HardwareSection(Lang lang, const nlohmann::json& hardware) {
  KeyValues hw_kv(lang);
  hw_kv.Add("CPU", CpuLine(At(hardware, "cpu")));
  hw_kv.Add("RAM", HumanBytes(JsonU64(At(hardware, "memory_total_bytes"))));
  const auto& dmi = At(hardware, "dmi");
  hw_kv.Add("System", OrDash(JsonStr(dmi, "system_vendor") + " " + JsonStr(dmi, "system_model")));
  hw_kv.Add("Serial", OrDash(JsonStr(dmi, "system_serial")));
  hw_kv.Add("BIOS", OrDash(JsonStr(dmi, "bios_vendor") + " " + JsonStr(dmi, "bios_version") + " " +
                           JsonStr(dmi, "bios_date")));
  hw_kv.Add("CPU identity", CpuIdentityLine(At(hardware, "cpu")));
  hw_kv.Add("Swap", JsonU64(At(hardware, "swap_total_bytes")) > 0
                        ? HumanBytes(JsonU64(At(hardware, "swap_total_bytes")))
                        : Label("none", lang));
  hw_kv.Add("Virtual machine", VirtualMachineLine(hardware, lang));
  hw_kv.Add("Container", OrDash(JsonStr(hardware, "container")));
  std::string out = Section("Hardware", lang) + hw_kv.Render() + Section("Disks", lang) +
                    DiskTable(lang, hardware).Render();
  // Arrays with their members, so a failed disk is named on the host page, not only in a finding.
  const auto& arrays = Array(hardware, "storage_arrays");
  if (!arrays.empty()) {
    Table table({"ARRAY", "KIND", "LEVEL", "STATE", "SYNC", "SIZE", "MEMBERS"}, lang);
    for (const auto& array : arrays) {
      std::string state = JsonStr(array, "state");
      if (JsonBool(At(array, "degraded"))) state += " " + Label("DEGRADED", lang);
      std::string sync = JsonStr(array, "sync_action");
      if (!sync.empty()) {
        sync += " " + std::to_string(static_cast<int>(JsonDouble(At(array, "sync_percent")))) + "%";
      }
      std::string members;
      for (const auto& member : Array(array, "members")) {
        if (!members.empty()) members += ", ";
        members += JsonStr(member, "device") + " " + JsonStr(member, "state");
      }
      const uint64_t size = JsonU64(At(array, "size_bytes"));
      table.AddRow({JsonStr(array, "name"), JsonStr(array, "kind"), OrDash(JsonStr(array, "level")),
                    state, OrDash(sync), size > 0 ? HumanBytes(size) : std::string("-"),
                    OrDash(members)});
    }
    out += Section("Storage arrays", lang) + table.Render();
  }
  // PCI devices with the driver bound to each: which storage controller and NIC the machine has.
  const auto& pci_devices = Array(hardware, "pci_devices");
  if (!pci_devices.empty()) {
    Table table({"ADDRESS", "CLASS", "DEVICE", "IDS", "DRIVER"}, lang);
    for (const auto& device : pci_devices) {
      std::string name = JsonStr(device, "vendor_name");
      const std::string device_name = JsonStr(device, "device_name");
      if (!device_name.empty()) name += (name.empty() ? "" : " ") + device_name;
      table.AddRow({JsonStr(device, "address"),
                    OrDash(JsonStr(device, "class_name").empty() ? JsonStr(device, "class_code")
                                                                 : JsonStr(device, "class_name")),
                    OrDash(name), JsonStr(device, "vendor_id") + ":" + JsonStr(device, "device_id"),
                    JsonStr(device, "driver").empty() ? Label("no driver", lang)
                                                      : JsonStr(device, "driver")});
    }
    out += Section("PCI devices", lang) + table.Render();
  }
  // Filesystems (Linux) and drive letters (Windows) with capacity and free space as the
  // inventory saw them; size 0 is a network share that was not measured.
  const auto& volumes = Array(hardware, "volumes");
  if (!volumes.empty()) {
    Table table({"VOLUME", "FILESYSTEM", "SIZE", "FREE", "KIND"}, lang);
    table.AlignRight(2);
    table.AlignRight(3);
    for (const auto& volume : volumes) {
      const uint64_t size = JsonU64(At(volume, "size_bytes"));
      std::string kind = JsonStr(volume, "kind");
      if (!JsonStr(volume, "remote_path").empty()) kind += " " + JsonStr(volume, "remote_path");
      table.AddRow({JsonStr(volume, "mount_point"), OrDash(JsonStr(volume, "file_system")),
                    size > 0 ? HumanBytes(size) : "-",
                    size > 0 ? HumanBytes(JsonU64(At(volume, "free_bytes"))) : "-", OrDash(kind)});
    }
    out += Section("Filesystems", lang) + table.Render();
  }
  return out;
}

std::string NetworkSection(Lang lang, const nlohmann::json& network,
                           const nlohmann::json& security) {
  std::string out = Section("Network interfaces", lang);
  out += InterfaceTable(lang, network).Render();
  Table gateways({"GATEWAY", "INTERFACE"}, lang);
  for (const auto& gateway : Array(network, "gateways")) {
    gateways.AddRow({JsonStr(gateway, "address"), JsonStr(gateway, "interface")});
  }
  if (gateways.rows() > 0) {
    out += "\n" + gateways.Render();
  }
  out += "\n" + Label("DNS servers", lang) + ": " +
         OrDash(JoinJsonStrings(At(network, "dns_servers"), ", ")) + "\n";
  out += Section("Listening ports", lang);
  out += ListeningTable(lang, network, security).Render();
  return out;
}

std::string UsersSection(Lang lang, const nlohmann::json& os) {
  // People's accounts in the table; the accounts without a login shell (services', the
  // system's) by name below it, or the table would be mostly daemons.
  Table users({"USER", "UID", "ADMIN", "LAST LOGIN", "FROM", "SHELL", "HOME"}, lang);
  users.AlignRight(1);
  std::string system_accounts;
  for (const auto& user : Array(os, "users")) {
    if (JsonStr(user, "kind") == "system") {
      if (!system_accounts.empty()) system_accounts += ", ";
      system_accounts += JsonStr(user, "name");
      continue;
    }
    const int64_t last_login = JsonI64(At(user, "last_login_time"));
    // An account nobody can log in as (expired): marked, as an auditor reads it differently.
    std::string name = JsonStr(user, "name");
    if (JsonBool(At(user, "disabled"))) name += " (" + Label("login disabled", lang) + ")";
    users.AddRow({name, std::to_string(JsonU64(At(user, "uid"))),
                  JsonBool(At(user, "administrator")) ? "yes" : "",
                  last_login > 0 ? FormatLocalTime(last_login * 1000) : Label("never", lang),
                  OrDash(JsonStr(user, "last_login_from")), JsonStr(user, "shell"),
                  JsonStr(user, "home")});
  }
  std::string out = Section("Users", lang) + users.Render();
  if (!system_accounts.empty()) {
    out += "\n" + Label("System accounts (no login shell)", lang) + ": " + system_accounts + "\n";
  }
  // Groups that have someone in them: who is in sudo or wheel is what an auditor reads here.
  Table groups({"GROUP", "GID", "ADMIN", "ACCOUNTS"}, lang);
  groups.AlignRight(1);
  for (const auto& group : Array(os, "groups")) {
    std::string members = JoinJsonStrings(At(group, "members"), ", ");
    for (const auto& primary : Array(group, "primary_members")) {
      const std::string name = primary.is_string() ? primary.get<std::string>() : std::string();
      bool listed = false;
      for (const auto& member : Array(group, "members")) {
        listed = listed || (member.is_string() && member.get<std::string>() == name);
      }
      if (listed) continue;
      if (!members.empty()) members += ", ";
      members += name + " (" + Label("primary group", lang) + ")";
    }
    if (members.empty()) continue;
    groups.AddRow({JsonStr(group, "name"), std::to_string(JsonU64(At(group, "gid"))),
                   JsonBool(At(group, "administrator")) ? "yes" : "", members});
  }
  if (groups.rows() > 0) {
    out += Section("Groups", lang) + groups.Render();
  }
  return out;
}

std::string SoftwareSections(Lang lang, const nlohmann::json& software) {
  Table apps({"APPLICATION", "VERSION", "KIND", "ARCH", "PATH"}, lang);
  for (const auto& app : Array(software, "applications")) {
    apps.AddRow({JsonStr(app, "name"), JsonStr(app, "version"), JsonStr(app, "kind"),
                 JsonStr(app, "architecture"), JsonStr(app, "path")});
  }
  std::string out = Section("Applications", lang) + apps.Render();

  Table services({"SERVICE", "ACTIVE", "SUB", "ENABLED", "DESCRIPTION"}, lang);
  for (const auto& service : Array(software, "services")) {
    services.AddRow({JsonStr(service, "name"), JsonStr(service, "active_state"),
                     JsonStr(service, "sub_state"), JsonStr(service, "enabled"),
                     JsonStr(service, "description")});
  }
  out += Section("Services", lang) + services.Render();

  // Backup jobs with the freshness of their newest backup, so "is it backed up, and when did
  // it last work" is answered on the host page, not only by a finding.
  const auto& jobs = Array(software, "backup_jobs");
  if (!jobs.empty()) {
    Table backups({"TOOL", "WHAT", "SCHEDULE", "LAST SUCCESS", "LAST RUN", "SOURCE"}, lang);
    for (const auto& job : jobs) {
      std::string what = JsonStr(job, "target");
      if (what.empty()) what = JsonStr(job, "destination");
      const int64_t success_s = JsonI64(At(job, "last_success_time"));
      const int64_t run_s = JsonI64(At(job, "last_run_time"));
      std::string last_run = run_s > 0 ? FormatLocalTime(run_s * 1000) : std::string("-");
      if (!JsonStr(job, "last_status").empty()) last_run += " " + JsonStr(job, "last_status");
      backups.AddRow({JsonStr(job, "tool"), what, OrDash(JsonStr(job, "schedule")),
                      success_s > 0 ? FormatLocalTime(success_s * 1000) : std::string("-"),
                      last_run, JsonStr(job, "source")});
    }
    out += Section("Backups", lang) + backups.Render();
  }

  const auto& packages = Array(software, "packages");
  Table package_table({"PACKAGE", "VERSION", "ARCH", "SOURCE", "INSTALLED"}, lang);
  for (const auto& package : packages) {
    package_table.AddRow({JsonStr(package, "name"), JsonStr(package, "version"),
                          JsonStr(package, "architecture"), JsonStr(package, "source"),
                          FormatLocalTime(JsonI64(At(package, "install_time")) * 1000)});
  }
  out += Section(Label("Packages", lang) + " (" + std::to_string(packages.size()) + ")") +
         package_table.Render();
  // Held packages (apt-mark hold) are left behind by every upgrade: named apart, not lost among
  // thousands.
  std::string held;
  for (const auto& package : packages) {
    if (JsonBool(At(package, "held"))) {
      held +=
          (held.empty() ? "" : ", ") + JsonStr(package, "name") + " " + JsonStr(package, "version");
    }
  }
  if (!held.empty()) out += "\n" + Label("Held packages", lang) + ": " + held + "\n";

  const auto& repositories = Array(software, "repositories");
  if (!repositories.empty()) {
    Table repository_table({"REPOSITORY", "SUITE", "COMPONENTS", "ORIGIN", "FILE"}, lang);
    for (const auto& repository : repositories) {
      std::string origin =
          Label(JsonBool(At(repository, "official")) ? "official" : "third-party", lang);
      if (!JsonBool(At(repository, "enabled"))) origin += ", " + Label("not enabled", lang);
      std::string uri = JsonStr(repository, "uri");
      if (!JsonStr(repository, "name").empty()) uri = JsonStr(repository, "name") + " " + uri;
      repository_table.AddRow({uri, OrDash(JsonStr(repository, "suite")),
                               OrDash(JsonStr(repository, "components")), origin,
                               JsonStr(repository, "file")});
    }
    out += Section("Package repositories", lang) + repository_table.Render();
  }
  return out;
}

}  // namespace

std::string RenderInventory(const nlohmann::json& inventory_reply, Lang lang) {
  const auto& inventory = At(inventory_reply, "inventory");
  const auto& os = At(inventory, "os");
  const auto& software = At(inventory, "software");
  return HostSummaryBlock(lang, At(inventory_reply, "host")) + OsSection(lang, os) +
         HardwareSection(lang, At(inventory, "hardware")) +
         NetworkSection(lang, At(inventory, "network"), At(inventory, "security")) +
         UsersSection(lang, os) + SoftwareSections(lang, software) + Section("Collectors", lang) +
         CollectorTable(lang, At(inventory_reply, "collectors")).Render();
}

std::string RenderChanges(const nlohmann::json& reply, Lang lang) {
  Table table({"TIME", "CATEGORY", "ACTION", "SUBJECT", "OLD", "NEW"}, lang);
  for (const auto& change : Array(reply, "changes")) {
    table.AddRow({TimeField(change, "at_ms"), JsonStr(change, "category"),
                  JsonStr(change, "action"), JsonStr(change, "subject"),
                  OrDash(JsonStr(change, "old_value")), OrDash(JsonStr(change, "new_value"))});
  }
  return table.Render();
}

std::string RenderHealth(const nlohmann::json& reply, Lang lang) {
  Table table({"TIME", "CPU%", "LOAD1", "MEM%", "SWAP%", "FULLEST FS"}, lang);
  for (size_t column = 1; column <= 4; ++column) {
    table.AlignRight(column);
  }
  for (const auto& record : Array(reply, "samples")) {
    const auto& sample = At(record, "sample");
    const auto& derived = At(record, "derived");
    const auto& fullest = At(derived, "fullest_filesystem");
    char load[32];
    std::snprintf(load, sizeof(load), "%.2f", JsonDouble(At(sample, "load1")));
    table.AddRow(
        {TimeField(record, "collected_at_ms"), FormatPercent(JsonDouble(At(sample, "cpu_percent"))),
         load, FormatPercent(JsonDouble(At(derived, "memory_used_percent"))),
         FormatPercent(JsonDouble(At(derived, "swap_used_percent"))),
         fullest.is_object() ? JsonStr(fullest, "mount_point") + " " +
                                   FormatPercent(JsonDouble(At(fullest, "used_percent"))) + "%"
                             : "-"});
  }
  return table.Render();
}

}  // namespace dozor::ctl
