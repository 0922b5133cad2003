#include "store/sqlite_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <utility>

#include "dozor/common/codec.hpp"
#include "store/inventory_diff.hpp"
#include "store/migrations.hpp"

namespace dozor::server {
namespace {

constexpr int kMaxListLimit = 10000;
constexpr int64_t kPruneChunkRows = 5000;
constexpr uintmax_t kTruncateWalBytes = 64ull * 1024 * 1024;
constexpr auto kCheckpointPeriod = std::chrono::seconds(1);
constexpr size_t kMaxNameLength = 200;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Resets a statement when a query scope ends, so no reader keeps a snapshot (and with it the WAL)
// pinned after returning.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite::Statement& statement) : statement_(statement) {}
  ~ResetOnExit() { statement_.Reset(); }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite::Statement& statement_;
};

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

std::optional<int64_t> OptionalInt(const sqlite::Statement& s, int column) {
  if (s.IsNull(column)) {
    return std::nullopt;
  }
  return s.Int(column);
}

bool IsAllDigits(std::string_view text) {
  return !text.empty() && text.size() <= 18 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool IsLoopbackAddress(const dozor::v1::NetworkInterface& iface, const dozor::v1::IpAddress& ip) {
  const std::string& a = ip.address();
  return iface.loopback() || a.rfind("127.", 0) == 0 || a == "::1";
}

bool IsValidRole(std::string_view role) {
  return role == "admin" || role == "operator" || role == "viewer";
}

constexpr const char* kOrgColumns =
    "SELECT o.id, o.name, o.contract_status, o.contract_type, o.engineer, o.created_at, "
    "(SELECT count(*) FROM agents a WHERE a.org_id = o.id AND a.revoked_at IS NULL) "
    "FROM organizations o ";

Organization ReadOrganization(const sqlite::Statement& s) {
  Organization org;
  org.id = s.Int(0);
  org.name = s.Text(1);
  org.contract_status = s.Text(2);
  org.contract_type = s.Text(3);
  org.engineer = s.Text(4);
  org.created_at_ms = s.Int(5);
  org.host_count = s.Int(6);
  return org;
}

constexpr const char* kTokenColumns =
    "SELECT t.id, t.org_id, o.name, t.label, t.hint, t.created_at, t.expires_at, t.revoked_at, "
    "t.uses FROM enrollment_tokens t JOIN organizations o ON o.id = t.org_id ";

EnrollmentToken ReadEnrollmentToken(const sqlite::Statement& s) {
  EnrollmentToken token;
  token.id = s.Int(0);
  token.org_id = s.Int(1);
  token.org_name = s.Text(2);
  token.label = s.Text(3);
  token.hint = s.Text(4);
  token.created_at_ms = s.Int(5);
  token.expires_at_ms = OptionalInt(s, 6);
  token.revoked_at_ms = OptionalInt(s, 7);
  token.uses = s.Int(8);
  return token;
}

constexpr const char* kApiTokenColumns =
    "SELECT id, name, role, hint, created_at, revoked_at, expires_at FROM api_tokens ";

ApiToken ReadApiToken(const sqlite::Statement& s) {
  ApiToken token;
  token.id = s.Int(0);
  token.name = s.Text(1);
  token.role = s.Text(2);
  token.hint = s.Text(3);
  token.created_at_ms = s.Int(4);
  token.revoked_at_ms = OptionalInt(s, 5);
  token.expires_at_ms = OptionalInt(s, 6);
  return token;
}

// Column 0 is the agent pk; the rest map onto HostSummary (addresses are read separately).
constexpr const char* kHostColumns =
    "SELECT a.id, a.agent_id, a.org_id, o.name, "
    "coalesce(nullif(h.hostname, ''), a.hostname), coalesce(h.pretty_name, ''), "
    "coalesce(h.family, ''), a.agent_version, a.enrolled_at, a.last_seen, a.last_inventory_at, "
    "a.revoked_at IS NOT NULL, a.dropped_health_total "
    "FROM agents a JOIN organizations o ON o.id = a.org_id LEFT JOIN host_os h ON h.agent = a.id ";

HostSummary ReadHost(const sqlite::Statement& s) {
  HostSummary host;
  host.agent_id = s.Text(1);
  host.org_id = s.Int(2);
  host.org_name = s.Text(3);
  host.hostname = s.Text(4);
  host.os_pretty_name = s.Text(5);
  host.os_family = s.Text(6);
  host.agent_version = s.Text(7);
  host.enrolled_at_ms = s.Int(8);
  host.last_seen_ms = s.Int(9);
  host.last_inventory_ms = s.Int(10);
  host.revoked = s.Int(11) != 0;
  host.dropped_health_samples = static_cast<uint64_t>(s.Int(12));
  return host;
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

Error NameFile(const Error& error, const std::string& path) {
  if (error.message.find(path) != std::string::npos) {
    return error;
  }
  return error.Wrap(path);
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
  sqlite::Statement blob_select, blob_upsert, change_insert;
  sqlite::Statement host_delete[kHostTableCount];
  sqlite::Statement os_insert, hardware_insert, disk_insert, interface_insert, address_insert,
      gateway_insert, dns_insert, listener_insert, package_insert, application_insert,
      service_insert, user_insert;
  sqlite::Statement api_insert, api_revoke, api_exists;
  sqlite::Statement agent_pks, prune_chunk;
};

struct SqliteStore::ReaderStatements {
  sqlite::Statement org_list, org_by_id, org_by_name;
  sqlite::Statement token_list, token_by_id;
  sqlite::Statement credential;
  sqlite::Statement host_list, host_one, addresses_all, addresses_one;
  sqlite::Statement blob_get, collectors, agent_pk, changes, health;
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

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteStoreOptions& options) {
  std::unique_ptr<SqliteStore> store(new SqliteStore());
  store->path_ = options.path;
  store->background_checkpoint_ = options.background_checkpoint;
  const std::string& path = options.path;

  sqlite::OpenOptions writer_options;
  writer_options.synchronous = "FULL";
  auto writer = sqlite::Database::Open(path, writer_options);
  if (!writer.ok()) {
    return NameFile(writer.error(), path);
  }
  store->writer_ = std::move(writer).value();
  if (options.background_checkpoint) {
    DOZOR_RETURN_IF_ERROR(store->writer_.Exec("PRAGMA wal_autocheckpoint=0"));
  }
  DOZOR_RETURN_IF_ERROR(ApplyMigrations(store->writer_, path));

  sqlite::OpenOptions reader_options;
  reader_options.create = false;
  reader_options.synchronous = "NORMAL";  // this connection never writes
  auto reader = sqlite::Database::Open(path, reader_options);
  if (!reader.ok()) {
    return NameFile(reader.error(), path);
  }
  store->reader_ = std::move(reader).value();

  store->ws_ = std::make_unique<WriterStatements>();
  store->rs_ = std::make_unique<ReaderStatements>();
  WriterStatements& w = *store->ws_;
  ReaderStatements& r = *store->rs_;
  auto prepared = PrepareAll(
      store->writer_,
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
           "SELECT id, last_seq, revoked_at IS NOT NULL FROM agents WHERE agent_id = ?"},
          {&w.agent_update,
           "UPDATE agents SET last_seen = max(last_seen, ?2), last_seq = max(last_seq, ?3), "
           "dropped_health_total = max(dropped_health_total, ?4), "
           "agent_version = CASE WHEN ?5 = '' THEN agent_version ELSE ?5 END, "
           "last_inventory_at = CASE WHEN ?6 > 0 THEN ?6 ELSE last_inventory_at END "
           "WHERE id = ?1"},
          {&w.health_insert,
           "INSERT INTO health_samples(agent, collected_at, seq, sample) VALUES (?, ?, ?, ?)"},
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
           "reboot_required, pending_updates, pending_security_updates, machine_id) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.hardware_insert,
           "INSERT INTO host_hardware(agent, cpu_model, cpu_sockets, cpu_cores, cpu_threads, "
           "memory_total_bytes, system_vendor, system_model, system_serial, bios_vendor, "
           "bios_version, bios_date, virtual_machine, hypervisor) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.disk_insert,
           "INSERT INTO host_disks(agent, name, model, serial, size_bytes, rotational, transport, "
           "smart_status, power_on_hours, temperature_c) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
          {&w.interface_insert,
           "INSERT INTO host_interfaces(agent, name, mac, mtu, state, speed_mbps, loopback, "
           "virtual) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"},
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
      });
  if (!prepared.ok()) {
    return NameFile(prepared.error(), path);
  }
  for (size_t i = 0; i < kHostTableCount; ++i) {
    std::string sql = std::string("DELETE FROM ") + kHostTables[i] + " WHERE agent = ?";
    DOZOR_ASSIGN_OR_RETURN(w.host_delete[i], store->writer_.Prepare(sql));
  }

  std::string org = kOrgColumns;
  std::string token = kTokenColumns;
  std::string api = kApiTokenColumns;
  std::string host = kHostColumns;
  prepared = PrepareAll(
      store->reader_,
      {
          {&r.org_list, org + "ORDER BY o.name"},
          {&r.org_by_id, org + "WHERE o.id = ?"},
          {&r.org_by_name, org + "WHERE o.name = ?"},
          {&r.token_list, token + "WHERE (?1 IS NULL OR t.org_id = ?1) ORDER BY t.id"},
          {&r.token_by_id, token + "WHERE t.id = ?"},
          {&r.credential,
           "SELECT agent_id, org_id, secret_hash, revoked_at IS NOT NULL, last_seq FROM agents "
           "WHERE agent_id = ?"},
          {&r.host_list,
           host + "WHERE (?1 IS NULL OR a.org_id = ?1) ORDER BY o.name, 5, a.agent_id"},
          {&r.host_one, host + "WHERE a.agent_id = ?"},
          {&r.addresses_all,
           "SELECT h.agent, h.address FROM host_addresses h JOIN agents a ON a.id = h.agent "
           "WHERE h.loopback = 0 AND (?1 IS NULL OR a.org_id = ?1) ORDER BY h.agent, h.rowid"},
          {&r.addresses_one,
           "SELECT address FROM host_addresses WHERE agent = ? AND loopback = 0 ORDER BY rowid"},
          {&r.blob_get, "SELECT inventory FROM host_inventory_blob WHERE agent = ?"},
          {&r.collectors,
           "SELECT name, ok, error, duration_ms FROM host_collectors WHERE agent = ? "
           "ORDER BY name"},
          {&r.agent_pk, "SELECT id FROM agents WHERE agent_id = ?"},
          {&r.changes,
           "SELECT id, at, category, action, subject, old_value, new_value FROM inventory_changes "
           "WHERE agent = ? AND at >= ? ORDER BY at DESC, id DESC LIMIT ?"},
          {&r.health,
           "SELECT seq, collected_at, sample FROM health_samples WHERE agent = ? "
           "AND collected_at >= ? ORDER BY collected_at DESC, seq DESC LIMIT ?"},
          {&r.api_by_hash, api + "WHERE token_hash = ?"},
          {&r.api_by_id, api + "WHERE id = ?"},
          {&r.api_list, api + "ORDER BY id"},
          {&r.api_count, "SELECT count(*) FROM api_tokens"},
      });
  if (!prepared.ok()) {
    return NameFile(prepared.error(), path);
  }

  if (options.background_checkpoint) {
    auto checkpointer = sqlite::Database::Open(path, sqlite::OpenOptions{.create = false});
    if (!checkpointer.ok()) {
      return NameFile(checkpointer.error(), path);
    }
    store->checkpointer_ = std::move(checkpointer).value();
    // A TRUNCATE checkpoint waits for the writer; never let it wait long.
    sqlite3_busy_timeout(store->checkpointer_.get(), 200);
    DOZOR_ASSIGN_OR_RETURN(store->checkpoint_passive_,
                           store->checkpointer_.Prepare("PRAGMA wal_checkpoint(PASSIVE)"));
    DOZOR_ASSIGN_OR_RETURN(store->checkpoint_truncate_,
                           store->checkpointer_.Prepare("PRAGMA wal_checkpoint(TRUNCATE)"));
    store->checkpoint_thread_ = std::thread([s = store.get()] { s->CheckpointLoop(); });
  }
  return store;
}

SqliteStore::~SqliteStore() {
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
    lock.lock();
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
  ResetOnExit reset(statement);
  DOZOR_ASSIGN_OR_RETURN(bool row, statement.Step());
  (void)row;
  return OkStatus();
}

// ------------------------------------------------------------------ organisations

Result<Organization> SqliteStore::CreateOrganization(const Organization& org) {
  if (org.name.empty() || org.name.size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "organization name must be 1-200 characters");
  }
  if (!IsValidContractStatus(org.contract_status)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid contract status '" + org.contract_status + "'");
  }
  if (!IsValidContractType(org.contract_type)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid contract type '" + org.contract_type + "'");
  }
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    auto& s = ws_->org_insert;
    auto status = s.Bind(1, org.name)
                      .Bind(2, org.contract_status)
                      .Bind(3, org.contract_type)
                      .Bind(4, org.engineer)
                      .Bind(5, org.created_at_ms != 0 ? org.created_at_ms : NowMs())
                      .Run();
    if (!status.ok()) {
      if (status.error().code == ErrorCode::kAlreadyExists) {
        return MakeError(ErrorCode::kAlreadyExists,
                         "organization '" + org.name + "' already exists");
      }
      return status.error();
    }
    id = writer_.LastInsertRowId();
  }
  return FindOrganization(std::to_string(id));
}

Result<std::vector<Organization>> SqliteStore::ListOrganizations() {
  std::lock_guard lock(read_mu_);
  auto& s = rs_->org_list;
  ResetOnExit reset(s);
  std::vector<Organization> out;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    out.push_back(ReadOrganization(s));
  }
  return out;
}

Result<Organization> SqliteStore::FindOrganization(std::string_view key) {
  std::lock_guard lock(read_mu_);
  if (IsAllDigits(key)) {
    auto& s = rs_->org_by_id;
    ResetOnExit reset(s);
    s.Bind(1, static_cast<int64_t>(std::stoll(std::string(key))));
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) {
      return ReadOrganization(s);
    }
  }
  auto& s = rs_->org_by_name;
  ResetOnExit reset(s);
  s.Bind(1, key);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, "no organization '" + std::string(key) + "'");
  }
  return ReadOrganization(s);
}

Result<Organization> SqliteStore::UpdateOrganization(int64_t id, const OrganizationPatch& patch) {
  if (patch.contract_status && !IsValidContractStatus(*patch.contract_status)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid contract status '" + *patch.contract_status + "'");
  }
  if (patch.contract_type && !IsValidContractType(*patch.contract_type)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid contract type '" + *patch.contract_type + "'");
  }
  if (patch.engineer && patch.engineer->size() > kMaxNameLength) {
    return MakeError(ErrorCode::kInvalidArgument, "engineer must be at most 200 characters");
  }
  {
    std::lock_guard lock(write_mu_);
    DOZOR_RETURN_IF_ERROR(ws_->org_update.Bind(1, id)
                              .Bind(2, patch.contract_status)
                              .Bind(3, patch.contract_type)
                              .Bind(4, patch.engineer)
                              .Run());
    if (writer_.Changes() == 0) {
      return MakeError(ErrorCode::kNotFound, "no organization with id " + std::to_string(id));
    }
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
    {
      auto& exists = ws_->org_exists;
      ResetOnExit reset(exists);
      DOZOR_ASSIGN_OR_RETURN(bool row, exists.Bind(1, token.org_id).Step());
      if (!row) {
        return MakeError(ErrorCode::kNotFound,
                         "no organization with id " + std::to_string(token.org_id));
      }
    }
    auto status = ws_->token_insert.Bind(1, token.token_hash)
                      .Bind(2, token.org_id)
                      .Bind(3, token.hint)
                      .Bind(4, token.label)
                      .Bind(5, NowMs())
                      .Bind(6, token.expires_at_ms)
                      .Run();
    if (!status.ok()) {
      if (status.error().code == ErrorCode::kAlreadyExists) {
        return MakeError(ErrorCode::kAlreadyExists, "enrollment token already exists");
      }
      return status.error();
    }
    id = writer_.LastInsertRowId();
  }
  std::lock_guard lock(read_mu_);
  auto& s = rs_->token_by_id;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, id).Step());
  if (!row) {
    return MakeError(ErrorCode::kInternal, "enrollment token vanished after insert");
  }
  return ReadEnrollmentToken(s);
}

Result<std::vector<EnrollmentToken>> SqliteStore::ListEnrollmentTokens(
    std::optional<int64_t> org_id) {
  std::lock_guard lock(read_mu_);
  auto& s = rs_->token_list;
  ResetOnExit reset(s);
  s.Bind(1, org_id);
  std::vector<EnrollmentToken> out;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    out.push_back(ReadEnrollmentToken(s));
  }
  return out;
}

Status SqliteStore::RevokeEnrollmentToken(int64_t token_id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  DOZOR_RETURN_IF_ERROR(ws_->token_revoke.Bind(1, token_id).Bind(2, now_ms).Run());
  if (writer_.Changes() > 0) {
    return OkStatus();
  }
  auto& exists = ws_->token_exists;
  ResetOnExit reset(exists);
  DOZOR_ASSIGN_OR_RETURN(bool row, exists.Bind(1, token_id).Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound,
                     "no enrollment token with id " + std::to_string(token_id));
  }
  return OkStatus();  // already revoked: revoking is idempotent
}

// ------------------------------------------------------------------ agents

Result<EnrolledAgent> SqliteStore::EnrollAgent(std::string_view token_hash, const NewAgent& agent,
                                               int64_t now_ms) {
  if (agent.agent_id.empty() || agent.secret_hash.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "agent id and secret hash are required");
  }
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  EnrolledAgent enrolled;
  enrolled.agent_id = agent.agent_id;
  int64_t token_id = 0;
  {
    auto& s = ws_->token_by_hash;
    ResetOnExit reset(s);
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, token_hash).Step());
    if (!row) {
      return MakeError(ErrorCode::kPermissionDenied, "unknown enrollment token");
    }
    token_id = s.Int(0);
    enrolled.org_id = s.Int(1);
    enrolled.org_name = s.Text(2);
    if (!s.IsNull(4)) {
      return MakeError(ErrorCode::kPermissionDenied, "enrollment token is revoked");
    }
    if (!s.IsNull(3) && s.Int(3) <= now_ms) {
      return MakeError(ErrorCode::kPermissionDenied, "enrollment token is expired");
    }
  }
  DOZOR_RETURN_IF_ERROR(ws_->token_use.Bind(1, token_id).Run());
  auto inserted = ws_->agent_insert.Bind(1, agent.agent_id)
                      .Bind(2, enrolled.org_id)
                      .Bind(3, agent.secret_hash)
                      .Bind(4, agent.hostname)
                      .Bind(5, agent.machine_id)
                      .Bind(6, agent.agent_version)
                      .Bind(7, agent.os)
                      .Bind(8, now_ms)
                      .Run();
  if (!inserted.ok()) {
    if (inserted.error().code == ErrorCode::kAlreadyExists) {
      return MakeError(ErrorCode::kAlreadyExists, "agent '" + agent.agent_id + "' already exists");
    }
    return inserted.error();
  }
  DOZOR_RETURN_IF_ERROR(txn.Commit());
  return enrolled;
}

Result<AgentCredential> SqliteStore::GetAgentCredential(std::string_view agent_id) {
  std::lock_guard lock(read_mu_);
  auto& s = rs_->credential;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, agent_id).Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
  }
  AgentCredential credential;
  credential.agent_id = s.Text(0);
  credential.org_id = s.Int(1);
  credential.secret_hash = s.Text(2);
  credential.revoked = s.Int(3) != 0;
  credential.last_committed_seq = static_cast<uint64_t>(s.Int(4));
  return credential;
}

Status SqliteStore::RevokeAgent(std::string_view agent_id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  agent_cache_.erase(std::string(agent_id));
  DOZOR_RETURN_IF_ERROR(ws_->agent_revoke.Bind(1, agent_id).Bind(2, now_ms).Run());
  if (writer_.Changes() > 0) {
    return OkStatus();
  }
  auto& exists = ws_->agent_exists;
  ResetOnExit reset(exists);
  DOZOR_ASSIGN_OR_RETURN(bool row, exists.Bind(1, agent_id).Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
  }
  return OkStatus();
}

// ------------------------------------------------------------------ ingest

Result<SqliteStore::CachedAgent*> SqliteStore::LookupAgentLocked(const std::string& agent_id) {
  auto it = agent_cache_.find(agent_id);
  if (it != agent_cache_.end()) {
    return &it->second;
  }
  auto& s = ws_->agent_lookup;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, agent_id).Step());
  if (!row) {
    return static_cast<CachedAgent*>(nullptr);  // unknown agents are not cached: they may enroll
  }
  CachedAgent agent{s.Int(0), static_cast<uint64_t>(s.Int(1)), s.Int(2) != 0};
  return &agent_cache_.emplace(agent_id, agent).first->second;
}

Result<std::vector<CommitResult>> SqliteStore::CommitReports(std::vector<IncomingReport>& batch) {
  // Compress outside the writer lock: it is the largest CPU cost per health report.
  std::vector<std::string> encoded(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].report.has_health()) {
      encoded[i] = EncodeCompressed(batch[i].report.health());
    }
  }
  std::vector<CommitResult> results;
  results.reserve(batch.size());
  std::lock_guard lock(write_mu_);
  std::unordered_map<std::string, CachedAgent> saved;
  auto status = CommitLocked(batch, encoded, results, saved);
  if (!status.ok()) {
    // The transaction rolled back; so must the sequence numbers it advanced in memory.
    for (auto& [agent_id, agent] : saved) {
      agent_cache_[agent_id] = agent;
    }
    return status.error();
  }
  return results;
}

Status SqliteStore::CommitLocked(std::vector<IncomingReport>& batch,
                                 const std::vector<std::string>& encoded,
                                 std::vector<CommitResult>& results,
                                 std::unordered_map<std::string, CachedAgent>& saved) {
  struct AgentTouch {
    int64_t last_seen = 0;
    uint64_t last_seq = 0;
    uint64_t dropped = 0;
    std::string agent_version;
    int64_t last_inventory_at = 0;
  };
  std::unordered_map<int64_t, AgentTouch> touched;
  WriterStatements& w = *ws_;
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  for (size_t i = 0; i < batch.size(); ++i) {
    const IncomingReport& item = batch[i];
    const dozor::v1::Report& report = item.report;
    CommitResult result;
    result.seq = report.seq();
    DOZOR_ASSIGN_OR_RETURN(CachedAgent * agent, LookupAgentLocked(item.agent_id));
    if (agent == nullptr) {
      result.outcome = CommitOutcome::kRejected;
      result.reason = "unknown agent";
    } else if (agent->revoked) {
      result.outcome = CommitOutcome::kRejected;
      result.reason = "agent is revoked";
    } else if (report.seq() <= agent->last_seq) {
      result.outcome = CommitOutcome::kDuplicate;
    } else if (report.has_health() && encoded[i].empty()) {
      result.outcome = CommitOutcome::kRejected;
      result.reason = "health sample could not be encoded";
    } else if (!report.has_health() && !report.has_inventory()) {
      result.outcome = CommitOutcome::kRejected;
      result.reason = "report has no payload";
    } else {
      if (report.has_health()) {
        DOZOR_RETURN_IF_ERROR(w.health_insert.Bind(1, agent->pk)
                                  .Bind(2, report.collected_at_ms())
                                  .Bind(3, report.seq())
                                  .BindBlob(4, encoded[i])
                                  .Run());
      } else {
        DOZOR_RETURN_IF_ERROR(ApplyInventoryLocked(agent->pk, item.agent_id, report));
      }
      for (const auto& collector : report.collectors()) {
        DOZOR_RETURN_IF_ERROR(w.collector_upsert.Bind(1, agent->pk)
                                  .Bind(2, collector.name())
                                  .Bind(3, collector.ok())
                                  .Bind(4, collector.error())
                                  .Bind(5, collector.duration_ms())
                                  .Bind(6, report.collected_at_ms())
                                  .Run());
      }
      saved.try_emplace(item.agent_id, *agent);
      agent->last_seq = report.seq();
      AgentTouch& touch = touched[agent->pk];
      touch.last_seen = std::max(touch.last_seen, item.received_at_ms);
      touch.last_seq = report.seq();
      touch.dropped = std::max(touch.dropped, report.dropped_health_samples());
      if (!report.agent_version().empty()) {
        touch.agent_version = report.agent_version();
      }
      if (report.has_inventory()) {
        touch.last_inventory_at = report.collected_at_ms();
      }
    }
    results.push_back(std::move(result));
  }
  // Once per agent per batch, not per report: a batch of 100 samples costs one agents update.
  for (const auto& [pk, touch] : touched) {
    DOZOR_RETURN_IF_ERROR(w.agent_update.Bind(1, pk)
                              .Bind(2, touch.last_seen)
                              .Bind(3, touch.last_seq)
                              .Bind(4, touch.dropped)
                              .Bind(5, touch.agent_version)
                              .Bind(6, touch.last_inventory_at)
                              .Run());
  }
  return txn.Commit();
}

Status SqliteStore::ApplyInventoryLocked(int64_t pk, const std::string& agent_id,
                                         const dozor::v1::Report& report) {
  WriterStatements& w = *ws_;
  const dozor::v1::Inventory& inv = report.inventory();
  const int64_t at = report.collected_at_ms();

  std::vector<InventoryChange> changes;
  {
    auto& s = w.blob_select;
    ResetOnExit reset(s);
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, pk).Step());
    dozor::v1::Inventory previous;
    if (row && DecodeCompressed(s.Blob(0), &previous).ok()) {
      changes = DiffInventories(previous, inv, at, agent_id);
    } else {
      if (row) {
        spdlog::warn("store: previous inventory of {} does not decode; starting a new baseline",
                     agent_id);
      }
      changes.push_back(FirstInventoryChange(at, agent_id));
    }
  }
  for (const auto& change : changes) {
    DOZOR_RETURN_IF_ERROR(w.change_insert.Bind(1, pk)
                              .Bind(2, change.at_ms)
                              .Bind(3, change.category)
                              .Bind(4, change.action)
                              .Bind(5, change.subject)
                              .Bind(6, change.old_value)
                              .Bind(7, change.new_value)
                              .Run());
  }

  for (auto& statement : w.host_delete) {
    DOZOR_RETURN_IF_ERROR(statement.Bind(1, pk).Run());
  }
  const auto& os = inv.os();
  DOZOR_RETURN_IF_ERROR(w.os_insert.Bind(1, pk)
                            .Bind(2, os.id())
                            .Bind(3, os.id_like())
                            .Bind(4, os.family())
                            .Bind(5, os.name())
                            .Bind(6, os.version())
                            .Bind(7, os.version_id())
                            .Bind(8, os.pretty_name())
                            .Bind(9, os.kernel())
                            .Bind(10, os.architecture())
                            .Bind(11, os.hostname())
                            .Bind(12, os.fqdn())
                            .Bind(13, os.timezone())
                            .Bind(14, os.boot_time())
                            .Bind(15, os.reboot_required())
                            .Bind(16, os.pending_updates())
                            .Bind(17, os.pending_security_updates())
                            .Bind(18, os.machine_id())
                            .Run());
  const auto& hw = inv.hardware();
  DOZOR_RETURN_IF_ERROR(w.hardware_insert.Bind(1, pk)
                            .Bind(2, hw.cpu().model())
                            .Bind(3, hw.cpu().sockets())
                            .Bind(4, hw.cpu().cores())
                            .Bind(5, hw.cpu().threads())
                            .Bind(6, hw.memory_total_bytes())
                            .Bind(7, hw.dmi().system_vendor())
                            .Bind(8, hw.dmi().system_model())
                            .Bind(9, hw.dmi().system_serial())
                            .Bind(10, hw.dmi().bios_vendor())
                            .Bind(11, hw.dmi().bios_version())
                            .Bind(12, hw.dmi().bios_date())
                            .Bind(13, hw.virtual_machine())
                            .Bind(14, hw.hypervisor())
                            .Run());
  for (const auto& disk : hw.disks()) {
    DOZOR_RETURN_IF_ERROR(w.disk_insert.Bind(1, pk)
                              .Bind(2, disk.name())
                              .Bind(3, disk.model())
                              .Bind(4, disk.serial())
                              .Bind(5, disk.size_bytes())
                              .Bind(6, disk.rotational())
                              .Bind(7, disk.transport())
                              .Bind(8, disk.smart_status())
                              .Bind(9, disk.power_on_hours())
                              .Bind(10, disk.temperature_c())
                              .Run());
  }
  const auto& net = inv.network();
  for (const auto& iface : net.interfaces()) {
    DOZOR_RETURN_IF_ERROR(w.interface_insert.Bind(1, pk)
                              .Bind(2, iface.name())
                              .Bind(3, iface.mac())
                              .Bind(4, iface.mtu())
                              .Bind(5, iface.state())
                              .Bind(6, iface.speed_mbps())
                              .Bind(7, iface.loopback())
                              .Bind(8, iface.virtual_())
                              .Run());
    for (const auto& ip : iface.addresses()) {
      DOZOR_RETURN_IF_ERROR(w.address_insert.Bind(1, pk)
                                .Bind(2, iface.name())
                                .Bind(3, ip.address())
                                .Bind(4, ip.prefix())
                                .Bind(5, ip.family())
                                .Bind(6, IsLoopbackAddress(iface, ip))
                                .Run());
    }
  }
  for (const auto& gateway : net.gateways()) {
    DOZOR_RETURN_IF_ERROR(w.gateway_insert.Bind(1, pk)
                              .Bind(2, gateway.address())
                              .Bind(3, gateway.interface())
                              .Bind(4, gateway.family())
                              .Run());
  }
  for (int i = 0; i < net.dns_servers_size(); ++i) {
    DOZOR_RETURN_IF_ERROR(w.dns_insert.Bind(1, pk).Bind(2, i).Bind(3, net.dns_servers(i)).Run());
  }
  for (const auto& listener : net.listening()) {
    DOZOR_RETURN_IF_ERROR(w.listener_insert.Bind(1, pk)
                              .Bind(2, listener.protocol())
                              .Bind(3, listener.family())
                              .Bind(4, listener.address())
                              .Bind(5, listener.port())
                              .Bind(6, listener.pid())
                              .Bind(7, listener.process())
                              .Bind(8, listener.uid())
                              .Run());
  }
  const auto& sw = inv.software();
  for (const auto& package : sw.packages()) {
    DOZOR_RETURN_IF_ERROR(w.package_insert.Bind(1, pk)
                              .Bind(2, package.name())
                              .Bind(3, package.version())
                              .Bind(4, package.architecture())
                              .Bind(5, package.source())
                              .Bind(6, package.vendor())
                              .Bind(7, package.install_time())
                              .Run());
  }
  for (const auto& app : sw.applications()) {
    DOZOR_RETURN_IF_ERROR(w.application_insert.Bind(1, pk)
                              .Bind(2, app.name())
                              .Bind(3, app.version())
                              .Bind(4, app.architecture())
                              .Bind(5, app.path())
                              .Bind(6, app.kind())
                              .Run());
  }
  for (const auto& service : sw.services()) {
    DOZOR_RETURN_IF_ERROR(w.service_insert.Bind(1, pk)
                              .Bind(2, service.name())
                              .Bind(3, service.description())
                              .Bind(4, service.load_state())
                              .Bind(5, service.active_state())
                              .Bind(6, service.sub_state())
                              .Bind(7, service.enabled())
                              .Run());
  }
  for (const auto& user : os.users()) {
    DOZOR_RETURN_IF_ERROR(w.user_insert.Bind(1, pk)
                              .Bind(2, user.name())
                              .Bind(3, user.uid())
                              .Bind(4, user.shell())
                              .Bind(5, user.home())
                              .Bind(6, user.administrator())
                              .Run());
  }
  std::string blob = EncodeCompressed(inv);
  if (blob.empty()) {
    return MakeError(ErrorCode::kInternal, "could not encode the inventory of " + agent_id);
  }
  return w.blob_upsert.Bind(1, pk).Bind(2, at).BindBlob(3, blob).Run();
}

// ------------------------------------------------------------------ queries

Result<std::vector<HostSummary>> SqliteStore::ListHosts(std::optional<int64_t> org_id) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  std::vector<HostSummary> hosts;
  std::unordered_map<int64_t, size_t> index_by_pk;
  {
    auto& s = rs_->host_list;
    ResetOnExit reset(s);
    s.Bind(1, org_id);
    while (true) {
      DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) {
        break;
      }
      index_by_pk[s.Int(0)] = hosts.size();
      hosts.push_back(ReadHost(s));
    }
  }
  auto& s = rs_->addresses_all;
  ResetOnExit reset(s);
  s.Bind(1, org_id);
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    auto it = index_by_pk.find(s.Int(0));
    if (it != index_by_pk.end()) {
      hosts[it->second].addresses.push_back(s.Text(1));
    }
  }
  return hosts;
}

Result<HostSummary> SqliteStore::ReadHostLocked(std::string_view agent_id, int64_t* pk) {
  HostSummary host;
  {
    auto& s = rs_->host_one;
    ResetOnExit reset(s);
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, agent_id).Step());
    if (!row) {
      return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
    }
    *pk = s.Int(0);
    host = ReadHost(s);
  }
  auto& s = rs_->addresses_one;
  ResetOnExit reset(s);
  s.Bind(1, *pk);
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    host.addresses.push_back(s.Text(0));
  }
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
  {
    auto& s = rs_->blob_get;
    ResetOnExit reset(s);
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, pk).Step());
    if (row) {
      auto decoded = DecodeCompressed(s.Blob(0), &result.inventory);
      if (!decoded.ok()) {
        return decoded.error().Wrap("inventory of " + std::string(agent_id));
      }
    }
  }
  auto& s = rs_->collectors;
  ResetOnExit reset(s);
  s.Bind(1, pk);
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    dozor::v1::CollectorStatus status;
    status.set_name(s.Text(0));
    status.set_ok(s.Int(1) != 0);
    status.set_error(s.Text(2));
    status.set_duration_ms(static_cast<uint32_t>(s.Int(3)));
    result.collectors.push_back(std::move(status));
  }
  return result;
}

Result<int64_t> SqliteStore::ReaderAgentPkLocked(std::string_view agent_id) {
  auto& s = rs_->agent_pk;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, agent_id).Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
  }
  return s.Int(0);
}

Result<std::vector<InventoryChange>> SqliteStore::ListChanges(std::string_view agent_id,
                                                              int64_t since_ms, int limit) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t pk, ReaderAgentPkLocked(agent_id));
  auto& s = rs_->changes;
  ResetOnExit reset(s);
  s.Bind(1, pk).Bind(2, since_ms).Bind(3, ClampLimit(limit));
  std::vector<InventoryChange> out;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    InventoryChange change;
    change.id = s.Int(0);
    change.agent_id = std::string(agent_id);
    change.at_ms = s.Int(1);
    change.category = s.Text(2);
    change.action = s.Text(3);
    change.subject = s.Text(4);
    change.old_value = s.Text(5);
    change.new_value = s.Text(6);
    out.push_back(std::move(change));
  }
  return out;
}

Result<std::vector<HealthRecord>> SqliteStore::ListHealth(std::string_view agent_id,
                                                          int64_t since_ms, int limit) {
  std::lock_guard lock(read_mu_);
  ReadTransaction txn(reader_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(int64_t pk, ReaderAgentPkLocked(agent_id));
  auto& s = rs_->health;
  ResetOnExit reset(s);
  s.Bind(1, pk).Bind(2, since_ms).Bind(3, ClampLimit(limit));
  std::vector<HealthRecord> out;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    HealthRecord record;
    record.seq = static_cast<uint64_t>(s.Int(0));
    record.collected_at_ms = s.Int(1);
    auto decoded = DecodeCompressed(s.Blob(2), &record.sample);
    if (!decoded.ok()) {
      // One damaged sample should not hide the rest of the history.
      spdlog::warn("store: health sample {} of {}: {}", record.seq, agent_id,
                   decoded.error().ToString());
      continue;
    }
    out.push_back(std::move(record));
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
  if (!IsValidRole(role)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "invalid role '" + std::string(role) + "' (admin, operator or viewer)");
  }
  if (token_hash.empty() || hint.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "API token hash is empty or hint too long");
  }
  int64_t id = 0;
  {
    std::lock_guard lock(write_mu_);
    auto status = ws_->api_insert.Bind(1, token_hash)
                      .Bind(2, name)
                      .Bind(3, role)
                      .Bind(4, hint)
                      .Bind(5, NowMs())
                      .Bind(6, expires_at_ms)
                      .Run();
    if (!status.ok()) {
      if (status.error().code == ErrorCode::kAlreadyExists) {
        return MakeError(ErrorCode::kAlreadyExists, "API token already exists");
      }
      return status.error();
    }
    id = writer_.LastInsertRowId();
  }
  std::lock_guard lock(read_mu_);
  auto& s = rs_->api_by_id;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, id).Step());
  if (!row) {
    return MakeError(ErrorCode::kInternal, "API token vanished after insert");
  }
  return ReadApiToken(s);
}

Result<ApiToken> SqliteStore::AuthenticateApiToken(std::string_view token_hash, int64_t now_ms) {
  std::lock_guard lock(read_mu_);
  auto& s = rs_->api_by_hash;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Bind(1, token_hash).Step());
  if (!row) {
    return MakeError(ErrorCode::kPermissionDenied, "unknown API token");
  }
  ApiToken token = ReadApiToken(s);
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
  auto& s = rs_->api_list;
  ResetOnExit reset(s);
  std::vector<ApiToken> out;
  while (true) {
    DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      break;
    }
    out.push_back(ReadApiToken(s));
  }
  return out;
}

Status SqliteStore::RevokeApiToken(int64_t id, int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  DOZOR_RETURN_IF_ERROR(ws_->api_revoke.Bind(1, id).Bind(2, now_ms).Run());
  if (writer_.Changes() > 0) {
    return OkStatus();
  }
  auto& exists = ws_->api_exists;
  ResetOnExit reset(exists);
  DOZOR_ASSIGN_OR_RETURN(bool row, exists.Bind(1, id).Step());
  if (!row) {
    return MakeError(ErrorCode::kNotFound, "no API token with id " + std::to_string(id));
  }
  return OkStatus();
}

Result<int64_t> SqliteStore::CountApiTokens() {
  std::lock_guard lock(read_mu_);
  auto& s = rs_->api_count;
  ResetOnExit reset(s);
  DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

// ------------------------------------------------------------------ retention

Result<int64_t> SqliteStore::PruneHealth(int64_t cutoff_ms) {
  std::vector<int64_t> agents;
  {
    std::lock_guard lock(write_mu_);
    auto& s = ws_->agent_pks;
    ResetOnExit reset(s);
    while (true) {
      DOZOR_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) {
        break;
      }
      agents.push_back(s.Int(0));
    }
  }
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
      DOZOR_RETURN_IF_ERROR(ws_->prune_chunk.Bind(1, agents[next])
                                .Bind(2, cutoff_ms)
                                .Bind(3, kPruneChunkRows - in_txn)
                                .Run());
      int deleted = writer_.Changes();
      in_txn += deleted;
      if (deleted == 0 || in_txn < kPruneChunkRows) {
        ++next;  // this agent has nothing older left
      }
    }
    DOZOR_RETURN_IF_ERROR(txn.Commit());
    total += in_txn;
  }
  return total;
}

Result<std::unique_ptr<Store>> OpenSqliteStore(const SqliteStoreOptions& options) {
  DOZOR_ASSIGN_OR_RETURN(auto store, SqliteStore::Open(options));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace dozor::server
