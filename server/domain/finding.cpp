#include "domain/finding.hpp"

#include <nlohmann/json.hpp>

#include "domain/enum_spelling.hpp"

namespace dozor::server {
namespace {

using enum_spelling::Lookup;
using enum_spelling::Spell;

constexpr enum_spelling::Table<Severity, 5> kSeverities = {{{Severity::kCritical, "critical"},
                                                            {Severity::kHigh, "high"},
                                                            {Severity::kMedium, "medium"},
                                                            {Severity::kLow, "low"},
                                                            {Severity::kInfo, "info"}}};

constexpr enum_spelling::Table<FindingState, 5> kStates = {
    {{FindingState::kOpen, "open"},
     {FindingState::kAcknowledged, "acknowledged"},
     {FindingState::kResolved, "resolved"},
     {FindingState::kRegressed, "regressed"},
     {FindingState::kWaived, "waived"}}};

constexpr enum_spelling::Table<FindingEventKind, 12> kEventKinds = {
    {{FindingEventKind::kOpened, "opened"},
     {FindingEventKind::kAcknowledged, "acknowledged"},
     {FindingEventKind::kResolved, "resolved"},
     {FindingEventKind::kRegressed, "regressed"},
     {FindingEventKind::kWaived, "waived"},
     {FindingEventKind::kWaiveExpired, "waive_expired"},
     {FindingEventKind::kUnwaived, "unwaived"},
     {FindingEventKind::kComment, "comment"},
     {FindingEventKind::kVerifyRequested, "verify_requested"},
     {FindingEventKind::kVerifyConfirmed, "verify_confirmed"},
     {FindingEventKind::kVerifyFailed, "verify_failed"},
     {FindingEventKind::kWaiverAccepted, "waiver_accepted"}}};

}  // namespace

std::string_view ToString(Severity severity) { return Spell(kSeverities, severity); }
std::optional<Severity> ParseSeverity(std::string_view text) { return Lookup(kSeverities, text); }

std::string_view ToString(FindingState state) { return Spell(kStates, state); }
std::optional<FindingState> ParseFindingState(std::string_view text) {
  return Lookup(kStates, text);
}

bool IsActive(FindingState state) { return state != FindingState::kResolved; }

std::string_view ToString(FindingEventKind kind) { return Spell(kEventKinds, kind); }
std::optional<FindingEventKind> ParseFindingEventKind(std::string_view text) {
  return Lookup(kEventKinds, text);
}

void to_json(nlohmann::json& out, Severity value) { out = ToString(value); }
void to_json(nlohmann::json& out, FindingState value) { out = ToString(value); }
void to_json(nlohmann::json& out, FindingEventKind value) { out = ToString(value); }

}  // namespace dozor::server
