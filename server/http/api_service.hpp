// The management API without the transport: routing, authentication, role checks and the
// exception boundary. HttpServer feeds it parsed requests; tests may call it directly.
#pragma once

#include "http/handlers.hpp"
#include "http/router.hpp"

namespace dozor::server::http {

class ApiService {
 public:
  explicit ApiService(ApiContext context);
  ApiService(const ApiService&) = delete;
  ApiService& operator=(const ApiService&) = delete;

  // Never throws: a handler exception becomes a 500 JSON error.
  ApiResponse Handle(ApiRequest& request);

 private:
  ApiContext context_;
  Router router_;
};

}  // namespace dozor::server::http
