// An organisation's alert rules (docs/alerts.md): /api/v1/orgs/{org}/alert-settings (working
// hours in the client's time zone, what pages outside them, the severity threshold, per-rule
// overrides, the grace before a silent server pages) and /api/v1/orgs/{org}/maintenance (windows
// during which its alerts are recorded but sent to nobody). Staff only: they decide who is woken
// at night, not what the client sees.
#include <limits>
#include <map>
#include <set>

#include "domain/local_time.hpp"
#include "http/handlers.hpp"
#include "rules/rule.hpp"

namespace dozor::server::http {

namespace {

constexpr int kMinutesPerDay = 24 * 60;
constexpr size_t kMaxReasonChars = 500;
constexpr size_t kMaxAgentIdChars = 128;

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// "22:00" or "7:30" -> minute of the day; nullopt otherwise.
std::optional<int> ClockMinute(std::string_view text) {
  const auto number = [](std::string_view digits) -> std::optional<int> {
    if (digits.empty() || digits.size() > 2) return std::nullopt;
    int value = 0;
    for (const char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      value = value * 10 + (c - '0');
    }
    return value;
  };
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || text.size() != colon + 3) return std::nullopt;
  const auto hours = number(text.substr(0, colon));
  const auto minutes = number(text.substr(colon + 1));
  if (!hours || !minutes || *hours > 23 || *minutes > 59) return std::nullopt;
  return *hours * 60 + *minutes;
}

// ------------------------------------------------------------------ alert settings

std::string WorkingDays(int mask) { return mask == 0 ? "none" : FormatWeekdays(mask); }

// "09:00-18:00"; an end at midnight is "24:00" (FormatMinute would say "00:00").
std::string WorkingHours(const OrgAlertSettings& settings) {
  const std::string end = settings.work_end_minute >= kMinutesPerDay
                              ? std::string("24:00")
                              : FormatMinute(settings.work_end_minute);
  return FormatMinute(settings.work_start_minute) + "-" + end;
}

nlohmann::json SettingsJson(const OrgAlertSettings& settings) {
  nlohmann::json out = {
      {"org_id", settings.org_id},
      {"time_zone", settings.time_zone},
      {"working_days", WorkingDays(settings.work_days)},
      {"working_hours", WorkingHours(settings)},
      {"after_hours", std::string(ToString(settings.after_hours))},
      {"min_severity", settings.min_severity
                           ? nlohmann::json(std::string(ToString(*settings.min_severity)))
                           : nlohmann::json(nullptr)},
      {"server_grace_minutes", settings.server_grace_minutes},
      {"rule_overrides", nlohmann::json::array()},
      {"updated_by", settings.updated_by}};
  for (const auto& rule : settings.rule_overrides) {
    out["rule_overrides"].push_back(
        {{"rule_id", rule.rule_id},
         {"min_severity",
          rule.min_severity ? std::string(ToString(*rule.min_severity)) : std::string("never")}});
  }
  PutTime(out, "updated_at", settings.updated_at_ms);
  return out;
}

Result<Severity> SeverityField(const nlohmann::json& value, std::string_view field) {
  const auto severity =
      value.is_string() ? ParseSeverity(value.get<std::string>()) : std::optional<Severity>();
  if (!severity) {
    return Invalid("field '" + std::string(field) +
                   "' must be one of critical, high, medium, low, info");
  }
  return *severity;
}

// "rule_overrides": [{"rule_id": "os-eol", "min_severity": "high" | "never"}], replacing the list.
Result<std::vector<RuleAlertOverride>> ParseOverrides(const ApiContext& context,
                                                      const nlohmann::json& value) {
  if (!value.is_array()) {
    return Invalid("field 'rule_overrides' must be a list of {rule_id, min_severity}");
  }
  std::vector<RuleAlertOverride> overrides;
  std::set<std::string> seen;
  for (const auto& item : value) {
    if (!item.is_object()) {
      return Invalid("each rule override must be an object {rule_id, min_severity}");
    }
    for (const auto& [key, unused] : item.items()) {
      if (key != "rule_id" && key != "min_severity") {
        return Invalid("a rule override has only rule_id and min_severity, not '" + key + "'");
      }
    }
    DOZOR_ASSIGN_OR_RETURN(std::optional<std::string> rule_id, OptionalString(item, "rule_id"));
    if (!rule_id || Trimmed(*rule_id).empty()) {
      return Invalid("each rule override needs a rule_id");
    }
    RuleAlertOverride override_rule;
    override_rule.rule_id = Trimmed(*rule_id);
    if (context.rules != nullptr && context.rules->Find(override_rule.rule_id) == nullptr) {
      return Invalid("no rule '" + override_rule.rule_id + "' in the loaded rule pack");
    }
    if (!seen.insert(override_rule.rule_id).second) {
      return Invalid("rule '" + override_rule.rule_id + "' is overridden twice");
    }
    const auto severity = item.find("min_severity");
    if (severity == item.end() || severity->is_null()) {
      return Invalid("the override of rule '" + override_rule.rule_id +
                     "' needs min_severity: a severity, or never");
    }
    if (!(severity->is_string() && severity->get<std::string>() == "never")) {
      auto parsed = SeverityField(*severity, "min_severity");
      if (!parsed.ok()) {
        return Invalid("the override of rule '" + override_rule.rule_id +
                       "': min_severity must be one of critical, high, medium, low, info, never");
      }
      override_rule.min_severity = *parsed;
    }
    overrides.push_back(std::move(override_rule));
  }
  return overrides;
}

// Applies the fields of a PUT body to `settings`; a field left out keeps its value.
Status ApplySettings(const ApiContext& context, const nlohmann::json& body,
                     OrgAlertSettings& settings) {
  static const std::set<std::string, std::less<>> kFields = {
      "time_zone",    "working_days",         "working_hours", "after_hours",
      "min_severity", "server_grace_minutes", "rule_overrides"};
  for (const auto& [key, unused] : body.items()) {
    if (kFields.count(key) == 0) {
      return Invalid("field '" + key +
                     "' cannot be set (allowed: time_zone, working_days, working_hours, "
                     "after_hours, min_severity, server_grace_minutes, rule_overrides)");
    }
  }
  DOZOR_ASSIGN_OR_RETURN(std::optional<std::string> zone, OptionalString(body, "time_zone"));
  if (zone) {
    settings.time_zone = Trimmed(*zone);
    if (settings.time_zone.empty()) {
      return Invalid("field 'time_zone' must be an IANA time zone name such as Europe/Moscow");
    }
    DOZOR_RETURN_IF_ERROR(CheckKnownTimeZone(settings.time_zone));
  }
  DOZOR_ASSIGN_OR_RETURN(std::optional<std::string> days, OptionalString(body, "working_days"));
  if (days) {
    if (Trimmed(*days) == "none") {
      settings.work_days = 0;
    } else {
      DOZOR_ASSIGN_OR_RETURN(settings.work_days, ParseWeekdays(*days));
    }
  }
  DOZOR_ASSIGN_OR_RETURN(std::optional<std::string> hours, OptionalString(body, "working_hours"));
  if (hours) {
    DOZOR_ASSIGN_OR_RETURN(const WeeklySpan span, ParseDailyHours(*hours));
    if (span.start_minute + span.duration_minutes > kMinutesPerDay) {
      return Invalid(
          "working hours must end on the day they start (09:00-18:00, 20:00-24:00); "
          "got '" +
          Trimmed(*hours) + "'");
    }
    settings.work_start_minute = span.start_minute;
    settings.work_end_minute = span.start_minute + span.duration_minutes;
  }
  DOZOR_ASSIGN_OR_RETURN(std::optional<std::string> after, OptionalString(body, "after_hours"));
  if (after) {
    const auto policy = ParseAfterHours(Trimmed(*after));
    if (!policy) {
      return Invalid("field 'after_hours' must be one of all, urgent, none");
    }
    settings.after_hours = *policy;
  }
  // null: back to the server's [alerts] min_severity.
  if (const auto it = body.find("min_severity"); it != body.end()) {
    if (it->is_null()) {
      settings.min_severity.reset();
    } else {
      DOZOR_ASSIGN_OR_RETURN(settings.min_severity, SeverityField(*it, "min_severity"));
    }
  }
  DOZOR_ASSIGN_OR_RETURN(std::optional<int64_t> grace,
                         OptionalInt(body, "server_grace_minutes", 0, kMinutesPerDay));
  if (grace) {
    settings.server_grace_minutes = static_cast<int>(*grace);
  }
  if (const auto it = body.find("rule_overrides"); it != body.end() && !it->is_null()) {
    DOZOR_ASSIGN_OR_RETURN(settings.rule_overrides, ParseOverrides(context, *it));
  }
  return OkStatus();
}

ApiResponse ShowSettings(ApiContext& context, const ApiRequest& request) {
  auto org_id = RouteOrgId(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  auto settings = context.store.Alerts().GetOrgAlertSettings(*org_id);
  if (!settings.ok()) {
    return ErrorResponse(settings.error());
  }
  ApiResponse response;
  response.body = SettingsJson(*settings);
  return response;
}

ApiResponse PutSettings(ApiContext& context, const ApiRequest& request) {
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto org_id = RouteOrgId(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  auto settings = context.store.Alerts().GetOrgAlertSettings(*org_id);
  if (!settings.ok()) {
    return ErrorResponse(settings.error());
  }
  if (auto applied = ApplySettings(context, *body, *settings); !applied.ok()) {
    return ErrorResponse(applied.error());
  }
  auto stored = context.store.Alerts().PutOrgAlertSettings(*settings, ActorOf(request),
                                                           context.clock.NowMs());
  if (!stored.ok()) {
    return ErrorResponse(stored.error());
  }
  ApiResponse response;
  response.body = SettingsJson(*stored);
  response.audit_object = "alert settings of organization " + std::to_string(*org_id);
  response.audit_detail = "working " + WorkingDays(stored->work_days) + " " +
                          WorkingHours(*stored) + " " + stored->time_zone + ", after hours " +
                          std::string(ToString(stored->after_hours));
  return response;
}

// ------------------------------------------------------------------ maintenance windows

// Whether the window is on at now_ms, and until when; nullopt when it is not.
Result<std::optional<int64_t>> ActiveUntil(const MaintenanceWindow& window,
                                           std::string_view time_zone, int64_t now_ms) {
  if (window.starts_at_ms && window.ends_at_ms) {
    if (*window.starts_at_ms <= now_ms && now_ms < *window.ends_at_ms) {
      return std::optional<int64_t>(*window.ends_at_ms);
    }
    return std::optional<int64_t>();
  }
  const WeeklySpan span{window.weekdays, window.start_minute, window.duration_minutes};
  return SpanEndingAfter(time_zone, span, now_ms);
}

nlohmann::json WindowJson(const MaintenanceWindow& window, const std::string& hostname,
                          const std::optional<int64_t>& active_until) {
  const bool one_off = window.starts_at_ms.has_value();
  nlohmann::json out = {
      {"id", window.id},
      {"org_id", window.org_id},
      {"agent_id",
       window.agent_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(window.agent_id)},
      {"hostname", window.agent_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(hostname)},
      {"kind", one_off ? "one-off" : "weekly"},
      {"weekdays",
       one_off ? nlohmann::json(nullptr) : nlohmann::json(FormatWeekdays(window.weekdays))},
      {"start",
       one_off ? nlohmann::json(nullptr) : nlohmann::json(FormatMinute(window.start_minute))},
      {"duration_minutes",
       one_off ? nlohmann::json(nullptr) : nlohmann::json(window.duration_minutes)},
      {"reason", window.reason},
      {"created_by", window.created_by},
      {"active_now", active_until.has_value()}};
  PutTime(out, "starts_at", window.starts_at_ms);
  PutTime(out, "ends_at", window.ends_at_ms);
  PutTime(out, "active_until", active_until);
  PutTime(out, "created_at", window.created_at_ms);
  return out;
}

// The organisation's time zone (weekly windows are in it) and its hosts' names by agent id.
struct WindowContext {
  std::string time_zone;
  std::map<std::string, std::string, std::less<>> hostnames;
};

Result<WindowContext> LoadWindowContext(ApiContext& context, int64_t org_id) {
  WindowContext out;
  DOZOR_ASSIGN_OR_RETURN(const OrgAlertSettings settings,
                         context.store.Alerts().GetOrgAlertSettings(org_id));
  out.time_zone = settings.time_zone;
  DOZOR_ASSIGN_OR_RETURN(const std::vector<HostSummary> hosts,
                         context.store.Hosts().ListHosts(org_id));
  for (const auto& host : hosts) out.hostnames.emplace(host.agent_id, host.hostname);
  return out;
}

Result<nlohmann::json> WindowJsonAt(const MaintenanceWindow& window, const WindowContext& where,
                                    int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(const std::optional<int64_t> until,
                         ActiveUntil(window, where.time_zone, now_ms));
  const auto host = where.hostnames.find(window.agent_id);
  return WindowJson(window, host == where.hostnames.end() ? std::string() : host->second, until);
}

ApiResponse ListWindows(ApiContext& context, const ApiRequest& request) {
  auto org_id = RouteOrgId(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  auto where = LoadWindowContext(context, *org_id);
  if (!where.ok()) {
    return ErrorResponse(where.error());
  }
  auto windows = context.store.Alerts().ListMaintenanceWindows(*org_id);
  if (!windows.ok()) {
    return ErrorResponse(windows.error());
  }
  const int64_t now_ms = context.clock.NowMs();
  ApiResponse response;
  response.body["time_zone"] = where->time_zone;  // the zone of the weekly windows
  response.body["windows"] = nlohmann::json::array();
  for (const auto& window : *windows) {
    auto shown = WindowJsonAt(window, *where, now_ms);
    if (!shown.ok()) {
      return ErrorResponse(shown.error());
    }
    response.body["windows"].push_back(std::move(shown).value());
  }
  return response;
}

// A time field of a new window: an RFC 3339 time ("2026-12-06T22:00:00+03:00") or Unix ms.
Result<std::optional<int64_t>> TimeField(const nlohmann::json& body, std::string_view key) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) {
    return std::optional<int64_t>();
  }
  const auto bad = [&] {
    return Invalid("field '" + std::string(key) +
                   "' must be an RFC 3339 time (2026-12-06T22:00:00+03:00, "
                   "2026-12-06T19:00:00Z) or Unix milliseconds");
  };
  if (it->is_string()) {
    const std::string text = Trimmed(it->get<std::string>());
    // A bare date reads as the end of that day in ParseWaiveUntil: ask for the time instead.
    if (text.size() <= 10) return bad();
    auto parsed = ParseWaiveUntil(text);
    if (!parsed.ok()) return bad();
    return std::optional<int64_t>(*parsed);
  }
  auto ms = OptionalInt(body, key, 1, std::numeric_limits<int64_t>::max() / 2);
  if (!ms.ok()) return bad();
  return *ms;
}

Result<MaintenanceWindow> ParseWindow(const nlohmann::json& body, int64_t now_ms) {
  static const std::set<std::string, std::less<>> kFields = {
      "starts_at", "ends_at", "weekdays", "start", "duration_minutes", "agent_id", "reason"};
  for (const auto& [key, unused] : body.items()) {
    if (kFields.count(key) == 0) {
      return Invalid("field '" + key +
                     "' is not a field of a maintenance window (one-off: starts_at, ends_at; "
                     "weekly: weekdays, start, duration_minutes; either: agent_id, reason)");
    }
  }
  MaintenanceWindow window;
  DOZOR_ASSIGN_OR_RETURN(window.starts_at_ms, TimeField(body, "starts_at"));
  DOZOR_ASSIGN_OR_RETURN(window.ends_at_ms, TimeField(body, "ends_at"));
  DOZOR_ASSIGN_OR_RETURN(std::optional<std::string> weekdays, OptionalString(body, "weekdays"));
  DOZOR_ASSIGN_OR_RETURN(std::optional<std::string> start, OptionalString(body, "start"));
  DOZOR_ASSIGN_OR_RETURN(std::optional<int64_t> duration,
                         OptionalInt(body, "duration_minutes", 1, 7 * kMinutesPerDay));
  const bool one_off = window.starts_at_ms || window.ends_at_ms;
  const bool weekly = weekdays || start || duration;
  if (one_off == weekly) {
    return Invalid(one_off ? "a maintenance window is either one-off (starts_at, ends_at) or "
                             "weekly (weekdays, start, duration_minutes), not both"
                           : "give starts_at and ends_at (one-off), or weekdays, start and "
                             "duration_minutes (weekly)");
  }
  if (one_off) {
    if (!window.starts_at_ms || !window.ends_at_ms) {
      return Invalid("a one-off maintenance window needs both starts_at and ends_at");
    }
    if (*window.ends_at_ms <= *window.starts_at_ms) {
      return Invalid("ends_at must be after starts_at");
    }
    if (*window.ends_at_ms <= now_ms) {
      return Invalid("this maintenance window has ended already (ends_at " +
                     IsoUtc(*window.ends_at_ms) + ")");
    }
  } else {
    if (!weekdays || !start || !duration) {
      return Invalid("a weekly maintenance window needs weekdays, start and duration_minutes");
    }
    DOZOR_ASSIGN_OR_RETURN(window.weekdays, ParseWeekdays(*weekdays));
    const auto clock = ClockMinute(Trim(*start));
    if (!clock) {
      return Invalid("field 'start' must be a time of day like 22:00; got '" + Trimmed(*start) +
                     "'");
    }
    window.start_minute = *clock;
    window.duration_minutes = static_cast<int>(*duration);
  }
  DOZOR_ASSIGN_OR_RETURN(std::optional<std::string> agent_id, OptionalString(body, "agent_id"));
  window.agent_id = Trimmed(agent_id.value_or(""));
  if (window.agent_id.size() > kMaxAgentIdChars) {
    return Invalid("agent_id must be at most 128 characters");
  }
  DOZOR_ASSIGN_OR_RETURN(std::optional<std::string> reason, OptionalString(body, "reason"));
  window.reason = Trimmed(reason.value_or(""));
  if (CodePointCount(window.reason) > kMaxReasonChars) {
    return Invalid("reason must be at most 500 characters");
  }
  return window;
}

ApiResponse AddWindow(ApiContext& context, const ApiRequest& request) {
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  const int64_t now_ms = context.clock.NowMs();
  auto window = ParseWindow(*body, now_ms);
  if (!window.ok()) {
    return ErrorResponse(window.error());
  }
  auto org_id = RouteOrgId(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  window->org_id = *org_id;
  window->created_by = ActorOf(request);
  auto where = LoadWindowContext(context, *org_id);
  if (!where.ok()) {
    return ErrorResponse(where.error());
  }
  if (!window->agent_id.empty() && where->hostnames.count(window->agent_id) == 0) {
    return ErrorResponse(400, "invalid_argument",
                         "host '" + window->agent_id + "' is not in this organisation");
  }
  auto added = context.store.Alerts().AddMaintenanceWindow(*window, now_ms);
  if (!added.ok()) {
    return ErrorResponse(added.error());
  }
  auto shown = WindowJsonAt(*added, *where, now_ms);
  if (!shown.ok()) {
    return ErrorResponse(shown.error());
  }
  ApiResponse response;
  response.status = 201;
  response.body = std::move(shown).value();
  response.audit_object = "maintenance window " + std::to_string(added->id);
  response.audit_detail =
      added->agent_id.empty() ? "whole organisation" : "host " + added->agent_id;
  return response;
}

ApiResponse DeleteWindow(ApiContext& context, const ApiRequest& request) {
  auto id = PathId(request, "window");
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  auto org_id = RouteOrgId(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  if (auto removed = context.store.Alerts().DeleteMaintenanceWindow(*org_id, *id); !removed.ok()) {
    if (removed.error().code == ErrorCode::kNotFound) {
      return ErrorResponse(404, "not_found",
                           "maintenance window " + std::to_string(*id) + " not found");
    }
    return ErrorResponse(removed.error());
  }
  ApiResponse response;
  response.body = {{"org_id", *org_id}, {"id", *id}, {"deleted", true}};
  response.audit_object = "maintenance window " + std::to_string(*id);
  return response;
}

}  // namespace

void RegisterAlertRuleRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/api/v1/orgs/{org}/alert-settings", Access::kStaffRead, Scope::Org(),
             [&context](ApiRequest& request) { return ShowSettings(context, request); });
  router.Add("PUT", "/api/v1/orgs/{org}/alert-settings", Access::kWrite, Scope::Org(),
             [&context](ApiRequest& request) { return PutSettings(context, request); });
  router.Add("GET", "/api/v1/orgs/{org}/maintenance", Access::kStaffRead, Scope::Org(),
             [&context](ApiRequest& request) { return ListWindows(context, request); });
  router.Add("POST", "/api/v1/orgs/{org}/maintenance", Access::kWrite, Scope::Org(),
             [&context](ApiRequest& request) { return AddWindow(context, request); });
  router.Add("DELETE", "/api/v1/orgs/{org}/maintenance/{window}", Access::kWrite, Scope::Org(),
             [&context](ApiRequest& request) { return DeleteWindow(context, request); });
}

}  // namespace dozor::server::http
