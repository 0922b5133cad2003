// Alerting over a real SQLite store with a controllable clock: from the event feed to the outbox
// (who is told, in which language, on which channel), escalation to the backup and the duty list,
// acknowledgement, workstations at night, a site outage as one alert, and the delivery workers'
// retries, order per recipient and giving up. The transport is a recording sender here; the real
// SMTP, Telegram and webhook receivers are in tests/e2e/test_alerts.py.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "alerts/alert_dispatcher.hpp"
#include "dozor/common/base64.hpp"
#include "server/alerts/alert_fixture.hpp"

namespace dozor::server::alerts {
namespace {

using alert_fixture::Channels;
using alert_fixture::Fixture;
using alert_fixture::kMinute;
using alert_fixture::RecordingSender;

TEST_CASE("alerting starts at the newest event: the history before it pages nobody") {
  Fixture f;
  const int64_t host = f.Host(f.org, "db01");
  f.Open("disk-space-low", f.org, host);
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  CHECK(f.Alerts().empty());
  auto cursor = f.store->AlertCursor();
  REQUIRE(cursor.ok());
  REQUIRE(cursor->has_value());
  CHECK(**cursor == *f.store->LatestEventId());
}

TEST_CASE("a new high finding of an active client goes to its engineer on each channel") {
  Fixture f;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());  // the starting point
  const int64_t host = f.Host(f.org, "db01");
  const int64_t other = f.Host(f.prospect, "p01");
  const int64_t finding = f.Open("disk-space-low", f.org, host);
  f.Open("disk-space-low", f.prospect, other);  // a prospect: its findings go to the report

  auto planned = dispatcher.PlanPass();
  REQUIRE(planned.ok());
  CHECK(*planned == 1);
  auto alerts = f.Alerts();
  REQUIRE(alerts.size() == 1);
  const Alert& alert = alerts.front();
  CHECK(alert.kind == "finding_opened");
  CHECK(alert.org_id == f.org);
  CHECK(alert.finding_id == finding);
  CHECK(alert.stage == 0);
  CHECK(alert.escalate_at_ms == f.clock.NowMs() + 30 * kMinute);
  // anna (technician) by e-mail and Telegram, in Russian; not olga (1C); the webhook once.
  CHECK(Channels(alert) ==
        std::map<std::string, int>{{"email", 1}, {"telegram", 1}, {"webhook", 1}});
  for (const auto& delivery : alert.deliveries) {
    if (delivery.channel == AlertChannel::kWebhook) {
      CHECK_FALSE(delivery.user_id);
      CHECK(delivery.payload.find("\"notified\":[\"anna\"]") != std::string::npos);
      CHECK(delivery.payload.find("https://dozor.example/findings/" + std::to_string(finding)) !=
            std::string::npos);
      continue;
    }
    CHECK(delivery.user_id == f.anna);
    CHECK(delivery.language == "ru");
    CHECK(delivery.state == DeliveryState::kPending);
  }
  // Without a link key no acknowledgement link; with one, each person's message has their own.
  for (const auto& delivery : alert.deliveries) {
    CHECK(delivery.payload.find("/alert-ack?") == std::string::npos);
  }
  f.settings.ack_key = std::string(32, 'k');
  auto linking = f.Dispatcher();
  const int64_t second = f.Open("disk-space-low", f.org, f.Host(f.org, "db02"));
  REQUIRE(*linking.PlanPass() == 1);
  bool linked = false;
  const auto newest = f.Alerts().front();
  CHECK(newest.finding_id == second);
  for (const auto& delivery : newest.deliveries) {
    if (delivery.channel != AlertChannel::kTelegram) continue;
    linked =
        delivery.payload.find("https://dozor.example/alert-ack?e=") != std::string::npos &&
        delivery.payload.find("&amp;u=" + std::to_string(f.anna) + "&amp;t=") != std::string::npos;
  }
  CHECK(linked);
  // Planning again finds nothing new: the cursor moved with the alert.
  CHECK(*dispatcher.PlanPass() == 0);
  CHECK(f.Alerts().size() == 2);
}

TEST_CASE("thresholds, scope and specialty decide who hears of a finding") {
  Fixture f;
  f.settings.webhook = false;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  const int64_t host = f.Host(f.org, "app01");
  f.Open("onec-license", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  auto alerts = f.Alerts();
  REQUIRE(alerts.size() == 1);
  // The 1C finding goes to olga, the 1C specialist, by Telegram only (she has no e-mail).
  REQUIRE(alerts.front().deliveries.size() == 1);
  CHECK(alerts.front().deliveries.front().user_id == f.olga);
  CHECK(alerts.front().deliveries.front().channel == AlertChannel::kTelegram);

  // A technical contract does not cover the 1C rule: nothing.
  OrganizationPatch technical;
  technical.contract_type = ContractType::kTechnical;
  REQUIRE(f.store->UpdateOrganization(f.org, technical).ok());
  const int64_t second = f.Host(f.org, "app02");
  f.Open("onec-license", f.org, second);
  CHECK(*dispatcher.PlanPass() == 0);
  // From "critical" only, a high finding pages nobody.
  f.settings.policy.min_severity = Severity::kCritical;
  auto strict = f.Dispatcher();
  f.Open("disk-space-low", f.org, second);
  CHECK(*strict.PlanPass() == 0);
  CHECK(f.Alerts().size() == 1);
}

TEST_CASE("under an application contract a disk finding pages for the 1C server only") {
  Fixture f;
  f.settings.webhook = false;
  OrganizationPatch application;
  application.contract_type = ContractType::kApplication;
  REQUIRE(f.store->UpdateOrganization(f.org, application).ok());
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  const int64_t plain = f.Host(f.org, "files01");
  const int64_t server = f.Host(f.org, "srv-1c");
  // srv-1c's next inventory shows the 1C:Enterprise server agent service.
  std::vector<IncomingReport> batch(1);
  batch[0].agent_id = "srv-1c";
  batch[0].received_at_ms = f.clock.NowMs();
  batch[0].report.set_seq(2);
  batch[0].report.set_collected_at_ms(f.clock.NowMs());
  batch[0].report.mutable_inventory()->mutable_os()->set_hostname("srv-1c");
  batch[0].report.mutable_inventory()->mutable_software()->add_services()->set_name(
      "srv1cv83.service");
  REQUIRE(f.store->CommitReports(batch).ok());

  // disk-space-low names the technical contract only.
  f.Open("disk-space-low", f.org, plain);
  CHECK(*dispatcher.PlanPass() == 0);
  const int64_t finding = f.Open("disk-space-low", f.org, server);
  REQUIRE(*dispatcher.PlanPass() == 1);
  const auto alerts = f.Alerts();
  REQUIRE(alerts.size() == 1);
  CHECK(alerts.front().finding_id == finding);
}

TEST_CASE("unacknowledged alerts escalate to the backup, then to the duty list") {
  Fixture f;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  const int64_t host = f.Host(f.org, "db01");
  f.Open("disk-space-low", f.org, host);
  REQUIRE(*dispatcher.PlanPass() == 1);
  f.clock.AdvanceMs(29 * kMinute);
  CHECK(*dispatcher.EscalationPass() == 0);
  f.clock.AdvanceMs(2 * kMinute);
  CHECK(*dispatcher.EscalationPass() == 1);
  auto alert = f.Alerts().front();
  CHECK(alert.stage == 1);
  std::vector<Delivery> stage1;
  for (const auto& d : alert.deliveries) {
    if (d.stage == 1) stage1.push_back(d);
  }
  // boris (e-mail only, English) and the webhook again.
  REQUIRE(stage1.size() == 2);
  CHECK(stage1[0].user_id == f.boris);
  CHECK(stage1[0].language == "en");
  // The subject (RFC 2047, the organisation's name is Cyrillic) starts "[Dozor] [escalated]".
  CHECK(stage1[0].payload.find("Subject: =?UTF-8?B?" + Base64Encode("[Dozor] [escalated")) !=
        std::string::npos);
  f.clock.AdvanceMs(31 * kMinute);
  CHECK(*dispatcher.EscalationPass() == 1);
  alert = f.Alerts().front();
  CHECK(alert.stage == 2);
  CHECK_FALSE(alert.escalate_at_ms);  // the last stage
  bool duty_told = false;
  for (const auto& d : alert.deliveries) duty_told |= d.stage == 2 && d.user_id == f.duty;
  CHECK(duty_told);
  f.clock.AdvanceMs(60 * kMinute);
  CHECK(*dispatcher.EscalationPass() == 0);
}

TEST_CASE("acknowledging the alert or the finding stops the escalation") {
  Fixture f;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  const int64_t host = f.Host(f.org, "db01");
  const int64_t first = f.Open("disk-space-low", f.org, host);
  const int64_t second_host = f.Host(f.org, "db02");
  f.Open("disk-space-low", f.org, second_host);
  REQUIRE(*dispatcher.PlanPass() == 2);
  auto alerts = f.Alerts();  // newest first
  REQUIRE(alerts.size() == 2);
  // The second by the alert itself (dashboard, dozorctl), the first by acknowledging its finding.
  auto acked = f.store->AcknowledgeAlert(alerts[0].id, "anna", f.clock.NowMs());
  REQUIRE(acked.ok());
  CHECK(acked->acked_by == "anna");
  CHECK(f.store->AcknowledgeAlert(alerts[0].id, "anna", f.clock.NowMs()).error().code ==
        ErrorCode::kFailedPrecondition);
  REQUIRE(f.store->AcknowledgeFinding(first, "anna", "в работе", f.clock.NowMs()).ok());
  REQUIRE(dispatcher.PlanPass().ok());
  for (const auto& alert : f.Alerts()) {
    CHECK(alert.acked_at_ms.has_value());
    CHECK_FALSE(alert.escalate_at_ms);
  }
  f.clock.AdvanceMs(120 * kMinute);
  CHECK(*dispatcher.EscalationPass() == 0);
}

TEST_CASE("a server going offline pages, a workstation at night does not, back online acks") {
  Fixture f;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  for (int i = 0; i < 6; ++i) f.Host(f.org, "pc" + std::to_string(i), "Notebook");
  f.Host(f.org, "db01");
  f.clock.AdvanceMs(10 * kMinute);
  f.Presence("host_offline", f.org, "pc0");  // a laptop closed for the night
  f.Presence("host_offline", f.org, "db01");
  // Not settled yet: the presence sweep may still be going.
  CHECK(*dispatcher.PlanPass() == 0);
  f.clock.AdvanceMs(20'000);
  REQUIRE(*dispatcher.PlanPass() == 1);
  auto alert = f.Alerts().front();
  CHECK(alert.kind == "host_offline");
  CHECK(alert.agent_id == "db01");
  f.Presence("host_online", f.org, "db01");
  f.clock.AdvanceMs(1000);
  REQUIRE(dispatcher.PlanPass().ok());
  alert = f.Alerts().front();
  CHECK(alert.acked_by == "system");
  CHECK_FALSE(alert.escalate_at_ms);
}

TEST_CASE("most of a site going silent at once is one site-offline alert, not one per host") {
  Fixture f;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  for (int i = 0; i < 5; ++i) f.Host(f.org, "srv" + std::to_string(i));
  f.clock.AdvanceMs(10 * kMinute);
  for (int i = 0; i < 4; ++i) f.Presence("host_offline", f.org, "srv" + std::to_string(i));
  f.clock.AdvanceMs(20'000);
  REQUIRE(*dispatcher.PlanPass() == 1);
  const auto alerts = f.Alerts();
  REQUIRE(alerts.size() == 1);
  CHECK(alerts.front().kind == "site_offline");
  // All five are silent by last report (the fifth's offline event has not come yet): 5 of 5.
  CHECK(alerts.front().summary == "site_offline: 5 of 5 hosts (ООО Ромашка)");
  bool russian = false;
  for (const auto& d : alerts.front().deliveries) {
    if (d.channel == AlertChannel::kTelegram) {
      russian = d.payload.find("Площадка недоступна") != std::string::npos;
    }
  }
  CHECK(russian);
  // The fifth going silent a minute later is part of the same outage: no alert of its own.
  f.clock.AdvanceMs(kMinute);
  f.Presence("host_offline", f.org, "srv4");
  f.clock.AdvanceMs(20'000);
  CHECK(*dispatcher.PlanPass() == 0);
  // The first host back means the site is back: the site alert is closed.
  f.Presence("host_online", f.org, "srv0");
  REQUIRE(dispatcher.PlanPass().ok());
  CHECK(f.Alerts().front().acked_by == "system");
}

// A sender whose every message takes `each_ms` of the fixture's clock (a relay timing out).
class SlowSender final : public AlertSender {
 public:
  SlowSender(FakeClock& clock, int64_t each_ms) : clock_(clock), each_ms_(each_ms) {}
  SendOutcome Send(const Delivery& delivery) override {
    clock_.AdvanceMs(each_ms_);
    sent.push_back(delivery.id);
    return SendOutcome{true, false, ""};
  }
  std::vector<int64_t> sent;

 private:
  FakeClock& clock_;
  int64_t each_ms_;
};

TEST_CASE("delivery: a slow pass leaves what it claimed before the claim runs out") {
  Fixture f;
  f.settings.telegram = false;
  f.settings.webhook = false;
  const int64_t other = f.MakeOrg("Другая", ContractPhase::kActive, ContractType::kComplex);
  REQUIRE(
      f.store->AssignEngineer(other, f.boris, AssignmentKind::kPrimary, "", f.clock.NowMs()).ok());
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.Open("disk-space-low", f.org, f.Host(f.org, "db01"));
  f.Open("disk-space-low", other, f.Host(other, "db02"));
  REQUIRE(*dispatcher.PlanPass() == 2);
  // Two recipients, so one pass claims two messages; the first send takes 6 of the claim's 10
  // minutes, so the second is left rather than sent after another worker could have taken it.
  auto sender = std::make_unique<SlowSender>(f.clock, 6 * kMinute);
  SlowSender& wire = *sender;
  DeliveryWorker worker(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  CHECK(*worker.DeliverPass() == 1);
  REQUIRE(wire.sent.size() == 1);
  // The one left stays claimed for the rest of the 10 minutes, then is due again; every
  // message is sent exactly once in the end.
  CHECK(*worker.DeliverPass() == 0);
  f.clock.AdvanceMs(4 * kMinute + 1);
  for (int pass = 0; pass < 20; ++pass) {
    if (*worker.DeliverPass() == 0) {
      f.clock.AdvanceMs(kAlertClaimMs);  // what a slow pass left is due again after its claim
    }
  }
  size_t messages = 0;
  for (const auto& alert : f.Alerts()) {
    for (const auto& d : alert.deliveries) {
      messages += d.channel == AlertChannel::kEmail ? 1 : 0;
      CHECK(d.state == DeliveryState::kSent);
    }
  }
  CHECK(messages >= 2);
  CHECK(wire.sent.size() == messages);
  std::sort(wire.sent.begin(), wire.sent.end());
  CHECK(std::adjacent_find(wire.sent.begin(), wire.sent.end()) == wire.sent.end());
}

TEST_CASE("delivery: retries with backoff, in order per recipient, gives up on a refusal") {
  Fixture f;
  f.settings.telegram = false;
  f.settings.webhook = false;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  const int64_t host = f.Host(f.org, "db01");
  f.Open("disk-space-low", f.org, host);
  f.Open("disk-space-low", f.org, f.Host(f.org, "db02"));
  REQUIRE(*dispatcher.PlanPass() == 2);
  auto sender = std::make_unique<RecordingSender>();
  RecordingSender& wire = *sender;
  wire.failures = 2;
  DeliveryWorker worker(*f.store, AlertChannel::kEmail, std::move(sender), f.clock);
  // Both messages go to anna: only the older is tried while it fails.
  CHECK(*worker.DeliverPass() == 0);
  REQUIRE(wire.sent.size() == 1);
  const int64_t first_id = wire.sent[0].id;
  CHECK(*worker.DeliverPass() == 0);  // waiting for the retry time
  CHECK(wire.sent.size() == 1);
  f.clock.AdvanceMs(RetryDelayMs(1));
  CHECK(*worker.DeliverPass() == 0);  // the second failure
  REQUIRE(wire.sent.size() == 2);
  CHECK(wire.sent[1].id == first_id);
  f.clock.AdvanceMs(RetryDelayMs(2));
  CHECK(*worker.DeliverPass() == 1);  // delivered; the newer one waits for the next pass
  CHECK(*worker.DeliverPass() == 1);
  REQUIRE(wire.sent.size() == 4);
  CHECK(wire.sent[2].id == first_id);
  CHECK(wire.sent[3].id > first_id);
  for (const auto& alert : f.Alerts()) {
    for (const auto& d : alert.deliveries) {
      CHECK(d.state == DeliveryState::kSent);
      if (d.id == first_id) {
        CHECK(d.attempts == 3);
        CHECK(d.last_error == "connection refused");
      }
    }
  }
  // A refusal (an unknown mailbox) is given up at once and visible with its error.
  f.Open("disk-space-low", f.org, f.Host(f.org, "db03"));
  REQUIRE(*dispatcher.PlanPass() == 1);
  wire.failures = 1;
  wire.permanent = true;
  CHECK(*worker.DeliverPass() == 0);
  auto backlog = f.store->AlertBacklog();
  REQUIRE(backlog.ok());
  const auto& email = backlog->at(static_cast<size_t>(AlertChannel::kEmail));
  CHECK(email.failed == 1);
  CHECK(email.sent == 2);
  CHECK(email.pending == 0);
  CHECK(email.last_error == "connection refused");

  CHECK(RetryDelayMs(1) == 30'000);
  CHECK(RetryDelayMs(2) == 60'000);
  CHECK(RetryDelayMs(20) == 3'600'000);
}

TEST_CASE("a message that cannot be delivered for two days is given up, not kept forever") {
  Fixture f;
  f.settings.telegram = false;
  f.settings.webhook = false;
  auto dispatcher = f.Dispatcher();
  REQUIRE(dispatcher.PlanPass().ok());
  f.Open("disk-space-low", f.org, f.Host(f.org, "db01"));
  REQUIRE(*dispatcher.PlanPass() == 1);
  auto sender = std::make_unique<RecordingSender>();
  sender->failures = 1000;
  RecordingSender& wire = *sender;
  DeliveryWorker worker(*f.store, AlertChannel::kEmail, std::move(sender), f.clock,
                        DeliveryWorker::kDefaultGiveUpMs);
  for (int hour = 0; hour <= 49; ++hour) {
    REQUIRE(worker.DeliverPass().ok());
    f.clock.AdvanceMs(60 * kMinute);
  }
  const auto alert = f.Alerts().front();
  REQUIRE(alert.deliveries.size() == 1);
  CHECK(alert.deliveries.front().state == DeliveryState::kFailed);
  CHECK(wire.sent.size() < 60);  // backed off to hourly
  CHECK(wire.sent.size() > 45);
}

}  // namespace
}  // namespace dozor::server::alerts
