// /api/v1/security-events: what anonymous callers and agents were refused (enrollments, agent
// secrets, API tokens, imports, throttling), as the server recorded it (ingest/security_audit.hpp):
// one row per kind and caller for a burst, with the count it stands for. Estate-wide and about
// callers that are nobody's client yet, so for admins only. Newest recorded first, one page at a
// time (?before= the last id of the page before).
#include <algorithm>
#include <string>

#include "http/handlers.hpp"
#include "http/list_paging.hpp"

namespace dozor::server::http {

namespace {

Result<std::vector<SecurityEventKind>> ParseKinds(const ApiRequest& request) {
  DOZOR_ASSIGN_OR_RETURN(auto names, QueryList(request, "kind"));
  std::vector<SecurityEventKind> kinds;
  for (const auto& name : names) {
    const auto kind = SecurityEventKindFromName(name);
    if (!kind) {
      std::string allowed;
      for (const SecurityEventKind known : kSecurityEventKinds) {
        allowed += std::string(allowed.empty() ? "" : ", ") + SecurityEventKindName(known);
      }
      return MakeError(ErrorCode::kInvalidArgument,
                       "kind: unknown security event kind '" + name + "' (one of " + allowed + ")");
    }
    if (std::find(kinds.begin(), kinds.end(), *kind) == kinds.end()) kinds.push_back(*kind);
  }
  return kinds;
}

ApiResponse ListSecurityEvents(ApiContext& context, const ApiRequest& request) {
  auto query = ParseIdPagedLogQuery(request);
  if (!query.ok()) {
    return ErrorResponse(query.error());
  }
  auto kinds = ParseKinds(request);
  if (!kinds.ok()) {
    return ErrorResponse(kinds.error());
  }
  SecurityEventFilter filter;
  filter.limit = static_cast<size_t>(query->limit);
  filter.since_ms = query->since_ms.value_or(0);
  filter.until_ms = query->until_ms;
  filter.before_id = query->before_id;
  filter.kinds = std::move(*kinds);
  auto events = context.store.SecurityEvents().ListSecurityEvents(filter);
  if (!events.ok()) {
    return ErrorResponse(events.error());
  }
  ApiResponse response;
  response.body["events"] = nlohmann::json::array();
  for (const auto& event : *events) {
    // source, subject and detail were escaped when recorded (hostile callers choose them).
    nlohmann::json row = {{"id", event.id},         {"kind", SecurityEventKindName(event.kind)},
                          {"source", event.source}, {"subject", event.subject},
                          {"detail", event.detail}, {"count", event.count}};
    PutTime(row, "at", event.at_ms);
    response.body["events"].push_back(std::move(row));
  }
  response.body["next_before"] =
      NextBeforeJson(events->size(), query->limit,
                     events->empty() ? std::nullopt : std::optional<int64_t>(events->back().id));
  return response;
}

}  // namespace

void RegisterSecurityEventRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/api/v1/security-events", Access::kAdmin, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return ListSecurityEvents(context, request); });
}

}  // namespace dozor::server::http
