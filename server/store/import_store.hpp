// One-shot snapshot files (dozor-agent collect) imported into an organisation.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/import_keys.hpp"
#include "domain/snapshot_import.hpp"
#include "dozor/common/result.hpp"
#include "dozor/contract/snapshot_file.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::server {

// An enrollment token that may have signed an import file (its hint matched), with the key that
// verifies such a file, as stored: wrapped (domain/import_keys.hpp).
struct EnrollmentTokenKey {
  int64_t id = 0;
  int64_t org_id = 0;
  std::string hint;
  // Sha256Hex of the plaintext: identifies the token, and is no key (a database copy holds it).
  std::string token_hash;
  std::optional<int64_t> expires_at_ms;
  // ImportKeyWrapper::Wrap of the token's import key; absent for a token issued before signed
  // imports.
  std::optional<std::string> wrapped_import_key;
};

// One verified snapshot file (dozor-agent collect) to load into an organisation. The caller has
// checked the file's integrity and HMAC and validated both reports like ingest does.
struct SnapshotImport {
  int64_t org_id = 0;
  std::string sha256;  // hex SHA-256 over the file's payload bytes: the duplicate key
  std::string hostname;
  std::string machine_id;  // required: the imported host is keyed by (org, machine_id)
  std::string agent_version;
  std::optional<int64_t> token_id;  // the enrollment token whose key matched the file
  std::string actor;
  int64_t now_ms = 0;
  dozor::v1::Report inventory;              // has_inventory(); its seq is replaced
  std::optional<dozor::v1::Report> health;  // has_health(); its seq is replaced
};

// One recorded import; its outcome is DecideImportOutcome's (domain/snapshot_import.hpp).
struct ImportRecord {
  int64_t id = 0;
  int64_t org_id = 0;
  std::string sha256;
  std::string agent_id;  // the imported host
  std::string hostname;
  std::string machine_id;
  std::string agent_version;
  int64_t collected_at_ms = 0;  // of the inventory
  int64_t imported_at_ms = 0;
  std::string actor;
  ImportOutcome outcome = ImportOutcome::kCreated;
};

struct ImportResult {
  ImportRecord record;
  bool duplicate = false;  // seen before: `record` is that earlier import, nothing changed
};

// The deterministic agent id of an imported host: "snap-" + the first 16 hex characters of
// Sha256Hex("<org_id>:<machine_id>"), so re-imports of one machine land on one host.
std::string ImportedAgentId(int64_t org_id, std::string_view machine_id);

// The checks every backend makes before writing an import: organisation, sha256 (64 lower-case
// hex), machine id, field sizes, an inventory and (if any) a health sample. kInvalidArgument.
[[nodiscard]] Status CheckSnapshotImport(const SnapshotImport& import);

// A token's kept import key with its owner, as stored (for a rotation of the server key).
struct StoredImportKey {
  int64_t token_id = 0;
  int64_t org_id = 0;
  std::string wrapped_key;
};

// One wrapped key to replace, and what it must still be (another writer may have changed it).
struct ImportKeyReplacement {
  int64_t token_id = 0;
  std::string expected;
  std::string wrapped_key;
};

class ImportStore {
 public:
  virtual ~ImportStore() = default;

  // Non-revoked enrollment tokens of the organisation whose hint equals `hint` (expired ones
  // included: a file collected before expiry may be imported later), with their wrapped keys.
  virtual Result<std::vector<EnrollmentTokenKey>> FindEnrollmentTokensByHint(
      int64_t org_id, std::string_view hint) = 0;
  // Keeps the wrapped import key of a token (SaveImportKeyForNewToken below). Set once:
  // kAlreadyExists if the token has one, kNotFound if there is no such token.
  virtual Status SaveTokenImportKey(int64_t token_id, std::string_view wrapped_key,
                                    int64_t now_ms) = 0;
  // Every kept import key, by token id (revoked tokens' too: a rotation leaves none behind).
  virtual Result<std::vector<StoredImportKey>> ListImportKeys() = 0;
  // Replaces wrapped keys, all in one transaction or none: refused when a token's key is no
  // longer `expected` (kFailedPrecondition; the rotation is then run again).
  virtual Status ReplaceImportKeys(const std::vector<ImportKeyReplacement>& replacements) = 0;
  // In one transaction: records the import (kept unique by sha256; a file seen before returns
  // that import with duplicate = true and changes nothing), finds or creates the imported host
  // (agents.source = 'import', a secret that can never authenticate) and, unless the host
  // already holds an inventory at least as new, commits the reports like CommitReports with the
  // next sequence numbers (change log, rule windows and the commit observer included).
  // kAlreadyExists if the file was imported into another organisation, kFailedPrecondition if
  // the imported host was revoked, kInvalidArgument for a malformed import.
  virtual Result<ImportResult> ImportSnapshot(const SnapshotImport& import) = 0;
  // Newest first.
  virtual Result<std::vector<ImportRecord>> ListImports(int64_t org_id, int limit) = 0;
};

// Derives a newly issued token's import key from its plaintext (SnapshotImportKey), wraps it for
// `owner` and saves it. Called once, when the token is issued: the only time the server holds the
// plaintext, so a token issued without it can never verify an import.
[[nodiscard]] Status SaveImportKeyForNewToken(ImportStore& store, const ImportKeyWrapper& wrapper,
                                              const ImportKeyOwner& owner,
                                              std::string_view plaintext_token, int64_t now_ms);

// What RotateImportKeys did.
struct ImportKeyRotation {
  int rewrapped = 0;  // now under the new server key
  int already = 0;    // were under it already (a rotation run again after an interruption)
  // Keys under neither server key, or that do not unwrap: left as they are. Their tokens could
  // not verify an import before the rotation either (the key file was replaced or lost once).
  std::vector<std::string> unreadable;
};

// Rewraps every kept import key from the server key `from` to `to`, in one transaction.
[[nodiscard]] Result<ImportKeyRotation> RotateImportKeys(ImportStore& store,
                                                         const ImportKeyWrapper& from,
                                                         const ImportKeyWrapper& to);

// The id of the organisation's enrollment token whose import key verifies the file's HMAC
// (domain FindImportSigner over the tokens with the file's hint, errors as there).
[[nodiscard]] Result<int64_t> VerifyImportSigner(ImportStore& store,
                                                 const ImportKeyWrapper* wrapper, int64_t org_id,
                                                 const SnapshotEnvelope& envelope);

}  // namespace dozor::server
