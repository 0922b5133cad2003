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
#include <functional>
#include <memory>
#include <mutex>
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
  FlapPolicy flap;
  // Messages that are not urgent wait this long before they may go, so that a burst of one
  // organisation's alerts reaches a person as one message (DeliveryWorker's grouping). 0: none.
  int64_t group_wait_ms = 0;
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
  // A delivery worker gave up on a message: the admins hear of it on their other channels (at
  // most once per channel per hour), recorded as a channel_failed alert. Any thread.
  Status ReportChannelFailure(const Delivery& delivery, std::string_view error);

 private:
  struct Context;  // what one pass has read (organisations, assignments, users)
  // When an alert's messages may go out and why they wait (grace, working hours); per person,
  // their quiet hours come on top (Deliveries).
  struct Timing {
    bool urgent = false;
    int64_t release_at_ms = 0;
    std::string held;
    int64_t grace_until_ms = 0;  // a silent server's grace (the webhook waits for it too)
  };
  Result<Context> LoadContext(int64_t now_ms);
  Result<const OrgAlertSettings*> SettingsOf(Context& context, int64_t org_id);
  Result<Timing> TimingFor(Context& context, int64_t org_id, AlertKind kind,
                           std::string_view severity, int64_t grace_until_ms);
  // "maintenance" when a window covers the organisation (agent_id empty) or the host now.
  Result<std::string> MaintenanceOf(Context& context, int64_t org_id, std::string_view agent_id);
  Result<std::optional<NewAlert>> PlanOne(Context& context, const FeedEvent& event);
  // Fills the alert's stage, messages and escalation time: the first stage with someone to tell.
  Status AddFirstStage(Context& context, const AlertFacts& words, const std::string& category,
                       const Timing& timing, NewAlert& alert);
  Result<NewAlert> PlanSiteOutage(Context& context, const std::vector<FeedEvent>& events,
                                  int64_t live_hosts, int64_t offline_hosts);
  // The messages of one stage; their idempotency keys and acknowledgement links name the alert
  // by the feed event it came from.
  Result<std::vector<NewDelivery>> Deliveries(Context& context, const AlertFacts& facts,
                                              int64_t alert_event_id, const std::string& category,
                                              int stage, int64_t org_id, const Timing& timing);
  std::string LinkFor(const AlertFacts& facts, int64_t org_id) const;
  // The alert goes no further (nobody else to tell, or it no longer matters).
  Status StopEscalating(int64_t alert_id, int64_t now_ms);

  Store& store_;
  const rules::RulePack* rules_;
  DispatcherSettings settings_;
  const Clock& clock_;
  std::mutex channel_notice_mu_;
  std::unordered_map<int, int64_t> last_channel_notice_ms_;  // by AlertChannel
};

// The wait before retry number `attempts` (1 = the first retry): first_ms (30 s), doubling, at
// most 1 h.
int64_t RetryDelayMs(int attempts, int64_t first_ms = 30'000);

class DeliveryWorker {
 public:
  static constexpr int64_t kDefaultGiveUpMs = 48LL * 3600 * 1000;

  // Called after a message was given up (state failed), with the last error.
  using GiveUpListener = std::function<void(const Delivery&, const std::string&)>;

  DeliveryWorker(AlertStore& store, AlertChannel channel, std::unique_ptr<AlertSender> sender,
                 const Clock& clock, int64_t give_up_after_ms = kDefaultGiveUpMs,
                 int64_t first_retry_ms = 30'000);

  // At most this many messages per person per hour on this channel; the rest wait (held
  // "rate_limit") and go as the hour allows. 0: no limit.
  void set_rate_limit_per_hour(int limit) { rate_limit_per_hour_ = limit; }
  void set_give_up_listener(GiveUpListener listener) { on_give_up_ = std::move(listener); }
  // A person's e-mail or Telegram message goes together with the other messages of the same
  // organisation waiting for them, created within window_ms after it, as one message (at most
  // kMaxGroup + 1). 0: each alone. mail_from: the From of a grouped e-mail.
  void set_grouping(int64_t window_ms, std::string mail_from) {
    group_window_ms_ = window_ms;
    mail_from_ = std::move(mail_from);
  }
  static constexpr int kMaxGroup = 20;
  static constexpr int kMaxTelegramGroup = 4;

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
  int rate_limit_per_hour_ = 0;
  int64_t group_window_ms_ = 0;
  std::string mail_from_;
  GiveUpListener on_give_up_;
  std::atomic<uint64_t> failed_attempts_{0};
};

}  // namespace dozor::server::alerts
