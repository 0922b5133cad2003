#include "store/import_store.hpp"

#include "domain/finding_lifecycle.hpp"
#include "dozor/common/crypto.hpp"

namespace dozor::server {
namespace {

constexpr size_t kMaxImportTextBytes = 512;

bool IsLowerHexDigits(std::string_view text) {
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Status CheckSnapshotImport(const SnapshotImport& import) {
  auto invalid = [](const std::string& what) {
    return MakeError(ErrorCode::kInvalidArgument, "import: " + what);
  };
  if (import.org_id <= 0) {
    return invalid("organisation is required");
  }
  if (import.sha256.size() != 64 || !IsLowerHexDigits(import.sha256)) {
    return invalid("sha256 must be 64 lower-case hex characters");
  }
  if (import.machine_id.empty()) {
    return invalid("machine_id is required");
  }
  if (import.machine_id.size() > kMaxImportTextBytes ||
      import.hostname.size() > kMaxImportTextBytes ||
      import.agent_version.size() > kMaxImportTextBytes) {
    return invalid("machine_id, hostname and agent_version are limited to 512 bytes");
  }
  if (import.actor.size() > kMaxActorBytes) {
    return invalid("actor is limited to 200 bytes");
  }
  if (!import.inventory.has_inventory()) {
    return invalid("the snapshot carries no inventory");
  }
  if (import.health && !import.health->has_health()) {
    return invalid("the health part of the snapshot carries no health sample");
  }
  return OkStatus();
}

std::string ImportedAgentId(int64_t org_id, std::string_view machine_id) {
  const std::string key = std::to_string(org_id) + ":" + std::string(machine_id);
  return "snap-" + Sha256Hex(key).substr(0, 16);
}

Status SaveImportKeyForNewToken(ImportStore& store, const ImportKeyWrapper& wrapper,
                                const ImportKeyOwner& owner, std::string_view plaintext_token,
                                int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(const std::string import_key, SnapshotImportKey(plaintext_token));
  DOZOR_ASSIGN_OR_RETURN(const std::string wrapped, wrapper.Wrap(owner, import_key));
  return store.SaveTokenImportKey(owner.token_id, wrapped, now_ms);
}

Result<ImportKeyRotation> RotateImportKeys(ImportStore& store, const ImportKeyWrapper& from,
                                           const ImportKeyWrapper& to) {
  DOZOR_ASSIGN_OR_RETURN(std::vector<StoredImportKey> keys, store.ListImportKeys());
  ImportKeyRotation rotation;
  std::vector<ImportKeyReplacement> replacements;
  for (StoredImportKey& key : keys) {
    const ImportKeyOwner owner{key.org_id, key.token_id};
    if (ImportKeyWrapper::KeyIdOf(key.wrapped_key) == to.key_id()) {
      ++rotation.already;
      continue;
    }
    auto import_key = from.Unwrap(owner, key.wrapped_key);
    if (!import_key.ok()) {
      rotation.unreadable.push_back(import_key.error().message);
      continue;
    }
    DOZOR_ASSIGN_OR_RETURN(std::string rewrapped, to.Wrap(owner, *import_key));
    replacements.push_back({key.token_id, std::move(key.wrapped_key), std::move(rewrapped)});
  }
  if (!replacements.empty()) {
    DOZOR_RETURN_IF_ERROR(store.ReplaceImportKeys(replacements));
  }
  rotation.rewrapped = static_cast<int>(replacements.size());
  return rotation;
}

Result<int64_t> VerifyImportSigner(ImportStore& store, const ImportKeyWrapper* wrapper,
                                   int64_t org_id, const SnapshotEnvelope& envelope) {
  DOZOR_ASSIGN_OR_RETURN(auto tokens,
                         store.FindEnrollmentTokensByHint(org_id, envelope.token_hint));
  std::vector<ImportSignerCandidate> candidates;
  candidates.reserve(tokens.size());
  for (auto& token : tokens) {
    candidates.push_back(ImportSignerCandidate{token.id, token.org_id, std::move(token.hint),
                                               std::move(token.wrapped_import_key)});
  }
  return FindImportSigner(envelope, candidates, wrapper);
}

}  // namespace dozor::server
