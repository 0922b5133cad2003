#include "app/routes_cli.hpp"

#include <nlohmann/json.hpp>
#include <ostream>

#include "app/scratch_database.hpp"
#include "dozor/common/clock.hpp"
#include "http/api_service.hpp"

namespace dozor::server {

int RunRoutesList(std::ostream& out, std::ostream& err) {
  // The routes do not depend on the data, but ApiService needs a store to be built over.
  ScratchDatabase scratch("dozor-routes");
  auto store = scratch.Open();
  if (!store.ok()) {
    err << "cannot create a scratch database: " << store.error().message << "\n";
    return 2;
  }
  const http::ApiService api(http::ApiContext{.store = **store,
                                              .clock = SystemClock::Instance(),
                                              .grpc_public_address = {},
                                              .install = {}});
  nlohmann::json routes = nlohmann::json::array();
  for (const http::Route& route : api.router().routes()) {
    routes.push_back(
        {{"method", route.method},
         {"pattern", route.pattern},
         {"access", std::string(ToString(route.access))},
         {"scope", std::string(http::ToString(route.scope.kind))},
         {"scope_param", route.scope.param.empty() ? nlohmann::json(nullptr)
                                                   : nlohmann::json(route.scope.param)}});
  }
  out << routes.dump(2) << "\n";
  return 0;
}

}  // namespace dozor::server
