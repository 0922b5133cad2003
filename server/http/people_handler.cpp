// People around an organisation: its assigned engineers (primary and backups, each with a
// specialty), the client notes every engineer must read before calling the client, and the audit
// log of every change (admins).
#include "http/handlers.hpp"
#include "http/list_paging.hpp"

namespace dozor::server::http {

namespace {

nlohmann::json AssignmentJson(const Assignment& a) {
  nlohmann::json out = {{"org_id", a.org_id},       {"user_id", a.user_id},
                        {"login", a.login},         {"display_name", a.display_name},
                        {"email", a.email},         {"kind", ToString(a.kind)},
                        {"specialty", a.specialty}, {"enabled", a.enabled}};
  PutTime(out, "assigned_at", a.created_at_ms);
  return out;
}

nlohmann::json NoteJson(const NoteVersion& note) {
  nlohmann::json out = {{"id", note.id}, {"text", note.body}, {"author", note.author}};
  out["author_user_id"] =
      note.author_user_id ? nlohmann::json(*note.author_user_id) : nlohmann::json(nullptr);
  PutTime(out, "at", note.created_at_ms);
  return out;
}

ApiResponse ListEngineers(ApiContext& context, const ApiRequest& request) {
  auto org_id = RouteOrgId(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  auto assignments = context.store.Users().ListAssignments(*org_id);
  if (!assignments.ok()) {
    return ErrorResponse(assignments.error());
  }
  ApiResponse response;
  response.body["engineers"] = nlohmann::json::array();
  for (const auto& a : *assignments) {
    response.body["engineers"].push_back(AssignmentJson(a));
  }
  return response;
}

ApiResponse AssignEngineer(ApiContext& context, const ApiRequest& request) {
  auto org_id = RouteOrgId(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  auto body = ParseJsonObject(request.body.empty() ? std::string_view("{}") : request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto kind_text = OptionalString(*body, "kind");
  auto specialty = OptionalString(*body, "specialty");
  if (!kind_text.ok() || !specialty.ok()) {
    return ErrorResponse(!kind_text.ok() ? kind_text.error() : specialty.error());
  }
  const auto kind = ParseAssignmentKind(kind_text->value_or("primary"));
  if (!kind) {
    return ErrorResponse(400, "invalid_argument", "kind must be 'primary' or 'backup'");
  }
  auto user = FindUser(context.store.Users(), request.params.at("user"));
  if (!user.ok()) {
    return ErrorResponse(user.error());
  }
  auto assigned = context.store.Users().AssignEngineer(
      *org_id, user->id, *kind, Trimmed(specialty->value_or("")), context.clock.NowMs());
  if (!assigned.ok()) {
    return ErrorResponse(assigned.error());
  }
  ApiResponse response;
  response.body = AssignmentJson(*assigned);
  response.audit_object = "user " + std::to_string(user->id) + " (" + user->login + ")";
  response.audit_detail = std::string(ToString(*kind)) + " " + assigned->specialty;
  return response;
}

ApiResponse UnassignEngineer(ApiContext& context, const ApiRequest& request) {
  auto org_id = RouteOrgId(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  auto user = FindUser(context.store.Users(), request.params.at("user"));
  if (!user.ok()) {
    return ErrorResponse(user.error());
  }
  if (auto removed = context.store.Users().UnassignEngineer(*org_id, user->id); !removed.ok()) {
    return ErrorResponse(removed.error());
  }
  ApiResponse response;
  response.body = {{"org_id", *org_id}, {"user_id", user->id}, {"unassigned", true}};
  response.audit_object = "user " + std::to_string(user->id) + " (" + user->login + ")";
  return response;
}

ApiResponse ShowNotes(ApiContext& context, const ApiRequest& request) {
  auto org_id = RouteOrgId(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  auto limit = QueryInt(request, "history", 50, 1, 1000);
  if (!limit.ok()) {
    return ErrorResponse(limit.error());
  }
  auto notes = context.store.Users().ListOrgNotes(*org_id, static_cast<int>(*limit));
  if (!notes.ok()) {
    return ErrorResponse(notes.error());
  }
  ApiResponse response;
  response.body["current"] = notes->empty() ? nlohmann::json(nullptr) : NoteJson(notes->front());
  response.body["history"] = nlohmann::json::array();
  for (const auto& note : *notes) {
    response.body["history"].push_back(NoteJson(note));
  }
  return response;
}

ApiResponse SaveNotes(ApiContext& context, const ApiRequest& request) {
  auto org_id = RouteOrgId(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto text = OptionalString(*body, "text");
  if (!text.ok()) {
    return ErrorResponse(text.error());
  }
  if (!text->has_value()) {
    return ErrorResponse(400, "invalid_argument", "field 'text' is required");
  }
  if (!IsValidUtf8(**text)) {
    return ErrorResponse(400, "invalid_argument", "text must be UTF-8");
  }
  const Caller* caller = request.caller ? &*request.caller : nullptr;
  auto saved = context.store.Users().SaveOrgNote(
      *org_id, **text, caller ? caller->user_id : std::nullopt,
      caller ? caller->name : std::string("server"), context.clock.NowMs());
  if (!saved.ok()) {
    return ErrorResponse(saved.error());
  }
  ApiResponse response;
  response.status = 201;
  response.body = NoteJson(*saved);
  response.audit_object = "note version " + std::to_string(saved->id);
  return response;
}

ApiResponse ListAudit(ApiContext& context, const ApiRequest& request) {
  auto query = ParseIdPagedLogQuery(request);
  if (!query.ok()) {
    return ErrorResponse(query.error());
  }
  AuditFilter filter;
  filter.limit = static_cast<int>(query->limit);
  filter.before_id = query->before_id;
  filter.since_ms = query->since_ms;
  filter.until_ms = query->until_ms;
  if (const auto it = request.query.find("actor");
      it != request.query.end() && !it->second.empty()) {
    filter.actor = it->second;
  }
  if (const auto it = request.query.find("action");
      it != request.query.end() && !it->second.empty()) {
    filter.action_prefix = it->second;
  }
  auto org = ScopedOrgQuery(context, request);
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  filter.org_id = *org;
  auto entries = context.store.AuditLog().ListAudit(filter);
  if (!entries.ok()) {
    return ErrorResponse(entries.error());
  }
  ApiResponse response;
  response.body["entries"] = nlohmann::json::array();
  for (const auto& e : *entries) {
    nlohmann::json row = {{"id", e.id},         {"actor", e.actor},   {"via", ToString(e.via)},
                          {"source", e.source}, {"action", e.action}, {"object", e.object},
                          {"status", e.status}, {"detail", e.detail}};
    row["actor_user_id"] =
        e.actor_user_id ? nlohmann::json(*e.actor_user_id) : nlohmann::json(nullptr);
    row["org_id"] = e.org_id ? nlohmann::json(*e.org_id) : nlohmann::json(nullptr);
    PutTime(row, "at", e.at_ms);
    response.body["entries"].push_back(std::move(row));
  }
  // The cursor of the next (older) page; null on the last page.
  response.body["next_before"] =
      NextBeforeJson(entries->size(), query->limit,
                     entries->empty() ? std::nullopt : std::optional<int64_t>(entries->back().id));
  return response;
}

}  // namespace

void RegisterPeopleRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/api/v1/orgs/{org}/engineers", Access::kRead, Scope::Org(),
             [&context](ApiRequest& request) { return ListEngineers(context, request); });
  router.Add("PUT", "/api/v1/orgs/{org}/engineers/{user}", Access::kAdmin, Scope::Org(),
             [&context](ApiRequest& request) { return AssignEngineer(context, request); });
  router.Add("DELETE", "/api/v1/orgs/{org}/engineers/{user}", Access::kAdmin, Scope::Org(),
             [&context](ApiRequest& request) { return UnassignEngineer(context, request); });
  // Notes are the engineers' own knowledge of the client ("the director decides, call before
  // 10:00"): staff only.
  router.Add("GET", "/api/v1/orgs/{org}/notes", Access::kStaffRead, Scope::Org(),
             [&context](ApiRequest& request) { return ShowNotes(context, request); });
  router.Add(
      "PUT", "/api/v1/orgs/{org}/notes", Access::kWrite, Scope::Org(),
      [&context](ApiRequest& request) { return SaveNotes(context, request); },
      RouteLimits{.max_body_bytes = 128 * 1024});
  router.Add("GET", "/api/v1/audit-log", Access::kAdmin, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return ListAudit(context, request); });
}

}  // namespace dozor::server::http
