// SqliteStore: opening the database, migrations, the connections and their prepared statements,
// the background checkpoint thread. The areas live in sqlite_store_<area>.cpp beside it.
#include "store/sqlite/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <iterator>
#include <set>
#include <utility>

#include "dozor/common/text.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {

// The helpers and statements the backend's files share.
using namespace sqlite_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

// The rows PRAGMA foreign_key_check lists (a foreign key that points at nothing), each as
// "table row N -> parent".
Result<std::multiset<std::string>> DanglingReferences(sqlite::Database& db) {
  DOZOR_ASSIGN_OR_RETURN(auto check, db.Prepare("PRAGMA foreign_key_check"));
  std::multiset<std::string> rows;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool has_row, check.Step());
    if (!has_row) break;
    const std::string rowid = check.IsNull(1) ? "?" : std::to_string(check.Int(1));
    rows.insert(check.Text(0) + " row " + rowid + " -> " + check.Text(2));
  }
  return rows;
}

// At most `limit` of the rows, for a message.
std::string SomeOf(const std::vector<std::string>& rows, size_t limit) {
  std::string text;
  for (size_t i = 0; i < rows.size() && i < limit; ++i) {
    text += (i == 0 ? "" : ", ") + rows[i];
  }
  return rows.size() > limit ? text + ", ..." : text;
}

// The pending migrations in one transaction, which the caller runs with foreign keys off.
Status ApplyPendingMigrations(sqlite::Database& db, const std::string& path, int64_t now_ms) {
  sqlite::Transaction txn(db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_RETURN_IF_ERROR(
      db.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
              "name TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
  // Every applied version, not only the highest: a database made by a build between two merges
  // can hold a higher migration without a lower one that landed later; that one still runs.
  DOZOR_ASSIGN_OR_RETURN(auto applied_stmt, db.Prepare("SELECT version FROM schema_migrations"));
  std::set<int64_t> applied_versions;
  int64_t current = 0;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool has_row, applied_stmt.Step());
    if (!has_row) break;
    applied_versions.insert(applied_stmt.Int(0));
    current = std::max(current, applied_stmt.Int(0));
  }
  applied_stmt.Reset();
  int latest = SqliteStore::LatestSchemaVersion();
  if (current > latest) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     path + ": database schema version " + std::to_string(current) +
                         " is newer than this dozor-server knows (" + std::to_string(latest) +
                         "); run a newer dozor-server or restore a matching backup");
  }
  const bool all_applied = std::all_of(
      Migrations().begin(), Migrations().end(),
      [&](const Migration& migration) { return applied_versions.count(migration.version) > 0; });
  if (all_applied) {
    return txn.Commit();
  }
  // What already pointed at nothing before (rows put there by hand with foreign keys off) is
  // not the migrations' doing: reported, and left as it was.
  DOZOR_ASSIGN_OR_RETURN(const auto dangling_before, DanglingReferences(db));
  if (!dangling_before.empty()) {
    spdlog::warn(
        "store: {} has {} rows whose foreign key points at nothing, left as they are: {}", path,
        dangling_before.size(),
        SomeOf(std::vector<std::string>(dangling_before.begin(), dangling_before.end()), 5));
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto record,
      db.Prepare("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)"));
  for (const auto& migration : Migrations()) {
    if (applied_versions.count(migration.version) > 0) {
      continue;
    }
    auto applied = db.Exec(migration.sql);
    if (!applied.ok()) {
      return applied.error().Wrap(path + ": migration " + migration.name);
    }
    DOZOR_RETURN_IF_ERROR(
        record.Bind(1, migration.version).Bind(2, migration.name).Bind(3, now_ms).Run());
    spdlog::info("store: applied migration {} to {}", migration.name, path);
  }
  // Step 10 of SQLite's procedure: with foreign keys off nothing stopped a rebuilt table from
  // losing a row its children point at, so check before anything is committed.
  DOZOR_ASSIGN_OR_RETURN(const auto dangling_after, DanglingReferences(db));
  std::vector<std::string> introduced;
  std::set_difference(dangling_after.begin(), dangling_after.end(), dangling_before.begin(),
                      dangling_before.end(), std::back_inserter(introduced));
  if (!introduced.empty()) {
    return MakeError(ErrorCode::kInternal, path + ": the migrations to schema version " +
                                               std::to_string(latest) + " would leave " +
                                               std::to_string(introduced.size()) +
                                               " rows whose foreign key points at nothing (" +
                                               SomeOf(introduced, 5) + "); nothing was changed");
  }
  return txn.Commit();
}

// Migrations rebuild tables to change their constraints (SQLite cannot alter one in place),
// following https://www.sqlite.org/lang_altertable.html#otheralter. Its steps around the SQL
// are here: foreign keys off for the transaction (PRAGMA foreign_keys does nothing inside one,
// so it is switched outside), so that dropping a parent table neither fails on its children nor
// cascades into them (alerts -> alert_deliveries is ON DELETE CASCADE); a foreign_key_check
// before the commit; the setting as it was afterwards, whatever happened. legacy_alter_table is
// left as it is: the new table is renamed to the old name, which the children's REFERENCES
// already name, so the rename has nothing to rewrite in either mode.
Status ApplyMigrations(sqlite::Database& db, const std::string& path, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto foreign_keys, db.Prepare("PRAGMA foreign_keys"));
  DOZOR_ASSIGN_OR_RETURN(bool has_row, foreign_keys.Step());
  const bool enforced = has_row && foreign_keys.Int(0) != 0;
  foreign_keys.Reset();
  DOZOR_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys=OFF"));
  const Status applied = ApplyPendingMigrations(db, path, now_ms);
  const Status restored = db.Exec(enforced ? "PRAGMA foreign_keys=ON" : "PRAGMA foreign_keys=OFF");
  DOZOR_RETURN_IF_ERROR(applied);
  return restored;
}

Status PrepareWriterStatements(sqlite::Database& db, WriterStatements& w) {
  DOZOR_RETURN_IF_ERROR(PrepareAll(
      db,
      {
          {&w.org_insert,
           "INSERT INTO organizations(name, contract_status, contract_type, engineer, created_at) "
           "VALUES (?, ?, ?, ?, ?)"},
          {&w.org_update,
           "UPDATE organizations SET contract_status = coalesce(?2, contract_status), "
           "contract_type = coalesce(?3, contract_type), engineer = coalesce(?4, engineer) "
           "WHERE id = ?1"},
          {&w.org_exists, "SELECT 1 FROM organizations WHERE id = ?"},
          {&w.org_declared_hosts, "UPDATE organizations SET declared_hosts = ?2 WHERE id = ?1"},
          {&w.token_insert,
           "INSERT INTO enrollment_tokens(token_hash, org_id, hint, label, created_at, expires_at, "
           "max_uses) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.token_revoke,
           "UPDATE enrollment_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"},
          {&w.token_exists, "SELECT 1 FROM enrollment_tokens WHERE id = ?"},
          {&w.token_by_hash,
           "SELECT t.id, t.org_id, o.name, t.expires_at, t.revoked_at, t.uses, t.max_uses "
           "FROM enrollment_tokens t JOIN organizations o ON o.id = t.org_id "
           "WHERE t.token_hash = ?"},
          {&w.token_use, "UPDATE enrollment_tokens SET uses = uses + 1 WHERE id = ?"},
          {&w.agent_insert,
           "INSERT INTO agents(agent_id, org_id, secret_hash, hostname, machine_id, agent_version, "
           "os, enrolled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.agent_revoke,
           "UPDATE agents SET revoked_at = ?2 WHERE agent_id = ?1 AND revoked_at IS NULL"},
          {&w.agent_exists, "SELECT 1 FROM agents WHERE agent_id = ?"},
          {&w.agent_lookup,
           "SELECT id, last_seq, revoked_at IS NOT NULL, org_id FROM agents WHERE agent_id = ?"},
          {&w.agent_update,
           "UPDATE agents SET last_seen = max(last_seen, ?2), last_seq = max(last_seq, ?3), "
           "dropped_health_total = max(dropped_health_total, ?4), "
           "agent_version = CASE WHEN ?5 = '' THEN agent_version ELSE ?5 END, "
           "last_inventory_at = CASE WHEN ?6 > 0 THEN ?6 ELSE last_inventory_at END, "
           "clock_offset_ms = ?7, last_health_at = CASE WHEN ?8 > 0 THEN ?8 ELSE last_health_at "
           "END WHERE id = ?1"},
          {&w.health_insert,
           "INSERT INTO health_samples(agent, collected_at, seq, sample, encoding) "
           "VALUES (?, ?, ?, ?, 1)"},
          {&w.os_prev,
           "SELECT pending_security_updates, security_pending_since FROM host_os WHERE agent = ?"},
          {&w.collector_upsert,
           "INSERT OR REPLACE INTO host_collectors(agent, name, ok, error, duration_ms, at) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.blob_select,
           "SELECT inventory, rows_schema FROM host_inventory_blob WHERE agent = ?"},
          {&w.blob_upsert,
           "INSERT OR REPLACE INTO host_inventory_blob(agent, collected_at, inventory, "
           "rows_schema) VALUES (?, ?, ?, ?)"},
          {&w.blob_touch, "UPDATE host_inventory_blob SET collected_at = ? WHERE agent = ?"},
          {&w.change_insert,
           "INSERT INTO inventory_changes(agent, at, category, action, subject, old_value, "
           "new_value) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.os_insert,
           "INSERT INTO host_os(agent, os_id, id_like, family, name, version, version_id, "
           "pretty_name, kernel, architecture, hostname, fqdn, timezone, boot_time, "
           "reboot_required, pending_updates, pending_security_updates, machine_id, "
           "uptime_seconds, clock_synchronized, clock_max_error_us, security_pending_since, role, "
           "install_time, edition, build, activation, domain, workgroup, time_source, "
           "last_update_install_time, update_error, product_type, duties) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
           "?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.hardware_insert,
           "INSERT INTO host_hardware(agent, cpu_model, cpu_sockets, cpu_cores, cpu_threads, "
           "memory_total_bytes, system_vendor, system_model, system_serial, bios_vendor, "
           "bios_version, bios_date, virtual_machine, hypervisor, chassis_type, "
           "smartctl_available, cpu_vendor, cpu_family, cpu_model_number, cpu_stepping, "
           "cpu_cache_kb, cpu_microcode, swap_total_bytes, container) VALUES (?, ?, ?, ?, ?, ?, "
           "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.disk_insert,
           "INSERT INTO host_disks(agent, name, model, serial, size_bytes, rotational, transport, "
           "smart_status, power_on_hours, temperature_c, removable, smart_message, "
           "reallocated_sectors, pending_sectors, offline_uncorrectable, health, wear_percent, "
           "media_type, vendor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.interface_insert,
           "INSERT INTO host_interfaces(agent, name, mac, mtu, state, speed_mbps, loopback, "
           "virtual, duplex) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.address_insert,
           "INSERT INTO host_addresses(agent, interface, address, prefix, family, loopback) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.gateway_insert,
           "INSERT INTO host_gateways(agent, address, interface, family) VALUES (?, ?, ?, ?)"},
          {&w.dns_insert, "INSERT INTO host_dns(agent, position, server) VALUES (?, ?, ?)"},
          {&w.listener_insert,
           "INSERT INTO host_listeners(agent, protocol, family, address, port, pid, process, uid) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.package_insert,
           "INSERT INTO host_packages(agent, name, version, architecture, source, vendor, "
           "install_time, held) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.repository_insert,
           "INSERT INTO host_repositories(agent, manager, file, name, kind, uri, suite, "
           "components, enabled, official) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.application_insert,
           "INSERT INTO host_applications(agent, name, version, architecture, path, kind, ports, "
           "state) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.service_insert,
           "INSERT INTO host_services(agent, name, description, load_state, active_state, "
           "sub_state, enabled, account, command) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.user_insert,
           "INSERT INTO host_users(agent, name, uid, shell, home, administrator, disabled, kind, "
           "domain, last_login, last_login_from, gid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.pci_device_insert,
           "INSERT INTO host_pci_devices(agent, address, vendor_id, device_id, class_code, "
           "class_name, subsystem_vendor_id, subsystem_device_id, driver, vendor_name, "
           "device_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.group_insert,
           "INSERT INTO host_groups(agent, name, gid, administrator) VALUES (?, ?, ?, ?)"},
          {&w.group_member_insert,
           "INSERT INTO host_group_members(agent, group_name, member, primary_group) "
           "VALUES (?, ?, ?, ?)"},
          {&w.security_insert,
           "INSERT INTO host_security(agent, remote_desktop, remote_desktop_nla, "
           "remote_desktop_port, smb1, password_min_length, password_max_age_days, "
           "lockout_threshold, password_complexity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.antivirus_insert,
           "INSERT INTO host_antivirus(agent, name, enabled, up_to_date, signatures_updated, "
           "source, version) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.firewall_insert,
           "INSERT INTO host_firewall_profiles(agent, name, enabled) VALUES (?, ?, ?)"},
          {&w.volume_insert,
           "INSERT INTO host_volumes(agent, mount_point, label, file_system, size_bytes, "
           "free_bytes, kind, remote_path, encryption) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.battery_insert,
           "INSERT INTO host_batteries(agent, name, design_capacity_mwh, "
           "full_charge_capacity_mwh, charge_percent, status) VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.memory_module_insert,
           "INSERT INTO host_memory_modules(agent, slot, size_bytes, speed_mhz, manufacturer, "
           "part_number, serial) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.infobase_insert,
           "INSERT INTO host_infobases(agent, user_name, name, kind, location, network_share, "
           "version) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.license_client_insert,
           "INSERT INTO host_license_clients(agent, position, kind, config_path, broadcast) "
           "VALUES (?, ?, ?, ?, ?)"},
          {&w.license_server_insert,
           "INSERT INTO host_license_servers(agent, client_position, server) VALUES (?, ?, ?)"},
          {&w.backup_job_insert,
           "INSERT INTO host_backup_jobs(agent, tool, source, schedule, target, destination, "
           "last_success_time, last_run_time, last_status, last_error, freshness_source, "
           "interval_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.process_insert,
           "INSERT INTO host_processes(agent, pid, name, user_name, rss_bytes, start_time, "
           "command) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.database_server_insert,
           "INSERT INTO host_database_servers(agent, position, kind, version, config_path, "
           "data_directory, listen_addresses, port, onec_build, autovacuum, running, hba_path, "
           "databases_listed, data_mount_point, data_fs_total_bytes, data_fs_available_bytes) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.database_insert,
           "INSERT INTO host_database_databases(agent, server_position, name, size_bytes, "
           "newest_dump_time, newest_dump_path, newest_dump_job, last_backup_time, "
           "last_backup_source, "
           "last_backup_interval_seconds, covered_without_freshness) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.firewall_ruleset_insert,
           "INSERT INTO host_firewall(agent, backend, input_policy, status, rule_count) "
           "VALUES (?, ?, ?, ?, ?)"},
          {&w.firewall_port_insert,
           "INSERT INTO host_firewall_ports(agent, family, protocol, port, verdict, sources, "
           "reason) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.database_hba_insert,
           "INSERT INTO host_database_hba(agent, server_position, line, type, database_name, "
           "user_name, address, method) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.storage_array_insert,
           "INSERT INTO host_storage_arrays(agent, kind, name, level, state, degraded, "
           "sync_action, sync_percent, size_bytes, free_bytes, errors, last_scrub_time, "
           "controller, devices_expected, devices_active, members, failed_members) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.ups_insert,
           "INSERT INTO host_ups(agent, daemon, name, model, status, on_battery, low_battery, "
           "battery_charge_pct, runtime_seconds, monitored, source) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.power_insert, "INSERT INTO host_power(agent, checked) VALUES (?, ?)"},
          {&w.onec_agent_insert,
           "INSERT INTO host_onec_agents(agent, position, pid, version, user_name, start_time, "
           "agent_port, manager_port, range_first, range_last, registry_path, restarted_workers, "
           "rac_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.onec_process_insert,
           "INSERT INTO host_onec_processes(agent, agent_position, role, pid, version, rss_bytes, "
           "start_time) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.onec_cluster_insert,
           "INSERT INTO host_onec_clusters(agent, agent_position, cluster_id, name, host, port, "
           "lifetime_limit, max_memory_size, security_level, admin_configured, admins, "
           "infobase_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.onec_tech_log_insert,
           "INSERT INTO host_onec_tech_logs(agent, config_path, enabled, location, history_hours, "
           "size_bytes, size_complete, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.onec_licensing_insert,
           "INSERT INTO host_onec_licensing(agent, kind, name) VALUES (?, ?, ?)"},
          {&w.unavailable_insert,
           "INSERT INTO host_unavailable(agent, part, note) VALUES (?, ?, ?)"},
          {&w.api_insert,
           "INSERT INTO api_tokens(token_hash, name, role, hint, created_at, expires_at, user_id) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.api_revoke,
           "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"},
          {&w.api_exists, "SELECT 1 FROM api_tokens WHERE id = ?"},
          {&w.agent_pks, "SELECT id FROM agents ORDER BY id"},
          // The primary key leads with agent, so a per-agent range delete is an index seek.
          {&w.prune_chunk,
           "DELETE FROM health_samples WHERE agent = ?1 AND (collected_at, seq) IN "
           "(SELECT collected_at, seq FROM health_samples WHERE agent = ?1 AND collected_at < ?2 "
           "LIMIT ?3)"},
          {&w.compact_first,
           "SELECT min(collected_at) FROM health_samples WHERE agent = ?1 AND collected_at >= ?2 "
           "AND collected_at < ?3"},
          {&w.compact_rows,
           "SELECT collected_at, seq, sample, encoding FROM health_samples WHERE agent = ?1 "
           "AND collected_at >= ?2 AND collected_at < ?3 ORDER BY collected_at, seq"},
          {&w.compact_keys,
           "SELECT collected_at, seq FROM health_samples WHERE agent = ?1 "
           "AND collected_at >= ?2 AND collected_at < ?3 ORDER BY collected_at, seq"},
          {&w.compact_blocks,
           "SELECT data FROM health_blocks WHERE agent = ?1 AND start_at >= ?2 AND start_at < ?3 "
           "ORDER BY start_at"},
          {&w.compact_delete_rows,
           "DELETE FROM health_samples WHERE agent = ?1 AND collected_at >= ?2 "
           "AND collected_at < ?3"},
          {&w.compact_delete_blocks,
           "DELETE FROM health_blocks WHERE agent = ?1 AND start_at >= ?2 AND start_at < ?3"},
          {&w.block_insert,
           "INSERT INTO health_blocks(agent, start_at, end_at, count, first_seq, last_seq, data) "
           "VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.prune_blocks_count,
           "SELECT coalesce(sum(count), 0) FROM health_blocks WHERE agent = ? AND end_at < ?"},
          {&w.prune_blocks_delete, "DELETE FROM health_blocks WHERE agent = ? AND end_at < ?"},
          {&w.prune_blocks_straddling,
           "SELECT start_at, data FROM health_blocks WHERE agent = ?1 AND start_at < ?2 "
           "AND end_at >= ?2"},
          {&w.block_delete, "DELETE FROM health_blocks WHERE agent = ? AND start_at = ?"},
      }));
  for (size_t i = 0; i < kHostTableCount; ++i) {
    std::string sql = std::string("DELETE FROM ") + kHostTables[i].name + " WHERE agent = ?";
    DOZOR_ASSIGN_OR_RETURN(w.host_delete[i], db.Prepare(sql));
  }
  DOZOR_ASSIGN_OR_RETURN(w.rule_windows, RuleWindowWriter::Prepare(db));
  return OkStatus();
}

Status PrepareReaderStatements(sqlite::Database& db, ReaderStatements& r) {
  std::string org = kOrgColumns;
  std::string token = kTokenColumns;
  std::string api = kApiTokenColumns;
  std::string host = kHostColumns;
  std::string credential = kCredentialColumns;
  std::string change = kChangeColumns;
  std::string collector = kCollectorColumns;
  return PrepareAll(
      db,
      {
          {&r.org_list, org + "ORDER BY o.name"},
          {&r.org_by_id, org + "WHERE o.id = ?"},
          {&r.org_by_name, org + "WHERE o.name = ?"},
          {&r.token_list, token + "WHERE (?1 IS NULL OR t.org_id = ?1) ORDER BY t.id"},
          {&r.token_by_id, token + "WHERE t.id = ?"},
          {&r.credential, credential + "WHERE agent_id = ?"},
          {&r.host_list,
           host + "WHERE (?1 IS NULL OR a.org_id = ?1) ORDER BY o.name, 5, a.agent_id"},
          {&r.host_one, host + "WHERE a.agent_id = ?"},
          {&r.addresses_all,
           "SELECT h.agent, h.address FROM host_addresses h JOIN agents a ON a.id = h.agent "
           "WHERE h.loopback = 0 AND (?1 IS NULL OR a.org_id = ?1) ORDER BY h.agent, h.rowid"},
          {&r.addresses_one,
           "SELECT address FROM host_addresses WHERE agent = ? AND loopback = 0 ORDER BY rowid"},
          {&r.blob_get, "SELECT inventory FROM host_inventory_blob WHERE agent = ?"},
          {&r.blob_base, "SELECT inventory, rows_schema FROM host_inventory_blob WHERE agent = ?"},
          {&r.collectors, collector + "WHERE agent = ? ORDER BY name"},
          {&r.agent_pk, "SELECT id FROM agents WHERE agent_id = ?"},
          {&r.changes, change + "WHERE agent = ? AND at >= ? ORDER BY at DESC, id DESC LIMIT ?"},
          {&r.health,
           "SELECT seq, collected_at, sample, encoding FROM health_samples WHERE agent = ? "
           "AND collected_at >= ? ORDER BY collected_at DESC, seq DESC LIMIT ?"},
          // Blocks never overlap, so start_at order is also end_at order.
          {&r.health_blocks,
           "SELECT end_at, data FROM health_blocks WHERE agent = ? AND end_at >= ? "
           "ORDER BY start_at DESC"},
          {&r.api_by_hash, api + "WHERE token_hash = ?"},
          {&r.api_by_id, api + "WHERE id = ?"},
          {&r.api_list, api + "ORDER BY id"},
          {&r.api_count, "SELECT count(*) FROM api_tokens"},
      });
}

}  // namespace

int SqliteStore::LatestSchemaVersion() {
  int latest = 0;
  for (const auto& migration : Migrations()) {
    latest = std::max(latest, migration.version);
  }
  return latest;
}

// ------------------------------------------------------------------ open and close

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteStoreOptions& options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  store->path_ = options.path;
  if (options.clock != nullptr) {
    store->clock_ = options.clock;
  }
  store->background_checkpoint_ = options.background_checkpoint;
  store->compact_after_ms_ = std::max<int64_t>(0, options.health_compact_after_s) * 1000;
  store->compact_interval_ms_ = std::max<int64_t>(0, options.health_compact_interval_s) * 1000;
  store->rule_window_ms_ = std::max<int64_t>(60, options.rule_window_s) * 1000;
  store->rule_trend_ms_ = std::max<int64_t>(3600, options.rule_trend_s) * 1000;
  store->reader_count_ =
      options.reader_connections > 0
          ? std::min(options.reader_connections, 64)
          : std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 4, 64);
  DOZOR_RETURN_IF_ERROR(store->OpenConnections());
  if (options.background_checkpoint) {
    DOZOR_RETURN_IF_ERROR(store->StartCheckpointer());
  }
  return store;
}

Status SqliteStore::OpenConnections() {
  sqlite::OpenOptions writer_options;
  writer_options.synchronous = "FULL";
  // Each commit's WAL frames in one write, not two per page: the write calls were ~40 % of the
  // ingest CPU (store_bench under perf).
  writer_options.combine_wal_writes = true;
  auto writer = sqlite::Database::Open(path_, writer_options);
  if (!writer.ok()) {
    return NameFile(writer.error(), path_);
  }
  writer_ = std::move(writer).value();
  if (background_checkpoint_) {
    DOZOR_RETURN_IF_ERROR(writer_.Exec("PRAGMA wal_autocheckpoint=0"));
  }
  // Ingest inserts at the right edge of every agent's range in the rule-window tables and the
  // health_samples index: a few hot leaf pages per agent. The 2 MB default cache re-read those
  // pages from the file on every batch (~20 % of the ingest CPU with 100 agents); 64 MB keeps
  // several thousand agents' pages resident.
  DOZOR_RETURN_IF_ERROR(writer_.Exec("PRAGMA cache_size=-65536"));
  DOZOR_RETURN_IF_ERROR(ApplyMigrations(writer_, path_, clock_->NowMs()));
  if (auto classified = ClassifyHostsWithoutDuties(); !classified.ok()) {
    return NameFile(classified.error(), path_);
  }
  // Statement journals in memory: the multi-row window inserts (rule_window_writer.hpp) each
  // open one, and past 64 KiB SQLite spilled it to a fresh file in /var/tmp: an open, ~60 small
  // writes and an unlink per statement, 117,000 writes for 20,000 reports (strace of
  // store_bench), more than the WAL itself. A statement's journal holds the pages it changed
  // (a few hundred KiB at most) and is freed when the statement ends. Set after the migrations,
  // whose table copies keep sorting through files as before.
  DOZOR_RETURN_IF_ERROR(writer_.Exec("PRAGMA temp_store=MEMORY"));

  ws_ = std::make_unique<WriterStatements>();
  auto prepared = PrepareWriterStatements(writer_, *ws_);
  if (prepared.ok()) {
    prepared = PrepareFindingStatements();
  }
  if (!prepared.ok()) {
    return NameFile(prepared.error(), path_);
  }
  for (int i = 0; i < reader_count_; ++i) {
    DOZOR_ASSIGN_OR_RETURN(auto reader, OpenReader());
    free_readers_.push_back(reader.get());
    readers_.push_back(std::move(reader));
  }
  return OkStatus();
}

namespace {

// dozor_fold(text): FoldCase for the readers' text filters (SQLite's lower() folds ASCII only, so
// "ромашка" would not find "Ромашка"). Registered per reader connection, used by no index or
// view, so other tools can still open the database.
void FoldSqlFunction(sqlite3_context* context, int /*argc*/, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  const auto* bytes = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const std::string folded = FoldCase(std::string_view(
      bytes == nullptr ? "" : bytes, static_cast<size_t>(sqlite3_value_bytes(argv[0]))));
  sqlite3_result_text(context, folded.data(), static_cast<int>(folded.size()), SQLITE_TRANSIENT);
}

}  // namespace

Result<std::unique_ptr<SqliteStore::ReaderSlot, SqliteStore::ReaderSlotDeleter>>
SqliteStore::OpenReader() {
  sqlite::OpenOptions reader_options;
  reader_options.create = false;
  reader_options.synchronous = "NORMAL";  // this connection never writes
  auto db = sqlite::Database::Open(path_, reader_options);
  if (!db.ok()) {
    return NameFile(db.error(), path_);
  }
  std::unique_ptr<ReaderSlot, ReaderSlotDeleter> slot(new ReaderSlot());
  slot->db = std::move(db).value();
  if (sqlite3_create_function_v2(slot->db.get(), "dozor_fold", 1,
                                 SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                                 &FoldSqlFunction, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return MakeError(ErrorCode::kInternal, "cannot register dozor_fold on " + path_ + ": " +
                                               sqlite3_errmsg(slot->db.get()));
  }
  auto prepared = PrepareReaderStatements(slot->db, slot->rs);
  if (prepared.ok()) {
    prepared = PrepareFindingReaderStatements(slot->db, slot->fr);
  }
  if (!prepared.ok()) {
    return NameFile(prepared.error(), path_);
  }
  return slot;
}

void SqliteStore::ReaderSlotDeleter::operator()(ReaderSlot* slot) const { delete slot; }

SqliteStore::ReaderLease SqliteStore::AcquireReader() {
  std::unique_lock lock(readers_mu_);
  reader_freed_.wait(lock, [this] { return !free_readers_.empty(); });
  ReaderSlot* slot = free_readers_.back();
  free_readers_.pop_back();
  return ReaderLease(*this, slot);
}

void SqliteStore::ReleaseReader(ReaderSlot* slot) {
  {
    std::lock_guard lock(readers_mu_);
    free_readers_.push_back(slot);
  }
  reader_freed_.notify_one();
}

Status SqliteStore::StartCheckpointer() {
  auto checkpointer = sqlite::Database::Open(path_, sqlite::OpenOptions{.create = false});
  if (!checkpointer.ok()) {
    return NameFile(checkpointer.error(), path_);
  }
  checkpointer_ = std::move(checkpointer).value();
  // A TRUNCATE checkpoint waits for the writer; never let it wait long.
  sqlite3_busy_timeout(checkpointer_.get(), 200);
  DOZOR_ASSIGN_OR_RETURN(checkpoint_passive_,
                         checkpointer_.Prepare("PRAGMA wal_checkpoint(PASSIVE)"));
  DOZOR_ASSIGN_OR_RETURN(checkpoint_truncate_,
                         checkpointer_.Prepare("PRAGMA wal_checkpoint(TRUNCATE)"));
  checkpoint_thread_ = std::thread([this] { CheckpointLoop(); });
  return OkStatus();
}

SqliteStore::~SqliteStore() {
  closing_ = true;
  {
    std::lock_guard lock(checkpoint_mu_);
    stop_ = true;
  }
  checkpoint_cv_.notify_all();
  if (checkpoint_thread_.joinable()) {
    checkpoint_thread_.join();
  }
}

void SqliteStore::CheckpointLoop() {
  std::unique_lock lock(checkpoint_mu_);
  // Compaction rides on this thread: it is already the store's one background worker, and a
  // compaction pass is a series of short write transactions like any ingest batch.
  auto next_compaction =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(compact_interval_ms_);
  while (!stop_) {
    checkpoint_cv_.wait_for(lock, kCheckpointPeriod, [this] { return stop_; });
    if (stop_) {
      break;
    }
    std::error_code ec;
    uintmax_t wal_bytes = std::filesystem::file_size(path_ + "-wal", ec);
    bool truncate = !ec && wal_bytes > kTruncateWalBytes;
    lock.unlock();
    auto status = CheckpointNow(truncate);
    if (!status.ok()) {
      spdlog::debug("store: checkpoint: {}", status.error().ToString());
    }
    if (compact_interval_ms_ > 0 && std::chrono::steady_clock::now() >= next_compaction) {
      CompactAndLog();
      next_compaction =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(compact_interval_ms_);
    }
    lock.lock();
  }
}

void SqliteStore::CompactAndLog() {
  // Rule windows are pruned against the wall clock: rules only ever look back from "now".
  auto pruned = PruneRuleWindows(clock_->NowMs());
  if (!pruned.ok()) {
    spdlog::warn("store: rule window pruning: {}", pruned.error().ToString());
  }
  auto compacted = CompactHealth(clock_->NowMs() - compact_after_ms_);
  if (!compacted.ok()) {
    spdlog::warn("store: health compaction: {}", compacted.error().ToString());
    return;
  }
  if (compacted->failed_buckets > 0) {
    spdlog::warn("store: health compaction skipped {} agent-hours (kept as raw samples); first: {}",
                 compacted->failed_buckets, compacted->first_failure);
  }
  if (compacted->samples > 0) {
    spdlog::info(
        "store: compacted {} health samples of {} agent-hours into {} blocks ({} -> {} bytes)",
        compacted->samples, compacted->buckets, compacted->blocks_written, compacted->raw_bytes,
        compacted->block_bytes);
  }
}

Status SqliteStore::CheckpointNow(bool truncate) {
  if (!background_checkpoint_) {
    std::lock_guard lock(write_mu_);
    return writer_.Exec(truncate ? "PRAGMA wal_checkpoint(TRUNCATE)"
                                 : "PRAGMA wal_checkpoint(PASSIVE)");
  }
  std::lock_guard lock(checkpoint_run_mu_);
  sqlite::Statement& statement = truncate ? checkpoint_truncate_ : checkpoint_passive_;
  DOZOR_ASSIGN_OR_RETURN(bool row, HasRow(statement));
  (void)row;
  return OkStatus();
}

Result<std::unique_ptr<SqliteStore>> OpenSqliteStore(const SqliteStoreOptions& options) {
  return SqliteStore::Open(options);
}

}  // namespace dozor::server
