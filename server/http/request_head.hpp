// What the transport takes from a request's line and headers before it reads the body: method,
// path, query and Authorization as an ApiRequest. Shared by HttpServer and the HTTP fuzz target,
// so the fuzzer exercises the exact conversion the server runs on untrusted bytes.
#pragma once

#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"
#include "http/api_types.hpp"

namespace dozor::server::http {

// Request line plus headers; a larger head is answered 431/400 by the transport.
inline constexpr uint32_t kHeaderLimitBytes = 16 * 1024;

// Method, path, query and Authorization of a request whose body has not been read yet.
// kInvalidArgument for a malformed path or query escape.
template <class Header>
Result<ApiRequest> ToApiRequest(const Header& header) {
  ApiRequest out;
  out.method = std::string(header.method_string());
  const std::string_view target(header.target().data(), header.target().size());
  const size_t question = target.find('?');
  // The path stays encoded so an escaped '/' inside a name cannot change the route; the router
  // decodes each captured parameter.
  out.path = std::string(target.substr(0, question));
  if (!PercentDecode(out.path, /*plus_is_space=*/false)) {
    return MakeError(ErrorCode::kInvalidArgument, "malformed request path");
  }
  if (question != std::string_view::npos) {
    auto query = ParseQuery(target.substr(question + 1));
    if (!query.ok()) {
      return query.error();
    }
    out.query = std::move(query).value();
  }
  const auto auth = header.find(boost::beast::http::field::authorization);
  if (auth != header.end()) {
    out.authorization = std::string(auth->value().data(), auth->value().size());
  }
  return out;
}

}  // namespace dozor::server::http
