#include "alerts/alert_dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "alerts/ack_link.hpp"
#include "dozor/common/text.hpp"

namespace dozor::server::alerts {

namespace {

// Feed events read per query, and queries per pass (a backlog after downtime is worked off over
// several passes without holding the writer for long).
constexpr int kEventsPerRead = 500;
constexpr int kReadsPerPass = 20;

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
};

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
      if (alert) planned.push_back(std::move(*alert));
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
    facts.rule_in_contract = rule == nullptr || rule->AppliesTo(ToString(org.contract_type));
    words.finding_id = finding->id;
    words.severity = std::string(ToString(finding->severity));
    words.rule_id = finding->rule_id;
    words.rule = rule;
    words.evidence_json = finding->evidence_json;
    words.hostname = finding->hostname;
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

  NewAlert alert;
  alert.event_id = event.id;
  alert.kind = std::string(ToString(*kind));
  alert.org_id = org.id;
  alert.finding_id = words.finding_id;
  alert.agent_id = words.agent_id;
  alert.severity = words.severity;
  alert.summary = AlertSummary(words);
  DOZOR_RETURN_IF_ERROR(AddFirstStage(context, words, category, alert));
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
  DOZOR_RETURN_IF_ERROR(AddFirstStage(context, words, "", alert));
  return alert;
}

Status AlertDispatcher::AddFirstStage(Context& context, const AlertFacts& words,
                                      const std::string& category, NewAlert& alert) {
  // The first stage with someone to tell. With nobody at all the alert is still recorded (and
  // goes to the webhook) so that "nobody was told" shows, and it does not escalate.
  for (int stage = 0; stage <= kLastStage; ++stage) {
    DOZOR_ASSIGN_OR_RETURN(
        auto deliveries, Deliveries(context, words, alert.event_id, category, stage, alert.org_id));
    if (ReachesPeople(deliveries)) {
      alert.stage = stage;
      alert.deliveries = std::move(deliveries);
      if (Escalates(words.kind) && settings_.policy.escalate_after_ms > 0 && stage < kLastStage) {
        alert.escalate_at_ms = context.now_ms + settings_.policy.escalate_after_ms;
      }
      return OkStatus();
    }
  }
  alert.stage = 0;
  DOZOR_ASSIGN_OR_RETURN(alert.deliveries,
                         Deliveries(context, words, alert.event_id, category, 0, alert.org_id));
  return OkStatus();
}

Result<std::vector<NewDelivery>> AlertDispatcher::Deliveries(Context& context,
                                                             const AlertFacts& facts,
                                                             int64_t alert_event_id,
                                                             const std::string& category, int stage,
                                                             int64_t org_id) {
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
  std::map<std::string, RenderedAlert> rendered;  // by language, for the webhook
  auto render = [&](const std::string& language) -> const RenderedAlert& {
    auto it = rendered.find(language);
    if (it == rendered.end()) it = rendered.emplace(language, RenderAlert(staged, language)).first;
    return it->second;
  };
  const bool ack_links =
      Escalates(facts.kind) && !settings_.ack_key.empty() && !settings_.dashboard_url.empty();
  std::vector<NewDelivery> out;
  std::vector<std::string> notified;
  const std::string stage_key = key_prefix + "-s" + std::to_string(stage);
  for (const int64_t id : ids) {
    const auto user = context.users.find(id);
    if (user == context.users.end() || !user->second.enabled) continue;
    const User& person = user->second;
    const std::string language = person.language == "ru" ? "ru" : "en";
    // Each person's message carries their own acknowledgement link.
    AlertFacts personal = staged;
    if (ack_links) {
      personal.ack_link = AckLink(settings_.dashboard_url, settings_.ack_key,
                                  AckTarget{alert_event_id, std::string(ToString(facts.kind)), id});
    }
    const RenderedAlert message = RenderAlert(personal, language);
    bool told = false;
    if (settings_.email && !person.email.empty()) {
      NewDelivery d;
      d.stage = stage;
      d.user_id = id;
      d.channel = AlertChannel::kEmail;
      d.address = person.email;
      d.language = language;
      d.idempotency_key = stage_key + "-u" + std::to_string(id) + "-email";
      d.payload = EmailMessage(message, settings_.mail_from, person.email, d.idempotency_key,
                               context.now_ms);
      out.push_back(std::move(d));
      told = true;
    }
    if (settings_.telegram && !person.telegram_chat_id.empty()) {
      NewDelivery d;
      d.stage = stage;
      d.user_id = id;
      d.channel = AlertChannel::kTelegram;
      d.address = person.telegram_chat_id;
      d.language = language;
      d.idempotency_key = stage_key + "-u" + std::to_string(id) + "-telegram";
      d.payload = TelegramRequest(message, person.telegram_chat_id);
      out.push_back(std::move(d));
      told = true;
    }
    if (told) notified.push_back(person.login);
  }
  if (settings_.webhook) {
    NewDelivery d;
    d.stage = stage;
    d.channel = AlertChannel::kWebhook;
    d.address = settings_.webhook_url;
    d.language = "en";
    d.idempotency_key = stage_key + "-webhook";
    d.payload = WebhookBody(staged, render("en"), d.idempotency_key, notified);
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
    for (int stage = alert.stage + 1; still_matters && stage <= kLastStage; ++stage) {
      DOZOR_ASSIGN_OR_RETURN(auto candidate, Deliveries(context, words, alert.event_id, category,
                                                        stage, alert.org_id));
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
        *next < kLastStage ? std::optional(now_ms + settings_.policy.escalate_after_ms)
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
  DOZOR_ASSIGN_OR_RETURN(auto due, store_.DueDeliveries(channel_, clock_.NowMs(), limit));
  int delivered = 0;
  for (const auto& delivery : due) {
    const SendOutcome outcome = sender_->Send(delivery);
    const int64_t now_ms = clock_.NowMs();
    if (outcome.delivered) {
      DOZOR_RETURN_IF_ERROR(store_.MarkDelivered(delivery.id, now_ms));
      ++delivered;
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
    } else {
      spdlog::warn("alert message {} ({} to {}) not delivered, retrying in {} s: {}", delivery.id,
                   ToString(channel_), delivery.address,
                   RetryDelayMs(delivery.attempts + 1, first_retry_ms_) / 1000, outcome.error);
    }
  }
  return delivered;
}

}  // namespace dozor::server::alerts
