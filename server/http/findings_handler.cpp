// /api/v1/findings: what the rules found, and the lifecycle people drive (acknowledge, waive,
// unwaive, comment). State changes made by the rules themselves happen in the evaluator.
#include <algorithm>
#include <ctime>
#include <limits>

#include "dozor/common/civil_time.hpp"
#include "dozor/common/rfc3339.hpp"
#include "http/handlers.hpp"
#include "http/list_paging.hpp"
#include "rules/rule.hpp"

namespace dozor::server::http {

namespace {

// ?sort= spellings and the store's fields, in the same order.
const std::vector<std::string_view> kFindingSortNames = {"severity", "opened", "last_seen", "host"};
constexpr FindingSort kFindingSortFields[] = {FindingSort::kSeverity, FindingSort::kOpened,
                                              FindingSort::kLastSeen, FindingSort::kHost};
constexpr int64_t kMsPerDay = 86'400'000;

constexpr std::string_view kStates[] = {"open", "acknowledged", "regressed", "waived", "resolved"};
constexpr std::string_view kSeverities[] = {"critical", "high", "medium", "low", "info"};

template <size_t N>
bool OneOf(std::string_view value, const std::string_view (&allowed)[N]) {
  return std::find(std::begin(allowed), std::end(allowed), value) != std::end(allowed);
}

template <size_t N>
std::string JoinAllowed(const std::string_view (&allowed)[N]) {
  std::string out;
  for (const auto item : allowed) {
    if (!out.empty()) {
      out += ", ";
    }
    out += item;
  }
  return out;
}

// "a,b , c" -> {"a", "b", "c"}; each item must be one of `allowed`.
template <size_t N>
Result<std::vector<std::string>> CommaList(std::string_view text, std::string_view key,
                                           const std::string_view (&allowed)[N]) {
  DOZOR_ASSIGN_OR_RETURN(std::vector<std::string> items, SplitQueryList(text, key));
  for (const auto& item : items) {
    if (!OneOf(item, allowed)) {
      return MakeError(ErrorCode::kInvalidArgument, "query parameter '" + std::string(key) +
                                                        "' takes " + JoinAllowed(allowed) +
                                                        "; got '" + item + "'");
    }
  }
  return items;
}

nlohmann::json ParsedEvidence(const std::string& evidence_json) {
  if (evidence_json.empty()) {
    return nlohmann::json::array();
  }
  nlohmann::json parsed = nlohmann::json::parse(evidence_json, nullptr, /*allow_exceptions=*/false);
  // Stored evidence is written by the server; if it is ever unreadable show it as text.
  return parsed.is_discarded() ? nlohmann::json(evidence_json) : parsed;
}

const rules::Rule* RuleFor(const ApiContext& context, std::string_view rule_id) {
  return context.rules == nullptr ? nullptr : context.rules->Find(rule_id);
}

nlohmann::json FindingJson(const ApiContext& context, const Finding& finding,
                           std::string_view lang) {
  const rules::Rule* rule = RuleFor(context, finding.rule_id);
  nlohmann::json out = {{"id", finding.id},
                        {"rule_id", finding.rule_id},
                        {"title", rule != nullptr ? rule->title.In(lang) : finding.rule_id},
                        {"severity", finding.severity},
                        {"category", finding.category},
                        {"state", finding.state},
                        {"org_id", finding.org_id},
                        {"org", finding.org_name},
                        {"target", finding.target},
                        {"object", finding.object},
                        {"evidence", ParsedEvidence(finding.evidence_json)},
                        {"ack_by", finding.ack_by},
                        {"ack_comment", finding.ack_comment},
                        {"waived_by", finding.waived_by},
                        {"waive_reason", finding.waive_reason},
                        {"regressions", finding.regressions}};
  out["host"] = finding.agent_id.empty() ? nlohmann::json(nullptr)
                                         : nlohmann::json{{"agent_id", finding.agent_id},
                                                          {"hostname", finding.hostname}};
  PutTime(out, "first_seen", finding.first_seen_ms);
  PutTime(out, "last_seen", finding.last_seen_ms);
  PutTime(out, "state_changed", finding.state_changed_ms);
  PutTime(out, "resolved_at", finding.resolved_at_ms);
  PutTime(out, "waived_until", finding.waived_until_ms);
  // A pending "fixed — please verify": who asked and when (null when none is pending).
  out["verify_requested_by"] = finding.verify_requested_at_ms
                                   ? nlohmann::json(finding.verify_requested_by)
                                   : nlohmann::json(nullptr);
  PutTime(out, "verify_requested_at", finding.verify_requested_at_ms);
  return out;
}

nlohmann::json EventJson(const FindingEvent& event) {
  nlohmann::json out = {{"id", event.id},
                        {"kind", event.kind},
                        {"actor", event.actor},
                        {"from_state", event.from_state ? ToString(*event.from_state) : ""},
                        {"to_state", event.to_state},
                        {"comment", event.comment}};
  PutTime(out, "at", event.at_ms);
  return out;
}

ApiResponse FindingError(const Error& error, int64_t id) {
  if (error.code == ErrorCode::kNotFound) {
    return ErrorResponse(404, "not_found", "finding " + std::to_string(id) + " not found");
  }
  return ErrorResponse(error);
}

ApiResponse ListFindingsRoute(ApiContext& context, const ApiRequest& request) {
  auto lang = QueryLang(request, "en");
  if (!lang.ok()) {
    return ErrorResponse(lang.error());
  }
  auto sort = ParseSort(request, kFindingSortNames, "severity");
  if (!sort.ok()) {
    return ErrorResponse(sort.error());
  }
  auto page = ParsePageRequest(request, *sort);
  if (!page.ok()) {
    return ErrorResponse(page.error());
  }
  auto since = QueryInt(request, "since", 0, 0, std::numeric_limits<int64_t>::max() / 2);
  if (!since.ok()) {
    return ErrorResponse(since.error());
  }
  FindingQuery query;
  query.sort = kFindingSortFields[sort->index];
  query.direction = sort->direction;
  query.page = std::move(page).value();
  if (*since > 0) {
    query.last_seen_since_ms = *since;
  }
  FindingFilter& filter = query.filter;
  auto org = ScopedOrgQuery(context, request);
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  filter.org_id = *org;
  if (request.caller) {
    filter.visible_org_ids = request.caller->VisibleOrgIds();
  }
  if (const auto it = request.query.find("host");
      it != request.query.end() && !it->second.empty()) {
    if (it->second.size() > kMaxFilterBytes) {
      return ErrorResponse(400, "invalid_argument", "query parameter 'host' is too long");
    }
    filter.agent_id = it->second;
  }
  if (const auto it = request.query.find("rule");
      it != request.query.end() && !it->second.empty()) {
    if (it->second.size() > kMaxFilterBytes) {
      return ErrorResponse(400, "invalid_argument", "query parameter 'rule' is too long");
    }
    filter.rule_id = it->second;
  }
  const auto state = request.query.find("state");
  if (state == request.query.end() || state->second.empty()) {
    filter.states.assign(std::begin(kActiveFindingStates), std::end(kActiveFindingStates));
  } else if (state->second != "all") {
    auto states = CommaList(state->second, "state", kStates);
    if (!states.ok()) {
      return ErrorResponse(400, "invalid_argument", states.error().message + " (or all)");
    }
    for (const auto& text : *states) {
      filter.states.push_back(*ParseFindingState(text));  // CommaList checked the spelling
    }
  }
  if (const auto it = request.query.find("severity");
      it != request.query.end() && !it->second.empty()) {
    auto severities = CommaList(it->second, "severity", kSeverities);
    if (!severities.ok()) {
      return ErrorResponse(severities.error());
    }
    for (const auto& text : *severities) {
      filter.severities.push_back(*ParseSeverity(text));  // CommaList checked the spelling
    }
  }
  // Any category may be asked for (a rule pack may add one); an unknown one matches nothing.
  auto categories = QueryList(request, "category");
  if (!categories.ok()) {
    return ErrorResponse(categories.error());
  }
  filter.categories = std::move(categories).value();
  auto engineer = QueryText(request, "engineer");
  if (!engineer.ok()) {
    return ErrorResponse(engineer.error());
  }
  ApiResponse response;
  response.body["findings"] = nlohmann::json::array();
  if (*engineer) {
    // A filter, not a lookup: an unknown engineer is an empty list, like a rule that never fired.
    // The caller's own scope (visible_org_ids) still applies, so naming another engineer never
    // shows more than the caller may see.
    auto user = FindUser(context.store.Users(), **engineer);
    if (!user.ok() && user.error().code != ErrorCode::kNotFound) {
      return ErrorResponse(user.error());
    }
    if (!user.ok()) {
      response.body["next_cursor"] = nullptr;
      return response;
    }
    filter.assigned_user_id = user->id;
  }
  auto findings = context.store.Findings().QueryFindings(query);
  if (!findings.ok()) {
    return ErrorResponse(findings.error());
  }
  for (const auto& finding : findings->rows) {
    response.body["findings"].push_back(FindingJson(context, finding, *lang));
  }
  response.body["next_cursor"] = NextCursorJson(findings->next, *sort);
  return response;
}

ApiResponse ShowFindingRoute(ApiContext& context, const ApiRequest& request) {
  auto lang = QueryLang(request, "en");
  if (!lang.ok()) {
    return ErrorResponse(lang.error());
  }
  auto id = PathId(request, "id");
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  auto finding = context.store.Findings().GetFinding(*id);
  if (!finding.ok()) {
    return FindingError(finding.error(), *id);
  }
  auto events = context.store.Findings().ListFindingEvents(*id);
  if (!events.ok()) {
    return FindingError(events.error(), *id);
  }
  ApiResponse response;
  response.body["finding"] = FindingJson(context, *finding, *lang);
  response.body["events"] = nlohmann::json::array();
  for (const auto& event : *events) {
    response.body["events"].push_back(EventJson(event));
  }
  const rules::Rule* rule = RuleFor(context, finding->rule_id);
  response.body["rule"] =
      rule == nullptr ? nlohmann::json(nullptr)
                      : nlohmann::json{{"id", rule->id},
                                       {"title", rule->title.In(*lang)},
                                       {"why", rule->why.In(*lang)},
                                       {"remediation", rule->remediation.In(*lang)},
                                       {"effort_hours", rule->effort_hours},
                                       {"effort", rules::FormatEffort(rule->effort_hours, *lang)},
                                       {"evidence_template", rule->evidence_template.In(*lang)},
                                       {"contracts", rule->contracts},
                                       {"scope", std::string(rules::RuleScopeName(rule->scope))}};
  return response;
}

// Parses the body and reads one string field, trimmed. `required` rejects absent or blank.
Result<std::string> TextField(const nlohmann::json& body, std::string_view key, bool required) {
  DOZOR_ASSIGN_OR_RETURN(std::optional<std::string> value, OptionalString(body, key));
  std::string text = value.has_value() ? Trimmed(*value) : std::string();
  if (required && text.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "field '" + std::string(key) + "' is required");
  }
  if (text.size() > kMaxFindingCommentBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field '" + std::string(key) + "' must be at most " +
                         std::to_string(kMaxFindingCommentBytes) + " bytes");
  }
  return text;
}

bool ParseDigits(std::string_view text, size_t pos, size_t count, int& out) {
  if (pos + count > text.size()) {
    return false;
  }
  int value = 0;
  for (size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return false;
    }
    value = value * 10 + (text[i] - '0');
  }
  out = value;
  return true;
}

}  // namespace

// "YYYY-MM-DD" (the waiver lasts through that UTC day, so it ends at the next midnight UTC),
// "YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)" (RFC 3339) -> Unix ms.
Result<int64_t> ParseWaiveUntil(std::string_view text) {
  const auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'until' must be YYYY-MM-DD, an RFC 3339 time or Unix milliseconds; "
                     "got '" +
                         std::string(text.substr(0, 64)) + "'");
  };
  int year = 0;
  int month = 0;
  int day = 0;
  if (text.size() < 10 || !ParseDigits(text, 0, 4, year) || text[4] != '-' ||
      !ParseDigits(text, 5, 2, month) || text[7] != '-' || !ParseDigits(text, 8, 2, day)) {
    return bad();
  }
  if (!IsValidCivilDate(year, month, day)) {
    return bad();
  }
  const int64_t days = DaysFromCivil(year, month, day);
  if (text.size() == 10) {
    return (days + 1) * kMsPerDay;
  }
  if (auto at = ParseRfc3339Ms(text)) {
    return *at;
  }
  return bad();
}

namespace {

// "until": absent/null, a string (see ParseWaiveUntil) or Unix ms; must be in the future.
Result<std::optional<int64_t>> WaiveUntil(const nlohmann::json& body, int64_t now_ms) {
  const auto it = body.find("until");
  if (it == body.end() || it->is_null()) {
    return std::optional<int64_t>();
  }
  int64_t until = 0;
  if (it->is_string()) {
    DOZOR_ASSIGN_OR_RETURN(until, ParseWaiveUntil(it->get<std::string>()));
  } else {
    DOZOR_ASSIGN_OR_RETURN(std::optional<int64_t> ms,
                           OptionalInt(body, "until", 1, std::numeric_limits<int64_t>::max()));
    until = ms.value_or(0);
  }
  if (until <= now_ms) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'until' must be in the future (got " + IsoUtc(until) + ")");
  }
  return std::optional<int64_t>(until);
}

// "Fixed — please verify": asks the finding's host (an estate-wide finding: every connected host
// of its organisation) for an inventory now. What happened, for the caller: "requested" or
// "pending" (not connected: decided at the host's next inventory).
std::string AskForFreshCollection(ApiContext& context, const Finding& finding) {
  std::vector<std::string> agents;
  if (!finding.agent_id.empty()) {
    agents.push_back(finding.agent_id);
  } else if (auto hosts = context.store.Hosts().ListHosts(finding.org_id); hosts.ok()) {
    for (const auto& host : *hosts) {
      if (!host.revoked) agents.push_back(host.agent_id);
    }
  }
  int asked = 0;
  for (const auto& agent : agents) {
    if (context.agents == nullptr || !context.agents->IsConnected(agent)) continue;
    dozor::v1::Command command;
    command.mutable_collect_inventory();
    if (context.agents->SendCommand(agent, std::move(command)).ok()) ++asked;
  }
  return asked > 0 ? "requested" : "pending";
}

enum class Action { kAcknowledge, kWaive, kUnwaive, kComment, kVerify, kAcceptWaiver };

ApiResponse ChangeFindingRoute(ApiContext& context, const ApiRequest& request, Action action) {
  auto id = PathId(request, "id");
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  auto lang = QueryLang(request, "en");
  if (!lang.ok()) {
    return ErrorResponse(lang.error());
  }
  auto body = request.body.empty() ? Result<nlohmann::json>(nlohmann::json::object())
                                   : ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  const int64_t now = context.clock.NowMs();
  const std::string actor = ActorOf(request);
  Result<Finding> changed = MakeError(ErrorCode::kInternal, "no action");
  switch (action) {
    case Action::kAcknowledge: {
      auto comment = TextField(*body, "comment", /*required=*/false);
      if (!comment.ok()) {
        return ErrorResponse(comment.error());
      }
      changed = context.store.Findings().AcknowledgeFinding(*id, actor, *comment, now);
      break;
    }
    case Action::kWaive: {
      auto reason = TextField(*body, "reason", /*required=*/true);
      if (!reason.ok()) {
        return ErrorResponse(reason.error());
      }
      auto until = WaiveUntil(*body, now);
      if (!until.ok()) {
        return ErrorResponse(until.error());
      }
      changed = context.store.Findings().WaiveFinding(*id, actor, *reason, *until, now);
      break;
    }
    case Action::kUnwaive: {
      auto comment = TextField(*body, "comment", /*required=*/false);
      if (!comment.ok()) {
        return ErrorResponse(comment.error());
      }
      changed = context.store.Findings().UnwaiveFinding(*id, actor, *comment, now);
      break;
    }
    case Action::kComment: {
      auto comment = TextField(*body, "comment", /*required=*/true);
      if (!comment.ok()) {
        return ErrorResponse(comment.error());
      }
      changed = context.store.Findings().CommentFinding(*id, actor, *comment, now);
      break;
    }
    case Action::kVerify: {
      auto comment = TextField(*body, "comment", /*required=*/false);
      if (!comment.ok()) {
        return ErrorResponse(comment.error());
      }
      changed = context.store.Findings().RequestVerification(*id, actor, *comment, now);
      break;
    }
    case Action::kAcceptWaiver: {
      // The client's named person accepts the risk for the client; an engineer cannot do it on
      // the client's behalf.
      if (request.caller && request.caller->role != UserRole::kClient) {
        return ErrorResponse(403, "forbidden",
                             "a waiver is accepted by the client's own account, not by staff");
      }
      auto comment = TextField(*body, "comment", /*required=*/false);
      if (!comment.ok()) {
        return ErrorResponse(comment.error());
      }
      changed = context.store.Findings().AcceptWaiver(*id, actor, *comment, now);
      break;
    }
  }
  if (!changed.ok()) {
    return FindingError(changed.error(), *id);
  }
  ApiResponse response;
  response.body = FindingJson(context, *changed, *lang);
  if (action == Action::kVerify) {
    response.status = 202;
    response.body["collection"] = AskForFreshCollection(context, *changed);
  }
  return response;
}

}  // namespace

Result<std::string> QueryLang(const ApiRequest& request, std::string_view fallback) {
  const auto it = request.query.find("lang");
  if (it == request.query.end() || it->second.empty()) {
    return std::string(fallback);
  }
  if (it->second != "en" && it->second != "ru") {
    return MakeError(ErrorCode::kInvalidArgument, "query parameter 'lang' must be en or ru");
  }
  return it->second;
}

std::string ActorOf(const ApiRequest& request) {
  return request.caller.has_value() && !request.caller->name.empty() ? request.caller->name
                                                                     : std::string("api");
}

void RegisterFindingRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/api/v1/findings", Access::kRead, Scope::List(),
             [&context](ApiRequest& request) { return ListFindingsRoute(context, request); });
  router.Add("GET", "/api/v1/findings/{id}", Access::kRead, Scope::OfFinding(),
             [&context](ApiRequest& request) { return ShowFindingRoute(context, request); });
  router.Add("POST", "/api/v1/findings/{id}/ack", Access::kWrite, Scope::OfFinding(),
             [&context](ApiRequest& request) {
               return ChangeFindingRoute(context, request, Action::kAcknowledge);
             });
  router.Add("POST", "/api/v1/findings/{id}/waive", Access::kWrite, Scope::OfFinding(),
             [&context](ApiRequest& request) {
               return ChangeFindingRoute(context, request, Action::kWaive);
             });
  router.Add("POST", "/api/v1/findings/{id}/unwaive", Access::kWrite, Scope::OfFinding(),
             [&context](ApiRequest& request) {
               return ChangeFindingRoute(context, request, Action::kUnwaive);
             });
  router.Add("POST", "/api/v1/findings/{id}/verify", Access::kClientAction, Scope::OfFinding(),
             [&context](ApiRequest& request) {
               return ChangeFindingRoute(context, request, Action::kVerify);
             });
  router.Add("POST", "/api/v1/findings/{id}/accept-waiver", Access::kClientAction,
             Scope::OfFinding(), [&context](ApiRequest& request) {
               return ChangeFindingRoute(context, request, Action::kAcceptWaiver);
             });
  router.Add("POST", "/api/v1/findings/{id}/comments", Access::kClientAction, Scope::OfFinding(),
             [&context](ApiRequest& request) {
               return ChangeFindingRoute(context, request, Action::kComment);
             });
}

}  // namespace dozor::server::http
