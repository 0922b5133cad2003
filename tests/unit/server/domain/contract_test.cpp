// Contract phases and the audit snapshot each move records, without a database.
#include "domain/contract.hpp"

#include <doctest/doctest.h>

namespace dozor::server {
namespace {

using P = ContractPhase;

TEST_CASE("contract phase moves follow the engagement") {
  CHECK(IsAllowedContractMove(P::kProspect, P::kRemediation));
  CHECK(IsAllowedContractMove(P::kProspect, P::kActive));
  CHECK(IsAllowedContractMove(P::kRemediation, P::kActive));
  CHECK(IsAllowedContractMove(P::kRemediation, P::kProspect));
  CHECK(IsAllowedContractMove(P::kActive, P::kEnded));
  CHECK(IsAllowedContractMove(P::kEnded, P::kProspect));
  CHECK_FALSE(IsAllowedContractMove(P::kEnded, P::kActive));
  CHECK_FALSE(IsAllowedContractMove(P::kActive, P::kRemediation));
  CHECK_FALSE(IsAllowedContractMove(P::kProspect, P::kEnded));
}

TEST_CASE("the same phase is no move and records nothing") {
  auto move = PlanContractMove(P::kActive, P::kActive, false);
  REQUIRE(move.ok());
  CHECK_FALSE(move->moves);
  CHECK_FALSE(move->snapshot.has_value());
}

TEST_CASE("a refused move names both phases") {
  auto move = PlanContractMove(P::kEnded, P::kActive, false);
  REQUIRE_FALSE(move.ok());
  CHECK(move.error().code == ErrorCode::kFailedPrecondition);
  CHECK(move.error().message == "contract status cannot move from 'ended' to 'active'");
}

TEST_CASE("entering remediation records the first audit once per engagement") {
  auto first = PlanContractMove(P::kProspect, P::kRemediation, false);
  REQUIRE(first.ok());
  CHECK(first->moves);
  CHECK(first->snapshot == AuditSnapshotKind::kFirstAudit);
  auto again = PlanContractMove(P::kProspect, P::kRemediation, true);
  REQUIRE(again.ok());
  CHECK(again->moves);
  CHECK_FALSE(again->snapshot.has_value());
}

TEST_CASE("entering active records the signing baseline every time") {
  CHECK(PlanContractMove(P::kProspect, P::kActive, true)->snapshot == AuditSnapshotKind::kSigning);
  CHECK(PlanContractMove(P::kRemediation, P::kActive, false)->snapshot ==
        AuditSnapshotKind::kSigning);
  CHECK_FALSE(PlanContractMove(P::kActive, P::kEnded, false)->snapshot.has_value());
}

TEST_CASE("an engagement starts at the last ended -> prospect move") {
  CHECK(CurrentEngagementStartMs({}) == 0);
  std::vector<ContractEvent> events = {
      {100, "a", P::kProspect, P::kRemediation}, {200, "a", P::kRemediation, P::kActive},
      {300, "a", P::kActive, P::kEnded},         {400, "a", P::kEnded, P::kProspect},
      {500, "a", P::kProspect, P::kRemediation}, {50, "a", P::kEnded, P::kProspect}};
  CHECK(CurrentEngagementStartMs(events) == 400);
}

TEST_CASE("contract enums spell and parse the stored words") {
  for (P phase : {P::kProspect, P::kRemediation, P::kActive, P::kEnded}) {
    CHECK(ParseContractPhase(ToString(phase)) == phase);
  }
  CHECK(ToString(P::kRemediation) == "remediation");
  CHECK_FALSE(ParseContractPhase("Active").has_value());
  CHECK(ParseContractType("application") == ContractType::kApplication);
  CHECK_FALSE(ParseContractType("").has_value());
  CHECK(ToString(AuditSnapshotKind::kFirstAudit) == "first-audit");
  CHECK(ParseAuditSnapshotKind("signing") == AuditSnapshotKind::kSigning);
  CHECK_FALSE(ParseAuditSnapshotKind("baseline").has_value());
}

}  // namespace
}  // namespace dozor::server
