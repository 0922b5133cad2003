// dozorctl's alert rules against a real HttpServer over a real SQLite store on loopback: `alerts
// settings` (shown, changed, rule overrides merged and cleared), `maintenance list|add|remove`, and
// quiet hours and the monthly report through `user update` and `me update`.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "ctl/cli.hpp"
#include "ctl/format.hpp"
#include "ctl_server.hpp"
#include "dozor/common/crypto.hpp"
#include "test_util.hpp"

namespace dozor::ctl {
namespace {

constexpr const char* kPassword = "correct horse battery";

// A server with one organisation, Альфа, with the host db-alpha.
struct AlertRulesServer : CtlServer {
  AlertRulesServer() {
    auto& [dir, store, clock] = env;
    REQUIRE(Admin({"org", "create", "Альфа"}).code == kExitOk);
    auto org = (*store)->FindOrganization("Альфа");
    REQUIRE(org.ok());
    server::NewEnrollmentToken token;
    token.org_id = org->id;
    token.token_hash = Sha256Hex("dze_alpha");
    token.hint = "dze_alpha";
    REQUIRE((*store)->CreateEnrollmentToken(token).ok());
    server::NewAgent agent;
    agent.agent_id = "agent-alpha";
    agent.secret_hash = Sha256Hex("s");
    agent.hostname = "db-alpha";
    REQUIRE((*store)->EnrollAgent(token.token_hash, agent, clock.NowMs()).ok());
  }
};

TEST_CASE("dozorctl alerts settings shows and changes an organisation's alert rules") {
  AlertRulesServer s;
  auto shown = s.Admin({"alerts", "settings", "Альфа"});
  REQUIRE_MESSAGE(shown.code == kExitOk, shown.err);
  CHECK(Has(shown.out, "Europe/Moscow"));
  CHECK(Has(shown.out, "mon-fri"));
  CHECK(Has(shown.out, "09:00-18:00"));
  CHECK(Has(shown.out, "everything is sent (all)"));
  CHECK(Has(shown.out, "the server's default"));
  CHECK(Has(shown.out, "never (defaults)"));

  auto set = s.Admin({"alerts", "settings", "Альфа", "--time-zone", "Asia/Yekaterinburg",
                      "--working-days", "mon-sat", "--working-hours", "08:00-17:00",
                      "--after-hours", "urgent", "--min-severity", "high", "--server-grace", "10",
                      "--rule", "os-eol=never", "--rule", "disk-space-low=critical"});
  REQUIRE_MESSAGE(set.code == kExitOk, set.err);
  CHECK(Has(set.out, "Asia/Yekaterinburg"));
  CHECK(Has(set.out, "mon-sat"));
  CHECK(Has(set.out, "08:00-17:00"));
  CHECK(Has(set.out, "only urgent alerts (urgent)"));
  CHECK(Has(set.out, "10 min"));
  CHECK(Has(set.out, "os-eol"));
  CHECK(Has(set.out, "never"));
  CHECK(Has(set.out, "critical"));

  // --rule changes one override and keeps the others; RULE=default drops one.
  REQUIRE(s.Admin({"alerts", "settings", "Альфа", "--rule", "disk-space-low=high"}).code ==
          kExitOk);
  auto merged = s.Json({"alerts", "settings", "Альфа"});
  REQUIRE(merged["rule_overrides"].size() == 2);
  CHECK(merged["rule_overrides"][0] ==
        nlohmann::json({{"rule_id", "disk-space-low"}, {"min_severity", "high"}}));
  CHECK(merged["rule_overrides"][1] ==
        nlohmann::json({{"rule_id", "os-eol"}, {"min_severity", "never"}}));
  CHECK(merged["after_hours"] == "urgent");
  REQUIRE(s.Admin({"alerts", "settings", "Альфа", "--rule", "os-eol=default"}).code == kExitOk);
  CHECK(s.Json({"alerts", "settings", "Альфа"})["rule_overrides"].size() == 1);
  // --clear-rules, and the server's threshold again.
  auto cleared =
      s.Json({"alerts", "settings", "Альфа", "--clear-rules", "--min-severity", "default"});
  CHECK(cleared["rule_overrides"].empty());
  CHECK(cleared["min_severity"].is_null());
  CHECK(cleared["server_grace_minutes"] == 10);

  // Mistakes: on the command line, or in what the server checks.
  CHECK(s.Admin({"alerts", "settings", "Альфа", "--rule", "os-eol"}).code == kExitUsage);
  CHECK(s.Admin({"alerts", "settings", "Альфа", "--after-hours", "sometimes"}).code == kExitUsage);
  CHECK(s.Admin({"alerts", "settings", "Альфа", "--server-grace", "5000"}).code == kExitUsage);
  auto bad_hours = s.Admin({"alerts", "settings", "Альфа", "--working-hours", "9-18"});
  CHECK(bad_hours.code == kExitApiError);
  CHECK(Has(bad_hours.err, "09:00-18:00"));
  CHECK(s.Admin({"alerts", "settings", "Бета"}).code == kExitApiError);

  auto russian = s.Admin({"--lang", "ru", "alerts", "settings", "Альфа"});
  REQUIRE(russian.code == kExitOk);
  CHECK(Has(russian.out, "Рабочие часы:"));
  CHECK(Has(russian.out, "Исключения для правил"));
}

TEST_CASE("dozorctl maintenance adds, lists and removes an organisation's windows") {
  AlertRulesServer s;
  CHECK(s.Admin({"maintenance", "list", "Альфа"}).out == "No maintenance windows.\n");

  auto one_off = s.Admin(
      {"maintenance", "add", "Альфа", "--from", "now", "--to", "+2h", "--reason", "замена диска"});
  REQUIRE_MESSAGE(one_off.code == kExitOk, one_off.err);
  CHECK(Has(one_off.out, "Maintenance window:"));
  CHECK(Has(one_off.out, "one-off"));
  CHECK(Has(one_off.out, "whole organisation"));
  CHECK(Has(one_off.out, "замена диска"));
  CHECK(Has(one_off.out, "yes, until"));

  // Weekly, for one host named by its hostname.
  auto weekly = s.Admin({"maintenance", "add", "Альфа", "--weekly", "sat-sun", "--start", "22:00",
                         "--minutes", "240", "--host", "db-alpha"});
  REQUIRE_MESSAGE(weekly.code == kExitOk, weekly.err);
  CHECK(Has(weekly.out, "weekly"));
  CHECK(Has(weekly.out, "db-alpha"));
  CHECK(Has(weekly.out, "sat-sun 22:00, 240 min"));

  // A local date and time (any zone of this machine is before the end), and an RFC 3339 time
  // passed on to the server.
  auto dated = s.Json({"maintenance", "add", "Альфа", "--from", "2099-12-06 08:00", "--to",
                       "2099-12-07T02:00:00+03:00"});
  CHECK(dated["kind"] == "one-off");
  CHECK(dated["ends_at"] == "2099-12-06T23:00:00Z");
  CHECK(dated["active_now"] == false);

  auto listed = s.Json({"maintenance", "list", "Альфа"});
  REQUIRE(listed["windows"].size() == 3);
  CHECK(listed["windows"][0]["active_now"] == true);
  CHECK(listed["windows"][1]["agent_id"] == "agent-alpha");
  auto table = s.Admin({"maintenance", "list", "Альфа"});
  REQUIRE(table.code == kExitOk);
  CHECK(Has(table.out, "замена диска"));
  CHECK(Has(table.out, "db-alpha"));
  CHECK(Has(table.out, "REASON"));
  CHECK(Has(table.out, "Weekly windows are in the organisation's time zone, Europe/Moscow."));

  // Half a window, both kinds at once, a span that is not one.
  CHECK(s.Admin({"maintenance", "add", "Альфа", "--from", "now"}).code == kExitUsage);
  CHECK(s.Admin({"maintenance", "add", "Альфа", "--weekly", "sat", "--start", "22:00"}).code ==
        kExitUsage);
  CHECK(s.Admin({"maintenance", "add", "Альфа", "--from", "now", "--to", "+2h", "--weekly", "sat",
                 "--start", "22:00", "--minutes", "60"})
            .code == kExitUsage);
  CHECK(s.Admin({"maintenance", "add", "Альфа", "--from", "now", "--to", "+2"}).code == kExitUsage);
  CHECK(s.Admin({"maintenance", "add", "Альфа", "--weekly", "sat", "--start", "22:00", "--minutes",
                 "60", "--host", "no-such-host"})
            .code == kExitApiError);

  const std::string id = std::to_string(listed["windows"][0]["id"].get<int64_t>());
  auto removed = s.Admin({"maintenance", "remove", "Альфа", id});
  REQUIRE_MESSAGE(removed.code == kExitOk, removed.err);
  CHECK(removed.out == "Removed maintenance window " + id + ".\n");
  CHECK(s.Admin({"maintenance", "remove", "Альфа", id}).code == kExitApiError);
  CHECK(s.Json({"maintenance", "list", "Альфа"})["windows"].size() == 2);
  CHECK(Has(s.Admin({"--lang", "ru", "maintenance", "list", "Альфа"}).out, "ПРИЧИНА"));
}

TEST_CASE("dozorctl user update and me update set quiet hours and the monthly report") {
  AlertRulesServer s;
  REQUIRE(s.Admin({"user", "create", "alice", "--role", "engineer", "--password-stdin"},
                  std::string(kPassword) + "\n")
              .code == kExitOk);
  auto quiet = s.Admin(
      {"user", "update", "alice", "--quiet-hours", "22:00-07:00", "--monthly-report", "on"});
  REQUIRE_MESSAGE(quiet.code == kExitOk, quiet.err);
  CHECK(Has(quiet.out, "Quiet hours:"));
  CHECK(Has(quiet.out, "22:00-07:00"));
  CHECK(Has(quiet.out, "Monthly report:    yes"));
  auto cleared =
      s.Json({"user", "update", "alice", "--quiet-hours", "", "--monthly-report", "off"});
  CHECK(cleared["quiet_hours"] == "");
  CHECK(cleared["monthly_report"] == false);
  CHECK(s.Admin({"user", "update", "alice", "--quiet-hours", "late"}).code == kExitApiError);
  CHECK(s.Admin({"user", "update", "alice", "--monthly-report", "maybe"}).code == kExitUsage);

  // One's own account, through the login session.
  REQUIRE(s.Person({"--server", s.url, "login", "--login", "alice", "--password-stdin"},
                   std::string(kPassword) + "\n")
              .code == kExitOk);
  auto mine = s.Person({"me", "update", "--quiet-hours", "23:00-06:00", "--time-zone", "UTC"});
  REQUIRE_MESSAGE(mine.code == kExitOk, mine.err);
  CHECK(Has(mine.out, "23:00-06:00"));
  auto me = s.Person({"me", "show"});
  REQUIRE(me.code == kExitOk);
  CHECK(Has(me.out, "23:00-06:00"));
  CHECK(Has(me.out, "alice"));
  CHECK(Has(s.Person({"whoami"}).out, "23:00-06:00"));
  CHECK(s.Person({"me", "update"}).code == kExitUsage);
  CHECK(s.Person({"me"}).code == kExitUsage);
}

TEST_CASE("dozorctl alerts show says why an alert was suppressed or a message waits") {
  const auto suppressed = nlohmann::json::parse(R"({"id":3,"summary":"host_offline: db1",
      "stage":0,"created_at_ms":1700000000000,"escalate_at_ms":null,"acked_at_ms":null,
      "suppressed":"maintenance","deliveries":[]})");
  const std::string shown = RenderAlert(suppressed, Lang::kEn);
  CHECK(Has(shown, "Suppressed: maintenance (recorded, sent to nobody)"));
  CHECK_FALSE(Has(shown, "Nobody to tell."));
  CHECK(Has(RenderAlert(suppressed, Lang::kRu), "Подавлено: обслуживание"));

  const auto held = nlohmann::json::parse(R"({"id":4,"summary":"finding_opened","stage":0,
      "created_at_ms":1700000000000,"escalate_at_ms":null,"acked_at_ms":null,"suppressed":"",
      "deliveries":[
        {"id":1,"stage":0,"channel":"email","recipient":"anna","address":"a@example.com",
         "state":"pending","attempts":0,"last_error":"","held":"quiet_hours",
         "held_until_ms":1700030000000},
        {"id":2,"stage":0,"channel":"telegram","recipient":"anna","address":"42",
         "state":"cancelled","attempts":0,"last_error":"","held":"working_hours",
         "held_until_ms":1700030000000},
        {"id":3,"stage":0,"channel":"webhook","recipient":null,"address":"https://h/x",
         "state":"sent","attempts":1,"last_error":"","held":"","held_until_ms":null}]})");
  const std::string table = RenderAlert(held, Lang::kEn);
  CHECK(Has(table, "pending, held (quiet_hours) until " + FormatLocalTime(1700030000000)));
  CHECK(Has(table, "cancelled"));
  CHECK_FALSE(Has(table, "cancelled, held"));
  CHECK_FALSE(Has(table, "Suppressed"));
  CHECK(Has(RenderAlert(held, Lang::kRu), "pending, задержано (часы тишины) до"));

  const auto channels = nlohmann::json::parse(
      R"({"channels":[{"channel":"email","pending":1,"failed":0,"sent":5,"cancelled":2,
          "last_error":"","oldest_pending_at_ms":null}]})");
  CHECK(Has(RenderAlertChannels(channels, Lang::kEn), "CANCELLED"));
  CHECK(Has(RenderAlertChannels(channels, Lang::kRu), "ОТМЕНЕНО"));
  CHECK(RenderMaintenanceList(nlohmann::json::parse(R"({"windows":[]})"), Lang::kRu) ==
        "Окон обслуживания нет.\n");
}

}  // namespace
}  // namespace dozor::ctl
