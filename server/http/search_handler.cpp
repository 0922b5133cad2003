// /api/v1/search/hosts: one text looked for across hosts (hostname, agent id, IP address, MAC,
// serial numbers, package name or name=version), within the caller's scope; each hit says what
// matched so a list can show why the host is there.
#include "domain/host_search_term.hpp"
#include "http/handlers.hpp"
#include "http/list_paging.hpp"

namespace dozor::server::http {

namespace {

constexpr int64_t kDefaultSearchLimit = 50;
constexpr int64_t kMaxSearchLimit = 200;
constexpr size_t kMinSearchChars = 2;
constexpr size_t kMaxSearchBytes = 200;

ApiResponse SearchHostsRoute(ApiContext& context, const ApiRequest& request) {
  auto text = QueryText(request, "q", kMaxSearchBytes);
  if (!text.ok()) {
    return ErrorResponse(text.error());
  }
  if (!text->has_value() || CodePointCount(**text) < kMinSearchChars) {
    return ErrorResponse(400, "invalid_argument",
                         "query parameter 'q' is required: at least 2 characters of a hostname, "
                         "IP address, MAC, serial number, package name or name=version");
  }
  auto limit = QueryInt(request, "limit", kDefaultSearchLimit, 1, kMaxSearchLimit);
  if (!limit.ok()) {
    return ErrorResponse(limit.error());
  }
  auto org_id = ScopedOrgQuery(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  HostSearchQuery query;
  query.text = **text;
  query.mac = NormalizeMac(query.text);
  if (auto package = ParsePackageTerm(query.text)) {
    query.package_name = std::move(package->name);
    query.package_version = std::move(package->version);
  }
  query.org_id = *org_id;
  if (request.caller) {
    query.visible_org_ids = request.caller->VisibleOrgIds();
  }
  query.limit = static_cast<int>(*limit);
  auto found = context.store.Hosts().SearchHosts(query);
  if (!found.ok()) {
    return ErrorResponse(found.error());
  }
  ApiResponse response;
  response.body["q"] = query.text;
  response.body["hits"] = nlohmann::json::array();
  for (const auto& hit : found->hits) {
    nlohmann::json matches = nlohmann::json::array();
    for (const auto& match : hit.matches) {
      matches.push_back({{"field", match.field}, {"value", match.value}});
    }
    response.body["hits"].push_back(
        {{"host", HostJson(context, hit.host)}, {"matches", std::move(matches)}});
  }
  response.body["truncated"] = found->truncated;
  return response;
}

}  // namespace

void RegisterSearchRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/api/v1/search/hosts", Access::kRead, Scope::List(),
             [&context](ApiRequest& request) { return SearchHostsRoute(context, request); });
}

}  // namespace dozor::server::http
