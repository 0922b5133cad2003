// Resource handlers of the management API, one file per resource. Each Register* function adds
// its routes to the router; handlers run on the HTTP worker threads and call the store
// synchronously.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "domain/failure_throttle.hpp"
#include "dozor/common/clock.hpp"
#include "http/auth.hpp"
#include "http/dashboard_assets.hpp"
#include "http/install_handler.hpp"
#include "http/router.hpp"
#include "ingest/agent_control.hpp"
#include "ingest/security_audit.hpp"
#include "store/store.hpp"

namespace dozor::server::rules {
struct RulePack;
}  // namespace dozor::server::rules

namespace dozor::server::http {

struct ApiContext {
  Store& store;
  AgentControl* agents = nullptr;  // null when ingest is not running (tests, maintenance)
  const Clock& clock;
  std::string grpc_public_address;  // shown in enroll commands, "host:port"
  int64_t offline_after_seconds = 180;
  // Rule titles and texts for findings, the rules routes and reports; null -> those answer 503
  // (findings are still listed, titled by rule id).
  const rules::RulePack* rules = nullptr;
  // Runs or queues an evaluation of one organisation (the app wires it to the evaluator);
  // empty -> POST /orgs/{org}/evaluate answers 503.
  std::function<Status(int64_t org_id)> evaluate_now = nullptr;
  // Installer downloads and the install command printed with new enrollment tokens
  // (http/install_handler.hpp); default: nothing published, no command.
  InstallSettings install;
  // Failed API authentications per client address (ApiRequest::client_address): a client over
  // the limit gets 429 on every authenticated route, its tokens unchecked, until the block ends.
  FailureThrottleOptions auth_throttle = {};
  // Wraps the import key of each new enrollment token and unwraps it to verify an import
  // (domain/import_keys.hpp); null -> tokens are issued without one and imports answer 503.
  const ImportKeyWrapper* import_keys = nullptr;
  // Session lifetimes (http/auth.hpp).
  SessionSettings sessions = {};
  // The web dashboard's files served at / (http/dashboard_handler.hpp); empty: / answers that
  // this build has none.
  std::span<const EmbeddedAsset> dashboard = {};
  // The server's own numbers in Prometheus' text format for GET /metrics (the app renders them:
  // app/metrics.hpp); empty -> /metrics answers 503.
  std::function<Result<std::string>()> metrics = nullptr;
  // Checks the one-time acknowledgement links in alert messages (alerts/ack_link.hpp); empty ->
  // /alert-ack answers 404.
  std::string alert_ack_key;
  // Failed logins: per account (a password guessed slowly from many addresses) and per client
  // address (one address trying many accounts). A blocked login answers 429 with Retry-After.
  FailureThrottleOptions login_account_throttle = {5, 15 * 60'000, 15 * 60'000, 10'000};
  FailureThrottleOptions login_address_throttle = {20, 15 * 60'000, 15 * 60'000, 10'000};
  // Set by ApiService when the server stops: waiting handlers (long-polls) return at once.
  const std::atomic<bool>* stopping = nullptr;
  // Records failed API authentications and refused imports in security_events (aggregated per
  // kind and address, ingest/security_audit.hpp); null: not recorded (tests).
  SecurityAudit* audit = nullptr;
};

void RegisterOrgRoutes(Router& router, ApiContext& context);
void RegisterEnrollmentTokenRoutes(Router& router, ApiContext& context);
void RegisterHostRoutes(Router& router, ApiContext& context);
void RegisterApiTokenRoutes(Router& router, ApiContext& context);
// Refusals of anonymous callers and agents (security_events_handler.cpp), admins only.
void RegisterSecurityEventRoutes(Router& router, ApiContext& context);
void RegisterFindingRoutes(Router& router, ApiContext& context);
void RegisterReportRoutes(Router& router, ApiContext& context);
void RegisterRuleRoutes(Router& router, ApiContext& context);
// Public installer downloads: /install.sh, the server's CA certificate, agent packages.
void RegisterInstallRoutes(Router& router, ApiContext& context);
// One-shot audit files (dozor-agent collect) imported into an organisation.
void RegisterImportRoutes(Router& router, ApiContext& context);
// Login, logout and the caller's own account (/api/v1/auth/*, /api/v1/me).
void RegisterSessionRoutes(Router& router, ApiContext& context);
// The event feed and the estate overview.
void RegisterFeedRoutes(Router& router, ApiContext& context);
// /api/v1/alerts, /api/v1/alert-channels: alerting's record (alerts_handler.cpp).
void RegisterAlertRoutes(Router& router, ApiContext& context);
// /api/v1/orgs/{org}/alert-settings and /maintenance: an organisation's alert rules and
// maintenance windows (alert_rules_handler.cpp).
void RegisterAlertRuleRoutes(Router& router, ApiContext& context);
// GET /metrics: Prometheus text (metrics_handler.cpp).
void RegisterMetricsRoutes(Router& router, ApiContext& context);
// /alert-ack: the one-time acknowledgement link of an alert message (alert_ack_handler.cpp).
void RegisterAlertAckRoutes(Router& router, ApiContext& context);
// User accounts (admins).
void RegisterUserRoutes(Router& router, ApiContext& context);
// Engineers assigned to an organisation, client notes, the audit log.
void RegisterPeopleRoutes(Router& router, ApiContext& context);

// Searches across hosts (hostname, IP, MAC, serial numbers, packages).
void RegisterSearchRoutes(Router& router, ApiContext& context);
// The web dashboard: /, /assets/{file} and the app's client-side routes (a router fallback).
void RegisterDashboardRoutes(Router& router, ApiContext& context);

nlohmann::json OrganizationJson(const Organization& org);
// The JSON of a host as every host route shows it (with its online and connected state).
nlohmann::json HostJson(const ApiContext& context, const HostSummary& host);
// Resolves "{org}" (id or name) to an organisation.
Result<Organization> FindOrg(OrganizationStore& store, std::string_view key);
// The organisation of an {org} route: resolved by the router's scope check, or (for a caller who
// sees every organisation, when it does not exist) looked up here for the handler's own 404.
Result<int64_t> RouteOrgId(ApiContext& context, const ApiRequest& request);
// The "org" query parameter of a listing (id or name), resolved within the caller's scope: an
// organisation outside it is kNotFound with the same words as one that does not exist. nullopt
// when the parameter is absent or empty.
Result<std::optional<int64_t>> ScopedOrgQuery(ApiContext& context, const ApiRequest& request);
// A user by id ("12") or login; kNotFound with the key otherwise.
Result<User> FindUser(UserStore& users, std::string_view key);
// The JSON of an account (never its password).
nlohmann::json UserJson(const User& user);
// The profile fields of a PATCH on an account; `admin` (an admin editing someone's account) also
// allows enabled and role. Strings are trimmed.
Result<UserPatch> ParseUserPatch(const nlohmann::json& body, bool admin);
// Whether the caller may see organisation `org_id` (no caller: a direct call in tests -> yes).
bool CallerSees(const ApiRequest& request, int64_t org_id);
// "lang" query parameter: "en" or "ru"; `fallback` when absent; kInvalidArgument otherwise.
Result<std::string> QueryLang(const ApiRequest& request, std::string_view fallback);
// A waiver's end: "YYYY-MM-DD" (through that UTC day: the next midnight UTC) or RFC 3339
// "2027-01-31T18:00:00+03:00" -> Unix ms; kInvalidArgument otherwise.
Result<int64_t> ParseWaiveUntil(std::string_view text);
// The caller's token name, recorded as the actor of lifecycle changes.
std::string ActorOf(const ApiRequest& request);
// Parses a positive integer path parameter ("{id}").
Result<int64_t> PathId(const ApiRequest& request, std::string_view name);

}  // namespace dozor::server::http
