// What pages whom: alert_policy.hpp's pure decisions.
#include <doctest/doctest.h>

#include "alerts/alert_policy.hpp"

namespace dozor::server::alerts {
namespace {

FeedEvent Event(std::string kind) {
  FeedEvent event;
  event.id = 7;
  event.kind = std::move(kind);
  event.org_id = 3;
  return event;
}

EventFacts Active(std::optional<Severity> severity = Severity::kHigh) {
  EventFacts facts;
  facts.phase = ContractPhase::kActive;
  facts.severity = severity;
  return facts;
}

TEST_CASE("only active contracts page, findings only in scope and from the threshold") {
  const AlertPolicy policy;  // from high
  CHECK(AlertKindFor(Event("finding_opened"), Active(), policy) == AlertKind::kFindingOpened);
  CHECK(AlertKindFor(Event("finding_opened"), Active(Severity::kCritical), policy) ==
        AlertKind::kFindingOpened);
  CHECK(AlertKindFor(Event("finding_regressed"), Active(), policy) == AlertKind::kFindingRegressed);
  CHECK(AlertKindFor(Event("finding_resolved"), Active(), policy) == AlertKind::kFindingResolved);
  CHECK_FALSE(AlertKindFor(Event("finding_opened"), Active(Severity::kMedium), policy));
  CHECK_FALSE(AlertKindFor(Event("finding_opened"), Active(std::nullopt), policy));
  AlertPolicy everything;
  everything.min_severity = Severity::kInfo;
  CHECK(AlertKindFor(Event("finding_opened"), Active(Severity::kInfo), everything) ==
        AlertKind::kFindingOpened);

  for (const auto phase :
       {ContractPhase::kProspect, ContractPhase::kRemediation, ContractPhase::kEnded}) {
    EventFacts facts = Active(Severity::kCritical);
    facts.phase = phase;
    CHECK_FALSE(AlertKindFor(Event("finding_opened"), facts, policy));
    CHECK_FALSE(AlertKindFor(Event("host_offline"), facts, policy));
  }
  EventFacts outside = Active(Severity::kCritical);
  outside.rule_in_contract = false;
  CHECK_FALSE(AlertKindFor(Event("finding_opened"), outside, policy));
  CHECK_FALSE(AlertKindFor(Event("finding_verify_requested"), outside, policy));
  // A verification request waits for the engineer whatever the severity.
  CHECK(AlertKindFor(Event("finding_verify_requested"), Active(Severity::kLow), policy) ==
        AlertKind::kVerifyRequested);
  // What people do to findings themselves is not news to them.
  for (const char* kind : {"finding_acknowledged", "finding_comment", "finding_waived",
                           "contract_moved", "host_online"}) {
    CHECK_FALSE(AlertKindFor(Event(kind), Active(), policy));
  }
  FeedEvent no_org = Event("finding_opened");
  no_org.org_id.reset();
  CHECK_FALSE(AlertKindFor(no_org, Active(), policy));
}

TEST_CASE("servers going offline page, workstations switched off at night do not") {
  const AlertPolicy policy;
  EventFacts server = Active();
  server.host_role = HostRole::kServer;
  EventFacts workstation = Active();
  workstation.host_role = HostRole::kWorkstation;
  EventFacts unknown = Active();
  CHECK(AlertKindFor(Event("host_offline"), server, policy) == AlertKind::kHostOffline);
  CHECK(AlertKindFor(Event("host_offline"), unknown, policy) == AlertKind::kHostOffline);
  CHECK_FALSE(AlertKindFor(Event("host_offline"), workstation, policy));
  CHECK(AlertKindFor(Event("agent_trouble"), workstation, policy) == AlertKind::kAgentTrouble);
  CHECK(Escalates(AlertKind::kHostOffline));
  CHECK(Escalates(AlertKind::kSiteOffline));
  CHECK(Escalates(AlertKind::kFindingOpened));
  CHECK_FALSE(Escalates(AlertKind::kFindingResolved));
  CHECK_FALSE(Escalates(AlertKind::kAgentTrouble));
  CHECK_FALSE(Escalates(AlertKind::kVerifyRequested));
  for (const auto kind : {AlertKind::kFindingOpened, AlertKind::kSiteOffline,
                          AlertKind::kAgentTrouble, AlertKind::kVerifyRequested}) {
    CHECK(ParseAlertKind(ToString(kind)) == kind);
  }
  CHECK_FALSE(ParseAlertKind("nonsense"));
}

TEST_CASE("most hosts of a site going silent together is one site outage") {
  const AlertPolicy policy;  // at least 3 hosts, 60 %
  OrgOutage outage;
  outage.live_hosts = 25;
  outage.offline_events.resize(23);
  outage.offline_hosts = 23;
  CHECK(IsSiteOutage(outage, policy));
  outage.offline_events.resize(2);  // two servers rebooting is not the site
  outage.offline_hosts = 2;
  CHECK_FALSE(IsSiteOutage(outage, policy));
  outage.offline_events.resize(3);
  outage.offline_hosts = 3;
  CHECK_FALSE(IsSiteOutage(outage, policy));  // 3 of 25
  outage.offline_hosts = 15;                  // 3 now, 12 silent already: 15 of 25
  CHECK(IsSiteOutage(outage, policy));
  outage.live_hosts = 4;
  outage.offline_hosts = 0;  // the events themselves count even when the list lags behind
  CHECK(IsSiteOutage(outage, policy));
  outage.live_hosts = 0;
  CHECK_FALSE(IsSiteOutage(outage, policy));
}

TEST_CASE("specialties: 1C to the 1C specialist, disks and networks to the technician") {
  CHECK(SpecialtyCovers("", "business-application"));
  CHECK(SpecialtyCovers("", "hardware"));
  CHECK(SpecialtyCovers("1C", "business-application"));
  CHECK(SpecialtyCovers("1с-программист", "business-application"));  // Cyrillic es
  CHECK(SpecialtyCovers("1С", "business-application"));              // Cyrillic capital
  CHECK_FALSE(SpecialtyCovers("1C", "hardware"));
  CHECK_FALSE(SpecialtyCovers("1C", ""));
  CHECK(SpecialtyCovers("network", "hardware"));
  CHECK_FALSE(SpecialtyCovers("сети", "business-application"));

  auto assignment = [](int64_t user, AssignmentKind kind, std::string specialty,
                       bool enabled = true) {
    Assignment a;
    a.org_id = 3;
    a.user_id = user;
    a.kind = kind;
    a.specialty = std::move(specialty);
    a.enabled = enabled;
    return a;
  };
  const std::vector<Assignment> team = {
      assignment(1, AssignmentKind::kPrimary, "сети"),
      assignment(2, AssignmentKind::kPrimary, "1C"),
      assignment(3, AssignmentKind::kBackup, ""),
      assignment(4, AssignmentKind::kBackup, "1C", /*enabled=*/false),
  };
  CHECK(Recipients(0, "hardware", team, {9}) == std::vector<int64_t>{1});
  CHECK(Recipients(0, "business-application", team, {9}) == std::vector<int64_t>{2});
  CHECK(Recipients(0, "", team, {9}) == std::vector<int64_t>{1});
  CHECK(Recipients(1, "business-application", team, {9}) == std::vector<int64_t>{3});
  CHECK(Recipients(2, "hardware", team, {9, 8}) == std::vector<int64_t>{9, 8});
  // A specialist before a generalist; nobody of the stage covers it: everyone of the stage.
  const std::vector<Assignment> mixed = {assignment(5, AssignmentKind::kPrimary, ""),
                                         assignment(6, AssignmentKind::kPrimary, "1С")};
  CHECK(Recipients(0, "business-application", mixed, {}) == std::vector<int64_t>{6});
  CHECK(Recipients(0, "hardware", mixed, {}) == std::vector<int64_t>{5});
  const std::vector<Assignment> only_1c = {assignment(2, AssignmentKind::kPrimary, "1C")};
  CHECK(Recipients(0, "network", only_1c, {}) == std::vector<int64_t>{2});
  CHECK(Recipients(1, "network", only_1c, {}).empty());
}

}  // namespace
}  // namespace dozor::server::alerts
