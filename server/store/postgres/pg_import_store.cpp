#include "store/postgres/pg_import_store.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <vector>

#include "domain/snapshot_import.hpp"
#include "dozor/common/crypto.hpp"
#include "store/postgres/pg_store_internal.hpp"

namespace dozor::server {

using namespace pg_store_internal;  // NOLINT(google-build-using-namespace)

namespace {

constexpr int kMaxImportList = 10000;
// An imported host's secret hash starts with '!', which Sha256Hex never produces, so no agent
// secret can ever match it: a snapshot host cannot open an ingest stream.
constexpr std::string_view kUnusableSecretPrefix = "!import:";

constexpr const char* kImportColumns =
    "SELECT i.id, i.org_id, i.sha256, a.agent_id, i.hostname, i.machine_id, i.agent_version, "
    "i.collected_at, i.imported_at, i.actor, i.outcome FROM imports i "
    "JOIN agents a ON a.org_id = i.org_id AND a.id = i.agent ";

ImportRecord ReadImportRow(const pg::Rows& rows, int row) {
  ImportRecord record;
  record.id = rows.Int(row, 0);
  record.org_id = rows.Int(row, 1);
  record.sha256 = rows.Text(row, 2);
  record.agent_id = rows.Text(row, 3);
  record.hostname = rows.Text(row, 4);
  record.machine_id = rows.Text(row, 5);
  record.agent_version = rows.Text(row, 6);
  record.collected_at_ms = rows.Int(row, 7);
  record.imported_at_ms = rows.Int(row, 8);
  record.actor = rows.Text(row, 9);
  record.outcome = ParseImportOutcome(rows.Text(row, 10)).value_or(ImportOutcome::kStale);
  return record;
}

}  // namespace

Result<std::vector<EnrollmentTokenKey>> PgImportStore::FindEnrollmentTokensByHint(
    int64_t org_id, std::string_view hint) {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(
      pg::Rows rows,
      db->Query("SELECT t.id, t.org_id, t.hint, t.token_hash, t.expires_at, k.wrapped_key "
                "FROM enrollment_tokens t LEFT JOIN enrollment_token_import_keys k ON "
                "k.org_id = t.org_id AND k.token_id = t.id WHERE t.org_id = $1 AND t.hint = $2 "
                "AND t.revoked_at IS NULL ORDER BY t.id",
                pg::Params(org_id, hint)));
  std::vector<EnrollmentTokenKey> out;
  for (int row = 0; row < rows.size(); ++row) {
    out.push_back(EnrollmentTokenKey{rows.Int(row, 0), rows.Int(row, 1), rows.Text(row, 2),
                                     rows.Text(row, 3), rows.OptionalInt(row, 4),
                                     rows.OptionalText(row, 5)});
  }
  return out;
}

Status PgImportStore::SaveTokenImportKey(int64_t token_id, std::string_view wrapped_key,
                                         int64_t now_ms) {
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Status {
    DOZOR_ASSIGN_OR_RETURN(
        pg::Rows token,
        db.Query("SELECT org_id FROM enrollment_tokens WHERE id = $1", pg::Params(token_id)));
    if (token.empty()) {
      return MakeError(ErrorCode::kNotFound,
                       "enrollment token " + std::to_string(token_id) + " not found");
    }
    DOZOR_ASSIGN_OR_RETURN(
        int64_t inserted,
        db.Run("INSERT INTO enrollment_token_import_keys(org_id, token_id, wrapped_key, "
               "created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, token_id) DO NOTHING",
               pg::Params(token.Int(0, 0), token_id, wrapped_key, now_ms)));
    if (inserted == 0) {
      // A key is set once, when the token is issued: never replaced by a later caller.
      return MakeError(ErrorCode::kAlreadyExists, "enrollment token " + std::to_string(token_id) +
                                                      " already has an import key");
    }
    return OkStatus();
  });
}

Result<std::vector<StoredImportKey>> PgImportStore::ListImportKeys() {
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows,
                         db->Query("SELECT token_id, org_id, wrapped_key FROM "
                                   "enrollment_token_import_keys ORDER BY token_id"));
  std::vector<StoredImportKey> keys;
  for (int row = 0; row < rows.size(); ++row) {
    keys.push_back({rows.Int(row, 0), rows.Int(row, 1), rows.Text(row, 2)});
  }
  return keys;
}

Status PgImportStore::ReplaceImportKeys(const std::vector<ImportKeyReplacement>& replacements) {
  return pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Status {
    for (const ImportKeyReplacement& replacement : replacements) {
      DOZOR_ASSIGN_OR_RETURN(
          int64_t updated,
          db.Run("UPDATE enrollment_token_import_keys SET wrapped_key = $1 WHERE token_id = $2 "
                 "AND wrapped_key = $3",
                 pg::Params(replacement.wrapped_key, replacement.token_id, replacement.expected)));
      if (updated != 1) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "the import key of enrollment token " +
                             std::to_string(replacement.token_id) +
                             " changed meanwhile; nothing was replaced");
      }
    }
    return OkStatus();
  });
}

Result<std::vector<ImportRecord>> PgImportStore::ListImports(int64_t org_id, int limit) {
  limit = std::clamp(limit, 1, kMaxImportList);
  DOZOR_ASSIGN_OR_RETURN(auto db, context_.pool.Acquire());
  DOZOR_ASSIGN_OR_RETURN(pg::Rows rows,
                         db->Query(std::string(kImportColumns) +
                                       "WHERE i.org_id = $1 ORDER BY i.imported_at DESC, i.id "
                                       "DESC LIMIT $2",
                                   pg::Params(org_id, limit)));
  std::vector<ImportRecord> out;
  for (int row = 0; row < rows.size(); ++row) {
    out.push_back(ReadImportRow(rows, row));
  }
  return out;
}

Result<ImportResult> PgImportStore::ImportSnapshot(const SnapshotImport& import) {
  DOZOR_RETURN_IF_ERROR(CheckSnapshotImport(import));
  const std::string agent_id = ImportedAgentId(import.org_id, import.machine_id);
  DOZOR_ASSIGN_OR_RETURN(std::string secret, RandomHex(32));
  const std::string secret_hash = std::string(kUnusableSecretPrefix) + secret;
  std::string health_bytes;
  if (import.health && !import.health->health().SerializeToString(&health_bytes)) {
    return MakeError(ErrorCode::kInvalidArgument, "import: health sample could not be encoded");
  }
  std::vector<int64_t> sample_times;
  if (import.health) {
    sample_times.push_back(import.health->collected_at_ms());
  }
  DOZOR_RETURN_IF_ERROR(hosts_.health_partitions().EnsureFor(sample_times, context_.clock.NowMs()));

  std::vector<CommittedHost> committed;
  DOZOR_ASSIGN_OR_RETURN(
      ImportResult result,
      pg::InTransaction(context_.pool, [&](pg::Connection& db) -> Result<ImportResult> {
        committed.clear();
        ImportResult result;
        // Two imports of one file at once: the second waits on the first's row, then sees it.
        DOZOR_RETURN_IF_ERROR(db.Query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                                       pg::Params("dozor-import:" + import.sha256)));
        DOZOR_ASSIGN_OR_RETURN(pg::Rows existing,
                               db.Query(std::string(kImportColumns) + "WHERE i.sha256 = $1",
                                        pg::Params(import.sha256)));
        if (!existing.empty()) {
          ImportRecord record = ReadImportRow(existing, 0);
          if (record.org_id != import.org_id) {
            return MakeError(ErrorCode::kAlreadyExists,
                             "this file was already imported into another organisation");
          }
          result.record = std::move(record);
          result.duplicate = true;
          return result;
        }
        // Two different files of one machine at once: the host row is created once.
        DOZOR_RETURN_IF_ERROR(db.Query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                                       pg::Params("dozor-import-host:" + agent_id)));
        DOZOR_ASSIGN_OR_RETURN(
            pg::Rows host,
            db.Query("SELECT id, org_id, source, revoked_at IS NOT NULL, last_inventory_at FROM "
                     "agents WHERE agent_id = $1",
                     pg::Params(agent_id)));
        const bool created = host.empty();
        int64_t pk = 0;
        std::optional<int64_t> last_inventory;
        if (created) {
          DOZOR_ASSIGN_OR_RETURN(
              pg::Rows inserted,
              db.Query("INSERT INTO agents(agent_id, org_id, secret_hash, hostname, machine_id, "
                       "agent_version, os, enrolled_at, source) VALUES ($1, $2, $3, $4, $5, $6, "
                       "'', $7, 'import') RETURNING id",
                       pg::Params(agent_id, import.org_id, secret_hash, import.hostname,
                                  import.machine_id, import.agent_version, import.now_ms)));
          pk = inserted.Int(0, 0);
        } else if (host.Int(0, 1) != import.org_id || host.Text(0, 2) != "import") {
          // Only a SHA-256 prefix collision could get here; refuse rather than mix two hosts.
          return MakeError(ErrorCode::kInternal,
                           "imported host id " + agent_id + " is taken by another host");
        } else if (host.Bool(0, 3)) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "the imported host " + agent_id +
                               " was revoked; snapshots of this machine are no longer accepted");
        } else {
          pk = host.Int(0, 0);
          last_inventory = host.Int(0, 4);
        }
        const ImportOutcome outcome =
            DecideImportOutcome(last_inventory, import.inventory.collected_at_ms());
        if (outcome != ImportOutcome::kStale) {
          DOZOR_ASSIGN_OR_RETURN(pg::Rows seq, db.Query("SELECT last_seq FROM agents WHERE org_id "
                                                        "= $1 AND id = $2",
                                                        pg::Params(import.org_id, pk)));
          const uint64_t last_seq = static_cast<uint64_t>(seq.Int(0, 0));
          // The file's own seq numbers mean nothing here: a snapshot continues the host's
          // sequence.
          std::vector<IncomingReport> batch;
          std::vector<std::string> encoded;
          auto add = [&](const dozor::v1::Report& report, std::string bytes) {
            IncomingReport item;
            item.agent_id = agent_id;
            item.report = report;
            item.report.set_seq(last_seq + batch.size() + 1);
            if (item.report.agent_version().empty()) {
              item.report.set_agent_version(import.agent_version);
            }
            // Received "when collected": the delay until import is not clock skew, and last_seen
            // tells when the machine was actually looked at.
            item.received_at_ms = report.collected_at_ms();
            batch.push_back(std::move(item));
            encoded.push_back(std::move(bytes));
          };
          add(import.inventory, "");
          if (import.health) {
            add(*import.health, health_bytes);
          }
          std::vector<CommitResult> results;
          DOZOR_RETURN_IF_ERROR(
              hosts_.WriteReportsIn(db, batch, std::move(encoded), &results, &committed));
          for (const auto& commit : results) {
            if (commit.outcome != CommitOutcome::kStored) {
              return MakeError(ErrorCode::kInternal,
                               "imported report not stored: " + commit.reason);
            }
          }
          DOZOR_RETURN_IF_ERROR(
              db.Run("UPDATE agents SET hostname = $3 WHERE org_id = $1 AND id "
                     "= $2 AND $3 <> ''",
                     pg::Params(import.org_id, pk, import.hostname)));
        }
        DOZOR_ASSIGN_OR_RETURN(
            pg::Rows recorded,
            db.Query(
                "INSERT INTO imports(org_id, sha256, agent, hostname, machine_id, "
                "agent_version, collected_at, imported_at, actor, token_id, outcome) VALUES "
                "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                pg::Params(import.org_id, import.sha256, pk, import.hostname, import.machine_id,
                           import.agent_version, import.inventory.collected_at_ms(), import.now_ms,
                           import.actor, import.token_id, outcome)));
        result.record.id = recorded.Int(0, 0);
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
        return result;
      }));
  // After COMMIT, like CommitReports: the rule engine sees the host.
  if (!committed.empty()) {
    hosts_.NotifyCommitted(committed);
  }
  if (!result.duplicate) {
    spdlog::info("store: imported snapshot of {} ({}) into org {} as {}: {}", import.hostname,
                 import.machine_id, import.org_id, agent_id, ToString(result.record.outcome));
  }
  return result;
}

}  // namespace dozor::server
