// `dozor-server routes`: the management API's route table as the real binary builds it, for the
// test that keeps docs/openapi.yaml and the router in step (tests/api/test_openapi.py).
#pragma once

#include <iosfwd>

namespace dozor::server {

// Builds the management API over a scratch database and writes every route, in declaration
// order, to `out` as a JSON array of
//   {"method": "GET", "pattern": "/api/v1/orgs/{org}", "access": "read",
//    "scope": "org", "scope_param": "org"}
// (scope_param null for scopes that name no path parameter). Returns the process exit code: 0,
// or 2 with a message on `err` when the scratch database could not be made.
int RunRoutesList(std::ostream& out, std::ostream& err);

}  // namespace dozor::server
