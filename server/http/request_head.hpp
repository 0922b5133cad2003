// What the transport takes from a request's line and headers before it reads the body: method,
// path, query and Authorization as an ApiRequest. Shared by HttpServer and the HTTP fuzz target,
// so the fuzzer exercises the exact conversion the server runs on untrusted bytes.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"
#include "http/api_types.hpp"

namespace dozor::server::http {

// Request line plus headers; a larger head is answered 431/400 by the transport.
inline constexpr uint32_t kHeaderLimitBytes = 16 * 1024;

// The key a client's failed authentications are counted under: "192.0.2.7" for IPv4 (IPv4-mapped
// IPv6 included), the /64 "2001:db8:1:2::/64" for IPv6, since one host usually holds a whole /64.
inline std::string ClientAddressKey(const boost::asio::ip::address& address) {
  namespace ip = boost::asio::ip;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6()).to_string();
  }
  if (address.is_v4()) {
    return address.to_v4().to_string();
  }
  ip::address_v6::bytes_type bytes = address.to_v6().to_bytes();
  for (size_t i = 8; i < bytes.size(); ++i) {
    bytes[i] = 0;
  }
  return ip::make_address_v6(bytes).to_string() + "/64";
}

// Method, path, query and the headers ApiRequest keeps, of a request whose body has not been
// read yet.
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
  // Several Cookie headers (HTTP/2 proxies split them) are joined as one list.
  for (auto [it, end] = header.equal_range(boost::beast::http::field::cookie); it != end; ++it) {
    if (!out.cookie.empty()) out.cookie += "; ";
    out.cookie.append(it->value().data(), it->value().size());
  }
  if (const auto csrf = header.find("X-CSRF-Token"); csrf != header.end()) {
    out.csrf_token = std::string(csrf->value().data(), csrf->value().size());
  }
  if (const auto type = header.find(boost::beast::http::field::content_type);
      type != header.end()) {
    out.content_type = std::string(type->value().data(), type->value().size());
  }
  for (auto [it, end] = header.equal_range(boost::beast::http::field::accept_encoding); it != end;
       ++it) {
    if (!out.accept_encoding.empty()) out.accept_encoding += ", ";
    out.accept_encoding.append(it->value().data(), it->value().size());
  }
  for (auto [it, end] = header.equal_range(boost::beast::http::field::if_none_match); it != end;
       ++it) {
    if (!out.if_none_match.empty()) out.if_none_match += ", ";
    out.if_none_match.append(it->value().data(), it->value().size());
  }
  if (const auto client = header.find("X-Dozor-Client"); client != header.end()) {
    out.dozor_client = std::string(client->value().data(), client->value().size());
  }
  return out;
}

}  // namespace dozor::server::http
