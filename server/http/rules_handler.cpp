// /api/v1/rules: the loaded rule pack (built-in rules plus overrides) and the files that failed
// to load, so an engineer can check a new rule without reading the server log.
#include "http/handlers.hpp"
#include "rules/rule.hpp"

namespace dozor::server::http {

namespace {

nlohmann::json ParamJson(const rules::ParamValue& value) {
  return std::visit([](const auto& item) { return nlohmann::json(item); }, value);
}

nlohmann::json RuleSummaryJson(const rules::Rule& rule, std::string_view lang) {
  return {{"id", rule.id},
          {"title", rule.title.In(lang)},
          {"severity", rule.severity},
          {"category", rule.category},
          {"scope", std::string(rules::RuleScopeName(rule.scope))},
          {"contracts", rule.contracts},
          {"effort_hours", rule.effort_hours},
          {"effort", rules::FormatEffort(rule.effort_hours, lang)},
          {"source", rule.source},
          {"builtin", rule.builtin},
          {"enabled", rule.enabled}};
}

ApiResponse NoRules() {
  return ErrorResponse(503, "unavailable", "rules are not loaded on this server");
}

ApiResponse ListRulesRoute(ApiContext& context, const ApiRequest& request) {
  if (context.rules == nullptr) {
    return NoRules();
  }
  auto lang = QueryLang(request, "en");
  if (!lang.ok()) {
    return ErrorResponse(lang.error());
  }
  ApiResponse response;
  response.body["rules"] = nlohmann::json::array();
  for (const auto& rule : context.rules->rules) {
    response.body["rules"].push_back(RuleSummaryJson(rule, *lang));
  }
  response.body["errors"] = nlohmann::json::array();
  for (const auto& error : context.rules->errors) {
    response.body["errors"].push_back({{"source", error.source},
                                       {"line", error.line},
                                       {"column", error.column},
                                       {"message", error.message},
                                       {"text", error.ToString()}});
  }
  return response;
}

ApiResponse ShowRuleRoute(ApiContext& context, const ApiRequest& request) {
  if (context.rules == nullptr) {
    return NoRules();
  }
  auto lang = QueryLang(request, "en");
  if (!lang.ok()) {
    return ErrorResponse(lang.error());
  }
  const std::string& id = request.params.at("id");
  const rules::Rule* rule = context.rules->Find(id);
  if (rule == nullptr) {
    return ErrorResponse(404, "not_found", "rule '" + id.substr(0, 100) + "' not found");
  }
  ApiResponse response;
  response.body = RuleSummaryJson(*rule, *lang);
  response.body["why"] = rule->why.In(*lang);
  response.body["remediation"] = rule->remediation.In(*lang);
  response.body["evidence_template"] = rule->evidence_template.In(*lang);
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [name, value] : rule->params) {
    params[name] = ParamJson(value);
  }
  response.body["params"] = std::move(params);
  response.body["condition"] = rule->condition_sql;
  response.body["sustain"] = rule->sustain_sql;
  return response;
}

}  // namespace

void RegisterRuleRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/api/v1/rules", Access::kRead, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return ListRulesRoute(context, request); });
  router.Add("GET", "/api/v1/rules/{id}", Access::kRead, Scope::CallerOnly(),
             [&context](ApiRequest& request) { return ShowRuleRoute(context, request); });
}

}  // namespace dozor::server::http
