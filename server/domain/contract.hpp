// A client's contract: its phase, its type, and the moves between phases with the audit snapshot
// each move records. Pure: the store loads the organisation's history, asks PlanContractMove and
// writes what it answers.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dozor/common/result.hpp"

namespace dozor::server {

enum class ContractPhase { kProspect, kRemediation, kActive, kEnded };

std::string_view ToString(ContractPhase phase);
std::optional<ContractPhase> ParseContractPhase(std::string_view text);

enum class ContractType { kTechnical, kApplication, kComplex };

std::string_view ToString(ContractType type);
std::optional<ContractType> ParseContractType(std::string_view text);

// first-audit: the estate as found when remediation starts; signing: the baseline the client
// signs when the contract becomes active.
enum class AuditSnapshotKind { kFirstAudit, kSigning };

std::string_view ToString(AuditSnapshotKind kind);
std::optional<AuditSnapshotKind> ParseAuditSnapshotKind(std::string_view text);

// One recorded phase move.
struct ContractEvent {
  int64_t at_ms = 0;
  std::string actor;
  ContractPhase from_status = ContractPhase::kProspect;
  ContractPhase to_status = ContractPhase::kProspect;
};

// True if the move from -> to is allowed (same phase is a no-op, not a move):
// prospect -> remediation | active; remediation -> active | prospect; active -> ended;
// ended -> prospect (re-audit of a former client).
bool IsAllowedContractMove(ContractPhase from, ContractPhase to);

// The start of the current engagement: the time of the last ended -> prospect move in `events`
// (any order), or 0 when the client was never re-audited.
int64_t CurrentEngagementStartMs(const std::vector<ContractEvent>& events);

struct ContractMove {
  bool moves = false;  // false: same phase, nothing to record
  ContractPhase from = ContractPhase::kProspect;
  ContractPhase to = ContractPhase::kProspect;
  // The snapshot this move records: first-audit on entering remediation (once per engagement),
  // signing on every entry into active.
  std::optional<AuditSnapshotKind> snapshot;
};

// Decides a phase change. `first_audit_in_engagement`: a first-audit snapshot exists at or after
// CurrentEngagementStartMs. kFailedPrecondition for a move that is not allowed.
Result<ContractMove> PlanContractMove(ContractPhase from, ContractPhase to,
                                      bool first_audit_in_engagement);

// JSON spells each enum as ToString does, so an enum never reaches JSON as a number.
void to_json(nlohmann::json& out, ContractPhase value);
void to_json(nlohmann::json& out, ContractType value);
void to_json(nlohmann::json& out, AuditSnapshotKind value);

}  // namespace dozor::server
