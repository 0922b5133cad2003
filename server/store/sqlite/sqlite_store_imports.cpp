// SqliteStore, imports area: one-shot snapshot imports (`dozor-agent collect` files loaded with
// `dozorctl import`). An imported machine becomes an ordinary host row (agents.source = 'import')
// and its reports go through the same batch writer as ingest, so the change log, the normalised
// inventory, the rule windows and the commit observer all see it like any other host.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dozor/common/crypto.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/sqlite/sqlite_store_internal.hpp"
#include "store/sqlite/statement_helpers.hpp"
#include "store/sqlite/store_rows.hpp"

namespace dozor::server {
namespace {

constexpr int kMaxImportList = 10000;
// An imported host's secret hash starts with '!', which Sha256Hex never produces, so no agent
// secret can ever match it: a snapshot host cannot open an ingest stream.
constexpr std::string_view kUnusableSecretPrefix = "!import:";

constexpr const char* kImportColumns =
    "SELECT i.id, i.org_id, i.sha256, a.agent_id, i.hostname, i.machine_id, i.agent_version, "
    "i.collected_at, i.imported_at, i.actor, i.outcome FROM imports i "
    "JOIN agents a ON a.id = i.agent ";

ImportRecord ReadImport(const sqlite::Statement& s) {
  ImportRecord record;
  record.id = s.Int(0);
  record.org_id = s.Int(1);
  record.sha256 = s.Text(2);
  record.agent_id = s.Text(3);
  record.hostname = s.Text(4);
  record.machine_id = s.Text(5);
  record.agent_version = s.Text(6);
  record.collected_at_ms = s.Int(7);
  record.imported_at_ms = s.Int(8);
  record.actor = s.Text(9);
  record.outcome = ParseImportOutcome(s.Text(10)).value_or(ImportOutcome::kStale);
  return record;
}

}  // namespace

Result<std::vector<EnrollmentTokenKey>> SqliteStore::FindEnrollmentTokensByHint(
    int64_t org_id, std::string_view hint) {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto statement,
      reader->db.Prepare(
          "SELECT t.id, t.org_id, t.hint, t.token_hash, t.expires_at, k.wrapped_key "
          "FROM enrollment_tokens t "
          "LEFT JOIN enrollment_token_import_keys k ON k.token_id = t.id "
          "WHERE t.org_id = ? AND t.hint = ? AND t.revoked_at IS NULL ORDER BY t.id"));
  return ReadAll(BindAll(statement, org_id, hint), [](const sqlite::Statement& s) {
    EnrollmentTokenKey key{s.Int(0),  s.Int(1),          s.Text(2),
                           s.Text(3), OptionalInt(s, 4), std::nullopt};
    if (!s.IsNull(5)) {
      key.wrapped_import_key = s.Text(5);
    }
    return key;
  });
}

Status SqliteStore::SaveTokenImportKey(int64_t token_id, std::string_view wrapped_key,
                                       int64_t now_ms) {
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(auto token,
                         writer_.Prepare("SELECT 1 FROM enrollment_tokens WHERE id = ?"));
  DOZOR_ASSIGN_OR_RETURN(const bool exists, HasRow(BindAll(token, token_id)));
  if (!exists) {
    return MakeError(ErrorCode::kNotFound,
                     "enrollment token " + std::to_string(token_id) + " not found");
  }
  DOZOR_ASSIGN_OR_RETURN(
      auto insert,
      writer_.Prepare("INSERT INTO enrollment_token_import_keys(token_id, wrapped_key, created_at) "
                      "VALUES (?, ?, ?) ON CONFLICT(token_id) DO NOTHING"));
  DOZOR_RETURN_IF_ERROR(RunWith(insert, token_id, wrapped_key, now_ms));
  if (writer_.Changes() == 0) {
    // A key is set once, when the token is issued: never replaced by a later caller.
    return MakeError(ErrorCode::kAlreadyExists,
                     "enrollment token " + std::to_string(token_id) + " already has an import key");
  }
  return txn.Commit();
}

Result<std::vector<StoredImportKey>> SqliteStore::ListImportKeys() {
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto statement,
      reader->db.Prepare("SELECT k.token_id, t.org_id, k.wrapped_key FROM "
                         "enrollment_token_import_keys k JOIN enrollment_tokens t ON t.id = "
                         "k.token_id ORDER BY k.token_id"));
  return ReadAll(statement, [](const sqlite::Statement& s) {
    return StoredImportKey{s.Int(0), s.Int(1), s.Text(2)};
  });
}

Status SqliteStore::ReplaceImportKeys(const std::vector<ImportKeyReplacement>& replacements) {
  std::lock_guard lock(write_mu_);
  sqlite::Transaction txn(writer_);
  DOZOR_RETURN_IF_ERROR(txn.Begin());
  DOZOR_ASSIGN_OR_RETURN(auto update,
                         writer_.Prepare("UPDATE enrollment_token_import_keys SET wrapped_key = ? "
                                         "WHERE token_id = ? AND wrapped_key = ?"));
  for (const ImportKeyReplacement& replacement : replacements) {
    DOZOR_RETURN_IF_ERROR(
        RunWith(update, replacement.wrapped_key, replacement.token_id, replacement.expected));
    if (writer_.Changes() != 1) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "the import key of enrollment token " +
                           std::to_string(replacement.token_id) +
                           " changed meanwhile; nothing was replaced");
    }
  }
  return txn.Commit();
}

Result<std::vector<ImportRecord>> SqliteStore::ListImports(int64_t org_id, int limit) {
  limit = std::clamp(limit, 1, kMaxImportList);
  ReaderLease reader = AcquireReader();
  DOZOR_ASSIGN_OR_RETURN(
      auto statement,
      reader->db.Prepare(std::string(kImportColumns) +
                         "WHERE i.org_id = ? ORDER BY i.imported_at DESC, i.id DESC LIMIT ?"));
  return ReadAll(BindAll(statement, org_id, limit), ReadImport);
}

Result<ImportResult> SqliteStore::ImportSnapshot(const SnapshotImport& import) {
  DOZOR_RETURN_IF_ERROR(CheckSnapshotImport(import));
  const std::string agent_id = ImportedAgentId(import.org_id, import.machine_id);
  DOZOR_ASSIGN_OR_RETURN(std::string secret, RandomHex(32));
  const std::string secret_hash = std::string(kUnusableSecretPrefix) + secret;
  std::string health_bytes;
  if (import.health && !import.health->health().SerializeToString(&health_bytes)) {
    return MakeError(ErrorCode::kInvalidArgument, "import: health sample could not be encoded");
  }

  ImportResult result;
  std::vector<CommittedHost> committed;
  {
    std::lock_guard lock(write_mu_);
    auto status = [&]() -> Status {
      sqlite::Transaction txn(writer_);
      DOZOR_RETURN_IF_ERROR(txn.Begin());

      DOZOR_ASSIGN_OR_RETURN(auto find_import,
                             writer_.Prepare(std::string(kImportColumns) + "WHERE i.sha256 = ?"));
      DOZOR_ASSIGN_OR_RETURN(auto existing,
                             ReadOptional(BindAll(find_import, import.sha256), ReadImport));
      if (existing) {
        if (existing->org_id != import.org_id) {
          return MakeError(ErrorCode::kAlreadyExists,
                           "this file was already imported into another organisation");
        }
        result.record = std::move(*existing);
        result.duplicate = true;
        return OkStatus();  // the transaction rolls back: it wrote nothing
      }

      struct HostRow {
        int64_t pk = 0;
        int64_t org_id = 0;
        std::string source;
        bool revoked = false;
        int64_t last_inventory_at = 0;
      };
      DOZOR_ASSIGN_OR_RETURN(
          auto host_lookup,
          writer_.Prepare("SELECT id, org_id, source, revoked_at IS NOT NULL, last_inventory_at "
                          "FROM agents WHERE agent_id = ?"));
      DOZOR_ASSIGN_OR_RETURN(
          auto host, ReadOptional(BindAll(host_lookup, agent_id), [](const auto& s) {
            return HostRow{s.Int(0), s.Int(1), s.Text(2), s.Int(3) != 0, s.Int(4)};
          }));
      const bool created = !host;
      if (created) {
        DOZOR_ASSIGN_OR_RETURN(
            auto insert_host,
            writer_.Prepare("INSERT INTO agents(agent_id, org_id, secret_hash, hostname, "
                            "machine_id, agent_version, os, enrolled_at, source) "
                            "VALUES (?, ?, ?, ?, ?, ?, '', ?, 'import')"));
        DOZOR_RETURN_IF_ERROR(RunWith(insert_host, agent_id, import.org_id, secret_hash,
                                      import.hostname, import.machine_id, import.agent_version,
                                      import.now_ms));
        host = HostRow{writer_.LastInsertRowId(), import.org_id, "import", false, 0};
      } else if (host->org_id != import.org_id || host->source != "import") {
        // Only a SHA-256 prefix collision could get here; refuse rather than mix two hosts.
        return MakeError(ErrorCode::kInternal,
                         "imported host id " + agent_id + " is taken by another host");
      } else if (host->revoked) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "the imported host " + agent_id +
                             " was revoked; snapshots of this machine are no longer accepted");
      }
      const ImportOutcome outcome = DecideImportOutcome(
          created ? std::nullopt : std::optional<int64_t>(host->last_inventory_at),
          import.inventory.collected_at_ms());

      if (outcome != ImportOutcome::kStale) {
        DOZOR_ASSIGN_OR_RETURN(CachedAgent * agent, LookupAgentLocked(agent_id));
        if (agent == nullptr) {
          return MakeError(ErrorCode::kInternal, "imported host " + agent_id + " vanished");
        }
        // The file's own seq numbers mean nothing here: a snapshot continues the host's sequence.
        std::vector<IncomingReport> batch;
        BatchPrework prework;
        auto add = [&](const dozor::v1::Report& report, std::string bytes) {
          IncomingReport item;
          item.agent_id = agent_id;
          item.report = report;
          item.report.set_seq(agent->last_seq + batch.size() + 1);
          if (item.report.agent_version().empty()) {
            item.report.set_agent_version(import.agent_version);
          }
          // Received "when collected": the delay until import is not clock skew, and last_seen
          // tells when the machine was actually looked at.
          item.received_at_ms = report.collected_at_ms();
          batch.push_back(std::move(item));
          prework.encoded.push_back(std::move(bytes));
        };
        add(import.inventory, "");
        if (import.health) {
          add(*import.health, health_bytes);
        }
        prework.unencodable.assign(batch.size(), false);
        std::vector<CommitResult> results;
        std::unordered_map<std::string, CachedAgent> saved;
        DOZOR_RETURN_IF_ERROR(WriteBatchLocked(batch, prework, results, saved, committed));
        for (const auto& commit : results) {
          if (commit.outcome != CommitOutcome::kStored) {
            return MakeError(ErrorCode::kInternal, "imported report not stored: " + commit.reason);
          }
        }
        DOZOR_ASSIGN_OR_RETURN(
            auto rename,
            writer_.Prepare("UPDATE agents SET hostname = ?2 WHERE id = ?1 AND ?2 <> ''"));
        DOZOR_RETURN_IF_ERROR(RunWith(rename, host->pk, import.hostname));
      }

      DOZOR_ASSIGN_OR_RETURN(
          auto record,
          writer_.Prepare("INSERT INTO imports(org_id, sha256, agent, hostname, machine_id, "
                          "agent_version, collected_at, imported_at, actor, token_id, outcome) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
      DOZOR_RETURN_IF_ERROR(RunWith(record, import.org_id, import.sha256, host->pk, import.hostname,
                                    import.machine_id, import.agent_version,
                                    import.inventory.collected_at_ms(), import.now_ms, import.actor,
                                    import.token_id, outcome));
      result.record.id = writer_.LastInsertRowId();
      DOZOR_RETURN_IF_ERROR(txn.Commit());
      result.record.org_id = import.org_id;
      result.record.sha256 = import.sha256;
      result.record.agent_id = agent_id;
      result.record.hostname = import.hostname;
      result.record.machine_id = import.machine_id;
      result.record.agent_version = import.agent_version;
      result.record.collected_at_ms = import.inventory.collected_at_ms();
      result.record.imported_at_ms = import.now_ms;
      result.record.actor = import.actor;
      result.record.outcome = outcome;
      return OkStatus();
    }();
    if (!status.ok()) {
      // The rollback undid the host row and its sequence; drop what the cache learnt meanwhile.
      agent_cache_.erase(agent_id);
      committed.clear();
      return status.error();
    }
  }
  // After COMMIT and outside write_mu_, like CommitReports: the rule engine sees the host.
  if (!committed.empty()) {
    NotifyCommitted(committed);
  }
  if (!result.duplicate) {
    spdlog::info("store: imported snapshot of {} ({}) into org {} as {}: {}", import.hostname,
                 import.machine_id, import.org_id, agent_id, ToString(result.record.outcome));
  }
  return result;
}

}  // namespace dozor::server
