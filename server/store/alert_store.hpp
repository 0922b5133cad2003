// Alerts (docs/alerts.md): what the dispatcher decided from the event feed, and the durable outbox
// of messages to send. The dispatcher plans from the feed after a cursor kept here, and writes the
// alerts it planned together with the cursor in one transaction, so a restart (or kill -9) neither
// repeats nor skips an event. Each message is one row: one recipient, one channel, its body
// rendered once when planned; the delivery workers send them in id order per recipient, retry
// with backoff and record every attempt's outcome.
//
// Thread-safety: every method may be called from any thread (see store/store.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/finding.hpp"
#include "dozor/common/result.hpp"

namespace dozor::server {

enum class AlertChannel { kEmail, kTelegram, kWebhook };
std::string_view ToString(AlertChannel channel);
std::optional<AlertChannel> ParseAlertChannel(std::string_view text);

// kCancelled: the alert was acknowledged (the host came back, the finding resolved) while the
// message was still held, so it never went out.
enum class DeliveryState { kPending, kSent, kFailed, kCancelled };
std::string_view ToString(DeliveryState state);
std::optional<DeliveryState> ParseDeliveryState(std::string_view text);

// One message to send, as planned.
struct NewDelivery {
  int stage = 0;                   // the escalation stage it belongs to (0: primary engineers)
  std::optional<int64_t> user_id;  // none for the webhook
  AlertChannel channel = AlertChannel::kEmail;
  std::string address;  // e-mail address, Telegram chat id, or the webhook URL
  std::string language;
  std::string idempotency_key;  // unique; the receiver's way to drop a repeat
  std::string payload;          // the channel's body: a MIME message, sendMessage JSON, JSON
  // When it may first be sent (0: at once) and why it waits: "grace", "working_hours",
  // "quiet_hours".
  int64_t release_at_ms = 0;
  std::string held;
  // {"org", "subject", "text", "html"}: lets the delivery worker send a burst of one
  // organisation's messages to one person as one message; empty: never grouped (the webhook).
  std::string message_json;
};

struct NewAlert {
  int64_t event_id = 0;  // the feed event it comes from (the first one, for a group)
  std::string kind;      // finding_opened, finding_regressed, ..., host_offline, site_offline
  int64_t org_id = 0;
  std::optional<int64_t> finding_id;
  std::string agent_id;
  std::string severity;
  std::string summary;  // one line, English, for lists and logs
  int stage = 0;        // the escalation stage its first messages go to
  // When the next stage is due unless acknowledged; none: this alert never escalates.
  std::optional<int64_t> escalate_at_ms;
  // Recorded without messages: "maintenance" (a window covers the host or organisation),
  // "flapping" (the finding changed state too often lately); empty: sent.
  std::string suppressed;
  std::vector<NewDelivery> deliveries;
};

// Alerts that need nobody any more: the finding was acknowledged, waived or resolved (finding_id),
// or a host is back online (agent_id: its host_offline alerts; org_id: the organisation's
// site_offline alerts, since a site whose hosts come back is back).
struct AlertAck {
  std::optional<int64_t> finding_id;
  std::string agent_id;
  std::optional<int64_t> org_id;
  std::string actor;
};

struct Delivery {
  int64_t id = 0;
  int64_t alert_id = 0;
  int stage = 0;
  std::optional<int64_t> user_id;
  std::string login;  // joined for reading; empty for the webhook
  AlertChannel channel = AlertChannel::kEmail;
  std::string address;
  std::string language;
  std::string idempotency_key;
  std::string payload;
  DeliveryState state = DeliveryState::kPending;
  int attempts = 0;
  int64_t next_attempt_ms = 0;
  std::string last_error;
  std::optional<int64_t> sent_at_ms;
  int64_t created_at_ms = 0;
  std::string held;  // why its first attempt waited (see NewDelivery), until held_until_ms
  int64_t held_until_ms = 0;
  std::string message_json;    // see NewDelivery
  int64_t org_id = 0;          // its alert's organisation (joined)
  std::string alert_kind;      // its alert's kind and severity (joined): urgent ones skip the
  std::string alert_severity;  // rate limit and are never held up for a burst
};

struct Alert {
  int64_t id = 0;
  int64_t created_at_ms = 0;
  int64_t event_id = 0;
  std::string kind;
  int64_t org_id = 0;
  std::string org_name;  // joined
  std::optional<int64_t> finding_id;
  std::string agent_id;
  std::string hostname;  // joined
  std::string severity;
  std::string summary;
  int stage = 0;
  std::optional<int64_t> escalate_at_ms;
  std::optional<int64_t> acked_at_ms;
  std::string acked_by;
  std::string suppressed;
  std::vector<Delivery> deliveries;  // filled by GetAlert and ListAlerts
};

struct AlertFilter {
  std::optional<std::vector<int64_t>> visible_org_ids;  // the caller's scope; nullopt = all
  std::optional<int64_t> org_id;
  bool unacknowledged_only = false;
  int64_t before_id = 0;  // 0: the newest first page; else ids below it
  int limit = 50;
};

// Outbox totals per channel, for the status page and /metrics.
struct ChannelBacklog {
  AlertChannel channel = AlertChannel::kEmail;
  int64_t pending = 0;
  int64_t failed = 0;
  int64_t sent = 0;
  int64_t cancelled = 0;
  std::optional<int64_t> oldest_pending_ms;  // created_at of the oldest pending message
  std::string last_error;                    // of the most recent failed attempt, if any
};

// What is sent outside an organisation's working hours: everything, only what is urgent (a
// critical finding, a server or the site offline; the rest waits for the morning), or nothing.
enum class AfterHours { kAll, kUrgent, kNone };
std::string_view ToString(AfterHours policy);
std::optional<AfterHours> ParseAfterHours(std::string_view text);

// A rule pages this organisation from min_severity on; nullopt: never.
struct RuleAlertOverride {
  std::string rule_id;
  std::optional<Severity> min_severity;
};

// An organisation's alert rules; an organisation never configured has the defaults.
struct OrgAlertSettings {
  int64_t org_id = 0;
  std::string time_zone = "Europe/Moscow";
  int work_days = 0x1F;  // bit 0 Monday ... bit 6 Sunday
  int work_start_minute = 9 * 60;
  int work_end_minute = 18 * 60;
  // Until someone sets the contract's hours, everything is sent at once.
  AfterHours after_hours = AfterHours::kAll;
  std::optional<Severity> min_severity;  // nullopt: the server's [alerts] min_severity
  // How long a server may stay silent (beyond the presence monitor's threshold) before anyone is
  // paged; a server back within it pages nobody.
  int server_grace_minutes = 0;
  std::vector<RuleAlertOverride> rule_overrides;
  std::optional<int64_t> updated_at_ms;  // nullopt: never configured
  std::string updated_by;
};

// While a window is on, alerts of its organisation (or only of its host) are recorded as
// suppressed and sent to nobody; data is still collected and findings still recorded.
struct MaintenanceWindow {
  int64_t id = 0;
  int64_t org_id = 0;
  std::string agent_id;  // empty: the whole organisation
  // One-off: [starts_at_ms, ends_at_ms).
  std::optional<int64_t> starts_at_ms;
  std::optional<int64_t> ends_at_ms;
  // Weekly, in the organisation's time zone: on these weekdays (bit 0 Monday) from start_minute
  // for duration_minutes.
  int weekdays = 0;
  int start_minute = 0;
  int duration_minutes = 0;
  std::string reason;
  std::string created_by;
  int64_t created_at_ms = 0;
};

// A monthly report that went out (one per organisation and month).
struct MonthlyReportRecord {
  int64_t org_id = 0;
  std::string month;  // "2026-11"
  int64_t sent_at_ms = 0;
  int recipients = 0;
};

// Limits every backend enforces.
inline constexpr int kMaxAlertRuleOverrides = 500;
inline constexpr size_t kMaxMaintenanceReasonBytes = 2000;  // 500 characters of Cyrillic
inline constexpr int kMaxMaintenanceWindowsPerOrg = 100;
inline constexpr size_t kMaxDeliveryErrorBytes = 1000;  // a failed attempt's error as kept

// How long DueDeliveries/DueEscalations keep what they handed out from every other caller (on
// PostgreSQL: every other replica) unless it is settled sooner: a delivery by MarkDelivered,
// MarkAllDelivered, MarkAttemptFailed or HoldDelivery, an escalation by EscalateAlert. A worker
// that dies mid-pass leaves its claims to expire, and then they are due again.
inline constexpr int64_t kAlertClaimMs = 10 * 60 * 1000;

// kInvalidArgument naming the first value out of range (shared by the backends).
Status CheckOrgAlertSettings(const OrgAlertSettings& settings);
Status CheckMaintenanceWindow(const MaintenanceWindow& window);
// A failed attempt's error as kept: at most kMaxDeliveryErrorBytes, cut at a character, one line.
std::string KeptDeliveryError(std::string_view error);

class AlertStore {
 public:
  virtual ~AlertStore() = default;

  // The last feed event the dispatcher planned from; nullopt before its first pass.
  virtual Result<std::optional<int64_t>> AlertCursor() = 0;
  // In one transaction: the alerts and their messages (due at once), then the acknowledgements
  // (so an alert planned and acknowledged in the same batch ends acknowledged), and the cursor
  // moved to `cursor`. A message whose idempotency key exists already is not added again.
  virtual Status RecordAlerts(const std::vector<NewAlert>& alerts,
                              const std::vector<AlertAck>& acks, int64_t cursor,
                              int64_t now_ms) = 0;
  // Unacknowledged alerts whose next stage is due (escalate_at <= now_ms), oldest first; each
  // claimed for kAlertClaimMs, so no other caller gets it until EscalateAlert settles it (or the
  // claim runs out).
  virtual Result<std::vector<Alert>> DueEscalations(int64_t now_ms, int limit) = 0;
  // Moves an alert to `stage` with its messages, sets when the stage after it is due (none: the
  // last stage); does nothing when the alert was acknowledged meanwhile (false).
  virtual Result<bool> EscalateAlert(int64_t alert_id, int stage,
                                     std::optional<int64_t> next_escalate_at_ms,
                                     const std::vector<NewDelivery>& deliveries,
                                     int64_t now_ms) = 0;
  // The messages of one channel ready to send: for each recipient address only its oldest
  // pending message (so a recipient gets them in order), and only when due. Each is claimed for
  // kAlertClaimMs: no other caller gets it (nor anything newer to that address) until the
  // attempt's outcome is recorded or the message held, or the claim runs out.
  virtual Result<std::vector<Delivery>> DueDeliveries(AlertChannel channel, int64_t now_ms,
                                                      int limit) = 0;
  // The outcome of one attempt. Failed with retry_at_ms: pending again at that time; without:
  // given up (state failed).
  virtual Status MarkDelivered(int64_t delivery_id, int64_t now_ms) = 0;
  // The messages sent together as one (a group; the first is the one sent, the others went
  // inside it and keep attempts 0), in one transaction.
  virtual Status MarkAllDelivered(const std::vector<int64_t>& delivery_ids, int64_t now_ms) = 0;
  // The messages that can go with `leader` as one: pending, never attempted, not held, to the
  // same address on the same channel, of the same organisation, created within window_ms after
  // it; oldest first, at most `limit`.
  virtual Result<std::vector<Delivery>> GroupCompanions(const Delivery& leader, int64_t now_ms,
                                                        int64_t window_ms, int limit) = 0;
  virtual Status MarkAttemptFailed(int64_t delivery_id, std::string_view error,
                                   std::optional<int64_t> retry_at_ms, int64_t now_ms) = 0;
  virtual Result<Alert> GetAlert(int64_t alert_id) = 0;
  // The alert planned from this feed event with this kind (what an acknowledgement link names).
  virtual Result<Alert> FindAlertByEvent(int64_t event_id, std::string_view kind) = 0;
  // Newest first.
  virtual Result<std::vector<Alert>> ListAlerts(const AlertFilter& filter) = 0;
  // Acknowledges the alert (and stops its escalation); kFailedPrecondition if it already was.
  virtual Result<Alert> AcknowledgeAlert(int64_t alert_id, std::string_view actor,
                                         int64_t now_ms) = 0;
  virtual Result<std::vector<ChannelBacklog>> AlertBacklog() = 0;
  // Deletes alerts created before before_ms whose messages are all sent or failed; the count.
  virtual Result<int64_t> PruneAlerts(int64_t before_ms) = 0;

  // Alert rules. kNotFound for an organisation that does not exist.
  virtual Result<OrgAlertSettings> GetOrgAlertSettings(int64_t org_id) = 0;
  // Replaces them (the overrides too); kInvalidArgument for a value out of range.
  virtual Result<OrgAlertSettings> PutOrgAlertSettings(const OrgAlertSettings& settings,
                                                       std::string_view actor, int64_t now_ms) = 0;
  // nullopt: every organisation's (what the dispatcher reads once per pass).
  virtual Result<std::vector<MaintenanceWindow>> ListMaintenanceWindows(
      std::optional<int64_t> org_id) = 0;
  virtual Result<MaintenanceWindow> AddMaintenanceWindow(const MaintenanceWindow& window,
                                                         int64_t now_ms) = 0;
  // kNotFound unless the window exists in that organisation.
  virtual Status DeleteMaintenanceWindow(int64_t org_id, int64_t window_id) = 0;
  // Deletes one-off windows that ended before before_ms; the count.
  virtual Result<int64_t> PruneMaintenanceWindows(int64_t before_ms) = 0;

  // The flap detector's question: this finding's opened/regressed alerts since since_ms
  // (suppressed ones included).
  virtual Result<int> CountFindingAlerts(int64_t finding_id, int64_t since_ms) = 0;
  // Whether anybody heard of this finding going bad: a message of one of its opened/regressed
  // alerts was sent or is on its way (released by now_ms, not cancelled). A "resolved" notice
  // for a finding nobody was told about is noise.
  virtual Result<bool> FindingAnnounced(int64_t finding_id, int64_t now_ms) = 0;
  // The rate limit's question: messages sent to this person on this channel since since_ms (a
  // group sent as one message counts once; urgent pages and admin notices not at all).
  virtual Result<int> CountSentTo(int64_t user_id, AlertChannel channel, int64_t since_ms) = 0;
  // Holds a pending message until until_ms (the rate limit), keeping it pending.
  virtual Status HoldDelivery(int64_t delivery_id, std::string_view reason, int64_t until_ms) = 0;

  // One alert outside the feed (a channel failure notice, a monthly report) with its messages;
  // the cursor is not touched. With `monthly`, only once per organisation and month: false (and
  // nothing recorded) when that month's report was recorded already.
  virtual Result<bool> RecordNotice(const NewAlert& alert, const MonthlyReportRecord* monthly,
                                    int64_t now_ms) = 0;
  virtual Result<std::optional<MonthlyReportRecord>> GetMonthlyReport(int64_t org_id,
                                                                      std::string_view month) = 0;
};

}  // namespace dozor::server
