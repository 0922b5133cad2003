#include "store/import_store.hpp"

#include "dozor/common/crypto.hpp"

namespace dozor::server {

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
