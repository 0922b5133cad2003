// The vocabulary of findings: severities, lifecycle states and event kinds, as typed enums.
// Strings exist only at the edges (JSON in server/http, SQL in the store, rule files); each enum
// has ToString (the edge spelling) and Parse (nullopt for an unknown spelling).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <optional>
#include <string_view>

namespace dozor::server {

// Ordered most severe first: a smaller value sorts first in lists and reports.
enum class Severity { kCritical, kHigh, kMedium, kLow, kInfo };

std::string_view ToString(Severity severity);
std::optional<Severity> ParseSeverity(std::string_view text);

enum class FindingState { kOpen, kAcknowledged, kResolved, kRegressed, kWaived };

std::string_view ToString(FindingState state);
std::optional<FindingState> ParseFindingState(std::string_view text);

// Active findings count against the client: every state but resolved.
bool IsActive(FindingState state);

// The states an open finding can be in, in the order reports and filters list them.
inline constexpr FindingState kActiveFindingStates[] = {
    FindingState::kOpen, FindingState::kAcknowledged, FindingState::kRegressed,
    FindingState::kWaived};

enum class FindingEventKind {
  kOpened,
  kAcknowledged,
  kResolved,
  kRegressed,
  kWaived,
  kWaiveExpired,
  kUnwaived,
  kComment,
  // "Fixed — please verify": asked (by a client or engineer), then decided by the next fresh
  // collection of the host: confirmed (the finding resolved) or failed (still present).
  kVerifyRequested,
  kVerifyConfirmed,
  kVerifyFailed,
  // The client's named person accepted a waiver (the risk) on the client's behalf.
  kWaiverAccepted,
};

std::string_view ToString(FindingEventKind kind);
std::optional<FindingEventKind> ParseFindingEventKind(std::string_view text);

// JSON spells each enum as ToString does, so an enum never reaches JSON as a number.
void to_json(nlohmann::json& out, Severity value);
void to_json(nlohmann::json& out, FindingState value);
void to_json(nlohmann::json& out, FindingEventKind value);

}  // namespace dozor::server
