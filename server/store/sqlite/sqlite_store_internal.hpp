// Shared by the SQLite backend's source files (one per store area): the prepared statements of
// the writer and reader connections, limits and small helpers. Internal to store/sqlite.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dozor/common/sqlite.hpp"
#include "dozor/contract/codec.hpp"
#include "store/collector_status_batch.hpp"
#include "store/health_block_codec.hpp"
#include "store/sqlite/rule_window_writer.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/statement_helpers.hpp"

namespace dozor::server {
namespace sqlite_store_internal {

inline constexpr int kMaxListLimit = 10000;
inline constexpr int64_t kPruneChunkRows = 5000;
inline constexpr uintmax_t kTruncateWalBytes = 64ull * 1024 * 1024;
inline constexpr auto kCheckpointPeriod = std::chrono::seconds(1);
inline constexpr size_t kMaxNameLength = 200;

// health_samples.encoding values (migration 002).
inline constexpr int64_t kEncodingZlib = 0;  // EncodeCompressed, every row written before 002
inline constexpr int64_t kEncodingPlain = 1;

inline constexpr int64_t kBucketMs = kHealthBucketMs;
inline int64_t BucketStart(int64_t at_ms) { return HealthBucketStart(at_ms); }

inline int ClampLimit(int limit) {
  if (limit <= 0 || limit > kMaxListLimit) {
    return kMaxListLimit;
  }
  return limit;
}

// ",1,5,9," for an instr() membership test in SQL; nullopt (bound as NULL: every organisation)
// for nullopt.
inline std::optional<std::string> OrgIdList(const std::optional<std::vector<int64_t>>& ids) {
  if (!ids) {
    return std::nullopt;
  }
  std::string out = ",";
  for (const int64_t id : *ids) {
    out += std::to_string(id) + ",";
  }
  return out;
}

inline bool IsAllDigits(std::string_view text) {
  return !text.empty() && text.size() <= 18 &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

inline bool IsLoopbackAddress(const dozor::v1::NetworkInterface& iface,
                              const dozor::v1::IpAddress& ip) {
  const std::string& a = ip.address();
  return iface.loopback() || a.rfind("127.", 0) == 0 || a == "::1";
}

// ------------------------------------------------------------------ validation and errors

inline Error UnknownAgent(std::string_view agent_id) {
  return MakeError(ErrorCode::kNotFound, "unknown agent '" + std::string(agent_id) + "'");
}

// A UNIQUE violation becomes "<what> already exists"; other results pass through.
inline Status NameConflict(Status status, const std::string& what) {
  if (!status.ok() && status.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists, what + " already exists");
  }
  return status;
}

inline Error NameFile(const Error& error, const std::string& path) {
  if (error.message.find(path) != std::string::npos) {
    return error;
  }
  return error.Wrap(path);
}

// Runs an idempotent "revoke where not yet revoked". When it changed no row the target is
// either already revoked (fine) or missing (the error missing() builds).
template <typename Key, typename Missing>
inline Status RevokeIfExists(sqlite::Database& db, sqlite::Statement& revoke,
                             sqlite::Statement& exists, const Key& key, int64_t now_ms,
                             Missing&& missing) {
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

inline Status DecodeRawSample(std::string_view bytes, int64_t encoding,
                              dozor::v1::HealthSample* out) {
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
inline Status InsertEach(const Rows& rows, Insert&& insert) {
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

inline Status PrepareAll(sqlite::Database& db, std::initializer_list<PrepareItem> items) {
  for (const auto& item : items) {
    DOZOR_ASSIGN_OR_RETURN(*item.statement, db.Prepare(item.sql));
  }
  return OkStatus();
}

}  // namespace sqlite_store_internal

// The per-host inventory tables, in the order they are cleared and refilled, with the part of the
// inventory each is written from (HostRowPart, host_row_parts.hpp): a part equal to the previous
// inventory's keeps its rows. The OS row (role and duties read the whole inventory) and the
// "could not read" notes of every part are always written again.
struct HostTable {
  const char* name;
  HostRowPart part;
};
inline constexpr HostTable kHostTables[] = {
    {"host_os", HostRowPart::kAlways},
    {"host_hardware", HostRowPart::kHardware},
    {"host_disks", HostRowPart::kHardware},
    {"host_interfaces", HostRowPart::kNetwork},
    {"host_addresses", HostRowPart::kNetwork},
    {"host_gateways", HostRowPart::kNetwork},
    {"host_dns", HostRowPart::kNetwork},
    {"host_listeners", HostRowPart::kNetwork},
    {"host_packages", HostRowPart::kPackages},
    {"host_applications", HostRowPart::kSoftware},
    {"host_services", HostRowPart::kSoftware},
    {"host_users", HostRowPart::kAccounts},
    {"host_security", HostRowPart::kSecurity},
    {"host_antivirus", HostRowPart::kSecurity},
    {"host_firewall_profiles", HostRowPart::kSecurity},
    {"host_volumes", HostRowPart::kHardware},
    {"host_batteries", HostRowPart::kHardware},
    {"host_memory_modules", HostRowPart::kHardware},
    {"host_infobases", HostRowPart::kSoftware},
    {"host_license_clients", HostRowPart::kSoftware},
    {"host_license_servers", HostRowPart::kSoftware},
    {"host_unavailable", HostRowPart::kAlways},
    {"host_backup_jobs", HostRowPart::kSoftware},
    {"host_processes", HostRowPart::kSoftware},
    {"host_database_servers", HostRowPart::kSoftware},
    {"host_database_hba", HostRowPart::kSoftware},
    {"host_storage_arrays", HostRowPart::kHardware},
    {"host_ups", HostRowPart::kHardware},
    {"host_power", HostRowPart::kHardware},
    {"host_onec_agents", HostRowPart::kSoftware},
    {"host_onec_processes", HostRowPart::kSoftware},
    {"host_onec_clusters", HostRowPart::kSoftware},
    {"host_onec_tech_logs", HostRowPart::kSoftware},
    {"host_onec_licensing", HostRowPart::kSoftware},
    {"host_repositories", HostRowPart::kSoftware},
    {"host_pci_devices", HostRowPart::kHardware},
    {"host_groups", HostRowPart::kAccounts},
    {"host_group_members", HostRowPart::kAccounts},
    {"host_database_databases", HostRowPart::kSoftware},
    {"host_firewall", HostRowPart::kSecurity},
    {"host_firewall_ports", HostRowPart::kSecurity},
};
inline constexpr size_t kHostTableCount = sizeof(kHostTables) / sizeof(kHostTables[0]);

struct SqliteStore::WriterStatements {
  sqlite::Statement org_insert, org_update, org_exists, org_declared_hosts;
  sqlite::Statement token_insert, token_revoke, token_exists, token_by_hash, token_use;
  sqlite::Statement agent_insert, agent_revoke, agent_exists, agent_lookup, agent_update;
  sqlite::Statement health_insert, collector_upsert;
  sqlite::Statement os_prev;
  // The rule-window rows of the batch being written, and their writer (migration 003).
  RuleWindowBatch window_batch;
  std::unique_ptr<RuleWindowWriter> rule_windows;
  CollectorStatusBatch collector_batch;  // host_collectors rows of the batch being written
  sqlite::Statement blob_select, blob_upsert, blob_touch, change_insert;
  sqlite::Statement host_delete[kHostTableCount];
  sqlite::Statement os_insert, hardware_insert, disk_insert, interface_insert, address_insert,
      gateway_insert, dns_insert, listener_insert, package_insert, application_insert,
      service_insert, user_insert;
  // Migration 013: the Windows facts.
  sqlite::Statement security_insert, antivirus_insert, firewall_insert, volume_insert,
      battery_insert, memory_module_insert, infobase_insert, license_client_insert,
      license_server_insert, unavailable_insert;
  sqlite::Statement backup_job_insert;                                            // migration 017
  sqlite::Statement process_insert, database_server_insert, database_hba_insert;  // 018
  sqlite::Statement storage_array_insert, ups_insert, power_insert;               // 019
  sqlite::Statement onec_agent_insert, onec_process_insert, onec_cluster_insert,
      onec_tech_log_insert, onec_licensing_insert;                                   // 020
  sqlite::Statement repository_insert;                                               // 021
  sqlite::Statement pci_device_insert, group_insert, group_member_insert;            // 023
  sqlite::Statement database_insert, firewall_ruleset_insert, firewall_port_insert;  // 024
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
  sqlite::Statement blob_get, blob_base, collectors, agent_pk, changes, health, health_blocks;
  sqlite::Statement api_by_hash, api_by_id, api_list, api_count;
};

// The reader-side findings, contract, snapshot and estate statements
// (sqlite_store_findings.cpp prepares them).
struct FindingReaderStatements {
  sqlite::Statement r_finding, r_events, r_contract_events, r_snapshot, r_snapshot_rows;
  sqlite::Statement r_estate_hosts, r_estate_addresses, r_estate_apps, r_package_hosts,
      r_estate_gaps;
  sqlite::Statement r_live_hosts, r_host_pk;
};
Status PrepareFindingReaderStatements(sqlite::Database& db, FindingReaderStatements& f);

struct SqliteStore::ReaderSlot {
  sqlite::Database db;
  ReaderStatements rs;
  FindingReaderStatements fr;
  // Statements whose SQL is built per call (list pages: one per combination of filters and
  // sort order, a bounded set), prepared once per connection.
  std::unordered_map<std::string, sqlite::Statement> built;

  Result<sqlite::Statement*> Cached(const std::string& sql) {
    auto it = built.find(sql);
    if (it == built.end()) {
      DOZOR_ASSIGN_OR_RETURN(auto prepared, db.Prepare(sql));
      it = built.emplace(sql, std::move(prepared)).first;
    }
    return &it->second;
  }
};

namespace sqlite_store_internal {
using WriterStatements = SqliteStore::WriterStatements;
using ReaderStatements = SqliteStore::ReaderStatements;
}  // namespace sqlite_store_internal

}  // namespace dozor::server
