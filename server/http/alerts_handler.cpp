// /api/v1/alerts: what alerting told whom and whether it arrived (docs/alerts.md), acknowledging
// an alert (which stops its escalation), and /api/v1/alert-channels: each channel's outbox, for
// the status page. Staff only: clients see findings, not the company's paging.
#include "http/handlers.hpp"

namespace dozor::server::http {

namespace {

// A webhook URL may carry a helpdesk's token in its query or credentials before its host: shown
// without either.
std::string ShownAddress(const Delivery& delivery) {
  if (delivery.channel != AlertChannel::kWebhook) return delivery.address;
  std::string shown = delivery.address.substr(0, delivery.address.find('?'));
  const size_t scheme = shown.find("://");
  const size_t host_start = scheme == std::string::npos ? 0 : scheme + 3;
  const size_t at = shown.find('@', host_start);
  if (at != std::string::npos && at < shown.find('/', host_start)) {
    shown.erase(host_start, at + 1 - host_start);
  }
  return shown;
}

nlohmann::json DeliveryJson(const Delivery& delivery) {
  nlohmann::json out = {
      {"id", delivery.id},
      {"stage", delivery.stage},
      {"channel", std::string(ToString(delivery.channel))},
      {"recipient", delivery.login.empty() ? nlohmann::json() : nlohmann::json(delivery.login)},
      {"address", ShownAddress(delivery)},
      {"language", delivery.language},
      {"state", std::string(ToString(delivery.state))},
      {"attempts", delivery.attempts},
      {"last_error", delivery.last_error},
      {"idempotency_key", delivery.idempotency_key},
      {"held", delivery.held}};
  PutTime(out, "held_until",
          delivery.held.empty() ? std::nullopt : std::optional(delivery.held_until_ms));
  PutTime(out, "next_attempt_at",
          delivery.state == DeliveryState::kPending ? std::optional(delivery.next_attempt_ms)
                                                    : std::nullopt);
  PutTime(out, "sent_at", delivery.sent_at_ms);
  PutTime(out, "created_at", delivery.created_at_ms);
  return out;
}

nlohmann::json AlertJson(const Alert& alert) {
  nlohmann::json out = {
      {"id", alert.id},
      {"kind", alert.kind},
      {"org_id", alert.org_id},
      {"org", alert.org_name},
      {"finding_id", alert.finding_id ? nlohmann::json(*alert.finding_id) : nlohmann::json()},
      {"agent_id", alert.agent_id},
      {"hostname", alert.hostname},
      {"severity", alert.severity},
      {"summary", alert.summary},
      {"stage", alert.stage},
      {"acked_by", alert.acked_by},
      {"suppressed", alert.suppressed},
      {"deliveries", nlohmann::json::array()}};
  PutTime(out, "created_at", alert.created_at_ms);
  PutTime(out, "escalate_at", alert.escalate_at_ms);
  PutTime(out, "acked_at", alert.acked_at_ms);
  for (const auto& delivery : alert.deliveries) out["deliveries"].push_back(DeliveryJson(delivery));
  return out;
}

ApiResponse ListAlerts(ApiContext& context, const ApiRequest& request) {
  auto before = QueryInt(request, "before", 0, 0, INT64_MAX);
  auto limit = QueryInt(request, "limit", 50, 1, 200);
  if (!before.ok() || !limit.ok()) {
    return ErrorResponse(!before.ok() ? before.error() : limit.error());
  }
  auto org = ScopedOrgQuery(context, request);
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  AlertFilter filter;
  filter.before_id = *before;
  filter.limit = static_cast<int>(*limit);
  filter.org_id = *org;
  if (const auto it = request.query.find("unacknowledged"); it != request.query.end()) {
    if (it->second != "true" && it->second != "false") {
      return ErrorResponse(400, "invalid_argument", "unacknowledged must be true or false");
    }
    filter.unacknowledged_only = it->second == "true";
  }
  if (request.caller) {
    filter.visible_org_ids = request.caller->VisibleOrgIds();
  }
  auto alerts = context.store.Alerts().ListAlerts(filter);
  if (!alerts.ok()) {
    return ErrorResponse(alerts.error());
  }
  ApiResponse response;
  response.body["alerts"] = nlohmann::json::array();
  for (const auto& alert : *alerts) response.body["alerts"].push_back(AlertJson(alert));
  // The next (older) page starts below the last id; null when this page was the last.
  response.body["next_before"] = static_cast<int64_t>(alerts->size()) == *limit
                                     ? nlohmann::json(alerts->back().id)
                                     : nlohmann::json();
  return response;
}

ApiResponse ShowAlert(ApiContext& context, const ApiRequest& request) {
  auto id = PathId(request, "id");
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  auto alert = context.store.Alerts().GetAlert(*id);
  if (!alert.ok()) {
    return ErrorResponse(alert.error());
  }
  ApiResponse response;
  response.body = AlertJson(*alert);
  return response;
}

ApiResponse AckAlert(ApiContext& context, const ApiRequest& request) {
  auto id = PathId(request, "id");
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  auto alert =
      context.store.Alerts().AcknowledgeAlert(*id, ActorOf(request), context.clock.NowMs());
  if (!alert.ok()) {
    return ErrorResponse(alert.error());
  }
  ApiResponse response;
  response.body = AlertJson(*alert);
  response.audit_object = "alert " + std::to_string(*id);
  response.audit_org_id = alert->org_id;
  return response;
}

ApiResponse AlertChannels(ApiContext& context) {
  auto backlog = context.store.Alerts().AlertBacklog();
  if (!backlog.ok()) {
    return ErrorResponse(backlog.error());
  }
  ApiResponse response;
  response.body["channels"] = nlohmann::json::array();
  for (const auto& channel : *backlog) {
    nlohmann::json item = {{"channel", std::string(ToString(channel.channel))},
                           {"pending", channel.pending},
                           {"failed", channel.failed},
                           {"sent", channel.sent},
                           {"cancelled", channel.cancelled},
                           {"last_error", channel.last_error}};
    PutTime(item, "oldest_pending_at", channel.oldest_pending_ms);
    response.body["channels"].push_back(std::move(item));
  }
  return response;
}

}  // namespace

void RegisterAlertRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/api/v1/alerts", Access::kStaffRead, Scope::List(),
             [&context](ApiRequest& request) { return ListAlerts(context, request); });
  router.Add("GET", "/api/v1/alerts/{id}", Access::kStaffRead, Scope::OfAlert(),
             [&context](ApiRequest& request) { return ShowAlert(context, request); });
  router.Add("POST", "/api/v1/alerts/{id}/ack", Access::kWrite, Scope::OfAlert(),
             [&context](ApiRequest& request) { return AckAlert(context, request); });
  router.Add("GET", "/api/v1/alert-channels", Access::kStaffRead, Scope::CallerOnly(),
             [&context](ApiRequest&) { return AlertChannels(context); });
}

}  // namespace dozor::server::http
