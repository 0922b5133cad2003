// GET /metrics: the server's own numbers for Prometheus (app/metrics.hpp renders them). Staff
// credentials (a viewer API token is enough for a scraper): the numbers are estate-wide.
#include "http/handlers.hpp"

namespace dozor::server::http {

void RegisterMetricsRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/metrics", Access::kStaffRead, Scope::CallerOnly(), [&context](ApiRequest&) {
    if (!context.metrics) {
      return ErrorResponse(503, "unavailable", "this server does not expose metrics");
    }
    auto text = context.metrics();
    if (!text.ok()) {
      return ErrorResponse(text.error());
    }
    ApiResponse response =
        RawResponse(std::move(*text), "text/plain; version=0.0.4; charset=utf-8");
    return response;
  });
}

}  // namespace dozor::server::http
