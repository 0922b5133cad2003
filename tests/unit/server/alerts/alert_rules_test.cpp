// Alert rules over a real SQLite store with a FakeClock set to chosen wall-clock instants: an
// organisation's working hours and what pages outside them, a person's quiet hours, maintenance
// windows, the flap detector, the resolved notice nobody needs, a server's grace, per-organisation
// thresholds and per-rule overrides, the per-person rate limit, a channel that gives up, and the
// monthly report with its PDF.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alerts/alert_dispatcher.hpp"
#include "alerts/monthly_report.hpp"
#include "domain/local_time.hpp"
#include "dozor/common/base64.hpp"
#include "server/alerts/alert_fixture.hpp"

namespace dozor::server::alerts {
namespace {

using alert_fixture::Fixture;
using alert_fixture::kMinute;
using alert_fixture::RecordingSender;

constexpr int64_t kHour = 60 * kMinute;

// The UTC instant of a UTC wall clock (proleptic Gregorian), independent of the code under test.
constexpr int64_t Utc(int64_t y, int m, int d, int hour, int minute) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t days = era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
  return days * 24 * kHour + hour * kHour + minute * kMinute;
}

// The fixture's clock starts at 2027-01-15 08:00 UTC; every instant below is later, so the clock
// only moves forward. Moscow is UTC+3 all year, Novosibirsk UTC+7.
// Thursday 2027-01-21 21:00 MSK: after working hours.
constexpr int64_t kThursdayNight = Utc(2027, 1, 21, 18, 0);
// Friday 2027-01-22 09:00 MSK: the next working hours begin.
constexpr int64_t kFridayMorning = Utc(2027, 1, 22, 6, 0);
static_assert(Utc(2027, 1, 15, 8, 0) == 1'800'000'000'000);

// A rule of the fixture's pack (a technical rule about hardware unless said otherwise).
void AddRule(Fixture& f, const std::string& id, const std::string& severity,
             const std::string& category = "hardware") {
  rules::Rule rule;
  rule.id = id;
  rule.category = category;
  rule.severity = severity;
  rule.contracts = {"technical"};
  rule.title = {id, id};
  f.pack.rules.push_back(rule);
}

// Changes the organisation's alert rules from what they are now.
void Configure(Fixture& f, const std::function<void(OrgAlertSettings&)>& change,
               int64_t org_id = 0) {
  auto settings = f.store->GetOrgAlertSettings(org_id != 0 ? org_id : f.org);
  REQUIRE(settings.ok());
  change(*settings);
  auto put = f.store->PutOrgAlertSettings(*settings, "admin", f.clock.NowMs());
  REQUIRE_MESSAGE(put.ok(), (put.ok() ? "" : put.error().ToString()));
}

// The rule no longer matches on the host: the finding resolves (event finding_resolved).
void Resolve(Fixture& f, const std::string& rule_id, int64_t host_pk) {
  EvaluationInput input;
  input.host_scope = true;
  input.rule_ids = {rule_id};
  input.targets = {host_pk};
  const auto* rule = f.pack.Find(rule_id);
  REQUIRE(rule != nullptr);
  input.meta[rule_id] = RuleMeta{*ParseSeverity(rule->severity), rule->category};
  auto change = f.store->ApplyEvaluation(input, f.clock.NowMs());
  REQUIRE(change.ok());
  REQUIRE(change->resolved == 1);
}

int64_t MakeAccount(Fixture& f, const std::string& login, UserRole role, const std::string& email,
                    const std::string& chat, std::optional<int64_t> org_id = std::nullopt) {
  NewUser user;
  user.login = login;
  user.display_name = login;
  user.language = "en";
  user.email = email;
  user.telegram_chat_id = chat;
  user.role = role;
  user.org_id = org_id;
  auto created = f.store->CreateUser(user, f.clock.NowMs());
  REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().ToString()));
  return created->id;
}

void Patch(Fixture& f, int64_t user_id, const UserPatch& patch) {
  auto updated = f.store->UpdateUser(user_id, patch, f.clock.NowMs());
  REQUIRE_MESSAGE(updated.ok(), (updated.ok() ? "" : updated.error().ToString()));
}

Alert Newest(Fixture& f) {
  auto alerts = f.Alerts();
  REQUIRE_FALSE(alerts.empty());
  return alerts.front();
}

std::vector<Delivery> Of(const Alert& alert, std::optional<int64_t> user_id) {
  std::vector<Delivery> out;
  for (const auto& d : alert.deliveries) {
    if (d.user_id == user_id) out.push_back(d);
  }
  return out;
}

std::vector<Alert> OfKind(Fixture& f, const std::string& kind) {
  std::vector<Alert> out;
  for (auto& alert : f.Alerts()) {
    if (alert.kind == kind) out.push_back(alert);
  }
  return out;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("after hours urgent: a high finding at night waits for the morning, a critical goes") {
  Fixture f;
  AddRule(f, "raid-degraded", "critical");
  Configure(f, [](OrgAlertSettings& s) { s.after_hours = AfterHours::kUrgent; });
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.clock.SetMs(kThursdayNight);
  const int64_t host = f.Host(f.org, "db01");
  const int64_t high = f.Open("disk-space-low", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  const Alert waiting = Newest(f);
  CHECK(waiting.finding_id == high);
  CHECK(waiting.suppressed.empty());
  // anna's e-mail and Telegram wait until Friday 09:00 MSK; the escalation counts from then.
  const auto anna = Of(waiting, f.anna);
  REQUIRE(anna.size() == 2);
  for (const auto& d : anna) {
    CAPTURE(ToString(d.channel));
    CHECK(d.state == DeliveryState::kPending);
    CHECK(d.held == "working_hours");
    CHECK(d.held_until_ms == kFridayMorning);
    CHECK(d.next_attempt_ms == kFridayMorning);
  }
  CHECK(waiting.escalate_at_ms == kFridayMorning + 30 * kMinute);
  // The helpdesk's webhook files tickets around the clock.
  const auto webhook = Of(waiting, std::nullopt);
  REQUIRE(webhook.size() == 1);
  CHECK(webhook[0].held.empty());
  CHECK(webhook[0].next_attempt_ms == kThursdayNight);

  // A critical finding at night goes at once.
  f.clock.AdvanceMs(kMinute);
  const int64_t critical = f.Open("raid-degraded", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  const Alert urgent = Newest(f);
  CHECK(urgent.finding_id == critical);
  REQUIRE(Of(urgent, f.anna).size() == 2);
  for (const auto& d : urgent.deliveries) {
    CHECK(d.held.empty());
    CHECK(d.held_until_ms == 0);
    CHECK(d.next_attempt_ms == f.clock.NowMs());
  }
  CHECK(urgent.escalate_at_ms == f.clock.NowMs() + 30 * kMinute);

  // The e-mail worker at night sends the critical one only; the high one in the morning.
  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  CHECK(*email.DeliverPass() == 1);
  CHECK(*email.DeliverPass() == 0);
  REQUIRE(wire.sent.size() == 1);
  CHECK(wire.sent[0].alert_id == urgent.id);
  // Just before 09:00 the high one still waits, and only the critical one (unacknowledged since
  // 21:01) has escalated; the high one escalates from 09:30 on.
  f.clock.SetMs(kFridayMorning - kMinute);
  CHECK(*email.DeliverPass() == 0);
  CHECK(*dispatcher.EscalationPass() == 1);
  CHECK(Newest(f).stage == 1);
  CHECK(f.Alerts().back().stage == 0);
  f.clock.SetMs(kFridayMorning);
  CHECK(*email.DeliverPass() == 2);  // anna's high one and boris's escalation
  REQUIRE(wire.sent.size() == 3);
  bool morning = false;
  for (const auto& d : wire.sent) morning |= d.alert_id == waiting.id && d.user_id == f.anna;
  CHECK(morning);
  CHECK(*dispatcher.EscalationPass() == 0);
  // 09:30: the high one to the backup, the critical one (08:59 + 30 min) on to the duty list.
  f.clock.SetMs(kFridayMorning + 30 * kMinute);
  CHECK(*dispatcher.EscalationPass() == 2);
  CHECK(f.Alerts().back().stage == 1);
  CHECK(Newest(f).stage == 2);
}

TEST_CASE("after hours all sends everything at once, none holds even a critical finding") {
  Fixture f;
  AddRule(f, "raid-degraded", "critical");
  Configure(f, [](OrgAlertSettings& s) { s.after_hours = AfterHours::kAll; });
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.clock.SetMs(kThursdayNight);
  const int64_t host = f.Host(f.org, "db01");
  f.Open("disk-space-low", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  Alert alert = Newest(f);
  REQUIRE(alert.deliveries.size() == 3);
  for (const auto& d : alert.deliveries) CHECK(d.held.empty());
  CHECK(alert.escalate_at_ms == kThursdayNight + 30 * kMinute);

  Configure(f, [](OrgAlertSettings& s) { s.after_hours = AfterHours::kNone; });
  f.clock.AdvanceMs(kMinute);
  f.Open("raid-degraded", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  alert = Newest(f);
  CHECK(alert.severity == "critical");
  const auto anna = Of(alert, f.anna);
  REQUIRE(anna.size() == 2);
  for (const auto& d : anna) {
    CHECK(d.held == "working_hours");
    CHECK(d.held_until_ms == kFridayMorning);
  }
  CHECK(alert.escalate_at_ms == kFridayMorning + 30 * kMinute);

  // In working hours (Friday 10:00 MSK) nothing waits, whatever the policy.
  f.clock.SetMs(kFridayMorning + kHour);
  f.Open("disk-space-low", f.org, f.Host(f.org, "db02"));
  REQUIRE(*dispatcher.PlanPass() == 1);
  alert = Newest(f);
  for (const auto& d : alert.deliveries) CHECK(d.held.empty());
  CHECK(alert.escalate_at_ms == kFridayMorning + kHour + 30 * kMinute);
}

TEST_CASE("quiet hours hold what is not urgent for that person only, until they end") {
  Fixture f;
  AddRule(f, "raid-degraded", "critical");
  f.settings.telegram = false;
  // petr shares anna's organisation (both primary, no specialty); only anna has quiet hours,
  // 22:00-07:00 in Novosibirsk (UTC+7).
  const int64_t petr = f.MakeUser("petr", "en", "petr@example.com", "");
  REQUIRE(f.store->AssignEngineer(f.org, petr, AssignmentKind::kPrimary, "", f.clock.NowMs()).ok());
  UserPatch quiet;
  quiet.quiet_hours = "22:00-07:00";
  quiet.time_zone = "Asia/Novosibirsk";
  Patch(f, f.anna, quiet);
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());

  // Thursday 20:00 UTC: 23:00 in Moscow, Friday 03:00 in Novosibirsk; quiet until 07:00 there.
  f.clock.SetMs(Utc(2027, 1, 21, 20, 0));
  const int64_t quiet_end = Utc(2027, 1, 22, 0, 0);
  const int64_t host = f.Host(f.org, "db01");
  f.Open("disk-space-low", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  Alert alert = Newest(f);
  const auto anna = Of(alert, f.anna);
  REQUIRE(anna.size() == 1);
  CHECK(anna[0].held == "quiet_hours");
  CHECK(anna[0].held_until_ms == quiet_end);
  CHECK(anna[0].next_attempt_ms == quiet_end);
  const auto other = Of(alert, petr);
  REQUIRE(other.size() == 1);
  CHECK(other[0].held.empty());
  CHECK(other[0].next_attempt_ms == f.clock.NowMs());
  REQUIRE(Of(alert, std::nullopt).size() == 1);
  CHECK(Of(alert, std::nullopt)[0].held.empty());

  // A critical finding wakes her.
  f.clock.AdvanceMs(kMinute);
  f.Open("raid-degraded", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  alert = Newest(f);
  CHECK(alert.severity == "critical");
  REQUIRE(Of(alert, f.anna).size() == 1);
  CHECK(Of(alert, f.anna)[0].held.empty());

  // The e-mail worker: petr's and the critical one now; anna's high one at 07:00 her time.
  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  CHECK(*email.DeliverPass() == 2);  // petr's high one, anna's critical one
  CHECK(*email.DeliverPass() == 1);  // petr's critical one
  CHECK(*email.DeliverPass() == 0);
  f.clock.SetMs(quiet_end);
  CHECK(*email.DeliverPass() == 1);
  REQUIRE(wire.sent.size() == 4);
  CHECK(wire.sent[3].user_id == f.anna);
  CHECK(wire.sent[3].held == "quiet_hours");

  // After her quiet hours (Friday 10:00 in Novosibirsk) nothing waits.
  f.clock.SetMs(Utc(2027, 1, 22, 3, 0));
  f.Open("disk-space-low", f.org, f.Host(f.org, "db02"));
  REQUIRE(*dispatcher.PlanPass() == 1);
  for (const auto& d : Newest(f).deliveries) CHECK(d.held.empty());
}

TEST_CASE("a maintenance window covering the organisation or the host suppresses the alert") {
  Fixture f;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.clock.SetMs(kThursdayNight);
  std::vector<int64_t> hosts;
  for (int i = 1; i <= 5; ++i) hosts.push_back(f.Host(f.org, "db0" + std::to_string(i)));
  const auto add = [&](MaintenanceWindow window) {
    window.org_id = f.org;
    window.reason = "upgrade";
    auto added = f.store->AddMaintenanceWindow(window, f.clock.NowMs());
    REQUIRE_MESSAGE(added.ok(), (added.ok() ? "" : added.error().ToString()));
    return added->id;
  };
  const auto expect_suppressed = [&](int64_t finding) {
    const Alert alert = Newest(f);
    CHECK(alert.finding_id == finding);
    CHECK(alert.kind == "finding_opened");
    CHECK(alert.suppressed == "maintenance");
    CHECK(alert.deliveries.empty());
    CHECK_FALSE(alert.escalate_at_ms);
    // The finding itself is recorded as usual.
    auto stored = f.store->GetFinding(finding);
    REQUIRE(stored.ok());
    CHECK(stored->state == FindingState::kOpen);
  };
  const auto expect_sent = [&](int64_t finding) {
    const Alert alert = Newest(f);
    CHECK(alert.finding_id == finding);
    CHECK(alert.suppressed.empty());
    CHECK(Of(alert, f.anna).size() == 2);
    CHECK(alert.escalate_at_ms.has_value());
  };

  SUBCASE("one-off, covering now") {
    MaintenanceWindow window;
    window.starts_at_ms = kThursdayNight - kHour;
    window.ends_at_ms = kThursdayNight + kHour;
    add(window);
    const int64_t finding = f.Open("disk-space-low", f.org, hosts[0]);
    REQUIRE(*dispatcher.PlanPass() == 1);
    expect_suppressed(finding);
    // Never escalates.
    f.clock.AdvanceMs(2 * kHour);
    CHECK(*dispatcher.EscalationPass() == 0);
    // After the window the next finding pages.
    const int64_t later = f.Open("disk-space-low", f.org, hosts[1]);
    REQUIRE(*dispatcher.PlanPass() == 1);
    expect_sent(later);
  }
  SUBCASE("one-off, over or not begun") {
    MaintenanceWindow past;
    past.starts_at_ms = kThursdayNight - 2 * kHour;
    past.ends_at_ms = kThursdayNight;  // half-open: ended just now
    add(past);
    MaintenanceWindow future;
    future.starts_at_ms = kThursdayNight + kMinute;
    future.ends_at_ms = kThursdayNight + kHour;
    add(future);
    const int64_t finding = f.Open("disk-space-low", f.org, hosts[0]);
    REQUIRE(*dispatcher.PlanPass() == 1);
    expect_sent(finding);
  }
  SUBCASE("weekly, covering now in the organisation's time zone") {
    // Thursdays 20:00-22:00 MSK covers 21:00 MSK.
    MaintenanceWindow weekly;
    weekly.weekdays = *ParseWeekdays("thu");
    weekly.start_minute = 20 * 60;
    weekly.duration_minutes = 120;
    const int64_t id = add(weekly);
    const int64_t finding = f.Open("disk-space-low", f.org, hosts[0]);
    REQUIRE(*dispatcher.PlanPass() == 1);
    expect_suppressed(finding);
    // In Novosibirsk the same window (20:00-22:00 there) is over at 21:00 MSK = 01:00 NSK.
    Configure(f, [](OrgAlertSettings& s) { s.time_zone = "Asia/Novosibirsk"; });
    f.clock.AdvanceMs(kMinute);
    const int64_t other = f.Open("disk-space-low", f.org, hosts[1]);
    REQUIRE(*dispatcher.PlanPass() == 1);
    expect_sent(other);
    REQUIRE(f.store->DeleteMaintenanceWindow(f.org, id).ok());
  }
  SUBCASE("weekly on other days does not cover now") {
    MaintenanceWindow weekend;
    weekend.weekdays = *ParseWeekdays("sat-sun");
    weekend.start_minute = 0;
    weekend.duration_minutes = 1440;
    add(weekend);
    const int64_t finding = f.Open("disk-space-low", f.org, hosts[0]);
    REQUIRE(*dispatcher.PlanPass() == 1);
    expect_sent(finding);
  }
  SUBCASE("a host's window covers that host only") {
    MaintenanceWindow host_only;
    host_only.agent_id = "db05";
    host_only.starts_at_ms = kThursdayNight - kHour;
    host_only.ends_at_ms = kThursdayNight + kHour;
    add(host_only);
    const int64_t elsewhere = f.Open("disk-space-low", f.org, hosts[3]);
    REQUIRE(*dispatcher.PlanPass() == 1);
    expect_sent(elsewhere);
    f.clock.AdvanceMs(kMinute);
    const int64_t covered = f.Open("disk-space-low", f.org, hosts[4]);
    REQUIRE(*dispatcher.PlanPass() == 1);
    expect_suppressed(covered);
    // A window of another organisation covers nothing here.
    MaintenanceWindow foreign;
    foreign.org_id = f.prospect;
    foreign.starts_at_ms = kThursdayNight - kHour;
    foreign.ends_at_ms = kThursdayNight + kHour;
    REQUIRE(f.store->AddMaintenanceWindow(foreign, f.clock.NowMs()).ok());
    f.clock.AdvanceMs(kMinute);
    const int64_t third = f.Open("disk-space-low", f.org, hosts[2]);
    REQUIRE(*dispatcher.PlanPass() == 1);
    expect_sent(third);
  }
}

TEST_CASE("a finding that keeps opening and resolving is recorded as flapping, without messages") {
  Fixture f;
  f.settings.flap.window_ms = kHour;
  f.settings.flap.threshold = 3;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  const int64_t host = f.Host(f.org, "db01");
  const int64_t finding = f.Open("disk-space-low", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  // resolve, regress, resolve, regress, resolve, regress: a minute apart.
  for (int i = 0; i < 6; ++i) {
    f.clock.AdvanceMs(kMinute);
    if (i % 2 == 0) {
      Resolve(f, "disk-space-low", host);
    } else {
      CHECK(f.Open("disk-space-low", f.org, host) == finding);
    }
    REQUIRE(*dispatcher.PlanPass() == 1);
  }
  auto alerts = f.Alerts();  // newest first
  REQUIRE(alerts.size() == 7);
  std::reverse(alerts.begin(), alerts.end());
  const std::vector<std::string> kinds = {
      "finding_opened",    "finding_resolved", "finding_regressed", "finding_resolved",
      "finding_regressed", "finding_resolved", "finding_regressed"};
  for (size_t i = 0; i < alerts.size(); ++i) {
    CAPTURE(i);
    CHECK(alerts[i].kind == kinds[i]);
    CHECK(alerts[i].finding_id == finding);
    // Three times bad within the hour: from then on, recorded without messages.
    if (i < 5) {
      CHECK(alerts[i].suppressed.empty());
      CHECK_FALSE(alerts[i].deliveries.empty());
    } else {
      CHECK(alerts[i].suppressed == "flapping");
      CHECK(alerts[i].deliveries.empty());
      CHECK_FALSE(alerts[i].escalate_at_ms);
    }
  }
  // Once the window has passed without changes it pages again.
  f.clock.AdvanceMs(2 * kHour);
  Resolve(f, "disk-space-low", host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  CHECK(Newest(f).kind == "finding_resolved");
  CHECK(Newest(f).suppressed.empty());
  CHECK_FALSE(Newest(f).deliveries.empty());
  f.clock.AdvanceMs(kMinute);
  f.Open("disk-space-low", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  CHECK(Newest(f).kind == "finding_regressed");
  CHECK(Newest(f).suppressed.empty());

  // Threshold 0: the detector is off.
  f.settings.flap.threshold = 0;
  auto off = f.Dispatcher();
  for (int i = 0; i < 6; ++i) {
    f.clock.AdvanceMs(kMinute);
    if (i % 2 == 0) {
      Resolve(f, "disk-space-low", host);
    } else {
      f.Open("disk-space-low", f.org, host);
    }
    REQUIRE(*off.PlanPass() == 1);
    CHECK(Newest(f).suppressed.empty());
  }
}

TEST_CASE("a finding resolved while its messages still waited: they are cancelled, no notice") {
  Fixture f;
  f.settings.webhook = false;  // the webhook is never held: with it, the helpdesk was told
  Configure(f, [](OrgAlertSettings& s) { s.after_hours = AfterHours::kUrgent; });
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.clock.SetMs(kThursdayNight);
  const int64_t host = f.Host(f.org, "db01");
  const int64_t finding = f.Open("disk-space-low", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  const int64_t opened_id = Newest(f).id;
  for (const auto& d : Newest(f).deliveries) CHECK(d.held == "working_hours");

  // 23:00 MSK: it resolves on its own.
  f.clock.SetMs(kThursdayNight + 2 * kHour);
  Resolve(f, "disk-space-low", host);
  CHECK(*dispatcher.PlanPass() == 0);
  const auto alerts = f.Alerts();
  REQUIRE(alerts.size() == 1);
  const Alert& opened = alerts.front();
  CHECK(opened.id == opened_id);
  CHECK(opened.finding_id == finding);
  CHECK(opened.acked_at_ms == kThursdayNight + 2 * kHour);
  CHECK_FALSE(opened.escalate_at_ms);
  REQUIRE(opened.deliveries.size() == 2);
  for (const auto& d : opened.deliveries) CHECK(d.state == DeliveryState::kCancelled);
  CHECK(OfKind(f, "finding_resolved").empty());
  auto backlog = f.store->AlertBacklog();
  REQUIRE(backlog.ok());
  CHECK(backlog->at(static_cast<size_t>(AlertChannel::kEmail)).cancelled == 1);
  CHECK(backlog->at(static_cast<size_t>(AlertChannel::kEmail)).pending == 0);

  // In the morning nothing goes out about it.
  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  f.clock.SetMs(kFridayMorning + kMinute);
  CHECK(*email.DeliverPass() == 0);
  CHECK(wire.sent.empty());
  CHECK(*dispatcher.EscalationPass() == 0);

  // A finding whose message did go out gets its resolved notice.
  const int64_t second_host = f.Host(f.org, "db02");
  f.Open("disk-space-low", f.org, second_host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  f.clock.AdvanceMs(kMinute);
  Resolve(f, "disk-space-low", second_host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  CHECK(Newest(f).kind == "finding_resolved");
  CHECK_FALSE(Newest(f).deliveries.empty());
}

// A notice ("resolved") is news whenever it arrives: the acknowledgement that its own event
// brings does not cancel its held messages.
TEST_CASE("a resolved notice held until the morning is delivered in the morning") {
  Fixture f;
  AddRule(f, "raid-degraded", "critical");
  f.settings.webhook = false;
  f.settings.telegram = false;
  Configure(f, [](OrgAlertSettings& s) { s.after_hours = AfterHours::kUrgent; });
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.clock.SetMs(kThursdayNight);
  const int64_t host = f.Host(f.org, "db01");
  f.Open("raid-degraded", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  CHECK(*email.DeliverPass() == 1);  // the critical finding goes at once
  // 23:00 MSK: it resolves. The notice is not urgent: it waits for 09:00.
  f.clock.SetMs(kThursdayNight + 2 * kHour);
  Resolve(f, "raid-degraded", host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  const Alert notice = Newest(f);
  CHECK(notice.kind == "finding_resolved");
  REQUIRE(notice.deliveries.size() == 1);
  CHECK(notice.deliveries[0].held == "working_hours");
  CHECK(notice.deliveries[0].state == DeliveryState::kPending);
  f.clock.SetMs(kFridayMorning);
  CHECK(*email.DeliverPass() == 1);
  CHECK(wire.sent.size() == 2);
}

// A message held for the night and released (even if still being retried) is on its way: the
// finding resolving afterwards gets its resolved notice.
TEST_CASE("a released message still being retried counts as announced for the resolved notice") {
  Fixture f;
  f.settings.webhook = false;
  f.settings.telegram = false;
  Configure(f, [](OrgAlertSettings& s) { s.after_hours = AfterHours::kUrgent; });
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.clock.SetMs(kThursdayNight);
  const int64_t host = f.Host(f.org, "db01");
  f.Open("disk-space-low", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  wire.failures = 1;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  f.clock.SetMs(kFridayMorning);
  CHECK(*email.DeliverPass() == 0);  // the mail server is down at 09:00: retried in 30 s
  f.clock.SetMs(kFridayMorning + 5 * kMinute);
  Resolve(f, "disk-space-low", host);
  CHECK(*dispatcher.PlanPass() == 1);
  CHECK(*email.DeliverPass() == 1);  // the "opened" message goes out after all
  CHECK(wire.sent.size() == 2);
  CHECK(OfKind(f, "finding_resolved").size() == 1);
}

TEST_CASE("server grace: a server back within it pages nobody, one still silent pages after it") {
  Fixture f;
  Configure(f, [](OrgAlertSettings& s) { s.server_grace_minutes = 10; });
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.Host(f.org, "db01");
  f.Host(f.org, "db02");
  f.clock.AdvanceMs(10 * kMinute);
  const int64_t went = f.clock.NowMs();
  f.Presence("host_offline", f.org, "db01");
  f.clock.AdvanceMs(20'000);
  REQUIRE(*dispatcher.PlanPass() == 1);
  Alert alert = Newest(f);
  CHECK(alert.kind == "host_offline");
  CHECK(alert.agent_id == "db01");
  // anna's e-mail and Telegram and the webhook all wait for the grace.
  REQUIRE(alert.deliveries.size() == 3);
  for (const auto& d : alert.deliveries) {
    CAPTURE(ToString(d.channel));
    CHECK(d.held == "grace");
    CHECK(d.held_until_ms == went + 10 * kMinute);
  }
  CHECK(alert.escalate_at_ms == went + 40 * kMinute);

  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  auto hook_sender = std::make_unique<RecordingSender>();
  RecordingSender& hook_wire = *hook_sender;
  DeliveryWorker webhook(*f.store, AlertChannel::kWebhook, std::move(hook_sender), f.clock);
  CHECK(*email.DeliverPass() == 0);
  CHECK(*webhook.DeliverPass() == 0);

  // Back after four minutes: the messages are cancelled and never sent.
  f.clock.SetMs(went + 4 * kMinute);
  f.Presence("host_online", f.org, "db01");
  REQUIRE(dispatcher.PlanPass().ok());
  alert = Newest(f);
  CHECK(alert.acked_by == "system");
  CHECK_FALSE(alert.escalate_at_ms);
  for (const auto& d : alert.deliveries) CHECK(d.state == DeliveryState::kCancelled);
  f.clock.SetMs(went + 11 * kMinute);
  CHECK(*email.DeliverPass() == 0);
  CHECK(*webhook.DeliverPass() == 0);
  CHECK(wire.sent.empty());
  CHECK(hook_wire.sent.empty());

  // db02 stays silent: after the grace its messages go.
  const int64_t second = f.clock.NowMs();
  f.Presence("host_offline", f.org, "db02");
  f.clock.AdvanceMs(20'000);
  REQUIRE(*dispatcher.PlanPass() == 1);
  alert = Newest(f);
  CHECK(alert.agent_id == "db02");
  for (const auto& d : alert.deliveries) CHECK(d.held_until_ms == second + 10 * kMinute);
  f.clock.SetMs(second + 5 * kMinute);
  CHECK(*email.DeliverPass() == 0);
  CHECK(*webhook.DeliverPass() == 0);
  f.clock.SetMs(second + 10 * kMinute);
  CHECK(*email.DeliverPass() == 1);
  CHECK(*webhook.DeliverPass() == 1);
  REQUIRE(wire.sent.size() == 1);
  CHECK(wire.sent[0].alert_id == alert.id);
  CHECK(wire.sent[0].held == "grace");
  // Coming back after the grace acknowledges the alert but cannot unsend it.
  f.Presence("host_online", f.org, "db02");
  REQUIRE(dispatcher.PlanPass().ok());
  const auto sent = Of(Newest(f), f.anna);
  bool email_sent = false;
  for (const auto& d : sent) {
    if (d.channel == AlertChannel::kEmail) email_sent = d.state == DeliveryState::kSent;
  }
  CHECK(email_sent);
}

TEST_CASE("per-organisation threshold and per-rule overrides decide what pages") {
  Fixture f;
  AddRule(f, "swap-heavy", "medium");
  AddRule(f, "cpu-hot", "high");
  f.settings.webhook = false;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  std::vector<int64_t> hosts;
  for (int i = 1; i <= 6; ++i) hosts.push_back(f.Host(f.org, "db0" + std::to_string(i)));

  // The server's default (high) leaves a medium finding on the board.
  f.Open("swap-heavy", f.org, hosts[0]);
  CHECK(*dispatcher.PlanPass() == 0);
  // The organisation pages from medium on.
  Configure(f, [](OrgAlertSettings& s) { s.min_severity = Severity::kMedium; });
  const int64_t medium = f.Open("swap-heavy", f.org, hosts[1]);
  REQUIRE(*dispatcher.PlanPass() == 1);
  CHECK(Newest(f).finding_id == medium);
  CHECK(Newest(f).severity == "medium");
  CHECK_FALSE(Of(Newest(f), f.anna).empty());

  // disk-space-low never pages this organisation; another high rule still does.
  Configure(f, [](OrgAlertSettings& s) {
    s.rule_overrides = {RuleAlertOverride{"disk-space-low", std::nullopt}};
  });
  f.Open("disk-space-low", f.org, hosts[2]);
  CHECK(*dispatcher.PlanPass() == 0);
  const int64_t cpu = f.Open("cpu-hot", f.org, hosts[2]);
  REQUIRE(*dispatcher.PlanPass() == 1);
  CHECK(Newest(f).finding_id == cpu);

  // disk-space-low from critical only: a high one does not page; the organisation's medium
  // threshold still applies to the other rules.
  Configure(f, [](OrgAlertSettings& s) {
    s.rule_overrides = {RuleAlertOverride{"disk-space-low", Severity::kCritical}};
  });
  f.Open("disk-space-low", f.org, hosts[3]);
  CHECK(*dispatcher.PlanPass() == 0);
  const int64_t swap = f.Open("swap-heavy", f.org, hosts[3]);
  REQUIRE(*dispatcher.PlanPass() == 1);
  CHECK(Newest(f).finding_id == swap);

  // An override lowers the bar too: the organisation from critical, disk-space-low from low.
  Configure(f, [](OrgAlertSettings& s) {
    s.min_severity = Severity::kCritical;
    s.rule_overrides = {RuleAlertOverride{"disk-space-low", Severity::kLow}};
  });
  f.Open("cpu-hot", f.org, hosts[4]);
  CHECK(*dispatcher.PlanPass() == 0);
  const int64_t disk = f.Open("disk-space-low", f.org, hosts[4]);
  REQUIRE(*dispatcher.PlanPass() == 1);
  CHECK(Newest(f).finding_id == disk);

  // The settings read back as saved.
  auto saved = f.store->GetOrgAlertSettings(f.org);
  REQUIRE(saved.ok());
  CHECK(saved->min_severity == Severity::kCritical);
  REQUIRE(saved->rule_overrides.size() == 1);
  CHECK(saved->rule_overrides[0].rule_id == "disk-space-low");
  CHECK(saved->rule_overrides[0].min_severity == Severity::kLow);
}

TEST_CASE("rate limit: over the hourly limit a person's messages wait, none is dropped") {
  Fixture f;
  f.settings.telegram = false;
  f.settings.webhook = false;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  for (int i = 1; i <= 3; ++i) {
    f.Open("disk-space-low", f.org, f.Host(f.org, "db0" + std::to_string(i)));
  }
  REQUIRE(*dispatcher.PlanPass() == 3);
  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  email.set_rate_limit_per_hour(2);
  const int64_t start = f.clock.NowMs();
  // One message per person per pass (in order): two go, the third is held.
  CHECK(*email.DeliverPass() == 1);
  CHECK(*email.DeliverPass() == 1);
  CHECK(*email.DeliverPass() == 0);
  CHECK(*email.DeliverPass() == 0);
  REQUIRE(wire.sent.size() == 2);
  const auto held_one = [&]() {
    for (const auto& alert : f.Alerts()) {
      for (const auto& d : alert.deliveries) {
        if (d.state == DeliveryState::kPending) return d;
      }
    }
    FAIL("no pending message");
    return Delivery{};
  };
  Delivery third = held_one();
  CHECK(third.user_id == f.anna);
  CHECK(third.held == "rate_limit");
  CHECK(third.held_until_ms == start + 10 * kMinute);
  CHECK(third.attempts == 0);
  // Past the hold, the hour still holds two: it waits again.
  f.clock.SetMs(start + 10 * kMinute);
  CHECK(*email.DeliverPass() == 0);
  third = held_one();
  CHECK(third.held_until_ms == start + 20 * kMinute);
  // Once the first two are an hour old, it goes.
  for (int minutes = 20; minutes <= 60; minutes += 10) {
    f.clock.SetMs(start + minutes * kMinute);
    CHECK(*email.DeliverPass() == 0);
  }
  f.clock.SetMs(start + 70 * kMinute);
  CHECK(*email.DeliverPass() == 1);
  REQUIRE(wire.sent.size() == 3);
  CHECK(wire.sent[2].id == third.id);
  for (const auto& alert : f.Alerts()) {
    for (const auto& d : alert.deliveries) CHECK(d.state == DeliveryState::kSent);
  }
  // Another person is not limited by anna's count.
  const int64_t petr = f.MakeUser("petr", "en", "petr@example.com", "");
  REQUIRE(f.store->AssignEngineer(f.org, petr, AssignmentKind::kPrimary, "", f.clock.NowMs()).ok());
  f.Open("disk-space-low", f.org, f.Host(f.org, "db04"));
  REQUIRE(*dispatcher.PlanPass() == 1);
  CHECK(*email.DeliverPass() == 2);
}

TEST_CASE("a channel that gives up tells the admins on their other channels, once an hour") {
  Fixture f;
  f.settings.webhook = false;
  const int64_t root =
      MakeAccount(f, "root", UserRole::kAdmin, "root@example.com", "999000111", std::nullopt);
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.Open("disk-space-low", f.org, f.Host(f.org, "db01"));
  REQUIRE(*dispatcher.PlanPass() == 1);

  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  wire.failures = 1;
  wire.permanent = true;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  std::vector<std::string> reported;
  email.set_give_up_listener([&](const Delivery& delivery, const std::string& error) {
    const Status status = dispatcher.ReportChannelFailure(delivery, error);
    reported.push_back(status.ok() ? error : status.error().ToString());
  });
  CHECK(*email.DeliverPass() == 0);
  REQUIRE(reported.size() == 1);
  CHECK(reported[0] == "connection refused");
  auto failed = OfKind(f, "channel_failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].org_id == f.org);
  CHECK(failed[0].suppressed.empty());
  CHECK_FALSE(failed[0].escalate_at_ms);
  // root by Telegram only (e-mail is what failed); nobody else (anna is no admin).
  REQUIRE(failed[0].deliveries.size() == 1);
  const Delivery& notice = failed[0].deliveries[0];
  CHECK(notice.user_id == root);
  CHECK(notice.channel == AlertChannel::kTelegram);
  CHECK(notice.address == "999000111");
  CHECK(notice.held.empty());
  CHECK(notice.state == DeliveryState::kPending);
  CHECK(Contains(notice.payload, "anna@example.com"));

  // A second refusal within the hour: no second notice.
  f.clock.AdvanceMs(30 * kMinute);
  f.Open("disk-space-low", f.org, f.Host(f.org, "db02"));
  REQUIRE(*dispatcher.PlanPass() == 1);
  wire.failures = 1;
  CHECK(*email.DeliverPass() == 0);
  CHECK(reported.size() == 2);
  CHECK(OfKind(f, "channel_failed").size() == 1);

  // Telegram failing is another channel: its notice goes to root by e-mail.
  auto tg_sender = std::make_unique<RecordingSender>();
  tg_sender->failures = 1;
  tg_sender->permanent = true;
  DeliveryWorker telegram(*f.store, AlertChannel::kTelegram, std::move(tg_sender), f.clock);
  telegram.set_give_up_listener([&](const Delivery& delivery, const std::string& error) {
    REQUIRE(dispatcher.ReportChannelFailure(delivery, error).ok());
  });
  REQUIRE(telegram.DeliverPass().ok());
  failed = OfKind(f, "channel_failed");
  REQUIRE(failed.size() == 2);
  REQUIRE(failed[0].deliveries.size() == 1);
  CHECK(failed[0].deliveries[0].channel == AlertChannel::kEmail);
  CHECK(failed[0].deliveries[0].address == "root@example.com");
  CHECK(*email.DeliverPass() == 1);  // that notice reaches root by e-mail

  // An hour after the first e-mail notice, a new e-mail refusal is told again.
  f.clock.AdvanceMs(31 * kMinute);
  f.Open("disk-space-low", f.org, f.Host(f.org, "db03"));
  REQUIRE(*dispatcher.PlanPass() == 1);
  wire.failures = 1;
  CHECK(*email.DeliverPass() == 0);
  failed = OfKind(f, "channel_failed");
  CHECK(failed.size() == 3);
  CHECK(failed[0].deliveries.size() == 1);
  CHECK(failed[0].deliveries[0].channel == AlertChannel::kTelegram);
}

TEST_CASE("monthly report: last month's PDF by e-mail to primary engineers and opted-in contacts") {
  Fixture f;
  f.Open("disk-space-low", f.org, f.Host(f.org, "db01"));
  const int64_t contact = MakeAccount(f, "client-ceo", UserRole::kClient, "ceo@client.example", "",
                                      std::optional<int64_t>(f.org));
  UserPatch opt_in;
  opt_in.monthly_report = true;
  Patch(f, contact, opt_in);
  // Another contact who did not ask, and one of the prospect who did.
  MakeAccount(f, "client-it", UserRole::kClient, "it@client.example", "",
              std::optional<int64_t>(f.org));
  const int64_t prospect_contact =
      MakeAccount(f, "prospect-ceo", UserRole::kClient, "ceo@prospect.example", "",
                  std::optional<int64_t>(f.prospect));
  Patch(f, prospect_contact, opt_in);

  MonthlyReportSettings settings;
  settings.mail_from = "Dozor <dozor@example.com>";
  settings.dashboard_url = "https://dozor.example/";
  MonthlyReporter reporter(*f.store, &f.pack, settings, f.clock);
  const std::string month = PreviousMonth(f.clock.NowMs());
  CHECK(month == "2026-12");
  auto sent = reporter.Pass(true);
  REQUIRE(sent.ok());
  CHECK(*sent == 1);  // the active organisation only
  auto reports = OfKind(f, "monthly_report");
  REQUIRE(reports.size() == 1);
  const Alert& report = reports.front();
  CHECK(report.org_id == f.org);
  CHECK_FALSE(report.escalate_at_ms);
  // anna (primary, e-mail) and the opted-in contact; not olga (no e-mail), boris (backup) or the
  // contact who did not ask.
  REQUIRE(report.deliveries.size() == 2);
  std::vector<int64_t> recipients;
  for (const auto& d : report.deliveries) {
    CAPTURE(d.address);
    recipients.push_back(*d.user_id);
    CHECK(d.channel == AlertChannel::kEmail);
    CHECK(d.held.empty());
    CHECK(d.state == DeliveryState::kPending);
    CHECK(Contains(d.payload, "multipart/mixed"));
    CHECK(Contains(d.payload, "application/pdf"));
    // The attachment in base64 starts as a PDF does ("%PDF-1").
    CHECK(Contains(d.payload, Base64Encode("%PDF-1")));
    CHECK(Contains(d.idempotency_key, month));
  }
  std::sort(recipients.begin(), recipients.end());
  std::vector<int64_t> expected = {f.anna, contact};
  std::sort(expected.begin(), expected.end());
  CHECK(recipients == expected);
  auto record = f.store->GetMonthlyReport(f.org, month);
  REQUIRE(record.ok());
  REQUIRE(record->has_value());
  CHECK((*record)->recipients == 2);
  CHECK_FALSE(f.store->GetMonthlyReport(f.prospect, month)->has_value());

  // Once per organisation and month.
  auto again = reporter.Pass(true);
  REQUIRE(again.ok());
  CHECK(*again == 0);
  CHECK(OfKind(f, "monthly_report").size() == 1);
  // An unforced pass within check_every_ms does not even look.
  CHECK(*reporter.Pass() == 0);

  // The e-mail worker sends them like any message.
  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  CHECK(*email.DeliverPass() == 2);
  CHECK(wire.sent.size() == 2);

  // Next month, a new report.
  f.clock.SetMs(Utc(2027, 2, 1, 0, 5));
  CHECK(PreviousMonth(f.clock.NowMs()) == "2027-01");
  CHECK(*reporter.Pass(true) == 1);
  CHECK(OfKind(f, "monthly_report").size() == 2);
}

TEST_CASE("a burst of one organisation's alerts reaches a person as one message") {
  Fixture f;
  f.settings.webhook = false;
  f.settings.group_wait_ms = 20'000;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  for (int i = 1; i <= 3; ++i) {
    f.Open("disk-space-low", f.org, f.Host(f.org, "db0" + std::to_string(i)));
  }
  REQUIRE(*dispatcher.PlanPass() == 3);
  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  email.set_grouping(120'000, "dozor@example.com");
  // Not urgent: it waits for the burst to gather.
  CHECK(*email.DeliverPass() == 0);
  f.clock.AdvanceMs(20'000);
  CHECK(*email.DeliverPass() == 3);
  REQUIRE(wire.sent.size() == 1);
  const std::string& mail = wire.sent[0].payload;
  CHECK(mail.find("Subject: ") != std::string::npos);
  CHECK(mail.find("-group@dozor>") != std::string::npos);
  const auto decoded = [&](const std::string& payload) {
    // The plain text part: the first base64 block after its header.
    const size_t at = payload.find("text/plain");
    const size_t start = payload.find("\r\n\r\n", at) + 4;
    const size_t end = payload.find("--", start);
    std::string b64;
    for (char c : payload.substr(start, end - start)) {
      if (c != '\r' && c != '\n') b64 += c;
    }
    return Base64Decode(b64).value_or("");
  };
  const std::string text = decoded(mail);
  CHECK(text.find("1. ") != std::string::npos);
  CHECK(text.find("3. ") != std::string::npos);
  CHECK(text.find("db03") != std::string::npos);
  // All three are recorded as sent, by the one message.
  int sent = 0;
  for (const auto& alert : f.Alerts()) {
    for (const auto& d : alert.deliveries) {
      if (d.channel == AlertChannel::kEmail && d.state == DeliveryState::kSent) ++sent;
    }
  }
  CHECK(sent == 3);
  CHECK(*email.DeliverPass() == 0);
  CHECK(wire.sent.size() == 1);
}

TEST_CASE("grouping: an urgent message is not held back for a burst") {
  Fixture f;
  f.settings.webhook = false;
  f.settings.telegram = false;
  f.settings.group_wait_ms = 20'000;
  AddRule(f, "raid-degraded", "critical");
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.Open("raid-degraded", f.org, f.Host(f.org, "db01"));
  REQUIRE(*dispatcher.PlanPass() == 1);
  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  email.set_grouping(120'000, "dozor@example.com");
  CHECK(*email.DeliverPass() == 1);  // critical: at once, alone
  REQUIRE(wire.sent.size() == 1);
  CHECK(wire.sent[0].payload.find("-group@dozor>") == std::string::npos);
}

TEST_CASE("a message waiting for its burst never holds up an urgent one, which goes alone") {
  Fixture f;
  f.settings.webhook = false;
  f.settings.telegram = false;
  f.settings.group_wait_ms = 20'000;
  AddRule(f, "raid-degraded", "critical");
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.Open("disk-space-low", f.org, f.Host(f.org, "db01"));
  REQUIRE(*dispatcher.PlanPass() == 1);
  f.clock.AdvanceMs(1'000);
  f.Open("raid-degraded", f.org, f.Host(f.org, "db02"));
  REQUIRE(*dispatcher.PlanPass() == 1);
  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  DeliveryWorker email(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  email.set_grouping(120'000, "dozor@example.com");
  email.set_rate_limit_per_hour(1);
  CHECK(*email.DeliverPass() == 1);
  REQUIRE(wire.sent.size() == 1);
  CHECK(wire.sent[0].alert_severity == "critical");
  CHECK(wire.sent[0].payload.find("-group@dozor>") == std::string::npos);
  // The high one goes after its wait; the critical one sent did not use up the hour's one message.
  f.clock.AdvanceMs(20'000);
  CHECK(*email.DeliverPass() == 1);
  CHECK(wire.sent.size() == 2);
}

}  // namespace
}  // namespace dozor::server::alerts
