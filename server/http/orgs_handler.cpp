// /api/v1/orgs: client organisations.
#include <algorithm>
#include <unordered_map>

#include "http/handlers.hpp"
#include "http/list_paging.hpp"
#include "report/readiness_history.hpp"
#include "rules/contract_scope.hpp"
#include "rules/rule.hpp"

namespace dozor::server::http {

namespace {

constexpr size_t kMaxNameChars = 200;
constexpr size_t kMaxEngineerChars = 200;

Status ValidateOrgFields(const std::optional<std::string>& status,
                         const std::optional<std::string>& type,
                         const std::optional<std::string>& engineer) {
  if (status && !ParseContractPhase(*status)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "contract_status must be one of prospect, remediation, active, ended");
  }
  if (type && !ParseContractType(*type)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "contract_type must be one of technical, application, complex");
  }
  if (engineer && CodePointCount(*engineer) > kMaxEngineerChars) {
    return MakeError(ErrorCode::kInvalidArgument, "engineer must be at most 200 characters");
  }
  return OkStatus();
}

// "declared_hosts": absent (nullopt), null (clear: an empty inner optional) or a whole number of
// machines the client says it has.
Result<std::optional<std::optional<int64_t>>> DeclaredHostsField(const nlohmann::json& body) {
  auto it = body.find("declared_hosts");
  if (it == body.end()) {
    return std::optional<std::optional<int64_t>>();
  }
  if (it->is_null()) {
    return std::optional<std::optional<int64_t>>(std::optional<int64_t>());
  }
  if (!it->is_number_integer() || it->get<int64_t>() < 0 ||
      it->get<int64_t>() > kMaxDeclaredHosts) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "declared_hosts must be a whole number 0-1000000 or null");
  }
  return std::optional<std::optional<int64_t>>(it->get<int64_t>());
}

// ?sort= spellings and the store's fields, in the same order.
const std::vector<std::string_view> kOrgSortNames = {"name", "created"};
constexpr OrgSort kOrgSortFields[] = {OrgSort::kName, OrgSort::kCreated};

ApiResponse ListOrgs(ApiContext& context, const ApiRequest& request) {
  auto sort = ParseSort(request, kOrgSortNames, "name");
  if (!sort.ok()) {
    return ErrorResponse(sort.error());
  }
  auto page = ParsePageRequest(request, *sort);
  auto name = QueryText(request, "q");
  auto status = QueryText(request, "contract_status");
  auto type = QueryText(request, "contract_type");
  for (const Error* failure :
       {page.ok() ? nullptr : &page.error(), name.ok() ? nullptr : &name.error(),
        status.ok() ? nullptr : &status.error(), type.ok() ? nullptr : &type.error()}) {
    if (failure != nullptr) {
      return ErrorResponse(*failure);
    }
  }
  if (auto valid = ValidateOrgFields(*status, *type, std::nullopt); !valid.ok()) {
    return ErrorResponse(valid.error());
  }
  OrgQuery query;
  query.name_contains = *name;
  if (status->has_value()) query.contract_status = ParseContractPhase(**status);
  if (type->has_value()) query.contract_type = ParseContractType(**type);
  if (request.caller) {
    query.visible_org_ids = request.caller->VisibleOrgIds();
  }
  query.sort = kOrgSortFields[sort->index];
  query.direction = sort->direction;
  query.page = std::move(page).value();
  auto orgs = context.store.Organizations().QueryOrganizations(query);
  if (!orgs.ok()) {
    return ErrorResponse(orgs.error());
  }
  ApiResponse response;
  response.body["organizations"] = nlohmann::json::array();
  for (const auto& org : orgs->rows) {
    response.body["organizations"].push_back(OrganizationJson(org));
  }
  response.body["next_cursor"] = NextCursorJson(orgs->next, *sort);
  return response;
}

ApiResponse CreateOrg(ApiContext& context, const ApiRequest& request) {
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto name = OptionalString(*body, "name");
  auto status = OptionalString(*body, "contract_status");
  auto type = OptionalString(*body, "contract_type");
  auto engineer = OptionalString(*body, "engineer");
  for (const auto* field : {&name, &status, &type, &engineer}) {
    if (!field->ok()) {
      return ErrorResponse(field->error());
    }
  }
  if (!name->has_value()) {
    return ErrorResponse(400, "invalid_argument", "field 'name' is required");
  }
  auto declared = DeclaredHostsField(*body);
  if (!declared.ok()) {
    return ErrorResponse(declared.error());
  }
  Organization org;
  if (*declared) {
    org.declared_hosts = **declared;
  }
  org.name = Trim(**name);
  if (org.name.empty() || CodePointCount(org.name) > kMaxNameChars) {
    return ErrorResponse(400, "invalid_argument", "name must be 1..200 characters");
  }
  // Paths take an id or a name and try the id first: a name of digits would name another
  // organisation in every /orgs/{org} path.
  if (org.name.find_first_not_of("0123456789") == std::string::npos) {
    return ErrorResponse(400, "invalid_argument",
                         "name cannot be only digits: it would read as an organisation id");
  }
  std::optional<std::string> trimmed_engineer;
  if (engineer->has_value()) {
    trimmed_engineer = Trim(**engineer);
  }
  if (auto valid = ValidateOrgFields(*status, *type, trimmed_engineer); !valid.ok()) {
    return ErrorResponse(valid.error());
  }
  if (status->has_value()) {
    org.contract_status = *ParseContractPhase(**status);
  }
  if (type->has_value()) {
    org.contract_type = *ParseContractType(**type);
  }
  org.engineer = trimmed_engineer.value_or("");
  // Assignments are the admins' to make; the old field is one.
  // Allows(kAdmin), not the role alone: an admin's operator-narrowed token may not assign either.
  if (!org.engineer.empty() && request.caller && !Allows(*request.caller, Access::kAdmin)) {
    return ErrorResponse(403, "forbidden",
                         "only an admin assigns engineers; leave 'engineer' out (you are assigned "
                         "as the primary engineer of an organisation you create)");
  }
  org.created_at_ms = context.clock.NowMs();
  auto created = context.store.Organizations().CreateOrganization(org);
  if (!created.ok()) {
    if (created.error().code == ErrorCode::kAlreadyExists) {
      // Someone who cannot see every organisation learns only that the name is taken, in words
      // that do not confirm a client they could not otherwise see.
      if (request.caller && !request.caller->SeesAllOrgs()) {
        return ErrorResponse(409, "already_exists",
                             "this organisation name cannot be used; choose another");
      }
      return ErrorResponse(409, "already_exists", "organisation '" + org.name + "' already exists");
    }
    return ErrorResponse(created.error());
  }
  ApiResponse response;
  response.status = 201;
  // An engineer who opens a new client works on it: assigned as its primary engineer, otherwise
  // the organisation would vanish from their own view the moment it was made.
  if (request.caller && request.caller->role == UserRole::kEngineer && request.caller->user_id) {
    auto assigned = context.store.Users().AssignEngineer(
        created->id, *request.caller->user_id, AssignmentKind::kPrimary, "", context.clock.NowMs());
    if (!assigned.ok()) {
      return ErrorResponse(assigned.error());
    }
    auto reread = context.store.Organizations().FindOrganization(std::to_string(created->id));
    if (reread.ok()) created = std::move(reread);
  }
  response.body = OrganizationJson(*created);
  response.audit_org_id = created->id;
  response.audit_object = "organization " + std::to_string(created->id);
  return response;
}

ApiResponse ShowOrg(ApiContext& context, const ApiRequest& request) {
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  ApiResponse response;
  response.body = OrganizationJson(*org);
  return response;
}

ApiResponse PatchOrg(ApiContext& context, const ApiRequest& request) {
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  for (const auto& [key, value] : body->items()) {
    if (key != "contract_status" && key != "contract_type" && key != "engineer" &&
        key != "declared_hosts") {
      return ErrorResponse(400, "invalid_argument",
                           "field '" + key +
                               "' cannot be changed (allowed: contract_status, contract_type, "
                               "engineer, declared_hosts)");
    }
  }
  auto declared = DeclaredHostsField(*body);
  if (!declared.ok()) {
    return ErrorResponse(declared.error());
  }
  auto status = OptionalString(*body, "contract_status");
  auto type = OptionalString(*body, "contract_type");
  auto engineer = OptionalString(*body, "engineer");
  for (const auto* field : {&status, &type, &engineer}) {
    if (!field->ok()) {
      return ErrorResponse(field->error());
    }
  }
  OrganizationPatch patch;
  patch.declared_hosts = *declared;
  if (engineer->has_value()) {
    if (request.caller && !Allows(*request.caller, Access::kAdmin)) {
      return ErrorResponse(403, "forbidden",
                           "only an admin assigns engineers (PUT /api/v1/orgs/{org}/engineers/"
                           "{user})");
    }
    patch.engineer = Trim(**engineer);
  }
  if (auto valid = ValidateOrgFields(*status, *type, patch.engineer); !valid.ok()) {
    return ErrorResponse(valid.error());
  }
  if (status->has_value()) {
    patch.contract_status = ParseContractPhase(**status);
  }
  if (type->has_value()) {
    patch.contract_type = ParseContractType(**type);
  }
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  patch.actor = ActorOf(request);
  auto updated = context.store.Organizations().UpdateOrganization(org->id, patch);
  if (!updated.ok()) {
    return ErrorResponse(updated.error());
  }
  ApiResponse response;
  response.body = OrganizationJson(*updated);
  return response;
}

nlohmann::json SnapshotJson(const AuditSnapshot& snapshot) {
  nlohmann::json out = {{"id", snapshot.id},
                        {"kind", snapshot.kind},
                        {"actor", snapshot.actor},
                        {"finding_count", snapshot.findings.size()}};
  PutTime(out, "at", snapshot.at_ms);
  nlohmann::json by_severity = nlohmann::json::object();
  out["findings"] = nlohmann::json::array();
  for (const auto& finding : snapshot.findings) {
    const std::string severity(ToString(finding.severity));
    by_severity[severity] = by_severity.value(severity, 0) + 1;
    out["findings"].push_back({{"rule_id", finding.rule_id},
                               {"target", finding.target},
                               {"agent_id", finding.agent_id},
                               {"hostname", finding.hostname},
                               {"object", finding.object},
                               {"severity", finding.severity},
                               {"state", finding.state}});
  }
  out["by_severity"] = std::move(by_severity);
  return out;
}

Result<nlohmann::json> OptionalSnapshotJson(OrganizationStore& store, int64_t org_id,
                                            AuditSnapshotKind kind) {
  DOZOR_ASSIGN_OR_RETURN(std::optional<AuditSnapshot> snapshot,
                         store.GetAuditSnapshot(org_id, kind));
  return snapshot.has_value() ? SnapshotJson(*snapshot) : nlohmann::json(nullptr);
}

// The contract lifecycle of one organisation: current phase, every move, and the baselines the
// audit report compares against.
ApiResponse ContractResponse(ApiContext& context, const Organization& org) {
  auto events = context.store.Organizations().ListContractEvents(org.id);
  if (!events.ok()) {
    return ErrorResponse(events.error());
  }
  auto first_audit =
      OptionalSnapshotJson(context.store.Organizations(), org.id, AuditSnapshotKind::kFirstAudit);
  if (!first_audit.ok()) {
    return ErrorResponse(first_audit.error());
  }
  auto signing =
      OptionalSnapshotJson(context.store.Organizations(), org.id, AuditSnapshotKind::kSigning);
  if (!signing.ok()) {
    return ErrorResponse(signing.error());
  }
  ApiResponse response;
  response.body = {{"org_id", org.id},
                   {"org", org.name},
                   {"status", org.contract_status},
                   {"type", org.contract_type},
                   {"first_audit", std::move(first_audit).value()},
                   {"signing", std::move(signing).value()}};
  response.body["events"] = nlohmann::json::array();
  for (const auto& event : *events) {
    nlohmann::json item = {
        {"actor", event.actor}, {"from_status", event.from_status}, {"to_status", event.to_status}};
    PutTime(item, "at", event.at_ms);
    response.body["events"].push_back(std::move(item));
  }
  return response;
}

ApiResponse ShowContract(ApiContext& context, const ApiRequest& request) {
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  return ContractResponse(context, *org);
}

ApiResponse MoveContract(ApiContext& context, const ApiRequest& request) {
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto status = OptionalString(*body, "status");
  if (!status.ok()) {
    return ErrorResponse(status.error());
  }
  if (!status->has_value()) {
    return ErrorResponse(400, "invalid_argument", "field 'status' is required");
  }
  if (auto valid = ValidateOrgFields(*status, std::nullopt, std::nullopt); !valid.ok()) {
    return ErrorResponse(valid.error());
  }
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  OrganizationPatch patch;
  patch.contract_status = ParseContractPhase(**status);
  patch.actor = ActorOf(request);
  auto updated = context.store.Organizations().UpdateOrganization(org->id, patch);
  if (!updated.ok()) {
    return ErrorResponse(updated.error());
  }
  return ContractResponse(context, *updated);
}

ApiResponse RecordSnapshot(ApiContext& context, const ApiRequest& request) {
  auto body = request.body.empty() ? Result<nlohmann::json>(nlohmann::json::object())
                                   : ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  auto kind = OptionalString(*body, "kind");
  if (!kind.ok()) {
    return ErrorResponse(kind.error());
  }
  const std::optional<AuditSnapshotKind> chosen =
      ParseAuditSnapshotKind(kind->value_or("first-audit"));
  if (!chosen) {
    return ErrorResponse(400, "invalid_argument", "kind must be first-audit or signing");
  }
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  auto snapshot = context.store.Organizations().RecordAuditSnapshot(
      org->id, *chosen, ActorOf(request), context.clock.NowMs());
  if (!snapshot.ok()) {
    return ErrorResponse(snapshot.error());
  }
  ApiResponse response;
  response.status = 201;
  response.body = SnapshotJson(*snapshot);
  return response;
}

ApiResponse EvaluateOrg(ApiContext& context, const ApiRequest& request) {
  if (!context.evaluate_now) {
    return ErrorResponse(503, "unavailable", "rule evaluation is not running on this server");
  }
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  if (auto status = context.evaluate_now(org->id); !status.ok()) {
    return ErrorResponse(status.error());
  }
  ApiResponse response;
  response.status = 200;  // the evaluation has run when this returns
  response.body = {{"org_id", org->id}, {"org", org->name}, {"status", "evaluated"}};
  return response;
}

// The readiness score from the first audit to now, at daily points (report/readiness_history.hpp).
ApiResponse ReadinessRoute(ApiContext& context, const ApiRequest& request) {
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  auto trend =
      report::BuildReadinessTrend(context.store, context.rules, *org, context.clock.NowMs());
  if (!trend.ok()) {
    return ErrorResponse(trend.error());
  }
  const auto& points = trend->points;
  ApiResponse response;
  response.body["org_id"] = org->id;
  // The store reads at most kMaxFindingTimelines findings (the oldest): say so rather than draw a
  // past that silently leaves the rest out.
  response.body["partial"] = trend->partial;
  PutTime(response.body, "first_audit_at", trend->first_audit_at_ms);
  response.body["points"] = nlohmann::json::array();
  for (const auto& point : points) {
    nlohmann::json item = {{"score", point.score}, {"active_findings", point.active_findings}};
    PutTime(item, "at", point.at_ms);
    response.body["points"].push_back(std::move(item));
  }
  return response;
}

}  // namespace

nlohmann::json OrganizationJson(const Organization& org) {
  nlohmann::json out = {{"id", org.id},
                        {"name", org.name},
                        {"contract_status", org.contract_status},
                        {"contract_type", org.contract_type},
                        {"engineer", org.engineer},
                        {"host_count", org.host_count}};
  out["declared_hosts"] = org.declared_hosts ? nlohmann::json(*org.declared_hosts) : nullptr;
  PutTime(out, "created_at", org.created_at_ms);
  return out;
}

Result<Organization> FindOrg(OrganizationStore& store, std::string_view key) {
  if (key.empty() || key.size() > 1000) {
    return MakeError(ErrorCode::kNotFound, "organisation not found");
  }
  auto org = store.FindOrganization(key);
  if (!org.ok() && org.error().code == ErrorCode::kNotFound) {
    return MakeError(ErrorCode::kNotFound, "organisation '" + std::string(key) + "' not found");
  }
  return org;
}

Result<int64_t> RouteOrgId(ApiContext& context, const ApiRequest& request) {
  if (request.scope_org_id) {
    return *request.scope_org_id;
  }
  DOZOR_ASSIGN_OR_RETURN(auto org,
                         FindOrg(context.store.Organizations(), request.params.at("org")));
  return org.id;
}

Result<std::optional<int64_t>> ScopedOrgQuery(ApiContext& context, const ApiRequest& request) {
  const auto it = request.query.find("org");
  if (it == request.query.end() || it->second.empty()) {
    return std::optional<int64_t>();
  }
  auto org = FindOrg(context.store.Organizations(), it->second);
  if (!org.ok()) {
    return org.error();
  }
  if (!CallerSees(request, org->id)) {
    // The words FindOrg uses for an organisation that does not exist.
    return MakeError(ErrorCode::kNotFound, "organisation '" + it->second + "' not found");
  }
  return std::optional<int64_t>(org->id);
}

bool CallerSees(const ApiRequest& request, int64_t org_id) {
  return !request.caller || request.caller->CanSeeOrg(org_id);
}

Result<int64_t> PathId(const ApiRequest& request, std::string_view name) {
  const auto it = request.params.find(name);
  if (it == request.params.end() || it->second.empty() || it->second.size() > 18) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(name) + " must be a positive integer");
  }
  int64_t value = 0;
  for (const char c : it->second) {
    if (c < '0' || c > '9') {
      return MakeError(ErrorCode::kInvalidArgument,
                       std::string(name) + " must be a positive integer");
    }
    value = value * 10 + (c - '0');
  }
  if (value <= 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(name) + " must be a positive integer");
  }
  return value;
}

void RegisterOrgRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/api/v1/orgs", Access::kRead, Scope::List(),
             [&context](ApiRequest& request) { return ListOrgs(context, request); });
  router.Add("POST", "/api/v1/orgs", Access::kWrite, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return CreateOrg(context, request); });
  router.Add("GET", "/api/v1/orgs/{org}", Access::kRead, Scope::Org(),
             [&context](ApiRequest& request) { return ShowOrg(context, request); });
  router.Add("PATCH", "/api/v1/orgs/{org}", Access::kWrite, Scope::Org(),
             [&context](ApiRequest& request) { return PatchOrg(context, request); });
  router.Add("GET", "/api/v1/orgs/{org}/contract", Access::kRead, Scope::Org(),
             [&context](ApiRequest& request) { return ShowContract(context, request); });
  router.Add("POST", "/api/v1/orgs/{org}/contract", Access::kWrite, Scope::Org(),
             [&context](ApiRequest& request) { return MoveContract(context, request); });
  router.Add("POST", "/api/v1/orgs/{org}/snapshots", Access::kWrite, Scope::Org(),
             [&context](ApiRequest& request) { return RecordSnapshot(context, request); });
  // Rebuilt from the organisation's whole finding history at up to 400 points: the slow pool.
  router.Add(
      "GET", "/api/v1/orgs/{org}/readiness", Access::kRead, Scope::Org(),
      [&context](ApiRequest& request) { return ReadinessRoute(context, request); },
      RouteLimits{.cost = RouteCost::kSlow});
  // Evaluating a whole organisation takes up to a few hundred ms: the slow pool, not a worker
  // that small reads wait for.
  router.Add(
      "POST", "/api/v1/orgs/{org}/evaluate", Access::kWrite, Scope::Org(),
      [&context](ApiRequest& request) { return EvaluateOrg(context, request); },
      RouteLimits{.cost = RouteCost::kSlow});
}

}  // namespace dozor::server::http
