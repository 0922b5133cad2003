#include "store/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <utility>

#include "dozor/contract/codec.hpp"
#include "store/collector_status_batch.hpp"
#include "store/health_block_codec.hpp"
#include "store/host_role.hpp"
#include "store/inventory_diff.hpp"
#include "store/migrations.hpp"
#include "store/rule_window_writer.hpp"
#include "store/statement_helpers.hpp"
#include "store/store_rows.hpp"

namespace dozor::server {
namespace {

constexpr int kMaxListLimit = 10000;
constexpr int64_t kPruneChunkRows = 5000;
constexpr uintmax_t kTruncateWalBytes = 64ull * 1024 * 1024;
constexpr auto kCheckpointPeriod = std::chrono::seconds(1);
constexpr size_t kMaxNameLength = 200;

// health_samples.encoding values (migration 002).
constexpr int64_t kEncodingZlib = 0;  // EncodeCompressed, every row written before 002
constexpr int64_t kEncodingPlain = 1;

constexpr int64_t kBucketMs = 3600 * 1000;
// A bucket with more samples than this (an agent sampling faster than every 30 s) is split
// into several blocks, so reading the newest few samples never inflates a huge block.
constexpr size_t kMaxBlockSamples = 120;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Start of the hour bucket holding `at_ms` (floor, also for negative times).
int64_t BucketStart(int64_t at_ms) {
  return at_ms - (((at_ms % kBucketMs) + kBucketMs) % kBucketMs);
}

// A deferred read transaction on the reader connection: several queries see one snapshot.
class ReadTransaction {
 public:
  explicit ReadTransaction(sqlite::Database& db) : db_(db) {}
  ~ReadTransaction() {
    if (open_) {
      (void)db_.Exec("COMMIT");
    }
  }
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  Status Begin() {
    DOZOR_RETURN_IF_ERROR(db_.Exec("BEGIN"));
    open_ = true;
    return OkStatus();
  }

 private:
  sqlite::Database& db_;
  bool open_ = false;
};

int ClampLimit(int limit) {
  if (limit <= 0 || limit > kMaxListLimit) {
    return kMaxListLimit;
  }
  return limit;
}

bool IsAllDigits(std::string_view text) {
  return !text.empty() && text.size() <= 18 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsLoopbackAddress(const dozor::v1::NetworkInterface& iface, const dozor::v1::IpAddress& ip) {
  const std::string& a = ip.address();
  return iface.loopback() || a.rfind("127.", 0) == 0 || a == "::1";
}

// ------------------------------------------------------------------ validation and errors

Status CheckContractStatus(const std::string& status) {
  if (!IsValidContractStatus(status)) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid contract status '" + status + "'");
  }
  return OkStatus();
}

Status CheckContractType(const std::string& type) {
  if (!IsValidContractType(type)) {
    return MakeError(ErrorCode::kInvalidArgument, "invalid contract type '" + type + "'");
  }
  return OkStatus();
}

Status CheckRole(std::string_view role) {
  if (role != "admin" && role != "operator" && role != "viewer") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid role '" + std::string(role) + "' (admin, operator or viewer)");
  }
  return OkStatus();
}

Error UnknownAgent(std::string_view agent_id) {
  return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
}

// A UNIQUE violation becomes "<what> already exists"; other results pass through.
Status NameConflict(Status status, const std::string& what) {
  if (!status.ok() && status.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists, what + " already exists");
  }
  return status;
}

Error NameFile(const Error& error, const std::string& path) {
  if (error.message.find(path) != std::string::npos) {
    return error;
  }
  return error.Wrap(path);
}

// Runs an idempotent "revoke where not yet revoked". When it changed no row the target is
// either already revoked (fine) or missing (the error missing() builds).
template <typename Key, typename Missing>
Status RevokeIfExists(sqlite::Database& db, sqlite::Statement& revoke, sqlite::Statement& exists,
                      const Key& key, int64_t now_ms, Missing&& missing) {
  DOZOR_RETURN_IF_ERROR(RunWith(revoke, key, now_ms));
  if (db.Changes() > 0) {
    return OkStatus();
  }
  DOZOR_ASSIGN_OR_RETURN(bool found, HasRow(BindAll(exists, key)));
  if (!found) {
    return missing();
  }
  return OkStatus();
}

Status DecodeRawSample(std::string_view bytes, int64_t encoding, dozor::v1::HealthSample* out) {
  if (encoding == kEncodingZlib) {
    return DecodeCompressed(bytes, out);
  }
  if (encoding != kEncodingPlain) {
    return MakeError(ErrorCode::kDataLoss, "unknown sample encoding " + std::to_string(encoding));
  }
  if (bytes.size() > kMaxDecodedMessageBytes ||
      !out->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return MakeError(ErrorCode::kDataLoss, "health sample does not parse");
  }
  return OkStatus();
}

template <typename Rows, typename Insert>
Status InsertEach(const Rows& rows, Insert&& insert) {
  for (const auto& row : rows) {
    DOZOR_RETURN_IF_ERROR(insert(row));
  }
  return OkStatus();
}

// Whether the rows of an already bound query equal `expected`, in order.
template <typename T, typename Read>
Result<bool> RowsEqual(sqlite::Statement& s, const std::vector<T>& expected, Read&& read) {
  size_t i = 0;
  bool same = true;
  DOZOR_RETURN_IF_ERROR(ForEachRow(s, [&](const sqlite::Statement& row) {
    same = i < expected.size() && expected[i] == read(row);
    ++i;
    return same;
  }));
  return same && i == expected.size();
}

struct PrepareItem {
  sqlite::Statement* statement;
  std::string sql;
};

Status PrepareAll(sqlite::Database& db, std::initializer_list<PrepareItem> items) {
  for (const auto& item : items) {
    DOZOR_ASSIGN_OR_RETURN(*item.statement, db.Prepare(item.sql));
  }
  return OkStatus();
}

}  // namespace

// The per-host inventory tables, in the order they are cleared and refilled.
constexpr const char* kHostTables[] = {"host_os",           "host_hardware",  "host_disks",
                                       "host_interfaces",   "host_addresses", "host_gateways",
                                       "host_dns",          "host_listeners", "host_packages",
                                       "host_applications", "host_services",  "host_users"};
constexpr size_t kHostTableCount = sizeof(kHostTables) / sizeof(kHostTables[0]);

struct SqliteStore::WriterStatements {
  sqlite::Statement org_insert, org_update, org_exists;
  sqlite::Statement token_insert, token_revoke, token_exists, token_by_hash, token_use;
  sqlite::Statement agent_insert, agent_revoke, agent_exists, agent_lookup, agent_update;
  sqlite::Statement health_insert, collector_upsert;
  sqlite::Statement os_prev;
  // The rule-window rows of the batch being written, and their writer (migration 003).
  RuleWindowBatch window_batch;
  std::unique_ptr<RuleWindowWriter> rule_windows;
  CollectorStatusBatch collector_batch;  // host_collectors rows of the batch being written
  sqlite::Statement blob_select, blob_upsert, change_insert;
  sqlite::Statement host_delete[kHostTableCount];
  sqlite::Statement os_insert, hardware_insert, disk_insert, interface_insert, address_insert,
      gateway_insert, dns_insert, listener_insert, package_insert, application_insert,
      service_insert, user_insert;
  sqlite::Statement api_insert, api_revoke, api_exists;
  sqlite::Statement agent_pks, prune_chunk;
  sqlite::Statement compact_first, compact_rows, compact_keys, compact_blocks, compact_delete_rows,
      compact_delete_blocks, block_insert;
  sqlite::Statement prune_blocks_count, prune_blocks_delete, prune_blocks_straddling, block_delete;
};

struct SqliteStore::ReaderStatements {
  sqlite::Statement org_list, org_by_id, org_by_name;
  sqlite::Statement token_list, token_by_id;
  sqlite::Statement credential;
  sqlite::Statement host_list, host_one, addresses_all, addresses_one;
  sqlite::Statement blob_get, collectors, agent_pk, changes, health, health_blocks;
  sqlite::Statement api_by_hash, api_by_id, api_list, api_count;
};

int SqliteStore::LatestSchemaVersion() {
  int latest = 0;
  for (const auto& migration : Migrations()) {
    latest = std::max(latest, migration.version);
  }
  return latest;
}

namespace {

using WriterStatements = SqliteStore::WriterStatements;
using ReaderStatements = SqliteStore::ReaderStatements;

Status ApplyMigrations(sqlite::Database& db, const std::string& path) {
  sqlite::Transaction txn(db);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_RETURN_IF_ERROR(
      db.Exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
              "name TEXT NOT NULL, applied_at INTEGER NOT NULL)"));
  DOZOR_ASSIGN_OR_RETURN(auto current_stmt,
                         db.Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations"));
  DOZOR_ASSIGN_OR_RETURN(bool has_row, current_stmt.Step());
  int64_t current = has_row ? current_stmt.Int(0) : 0;
  current_stmt.Reset();
  int latest = SqliteStore::LatestSchemaVersion();
  if (current > latest) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     path + ": database schema version " + std::to_string(current) +
                         " is newer than this dozor-server knows (" + std::to_string(latest) +
                         "); run a newer dozor-server or restore a matching backup");
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto record,
      db.Prepare("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)"));
  for (const auto& migration : Migrations()) {
    if (migration.version <= current) {
      continue;
    }
    auto applied = db.Exec(migration.sql);
    if (!applied.ok()) {
      return applied.error().Wrap(path + ": migration " + migration.name);
    }
    DOZOR_RETURN_IF_ERROR(
        record.Bind(1, migration.version).Bind(2, migration.name).Bind(3, NowMs()).Run());
    spdlog::info("store: applied migration {} to {}", migration.name, path);
  }
  return txn.Commit();
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
          {&w.token_insert,
           "INSERT INTO enrollment_tokens(token_hash, org_id, hint, label, created_at, expires_at) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.token_revoke,
           "UPDATE enrollment_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL"},
          {&w.token_exists, "SELECT 1 FROM enrollment_tokens WHERE id = ?"},
          {&w.token_by_hash,
           "SELECT t.id, t.org_id, o.name, t.expires_at, t.revoked_at FROM enrollment_tokens t "
           "JOIN organizations o ON o.id = t.org_id WHERE t.token_hash = ?"},
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
           "clock_offset_ms = ?7, last_health_at = CASE WHEN ?8 > 0 THEN ?8 ELSE last_health_at END WHERE id = ?1"},
          {&w.health_insert,
           "INSERT INTO health_samples(agent, collected_at, seq, sample, encoding) "
           "VALUES (?, ?, ?, ?, 1)"},
          {&w.os_prev,
           "SELECT pending_security_updates, security_pending_since FROM host_os WHERE agent = ?"},
          {&w.collector_upsert,
           "INSERT OR REPLACE INTO host_collectors(agent, name, ok, error, duration_ms, at) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.blob_select, "SELECT inventory FROM host_inventory_blob WHERE agent = ?"},
          {&w.blob_upsert,
           "INSERT OR REPLACE INTO host_inventory_blob(agent, collected_at, inventory) "
           "VALUES (?, ?, ?)"},
          {&w.change_insert,
           "INSERT INTO inventory_changes(agent, at, category, action, subject, old_value, "
           "new_value) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.os_insert,
           "INSERT INTO host_os(agent, os_id, id_like, family, name, version, version_id, "
           "pretty_name, kernel, architecture, hostname, fqdn, timezone, boot_time, "
           "reboot_required, pending_updates, pending_security_updates, machine_id, "
           "uptime_seconds, clock_synchronized, clock_max_error_us, security_pending_since, role) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.hardware_insert,
           "INSERT INTO host_hardware(agent, cpu_model, cpu_sockets, cpu_cores, cpu_threads, "
           "memory_total_bytes, system_vendor, system_model, system_serial, bios_vendor, "
           "bios_version, bios_date, virtual_machine, hypervisor, chassis_type, "
           "smartctl_available) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.disk_insert,
           "INSERT INTO host_disks(agent, name, model, serial, size_bytes, rotational, transport, "
           "smart_status, power_on_hours, temperature_c, removable, smart_message, "
           "reallocated_sectors, pending_sectors, offline_uncorrectable) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
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
           "install_time) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.application_insert,
           "INSERT INTO host_applications(agent, name, version, architecture, path, kind) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.service_insert,
           "INSERT INTO host_services(agent, name, description, load_state, active_state, "
           "sub_state, enabled) VALUES (?, ?, ?, ?, ?, ?, ?)"},
          {&w.user_insert,
           "INSERT INTO host_users(agent, name, uid, shell, home, administrator) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
          {&w.api_insert,
           "INSERT INTO api_tokens(token_hash, name, role, hint, created_at, expires_at) "
           "VALUES (?, ?, ?, ?, ?, ?)"},
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
           "SELECT min(collected_at) FROM health_samples WHERE agent = ? AND collected_at < ?"},
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
    std::string sql = std::string("DELETE FROM ") + kHostTables[i] + " WHERE agent = ?";
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

// ------------------------------------------------------------------ inventory rows

Result<std::vector<InventoryChange>> DiffWithStoredInventory(WriterStatements& w, int64_t pk,
                                                             const std::string& agent_id,
                                                             const dozor::v1::Inventory& inv,
                                                             int64_t at) {
  DOZOR_ASSIGN_OR_RETURN(auto stored, ReadOptional(BindAll(w.blob_select, pk),
                                                   [](const auto& s) { return s.Blob(0); }));
  dozor::v1::Inventory previous;
  if (stored && DecodeCompressed(*stored, &previous).ok()) {
    return DiffInventories(previous, inv, at, agent_id);
  }
  if (stored) {
    spdlog::warn("store: previous inventory of {} does not decode; starting a new baseline",
                 agent_id);
  }
  return std::vector<InventoryChange>{FirstInventoryChange(at, agent_id)};
}

Status InsertOs(WriterStatements& w, int64_t pk, const dozor::v1::OperatingSystem& os,
                int64_t security_pending_since, const std::string& role) {
  return RunWith(w.os_insert, pk, os.id(), os.id_like(), os.family(), os.name(), os.version(),
                 os.version_id(), os.pretty_name(), os.kernel(), os.architecture(), os.hostname(),
                 os.fqdn(), os.timezone(), os.boot_time(), os.reboot_required(),
                 os.pending_updates(), os.pending_security_updates(), os.machine_id(),
                 os.uptime_seconds(), os.clock_synchronized(), os.clock_max_error_us(),
                 security_pending_since, role);
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

Status InsertHardware(WriterStatements& w, int64_t pk, const dozor::v1::Hardware& hw) {
  const auto& cpu = hw.cpu();
  const auto& dmi = hw.dmi();
  DOZOR_RETURN_IF_ERROR(RunWith(w.hardware_insert, pk, cpu.model(), cpu.sockets(), cpu.cores(),
                                cpu.threads(), hw.memory_total_bytes(), dmi.system_vendor(),
                                dmi.system_model(), dmi.system_serial(), dmi.bios_vendor(),
                                dmi.bios_version(), dmi.bios_date(), hw.virtual_machine(),
                                hw.hypervisor(), dmi.chassis_type(), hw.smartctl_available()));
  return InsertEach(hw.disks(), [&](const auto& d) {
    return RunWith(w.disk_insert, pk, d.name(), d.model(), d.serial(), d.size_bytes(),
                   d.rotational(), d.transport(), d.smart_status(), d.power_on_hours(),
                   d.temperature_c(), d.removable(), d.smart_message(), SmartRaw(d, 5),
                   SmartRaw(d, 197), SmartRaw(d, 198));
  });
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
  return InsertEach(net.listening(), [&](const auto& l) {
    return RunWith(w.listener_insert, pk, l.protocol(), l.family(), l.address(), l.port(), l.pid(),
                   l.process(), l.uid());
  });
}

Status InsertSoftware(WriterStatements& w, int64_t pk, const dozor::v1::Software& sw) {
  DOZOR_RETURN_IF_ERROR(InsertEach(sw.packages(), [&](const auto& p) {
    return RunWith(w.package_insert, pk, p.name(), p.version(), p.architecture(), p.source(),
                   p.vendor(), p.install_time());
  }));
  DOZOR_RETURN_IF_ERROR(InsertEach(sw.applications(), [&](const auto& a) {
    return RunWith(w.application_insert, pk, a.name(), a.version(), a.architecture(), a.path(),
                   a.kind());
  }));
  return InsertEach(sw.services(), [&](const auto& s) {
    return RunWith(w.service_insert, pk, s.name(), s.description(), s.load_state(),
                   s.active_state(), s.sub_state(), s.enabled());
  });
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

// Clears the host's normalised inventory rows and writes them again from `inv`.
Status ReplaceHostRows(WriterStatements& w, int64_t pk, const dozor::v1::Inventory& inv,
                       int64_t at) {
  DOZOR_ASSIGN_OR_RETURN(int64_t security_since, SecurityPendingSince(w, pk, inv, at));
  for (auto& statement : w.host_delete) {
    DOZOR_RETURN_IF_ERROR(RunWith(statement, pk));
  }
  DOZOR_RETURN_IF_ERROR(InsertOs(w, pk, inv.os(), security_since, ClassifyHostRole(inv)));
  DOZOR_RETURN_IF_ERROR(InsertHardware(w, pk, inv.hardware()));
  DOZOR_RETURN_IF_ERROR(InsertNetwork(w, pk, inv.network()));
  DOZOR_RETURN_IF_ERROR(InsertSoftware(w, pk, inv.software()));
  return InsertEach(inv.os().users(), [&](const auto& u) {
    return RunWith(w.user_insert, pk, u.name(), u.uid(), u.shell(), u.home(), u.administrator());
  });
}

// ------------------------------------------------------------------ health rows and blocks

Status InsertBlock(WriterStatements& w, int64_t pk, const EncodedHealthBlock& block) {
  return RunWith(w.block_insert, pk, block.start_at, block.end_at, block.count, block.first_seq,
                 block.last_seq, BlobArg{block.data});
}

// The `wanted` newest raw samples of an agent since `since_ms` (undecodable ones skipped).
Result<std::vector<BlockSample>> ReadRecentRawSamples(ReaderStatements& r, int64_t pk,
                                                      std::string_view agent_id, int64_t since_ms,
                                                      size_t wanted) {
  std::vector<BlockSample> samples;
  auto& s = BindAll(r.health, pk, since_ms, static_cast<int64_t>(wanted));
  DOZOR_RETURN_IF_ERROR(ForEachRow(s, [&](const sqlite::Statement& row) {
    BlockSample item;
    item.seq = static_cast<uint64_t>(row.Int(0));
    item.collected_at_ms = row.Int(1);
    auto decoded = DecodeRawSample(row.Blob(2), row.Int(3), &item.sample);
    if (!decoded.ok()) {
      // One damaged sample should not hide the rest of the history.
      spdlog::warn("store: health sample {} of {}: {}", item.seq, agent_id,
                   decoded.error().ToString());
      return;
    }
    samples.push_back(std::move(item));
  }));
  return samples;
}

// Adds compacted samples since `since_ms` to `candidates`, reading blocks newest first until
// every further block is older than the oldest of the `wanted` newest candidates found so far.
// Raw rows and blocks may overlap in time (samples that arrived late for an already compacted
// hour), hence the merge rather than a concat.
Status MergeBlockSamples(ReaderStatements& r, int64_t pk, std::string_view agent_id,
                         int64_t since_ms, size_t wanted, std::vector<BlockSample>& candidates) {
  auto& b = BindAll(r.health_blocks, pk, since_ms);
  return ForEachRow(b, [&](const sqlite::Statement& row) {
    if (candidates.size() >= wanted) {
      std::nth_element(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(wanted - 1),
                       candidates.end(), NewerFirst);
      candidates.resize(wanted);
      if (row.Int(0) < candidates.back().collected_at_ms) {
        return false;
      }
    }
    std::vector<BlockSample> block;
    auto decoded = DecodeHealthBlock(row.Blob(1), &block);
    if (!decoded.ok()) {
      spdlog::warn("store: health block ending at {} of {}: {}", row.Int(0), agent_id,
                   decoded.error().ToString());
      return true;
    }
    for (auto& item : block) {
      if (item.collected_at_ms >= since_ms) {
        candidates.push_back(std::move(item));
      }
    }
    return true;
  });
}

// Rewrites a block that straddles the prune cutoff without its samples older than the cutoff.
// Returns how many samples it dropped.
Result<int64_t> PruneStraddlingBlock(WriterStatements& w, int64_t pk, int64_t start_at,
                                     const std::string& data, int64_t cutoff_ms) {
  DOZOR_RETURN_IF_ERROR(RunWith(w.block_delete, pk, start_at));
  std::vector<BlockSample> samples;
  auto decoded = DecodeHealthBlock(data, &samples);
  if (!decoded.ok()) {
    spdlog::warn("store: pruning undecodable health block of agent {}: {}", pk,
                 decoded.error().ToString());
    return 0;
  }
  auto kept_begin = std::partition(samples.begin(), samples.end(), [&](const auto& item) {
    return item.collected_at_ms < cutoff_ms;
  });
  const int64_t dropped = kept_begin - samples.begin();
  std::vector<BlockSample> kept(std::make_move_iterator(kept_begin),
                                std::make_move_iterator(samples.end()));
  if (kept.empty()) {
    return dropped;
  }
  std::sort(kept.begin(), kept.end(), OlderFirst);
  DOZOR_ASSIGN_OR_RETURN(EncodedHealthBlock block, EncodeHealthBlockRow(kept));
  DOZOR_RETURN_IF_ERROR(InsertBlock(w, pk, block));
  return dropped;
}

// Decodes raw rows (dropping undecodable ones) and existing blocks, then sorts and dedups.
Result<std::vector<BlockSample>> MergeBucketSamples(
    int64_t pk, const std::vector<std::pair<int64_t, uint64_t>>& raw_keys,
    const std::vector<std::pair<std::string, int64_t>>& raw,
    const std::vector<std::string>& blocks) {
  std::vector<BlockSample> samples;
  samples.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    BlockSample item;
    item.collected_at_ms = raw_keys[i].first;
    item.seq = raw_keys[i].second;
    auto decoded = DecodeRawSample(raw[i].first, raw[i].second, &item.sample);
    if (!decoded.ok()) {
      // It could not be read before compaction either; dropping it keeps the bucket moving.
      spdlog::warn("store: dropping undecodable health sample {} of agent {}: {}", item.seq, pk,
                   decoded.error().ToString());
      continue;
    }
    samples.push_back(std::move(item));
  }
  // Samples that arrived late for an hour compacted earlier: merge with its block(s).
  for (const auto& block : blocks) {
    DOZOR_RETURN_IF_ERROR(DecodeHealthBlock(block, &samples));
  }
  std::sort(samples.begin(), samples.end(), OlderFirst);
  samples.erase(std::unique(samples.begin(), samples.end(),
                            [](const BlockSample& a, const BlockSample& b) {
                              return a.collected_at_ms == b.collected_at_ms && a.seq == b.seq;
                            }),
                samples.end());
  return samples;
}

// Splits samples (sorted oldest first) into blocks of about kMaxBlockSamples.
Result<std::vector<EncodedHealthBlock>> EncodeBlocks(std::vector<BlockSample>& samples) {
  std::vector<EncodedHealthBlock> out;
  size_t begin = 0;
  while (begin < samples.size()) {
    size_t end = std::min(samples.size(), begin + kMaxBlockSamples);
    // Never split samples with the same timestamp: block start times must stay distinct.
    while (end < samples.size() &&
           samples[end].collected_at_ms == samples[end - 1].collected_at_ms) {
      ++end;
    }
    std::vector<BlockSample> chunk(std::make_move_iterator(samples.begin() + begin),
                                   std::make_move_iterator(samples.begin() + end));
    DOZOR_ASSIGN_OR_RETURN(EncodedHealthBlock block, EncodeHealthBlockRow(chunk));
    out.push_back(std::move(block));
    begin = end;
  }
  return out;
}

}  // namespace

// ------------------------------------------------------------------ open and close

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteStoreOptions& options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  store->path_ = options.path;
  store->background_checkpoint_ = options.background_checkpoint;
  store->compact_after_ms_ = std::max<int64_t>(0, options.health_compact_after_s) * 1000;
  store->compact_interval_ms_ = std::max<int64_t>(0, options.health_compact_interval_s) * 1000;
  store->rule_window_ms_ = std::max<int64_t>(60, options.rule_window_s) * 1000;
  store->rule_trend_ms_ = std::max<int64_t>(3600, options.rule_trend_s) * 1000;
  DOZOR_RETURN_IF_ERROR(store->OpenConnections());
  if (options.background_checkpoint) {
    DOZOR_RETURN_IF_ERROR(store->StartCheckpointer());
  }
  return store;
}

Status SqliteStore::OpenConnections() {
  sqlite::OpenOptions writer_options;
  writer_options.synchronous = "FULL";
  auto writer = sqlite::Database::Open(path_, writer_options);
  if (!writer.ok()) {
    return NameFile(writer.error(), path_);
  }
  writer_ = std::move(writer).value();
  if (background_checkpoint_) {
    DOZOR_RETURN_IF_ERROR(writer_.Exec("PRAGMA wal_autocheckpoint=0"));
  }
  // Ingest inserts at the right edge of every agent's range of health_samples: one hot leaf page
  // per agent. The 2 MB default cache re-read those pages from the file on every batch (~20 % of
  // the ingest CPU with 100 agents); 64 MB keeps about 16,000 agents' pages resident.
  DOZOR_RETURN_IF_ERROR(writer_.Exec("PRAGMA cache_size=-65536"));
  DOZOR_RETURN_IF_ERROR(ApplyMigrations(writer_, path_));

  sqlite::OpenOptions reader_options;
  reader_options.create = false;
  reader_options.synchronous = "NORMAL";  // this connection never writes
  auto reader = sqlite::Database::Open(path_, reader_options);
  if (!reader.ok()) {
    return NameFile(reader.error(), path_);
  }
  reader_ = std::move(reader).value();

  ws_ = std::make_unique<WriterStatements>();
  rs_ = std::make_unique<ReaderStatements>();
  auto prepared = PrepareWriterStatements(writer_, *ws_);
  if (prepared.ok()) {
    prepared = PrepareReaderStatements(reader_, *rs_);
  }
  if (prepared.ok()) {
    prepared = PrepareFindingStatements();
  }
  if (!prepared.ok()) {
    return NameFile(prepared.error(), path_);
  }
  return OkStatus();
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
  auto pruned = PruneRuleWindows(NowMs());
  if (!pruned.ok()) {
    spdlog::warn("store: rule window pruning: {}", pruned.error().ToString());
  }
  auto compacted = CompactHealth(NowMs() - compact_after_ms_);
  if (!compacted.ok()) {
    spdlog::warn("store: health compaction: {}", compacted.error().ToString());
  } else if (compacted->samples > 0) {
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

// ------------------------------------------------------------------ organisations

Result<Organization> SqliteStore::CreateOrganization(const Organization& org) {
  if (org.name.empty() || org.name.size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "organization name must be 1-200 characters");
  }
  DOZOR_RETURN_IF_ERROR(CheckContractStatus(org.contract_status));
  DOZOR_RETURN_IF_ERROR(CheckContractType(org.contract_type));
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    DOZOR_RETURN_IF_ERROR(
        NameConflict(RunWith(ws_->org_insert, org.name, org.contract_status, org.contract_type,
                             org.engineer, org.created_at_ms != 0 ? org.created_at_ms : NowMs()),
                     "organization '" + org.name + "'"));
    id = writer_.LastInsertRowId();
  }
  return FindOrganization(std::to_string(id));
}

Result<std::vector<Organization>> SqliteStore::ListOrganizations() {
  std::lock_guard lock(read_mu_);
  return ReadAll(rs_->org_list, ReadOrganization);
}

Result<Organization> SqliteStore::FindOrganization(std::string_view key) {
  std::lock_guard lock(read_mu_);
  if (IsAllDigits(key)) {
    auto id = static_cast<int64_t>(std::stoll(std::string(key)));
    DOZOR_ASSIGN_OR_RETURN(auto by_id, ReadOptional(BindAll(rs_->org_by_id, id), ReadOrganization));
    if (by_id) {
      return std::move(*by_id);
    }
  }
  return ReadOne(BindAll(rs_->org_by_name, key), ReadOrganization, [&] {
    return MakeError(ErrorCode::kNotFound, "no organization '" + std::string(key) + "'");
  });
}

Result<Organization> SqliteStore::UpdateOrganization(int64_t id, const OrganizationPatch& patch) {
  if (patch.contract_status) {
    DOZOR_RETURN_IF_ERROR(CheckContractStatus(*patch.contract_status));
  }
  if (patch.contract_type) {
    DOZOR_RETURN_IF_ERROR(CheckContractType(*patch.contract_type));
  }
  if (patch.engineer && patch.engineer->size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "engineer must be at most 200 characters");
  }
  {
    std::lock_guard lock(write_mu_);
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    // Checks the contract move and records its event and snapshots (sqlite_store_findings.cpp).
    DOZOR_RETURN_IF_ERROR(ContractMoveLocked(id, patch, NowMs()));
    DOZOR_RETURN_IF_ERROR(
        RunWith(ws_->org_update, id, patch.contract_status, patch.contract_type, patch.engineer));
    if (writer_.Changes() == 0) {
      return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(id));
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
  }
  return FindOrganization(std::to_string(id));
}

// ------------------------------------------------------------------ enrollment tokens

Result<EnrollmentToken> SqliteStore::CreateEnrollmentToken(const NewEnrollmentToken& token) {
  if (token.token_hash.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment token hash is empty");
  }
  if (token.label.size() > kMaxNameLength || token.hint.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "enrollment token label or hint too long");
  }
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    DOZOR_ASSIGN_OR_RETURN(bool org_exists, HasRow(BindAll(ws_->org_exists, token.org_id)));
    if (!org_exists) {
      return MakeError(ErrorCode::kNotFound,
                       "no organization with id " + std::to_string(token.org_id));
    }
    DOZOR_RETURN_IF_ERROR(
        NameConflict(RunWith(ws_->token_insert, token.token_hash, token.org_id, token.hint,
                             token.label, NowMs(), token.expires_at_ms),
                     "enrollment token"));
    id = writer_.LastInsertRowId();
  }
  std::lock_guard lock(read_mu_);
  return ReadOne(BindAll(rs_->token_by_id, id), ReadEnrollmentToken, [] {
    return MakeError(ErrorCode::kInternal, "enrollment token vanished after insert");
  });
}

Result<std::vector<EnrollmentToken>> SqliteStore::ListEnrollmentTokens(
    std::optional<int64_t> org_id) {
  std::lock_guard lock(read_mu_);
  return ReadAll(BindAll(rs_->token_list, org_id), ReadEnrollmentToken);
}

Status SqliteStore::RevokeEnrollmentToken(int64_t token_id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  return RevokeIfExists(writer_, ws_->token_revoke, ws_->token_exists, token_id, now_ms, [&] {
    return MakeError(ErrorCode::kNotFound,
                     "no enrollment token with id " + std::to_string(token_id));
  });
}

// ------------------------------------------------------------------ agents

Result<EnrolledAgent> SqliteStore::EnrollAgent(std::string_view token_hash, const NewAgent& agent,
                                               int64_t now_ms) {
  if (agent.agent_id.empty() || agent.secret_hash.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "agent id and secret hash are required");
  }
  struct TokenRow {
    int64_t id = 0;
    int64_t org_id = 0;
    std::string org_name;
    std::optional<int64_t> expires_at;
    bool revoked = false;
  };
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(
      auto token, ReadOptional(BindAll(ws_->token_by_hash, token_hash), [](const auto& s) {
        return TokenRow{s.Int(0), s.Int(1), s.Text(2), OptionalInt(s, 3), !s.IsNull(4)};
      }));
  if (!token) {
    return MakeError(ErrorCode::kPermissionDenied, "unknown enrollment token");
  }
  if (token->revoked) {
    return MakeError(ErrorCode::kPermissionDenied, "enrollment token is revoked");
  }
  if (token->expires_at && *token->expires_at <= now_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "enrollment token is expired");
  }
  DOZOR_RETURN_IF_ERROR(RunWith(ws_->token_use, token->id));
  DOZOR_RETURN_IF_ERROR(
      NameConflict(RunWith(ws_->agent_insert, agent.agent_id, token->org_id, agent.secret_hash,
                           agent.hostname, agent.machine_id, agent.agent_version, agent.os, now_ms),
                   "agent '" + agent.agent_id + "'"));
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  EnrolledAgent enrolled;
  enrolled.agent_id = agent.agent_id;
  enrolled.org_id = token->org_id;
  enrolled.org_name = std::move(token->org_name);
  return enrolled;
}

Result<AgentCredential> SqliteStore::GetAgentCredential(std::string_view agent_id) {
  std::lock_guard lock(read_mu_);
  return ReadOne(BindAll(rs_->credential, agent_id), ReadAgentCredential,
                 [&] { return UnknownAgent(agent_id); });
}

Status SqliteStore::RevokeAgent(std::string_view agent_id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  agent_cache_.erase(std::string(agent_id));
  return RevokeIfExists(writer_, ws_->agent_revoke, ws_->agent_exists, agent_id, now_ms,
                        [&] { return UnknownAgent(agent_id); });
}

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

Result<std::vector<CommitResult>> SqliteStore::CommitReports(std::vector<IncomingReport>& batch) {
  // Serialize outside the writer lock. Recent samples are stored uncompressed: zlib per row was
  // the largest CPU cost per report, and compaction later compresses whole hours far better.
  std::vector<std::string> encoded(batch.size());
  std::vector<bool> unencodable(batch.size(), false);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].report.has_health()) {
      unencodable[i] = !batch[i].report.health().SerializeToString(&encoded[i]);
    }
  }
  std::vector<CommitResult> results;
  results.reserve(batch.size());
  std::vector<CommittedHost> committed;
  {
    std::lock_guard lock(write_mu_);
    std::unordered_map<std::string, CachedAgent> saved;
    auto status = CommitLocked(batch, encoded, unencodable, results, saved, committed);
    if (!status.ok()) {
      // The transaction rolled back; so must the sequence numbers it advanced in memory.
      for (auto& [agent_id, agent] : saved) {
        agent_cache_[agent_id] = agent;
      }
      return status.error();
    }
  }
  // After COMMIT and outside write_mu_, so an observer may call back into the store.
  if (!committed.empty()) {
    NotifyCommitted(committed);
  }
  return results;
}

namespace {

// Why a report is not stored (outcome and reason filled in), or nullopt when it should be.
std::optional<CommitResult> ScreenReport(const dozor::v1::Report& report, bool known, bool revoked,
                                         uint64_t last_seq, bool unencodable) {
  CommitResult result;
  result.seq = report.seq();
  result.outcome = CommitOutcome::kRejected;
  if (!known) {
    result.reason = "unknown agent";
  } else if (revoked) {
    result.reason = "agent is revoked";
  } else if (report.seq() <= last_seq) {
    result.outcome = CommitOutcome::kDuplicate;
  } else if (report.has_health() && unencodable) {
    result.reason = "health sample could not be encoded";
  } else if (!report.has_health() && !report.has_inventory()) {
    result.reason = "report has no payload";
  } else {
    return std::nullopt;
  }
  return result;
}

}  // namespace

Status SqliteStore::CommitLocked(std::vector<IncomingReport>& batch,
                                 const std::vector<std::string>& encoded,
                                 const std::vector<bool>& unencodable,
                                 std::vector<CommitResult>& results,
                                 std::unordered_map<std::string, CachedAgent>& saved,
                                 std::vector<CommittedHost>& committed) {
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_RETURN_IF_ERROR(WriteBatchLocked(batch, encoded, unencodable, results, saved, committed));
  return txn.Commit();
}

Status SqliteStore::WriteBatchLocked(std::vector<IncomingReport>& batch,
                                     const std::vector<std::string>& encoded,
                                     const std::vector<bool>& unencodable,
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
                                 agent != nullptr ? agent->last_seq : 0, unencodable[i]);
    if (screened) {
      results.push_back(std::move(*screened));
      continue;
    }
    const int64_t clock_offset_ms = item.received_at_ms - report.collected_at_ms();
    if (report.has_health()) {
      DOZOR_RETURN_IF_ERROR(RunWith(w.health_insert, agent->pk, report.collected_at_ms(),
                                    report.seq(), BlobArg{encoded[i]}));
      w.window_batch.Add(agent->pk, report.collected_at_ms(), clock_offset_ms, report.health());
    } else {
      DOZOR_RETURN_IF_ERROR(ApplyInventoryLocked(agent->pk, item.agent_id, report));
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
    return RunWith(w.collector_upsert, c.agent, c.status->name(), c.status->ok(),
                   c.status->error(), c.status->duration_ms(), c.at);
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
                                         const dozor::v1::Report& report) {
  WriterStatements& w = *ws_;
  const dozor::v1::Inventory& inv = report.inventory();
  const int64_t at = report.collected_at_ms();
  DOZOR_ASSIGN_OR_RETURN(std::vector<InventoryChange> changes,
                         DiffWithStoredInventory(w, pk, agent_id, inv, at));
  DOZOR_RETURN_IF_ERROR(InsertEach(changes, [&](const InventoryChange& c) {
    return RunWith(w.change_insert, pk, c.at_ms, c.category, c.action, c.subject, c.old_value,
                   c.new_value);
  }));
  DOZOR_RETURN_IF_ERROR(ReplaceHostRows(w, pk, inv, at));
  std::string blob = EncodeCompressed(inv);
  if (blob.empty()) {
    return MakeError(ErrorCode::kInternal, "could not encode the inventory of " + agent_id);
  }
  return RunWith(w.blob_upsert, pk, at, BlobArg{blob});
}

// ------------------------------------------------------------------ queries

Result<std::vector<HostSummary>> SqliteStore::ListHosts(std::optional<int64_t> org_id) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  std::vector<HostSummary> hosts;
  std::unordered_map<int64_t, size_t> index_by_pk;
  DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(rs_->host_list, org_id), [&](const auto& s) {
    index_by_pk[s.Int(0)] = hosts.size();
    hosts.push_back(ReadHost(s));
  }));
  DOZOR_RETURN_IF_ERROR(ForEachRow(BindAll(rs_->addresses_all, org_id), [&](const auto& s) {
    auto it = index_by_pk.find(s.Int(0));
    if (it != index_by_pk.end()) {
      hosts[it->second].addresses.push_back(s.Text(1));
    }
  }));
  return hosts;
}

Result<HostSummary> SqliteStore::ReadHostLocked(std::string_view agent_id, int64_t* pk) {
  auto read_host = [&](const sqlite::Statement& s) {
    *pk = s.Int(0);
    return ReadHost(s);
  };
  DOZOR_ASSIGN_OR_RETURN(HostSummary host, ReadOne(BindAll(rs_->host_one, agent_id), read_host,
                                                   [&] { return UnknownAgent(agent_id); }));
  DOZOR_ASSIGN_OR_RETURN(host.addresses, ReadAll(BindAll(rs_->addresses_one, *pk),
                                                 [](const auto& s) { return s.Text(0); }));
  return host;
}

Result<HostSummary> SqliteStore::GetHost(std::string_view agent_id) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  int64_t pk = 0;
  return ReadHostLocked(agent_id, &pk);
}

Result<HostInventory> SqliteStore::GetInventory(std::string_view agent_id) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  HostInventory result;
  int64_t pk = 0;
  DOZOR_ASSIGN_OR_RETURN(result.host, ReadHostLocked(agent_id, &pk));
  DOZOR_ASSIGN_OR_RETURN(
      auto blob, ReadOptional(BindAll(rs_->blob_get, pk), [](const auto& s) { return s.Blob(0); }));
  if (blob) {
    auto decoded = DecodeCompressed(*blob, &result.inventory);
    if (!decoded.ok()) {
      return decoded.error().Wrap("inventory of " + std::string(agent_id));
    }
  }
  DOZOR_ASSIGN_OR_RETURN(result.collectors,
                         ReadAll(BindAll(rs_->collectors, pk), ReadCollectorStatus));
  return result;
}

Result<int64_t> SqliteStore::ReaderAgentPkLocked(std::string_view agent_id) {
  return ReadOne(
      BindAll(rs_->agent_pk, agent_id), [](const auto& s) { return s.Int(0); },
      [&] { return UnknownAgent(agent_id); });
}

Result<std::vector<InventoryChange>> SqliteStore::ListChanges(std::string_view agent_id,
                                                              int64_t since_ms, int limit) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t pk, ReaderAgentPkLocked(agent_id));
  return ReadAll(BindAll(rs_->changes, pk, since_ms, ClampLimit(limit)),
                 [&](const sqlite::Statement& s) { return ReadInventoryChange(s, agent_id); });
}

Result<std::vector<HealthRecord>> SqliteStore::ListHealth(std::string_view agent_id,
                                                          int64_t since_ms, int limit) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t pk, ReaderAgentPkLocked(agent_id));
  const size_t wanted = static_cast<size_t>(ClampLimit(limit));
  DOZOR_ASSIGN_OR_RETURN(std::vector<BlockSample> candidates,
                         ReadRecentRawSamples(*rs_, pk, agent_id, since_ms, wanted));
  DOZOR_RETURN_IF_ERROR(MergeBlockSamples(*rs_, pk, agent_id, since_ms, wanted, candidates));
  std::sort(candidates.begin(), candidates.end(), NewerFirst);
  if (candidates.size() > wanted) {
    candidates.resize(wanted);
  }
  std::vector<HealthRecord> out;
  out.reserve(candidates.size());
  for (auto& item : candidates) {
    out.push_back(HealthRecord{item.seq, item.collected_at_ms, std::move(item.sample)});
  }
  return out;
}

// ------------------------------------------------------------------ API tokens

Result<ApiToken> SqliteStore::CreateApiToken(std::string_view name, std::string_view role,
                                             std::string_view token_hash, std::string_view hint,
                                             std::optional<int64_t> expires_at_ms) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "API token name must be 1-200 characters");
  }
  DOZOR_RETURN_IF_ERROR(CheckRole(role));
  if (token_hash.empty() || hint.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "API token hash is empty or hint too long");
  }
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    DOZOR_RETURN_IF_ERROR(
        NameConflict(RunWith(ws_->api_insert, token_hash, name, role, hint, NowMs(), expires_at_ms),
                     "API token"));
    id = writer_.LastInsertRowId();
  }
  std::lock_guard lock(read_mu_);
  return ReadOne(BindAll(rs_->api_by_id, id), ReadApiToken,
                 [] { return MakeError(ErrorCode::kInternal, "API token vanished after insert"); });
}

Result<ApiToken> SqliteStore::AuthenticateApiToken(std::string_view token_hash, int64_t now_ms) {
  std::lock_guard lock(read_mu_);
  DOZOR_ASSIGN_OR_RETURN(ApiToken token,
                         ReadOne(BindAll(rs_->api_by_hash, token_hash), ReadApiToken, [] {
                           return MakeError(ErrorCode::kPermissionDenied, "unknown API token");
                         }));
  if (token.revoked_at_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "API token is revoked");
  }
  if (token.expires_at_ms && *token.expires_at_ms <= now_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "API token is expired");
  }
  return token;
}

Result<std::vector<ApiToken>> SqliteStore::ListApiTokens() {
  std::lock_guard lock(read_mu_);
  return ReadAll(rs_->api_list, ReadApiToken);
}

Status SqliteStore::RevokeApiToken(int64_t id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  return RevokeIfExists(writer_, ws_->api_revoke, ws_->api_exists, id, now_ms, [&] {
    return MakeError(ErrorCode::kNotFound, "no API token with id " + std::to_string(id));
  });
}

Result<int64_t> SqliteStore::CountApiTokens() {
  std::lock_guard lock(read_mu_);
  DOZOR_ASSIGN_OR_RETURN(auto count,
                         ReadOptional(rs_->api_count, [](const auto& s) { return s.Int(0); }));
  return count.value_or(0);
}

// ------------------------------------------------------------------ retention

Result<std::vector<int64_t>> SqliteStore::AgentPks() {
  std::lock_guard lock(write_mu_);
  return ReadAll(ws_->agent_pks, [](const auto& s) { return s.Int(0); });
}

Result<int64_t> SqliteStore::PruneHealth(int64_t cutoff_ms) {
  DOZOR_ASSIGN_OR_RETURN(std::vector<int64_t> agents, AgentPks());
  int64_t total = 0;
  size_t next = 0;
  // Each transaction deletes about kPruneChunkRows rows, then releases the writer so ingest
  // batches interleave with a large prune.
  while (next < agents.size()) {
    std::lock_guard lock(write_mu_);
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    int64_t in_txn = 0;
    while (next < agents.size() && in_txn < kPruneChunkRows) {
      DOZOR_RETURN_IF_ERROR(
          RunWith(ws_->prune_chunk, agents[next], cutoff_ms, kPruneChunkRows - in_txn));
      int deleted = writer_.Changes();
      in_txn += deleted;
      if (deleted == 0 || in_txn < kPruneChunkRows) {
        ++next;  // this agent has nothing older left
      }
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
    total += in_txn;
  }
  DOZOR_ASSIGN_OR_RETURN(int64_t from_blocks, PruneBlocks(agents, cutoff_ms));
  return total + from_blocks;
}

// Blocks wholly before the cutoff are deleted; a block straddling it is rewritten without its
// older samples, so the cutoff is exact for compacted samples too. One transaction per agent.
Result<int64_t> SqliteStore::PruneBlocks(const std::vector<int64_t>& agents, int64_t cutoff_ms) {
  int64_t total = 0;
  for (int64_t pk : agents) {
    std::lock_guard lock(write_mu_);
    WriterStatements& w = *ws_;
    sqlite::Transaction txn(writer_);
    DOZOR_RETURN_IF_ERROR(txn.Begin());
    DOZOR_ASSIGN_OR_RETURN(auto whole, ReadOptional(BindAll(w.prune_blocks_count, pk, cutoff_ms),
                                                    [](const auto& s) { return s.Int(0); }));
    total += whole.value_or(0);
    DOZOR_RETURN_IF_ERROR(RunWith(w.prune_blocks_delete, pk, cutoff_ms));
    DOZOR_ASSIGN_OR_RETURN(
        auto straddling,
        ReadAll(BindAll(w.prune_blocks_straddling, pk, cutoff_ms),
                [](const auto& s) { return std::make_pair(s.Int(0), s.Blob(1)); }));
    for (const auto& [start_at, data] : straddling) {
      DOZOR_ASSIGN_OR_RETURN(int64_t dropped,
                             PruneStraddlingBlock(w, pk, start_at, data, cutoff_ms));
      total += dropped;
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
  }
  return total;
}

// ------------------------------------------------------------------ health compaction

Result<CompactionStats> SqliteStore::CompactHealth(int64_t older_than_ms) {
  // Only whole hour buckets that ended by older_than_ms, so a bucket is normally written once.
  int64_t limit_ms = BucketStart(older_than_ms);
  CompactionStats stats;
  DOZOR_ASSIGN_OR_RETURN(std::vector<int64_t> agents, AgentPks());
  for (int64_t pk : agents) {
    while (!closing_.load()) {
      DOZOR_ASSIGN_OR_RETURN(bool more, CompactNextBucket(pk, limit_ms, &stats));
      if (!more) {
        break;
      }
    }
    if (closing_.load()) {
      break;
    }
  }
  return stats;
}

struct SqliteStore::BucketSnapshot {
  int64_t bucket = 0;
  std::vector<std::pair<int64_t, uint64_t>> raw_keys;  // (collected_at, seq), in key order
  std::vector<std::pair<std::string, int64_t>> raw;    // (sample bytes, encoding), same order
  std::vector<std::string> blocks;                     // existing blocks of the bucket
};

Result<bool> SqliteStore::ReadBucketLocked(int64_t pk, int64_t limit_ms, BucketSnapshot* snap) {
  WriterStatements& w = *ws_;
  DOZOR_ASSIGN_OR_RETURN(auto first, ReadOptional(BindAll(w.compact_first, pk, limit_ms),
                                                  [](const auto& s) { return OptionalInt(s, 0); }));
  if (!first || !*first) {
    return false;
  }
  snap->bucket = BucketStart(**first);
  const int64_t bucket_end = snap->bucket + kBucketMs;
  DOZOR_RETURN_IF_ERROR(
      ForEachRow(BindAll(w.compact_rows, pk, snap->bucket, bucket_end), [&](const auto& s) {
        snap->raw_keys.emplace_back(s.Int(0), static_cast<uint64_t>(s.Int(1)));
        snap->raw.emplace_back(s.Blob(2), s.Int(3));
      }));
  DOZOR_ASSIGN_OR_RETURN(snap->blocks,
                         ReadAll(BindAll(w.compact_blocks, pk, snap->bucket, bucket_end),
                                 [](const auto& s) { return s.Blob(0); }));
  return true;
}

// CPU-heavy part of compaction (decode, merge, encode); needs no lock.
Result<std::vector<SqliteStore::EncodedBlock>> SqliteStore::BuildBlocks(
    int64_t pk, const BucketSnapshot& snap) {
  DOZOR_ASSIGN_OR_RETURN(std::vector<BlockSample> samples,
                         MergeBucketSamples(pk, snap.raw_keys, snap.raw, snap.blocks));
  return EncodeBlocks(samples);
}

// Inside the caller's transaction: replaces the bucket's raw rows and old blocks with `blocks`,
// unless the bucket changed since `snap` was read (then false, nothing written).
Result<bool> SqliteStore::ReplaceBucketLocked(int64_t pk, const BucketSnapshot& snap,
                                              const std::vector<EncodedBlock>& blocks) {
  WriterStatements& w = *ws_;
  const int64_t bucket_end = snap.bucket + kBucketMs;
  // Rows are only ever inserted or deleted, never updated: equal keys mean equal rows.
  DOZOR_ASSIGN_OR_RETURN(
      bool same_rows, RowsEqual(BindAll(w.compact_keys, pk, snap.bucket, bucket_end), snap.raw_keys,
                                [](const auto& s) {
                                  return std::make_pair(s.Int(0), static_cast<uint64_t>(s.Int(1)));
                                }));
  if (!same_rows) {
    return false;
  }
  DOZOR_ASSIGN_OR_RETURN(bool same_blocks,
                         RowsEqual(BindAll(w.compact_blocks, pk, snap.bucket, bucket_end),
                                   snap.blocks, [](const auto& s) { return s.Blob(0); }));
  if (!same_blocks) {
    return false;
  }
  // Delete first, then insert, in one transaction: a failure anywhere rolls both back.
  DOZOR_RETURN_IF_ERROR(RunWith(w.compact_delete_rows, pk, snap.bucket, bucket_end));
  DOZOR_RETURN_IF_ERROR(RunWith(w.compact_delete_blocks, pk, snap.bucket, bucket_end));
  DOZOR_RETURN_IF_ERROR(
      InsertEach(blocks, [&](const EncodedBlock& block) { return InsertBlock(w, pk, block); }));
  return true;
}

Result<bool> SqliteStore::CompactNextBucket(int64_t pk, int64_t limit_ms, CompactionStats* stats) {
  // Read the bucket under the writer lock, encode without it (the expensive part: several
  // milliseconds per agent-hour), then write under the lock if nothing changed meanwhile. If a
  // commit or prune did touch the bucket, redo it with the lock held throughout.
  BucketSnapshot snap;
  {
    std::lock_guard lock(write_mu_);
    DOZOR_ASSIGN_OR_RETURN(bool found, ReadBucketLocked(pk, limit_ms, &snap));
    if (!found) {
      return false;
    }
  }
  DOZOR_ASSIGN_OR_RETURN(std::vector<EncodedBlock> blocks, BuildBlocks(pk, snap));
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(bool replaced, ReplaceBucketLocked(pk, snap, blocks));
  if (!replaced) {
    snap = BucketSnapshot{};
    DOZOR_ASSIGN_OR_RETURN(bool found, ReadBucketLocked(pk, limit_ms, &snap));
    if (!found) {
      return false;
    }
    DOZOR_ASSIGN_OR_RETURN(blocks, BuildBlocks(pk, snap));
    DOZOR_ASSIGN_OR_RETURN(replaced, ReplaceBucketLocked(pk, snap, blocks));
    if (!replaced) {
      return MakeError(ErrorCode::kInternal, "health compaction: bucket changed under the lock");
    }
  }
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  ++stats->buckets;
  stats->samples += static_cast<int64_t>(snap.raw.size());
  for (const auto& [bytes, encoding] : snap.raw) {
    stats->raw_bytes += static_cast<int64_t>(bytes.size());
  }
  for (const auto& block : blocks) {
    stats->block_bytes += static_cast<int64_t>(block.data.size());
  }
  stats->blocks_written += static_cast<int64_t>(blocks.size());
  return true;
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  DOZOR_ASSIGN_OR_RETURN(auto store, SqliteStore::Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace dozor::server
