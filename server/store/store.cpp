#include "store/store.hpp"

#include "dozor/common/crypto.hpp"

namespace dozor::server {

bool IsValidContractStatus(std::string_view value) {
  return value == "prospect" || value == "remediation" || value == "active" || value == "ended";
}

bool IsValidContractType(std::string_view value) {
  return value == "technical" || value == "application" || value == "complex";
}

bool IsAllowedContractMove(std::string_view from, std::string_view to) {
  // prospect -> remediation | active; remediation -> active | prospect; active -> ended;
  // ended -> prospect (re-audit of a former client).
  return (from == "prospect" && (to == "remediation" || to == "active")) ||
         (from == "remediation" && (to == "active" || to == "prospect")) ||
         (from == "active" && to == "ended") || (from == "ended" && to == "prospect");
}

std::string ImportedAgentId(int64_t org_id, std::string_view machine_id) {
  const std::string key = std::to_string(org_id) + ":" + std::string(machine_id);
  return "snap-" + Sha256Hex(key).substr(0, 16);
}

namespace {
Error NoImports() {
  return MakeError(ErrorCode::kFailedPrecondition, "this store does not support imports");
}
}  // namespace

Result<std::vector<EnrollmentTokenKey>> Store::FindEnrollmentTokensByHint(int64_t /*org_id*/,
                                                                          std::string_view /*hint*/) {
  return NoImports();
}

Result<ImportResult> Store::ImportSnapshot(const SnapshotImport& /*import*/) { return NoImports(); }

Result<std::vector<ImportRecord>> Store::ListImports(int64_t /*org_id*/, int /*limit*/) {
  return NoImports();
}

}  // namespace dozor::server
