// The alerting tests' fixture: a real SQLite store in a temporary directory, a FakeClock, a small
// rule pack, an active client and a prospect, engineers assigned to them, hosts with inventories,
// findings opened through the store (so the feed has their events) and a recording sender. Shared
// by alert_dispatcher_test.cpp and alert_rules_test.cpp.
#pragma once

#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "alerts/alert_dispatcher.hpp"
#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "server/test_store.hpp"

namespace dozor::server::alerts::alert_fixture {

inline constexpr int64_t kMinute = 60'000;

// Records what it is asked to send; fails while `failures` says so.
class RecordingSender final : public AlertSender {
 public:
  SendOutcome Send(const Delivery& delivery) override {
    sent.push_back(delivery);
    if (failures > 0) {
      --failures;
      return SendOutcome{false, permanent, "connection refused"};
    }
    return SendOutcome{true, false, ""};
  }
  std::vector<Delivery> sent;
  int failures = 0;
  bool permanent = false;
};

struct Fixture {
  Fixture() {
    store = dozor::testing::OpenTestStore(dir);
    rules::Rule disk;
    disk.id = "disk-space-low";
    disk.category = "hardware";
    disk.severity = "high";
    disk.contracts = {"technical"};
    disk.title = {"Disk almost full", "Диск почти заполнен"};
    rules::Rule onec;
    onec.id = "onec-license";
    onec.category = "business-application";
    onec.severity = "critical";
    onec.contracts = {"application"};
    onec.title = {"1C license", "Лицензия 1С"};
    pack.rules = {disk, onec};

    org = MakeOrg("ООО Ромашка", ContractPhase::kActive, ContractType::kComplex);
    prospect = MakeOrg("Проспект", ContractPhase::kProspect, ContractType::kComplex);
    anna = MakeUser("anna", "ru", "anna@example.com", "111");
    boris = MakeUser("boris", "en", "boris@example.com", "");
    olga = MakeUser("olga", "ru", "", "333");
    duty = MakeUser("duty", "en", "duty@example.com", "");
    REQUIRE(store->AssignEngineer(org, anna, AssignmentKind::kPrimary, "", clock.NowMs()).ok());
    REQUIRE(store->AssignEngineer(org, olga, AssignmentKind::kPrimary, "1C", clock.NowMs()).ok());
    REQUIRE(store->AssignEngineer(org, boris, AssignmentKind::kBackup, "", clock.NowMs()).ok());
    REQUIRE(
        store->AssignEngineer(prospect, anna, AssignmentKind::kPrimary, "", clock.NowMs()).ok());

    settings.email = true;
    settings.telegram = true;
    settings.webhook = true;
    settings.mail_from = "Dozor <dozor@example.com>";
    settings.webhook_url = "https://helpdesk.example/hook?token=secret";
    settings.dashboard_url = "https://dozor.example/";
    settings.duty_logins = {"DUTY"};
    settings.offline_after_ms = 3 * kMinute;
  }

  int64_t MakeOrg(const std::string& name, ContractPhase phase, ContractType type) {
    Organization made;
    made.name = name;
    made.contract_type = type;
    auto created = store->CreateOrganization(made);
    REQUIRE(created.ok());
    if (phase != ContractPhase::kProspect) {
      OrganizationPatch patch;
      patch.contract_status = phase;
      REQUIRE(store->UpdateOrganization(created->id, patch).ok());
    }
    return created->id;
  }

  int64_t MakeUser(const std::string& login, const std::string& language, const std::string& email,
                   const std::string& chat) {
    NewUser user;
    user.login = login;
    user.display_name = login;
    user.language = language;
    user.email = email;
    user.telegram_chat_id = chat;
    user.role = UserRole::kEngineer;
    auto created = store->CreateUser(user, clock.NowMs());
    REQUIRE(created.ok());
    return created->id;
  }

  // An enrolled host with an inventory saying what it is ("Notebook": a workstation).
  int64_t Host(int64_t org_id, const std::string& agent_id, const std::string& chassis = "Rack") {
    NewEnrollmentToken token;
    token.org_id = org_id;
    token.token_hash = Sha256Hex("dze_" + agent_id);
    token.hint = "dze_" + agent_id;
    REQUIRE(store->CreateEnrollmentToken(token).ok());
    NewAgent agent;
    agent.agent_id = agent_id;
    agent.secret_hash = Sha256Hex("s-" + agent_id);
    agent.hostname = agent_id;
    REQUIRE(store->EnrollAgent(token.token_hash, agent, clock.NowMs()).ok());
    std::vector<IncomingReport> batch(1);
    batch[0].agent_id = agent_id;
    batch[0].received_at_ms = clock.NowMs();
    batch[0].report.set_seq(1);
    batch[0].report.set_collected_at_ms(clock.NowMs());
    batch[0].report.mutable_inventory()->mutable_os()->set_hostname(agent_id);
    batch[0].report.mutable_inventory()->mutable_hardware()->mutable_dmi()->set_chassis_type(
        chassis);
    REQUIRE(store->CommitReports(batch).ok());
    auto pk = store->HostPk(agent_id);
    REQUIRE(pk.ok());
    return *pk;
  }

  // Opens a finding of `rule_id` on the host; its id.
  int64_t Open(const std::string& rule_id, int64_t org_id, int64_t host_pk) {
    EvaluationInput input;
    input.host_scope = true;
    input.rule_ids = {rule_id};
    input.targets = {host_pk};
    const auto* rule = pack.Find(rule_id);
    input.meta[rule_id] = RuleMeta{*ParseSeverity(rule->severity), rule->category};
    input.hits.push_back(
        FindingHit{rule_id, org_id, host_pk, R"([{"mount":"/var","used_pct":97}])", false});
    auto change = store->ApplyEvaluation(input, clock.NowMs());
    REQUIRE(change.ok());
    REQUIRE(change->opened_or_regressed_ids.size() == 1);
    return change->opened_or_regressed_ids.front();
  }

  void Presence(const std::string& kind, int64_t org_id, const std::string& agent_id) {
    FeedEvent event;
    event.at_ms = clock.NowMs();
    event.kind = kind;
    event.org_id = org_id;
    event.agent_id = agent_id;
    event.actor = "system";
    REQUIRE(store->AppendEvent(event).ok());
  }

  AlertDispatcher Dispatcher() { return AlertDispatcher(*store, &pack, settings, clock); }

  std::vector<Alert> Alerts() {
    auto alerts = store->ListAlerts(AlertFilter{});
    REQUIRE(alerts.ok());
    return *alerts;
  }

  dozor::testing::TempDir dir;
  FakeClock clock{1'800'000'000'000};
  std::unique_ptr<SqliteStore> store;
  rules::RulePack pack;
  DispatcherSettings settings;
  int64_t org = 0, prospect = 0;
  int64_t anna = 0, boris = 0, olga = 0, duty = 0;
};

inline std::map<std::string, int> Channels(const Alert& alert) {
  std::map<std::string, int> out;
  for (const auto& delivery : alert.deliveries) ++out[std::string(ToString(delivery.channel))];
  return out;
}

}  // namespace dozor::server::alerts::alert_fixture
