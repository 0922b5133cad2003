// The hosts area on PostgreSQL: a host's normalised inventory rows. Each Inv*Rows function below
// mirrors an Insert* function of SQLite's ReplaceHostRows (sqlite_store_commit.cpp) row for row
// and value for value; the tests compare the two backends' tables over many inventories.
#include "store/postgres/pg_inventory_rows.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <concepts>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "domain/host_role.hpp"
#include "dozor/common/text.hpp"

namespace dozor::server {

// ------------------------------------------------------------------ array literals

namespace {

// ------------------------------------------------------------------ the tables

// Every table ReplacePgHostRows writes, in SQLite's kHostTables order, with the columns in the
// order of SQLite's INSERT statements (so each Row(...) below reads like SQLite's RunWith) and
// their types: t text, i bigint, d double precision. `one_row` tables are keyed by the host;
// the others number the host's rows in `ordinal`.
struct InvTableSpec {
  const char* name;
  bool one_row;
  const char* columns;
};

constexpr InvTableSpec kInvTableSpecs[] = {
    {"host_os", true,
     "os_id t, id_like t, family t, name t, version t, version_id t, pretty_name t, "
     "kernel t, architecture t, hostname t, fqdn t, timezone t, boot_time i, "
     "reboot_required i, pending_updates i, pending_security_updates i, machine_id t, "
     "uptime_seconds i, clock_synchronized i, clock_max_error_us i, "
     "security_pending_since i, role t, install_time i, edition t, build t, "
     "activation t, domain t, workgroup t, time_source t, last_update_install_time i, "
     "update_error t, product_type t, duties t"},
    {"host_hardware", true,
     "cpu_model t, cpu_sockets i, cpu_cores i, cpu_threads i, memory_total_bytes i, "
     "system_vendor t, system_model t, system_serial t, bios_vendor t, "
     "bios_version t, bios_date t, virtual_machine i, hypervisor t, chassis_type t, "
     "smartctl_available i, cpu_vendor t, cpu_family i, cpu_model_number i, "
     "cpu_stepping i, cpu_cache_kb i, cpu_microcode t, swap_total_bytes i, "
     "container t"},
    {"host_disks", false,
     "name t, model t, serial t, size_bytes i, rotational i, transport t, "
     "smart_status t, power_on_hours i, temperature_c i, removable i, "
     "smart_message t, reallocated_sectors i, pending_sectors i, "
     "offline_uncorrectable i, health t, wear_percent i, media_type t, vendor t"},
    {"host_interfaces", false,
     "name t, mac t, mtu i, state t, speed_mbps i, loopback i, virtual i, duplex t"},
    {"host_addresses", false, "interface t, address t, prefix i, family i, loopback i"},
    {"host_gateways", false, "address t, interface t, family i"},
    {"host_dns", false, "position i, server t"},
    {"host_listeners", false, "protocol t, family i, address t, port i, pid i, process t, uid i"},
    {"host_packages", false,
     "name t, version t, architecture t, source t, vendor t, install_time i, held i"},
    {"host_applications", false,
     "name t, version t, architecture t, path t, kind t, ports t, state t"},
    {"host_services", false,
     "name t, description t, load_state t, active_state t, sub_state t, enabled t, "
     "account t, command t"},
    {"host_users", false,
     "name t, uid i, shell t, home t, administrator i, disabled i, kind t, domain t, "
     "last_login i, last_login_from t, gid i"},
    {"host_security", true,
     "remote_desktop i, remote_desktop_nla i, remote_desktop_port i, smb1 i, "
     "password_min_length i, password_max_age_days i, lockout_threshold i, "
     "password_complexity i"},
    {"host_antivirus", false,
     "name t, enabled i, up_to_date i, signatures_updated i, source t, version t"},
    {"host_firewall_profiles", false, "name t, enabled i"},
    {"host_volumes", false,
     "mount_point t, label t, file_system t, size_bytes i, free_bytes i, kind t, "
     "remote_path t, encryption t"},
    {"host_batteries", false,
     "name t, design_capacity_mwh i, full_charge_capacity_mwh i, charge_percent i, "
     "status t"},
    {"host_memory_modules", false,
     "slot t, size_bytes i, speed_mhz i, manufacturer t, part_number t, serial t"},
    {"host_infobases", false,
     "user_name t, name t, kind t, location t, network_share i, version t"},
    {"host_license_clients", false, "position i, kind t, config_path t, broadcast i"},
    {"host_license_servers", false, "client_position i, server t"},
    {"host_unavailable", false, "part t, note t"},
    {"host_backup_jobs", false,
     "tool t, source t, schedule t, target t, destination t, last_success_time i, "
     "last_run_time i, last_status t, last_error t, freshness_source t, "
     "interval_seconds i"},
    {"host_processes", false, "pid i, name t, user_name t, rss_bytes i, start_time i, command t"},
    {"host_database_servers", false,
     "position i, kind t, version t, config_path t, data_directory t, "
     "listen_addresses t, port i, onec_build i, autovacuum i, running i, hba_path t, "
     "databases_listed i, data_mount_point t, data_fs_total_bytes i, "
     "data_fs_available_bytes i"},
    {"host_database_hba", false,
     "server_position i, line i, type t, database_name t, user_name t, address t, "
     "method t"},
    {"host_storage_arrays", false,
     "kind t, name t, level t, state t, degraded i, sync_action t, sync_percent d, "
     "size_bytes i, free_bytes i, errors t, last_scrub_time i, controller t, "
     "devices_expected i, devices_active i, members t, failed_members i"},
    {"host_ups", false,
     "daemon t, name t, model t, status t, on_battery i, low_battery i, "
     "battery_charge_pct d, runtime_seconds i, monitored i, source t"},
    {"host_power", true, "checked i"},
    {"host_onec_agents", false,
     "position i, pid i, version t, user_name t, start_time i, agent_port i, "
     "manager_port i, range_first i, range_last i, registry_path t, "
     "restarted_workers i, rac_status t"},
    {"host_onec_processes", false,
     "agent_position i, role t, pid i, version t, rss_bytes i, start_time i"},
    {"host_onec_clusters", false,
     "agent_position i, cluster_id t, name t, host t, port i, lifetime_limit i, "
     "max_memory_size i, security_level i, admin_configured i, admins t, "
     "infobase_count i"},
    {"host_onec_tech_logs", false,
     "config_path t, enabled i, location t, history_hours i, size_bytes i, "
     "size_complete i, events i"},
    {"host_onec_licensing", false, "kind t, name t"},
    {"host_repositories", false,
     "manager t, file t, name t, kind t, uri t, suite t, components t, enabled i, "
     "official i"},
    {"host_pci_devices", false,
     "address t, vendor_id t, device_id t, class_code t, class_name t, "
     "subsystem_vendor_id t, subsystem_device_id t, driver t, vendor_name t, "
     "device_name t"},
    {"host_groups", false, "name t, gid i, administrator i"},
    {"host_group_members", false, "group_name t, member t, primary_group i"},
    {"host_database_databases", false,
     "server_position i, name t, size_bytes i, newest_dump_time i, "
     "newest_dump_path t, newest_dump_job t, last_backup_time i, "
     "last_backup_source t, last_backup_interval_seconds i, "
     "covered_without_freshness i"},
    {"host_firewall", true, "backend t, input_policy t, status t, rule_count i"},
    {"host_firewall_ports", false, "family i, protocol t, port i, verdict t, sources t, reason t"},
};

enum InvTable : size_t {
  kOs,
  kHardware,
  kDisks,
  kInterfaces,
  kAddresses,
  kGateways,
  kDns,
  kListeners,
  kPackages,
  kApplications,
  kServices,
  kUsers,
  kSecurity,
  kAntivirus,
  kFirewallProfiles,
  kVolumes,
  kBatteries,
  kMemoryModules,
  kInfobases,
  kLicenseClients,
  kLicenseServers,
  kUnavailable,
  kBackupJobs,
  kProcesses,
  kDatabaseServers,
  kDatabaseHba,
  kStorageArrays,
  kUps,
  kPower,
  kOnecAgents,
  kOnecProcesses,
  kOnecClusters,
  kOnecTechLogs,
  kOnecLicensing,
  kRepositories,
  kPciDevices,
  kGroups,
  kGroupMembers,
  kDatabaseDatabases,
  kFirewall,
  kFirewallPorts,
  kInvTableCount
};
static_assert(kInvTableCount == std::size(kInvTableSpecs), "one InvTable per spec");

struct InvColumnSpec {
  std::string name;
  char type;  // 't', 'i', 'd'
};

struct InvTableColumns {
  std::vector<InvColumnSpec> columns;
};

// The specs' column lists, split once.
const std::vector<InvTableColumns>& InvColumns() {
  static const std::vector<InvTableColumns> parsed = [] {
    std::vector<InvTableColumns> tables;
    for (const InvTableSpec& spec : kInvTableSpecs) {
      InvTableColumns table;
      std::string_view rest = spec.columns;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        std::string_view item = Trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        const size_t space = item.rfind(' ');
        table.columns.push_back({std::string(item.substr(0, space)), item[space + 1]});
      }
      tables.push_back(std::move(table));
    }
    return tables;
  }();
  return parsed;
}

const char* InvArrayType(char type) {
  switch (type) {
    case 'i':
      return "bigint[]";
    case 'd':
      return "double precision[]";
    default:
      return "text[]";
  }
}

// One statement that deletes the host's rows from every table ($1 org_id, $2 agent) and returns
// the deleted host_os row's pending security updates and the start of their run.
const std::string& InvDeleteSql() {
  static const std::string sql = [] {
    std::string text = "WITH ";
    for (size_t t = 0; t < kInvTableCount; ++t) {
      text += (t == 0 ? "" : ", ");
      text += "d" + std::to_string(t) + " AS (DELETE FROM " + kInvTableSpecs[t].name +
              " WHERE org_id = $1::bigint AND agent = $2::bigint";
      text += t == kOs ? " RETURNING pending_security_updates, security_pending_since)" : ")";
    }
    text += " SELECT pending_security_updates, security_pending_since FROM d0";
    return text;
  }();
  return sql;
}

// One statement that inserts every table's rows: $1 org_id, $2 agent, then one array per column
// of each table in spec order. A table with no rows gets empty arrays and inserts nothing.
const std::string& InvInsertSql() {
  static const std::string sql = [] {
    std::string text = "WITH ";
    int param = 3;
    for (size_t t = 0; t < kInvTableCount; ++t) {
      const InvTableSpec& spec = kInvTableSpecs[t];
      const auto& columns = InvColumns()[t].columns;
      std::string names = "org_id, agent";
      std::string selected = "$1::bigint, $2::bigint";
      std::string arrays;
      std::string aliases;
      if (!spec.one_row) {
        names += ", ordinal";
        selected += ", u.ord";
      }
      for (size_t c = 0; c < columns.size(); ++c) {
        const std::string alias = "c" + std::to_string(c);
        names += ", " + columns[c].name;
        selected += ", u." + alias;
        arrays +=
            (c == 0 ? "$" : ", $") + std::to_string(param++) + "::" + InvArrayType(columns[c].type);
        aliases += (c == 0 ? "" : ", ") + alias;
      }
      text += (t == 0 ? "" : ", ");
      text += "i" + std::to_string(t) + " AS (INSERT INTO " + spec.name + "(" + names +
              ") SELECT " + selected + " FROM unnest(" + arrays + ") WITH ORDINALITY AS u(" +
              aliases + ", ord))";
    }
    text += " SELECT 1";
    return text;
  }();
  return sql;
}

// ------------------------------------------------------------------ rows

// A value bound as SQLite's Bind binds it: integers (unsigned ones cast to int64_t, as SQLite's
// Bind(uint64_t) does) and bools as integers, floating point as double, strings as text.
void InvAppend(pg::ArrayLiteral& column, std::string_view text) { column.Add(text); }
void InvAppend(pg::ArrayLiteral& column, const std::string& text) { column.Add(text); }
void InvAppend(pg::ArrayLiteral& column, const char* text) { column.Add(text); }
void InvAppend(pg::ArrayLiteral& column, bool value) { column.Add(int64_t{value ? 1 : 0}); }
template <std::integral T>
requires(!std::same_as<T, bool>) void InvAppend(pg::ArrayLiteral& column, T value) {
  column.Add(static_cast<int64_t>(value));
}
template <std::floating_point T>
void InvAppend(pg::ArrayLiteral& column, T value) {
  column.Add(static_cast<double>(value));
}

// The rows of every table for one host, column by column.
class InvRows {
 public:
  InvRows() {
    for (size_t t = 0; t < kInvTableCount; ++t) {
      arrays_[t].resize(InvColumns()[t].columns.size());
    }
  }

  // One row of `table`: the values in the spec's column order.
  template <typename... Values>
  void Row(InvTable table, const Values&... values) {
    std::vector<pg::ArrayLiteral>& columns = arrays_[table];
    if (sizeof...(Values) != columns.size()) {
      mismatch_ = kInvTableSpecs[table].name;
      return;
    }
    size_t c = 0;
    (InvAppend(columns[c++], values), ...);
  }

  Status Write(pg::Connection& db, int64_t org_id, int64_t agent_pk) const {
    if (!mismatch_.empty()) {
      return MakeError(ErrorCode::kInternal,
                       "inventory rows for " + mismatch_ + " do not match its columns");
    }
    pg::Params params(org_id, agent_pk);
    for (const auto& columns : arrays_) {
      for (const pg::ArrayLiteral& column : columns) {
        params.Add(column.str());
      }
    }
    auto inserted = db.Run(InvInsertSql(), params);
    if (!inserted.ok()) {
      return inserted.error();
    }
    return OkStatus();
  }

 private:
  std::array<std::vector<pg::ArrayLiteral>, kInvTableCount> arrays_;
  std::string mismatch_;
};

// A byte count as SQLite's store keeps it: a hostile 2^64-1 must not become a negative size.
int64_t InvStoredSize(uint64_t bytes) {
  return static_cast<int64_t>(std::min<uint64_t>(bytes, static_cast<uint64_t>(INT64_MAX)));
}

void InvUnavailableRows(InvRows& rows, std::string_view part,
                        const google::protobuf::RepeatedPtrField<std::string>& notes) {
  for (const std::string& note : notes) {
    rows.Row(kUnavailable, part, note);
  }
}

std::string InvJoinPorts(const google::protobuf::RepeatedField<uint32_t>& ports) {
  std::string text;
  for (uint32_t port : ports) {
    text += (text.empty() ? "" : ",") + std::to_string(port);
  }
  return text;
}

int64_t InvSmartRaw(const dozor::v1::BlockDevice& disk, uint32_t id) {
  for (const auto& attribute : disk.smart_attributes()) {
    if (attribute.id() == id) {
      return attribute.raw();
    }
  }
  return -1;
}

bool InvFailedMemberState(std::string_view state) {
  static constexpr std::string_view kFailed[] = {"faulty",  "UNAVAIL", "FAULTED", "REMOVED",
                                                 "OFFLINE", "Offln",   "UBad",    "Failed"};
  return std::find(std::begin(kFailed), std::end(kFailed), state) != std::end(kFailed);
}

bool InvIsLoopbackAddress(const dozor::v1::NetworkInterface& iface,
                          const dozor::v1::IpAddress& ip) {
  const std::string& a = ip.address();
  return iface.loopback() || a.rfind("127.", 0) == 0 || a == "::1";
}

void InvOsRow(InvRows& rows, const dozor::v1::OperatingSystem& os, int64_t security_pending_since,
              HostRole role, HostDuties duties) {
  rows.Row(kOs, os.id(), os.id_like(), os.family(), os.name(), os.version(), os.version_id(),
           os.pretty_name(), os.kernel(), os.architecture(), os.hostname(), os.fqdn(),
           os.timezone(), os.boot_time(), os.reboot_required(), os.pending_updates(),
           os.pending_security_updates(), os.machine_id(), os.uptime_seconds(),
           os.clock_synchronized(), os.clock_max_error_us(), security_pending_since, ToString(role),
           os.install_time(), os.edition(), os.build(), os.activation(), os.domain(),
           os.workgroup(), os.time_source(), os.last_update_install_time(), os.update_error(),
           os.product_type(), FormatHostDuties(duties));
}

void InvStorageAndPowerRows(InvRows& rows, const dozor::v1::Hardware& hw) {
  for (const auto& a : hw.storage_arrays()) {
    std::string members;
    int64_t failed = 0;
    for (const auto& member : a.members()) {
      if (!members.empty()) members += ", ";
      members += member.device() + " " + member.state();
      failed += InvFailedMemberState(member.state()) ? 1 : 0;
    }
    rows.Row(kStorageArrays, a.kind(), a.name(), a.level(), a.state(), a.degraded(),
             a.sync_action(), a.sync_percent(), InvStoredSize(a.size_bytes()),
             InvStoredSize(a.free_bytes()), a.errors(), a.last_scrub_time(), a.controller(),
             a.devices_expected(), a.devices_active(), members, failed);
  }
  for (const auto& u : hw.power().ups()) {
    rows.Row(kUps, u.daemon(), u.name(), u.model(), u.status(), u.on_battery(), u.low_battery(),
             u.battery_charge_pct(), u.runtime_seconds(), u.monitored(), u.source());
  }
  if (hw.power().checked()) {
    rows.Row(kPower, true);
  }
}

void InvHardwareRows(InvRows& rows, const dozor::v1::Hardware& hw) {
  const auto& cpu = hw.cpu();
  const auto& dmi = hw.dmi();
  rows.Row(kHardware, cpu.model(), cpu.sockets(), cpu.cores(), cpu.threads(),
           hw.memory_total_bytes(), dmi.system_vendor(), dmi.system_model(), dmi.system_serial(),
           dmi.bios_vendor(), dmi.bios_version(), dmi.bios_date(), hw.virtual_machine(),
           hw.hypervisor(), dmi.chassis_type(), hw.smartctl_available(), cpu.vendor(), cpu.family(),
           cpu.model_number(), cpu.stepping(), cpu.cache_kb(), cpu.microcode(),
           InvStoredSize(hw.swap_total_bytes()), hw.container());
  for (const auto& d : hw.disks()) {
    rows.Row(kDisks, d.name(), d.model(), d.serial(), d.size_bytes(), d.rotational(), d.transport(),
             d.smart_status(), d.power_on_hours(), d.temperature_c(), d.removable(),
             d.smart_message(), InvSmartRaw(d, 5), InvSmartRaw(d, 197), InvSmartRaw(d, 198),
             d.health(), d.wear_percent(), d.media_type(), d.vendor());
  }
  for (const auto& m : hw.memory_modules()) {
    rows.Row(kMemoryModules, m.slot(), InvStoredSize(m.size_bytes()), m.speed_mhz(),
             m.manufacturer(), m.part_number(), m.serial());
  }
  for (const auto& b : hw.batteries()) {
    rows.Row(kBatteries, b.name(), b.design_capacity_mwh(), b.full_charge_capacity_mwh(),
             b.charge_percent(), b.status());
  }
  for (const auto& v : hw.volumes()) {
    rows.Row(kVolumes, v.mount_point(), v.label(), v.file_system(), InvStoredSize(v.size_bytes()),
             InvStoredSize(v.free_bytes()), v.kind(), v.remote_path(), v.encryption());
  }
  InvStorageAndPowerRows(rows, hw);
  for (const auto& d : hw.pci_devices()) {
    rows.Row(kPciDevices, d.address(), d.vendor_id(), d.device_id(), d.class_code(), d.class_name(),
             d.subsystem_vendor_id(), d.subsystem_device_id(), d.driver(), d.vendor_name(),
             d.device_name());
  }
  InvUnavailableRows(rows, "hardware", hw.unavailable());
}

void InvNetworkRows(InvRows& rows, const dozor::v1::Network& net) {
  for (const auto& iface : net.interfaces()) {
    rows.Row(kInterfaces, iface.name(), iface.mac(), iface.mtu(), iface.state(), iface.speed_mbps(),
             iface.loopback(), iface.virtual_(), iface.duplex());
    for (const auto& ip : iface.addresses()) {
      rows.Row(kAddresses, iface.name(), ip.address(), ip.prefix(), ip.family(),
               InvIsLoopbackAddress(iface, ip));
    }
  }
  for (const auto& g : net.gateways()) {
    rows.Row(kGateways, g.address(), g.interface(), g.family());
  }
  for (int i = 0; i < net.dns_servers_size(); ++i) {
    rows.Row(kDns, i, net.dns_servers(i));
  }
  for (const auto& l : net.listening()) {
    rows.Row(kListeners, l.protocol(), l.family(), l.address(), l.port(), l.pid(), l.process(),
             l.uid());
  }
  InvUnavailableRows(rows, "network", net.unavailable());
}

void InvOneCRows(InvRows& rows, const dozor::v1::Software& sw) {
  for (int i = 0; i < sw.onec_server_agents_size(); ++i) {
    const dozor::v1::OneCServerAgent& a = sw.onec_server_agents(i);
    rows.Row(kOnecAgents, i, a.pid(), a.version(), a.user(), a.start_time(), a.agent_port(),
             a.manager_port(), a.range_first(), a.range_last(), a.registry_path(),
             a.restarted_workers(), a.rac_status());
    for (const auto& p : a.processes()) {
      rows.Row(kOnecProcesses, i, p.role(), p.pid(), p.version(), p.rss_bytes(), p.start_time());
    }
    for (const auto& c : a.clusters()) {
      std::string admins;
      for (const auto& name : c.admins()) admins += (admins.empty() ? "" : ", ") + name;
      rows.Row(kOnecClusters, i, c.id(), c.name(), c.host(), c.port(), c.lifetime_limit(),
               c.max_memory_size(), c.security_level(), c.admin_configured(), admins,
               c.infobase_count());
    }
  }
  for (const auto& t : sw.onec_tech_logs()) {
    rows.Row(kOnecTechLogs, t.config_path(), t.enabled(), t.location(), t.history_hours(),
             t.size_bytes(), t.size_complete(), t.events());
  }
  for (const std::string& f : sw.onec_licensing().licence_files()) {
    rows.Row(kOnecLicensing, "licence_file", f);
  }
  for (const std::string& name : sw.onec_licensing().hasp_manager_processes()) {
    rows.Row(kOnecLicensing, "hasp_manager", name);
  }
}

void InvSoftwareRows(InvRows& rows, const dozor::v1::Software& sw) {
  for (const auto& p : sw.packages()) {
    rows.Row(kPackages, p.name(), p.version(), p.architecture(), p.source(), p.vendor(),
             p.install_time(), p.held());
  }
  for (const auto& r : sw.repositories()) {
    rows.Row(kRepositories, r.manager(), r.file(), r.name(), r.kind(), r.uri(), r.suite(),
             r.components(), r.enabled(), r.official());
  }
  for (const auto& a : sw.applications()) {
    rows.Row(kApplications, a.name(), a.version(), a.architecture(), a.path(), a.kind(),
             InvJoinPorts(a.ports()), a.state());
  }
  for (const auto& s : sw.services()) {
    rows.Row(kServices, s.name(), s.description(), s.load_state(), s.active_state(), s.sub_state(),
             s.enabled(), s.account(), s.command());
  }
  for (const auto& b : sw.infobases()) {
    rows.Row(kInfobases, b.user(), b.name(), b.kind(), b.location(), b.network_share(),
             b.version());
  }
  for (int i = 0; i < sw.license_clients_size(); ++i) {
    const dozor::v1::LicenseClient& client = sw.license_clients(i);
    rows.Row(kLicenseClients, i, client.kind(), client.config_path(), client.broadcast());
    for (const std::string& server : client.servers()) {
      rows.Row(kLicenseServers, i, server);
    }
  }
  for (const auto& j : sw.backup_jobs()) {
    rows.Row(kBackupJobs, j.tool(), j.source(), j.schedule(), j.target(), j.destination(),
             j.last_success_time(), j.last_run_time(), j.last_status(), j.last_error(),
             j.freshness_source(), j.interval_seconds());
  }
  for (const auto& p : sw.processes()) {
    rows.Row(kProcesses, p.pid(), p.name(), p.user(), p.rss_bytes(), p.start_time(), p.command());
  }
  for (int i = 0; i < sw.database_servers_size(); ++i) {
    const dozor::v1::DatabaseServer& db = sw.database_servers(i);
    rows.Row(kDatabaseServers, i, db.kind(), db.version(), db.config_path(), db.data_directory(),
             db.listen_addresses(), db.port(), db.onec_build(), db.autovacuum(), db.running(),
             db.hba_path(), db.databases_listed(), db.data_mount_point(), db.data_fs_total_bytes(),
             db.data_fs_available_bytes());
    for (const auto& d : db.databases()) {
      rows.Row(kDatabaseDatabases, i, d.name(), d.size_bytes(), d.newest_dump_time(),
               d.newest_dump_path(), d.newest_dump_job(), d.last_backup_time(),
               d.last_backup_source(), d.last_backup_interval_seconds(),
               d.covered_without_freshness());
    }
    for (const auto& r : db.hba_rules()) {
      rows.Row(kDatabaseHba, i, r.line(), r.type(), r.database(), r.user(), r.address(),
               r.method());
    }
  }
  InvOneCRows(rows, sw);
  InvUnavailableRows(rows, "software", sw.unavailable());
}

// Only an agent that reports a security part gets a row: a Linux agent's absent part is not
// "remote desktop off, SMBv1 off" but nothing known.
void InvSecurityRows(InvRows& rows, const dozor::v1::Inventory& inv) {
  if (!inv.has_security()) {
    return;
  }
  const dozor::v1::Security& sec = inv.security();
  const bool has_policy = sec.has_password_policy();
  const dozor::v1::PasswordPolicy& policy = sec.password_policy();
  rows.Row(kSecurity, sec.remote_desktop(), sec.remote_desktop_nla(), sec.remote_desktop_port(),
           sec.smb1(), has_policy ? policy.min_length() : -1,
           has_policy ? policy.max_age_days() : -1, has_policy ? policy.lockout_threshold() : -1,
           has_policy ? policy.complexity() : -1);
  for (const auto& a : sec.antivirus()) {
    rows.Row(kAntivirus, a.name(), a.enabled(), a.up_to_date(), a.signatures_updated(), a.source(),
             a.version());
  }
  for (const auto& f : sec.firewall()) {
    rows.Row(kFirewallProfiles, f.name(), f.enabled());
  }
  if (sec.has_host_firewall()) {
    const dozor::v1::HostFirewall& host_firewall = sec.host_firewall();
    rows.Row(kFirewall, host_firewall.backend(), host_firewall.input_policy(),
             host_firewall.status(), host_firewall.rule_count());
    for (const auto& p : host_firewall.ports()) {
      // An agent's verdict outside the four words is not trusted: unknown (the table checks).
      const std::string& v = p.verdict();
      const bool known = v == "open" || v == "restricted" || v == "closed" || v == "unknown";
      rows.Row(kFirewallPorts, p.family(), p.protocol(), p.port(),
               known ? v : std::string("unknown"), p.sources(), p.reason());
    }
  }
  InvUnavailableRows(rows, "security", sec.unavailable());
}

// The local groups, and one member row per (group, account): an account both listed and with
// the group as its primary one is a single row marked primary.
void InvGroupRows(InvRows& rows, const dozor::v1::OperatingSystem& os) {
  for (const dozor::v1::LocalGroup& g : os.groups()) {
    rows.Row(kGroups, g.name(), g.gid(), g.administrator());
    std::set<std::string> primary(g.primary_members().begin(), g.primary_members().end());
    std::set<std::string> written;
    for (const std::string& member : g.members()) {
      if (written.insert(member).second) {
        rows.Row(kGroupMembers, g.name(), member, primary.count(member) > 0);
      }
    }
    for (const std::string& member : g.primary_members()) {
      if (written.insert(member).second) {
        rows.Row(kGroupMembers, g.name(), member, true);
      }
    }
  }
}

// When the current unbroken run of inventories with pending security updates began: kept from
// the previous inventory while it also had some, `at` when the run starts now, 0 when none.
int64_t InvSecurityPendingSince(const dozor::v1::Inventory& inv, const pg::Rows& previous,
                                int64_t at) {
  if (inv.os().pending_security_updates() <= 0) {
    return 0;
  }
  if (!previous.empty() && previous.Int(0, 0) > 0 && previous.Int(0, 1) > 0) {
    return previous.Int(0, 1);
  }
  return at;
}

}  // namespace

Status DeletePgHostRows(pg::Connection& db, int64_t org_id, int64_t agent_pk) {
  auto deleted = db.Query(InvDeleteSql(), pg::Params(org_id, agent_pk));
  if (!deleted.ok()) {
    return deleted.error();
  }
  return OkStatus();
}

Status ReplacePgHostRows(pg::Connection& db, int64_t org_id, int64_t agent_pk,
                         const dozor::v1::Inventory& inv, int64_t at_ms) {
  // A statement of its own: the delete below must start after the lock is granted, so that its
  // snapshot sees the rows of a replica's replace that committed meanwhile.
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows agent,
      db.Query("SELECT 1 FROM agents WHERE org_id = $1 AND id = $2 FOR NO KEY UPDATE",
               pg::Params(org_id, agent_pk)));
  if (agent.empty()) {
    return MakeError(ErrorCode::kNotFound, "no agent " + std::to_string(agent_pk) +
                                               " in organisation " + std::to_string(org_id));
  }
  DOZOR_ASSIGN_OR_RETURN(pg::Rows previous, db.Query(InvDeleteSql(), pg::Params(org_id, agent_pk)));
  InvRows rows;
  InvOsRow(rows, inv.os(), InvSecurityPendingSince(inv, previous, at_ms), ClassifyHostRole(inv),
           ClassifyHostDuties(inv));
  InvHardwareRows(rows, inv.hardware());
  InvNetworkRows(rows, inv.network());
  InvSoftwareRows(rows, inv.software());
  InvSecurityRows(rows, inv);
  InvUnavailableRows(rows, "os", inv.os().unavailable());
  InvGroupRows(rows, inv.os());
  for (const auto& u : inv.os().users()) {
    // Agents before the Windows contract send no kind: every account they list is a user.
    rows.Row(kUsers, u.name(), u.uid(), u.shell(), u.home(), u.administrator(), u.disabled(),
             u.kind().empty() ? std::string("user") : u.kind(), u.domain(), u.last_login_time(),
             u.last_login_from(), u.gid());
  }
  return rows.Write(db, org_id, agent_pk);
}

}  // namespace dozor::server
