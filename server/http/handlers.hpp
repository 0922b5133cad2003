// Resource handlers of the management API, one file per resource. Each Register* function adds
// its routes to the router; handlers run on the HTTP I/O thread and call the store synchronously.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "dozor/common/clock.hpp"
#include "http/router.hpp"
#include "ingest/agent_control.hpp"
#include "store/store.hpp"

namespace dozor::server::http {

struct ApiContext {
  Store& store;
  AgentControl* agents = nullptr;  // null when ingest is not running (tests, maintenance)
  const Clock& clock;
  std::string grpc_public_address;  // shown in enroll commands, "host:port"
  int64_t offline_after_seconds = 180;
};

void RegisterOrgRoutes(Router& router, ApiContext& context);
void RegisterEnrollmentTokenRoutes(Router& router, ApiContext& context);
void RegisterHostRoutes(Router& router, ApiContext& context);
void RegisterApiTokenRoutes(Router& router, ApiContext& context);

nlohmann::json OrganizationJson(const Organization& org);
// Resolves "{org}" (id or name) to an organisation.
Result<Organization> FindOrg(Store& store, std::string_view key);
// Parses a positive integer path parameter ("{id}").
Result<int64_t> PathId(const ApiRequest& request, std::string_view name);

}  // namespace dozor::server::http
