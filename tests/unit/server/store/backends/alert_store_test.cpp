// The alerts area (store/alert_store.hpp) on every backend: the cursor, alerts and their
// messages, acknowledgements, escalations, the outbox's order per recipient, claims, groups,
// holds, the backlog, pruning, alert rules, maintenance windows and notices.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::kBackendClockStartMs;
using dozor::testing::MakeOrg;
using dozor::testing::Ok;

constexpr int64_t kNow = kBackendClockStartMs;
constexpr int64_t kMinute = 60'000;

// A user to address messages to. PostgreSQL's users area may not be there yet: then the row is
// written directly (the columns 001_identity.sql has).
template <typename Backend>
int64_t MakeAlertUser(Backend& backend, const std::string& login) {
  if constexpr (requires { backend.store->Users(); }) {
    NewUser user;
    user.login = login;
    user.display_name = "User " + login;
    user.email = login + "@example.test";
    return Ok(backend.store->Users().CreateUser(user, kNow)).id;
  } else {
    auto db = Ok(backend.store->pool().Acquire());
    auto rows =
        Ok(db->Query("INSERT INTO users(login, display_name, email, role, created_at, updated_at) "
                     "VALUES ($1, $2, $3, 'engineer', $4, $4) RETURNING id",
                     pg::Params(login, "User " + login, login + "@example.test", kNow)));
    return rows.Int(0, 0);
  }
}

template <typename Backend>
std::string MakeAlertHost(Backend& backend, int64_t org_id, const std::string& agent_id) {
  auto& agents = backend.store->Agents();
  NewEnrollmentToken token;
  token.org_id = org_id;
  token.token_hash = "token-for-" + agent_id;
  Ok(agents.CreateEnrollmentToken(token));
  NewAgent agent;
  agent.agent_id = agent_id;
  agent.secret_hash = "secret-" + agent_id;
  agent.hostname = "host-" + agent_id;
  Ok(agents.EnrollAgent(token.token_hash, agent, kNow));
  return agent_id;
}

NewDelivery DeliveryTo(const std::string& key, const std::string& address,
                       AlertChannel channel = AlertChannel::kEmail) {
  NewDelivery d;
  d.channel = channel;
  d.address = address;
  d.language = "ru";
  d.idempotency_key = key;
  d.payload = "payload-" + key;
  d.message_json = R"({"org":"Acme","subject":")" + key + R"(","text":"t","html":"h"})";
  return d;
}

NewAlert AlertOf(int64_t org_id, int64_t event_id, const std::string& kind,
                 std::vector<NewDelivery> deliveries = {}) {
  NewAlert alert;
  alert.event_id = event_id;
  alert.kind = kind;
  alert.org_id = org_id;
  alert.severity = "high";
  alert.summary = kind + " " + std::to_string(event_id);
  alert.deliveries = std::move(deliveries);
  return alert;
}

// Records `alert` (cursor at its event) and returns it as stored.
template <typename Store>
Alert Record(Store& store, const NewAlert& alert, int64_t now_ms = kNow) {
  Ok(store.Alerts().RecordAlerts({alert}, {}, alert.event_id, now_ms));
  return Ok(store.Alerts().FindAlertByEvent(alert.event_id, alert.kind));
}

std::vector<int64_t> IdsOf(const std::vector<Delivery>& deliveries) {
  std::vector<int64_t> ids;
  for (const auto& d : deliveries) ids.push_back(d.id);
  return ids;
}

std::vector<int64_t> IdsOf(const std::vector<Alert>& alerts) {
  std::vector<int64_t> ids;
  for (const auto& a : alerts) ids.push_back(a.id);
  return ids;
}

TEST_CASE_TEMPLATE("alerts: the cursor starts unset and never moves back", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  CHECK_FALSE(Ok(alerts.AlertCursor()).has_value());
  Ok(alerts.RecordAlerts({}, {}, 10, kNow));
  CHECK(Ok(alerts.AlertCursor()) == std::optional<int64_t>(10));
  Ok(alerts.RecordAlerts({}, {}, 5, kNow));
  CHECK(Ok(alerts.AlertCursor()) == std::optional<int64_t>(10));
  Ok(alerts.RecordAlerts({}, {}, 25, kNow));
  CHECK(Ok(alerts.AlertCursor()) == std::optional<int64_t>(25));
}

TEST_CASE_TEMPLATE("alerts: recorded alerts read back with their messages", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const std::string host = MakeAlertHost(backend, acme, "agent-1");
  const int64_t anna = MakeAlertUser(backend, "anna");

  NewAlert opened = AlertOf(acme, 100, "finding_opened");
  opened.finding_id = 7;
  opened.agent_id = host;
  opened.severity = "critical";
  opened.escalate_at_ms = kNow + 30 * kMinute;
  NewDelivery to_anna = DeliveryTo("k-anna", "anna@example.test");
  to_anna.user_id = anna;
  to_anna.language = "en";
  NewDelivery webhook = DeliveryTo("k-hook", "https://hook.example.test/x", AlertChannel::kWebhook);
  webhook.message_json.clear();
  // Released later and held (the reason kept), released later without a reason (not held).
  NewDelivery grace = DeliveryTo("k-grace", "boris@example.test");
  grace.release_at_ms = kNow + 5 * kMinute;
  grace.held = "grace";
  NewDelivery later = DeliveryTo("k-later", "vera@example.test");
  later.release_at_ms = kNow + 7 * kMinute;
  // Released "in the past": sent at once.
  NewDelivery past = DeliveryTo("k-past", "gleb@example.test");
  past.release_at_ms = kNow - kMinute;
  past.held = "quiet_hours";
  opened.deliveries = {to_anna, webhook, grace, later, past};

  NewAlert offline = AlertOf(acme, 101, "host_offline", {DeliveryTo("k-anna", "x@example.test")});
  offline.agent_id = host;
  offline.severity = "";
  offline.suppressed = "maintenance";
  Ok(alerts.RecordAlerts({opened, offline}, {}, 101, kNow));
  CHECK(Ok(alerts.AlertCursor()) == std::optional<int64_t>(101));

  const Alert got = Ok(alerts.FindAlertByEvent(100, "finding_opened"));
  CHECK(got.created_at_ms == kNow);
  CHECK(got.event_id == 100);
  CHECK(got.kind == "finding_opened");
  CHECK(got.org_id == acme);
  CHECK(got.org_name == "Acme");
  CHECK(got.finding_id == std::optional<int64_t>(7));
  CHECK(got.agent_id == host);
  CHECK(got.hostname == "host-agent-1");
  CHECK(got.severity == "critical");
  CHECK(got.summary == "finding_opened 100");
  CHECK(got.stage == 0);
  CHECK(got.escalate_at_ms == opened.escalate_at_ms);
  CHECK_FALSE(got.acked_at_ms.has_value());
  CHECK(got.acked_by.empty());
  CHECK(got.suppressed.empty());
  REQUIRE(got.deliveries.size() == 5);
  const Delivery& first = got.deliveries[0];
  CHECK(first.alert_id == got.id);
  CHECK(first.stage == 0);
  CHECK(first.user_id == std::optional<int64_t>(anna));
  CHECK(first.login == "anna");
  CHECK(first.channel == AlertChannel::kEmail);
  CHECK(first.address == "anna@example.test");
  CHECK(first.language == "en");
  CHECK(first.idempotency_key == "k-anna");
  CHECK(first.payload == "payload-k-anna");
  CHECK(first.state == DeliveryState::kPending);
  CHECK(first.attempts == 0);
  CHECK(first.next_attempt_ms == kNow);
  CHECK(first.last_error.empty());
  CHECK_FALSE(first.sent_at_ms.has_value());
  CHECK(first.created_at_ms == kNow);
  CHECK(first.held.empty());
  CHECK(first.held_until_ms == 0);
  CHECK(first.message_json == to_anna.message_json);
  CHECK(first.org_id == acme);
  CHECK(first.alert_kind == "finding_opened");
  CHECK(first.alert_severity == "critical");
  CHECK(got.deliveries[1].channel == AlertChannel::kWebhook);
  CHECK_FALSE(got.deliveries[1].user_id.has_value());
  CHECK(got.deliveries[1].login.empty());
  CHECK(got.deliveries[1].message_json.empty());
  CHECK(got.deliveries[2].held == "grace");
  CHECK(got.deliveries[2].held_until_ms == kNow + 5 * kMinute);
  CHECK(got.deliveries[2].next_attempt_ms == kNow + 5 * kMinute);
  CHECK(got.deliveries[3].held.empty());
  CHECK(got.deliveries[3].held_until_ms == 0);
  CHECK(got.deliveries[3].next_attempt_ms == kNow + 7 * kMinute);
  CHECK(got.deliveries[4].held.empty());
  CHECK(got.deliveries[4].next_attempt_ms == kNow);
  CHECK(got.deliveries[0].id < got.deliveries[1].id);

  // The second alert's message reused a key: skipped, the alert recorded without it.
  const Alert second = Ok(alerts.FindAlertByEvent(101, "host_offline"));
  CHECK(second.deliveries.empty());
  CHECK(second.suppressed == "maintenance");
  CHECK(second.hostname == "host-agent-1");
  CHECK(second.severity.empty());
  CHECK(Ok(alerts.GetAlert(second.id)).summary == "host_offline 101");

  auto missing = alerts.GetAlert(second.id + 100);
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "no alert " + std::to_string(second.id + 100));
  auto no_event = alerts.FindAlertByEvent(100, "finding_resolved");
  CHECK(no_event.error().code == ErrorCode::kNotFound);
  CHECK(no_event.error().message == "no such alert");
}

TEST_CASE_TEMPLATE("alerts: acknowledgements stop escalation and cancel held messages", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");
  const std::string host = MakeAlertHost(backend, acme, "agent-1");

  const auto held = [](const std::string& key) {
    NewDelivery d = DeliveryTo(key, key + "@example.test");
    d.release_at_ms = kNow + 60 * kMinute;
    d.held = "working_hours";
    return d;
  };
  NewAlert opened =
      AlertOf(acme, 1, "finding_opened", {held("o-held"), DeliveryTo("o-now", "o@x")});
  opened.finding_id = 7;
  opened.escalate_at_ms = kNow + kMinute;
  NewAlert resolved = AlertOf(acme, 2, "finding_resolved", {held("r-held")});
  resolved.finding_id = 7;
  NewAlert other_finding = AlertOf(acme, 3, "finding_opened", {held("f8-held")});
  other_finding.finding_id = 8;
  NewAlert offline = AlertOf(acme, 4, "host_offline", {held("h-held")});
  offline.agent_id = host;
  NewAlert site = AlertOf(acme, 5, "site_offline");
  NewAlert other_site = AlertOf(beta, 6, "site_offline");
  Ok(alerts.RecordAlerts({opened, resolved, other_finding, offline, site, other_site}, {}, 6,
                         kNow));

  const int64_t later = kNow + 10 * kMinute;
  AlertAck by_finding;
  by_finding.finding_id = 7;
  AlertAck by_host;
  by_host.agent_id = host;
  by_host.org_id = acme;
  by_host.actor = "presence";
  // Planned and acknowledged in one batch: it ends acknowledged.
  NewAlert regressed = AlertOf(acme, 7, "finding_regressed");
  regressed.finding_id = 7;
  Ok(alerts.RecordAlerts({regressed}, {by_finding, by_host}, 7, later));

  const Alert got_opened = Ok(alerts.FindAlertByEvent(1, "finding_opened"));
  CHECK(got_opened.acked_at_ms == std::optional<int64_t>(later));
  CHECK(got_opened.acked_by == "system");
  CHECK_FALSE(got_opened.escalate_at_ms.has_value());
  REQUIRE(got_opened.deliveries.size() == 2);
  CHECK(got_opened.deliveries[0].state == DeliveryState::kCancelled);
  CHECK(got_opened.deliveries[1].state == DeliveryState::kPending);  // released: not cancelled
  CHECK(Ok(alerts.FindAlertByEvent(7, "finding_regressed")).acked_by == "system");
  // A notice is news whenever it arrives: its held message stays.
  const Alert got_resolved = Ok(alerts.FindAlertByEvent(2, "finding_resolved"));
  CHECK(got_resolved.acked_at_ms.has_value());
  CHECK(got_resolved.deliveries[0].state == DeliveryState::kPending);
  CHECK_FALSE(Ok(alerts.FindAlertByEvent(3, "finding_opened")).acked_at_ms.has_value());
  const Alert got_offline = Ok(alerts.FindAlertByEvent(4, "host_offline"));
  CHECK(got_offline.acked_by == "presence");
  CHECK(got_offline.deliveries[0].state == DeliveryState::kCancelled);
  CHECK(Ok(alerts.FindAlertByEvent(5, "site_offline")).acked_by == "presence");
  CHECK_FALSE(Ok(alerts.FindAlertByEvent(6, "site_offline")).acked_at_ms.has_value());

  // By hand: once, then kFailedPrecondition; an unknown alert is kNotFound.
  const Alert other = Ok(alerts.FindAlertByEvent(3, "finding_opened"));
  const Alert acked = Ok(alerts.AcknowledgeAlert(other.id, "anna", later + 1));
  CHECK(acked.acked_at_ms == std::optional<int64_t>(later + 1));
  CHECK(acked.acked_by == "anna");
  CHECK(acked.deliveries[0].state == DeliveryState::kCancelled);
  auto again = alerts.AcknowledgeAlert(other.id, "boris", later + 2);
  CHECK(again.error().code == ErrorCode::kFailedPrecondition);
  CHECK(again.error().message == "alert " + std::to_string(other.id) + " is already acknowledged");
  CHECK(alerts.AcknowledgeAlert(other.id + 1000, "anna", later).error().code ==
        ErrorCode::kNotFound);
}

TEST_CASE_TEMPLATE("alerts: pages newest first, filtered by organisation and scope", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");
  std::vector<int64_t> ids;
  for (int i = 0; i < 6; ++i) {
    const int64_t org = i % 2 == 0 ? acme : beta;
    const std::string key = "m" + std::to_string(i);
    ids.push_back(
        Record(*backend.store, AlertOf(org, 10 + i, "agent_trouble",
                                       {DeliveryTo(key, key + "@x"), DeliveryTo(key + "b", "b@x")}))
            .id);
  }
  Ok(alerts.AcknowledgeAlert(ids[4], "anna", kNow));

  AlertFilter filter;
  filter.limit = 4;
  auto page = Ok(alerts.ListAlerts(filter));
  CHECK(IdsOf(page) == std::vector<int64_t>{ids[5], ids[4], ids[3], ids[2]});
  REQUIRE(page[0].deliveries.size() == 2);
  CHECK(page[0].deliveries[0].idempotency_key == "m5");
  CHECK(page[0].deliveries[1].idempotency_key == "m5b");
  CHECK(page[3].deliveries[0].idempotency_key == "m2");
  filter.before_id = ids[2];
  CHECK(IdsOf(Ok(alerts.ListAlerts(filter))) == std::vector<int64_t>{ids[1], ids[0]});

  AlertFilter of_acme;
  of_acme.org_id = acme;
  CHECK(IdsOf(Ok(alerts.ListAlerts(of_acme))) == std::vector<int64_t>{ids[4], ids[2], ids[0]});
  of_acme.unacknowledged_only = true;
  CHECK(IdsOf(Ok(alerts.ListAlerts(of_acme))) == std::vector<int64_t>{ids[2], ids[0]});

  AlertFilter scoped;
  scoped.visible_org_ids = std::vector<int64_t>{beta};
  CHECK(IdsOf(Ok(alerts.ListAlerts(scoped))) == std::vector<int64_t>{ids[5], ids[3], ids[1]});
  scoped.visible_org_ids = std::vector<int64_t>{};
  CHECK(Ok(alerts.ListAlerts(scoped)).empty());
  scoped.visible_org_ids = std::vector<int64_t>{beta};
  scoped.org_id = acme;
  CHECK(Ok(alerts.ListAlerts(scoped)).empty());

  // The limit is clamped to 1..500.
  AlertFilter zero;
  zero.limit = 0;
  CHECK(Ok(alerts.ListAlerts(zero)).size() == 1);
}

TEST_CASE_TEMPLATE("alerts: due escalations are claimed until escalated", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  NewAlert late = AlertOf(acme, 1, "finding_opened");
  late.escalate_at_ms = kNow + 20 * kMinute;
  NewAlert early = AlertOf(acme, 2, "finding_opened");
  early.escalate_at_ms = kNow + 10 * kMinute;
  NewAlert never = AlertOf(acme, 3, "finding_opened");
  NewAlert acked = AlertOf(acme, 4, "finding_opened");
  acked.escalate_at_ms = kNow + kMinute;
  acked.finding_id = 44;
  NewAlert future = AlertOf(acme, 5, "finding_opened");
  future.escalate_at_ms = kNow + 90 * kMinute;
  AlertAck ack;
  ack.finding_id = 44;
  Ok(alerts.RecordAlerts({late, early, never, acked, future}, {ack}, 5, kNow));
  const int64_t late_id = Ok(alerts.FindAlertByEvent(1, "finding_opened")).id;
  const int64_t early_id = Ok(alerts.FindAlertByEvent(2, "finding_opened")).id;

  CHECK(Ok(alerts.DueEscalations(kNow + 5 * kMinute, 10)).empty());
  const int64_t at = kNow + 30 * kMinute;
  // Oldest due first; the limit counts.
  auto due = Ok(alerts.DueEscalations(at, 1));
  CHECK(IdsOf(due) == std::vector<int64_t>{early_id});
  CHECK(due[0].org_name == "Acme");
  // Claimed: the next caller gets the other one, then nothing.
  CHECK(IdsOf(Ok(alerts.DueEscalations(at, 10))) == std::vector<int64_t>{late_id});
  CHECK(Ok(alerts.DueEscalations(at, 10)).empty());

  // Escalated: the next stage's messages added, due again at its time.
  NewDelivery backup = DeliveryTo("e-backup", "backup@x");
  backup.stage = 1;
  CHECK(Ok(alerts.EscalateAlert(early_id, 1, at + 30 * kMinute, {backup}, at)));
  const Alert moved = Ok(alerts.GetAlert(early_id));
  CHECK(moved.stage == 1);
  CHECK(moved.escalate_at_ms == std::optional<int64_t>(at + 30 * kMinute));
  REQUIRE(moved.deliveries.size() == 1);
  CHECK(moved.deliveries[0].stage == 1);
  CHECK(moved.deliveries[0].created_at_ms == at);
  // Not to a stage it has reached, nor once acknowledged.
  CHECK_FALSE(Ok(alerts.EscalateAlert(early_id, 1, std::nullopt, {DeliveryTo("e-x", "x@x")}, at)));
  CHECK(Ok(alerts.GetAlert(early_id)).deliveries.size() == 1);
  Ok(alerts.AcknowledgeAlert(late_id, "anna", at));
  CHECK_FALSE(Ok(alerts.EscalateAlert(late_id, 1, std::nullopt, {}, at)));
  CHECK(Ok(alerts.GetAlert(late_id)).stage == 0);

  CHECK(Ok(alerts.DueEscalations(at + 29 * kMinute, 10)).empty());
  CHECK(IdsOf(Ok(alerts.DueEscalations(at + 30 * kMinute, 10))) == std::vector<int64_t>{early_id});
  // A claim nobody settles runs out: due again kAlertClaimMs later.
  CHECK(Ok(alerts.DueEscalations(at + 30 * kMinute + kAlertClaimMs - 1, 10)).empty());
  CHECK(IdsOf(Ok(alerts.DueEscalations(at + 30 * kMinute + kAlertClaimMs, 10))) ==
        std::vector<int64_t>{early_id});
  // The last stage: it stops escalating.
  CHECK(Ok(alerts.EscalateAlert(early_id, 2, std::nullopt, {}, at)));
  CHECK_FALSE(Ok(alerts.GetAlert(early_id)).escalate_at_ms.has_value());
  CHECK(Ok(alerts.DueEscalations(kNow + 1000 * kMinute, 10)).size() == 1);  // `future`
}

TEST_CASE_TEMPLATE("alerts: due deliveries go one at a time per recipient, in order", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const Alert alert =
      Record(*backend.store,
             AlertOf(acme, 1, "agent_trouble",
                     {DeliveryTo("a1", "a@x"), DeliveryTo("b1", "b@x"), DeliveryTo("a2", "a@x"),
                      DeliveryTo("a3", "a@x"), DeliveryTo("t1", "a@x", AlertChannel::kTelegram)}));
  const auto id_of = [&](const std::string& key) {
    for (const auto& d : alert.deliveries) {
      if (d.idempotency_key == key) return d.id;
    }
    FAIL("no message " << key);
    return int64_t{0};
  };
  const int64_t t = kNow + kMinute;

  auto due = Ok(alerts.DueDeliveries(AlertChannel::kEmail, t, 10));
  CHECK(IdsOf(due) == std::vector<int64_t>{id_of("a1"), id_of("b1")});
  CHECK(due[0].login.empty());
  CHECK(due[0].alert_kind == "agent_trouble");
  // Claimed: nothing more for anybody, not even a2 behind a1.
  CHECK(Ok(alerts.DueDeliveries(AlertChannel::kEmail, t, 10)).empty());
  CHECK(IdsOf(Ok(alerts.DueDeliveries(AlertChannel::kTelegram, t, 10))) ==
        std::vector<int64_t>{id_of("t1")});

  Ok(alerts.MarkDelivered(id_of("a1"), t));
  due = Ok(alerts.DueDeliveries(AlertChannel::kEmail, t, 10));
  CHECK(IdsOf(due) == std::vector<int64_t>{id_of("a2")});
  // A failed attempt to retry later keeps its recipient waiting behind it.
  Ok(alerts.MarkAttemptFailed(id_of("a2"), "421 try\nlater", t + 5 * kMinute, t));
  CHECK(Ok(alerts.DueDeliveries(AlertChannel::kEmail, t + 4 * kMinute, 10)).empty());
  due = Ok(alerts.DueDeliveries(AlertChannel::kEmail, t + 5 * kMinute, 10));
  REQUIRE(IdsOf(due) == std::vector<int64_t>{id_of("a2")});
  CHECK(due[0].attempts == 1);
  CHECK(due[0].last_error == "421 try later");
  CHECK(due[0].next_attempt_ms == t + 5 * kMinute);
  CHECK(due[0].state == DeliveryState::kPending);
  // Given up: failed, and the recipient's next one goes.
  Ok(alerts.MarkAttemptFailed(id_of("a2"), "550 no such user", std::nullopt, t + 5 * kMinute));
  auto failed_again = alerts.MarkAttemptFailed(id_of("a2"), "x", std::nullopt, t);
  CHECK(failed_again.error().code == ErrorCode::kNotFound);
  CHECK(failed_again.error().message == "no pending alert message " + std::to_string(id_of("a2")));
  due = Ok(alerts.DueDeliveries(AlertChannel::kEmail, t + 5 * kMinute, 10));
  CHECK(IdsOf(due) == std::vector<int64_t>{id_of("a3")});

  // b1's claim was never settled: it runs out.
  CHECK(Ok(alerts.DueDeliveries(AlertChannel::kEmail, t + kAlertClaimMs - 1, 10)).empty());
  CHECK(IdsOf(Ok(alerts.DueDeliveries(AlertChannel::kEmail, t + kAlertClaimMs, 10))) ==
        std::vector<int64_t>{id_of("b1")});

  const Alert after = Ok(alerts.GetAlert(alert.id));
  CHECK(after.deliveries[0].state == DeliveryState::kSent);
  CHECK(after.deliveries[0].sent_at_ms == std::optional<int64_t>(t));
  CHECK(after.deliveries[0].attempts == 1);
  CHECK(after.deliveries[2].state == DeliveryState::kFailed);
  CHECK(after.deliveries[2].attempts == 2);
  CHECK(after.deliveries[2].last_error == "550 no such user");

  auto missing = alerts.MarkDelivered(id_of("t1") + 1000, t);
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "no alert message " + std::to_string(id_of("t1") + 1000));
  // The limit counts (and is at least 1).
  Ok(alerts.MarkDelivered(id_of("b1"), t));
  Ok(alerts.MarkDelivered(id_of("a3"), t));
  Record(*backend.store,
         AlertOf(acme, 2, "agent_trouble",
                 {DeliveryTo("c1", "c@x"), DeliveryTo("d1", "d@x"), DeliveryTo("e1", "e@x")}));
  CHECK(Ok(alerts.DueDeliveries(AlertChannel::kEmail, t, 0)).size() == 1);
  CHECK(Ok(alerts.DueDeliveries(AlertChannel::kEmail, t, 10)).size() == 2);
}

TEST_CASE_TEMPLATE("alerts: held and later messages wait without holding up others", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  NewDelivery morning = DeliveryTo("held", "a@x");
  morning.release_at_ms = kNow + 60 * kMinute;
  morning.held = "working_hours";
  NewDelivery unheld_later = DeliveryTo("later", "b@x");
  unheld_later.release_at_ms = kNow + 30 * kMinute;
  const Alert alert = Record(*backend.store, AlertOf(acme, 1, "agent_trouble",
                                                     {morning, DeliveryTo("urgent", "a@x"),
                                                      unheld_later, DeliveryTo("b-next", "b@x")}));
  const int64_t held_id = alert.deliveries[0].id;
  const int64_t urgent_id = alert.deliveries[1].id;
  const int64_t later_id = alert.deliveries[2].id;
  const int64_t b_next = alert.deliveries[3].id;
  // The held one does not hold up the message behind it; a message released later (never
  // attempted) does not either.
  CHECK(IdsOf(Ok(alerts.DueDeliveries(AlertChannel::kEmail, kNow, 10))) ==
        std::vector<int64_t>{urgent_id, b_next});
  Ok(alerts.MarkDelivered(urgent_id, kNow));
  Ok(alerts.MarkDelivered(b_next, kNow));
  CHECK(IdsOf(Ok(alerts.DueDeliveries(AlertChannel::kEmail, kNow + 30 * kMinute, 10))) ==
        std::vector<int64_t>{later_id});
  Ok(alerts.MarkDelivered(later_id, kNow + 30 * kMinute));
  CHECK(IdsOf(Ok(alerts.DueDeliveries(AlertChannel::kEmail, kNow + 60 * kMinute, 10))) ==
        std::vector<int64_t>{held_id});

  // HoldDelivery (the rate limit): pending, not due until then, the claim ended.
  Ok(alerts.HoldDelivery(held_id, "rate_limit", kNow + 70 * kMinute));
  const Delivery held = Ok(alerts.GetAlert(alert.id)).deliveries[0];
  CHECK(held.state == DeliveryState::kPending);
  CHECK(held.held == "rate_limit");
  CHECK(held.held_until_ms == kNow + 70 * kMinute);
  CHECK(held.next_attempt_ms == kNow + 70 * kMinute);
  CHECK(Ok(alerts.DueDeliveries(AlertChannel::kEmail, kNow + 69 * kMinute, 10)).empty());
  CHECK(IdsOf(Ok(alerts.DueDeliveries(AlertChannel::kEmail, kNow + 70 * kMinute, 10))) ==
        std::vector<int64_t>{held_id});
  // Never earlier than a retry already set.
  Ok(alerts.HoldDelivery(held_id, "rate_limit", kNow + 65 * kMinute));
  CHECK(Ok(alerts.GetAlert(alert.id)).deliveries[0].next_attempt_ms == kNow + 70 * kMinute);
  Ok(alerts.MarkDelivered(held_id, kNow + 70 * kMinute));
  auto not_pending = alerts.HoldDelivery(held_id, "rate_limit", kNow);
  CHECK(not_pending.error().code == ErrorCode::kNotFound);
  CHECK(not_pending.error().message == "no pending alert message " + std::to_string(held_id));
}

TEST_CASE_TEMPLATE("alerts: group companions, a group marked sent, the rate limit's count", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");
  const int64_t anna = MakeAlertUser(backend, "anna");
  const auto to_anna = [&](const std::string& key, const std::string& address = "anna@x") {
    NewDelivery d = DeliveryTo(key, address);
    d.user_id = anna;
    return d;
  };
  const Alert lead = Record(*backend.store, AlertOf(acme, 1, "agent_trouble", {to_anna("lead")}));
  const Alert mate1 = Record(*backend.store, AlertOf(acme, 2, "finding_opened", {to_anna("m1")}));
  Record(*backend.store, AlertOf(acme, 3, "agent_trouble", {to_anna("other", "boris@x")}));
  Record(*backend.store, AlertOf(beta, 4, "agent_trouble", {to_anna("beta")}));
  NewAlert critical = AlertOf(acme, 5, "finding_opened", {to_anna("crit")});
  critical.severity = "critical";
  Record(*backend.store, critical);
  Record(*backend.store, AlertOf(acme, 6, "host_offline", {to_anna("offline")}));
  NewDelivery plain = to_anna("plain");
  plain.message_json.clear();
  Record(*backend.store, AlertOf(acme, 7, "agent_trouble", {plain}));
  NewDelivery held = to_anna("held");
  held.release_at_ms = kNow + 60 * kMinute;
  held.held = "quiet_hours";
  Record(*backend.store, AlertOf(acme, 8, "agent_trouble", {held}));
  const Alert mate2 =
      Record(*backend.store, AlertOf(acme, 9, "finding_resolved", {to_anna("m2")}), kNow + kMinute);
  Record(*backend.store, AlertOf(acme, 10, "agent_trouble", {to_anna("too-late")}),
         kNow + 3 * kMinute);

  auto due = Ok(alerts.DueDeliveries(AlertChannel::kEmail, kNow + 3 * kMinute, 10));
  REQUIRE(!due.empty());
  const Delivery leader = due[0];
  CHECK(leader.id == lead.deliveries[0].id);
  auto companions = Ok(alerts.GroupCompanions(leader, kNow + 3 * kMinute, 2 * kMinute, 10));
  CHECK(IdsOf(companions) == std::vector<int64_t>{mate1.deliveries[0].id, mate2.deliveries[0].id});
  CHECK(IdsOf(Ok(alerts.GroupCompanions(leader, kNow + 3 * kMinute, 2 * kMinute, 1))) ==
        std::vector<int64_t>{mate1.deliveries[0].id});

  // Before any send, nothing counts.
  CHECK(Ok(alerts.CountSentTo(anna, AlertChannel::kEmail, kNow)) == 0);
  Ok(alerts.MarkAllDelivered({leader.id, mate1.deliveries[0].id, mate2.deliveries[0].id},
                             kNow + 3 * kMinute));
  const Alert sent_lead = Ok(alerts.GetAlert(lead.id));
  CHECK(sent_lead.deliveries[0].state == DeliveryState::kSent);
  CHECK(sent_lead.deliveries[0].attempts == 1);
  const Alert sent_mate = Ok(alerts.GetAlert(mate1.id));
  CHECK(sent_mate.deliveries[0].state == DeliveryState::kSent);
  CHECK(sent_mate.deliveries[0].attempts == 0);
  CHECK(sent_mate.deliveries[0].sent_at_ms == std::optional<int64_t>(kNow + 3 * kMinute));
  // A group counts once; urgent pages (critical, host offline) not at all.
  CHECK(Ok(alerts.CountSentTo(anna, AlertChannel::kEmail, kNow)) == 1);
  for (const auto& d : Ok(alerts.DueDeliveries(AlertChannel::kEmail, kNow + 3 * kMinute, 10))) {
    Ok(alerts.MarkDelivered(d.id, kNow + 4 * kMinute));
  }
  // The next of anna's (Beta's message; Boris's is still claimed) is sent alone: it counts.
  CHECK(Ok(alerts.CountSentTo(anna, AlertChannel::kEmail, kNow)) == 2);
  CHECK(Ok(alerts.CountSentTo(anna, AlertChannel::kEmail, kNow + 5 * kMinute)) == 0);
  CHECK(Ok(alerts.CountSentTo(anna, AlertChannel::kTelegram, kNow)) == 0);
  // Only pending messages are marked by a group: a sent one stays as it was.
  Ok(alerts.MarkAllDelivered({leader.id}, kNow + 9 * kMinute));
  CHECK(Ok(alerts.GetAlert(lead.id)).deliveries[0].attempts == 1);
  Ok(alerts.MarkAllDelivered({}, kNow));
}

TEST_CASE_TEMPLATE("alerts: the rate limit counts only what it limits", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t anna = MakeAlertUser(backend, "anna");
  const auto send = [&](int64_t event, const std::string& kind, const std::string& severity) {
    NewDelivery d = DeliveryTo("k" + std::to_string(event), "anna-" + std::to_string(event) + "@x");
    d.user_id = anna;
    NewAlert alert = AlertOf(acme, event, kind, {d});
    alert.severity = severity;
    const Alert recorded = Record(*backend.store, alert);
    Ok(alerts.MarkDelivered(recorded.deliveries[0].id, kNow + event));
  };
  send(1, "finding_opened", "high");
  send(2, "finding_regressed", "medium");
  send(3, "agent_trouble", "");
  send(4, "finding_opened", "critical");
  send(5, "host_offline", "");
  send(6, "site_offline", "");
  send(7, "channel_failed", "");
  send(8, "monthly_report", "");
  send(9, "finding_resolved", "critical");
  CHECK(Ok(alerts.CountSentTo(anna, AlertChannel::kEmail, kNow)) == 4);
  CHECK(Ok(alerts.CountSentTo(anna, AlertChannel::kEmail, kNow + 3)) == 2);
  CHECK(Ok(alerts.CountSentTo(anna + 1, AlertChannel::kEmail, kNow)) == 0);
}

TEST_CASE_TEMPLATE("alerts: a failed attempt's error is kept as one bounded line", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const Alert alert =
      Record(*backend.store, AlertOf(acme, 1, "agent_trouble", {DeliveryTo("a", "a@x")}));
  std::string error = "сервер\r\nответил: ";
  while (error.size() < 1500) error += "ошибка ";
  error += std::string("\xff\xfe", 2);
  Ok(alerts.MarkAttemptFailed(alert.deliveries[0].id, error, kNow + kMinute, kNow));
  const std::string kept = Ok(alerts.GetAlert(alert.id)).deliveries[0].last_error;
  CHECK(kept.size() <= kMaxDeliveryErrorBytes);
  CHECK(kept.size() >= kMaxDeliveryErrorBytes - 3);
  CHECK(kept.rfind("сервер  ответил: ошибка", 0) == 0);
  CHECK(kept.find('\n') == std::string::npos);
  CHECK(KeptDeliveryError(std::string("bad \xff\xc3 byte", 11)) == "bad ?? byte");
  CHECK(KeptDeliveryError("") == "");
}

TEST_CASE_TEMPLATE("alerts: backlog per channel and pruning", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  auto empty = Ok(alerts.AlertBacklog());
  REQUIRE(empty.size() == 3);
  CHECK(empty[0].channel == AlertChannel::kEmail);
  CHECK(empty[1].channel == AlertChannel::kTelegram);
  CHECK(empty[2].channel == AlertChannel::kWebhook);
  CHECK(empty[0].pending == 0);
  CHECK_FALSE(empty[0].oldest_pending_ms.has_value());

  const Alert old_done = Record(
      *backend.store,
      AlertOf(acme, 1, "agent_trouble", {DeliveryTo("s", "a@x"), DeliveryTo("f", "b@x")}), kNow);
  const Alert old_pending =
      Record(*backend.store, AlertOf(acme, 2, "agent_trouble", {DeliveryTo("p", "c@x")}), kNow + 1);
  const Alert recent =
      Record(*backend.store,
             AlertOf(acme, 3, "agent_trouble", {DeliveryTo("t", "42", AlertChannel::kTelegram)}),
             kNow + 100 * kMinute);
  const Alert bare = Record(*backend.store, AlertOf(acme, 4, "agent_trouble"), kNow + 2);
  Ok(alerts.MarkDelivered(old_done.deliveries[0].id, kNow + 5));
  Ok(alerts.MarkAttemptFailed(old_done.deliveries[1].id, "refused", std::nullopt, kNow + 5));
  Ok(alerts.MarkAttemptFailed(recent.deliveries[0].id, "timeout", kNow + 200 * kMinute,
                              kNow + 100 * kMinute));

  auto backlog = Ok(alerts.AlertBacklog());
  CHECK(backlog[0].pending == 1);
  CHECK(backlog[0].sent == 1);
  CHECK(backlog[0].failed == 1);
  CHECK(backlog[0].cancelled == 0);
  CHECK(backlog[0].oldest_pending_ms == std::optional<int64_t>(kNow + 1));
  CHECK(backlog[0].last_error == "refused");
  CHECK(backlog[1].pending == 1);
  CHECK(backlog[1].last_error == "timeout");
  CHECK(backlog[2].pending == 0);
  CHECK(backlog[2].last_error.empty());

  // Old alerts whose messages are all settled go (with their messages); pending ones stay.
  CHECK(Ok(alerts.PruneAlerts(kNow + 50 * kMinute)) == 2);
  CHECK(alerts.GetAlert(old_done.id).error().code == ErrorCode::kNotFound);
  CHECK(alerts.GetAlert(bare.id).error().code == ErrorCode::kNotFound);
  CHECK(Ok(alerts.GetAlert(old_pending.id)).deliveries.size() == 1);
  CHECK(Ok(alerts.GetAlert(recent.id)).id == recent.id);
  backlog = Ok(alerts.AlertBacklog());
  CHECK(backlog[0].sent == 0);
  CHECK(backlog[0].failed == 0);
  CHECK(backlog[0].pending == 1);
  CHECK(Ok(alerts.PruneAlerts(kNow + 50 * kMinute)) == 0);
}

TEST_CASE_TEMPLATE("alerts: the flap detector's count and whether a finding was announced", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const auto finding_alert = [&](int64_t event, const std::string& kind, int64_t finding,
                                 const std::string& suppressed, std::vector<NewDelivery> ds,
                                 int64_t at) {
    NewAlert alert = AlertOf(acme, event, kind, std::move(ds));
    alert.finding_id = finding;
    alert.suppressed = suppressed;
    return Record(*backend.store, alert, at);
  };
  finding_alert(1, "finding_opened", 7, "", {}, kNow);
  finding_alert(2, "finding_regressed", 7, "flapping", {}, kNow + kMinute);
  finding_alert(3, "finding_regressed", 7, "maintenance", {}, kNow + kMinute);
  finding_alert(4, "finding_resolved", 7, "", {}, kNow + kMinute);
  finding_alert(5, "finding_opened", 8, "", {}, kNow + kMinute);
  CHECK(Ok(alerts.CountFindingAlerts(7, kNow)) == 2);
  CHECK(Ok(alerts.CountFindingAlerts(7, kNow + 1)) == 1);
  CHECK(Ok(alerts.CountFindingAlerts(9, kNow)) == 0);

  // Nobody told yet: no messages, or only held ones.
  CHECK_FALSE(Ok(alerts.FindingAnnounced(7, kNow)));
  NewDelivery held = DeliveryTo("held", "a@x");
  held.release_at_ms = kNow + 60 * kMinute;
  held.held = "working_hours";
  finding_alert(6, "finding_opened", 10, "", {held}, kNow);
  CHECK_FALSE(Ok(alerts.FindingAnnounced(10, kNow)));
  CHECK(Ok(alerts.FindingAnnounced(10, kNow + 60 * kMinute)));  // released by then
  // A "resolved" message does not count; a released pending or a sent one does.
  finding_alert(7, "finding_resolved", 11, "", {DeliveryTo("r", "a@x")}, kNow);
  CHECK_FALSE(Ok(alerts.FindingAnnounced(11, kNow)));
  const Alert sent = finding_alert(8, "finding_regressed", 12, "", {DeliveryTo("s", "s@x")}, kNow);
  CHECK(Ok(alerts.FindingAnnounced(12, kNow)));
  Ok(alerts.MarkDelivered(sent.deliveries[0].id, kNow));
  CHECK(Ok(alerts.FindingAnnounced(12, kNow)));
  // Cancelled (acknowledged while held): never announced.
  AlertAck ack;
  ack.finding_id = 10;
  Ok(alerts.RecordAlerts({}, {ack}, 8, kNow + kMinute));
  CHECK_FALSE(Ok(alerts.FindingAnnounced(10, kNow + 60 * kMinute)));
}

TEST_CASE_TEMPLATE("alerts: an organisation's alert rules", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");

  const OrgAlertSettings defaults = Ok(alerts.GetOrgAlertSettings(acme));
  CHECK(defaults.org_id == acme);
  CHECK(defaults.time_zone == "Europe/Moscow");
  CHECK(defaults.work_days == 0x1F);
  CHECK(defaults.work_start_minute == 540);
  CHECK(defaults.work_end_minute == 1080);
  CHECK(defaults.after_hours == AfterHours::kAll);
  CHECK_FALSE(defaults.min_severity.has_value());
  CHECK(defaults.server_grace_minutes == 0);
  CHECK(defaults.rule_overrides.empty());
  CHECK_FALSE(defaults.updated_at_ms.has_value());
  auto missing = alerts.GetOrgAlertSettings(acme + 100);
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "no organization with id " + std::to_string(acme + 100));

  OrgAlertSettings settings = defaults;
  settings.time_zone = "Asia/Yekaterinburg";
  settings.work_days = 0x3F;
  settings.work_start_minute = 8 * 60;
  settings.work_end_minute = 20 * 60;
  settings.after_hours = AfterHours::kUrgent;
  settings.min_severity = Severity::kMedium;
  settings.server_grace_minutes = 15;
  settings.rule_overrides = {{"win.smb1", std::nullopt},
                             {"Linux.ssh", Severity::kHigh},
                             {"linux.disk", Severity::kLow},
                             {"linux.disk", Severity::kCritical}};
  const OrgAlertSettings put = Ok(alerts.PutOrgAlertSettings(settings, "anna", kNow + 5));
  CHECK(put.time_zone == "Asia/Yekaterinburg");
  CHECK(put.work_days == 0x3F);
  CHECK(put.work_start_minute == 480);
  CHECK(put.work_end_minute == 1200);
  CHECK(put.after_hours == AfterHours::kUrgent);
  CHECK(put.min_severity == std::optional<Severity>(Severity::kMedium));
  CHECK(put.server_grace_minutes == 15);
  CHECK(put.updated_at_ms == std::optional<int64_t>(kNow + 5));
  CHECK(put.updated_by == "anna");
  // Sorted by rule id (bytes: upper case first); a rule named twice keeps the later one.
  REQUIRE(put.rule_overrides.size() == 3);
  CHECK(put.rule_overrides[0].rule_id == "Linux.ssh");
  CHECK(put.rule_overrides[1].rule_id == "linux.disk");
  CHECK(put.rule_overrides[1].min_severity == std::optional<Severity>(Severity::kCritical));
  CHECK(put.rule_overrides[2].rule_id == "win.smb1");
  CHECK_FALSE(put.rule_overrides[2].min_severity.has_value());

  // Replaced whole, overrides too.
  OrgAlertSettings fewer = put;
  fewer.min_severity.reset();
  fewer.rule_overrides = {{"win.rdp", Severity::kInfo}};
  const OrgAlertSettings replaced = Ok(alerts.PutOrgAlertSettings(fewer, "boris", kNow + 6));
  CHECK_FALSE(replaced.min_severity.has_value());
  REQUIRE(replaced.rule_overrides.size() == 1);
  CHECK(replaced.rule_overrides[0].rule_id == "win.rdp");
  CHECK(replaced.updated_by == "boris");
  CHECK(Ok(alerts.GetOrgAlertSettings(acme)).rule_overrides.size() == 1);

  const auto refused = [&](OrgAlertSettings bad, const std::string& message) {
    auto result = alerts.PutOrgAlertSettings(bad, "anna", kNow);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::kInvalidArgument);
    if (!message.empty()) CHECK(result.error().message == message);
  };
  OrgAlertSettings bad = replaced;
  bad.time_zone = "Mars/Olympus";
  refused(bad, "");
  bad = replaced;
  bad.work_days = 0x80;
  refused(bad, "work_days must be a set of weekdays");
  bad = replaced;
  bad.work_days = 0;
  bad.after_hours = AfterHours::kNone;
  refused(bad, "with no working days, after_hours must be all (or nothing would ever go)");
  bad = replaced;
  bad.work_start_minute = 600;
  bad.work_end_minute = 600;
  refused(bad, "working hours must start before they end, within one day (09:00-18:00)");
  bad = replaced;
  bad.server_grace_minutes = 1441;
  refused(bad, "server_grace_minutes must be 0-1440");
  bad = replaced;
  bad.rule_overrides.assign(501, {"r", std::nullopt});
  refused(bad, "at most 500 rule overrides");
  bad = replaced;
  bad.rule_overrides = {{"", std::nullopt}};
  refused(bad, "a rule override needs a rule id of 1-128 bytes");
  bad = replaced;
  bad.org_id = acme + 100;
  CHECK(alerts.PutOrgAlertSettings(bad, "anna", kNow).error().code == ErrorCode::kNotFound);
  CHECK(Ok(alerts.GetOrgAlertSettings(acme)).updated_by == "boris");
}

TEST_CASE_TEMPLATE("alerts: maintenance windows", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");
  const std::string host = MakeAlertHost(backend, acme, "agent-1");

  MaintenanceWindow one_off;
  one_off.org_id = beta;
  one_off.starts_at_ms = kNow;
  one_off.ends_at_ms = kNow + 60 * kMinute;
  one_off.start_minute = 30;  // ignored for a one-off window
  one_off.reason = "переезд";
  one_off.created_by = "anna";
  const MaintenanceWindow first = Ok(alerts.AddMaintenanceWindow(one_off, kNow - 1));
  CHECK(first.id > 0);
  CHECK(first.created_at_ms == kNow - 1);
  CHECK(first.start_minute == 0);

  MaintenanceWindow weekly;
  weekly.org_id = acme;
  weekly.agent_id = host;
  weekly.weekdays = 0x40;
  weekly.start_minute = 120;
  weekly.duration_minutes = 180;
  weekly.reason = "backups";
  const MaintenanceWindow second = Ok(alerts.AddMaintenanceWindow(weekly, kNow));
  MaintenanceWindow whole_org = one_off;
  whole_org.org_id = acme;
  whole_org.ends_at_ms = kNow + 10 * kMinute;
  const MaintenanceWindow third = Ok(alerts.AddMaintenanceWindow(whole_org, kNow));

  const auto all = Ok(alerts.ListMaintenanceWindows(std::nullopt));
  REQUIRE(all.size() == 3);
  CHECK(all[0].id == second.id);  // by organisation, then id
  CHECK(all[1].id == third.id);
  CHECK(all[2].id == first.id);
  CHECK(all[0].agent_id == host);
  CHECK(all[0].weekdays == 0x40);
  CHECK(all[0].start_minute == 120);
  CHECK(all[0].duration_minutes == 180);
  CHECK_FALSE(all[0].starts_at_ms.has_value());
  CHECK(all[2].reason == "переезд");
  CHECK(all[2].created_by == "anna");
  CHECK(all[2].starts_at_ms == std::optional<int64_t>(kNow));
  CHECK(all[2].ends_at_ms == std::optional<int64_t>(kNow + 60 * kMinute));
  CHECK(Ok(alerts.ListMaintenanceWindows(beta)).size() == 1);

  const auto refused = [&](MaintenanceWindow bad, ErrorCode code, const std::string& message) {
    auto result = alerts.AddMaintenanceWindow(bad, kNow);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == code);
    CHECK(result.error().message == message);
  };
  MaintenanceWindow bad = one_off;
  bad.ends_at_ms = kNow;
  refused(bad, ErrorCode::kInvalidArgument,
          "a one-off maintenance window needs a start before its end");
  bad = one_off;
  bad.weekdays = 1;
  refused(bad, ErrorCode::kInvalidArgument,
          "a maintenance window is either one-off (start, end) or weekly, not both");
  bad = weekly;
  bad.weekdays = 0;
  refused(bad, ErrorCode::kInvalidArgument, "a weekly maintenance window needs its weekdays");
  bad = weekly;
  bad.start_minute = 1440;
  refused(bad, ErrorCode::kInvalidArgument, "a weekly maintenance window starts at 00:00-23:59");
  bad = weekly;
  bad.duration_minutes = 0;
  refused(bad, ErrorCode::kInvalidArgument, "a weekly maintenance window lasts 1 minute to 7 days");
  bad = weekly;
  bad.reason.assign(2001, 'x');
  refused(bad, ErrorCode::kInvalidArgument, "reason must be at most 2000 bytes");
  bad = weekly;
  bad.org_id = beta;
  refused(bad, ErrorCode::kInvalidArgument,
          "host " + host + " is not in organization " + std::to_string(beta));
  bad = weekly;
  bad.org_id = beta + 100;
  refused(bad, ErrorCode::kNotFound, "no organization with id " + std::to_string(beta + 100));

  // Deleted only in its organisation.
  auto elsewhere = alerts.DeleteMaintenanceWindow(beta, second.id);
  CHECK(elsewhere.error().code == ErrorCode::kNotFound);
  CHECK(elsewhere.error().message == "no maintenance window " + std::to_string(second.id) +
                                         " in organization " + std::to_string(beta));
  Ok(alerts.DeleteMaintenanceWindow(acme, second.id));
  CHECK(alerts.DeleteMaintenanceWindow(acme, second.id).error().code == ErrorCode::kNotFound);

  // One-off windows that ended before the time go; weekly ones never.
  Ok(alerts.AddMaintenanceWindow(weekly, kNow));
  CHECK(Ok(alerts.PruneMaintenanceWindows(kNow + 10 * kMinute)) == 0);
  CHECK(Ok(alerts.PruneMaintenanceWindows(kNow + 10 * kMinute + 1)) == 1);
  CHECK(Ok(alerts.PruneMaintenanceWindows(kNow + 1000 * kMinute)) == 1);
  CHECK(Ok(alerts.ListMaintenanceWindows(std::nullopt)).size() == 1);

  // At most kMaxMaintenanceWindowsPerOrg per organisation.
  for (int i = 1; i < kMaxMaintenanceWindowsPerOrg; ++i)
    Ok(alerts.AddMaintenanceWindow(weekly, kNow));
  refused(weekly, ErrorCode::kResourceExhausted,
          "an organisation has at most 100 maintenance windows; delete old ones first");
  Ok(alerts.AddMaintenanceWindow(one_off, kNow));  // another organisation's count
}

TEST_CASE_TEMPLATE("alerts: notices and monthly reports", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  Ok(alerts.RecordAlerts({}, {}, 50, kNow));

  const NewAlert notice = AlertOf(acme, 0, "channel_failed", {DeliveryTo("n1", "root@x")});
  CHECK(Ok(alerts.RecordNotice(notice, nullptr, kNow)));
  CHECK(Ok(alerts.AlertCursor()) == std::optional<int64_t>(50));  // untouched
  const Alert recorded = Ok(alerts.FindAlertByEvent(0, "channel_failed"));
  CHECK(recorded.deliveries.size() == 1);

  MonthlyReportRecord month;
  month.org_id = acme;
  month.month = "2026-11";
  month.sent_at_ms = kNow + 1;
  month.recipients = 3;
  const NewAlert report = AlertOf(acme, 0, "monthly_report", {DeliveryTo("r1", "boss@x")});
  CHECK_FALSE(Ok(alerts.GetMonthlyReport(acme, "2026-11")).has_value());
  CHECK(Ok(alerts.RecordNotice(report, &month, kNow)));
  NewAlert again = report;
  again.deliveries = {DeliveryTo("r2", "boss@x")};
  CHECK_FALSE(Ok(alerts.RecordNotice(again, &month, kNow)));
  AlertFilter reports;
  reports.limit = 10;
  size_t monthly = 0;
  for (const auto& alert : Ok(alerts.ListAlerts(reports))) {
    if (alert.kind == "monthly_report") ++monthly;
  }
  CHECK(monthly == 1);
  const auto got = Ok(alerts.GetMonthlyReport(acme, "2026-11"));
  REQUIRE(got.has_value());
  CHECK(got->org_id == acme);
  CHECK(got->month == "2026-11");
  CHECK(got->sent_at_ms == kNow + 1);
  CHECK(got->recipients == 3);
  CHECK_FALSE(Ok(alerts.GetMonthlyReport(acme, "2026-12")).has_value());
  month.month = "2026-12";
  CHECK(Ok(alerts.RecordNotice(again, &month, kNow)));
}

// Several workers (threads here, dozor-server replicas in production) take due messages at once:
// none is handed to two of them, and a recipient's next message never goes while an older one
// is in flight.
TEST_CASE_TEMPLATE("alerts: concurrent workers never take the same due delivery", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  constexpr int kAddresses = 12;
  constexpr int kPerAddress = 4;
  std::vector<NewAlert> planned;
  for (int n = 0; n < kPerAddress; ++n) {
    std::vector<NewDelivery> ds;
    for (int a = 0; a < kAddresses; ++a) {
      ds.push_back(DeliveryTo("c" + std::to_string(n) + "-" + std::to_string(a),
                              "r" + std::to_string(a) + "@x"));
    }
    planned.push_back(AlertOf(acme, n + 1, "agent_trouble", std::move(ds)));
  }
  Ok(alerts.RecordAlerts(planned, {}, kPerAddress, kNow));

  std::mutex mu;
  std::map<std::string, int64_t> in_flight;  // address -> the message a worker holds
  std::map<std::string, int64_t> last_sent;  // address -> the last message sent to it
  std::multiset<int64_t> taken;
  std::atomic<bool> overlap{false};
  std::atomic<bool> out_of_order{false};
  std::atomic<int> errors{0};
  const auto worker = [&](int seed) {
    int idle = 0;
    while (idle < 3) {
      auto due = alerts.DueDeliveries(AlertChannel::kEmail, kNow, 3 + seed);
      if (!due.ok()) {
        ++errors;
        return;
      }
      if (due->empty()) {
        ++idle;
        std::this_thread::yield();
        continue;
      }
      idle = 0;
      {
        std::lock_guard lock(mu);
        for (const auto& d : *due) {
          taken.insert(d.id);
          if (in_flight.count(d.address) != 0) overlap = true;
          in_flight[d.address] = d.id;
        }
      }
      for (const auto& d : *due) {
        {
          std::lock_guard lock(mu);
          if (last_sent.count(d.address) != 0 && last_sent[d.address] > d.id) out_of_order = true;
          last_sent[d.address] = d.id;
          in_flight.erase(d.address);
        }
        // Cleared before the store hears of it: the next message of the address may be handed
        // out the moment this one is marked.
        if (!alerts.MarkDelivered(d.id, kNow).ok()) ++errors;
      }
    }
  };
  std::thread first(worker, 0);
  std::thread second(worker, 1);
  first.join();
  second.join();

  CHECK(errors.load() == 0);
  CHECK_FALSE(overlap.load());
  CHECK_FALSE(out_of_order.load());
  CHECK(taken.size() == static_cast<size_t>(kAddresses * kPerAddress));
  CHECK(std::set<int64_t>(taken.begin(), taken.end()).size() == taken.size());
  auto backlog = Ok(alerts.AlertBacklog());
  CHECK(backlog[0].pending == 0);
  CHECK(backlog[0].sent == kAddresses * kPerAddress);
}

TEST_CASE_TEMPLATE("alerts: concurrent dispatchers never take the same due escalation", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& alerts = backend.store->Alerts();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  constexpr int kAlerts = 30;
  std::vector<NewAlert> planned;
  for (int i = 0; i < kAlerts; ++i) {
    NewAlert alert = AlertOf(acme, i + 1, "finding_opened");
    alert.escalate_at_ms = kNow + i;
    planned.push_back(alert);
  }
  Ok(alerts.RecordAlerts(planned, {}, kAlerts, kNow));

  std::mutex mu;
  std::multiset<int64_t> taken;
  std::atomic<int> errors{0};
  std::atomic<int> escalated{0};
  const auto dispatcher = [&](int seed) {
    for (;;) {
      auto due = alerts.DueEscalations(kNow + kAlerts, 2 + seed);
      if (!due.ok()) {
        ++errors;
        return;
      }
      if (due->empty()) return;
      for (const auto& alert : *due) {
        {
          std::lock_guard lock(mu);
          taken.insert(alert.id);
        }
        NewDelivery backup = DeliveryTo("esc-" + std::to_string(alert.id), "backup@x");
        backup.stage = 1;
        auto moved = alerts.EscalateAlert(alert.id, 1, std::nullopt, {backup}, kNow);
        if (!moved.ok()) {
          ++errors;
        } else if (*moved) {
          ++escalated;
        }
      }
    }
  };
  std::thread first(dispatcher, 0);
  std::thread second(dispatcher, 1);
  first.join();
  second.join();

  CHECK(errors.load() == 0);
  CHECK(escalated.load() == kAlerts);
  CHECK(taken.size() == static_cast<size_t>(kAlerts));
  CHECK(std::set<int64_t>(taken.begin(), taken.end()).size() == taken.size());
}

}  // namespace
}  // namespace dozor::server
