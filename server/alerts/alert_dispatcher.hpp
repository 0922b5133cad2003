// Alerting's moving parts (docs/alerts.md):
//  - AlertDispatcher follows the event feed after the cursor kept in the store, decides with
//    alert_policy.hpp what is worth a message and to whom, renders each recipient's message in
//    their language and writes alerts, messages and the new cursor in one transaction; it also
//    moves unacknowledged alerts to the next escalation stage when due.
//  - DeliveryWorker sends one channel's due messages, records each outcome, retries with
//    backoff and gives up (state failed, shown to admins) only after give_up_after_ms.
// Both are driven by ServerApp's threads; each pass is one call, so tests drive them with a
// FakeClock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "alerts/alert_message.hpp"
#include "alerts/alert_policy.hpp"
#include "alerts/alert_senders.hpp"
#include "dozor/common/clock.hpp"
#include "rules/rule.hpp"
#include "store/store.hpp"

namespace dozor::server::alerts {

struct DispatcherSettings {
  AlertPolicy policy;
  // The channels configured: a person gets a message on each of them they have an address for.
  bool email = false;
  bool telegram = false;
  bool webhook = false;
  std::string mail_from;    // the From header of e-mail
  std::string webhook_url;  // the address recorded for webhook messages
  // The dashboard's address for links in messages ("https://dozor.example.com"); empty: none.
  std::string dashboard_url;
  std::vector<std::string> duty_logins;  // the last escalation stage
  // Signs each recipient's one-time acknowledgement link (alerts/ack_link.hpp); empty, or no
  // dashboard_url: messages carry no such link.
  std::string ack_key;
  // The presence monitor's threshold: a host not heard from for this long counts as offline
  // when a site outage is measured.
  int64_t offline_after_ms = 180'000;
  // host_offline events younger than this wait for the next pass, so that the presence
  // monitor's whole sweep is seen at once and a site outage becomes one alert.
  int64_t settle_ms = 15'000;
};

class AlertDispatcher {
 public:
  AlertDispatcher(Store& store, const rules::RulePack* rules, DispatcherSettings settings,
                  const Clock& clock);

  // Plans from the feed events after the cursor. The first pass ever starts at the newest event:
  // the history before alerting was configured pages nobody. The number of alerts recorded.
  Result<int> PlanPass();
  // Sends unacknowledged alerts whose time is up to the next stage that has someone to tell.
  // The number escalated.
  Result<int> EscalationPass();

 private:
  struct Context;  // what one pass has read (organisations, assignments, users)
  Result<Context> LoadContext(int64_t now_ms);
  Result<std::optional<NewAlert>> PlanOne(Context& context, const FeedEvent& event);
  // Fills the alert's stage, messages and escalation time: the first stage with someone to tell.
  Status AddFirstStage(Context& context, const AlertFacts& words, const std::string& category,
                       NewAlert& alert);
  Result<NewAlert> PlanSiteOutage(Context& context, const std::vector<FeedEvent>& events,
                                  int64_t live_hosts, int64_t offline_hosts);
  // The messages of one stage; their idempotency keys and acknowledgement links name the alert
  // by the feed event it came from.
  Result<std::vector<NewDelivery>> Deliveries(Context& context, const AlertFacts& facts,
                                              int64_t alert_event_id, const std::string& category,
                                              int stage, int64_t org_id);
  std::string LinkFor(const AlertFacts& facts, int64_t org_id) const;
  // The alert goes no further (nobody else to tell, or it no longer matters).
  Status StopEscalating(int64_t alert_id, int64_t now_ms);

  Store& store_;
  const rules::RulePack* rules_;
  DispatcherSettings settings_;
  const Clock& clock_;
};

// The wait before retry number `attempts` (1 = the first retry): first_ms (30 s), doubling, at
// most 1 h.
int64_t RetryDelayMs(int attempts, int64_t first_ms = 30'000);

class DeliveryWorker {
 public:
  static constexpr int64_t kDefaultGiveUpMs = 48LL * 3600 * 1000;

  DeliveryWorker(AlertStore& store, AlertChannel channel, std::unique_ptr<AlertSender> sender,
                 const Clock& clock, int64_t give_up_after_ms = kDefaultGiveUpMs,
                 int64_t first_retry_ms = 30'000);

  // Sends what is due now (at most `limit` messages); the number delivered.
  Result<int> DeliverPass(int limit = 50);
  [[nodiscard]] AlertChannel channel() const { return channel_; }
  // Attempts that did not deliver since start (for /metrics).
  [[nodiscard]] uint64_t failed_attempts() const { return failed_attempts_.load(); }

 private:
  AlertStore& store_;
  AlertChannel channel_;
  std::unique_ptr<AlertSender> sender_;
  const Clock& clock_;
  int64_t give_up_after_ms_;
  int64_t first_retry_ms_;
  std::atomic<uint64_t> failed_attempts_{0};
};

}  // namespace dozor::server::alerts
