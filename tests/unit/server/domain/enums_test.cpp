// Severities, finding states, event kinds and API roles: one spelling each way.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "domain/api_role.hpp"
#include "domain/finding.hpp"

namespace dozor::server {
namespace {

TEST_CASE("finding enums round-trip through their stored spelling") {
  for (Severity s :
       {Severity::kCritical, Severity::kHigh, Severity::kMedium, Severity::kLow, Severity::kInfo}) {
    CHECK(ParseSeverity(ToString(s)) == s);
  }
  for (FindingState s : {FindingState::kOpen, FindingState::kAcknowledged, FindingState::kResolved,
                         FindingState::kRegressed, FindingState::kWaived}) {
    CHECK(ParseFindingState(ToString(s)) == s);
  }
  CHECK(ToString(FindingEventKind::kWaiveExpired) == "waive_expired");
  CHECK(ParseFindingEventKind("unwaived") == FindingEventKind::kUnwaived);
  CHECK_FALSE(ParseSeverity("huge").has_value());
  CHECK_FALSE(ParseFindingState("").has_value());
}

TEST_CASE("only resolved findings are inactive") {
  CHECK(IsActive(FindingState::kWaived));
  CHECK(IsActive(FindingState::kRegressed));
  CHECK_FALSE(IsActive(FindingState::kResolved));
}

TEST_CASE("severities order most severe first") {
  CHECK(Severity::kCritical < Severity::kHigh);
  CHECK(Severity::kLow < Severity::kInfo);
}

TEST_CASE("API roles parse only the three known words") {
  CHECK(ParseApiRole("admin") == ApiRole::kAdmin);
  CHECK(ParseApiRole("operator") == ApiRole::kOperator);
  CHECK(ParseApiRole("viewer") == ApiRole::kViewer);
  CHECK_FALSE(ParseApiRole("root").has_value());
  CHECK_FALSE(ParseApiRole("Admin").has_value());
}

TEST_CASE("enums reach JSON as their words, never as numbers") {
  nlohmann::json j = {{"state", FindingState::kAcknowledged}, {"role", ApiRole::kOperator}};
  CHECK(j["state"] == "acknowledged");
  CHECK(j["role"] == "operator");
}

}  // namespace
}  // namespace dozor::server
