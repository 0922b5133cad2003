#include "domain/contract.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "domain/enum_spelling.hpp"

namespace dozor::server {
namespace {

constexpr enum_spelling::Table<ContractPhase, 4> kPhases = {
    {{ContractPhase::kProspect, "prospect"},
     {ContractPhase::kRemediation, "remediation"},
     {ContractPhase::kActive, "active"},
     {ContractPhase::kEnded, "ended"}}};

constexpr enum_spelling::Table<ContractType, 3> kTypes = {
    {{ContractType::kTechnical, "technical"},
     {ContractType::kApplication, "application"},
     {ContractType::kComplex, "complex"}}};

constexpr enum_spelling::Table<AuditSnapshotKind, 2> kSnapshotKinds = {
    {{AuditSnapshotKind::kFirstAudit, "first-audit"}, {AuditSnapshotKind::kSigning, "signing"}}};

}  // namespace

std::string_view ToString(ContractPhase phase) { return enum_spelling::Spell(kPhases, phase); }
std::optional<ContractPhase> ParseContractPhase(std::string_view text) {
  return enum_spelling::Lookup(kPhases, text);
}

std::string_view ToString(ContractType type) { return enum_spelling::Spell(kTypes, type); }
std::optional<ContractType> ParseContractType(std::string_view text) {
  return enum_spelling::Lookup(kTypes, text);
}

std::string_view ToString(AuditSnapshotKind kind) {
  return enum_spelling::Spell(kSnapshotKinds, kind);
}
std::optional<AuditSnapshotKind> ParseAuditSnapshotKind(std::string_view text) {
  return enum_spelling::Lookup(kSnapshotKinds, text);
}

bool IsAllowedContractMove(ContractPhase from, ContractPhase to) {
  using P = ContractPhase;
  switch (from) {
    case P::kProspect:
      return to == P::kRemediation || to == P::kActive;
    case P::kRemediation:
      return to == P::kActive || to == P::kProspect;
    case P::kActive:
      return to == P::kEnded;
    case P::kEnded:
      return to == P::kProspect;
  }
  return false;
}

int64_t CurrentEngagementStartMs(const std::vector<ContractEvent>& events) {
  int64_t start = 0;
  for (const auto& event : events) {
    if (event.from_status == ContractPhase::kEnded && event.to_status == ContractPhase::kProspect) {
      start = std::max(start, event.at_ms);
    }
  }
  return start;
}

Result<ContractMove> PlanContractMove(ContractPhase from, ContractPhase to,
                                      bool first_audit_in_engagement) {
  ContractMove move;
  move.from = from;
  move.to = to;
  if (from == to) {
    return move;
  }
  if (!IsAllowedContractMove(from, to)) {
    return MakeError(ErrorCode::kFailedPrecondition, "contract status cannot move from '" +
                                                         std::string(ToString(from)) + "' to '" +
                                                         std::string(ToString(to)) + "'");
  }
  move.moves = true;
  if (to == ContractPhase::kRemediation && !first_audit_in_engagement) {
    move.snapshot = AuditSnapshotKind::kFirstAudit;
  } else if (to == ContractPhase::kActive) {
    move.snapshot = AuditSnapshotKind::kSigning;
  }
  return move;
}

void to_json(nlohmann::json& out, ContractPhase value) { out = ToString(value); }
void to_json(nlohmann::json& out, ContractType value) { out = ToString(value); }
void to_json(nlohmann::json& out, AuditSnapshotKind value) { out = ToString(value); }

}  // namespace dozor::server
