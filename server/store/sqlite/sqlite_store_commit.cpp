// SqliteStore, hosts area: the ingest commit path (CommitReports): per-host inventory rows and
// their change log, health samples, rule windows and trends.
#include "store/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "domain/host_role.hpp"
#include "domain/inventory_diff.hpp"
#include "dozor/common/text.hpp"
#include "dozor/contract/codec.hpp"
#include "store/host_row_parts.hpp"
#include "store/report_screening.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

// The helpers and statements the backend's files share.
using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

// ------------------------------------------------------------------ inventory rows

Status InsertOs(WriterStatements& w, int64_t pk, const dozor::v1::OperatingSystem& os,
                int64_t security_pending_since, HostRole role, HostDuties duties) {
  return RunWith(
      w.os_insert, pk, os.id(), os.id_like(), os.family(), os.name(), os.version(), os.version_id(),
      os.pretty_name(), os.kernel(), os.architecture(), os.hostname(), os.fqdn(), os.timezone(),
      os.boot_time(), os.reboot_required(), os.pending_updates(), os.pending_security_updates(),
      os.machine_id(), os.uptime_seconds(), os.clock_synchronized(), os.clock_max_error_us(),
      security_pending_since, ToString(role), os.install_time(), os.edition(), os.build(),
      os.activation(), os.domain(), os.workgroup(), os.time_source(), os.last_update_install_time(),
      os.update_error(), os.product_type(), FormatHostDuties(duties));
}

// A byte count as the store keeps it: SQLite integers are signed, and a hostile 2^64-1 must not
// turn into a negative size the rules would read as tiny.
int64_t StoredSize(uint64_t bytes) {
  return static_cast<int64_t>(std::min<uint64_t>(bytes, static_cast<uint64_t>(INT64_MAX)));
}

// A part's "could not read" notes, one row each.
Status InsertUnavailable(WriterStatements& w, int64_t pk, std::string_view part,
                         const google::protobuf::RepeatedPtrField<std::string>& notes) {
  return InsertEach(notes, [&](const std::string& note) {
    return RunWith(w.unavailable_insert, pk, part, note);
  });
}

// Ports as the comma-separated text of the applications table.
std::string JoinPorts(const google::protobuf::RepeatedField<uint32_t>& ports) {
  std::string text;
  for (uint32_t port : ports) {
    text += (text.empty() ? "" : ",") + std::to_string(port);
  }
  return text;
}

// Raw value of SMART attribute `id`, or -1 when the drive does not report it.
int64_t SmartRaw(const dozor::v1::BlockDevice& disk, uint32_t id) {
  for (const auto& attribute : disk.smart_attributes()) {
    if (attribute.id() == id) {
      return attribute.raw();
    }
  }
  return -1;
}

// A member state that means the member is not serving: md "faulty", ZFS UNAVAIL / FAULTED /
// REMOVED / OFFLINE, a hardware RAID drive offline or bad.
bool FailedMemberState(std::string_view state) {
  static constexpr std::string_view kFailed[] = {"faulty",  "UNAVAIL", "FAULTED", "REMOVED",
                                                 "OFFLINE", "Offln",   "UBad",    "Failed"};
  return std::find(std::begin(kFailed), std::end(kFailed), state) != std::end(kFailed);
}

// Migration 019: storage arrays with their members as one readable text, UPSes, and whether the
// agent looked for UPS monitoring at all.
Status InsertStorageAndPower(WriterStatements& w, int64_t pk, const dozor::v1::Hardware& hw) {
  DOZOR_RETURN_IF_ERROR(InsertEach(hw.storage_arrays(), [&](const auto& a) {
    std::string members;
    int64_t failed = 0;
    for (const auto& member : a.members()) {
      if (!members.empty()) members += ", ";
      members += member.device() + " " + member.state();
      failed += FailedMemberState(member.state()) ? 1 : 0;
    }
    return RunWith(w.storage_array_insert, pk, a.kind(), a.name(), a.level(), a.state(),
                   a.degraded(), a.sync_action(), a.sync_percent(), StoredSize(a.size_bytes()),
                   StoredSize(a.free_bytes()), a.errors(), a.last_scrub_time(), a.controller(),
                   a.devices_expected(), a.devices_active(), members, failed);
  }));
  DOZOR_RETURN_IF_ERROR(InsertEach(hw.power().ups(), [&](const auto& u) {
    return RunWith(w.ups_insert, pk, u.daemon(), u.name(), u.model(), u.status(), u.on_battery(),
                   u.low_battery(), u.battery_charge_pct(), u.runtime_seconds(), u.monitored(),
                   u.source());
  }));
  if (!hw.power().checked()) return OkStatus();
  return RunWith(w.power_insert, pk, true);
}

Status InsertHardware(WriterStatements& w, int64_t pk, const dozor::v1::Hardware& hw) {
  const auto& cpu = hw.cpu();
  const auto& dmi = hw.dmi();
  DOZOR_RETURN_IF_ERROR(
      RunWith(w.hardware_insert, pk, cpu.model(), cpu.sockets(), cpu.cores(), cpu.threads(),
              hw.memory_total_bytes(), dmi.system_vendor(), dmi.system_model(), dmi.system_serial(),
              dmi.bios_vendor(), dmi.bios_version(), dmi.bios_date(), hw.virtual_machine(),
              hw.hypervisor(), dmi.chassis_type(), hw.smartctl_available(), cpu.vendor(),
              cpu.family(), cpu.model_number(), cpu.stepping(), cpu.cache_kb(), cpu.microcode(),
              StoredSize(hw.swap_total_bytes()), hw.container()));
  DOZOR_RETURN_IF_ERROR(InsertEach(hw.disks(), [&](const auto& d) {
    return RunWith(w.disk_insert, pk, d.name(), d.model(), d.serial(), d.size_bytes(),
                   d.rotational(), d.transport(), d.smart_status(), d.power_on_hours(),
                   d.temperature_c(), d.removable(), d.smart_message(), SmartRaw(d, 5),
                   SmartRaw(d, 197), SmartRaw(d, 198), d.health(), d.wear_percent(), d.media_type(),
                   d.vendor());
  }));
  DOZOR_RETURN_IF_ERROR(InsertEach(hw.memory_modules(), [&](const auto& m) {
    return RunWith(w.memory_module_insert, pk, m.slot(), StoredSize(m.size_bytes()), m.speed_mhz(),
                   m.manufacturer(), m.part_number(), m.serial());
  }));
  DOZOR_RETURN_IF_ERROR(InsertEach(hw.batteries(), [&](const auto& b) {
    return RunWith(w.battery_insert, pk, b.name(), b.design_capacity_mwh(),
                   b.full_charge_capacity_mwh(), b.charge_percent(), b.status());
  }));
  DOZOR_RETURN_IF_ERROR(InsertEach(hw.volumes(), [&](const auto& v) {
    return RunWith(w.volume_insert, pk, v.mount_point(), v.label(), v.file_system(),
                   StoredSize(v.size_bytes()), StoredSize(v.free_bytes()), v.kind(),
                   v.remote_path(), v.encryption());
  }));
  DOZOR_RETURN_IF_ERROR(InsertStorageAndPower(w, pk, hw));
  DOZOR_RETURN_IF_ERROR(InsertEach(hw.pci_devices(), [&](const auto& d) {
    return RunWith(w.pci_device_insert, pk, d.address(), d.vendor_id(), d.device_id(),
                   d.class_code(), d.class_name(), d.subsystem_vendor_id(), d.subsystem_device_id(),
                   d.driver(), d.vendor_name(), d.device_name());
  }));
  return OkStatus();
}

// An interface row and its address rows.
Status InsertInterface(WriterStatements& w, int64_t pk, const dozor::v1::NetworkInterface& iface) {
  DOZOR_RETURN_IF_ERROR(RunWith(w.interface_insert, pk, iface.name(), iface.mac(), iface.mtu(),
                                iface.state(), iface.speed_mbps(), iface.loopback(),
                                iface.virtual_(), iface.duplex()));
  return InsertEach(iface.addresses(), [&](const auto& ip) {
    return RunWith(w.address_insert, pk, iface.name(), ip.address(), ip.prefix(), ip.family(),
                   IsLoopbackAddress(iface, ip));
  });
}

Status InsertNetwork(WriterStatements& w, int64_t pk, const dozor::v1::Network& net) {
  DOZOR_RETURN_IF_ERROR(InsertEach(
      net.interfaces(), [&](const auto& iface) { return InsertInterface(w, pk, iface); }));
  DOZOR_RETURN_IF_ERROR(InsertEach(net.gateways(), [&](const auto& g) {
    return RunWith(w.gateway_insert, pk, g.address(), g.interface(), g.family());
  }));
  for (int i = 0; i < net.dns_servers_size(); ++i) {
    DOZOR_RETURN_IF_ERROR(RunWith(w.dns_insert, pk, i, net.dns_servers(i)));
  }
  DOZOR_RETURN_IF_ERROR(InsertEach(net.listening(), [&](const auto& l) {
    return RunWith(w.listener_insert, pk, l.protocol(), l.family(), l.address(), l.port(), l.pid(),
                   l.process(), l.uid());
  }));
  return OkStatus();
}

// The 1C server cluster in depth (migration 020): agents with their processes and clusters, the
// technological logs, the licensing.
Status InsertOneC(WriterStatements& w, int64_t pk, const dozor::v1::Software& sw) {
  for (int i = 0; i < sw.onec_server_agents_size(); ++i) {
    const dozor::v1::OneCServerAgent& a = sw.onec_server_agents(i);
    DOZOR_RETURN_IF_ERROR(RunWith(w.onec_agent_insert, pk, i, a.pid(), a.version(), a.user(),
                                  a.start_time(), a.agent_port(), a.manager_port(), a.range_first(),
                                  a.range_last(), a.registry_path(), a.restarted_workers(),
                                  a.rac_status()));
    DOZOR_RETURN_IF_ERROR(InsertEach(a.processes(), [&](const auto& p) {
      return RunWith(w.onec_process_insert, pk, i, p.role(), p.pid(), p.version(), p.rss_bytes(),
                     p.start_time());
    }));
    DOZOR_RETURN_IF_ERROR(InsertEach(a.clusters(), [&](const auto& c) {
      std::string admins;
      for (const auto& name : c.admins()) admins += (admins.empty() ? "" : ", ") + name;
      return RunWith(w.onec_cluster_insert, pk, i, c.id(), c.name(), c.host(), c.port(),
                     c.lifetime_limit(), c.max_memory_size(), c.security_level(),
                     c.admin_configured(), admins, c.infobase_count());
    }));
  }
  DOZOR_RETURN_IF_ERROR(InsertEach(sw.onec_tech_logs(), [&](const auto& t) {
    return RunWith(w.onec_tech_log_insert, pk, t.config_path(), t.enabled(), t.location(),
                   t.history_hours(), t.size_bytes(), t.size_complete(), t.events());
  }));
  DOZOR_RETURN_IF_ERROR(InsertEach(sw.onec_licensing().licence_files(), [&](const std::string& f) {
    return RunWith(w.onec_licensing_insert, pk, "licence_file", f);
  }));
  return InsertEach(sw.onec_licensing().hasp_manager_processes(), [&](const std::string& name) {
    return RunWith(w.onec_licensing_insert, pk, "hasp_manager", name);
  });
}

Status InsertPackages(WriterStatements& w, int64_t pk, const dozor::v1::Software& sw) {
  return InsertEach(sw.packages(), [&](const auto& p) {
    return RunWith(w.package_insert, pk, p.name(), p.version(), p.architecture(), p.source(),
                   p.vendor(), p.install_time(), p.held());
  });
}

// The rest of the software part (HostRowPart::kSoftware).
Status InsertSoftware(WriterStatements& w, int64_t pk, const dozor::v1::Software& sw) {
  DOZOR_RETURN_IF_ERROR(InsertEach(sw.repositories(), [&](const auto& r) {
    return RunWith(w.repository_insert, pk, r.manager(), r.file(), r.name(), r.kind(), r.uri(),
                   r.suite(), r.components(), r.enabled(), r.official());
  }));
  DOZOR_RETURN_IF_ERROR(InsertEach(sw.applications(), [&](const auto& a) {
    return RunWith(w.application_insert, pk, a.name(), a.version(), a.architecture(), a.path(),
                   a.kind(), JoinPorts(a.ports()), a.state());
  }));
  DOZOR_RETURN_IF_ERROR(InsertEach(sw.services(), [&](const auto& s) {
    return RunWith(w.service_insert, pk, s.name(), s.description(), s.load_state(),
                   s.active_state(), s.sub_state(), s.enabled(), s.account(), s.command());
  }));
  DOZOR_RETURN_IF_ERROR(InsertEach(sw.infobases(), [&](const auto& b) {
    return RunWith(w.infobase_insert, pk, b.user(), b.name(), b.kind(), b.location(),
                   b.network_share(), b.version());
  }));
  for (int i = 0; i < sw.license_clients_size(); ++i) {
    const dozor::v1::LicenseClient& client = sw.license_clients(i);
    DOZOR_RETURN_IF_ERROR(RunWith(w.license_client_insert, pk, i, client.kind(),
                                  client.config_path(), client.broadcast()));
    DOZOR_RETURN_IF_ERROR(InsertEach(client.servers(), [&](const std::string& server) {
      return RunWith(w.license_server_insert, pk, i, server);
    }));
  }
  DOZOR_RETURN_IF_ERROR(InsertEach(sw.backup_jobs(), [&](const auto& j) {
    return RunWith(w.backup_job_insert, pk, j.tool(), j.source(), j.schedule(), j.target(),
                   j.destination(), j.last_success_time(), j.last_run_time(), j.last_status(),
                   j.last_error(), j.freshness_source(), j.interval_seconds());
  }));
  DOZOR_RETURN_IF_ERROR(InsertEach(sw.processes(), [&](const auto& p) {
    return RunWith(w.process_insert, pk, p.pid(), p.name(), p.user(), p.rss_bytes(), p.start_time(),
                   p.command());
  }));
  for (int i = 0; i < sw.database_servers_size(); ++i) {
    const dozor::v1::DatabaseServer& db = sw.database_servers(i);
    DOZOR_RETURN_IF_ERROR(RunWith(w.database_server_insert, pk, i, db.kind(), db.version(),
                                  db.config_path(), db.data_directory(), db.listen_addresses(),
                                  db.port(), db.onec_build(), db.autovacuum(), db.running(),
                                  db.hba_path(), db.databases_listed(), db.data_mount_point(),
                                  db.data_fs_total_bytes(), db.data_fs_available_bytes()));
    DOZOR_RETURN_IF_ERROR(InsertEach(db.databases(), [&](const auto& d) {
      return RunWith(w.database_insert, pk, i, d.name(), d.size_bytes(), d.newest_dump_time(),
                     d.newest_dump_path(), d.newest_dump_job(), d.last_backup_time(),
                     d.last_backup_source(), d.last_backup_interval_seconds(),
                     d.covered_without_freshness());
    }));
    DOZOR_RETURN_IF_ERROR(InsertEach(db.hba_rules(), [&](const auto& r) {
      return RunWith(w.database_hba_insert, pk, i, r.line(), r.type(), r.database(), r.user(),
                     r.address(), r.method());
    }));
  }
  return InsertOneC(w, pk, sw);
}

// Only an agent that reports a security part gets a row: a Linux agent's absent part is not
// "remote desktop off, SMBv1 off" but nothing known.
Status InsertSecurity(WriterStatements& w, int64_t pk, const dozor::v1::Inventory& inv) {
  if (!inv.has_security()) {
    return OkStatus();
  }
  const dozor::v1::Security& sec = inv.security();
  const bool has_policy = sec.has_password_policy();
  const dozor::v1::PasswordPolicy& policy = sec.password_policy();
  DOZOR_RETURN_IF_ERROR(
      RunWith(w.security_insert, pk, sec.remote_desktop(), sec.remote_desktop_nla(),
              sec.remote_desktop_port(), sec.smb1(), has_policy ? policy.min_length() : -1,
              has_policy ? policy.max_age_days() : -1, has_policy ? policy.lockout_threshold() : -1,
              has_policy ? policy.complexity() : -1));
  DOZOR_RETURN_IF_ERROR(InsertEach(sec.antivirus(), [&](const auto& a) {
    return RunWith(w.antivirus_insert, pk, a.name(), a.enabled(), a.up_to_date(),
                   a.signatures_updated(), a.source(), a.version());
  }));
  DOZOR_RETURN_IF_ERROR(InsertEach(sec.firewall(), [&](const auto& f) {
    return RunWith(w.firewall_insert, pk, f.name(), f.enabled());
  }));
  if (sec.has_host_firewall()) {
    const dozor::v1::HostFirewall& host_firewall = sec.host_firewall();
    DOZOR_RETURN_IF_ERROR(RunWith(w.firewall_ruleset_insert, pk, host_firewall.backend(),
                                  host_firewall.input_policy(), host_firewall.status(),
                                  host_firewall.rule_count()));
    DOZOR_RETURN_IF_ERROR(InsertEach(host_firewall.ports(), [&](const auto& p) {
      // An agent's verdict outside the four words is not trusted: unknown (the table checks).
      const std::string& v = p.verdict();
      const bool known = v == "open" || v == "restricted" || v == "closed" || v == "unknown";
      return RunWith(w.firewall_port_insert, pk, p.family(), p.protocol(), p.port(),
                     known ? v : std::string("unknown"), p.sources(), p.reason());
    }));
  }
  return OkStatus();
}

// When the current unbroken run of inventories with pending security updates began: kept from
// the previous inventory while it also had some, `at` when the run starts now, 0 when none.
Result<int64_t> SecurityPendingSince(WriterStatements& w, int64_t pk,
                                     const dozor::v1::Inventory& inv, int64_t at) {
  if (inv.os().pending_security_updates() <= 0) {
    return int64_t{0};
  }
  DOZOR_ASSIGN_OR_RETURN(auto previous, ReadOptional(BindAll(w.os_prev, pk), [](const auto& s) {
                           return std::make_pair(s.Int(0), s.Int(1));
                         }));
  if (previous && previous->first > 0 && previous->second > 0) {
    return previous->second;
  }
  return at;
}

// Migration 023: the local groups, and one member row per (group, account): an account both
// listed and with the group as its primary one is a single row marked primary.
Status InsertGroups(WriterStatements& w, int64_t pk, const dozor::v1::OperatingSystem& os) {
  return InsertEach(os.groups(), [&](const dozor::v1::LocalGroup& g) -> Status {
    DOZOR_RETURN_IF_ERROR(RunWith(w.group_insert, pk, g.name(), g.gid(), g.administrator()));
    std::set<std::string> primary(g.primary_members().begin(), g.primary_members().end());
    std::set<std::string> written;
    for (const std::string& member : g.members()) {
      if (written.insert(member).second) {
        DOZOR_RETURN_IF_ERROR(
            RunWith(w.group_member_insert, pk, g.name(), member, primary.count(member) > 0));
      }
    }
    for (const std::string& member : g.primary_members()) {
      if (written.insert(member).second) {
        DOZOR_RETURN_IF_ERROR(RunWith(w.group_member_insert, pk, g.name(), member, true));
      }
    }
    return OkStatus();
  });
}

// Every part's "could not read" notes, in the order they were always written.
Status InsertAllUnavailable(WriterStatements& w, int64_t pk, const dozor::v1::Inventory& inv) {
  DOZOR_RETURN_IF_ERROR(InsertUnavailable(w, pk, "hardware", inv.hardware().unavailable()));
  DOZOR_RETURN_IF_ERROR(InsertUnavailable(w, pk, "network", inv.network().unavailable()));
  DOZOR_RETURN_IF_ERROR(InsertUnavailable(w, pk, "software", inv.software().unavailable()));
  if (inv.has_security()) {
    DOZOR_RETURN_IF_ERROR(InsertUnavailable(w, pk, "security", inv.security().unavailable()));
  }
  return InsertUnavailable(w, pk, "os", inv.os().unavailable());
}

Status InsertAccounts(WriterStatements& w, int64_t pk, const dozor::v1::OperatingSystem& os) {
  DOZOR_RETURN_IF_ERROR(InsertGroups(w, pk, os));
  return InsertEach(os.users(), [&](const auto& u) {
    // Agents before the Windows contract send no kind: every account they list is a user.
    return RunWith(w.user_insert, pk, u.name(), u.uid(), u.shell(), u.home(), u.administrator(),
                   u.disabled(), u.kind().empty() ? std::string("user") : u.kind(), u.domain(),
                   u.last_login_time(), u.last_login_from(), u.gid());
  });
}

// Clears the host's normalised inventory rows of the `changed` parts and writes them again from
// `inv`; the other parts' rows are already what `inv` would write.
Status ReplaceHostRows(WriterStatements& w, int64_t pk, const dozor::v1::Inventory& inv, int64_t at,
                       HostRowParts changed) {
  auto rewrite = [&](HostRowPart part) {
    return part == HostRowPart::kAlways || (changed & Bit(part));
  };
  DOZOR_ASSIGN_OR_RETURN(int64_t security_since, SecurityPendingSince(w, pk, inv, at));
  for (size_t i = 0; i < kHostTableCount; ++i) {
    if (rewrite(kHostTables[i].part)) {
      DOZOR_RETURN_IF_ERROR(RunWith(w.host_delete[i], pk));
    }
  }
  DOZOR_RETURN_IF_ERROR(
      InsertOs(w, pk, inv.os(), security_since, ClassifyHostRole(inv), ClassifyHostDuties(inv)));
  if (rewrite(HostRowPart::kHardware)) {
    DOZOR_RETURN_IF_ERROR(InsertHardware(w, pk, inv.hardware()));
  }
  if (rewrite(HostRowPart::kNetwork)) {
    DOZOR_RETURN_IF_ERROR(InsertNetwork(w, pk, inv.network()));
  }
  if (rewrite(HostRowPart::kPackages)) {
    DOZOR_RETURN_IF_ERROR(InsertPackages(w, pk, inv.software()));
  }
  if (rewrite(HostRowPart::kSoftware)) {
    DOZOR_RETURN_IF_ERROR(InsertSoftware(w, pk, inv.software()));
  }
  if (rewrite(HostRowPart::kSecurity)) {
    DOZOR_RETURN_IF_ERROR(InsertSecurity(w, pk, inv));
  }
  DOZOR_RETURN_IF_ERROR(InsertAllUnavailable(w, pk, inv));
  if (rewrite(HostRowPart::kAccounts)) {
    DOZOR_RETURN_IF_ERROR(InsertAccounts(w, pk, inv.os()));
  }
  return OkStatus();
}

// The schema version the host rows are written under. Rows written under an older one are all
// written again (a migration may have added a column or a table the next inventory fills).
int64_t CurrentRowsSchema() {
  static const int64_t version = Migrations().empty() ? 0 : Migrations().back().version;
  return version;
}

// ------------------------------------------------------------------ health rows and blocks

}  // namespace

// ------------------------------------------------------------------ ingest

Result<SqliteStore::CachedAgent*> SqliteStore::LookupAgentLocked(const std::string& agent_id) {
  auto it = agent_cache_.find(agent_id);
  if (it != agent_cache_.end()) {
    return &it->second;
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto agent, ReadOptional(BindAll(ws_->agent_lookup, agent_id), [](const auto& s) {
        return CachedAgent{s.Int(0), static_cast<uint64_t>(s.Int(1)), s.Int(2) != 0, s.Int(3)};
      }));
  if (!agent) {
    return static_cast<CachedAgent*>(nullptr);  // unknown agents are not cached: they may enroll
  }
  return &agent_cache_.emplace(agent_id, *agent).first->second;
}

std::shared_ptr<SqliteStore::PreparedInventory> SqliteStore::PrepareInventory(
    const std::optional<StoredInventory>& stored, const dozor::v1::Inventory& inventory, int64_t at,
    const std::string& agent_id) {
  auto result = std::make_shared<PreparedInventory>();
  PreparedInventory& prepared = *result;
  prepared.base = stored;
  dozor::v1::Inventory previous;
  if (stored && DecodeCompressed(stored->blob, &previous).ok()) {
    prepared.changes = DiffInventories(previous, inventory, at, agent_id);
    prepared.changed_parts = stored->rows_schema == CurrentRowsSchema()
                                 ? ChangedHostRowParts(previous, inventory)
                                 : kAllHostRowParts;
  } else {
    if (stored) {
      spdlog::warn("store: previous inventory of {} does not decode; starting a new baseline",
                   EscapeControlText(agent_id));
    }
    prepared.changes = {FirstInventoryChange(at, agent_id)};
  }
  CapInventoryChanges(prepared.changes);
  prepared.blob = EncodeCompressed(inventory);
  return result;
}

std::shared_ptr<const SqliteStore::PreparedInventory> SqliteStore::PrepareInventoryOnReader(
    const IncomingReport& item) {
  std::optional<StoredInventory> stored;
  {
    ReaderLease reader = AcquireReader();
    sqlite::ReadTransaction txn(reader->db);
    if (!txn.Begin().ok()) {
      return nullptr;
    }
    auto pk = AgentPkOn(*reader, item.agent_id);
    if (!pk.ok()) {
      return nullptr;  // not enrolled (yet): the writer screens the report
    }
    auto read = ReadOptional(BindAll(reader->rs.blob_base, *pk), [](const auto& s) {
      return StoredInventory{s.Blob(0), s.Int(1)};
    });
    if (!read.ok()) {
      return nullptr;
    }
    stored = std::move(*read);
  }
  // The reader is back in the pool: decoding, diffing and compressing take no connection.
  return PrepareInventory(stored, item.report.inventory(), item.report.collected_at_ms(),
                          item.agent_id);
}

std::shared_ptr<const PreparedReport> SqliteStore::PrepareReport(const IncomingReport& report) {
  if (!report.report.has_inventory()) {
    return nullptr;  // a health sample's serialisation is cheap; the commit does it
  }
  return PrepareInventoryOnReader(report);
}

SqliteStore::BatchPrework SqliteStore::PrepareBatch(const std::vector<IncomingReport>& batch) {
  // Recent samples are stored uncompressed: zlib per row was the largest CPU cost per report,
  // and compaction later compresses whole hours far better.
  BatchPrework prework;
  prework.encoded.resize(batch.size());
  prework.unencodable.assign(batch.size(), false);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].report.has_health()) {
      prework.unencodable[i] = !batch[i].report.health().SerializeToString(&prework.encoded[i]);
    } else if (batch[i].report.has_inventory()) {
      if (prework.inventories.empty()) {
        prework.inventories.resize(batch.size());
      }
      // Prepared already by the caller (the ingest writer's preparer), or here.
      auto given = std::dynamic_pointer_cast<const PreparedInventory>(batch[i].prepared);
      prework.inventories[i] = given ? std::move(given) : PrepareInventoryOnReader(batch[i]);
    }
  }
  return prework;
}

Result<std::vector<CommitResult>> SqliteStore::CommitReports(std::vector<IncomingReport>& batch) {
  // Everything that needs no writer is done before write_mu_ is taken.
  BatchPrework prework = PrepareBatch(batch);
  std::vector<CommitResult> results;
  results.reserve(batch.size());
  std::vector<CommittedHost> committed;
  {
    std::lock_guard lock(write_mu_);
    std::unordered_map<std::string, CachedAgent> saved;
    auto status = CommitLocked(batch, prework, results, saved, committed);
    if (!status.ok()) {
      // The transaction rolled back; so must the sequence numbers it advanced in memory.
      for (auto& [agent_id, agent] : saved) {
        agent_cache_[agent_id] = agent;
      }
      if (batch.size() == 1 || !IsReportFault(status.error())) {
        return status.error();
      }
      // One report the database refuses (a constraint, a value too big) must not fail the
      // reports of every other agent batched with it: commit them one by one, so only it is
      // rejected. A fault of the environment (disk full, I/O, busy) still fails the batch.
      results.clear();
      committed.clear();
      DOZOR_RETURN_IF_ERROR(CommitOneByOneLocked(batch, prework, results, committed));
    }
  }
  // After COMMIT and outside write_mu_, so an observer may call back into the store.
  if (!committed.empty()) {
    NotifyCommitted(committed);
  }
  return results;
}

Status SqliteStore::CommitOneByOneLocked(std::vector<IncomingReport>& batch, BatchPrework& prework,
                                         std::vector<CommitResult>& results,
                                         std::vector<CommittedHost>& committed) {
  for (size_t i = 0; i < batch.size(); ++i) {
    std::vector<IncomingReport> one;
    one.push_back(std::move(batch[i]));
    BatchPrework one_prework;
    one_prework.encoded.push_back(std::move(prework.encoded[i]));
    one_prework.unencodable.push_back(prework.unencodable[i]);
    if (!prework.inventories.empty()) {
      one_prework.inventories.push_back(std::move(prework.inventories[i]));
    }
    std::vector<CommitResult> one_result;
    std::unordered_map<std::string, CachedAgent> saved;
    std::vector<CommittedHost> one_committed;
    Status status = CommitLocked(one, one_prework, one_result, saved, one_committed);
    batch[i] = std::move(one[0]);
    if (status.ok()) {
      results.push_back(std::move(one_result[0]));
      committed.insert(committed.end(), one_committed.begin(), one_committed.end());
      continue;
    }
    for (auto& [agent_id, agent] : saved) {
      agent_cache_[agent_id] = agent;
    }
    if (!IsReportFault(status.error())) {
      return status.error();
    }
    spdlog::warn("store: report {} of agent {} refused by the database: {}", batch[i].report.seq(),
                 EscapeControlText(batch[i].agent_id), status.error().ToString());
    CommitResult rejected;
    rejected.seq = batch[i].report.seq();
    rejected.outcome = CommitOutcome::kRejected;
    rejected.reason = "the store refused it: " + status.error().message;
    results.push_back(std::move(rejected));
  }
  return OkStatus();
}

Status SqliteStore::CommitLocked(std::vector<IncomingReport>& batch, const BatchPrework& prework,
                                 std::vector<CommitResult>& results,
                                 std::unordered_map<std::string, CachedAgent>& saved,
                                 std::vector<CommittedHost>& committed) {
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_RETURN_IF_ERROR(WriteBatchLocked(batch, prework, results, saved, committed));
  return txn.Commit();
}

Status SqliteStore::WriteBatchLocked(std::vector<IncomingReport>& batch,
                                     const BatchPrework& prework,
                                     std::vector<CommitResult>& results,
                                     std::unordered_map<std::string, CachedAgent>& saved,
                                     std::vector<CommittedHost>& committed) {
  struct AgentTouch {
    int64_t org_id = 0;
    bool inventory = false;
    bool health = false;
    int64_t newest_collected_at = INT64_MIN;
    int64_t clock_offset_ms = 0;
    int64_t newest_health_at = 0;  // collected_at of the last health sample (rule "latest" views)
    int64_t last_seen = 0;
    uint64_t last_seq = 0;
    uint64_t dropped = 0;
    std::string agent_version;
    int64_t last_inventory_at = 0;
  };
  std::unordered_map<int64_t, AgentTouch> touched;
  WriterStatements& w = *ws_;
  w.window_batch.Clear();
  w.collector_batch.Clear();
  for (size_t i = 0; i < batch.size(); ++i) {
    const IncomingReport& item = batch[i];
    const dozor::v1::Report& report = item.report;
    DOZOR_ASSIGN_OR_RETURN(CachedAgent * agent, LookupAgentLocked(item.agent_id));
    auto screened = ScreenReport(report, agent != nullptr, agent != nullptr && agent->revoked,
                                 agent != nullptr ? agent->last_seq : 0, prework.unencodable[i]);
    if (screened) {
      results.push_back(std::move(*screened));
      continue;
    }
    const int64_t clock_offset_ms = item.received_at_ms - report.collected_at_ms();
    if (report.has_health()) {
      DOZOR_RETURN_IF_ERROR(RunWith(w.health_insert, agent->pk, report.collected_at_ms(),
                                    report.seq(), BlobArg{prework.encoded[i]}));
      w.window_batch.Add(agent->pk, report.collected_at_ms(), clock_offset_ms, report.health());
    } else {
      const PreparedInventory* prepared =
          prework.inventories.empty() ? nullptr : prework.inventories[i].get();
      DOZOR_RETURN_IF_ERROR(ApplyInventoryLocked(agent->pk, item.agent_id, report, prepared));
    }
    for (const dozor::v1::CollectorStatus& status : report.collectors()) {
      w.collector_batch.Add(agent->pk, report.collected_at_ms(), status);
    }
    saved.try_emplace(item.agent_id, *agent);
    agent->last_seq = report.seq();
    AgentTouch& touch = touched[agent->pk];
    touch.org_id = agent->org_id;
    (report.has_health() ? touch.health : touch.inventory) = true;
    if (report.has_health()) {
      // The latest sample the agent produced (reports arrive in seq order), not the largest
      // timestamp: a clock that ran ahead and was corrected must not pin the "latest" views.
      touch.newest_health_at = report.collected_at_ms();
    }
    if (report.collected_at_ms() >= touch.newest_collected_at) {
      touch.newest_collected_at = report.collected_at_ms();
      touch.clock_offset_ms = clock_offset_ms;
    }
    touch.last_seen = std::max(touch.last_seen, item.received_at_ms);
    touch.last_seq = report.seq();
    touch.dropped = std::max(touch.dropped, report.dropped_health_samples());
    if (!report.agent_version().empty()) {
      touch.agent_version = report.agent_version();
    }
    if (report.has_inventory()) {
      touch.last_inventory_at = report.collected_at_ms();
    }
    CommitResult result;
    result.seq = report.seq();
    results.push_back(std::move(result));
  }
  // Collected over the batch and written in key order (rule_window_writer.hpp); the batch's
  // reports, which the rows point into, live until the caller returns.
  DOZOR_RETURN_IF_ERROR(w.rule_windows->Write(w.window_batch));
  w.window_batch.Clear();
  // A host's collector statuses: only the last of the batch per collector survives the upsert.
  DOZOR_RETURN_IF_ERROR(InsertEach(w.collector_batch.Latest(), [&](const CollectorStatusRow& c) {
    return RunWith(w.collector_upsert, c.agent, c.status->name(), c.status->ok(), c.status->error(),
                   c.status->duration_ms(), c.at);
  }));
  w.collector_batch.Clear();
  // Once per agent per batch, not per report: a batch of 100 samples costs one agents update.
  for (const auto& [pk, touch] : touched) {
    DOZOR_RETURN_IF_ERROR(RunWith(w.agent_update, pk, touch.last_seen, touch.last_seq,
                                  touch.dropped, touch.agent_version, touch.last_inventory_at,
                                  touch.clock_offset_ms, touch.newest_health_at));
  }
  committed.reserve(touched.size());
  for (const auto& [pk, touch] : touched) {
    committed.push_back(CommittedHost{pk, touch.org_id, touch.inventory, touch.health});
  }
  return OkStatus();
}

Status SqliteStore::ApplyInventoryLocked(int64_t pk, const std::string& agent_id,
                                         const dozor::v1::Report& report,
                                         const PreparedInventory* prepared) {
  WriterStatements& w = *ws_;
  const dozor::v1::Inventory& inv = report.inventory();
  const int64_t at = report.collected_at_ms();
  // The work prepared outside the writer holds only if it compared with exactly the inventory
  // stored now: an earlier inventory of the same batch (or one committed in between) may have
  // replaced it. Reading the blob back costs a page-cache read, not a decode.
  DOZOR_ASSIGN_OR_RETURN(auto stored, ReadOptional(BindAll(w.blob_select, pk), [](const auto& s) {
                           return StoredInventory{s.Blob(0), s.Int(1)};
                         }));
  std::shared_ptr<PreparedInventory> prepared_here;
  if (prepared == nullptr || prepared->base != stored) {
    prepared_here = PrepareInventory(stored, inv, at, agent_id);
    prepared = prepared_here.get();
  }
  if (prepared->blob.empty()) {
    return MakeError(ErrorCode::kInternal, "could not encode the inventory of " + agent_id);
  }
  DOZOR_RETURN_IF_ERROR(InsertEach(prepared->changes, [&](const InventoryChange& c) {
    return RunWith(w.change_insert, pk, c.at_ms, c.category, c.action, c.subject, c.old_value,
                   c.new_value);
  }));
  DOZOR_RETURN_IF_ERROR(ReplaceHostRows(w, pk, inv, at, prepared->changed_parts));
  if (stored && stored->blob == prepared->blob && stored->rows_schema == CurrentRowsSchema()) {
    return RunWith(w.blob_touch, at, pk);  // the same inventory again: only its time moves
  }
  return RunWith(w.blob_upsert, pk, at, BlobArg{prepared->blob}, CurrentRowsSchema());
}

Status SqliteStore::ClassifyHostsWithoutDuties() {
  // In batches, so memory holds a few inventories at a time however large the estate; an
  // inventory that does not decode gets no duties (and is not read again).
  constexpr int kBatch = 64;
  DOZOR_ASSIGN_OR_RETURN(auto pending,
                         writer_.Prepare("SELECT o.agent, b.inventory FROM host_os o "
                                         "JOIN host_inventory_blob b ON b.agent = o.agent "
                                         "WHERE o.duties IS NULL ORDER BY o.agent LIMIT ?"));
  DOZOR_ASSIGN_OR_RETURN(auto update,
                         writer_.Prepare("UPDATE host_os SET duties = ? WHERE agent = ?"));
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  int64_t classified = 0, undecodable = 0;
  while (true) {
    std::vector<std::pair<int64_t, std::string>> batch;
    DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(pending, kBatch), [&](const sqlite::Statement& row) {
      batch.emplace_back(row.Int(0), row.Blob(1));
    }));
    if (batch.empty()) {
      break;
    }
    for (const auto& [pk, blob] : batch) {
      dozor::v1::Inventory inventory;
      HostDuties duties;
      if (DecodeCompressed(blob, &inventory).ok()) {
        duties = ClassifyHostDuties(inventory);
        ++classified;
      } else {
        ++undecodable;
      }
      DOZOR_RETURN_IF_ERROR(RunWith(update, FormatHostDuties(duties), pk));
    }
  }
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  if (classified > 0) {
    spdlog::info("store: read the duties of {} hosts from their stored inventory", classified);
  }
  if (undecodable > 0) {
    spdlog::warn(
        "store: the stored inventory of {} hosts does not decode; they have no duties "
        "until their next inventory",
        undecodable);
  }
  return OkStatus();
}

}  // namespace dozor::server
