#include "alerts/alert_dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <unordered_set>

#include "alerts/ack_link.hpp"
#include "domain/local_time.hpp"
#include "dozor/common/text.hpp"
#include "rules/contract_scope.hpp"

namespace dozor::server::alerts {

namespace {

// Feed events read per query, and queries per pass (a backlog after downtime is worked off over
// several passes without holding the writer for long).
constexpr int kEventsPerRead = 500;
constexpr int kReadsPerPass = 20;

// When the first of a stage's messages to people may go out (the earliest of their holds):
// escalation counts from then, so a backup is not woken before anyone of the stage could be told.
int64_t FirstRelease(const std::vector<NewDelivery>& deliveries, int64_t now_ms) {
  std::optional<int64_t> first;
  for (const auto& d : deliveries) {
    if (d.channel == AlertChannel::kWebhook) continue;
    const int64_t at = std::max(now_ms, d.release_at_ms);
    first = first ? std::min(*first, at) : at;
  }
  return first.value_or(now_ms);
}

bool ReachesPeople(const std::vector<NewDelivery>& deliveries) {
  return std::any_of(deliveries.begin(), deliveries.end(),
                     [](const NewDelivery& d) { return d.channel != AlertChannel::kWebhook; });
}

// An organisation's live agent hosts, and those not heard from for offline_after_ms (as the
// presence monitor counts them), with their names.
struct HostCounts {
  int64_t live = 0;
  int64_t offline = 0;
  std::vector<std::string> offline_names;
};

HostCounts CountHosts(const std::vector<HostSummary>& hosts, int64_t now_ms,
                      int64_t offline_after_ms) {
  HostCounts counts;
  for (const auto& host : hosts) {
    if (host.revoked || host.source != "agent") continue;
    ++counts.live;
    if (host.last_seen_ms == 0 || now_ms - host.last_seen_ms >= offline_after_ms) {
      ++counts.offline;
      counts.offline_names.push_back(host.hostname.empty() ? host.agent_id : host.hostname);
    }
  }
  return counts;
}

bool IsActiveFinding(FindingState state) {
  return state == FindingState::kOpen || state == FindingState::kRegressed;
}

}  // namespace

// What one pass has read so far: the organisations, assignments and accounts, once per pass.
struct AlertDispatcher::Context {
  int64_t now_ms = 0;
  std::unordered_map<int64_t, Organization> orgs;
  std::unordered_map<int64_t, std::vector<Assignment>> assignments;
  std::unordered_map<int64_t, User> users;
  std::vector<int64_t> duty_ids;
  std::unordered_map<int64_t, OrgAlertSettings> settings;  // read when first needed
  std::optional<std::vector<MaintenanceWindow>> windows;   // read when first needed
  // Findings whose going bad this pass planned a message to people that goes out now (not yet
  // in the store, which FindingAnnounced reads).
  std::unordered_set<int64_t> announced;
};

namespace {

// One person's messages of one alert on the channels they have an address for (all but `skip`);
// their quiet hours hold what is not urgent. True when any was added.
bool AddPersonDeliveries(const DispatcherSettings& settings, const User& person,
                         const AlertFacts& staged, const std::string& key_prefix, int stage,
                         bool urgent, int64_t release_at_ms, const std::string& held,
                         int64_t now_ms, std::optional<AlertChannel> skip,
                         const Attachment* attachment, std::vector<NewDelivery>& out) {
  AlertFacts personal = staged;
  personal.time_zone = person.time_zone;
  int64_t release = release_at_ms;
  std::string why = held;
  if (!urgent && !person.quiet_hours.empty()) {
    auto quiet = ParseDailyHours(person.quiet_hours);
    auto end = quiet.ok() ? SpanEndingAfter(person.time_zone, *quiet, std::max(now_ms, release))
                          : Result<std::optional<int64_t>>(quiet.error());
    if (!end.ok()) {
      spdlog::warn("alerts: quiet hours of {} ignored: {}", person.login, end.error().message);
    } else if (*end) {
      release = **end;
      why = "quiet_hours";
    }
  }
  personal.held = release > now_ms ? why : std::string();
  const std::string language = person.language == "ru" ? "ru" : "en";
  const RenderedAlert message = RenderAlert(personal, language);
  const std::string key = key_prefix + "-u" + std::to_string(person.id);
  bool told = false;
  auto add = [&](AlertChannel channel, const std::string& address, std::string payload) {
    NewDelivery d;
    d.stage = stage;
    d.user_id = person.id;
    d.channel = channel;
    d.address = address;
    d.language = language;
    d.idempotency_key = key + "-" + std::string(ToString(channel));
    d.payload = std::move(payload);
    d.release_at_ms = release;
    d.held = personal.held;
    // A message with an attachment goes alone; the others may join a burst.
    if (attachment == nullptr) d.message_json = MessageJson(message, staged.org_name);
    out.push_back(std::move(d));
    told = true;
  };
  if (settings.email && !person.email.empty() && skip != AlertChannel::kEmail) {
    add(AlertChannel::kEmail, person.email,
        EmailMessage(message, settings.mail_from, person.email,
                     key + "-" + std::string(ToString(AlertChannel::kEmail)), now_ms, attachment));
  }
  if (settings.telegram && !person.telegram_chat_id.empty() && attachment == nullptr &&
      skip != AlertChannel::kTelegram) {
    add(AlertChannel::kTelegram, person.telegram_chat_id,
        TelegramRequest(message, person.telegram_chat_id));
  }
  return told;
}

}  // namespace

AlertDispatcher::AlertDispatcher(Store& store, const rules::RulePack* rules,
                                 DispatcherSettings settings, const Clock& clock)
    : store_(store), rules_(rules), settings_(std::move(settings)), clock_(clock) {
  while (!settings_.dashboard_url.empty() && settings_.dashboard_url.back() == '/') {
    settings_.dashboard_url.pop_back();
  }
}

Result<AlertDispatcher::Context> AlertDispatcher::LoadContext(int64_t now_ms) {
  Context context;
  context.now_ms = now_ms;
  DOZOR_ASSIGN_OR_RETURN(auto orgs, store_.Organizations().ListOrganizations());
  for (auto& org : orgs) context.orgs.emplace(org.id, std::move(org));
  DOZOR_ASSIGN_OR_RETURN(auto assignments, store_.Users().ListAssignments(std::nullopt));
  for (auto& assignment : assignments) {
    context.assignments[assignment.org_id].push_back(std::move(assignment));
  }
  DOZOR_ASSIGN_OR_RETURN(auto users, store_.Users().ListUsers());
  context.users.reserve(users.size());
  for (auto& user : users) {
    for (const auto& login : settings_.duty_logins) {
      if (user.enabled && FoldCase(login) == FoldCase(user.login)) {
        context.duty_ids.push_back(user.id);
      }
    }
    context.users.emplace(user.id, std::move(user));
  }
  return context;
}

Result<const OrgAlertSettings*> AlertDispatcher::SettingsOf(Context& context, int64_t org_id) {
  auto it = context.settings.find(org_id);
  if (it == context.settings.end()) {
    auto loaded = store_.Alerts().GetOrgAlertSettings(org_id);
    if (!loaded.ok() && loaded.error().code != ErrorCode::kNotFound) return loaded.error();
    OrgAlertSettings settings = loaded.ok() ? std::move(loaded).value() : OrgAlertSettings{};
    settings.org_id = org_id;
    it = context.settings.emplace(org_id, std::move(settings)).first;
  }
  return &it->second;
}

Result<AlertDispatcher::Timing> AlertDispatcher::TimingFor(Context& context, int64_t org_id,
                                                           AlertKind kind,
                                                           std::string_view severity,
                                                           int64_t grace_until_ms) {
  Timing timing;
  timing.urgent = Urgent(kind, severity);
  timing.release_at_ms = context.now_ms;
  if (grace_until_ms > context.now_ms) {
    timing.release_at_ms = grace_until_ms;
    timing.held = "grace";
  }
  timing.grace_until_ms = grace_until_ms;
  if (!timing.urgent && settings_.group_wait_ms > 0 && timing.held.empty()) {
    // What is not urgent waits a moment, so a burst of one organisation goes as one message.
    timing.release_at_ms = context.now_ms + settings_.group_wait_ms;
  }
  DOZOR_ASSIGN_OR_RETURN(const OrgAlertSettings* settings, SettingsOf(context, org_id));
  const bool wait_for_hours = settings->after_hours == AfterHours::kNone ||
                              (settings->after_hours == AfterHours::kUrgent && !timing.urgent);
  if (!wait_for_hours) return timing;
  WeeklySpan working;
  working.weekdays = settings->work_days;
  working.start_minute = settings->work_start_minute;
  working.duration_minutes = settings->work_end_minute - settings->work_start_minute;
  auto next = NextInSpan(settings->time_zone, working, timing.release_at_ms);
  if (!next.ok()) {
    // A zone removed from tzdata since it was saved: better early than never.
    spdlog::warn("alerts: working hours of organisation {} ignored: {}", org_id,
                 next.error().message);
  } else if (*next && **next > timing.release_at_ms) {
    timing.release_at_ms = **next;
    timing.held = "working_hours";
  }
  return timing;
}

Result<std::string> AlertDispatcher::MaintenanceOf(Context& context, int64_t org_id,
                                                   std::string_view agent_id) {
  if (!context.windows) {
    DOZOR_ASSIGN_OR_RETURN(auto windows, store_.Alerts().ListMaintenanceWindows(std::nullopt));
    context.windows = std::move(windows);
  }
  for (const auto& window : *context.windows) {
    if (window.org_id != org_id || (!window.agent_id.empty() && window.agent_id != agent_id)) {
      continue;
    }
    if (window.starts_at_ms && window.ends_at_ms) {
      if (*window.starts_at_ms <= context.now_ms && context.now_ms < *window.ends_at_ms) {
        return std::string("maintenance");
      }
      continue;
    }
    DOZOR_ASSIGN_OR_RETURN(const OrgAlertSettings* settings, SettingsOf(context, org_id));
    WeeklySpan span{window.weekdays, window.start_minute, window.duration_minutes};
    auto end = SpanEndingAfter(settings->time_zone, span, context.now_ms);
    if (end.ok() && *end) return std::string("maintenance");
  }
  return std::string();
}

Result<int> AlertDispatcher::PlanPass() {
  const int64_t now_ms = clock_.NowMs();
  DOZOR_ASSIGN_OR_RETURN(auto cursor, store_.Alerts().AlertCursor());
  if (!cursor) {
    DOZOR_ASSIGN_OR_RETURN(const int64_t latest, store_.Events().LatestEventId());
    DOZOR_RETURN_IF_ERROR(store_.Alerts().RecordAlerts({}, {}, latest, now_ms));
    spdlog::info("alerts: following the event feed from event {} (earlier events page nobody)",
                 latest);
    return 0;
  }
  std::optional<Context> context;
  int recorded = 0;
  int64_t after = *cursor;
  for (int read = 0; read < kReadsPerPass; ++read) {
    FeedFilter filter;
    filter.after_id = after;
    filter.limit = kEventsPerRead;
    DOZOR_ASSIGN_OR_RETURN(auto events, store_.Events().ListEvents(filter));
    if (events.empty()) break;
    if (!context) {
      DOZOR_ASSIGN_OR_RETURN(auto loaded, LoadContext(now_ms));
      context.emplace(std::move(loaded));
    }
    std::vector<NewAlert> planned;
    std::vector<AlertAck> acks;
    std::map<int64_t, std::vector<FeedEvent>> offline_by_org;
    int64_t last = after;
    bool unsettled = false;
    for (const auto& event : events) {
      if (event.kind == "host_offline" && now_ms - event.at_ms < settings_.settle_ms) {
        unsettled = true;  // the rest of the presence sweep may still be coming
        break;
      }
      last = event.id;
      if (event.kind == "finding_acknowledged" || event.kind == "finding_waived" ||
          event.kind == "finding_resolved") {
        acks.push_back(AlertAck{event.finding_id, {}, std::nullopt, event.actor});
      } else if (event.kind == "host_online") {
        acks.push_back(AlertAck{std::nullopt, event.agent_id, event.org_id, "system"});
      }
      if (event.kind == "host_offline") {
        if (event.org_id) offline_by_org[*event.org_id].push_back(event);
        continue;
      }
      DOZOR_ASSIGN_OR_RETURN(auto alert, PlanOne(*context, event));
      if (alert) {
        const bool goes_now = std::any_of(
            alert->deliveries.begin(), alert->deliveries.end(),
            [&](const NewDelivery& d) { return d.user_id && d.release_at_ms <= now_ms; });
        if (alert->finding_id && goes_now &&
            (event.kind == "finding_opened" || event.kind == "finding_regressed")) {
          context->announced.insert(*alert->finding_id);
        }
        planned.push_back(std::move(*alert));
      }
    }
    for (const auto& [org_id, offline] : offline_by_org) {
      const auto org = context->orgs.find(org_id);
      if (org == context->orgs.end() || org->second.contract_status != ContractPhase::kActive) {
        continue;
      }
      DOZOR_ASSIGN_OR_RETURN(auto hosts, store_.Hosts().ListHosts(org_id));
      const HostCounts counts = CountHosts(hosts, now_ms, settings_.offline_after_ms);
      OrgOutage outage;
      outage.org_id = org_id;
      outage.offline_events = offline;
      outage.live_hosts = counts.live;
      outage.offline_hosts = counts.offline;
      if (IsSiteOutage(outage, settings_.policy)) {
        DOZOR_ASSIGN_OR_RETURN(
            auto site, PlanSiteOutage(*context, offline, outage.live_hosts, outage.offline_hosts));
        planned.push_back(std::move(site));
        continue;
      }
      // Hosts that fall silent after the site went down are part of that outage, already told.
      AlertFilter open_alerts;
      open_alerts.org_id = org_id;
      open_alerts.unacknowledged_only = true;
      open_alerts.limit = 50;
      DOZOR_ASSIGN_OR_RETURN(auto open, store_.Alerts().ListAlerts(open_alerts));
      const bool site_down = std::any_of(open.begin(), open.end(), [](const Alert& alert) {
        return alert.kind == ToString(AlertKind::kSiteOffline);
      });
      if (site_down) continue;
      for (const auto& event : offline) {
        DOZOR_ASSIGN_OR_RETURN(auto alert, PlanOne(*context, event));
        if (alert) planned.push_back(std::move(*alert));
      }
    }
    if (last == after) break;  // only unsettled events: the next pass takes them
    DOZOR_RETURN_IF_ERROR(store_.Alerts().RecordAlerts(planned, acks, last, now_ms));
    for (const auto& alert : planned) {
      spdlog::info("alert: {} ({} messages)", alert.summary, alert.deliveries.size());
    }
    recorded += static_cast<int>(planned.size());
    after = last;
    if (unsettled || static_cast<int>(events.size()) < kEventsPerRead) break;
  }
  return recorded;
}

Result<std::optional<NewAlert>> AlertDispatcher::PlanOne(Context& context, const FeedEvent& event) {
  if (!event.org_id) return std::optional<NewAlert>();
  const auto org_it = context.orgs.find(*event.org_id);
  if (org_it == context.orgs.end()) return std::optional<NewAlert>();
  const Organization& org = org_it->second;
  EventFacts facts;
  facts.phase = org.contract_status;
  if (facts.phase != ContractPhase::kActive) return std::optional<NewAlert>();

  AlertFacts words;
  words.org_name = org.name;
  words.agent_id = event.agent_id;
  words.hostname = event.hostname;
  words.at_ms = event.at_ms;
  words.detail = event.detail;
  words.actor = event.actor;
  std::string category;
  if (event.finding_id && event.kind.rfind("finding_", 0) == 0) {
    auto finding = store_.Findings().GetFinding(*event.finding_id);
    if (!finding.ok()) {
      if (finding.error().code == ErrorCode::kNotFound) return std::optional<NewAlert>();
      return finding.error();
    }
    const rules::Rule* rule = rules_ != nullptr ? rules_->Find(finding->rule_id) : nullptr;
    facts.severity = finding->severity;
    // The contract scope (rules/contract_scope.hpp); a rule no longer loaded counts. The host is
    // read only when its duties can change the answer.
    facts.rule_in_contract = true;
    if (rule != nullptr) {
      HostDuties duties;
      if (!finding->agent_id.empty() && rules::ScopeDependsOnHost(*rule, org.contract_type)) {
        auto host = store_.Hosts().GetHost(finding->agent_id);
        if (!host.ok() && host.error().code != ErrorCode::kNotFound) return host.error();
        if (host.ok() && !host->revoked) duties = host->duties;
      }
      facts.rule_in_contract = rules::InContractScope(*rule, org.contract_type, duties);
    }
    DOZOR_ASSIGN_OR_RETURN(const OrgAlertSettings* settings, SettingsOf(context, org.id));
    ApplyThreshold(settings->rule_overrides, settings->min_severity, finding->rule_id, facts);
    words.finding_id = finding->id;
    words.severity = std::string(ToString(finding->severity));
    words.rule_id = finding->rule_id;
    words.rule = rule;
    words.evidence_json = finding->evidence_json;
    words.hostname = finding->hostname;
    words.object = finding->object;
    words.agent_id = finding->agent_id;
    category = finding->category;
    // A comment on the finding is not what the message is about; a verification request's is.
    if (event.kind != "finding_verify_requested") words.detail.clear();
  } else if (!event.agent_id.empty()) {
    auto host = store_.Hosts().GetHost(event.agent_id);
    if (host.ok()) {
      facts.host_role = host->role;
      if (!host->hostname.empty()) words.hostname = host->hostname;
    } else if (host.error().code != ErrorCode::kNotFound) {
      return host.error();
    }
  }
  const auto kind = AlertKindFor(event, facts, settings_.policy);
  if (!kind) return std::optional<NewAlert>();
  words.kind = *kind;
  const bool state_change = *kind == AlertKind::kFindingOpened ||
                            *kind == AlertKind::kFindingRegressed ||
                            *kind == AlertKind::kFindingResolved;
  if (*kind == AlertKind::kFindingResolved && words.finding_id) {
    // Good news about something nobody was told of (it went bad and came right within the
    // night's hold, say) is noise.
    bool announced = context.announced.count(*words.finding_id) > 0;
    if (!announced) {
      DOZOR_ASSIGN_OR_RETURN(announced,
                             store_.Alerts().FindingAnnounced(*words.finding_id, context.now_ms));
    }
    if (!announced) return std::optional<NewAlert>();
  }

  NewAlert alert;
  alert.event_id = event.id;
  alert.kind = std::string(ToString(*kind));
  alert.org_id = org.id;
  alert.finding_id = words.finding_id;
  alert.agent_id = words.agent_id;
  alert.severity = words.severity;
  alert.summary = AlertSummary(words);
  DOZOR_ASSIGN_OR_RETURN(alert.suppressed, MaintenanceOf(context, org.id, words.agent_id));
  if (alert.suppressed.empty() && state_change && words.finding_id) {
    DOZOR_ASSIGN_OR_RETURN(const int recent,
                           store_.Alerts().CountFindingAlerts(
                               *words.finding_id, context.now_ms - settings_.flap.window_ms));
    if (IsFlapping(recent, settings_.flap)) alert.suppressed = "flapping";
  }
  if (!alert.suppressed.empty()) {
    // Recorded, so the dashboard shows what happened, but nobody is told and it never escalates.
    return std::optional<NewAlert>(std::move(alert));
  }
  int64_t grace_until = 0;
  if (*kind == AlertKind::kHostOffline) {
    DOZOR_ASSIGN_OR_RETURN(const OrgAlertSettings* settings, SettingsOf(context, org.id));
    grace_until = event.at_ms + static_cast<int64_t>(settings->server_grace_minutes) * 60'000;
  }
  DOZOR_ASSIGN_OR_RETURN(const Timing timing,
                         TimingFor(context, org.id, *kind, words.severity, grace_until));
  DOZOR_RETURN_IF_ERROR(AddFirstStage(context, words, category, timing, alert));
  return std::optional<NewAlert>(std::move(alert));
}

Result<NewAlert> AlertDispatcher::PlanSiteOutage(Context& context,
                                                 const std::vector<FeedEvent>& events,
                                                 int64_t live_hosts, int64_t offline_hosts) {
  const FeedEvent& first = events.front();
  const Organization& org = context.orgs.at(*first.org_id);
  AlertFacts words;
  words.kind = AlertKind::kSiteOffline;
  words.org_name = org.name;
  words.at_ms = first.at_ms;
  words.live_hosts = live_hosts;
  words.offline_hosts = std::max<int64_t>(offline_hosts, static_cast<int64_t>(events.size()));
  for (const auto& event : events) {
    words.offline_hostnames.push_back(event.hostname.empty() ? event.agent_id : event.hostname);
  }
  NewAlert alert;
  alert.event_id = first.id;
  alert.kind = std::string(ToString(AlertKind::kSiteOffline));
  alert.org_id = org.id;
  alert.summary = AlertSummary(words);
  DOZOR_ASSIGN_OR_RETURN(alert.suppressed, MaintenanceOf(context, org.id, ""));
  if (!alert.suppressed.empty()) return alert;
  DOZOR_ASSIGN_OR_RETURN(const Timing timing,
                         TimingFor(context, org.id, AlertKind::kSiteOffline, "", 0));
  DOZOR_RETURN_IF_ERROR(AddFirstStage(context, words, "", timing, alert));
  return alert;
}

Status AlertDispatcher::AddFirstStage(Context& context, const AlertFacts& words,
                                      const std::string& category, const Timing& timing,
                                      NewAlert& alert) {
  // The first stage with someone to tell. With nobody at all the alert is still recorded (and
  // goes to the webhook) so that "nobody was told" shows, and it does not escalate.
  for (int stage = 0; stage <= kLastStage; ++stage) {
    DOZOR_ASSIGN_OR_RETURN(auto deliveries, Deliveries(context, words, alert.event_id, category,
                                                       stage, alert.org_id, timing));
    if (ReachesPeople(deliveries)) {
      alert.stage = stage;
      alert.deliveries = std::move(deliveries);
      if (Escalates(words.kind) && settings_.policy.escalate_after_ms > 0 && stage < kLastStage) {
        // Counted from when the messages may go out: held until the morning, the backup is not
        // woken at night for it.
        alert.escalate_at_ms =
            FirstRelease(alert.deliveries, context.now_ms) + settings_.policy.escalate_after_ms;
      }
      return OkStatus();
    }
  }
  alert.stage = 0;
  DOZOR_ASSIGN_OR_RETURN(alert.deliveries, Deliveries(context, words, alert.event_id, category, 0,
                                                      alert.org_id, timing));
  return OkStatus();
}

Result<std::vector<NewDelivery>> AlertDispatcher::Deliveries(Context& context,
                                                             const AlertFacts& facts,
                                                             int64_t alert_event_id,
                                                             const std::string& category, int stage,
                                                             int64_t org_id, const Timing& timing) {
  const std::string key_prefix =
      "e" + std::to_string(alert_event_id) + "-" + std::string(ToString(facts.kind));
  AlertFacts staged = facts;
  staged.stage = stage;
  staged.link = LinkFor(facts, org_id);
  const auto assignments = context.assignments.find(org_id);
  static const std::vector<Assignment> kNone;
  const auto ids = Recipients(
      stage, category, assignments == context.assignments.end() ? kNone : assignments->second,
      context.duty_ids);
  const bool ack_links =
      Escalates(facts.kind) && !settings_.ack_key.empty() && !settings_.dashboard_url.empty();
  std::vector<NewDelivery> out;
  std::vector<std::string> notified;
  const std::string stage_key = key_prefix + "-s" + std::to_string(stage);
  for (const int64_t id : ids) {
    const auto user = context.users.find(id);
    if (user == context.users.end() || !user->second.enabled) continue;
    const User& person = user->second;
    // Each person's message carries their own acknowledgement link.
    AlertFacts personal = staged;
    if (ack_links) {
      personal.ack_link = AckLink(settings_.dashboard_url, settings_.ack_key,
                                  AckTarget{alert_event_id, std::string(ToString(facts.kind)), id});
    }
    if (AddPersonDeliveries(settings_, person, personal, stage_key, stage, timing.urgent,
                            timing.release_at_ms, timing.held, context.now_ms, std::nullopt,
                            nullptr, out)) {
      notified.push_back(person.login);
    }
  }
  if (settings_.webhook) {
    // A helpdesk files tickets around the clock: only the grace (a server back within it is no
    // ticket) holds the webhook, not working or quiet hours.
    NewDelivery d;
    d.stage = stage;
    d.channel = AlertChannel::kWebhook;
    d.address = settings_.webhook_url;
    d.language = "en";
    d.idempotency_key = stage_key + "-webhook";
    d.payload = WebhookBody(staged, RenderAlert(staged, "en"), d.idempotency_key, notified);
    if (timing.grace_until_ms > context.now_ms) {
      d.release_at_ms = timing.grace_until_ms;
      d.held = "grace";
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::string AlertDispatcher::LinkFor(const AlertFacts& facts, int64_t org_id) const {
  if (settings_.dashboard_url.empty()) return {};
  if (facts.finding_id)
    return settings_.dashboard_url + "/findings/" + std::to_string(*facts.finding_id);
  if (facts.kind != AlertKind::kSiteOffline && !facts.agent_id.empty()) {
    return settings_.dashboard_url + "/hosts/" + PercentEncode(facts.agent_id);
  }
  return settings_.dashboard_url + "/orgs/" + std::to_string(org_id);
}

Status AlertDispatcher::StopEscalating(int64_t alert_id, int64_t now_ms) {
  DOZOR_RETURN_IF_ERROR(
      store_.Alerts().EscalateAlert(alert_id, kLastStage, std::nullopt, {}, now_ms));
  return OkStatus();
}

Result<int> AlertDispatcher::EscalationPass() {
  const int64_t now_ms = clock_.NowMs();
  DOZOR_ASSIGN_OR_RETURN(auto due, store_.Alerts().DueEscalations(now_ms, 100));
  if (due.empty()) return 0;
  DOZOR_ASSIGN_OR_RETURN(Context context, LoadContext(now_ms));
  int escalated = 0;
  for (const auto& alert : due) {
    const auto kind = ParseAlertKind(alert.kind);
    const auto org = context.orgs.find(alert.org_id);
    if (!kind || org == context.orgs.end()) {
      DOZOR_RETURN_IF_ERROR(StopEscalating(alert.id, now_ms));
      continue;
    }
    AlertFacts words;
    words.kind = *kind;
    words.org_name = org->second.name;
    words.agent_id = alert.agent_id;
    words.hostname = alert.hostname;
    words.severity = alert.severity;
    words.at_ms = alert.created_at_ms;
    std::string category;
    bool still_matters = true;
    if (alert.finding_id) {
      auto finding = store_.Findings().GetFinding(*alert.finding_id);
      if (finding.ok()) {
        words.finding_id = finding->id;
        words.rule_id = finding->rule_id;
        words.rule = rules_ != nullptr ? rules_->Find(finding->rule_id) : nullptr;
        words.evidence_json = finding->evidence_json;
        words.hostname = finding->hostname;
        words.object = finding->object;
        words.at_ms = finding->state_changed_ms;
        category = finding->category;
        still_matters = IsActiveFinding(finding->state);
      } else if (finding.error().code == ErrorCode::kNotFound) {
        still_matters = false;
      } else {
        return finding.error();
      }
    }
    if (*kind == AlertKind::kSiteOffline) {
      DOZOR_ASSIGN_OR_RETURN(auto hosts, store_.Hosts().ListHosts(alert.org_id));
      HostCounts counts = CountHosts(hosts, now_ms, settings_.offline_after_ms);
      words.live_hosts = counts.live;
      words.offline_hosts = counts.offline;
      words.offline_hostnames = std::move(counts.offline_names);
      still_matters = words.offline_hosts > 0;
    }
    std::optional<int> next;
    std::vector<NewDelivery> deliveries;
    DOZOR_ASSIGN_OR_RETURN(const Timing timing,
                           TimingFor(context, alert.org_id, *kind, alert.severity, 0));
    for (int stage = alert.stage + 1; still_matters && stage <= kLastStage; ++stage) {
      DOZOR_ASSIGN_OR_RETURN(auto candidate, Deliveries(context, words, alert.event_id, category,
                                                        stage, alert.org_id, timing));
      if (ReachesPeople(candidate)) {
        next = stage;
        deliveries = std::move(candidate);
        break;
      }
    }
    if (!next) {
      // Nobody further to tell (or it no longer matters): it stops escalating.
      DOZOR_RETURN_IF_ERROR(StopEscalating(alert.id, now_ms));
      continue;
    }
    const std::optional<int64_t> next_at =
        *next < kLastStage
            ? std::optional(FirstRelease(deliveries, now_ms) + settings_.policy.escalate_after_ms)
            : std::nullopt;
    DOZOR_ASSIGN_OR_RETURN(const bool moved, store_.Alerts().EscalateAlert(alert.id, *next, next_at,
                                                                           deliveries, now_ms));
    if (moved) {
      ++escalated;
      spdlog::info("alert {} escalated to stage {}: {}", alert.id, *next, alert.summary);
    }
  }
  return escalated;
}

Status AlertDispatcher::ReportChannelFailure(const Delivery& delivery, std::string_view error) {
  constexpr int64_t kNoticeEveryMs = 3'600'000;
  const int64_t now_ms = clock_.NowMs();
  {
    std::lock_guard lock(channel_notice_mu_);
    auto& last = last_channel_notice_ms_[static_cast<int>(delivery.channel)];
    if (last != 0 && now_ms - last < kNoticeEveryMs) return OkStatus();
    last = now_ms;
  }
  DOZOR_ASSIGN_OR_RETURN(Context context, LoadContext(now_ms));
  DOZOR_ASSIGN_OR_RETURN(const Alert failed, store_.Alerts().GetAlert(delivery.alert_id));
  AlertFacts words;
  words.kind = AlertKind::kChannelFailed;
  words.org_name = failed.org_name;
  words.at_ms = now_ms;
  // The webhook's URL may carry its token: only the channel is named.
  const std::string to =
      delivery.channel == AlertChannel::kWebhook ? std::string() : " → " + delivery.address;
  words.detail = std::string(ToString(delivery.channel)) + to + ": " +
                 std::string(error.substr(0, 500)) + " (" + failed.summary + ")";
  if (!settings_.dashboard_url.empty()) words.link = settings_.dashboard_url + "/alerts";
  NewAlert alert;
  alert.kind = std::string(ToString(AlertKind::kChannelFailed));
  alert.org_id = failed.org_id;
  alert.summary = "channel_failed: " + std::string(ToString(delivery.channel)) + " gave up on " +
                  "message " + std::to_string(delivery.id);
  const std::string key_prefix = "channel-failed-m" + std::to_string(delivery.id);
  for (const auto& [id, person] : context.users) {
    if (!person.enabled || person.role != UserRole::kAdmin) continue;
    // On the admins' other channels: the failing one would fail again.
    AddPersonDeliveries(settings_, person, words, key_prefix, 0, /*urgent=*/true, now_ms, "",
                        now_ms, delivery.channel, nullptr, alert.deliveries);
  }
  spdlog::error("alerts: {} ({} admin messages)", alert.summary, alert.deliveries.size());
  DOZOR_RETURN_IF_ERROR(store_.Alerts().RecordNotice(alert, nullptr, now_ms));
  return OkStatus();
}

int64_t RetryDelayMs(int attempts, int64_t first_ms) {
  constexpr int64_t kMaxMs = 3'600'000;
  int64_t delay = std::max<int64_t>(first_ms, 1);
  for (int i = 1; i < attempts && delay < kMaxMs; ++i) delay *= 2;
  return std::min(delay, kMaxMs);
}

DeliveryWorker::DeliveryWorker(AlertStore& store, AlertChannel channel,
                               std::unique_ptr<AlertSender> sender, const Clock& clock,
                               int64_t give_up_after_ms, int64_t first_retry_ms)
    : store_(store),
      channel_(channel),
      sender_(std::move(sender)),
      clock_(clock),
      give_up_after_ms_(give_up_after_ms),
      first_retry_ms_(first_retry_ms) {}

Result<int> DeliveryWorker::DeliverPass(int limit) {
  constexpr int64_t kHourMs = 3'600'000;
  const int64_t claimed_at_ms = clock_.NowMs();
  DOZOR_ASSIGN_OR_RETURN(auto due, store_.DueDeliveries(channel_, claimed_at_ms, limit));
  int delivered = 0;
  std::unordered_map<int64_t, int> sent_this_hour;  // by person, read once per pass
  for (const auto& delivery : due) {
    // Sends that keep timing out (a dead SMTP relay: 30 s each) must not outlast the claim:
    // another sender, or another replica, would then take the same messages and send them
    // twice. Past half the claim the rest are left; their claims run out and they are due again.
    if (clock_.NowMs() - claimed_at_ms >= kAlertClaimMs / 2) {
      spdlog::warn("alerts: {} pass stopped after {} s with messages left for the next one",
                   ToString(channel_), (clock_.NowMs() - claimed_at_ms) / 1000);
      break;
    }
    // Urgent pages and notices to admins are never held back by the rate limit.
    const auto kind = ParseAlertKind(delivery.alert_kind);
    const bool exempt = !kind || Urgent(*kind, delivery.alert_severity) ||
                        *kind == AlertKind::kChannelFailed || *kind == AlertKind::kMonthlyReport;
    if (rate_limit_per_hour_ > 0 && delivery.user_id && delivery.attempts == 0 && !exempt) {
      const int64_t now_ms = clock_.NowMs();
      auto it = sent_this_hour.find(*delivery.user_id);
      if (it == sent_this_hour.end()) {
        DOZOR_ASSIGN_OR_RETURN(const int sent,
                               store_.CountSentTo(*delivery.user_id, channel_, now_ms - kHourMs));
        it = sent_this_hour.emplace(*delivery.user_id, sent).first;
      }
      if (it->second >= rate_limit_per_hour_) {
        // Not lost, not dropped: it waits and goes when the hour allows, in order.
        DOZOR_RETURN_IF_ERROR(store_.HoldDelivery(delivery.id, "rate_limit", now_ms + kHourMs / 6));
        continue;
      }
      ++it->second;
    }
    Delivery message = delivery;
    std::vector<int64_t> group;
    if (group_window_ms_ > 0 && !delivery.message_json.empty() &&
        channel_ != AlertChannel::kWebhook) {
      // Telegram cuts a message at ~4000 characters: a smaller group, so nothing is cut off.
      const int most = channel_ == AlertChannel::kTelegram ? kMaxTelegramGroup : kMaxGroup;
      DOZOR_ASSIGN_OR_RETURN(auto companions, store_.GroupCompanions(delivery, clock_.NowMs(),
                                                                     group_window_ms_, most));
      if (!companions.empty()) {
        std::vector<std::string> words{delivery.message_json};
        for (const auto& companion : companions) words.push_back(companion.message_json);
        auto together = RenderGroup(words, delivery.language);
        if (together.ok()) {
          // Its own key: a group differs from the leader's message alone.
          message.payload = channel_ == AlertChannel::kEmail
                                ? EmailMessage(*together, mail_from_, delivery.address,
                                               delivery.idempotency_key + "-group", clock_.NowMs())
                                : TelegramRequest(*together, delivery.address);
          group.push_back(delivery.id);
          for (const auto& companion : companions) group.push_back(companion.id);
        } else {
          spdlog::warn("alert message {} sent alone: {}", delivery.id, together.error().message);
        }
      }
    }
    const SendOutcome outcome = sender_->Send(message);
    const int64_t now_ms = clock_.NowMs();
    if (outcome.delivered) {
      if (group.empty()) {
        DOZOR_RETURN_IF_ERROR(store_.MarkDelivered(delivery.id, now_ms));
        ++delivered;
      } else {
        DOZOR_RETURN_IF_ERROR(store_.MarkAllDelivered(group, now_ms));
        delivered += static_cast<int>(group.size());
      }
      continue;
    }
    ++failed_attempts_;
    const bool give_up = outcome.permanent || now_ms - delivery.created_at_ms >= give_up_after_ms_;
    const std::optional<int64_t> retry_at =
        give_up ? std::nullopt
                : std::optional(now_ms + RetryDelayMs(delivery.attempts + 1, first_retry_ms_));
    DOZOR_RETURN_IF_ERROR(store_.MarkAttemptFailed(delivery.id, outcome.error, retry_at, now_ms));
    if (give_up) {
      spdlog::error("alert message {} ({} to {}) given up after {} attempts: {}", delivery.id,
                    ToString(channel_), delivery.address, delivery.attempts + 1, outcome.error);
      if (on_give_up_) on_give_up_(delivery, outcome.error);
    } else {
      spdlog::warn("alert message {} ({} to {}) not delivered, retrying in {} s: {}", delivery.id,
                   ToString(channel_), delivery.address,
                   RetryDelayMs(delivery.attempts + 1, first_retry_ms_) / 1000, outcome.error);
    }
  }
  return delivered;
}

}  // namespace dozor::server::alerts
