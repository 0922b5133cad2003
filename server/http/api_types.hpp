// Transport-independent request/response types of the management API and the JSON helpers the
// resource handlers share. The Beast layer (http_server.cpp) converts to and from these, so the
// handlers are plain functions testable without a socket.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/access.hpp"
#include "dozor/common/result.hpp"
#include "dozor/common/text.hpp"
#include "store/store.hpp"

namespace dozor::server::http {

struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query string, still percent-encoded
  std::map<std::string, std::string, std::less<>> query;
  std::map<std::string, std::string, std::less<>> params;  // from the route pattern, decoded
  std::string body;
  std::string authorization;     // raw Authorization header
  std::optional<Caller> caller;  // set once authenticated
  // The CSRF token of the browser session that authenticated it; empty for any other credential.
  std::string session_csrf_token;
  // Headers a session-authenticated request needs: the Cookie header, the CSRF token header
  // (X-CSRF-Token) and the client's declaration of itself (X-Dozor-Client: "dozorctl").
  std::string cookie;
  std::string csrf_token;
  std::string dozor_client;
  // The Content-Type header as sent ("" when absent).
  std::string content_type;
  // Accept-Encoding and If-None-Match as sent (several headers joined with ", "; "" when absent):
  // the dashboard's files are sent gzip-compressed and revalidated by ETag.
  std::string accept_encoding;
  std::string if_none_match;
  // Whether the request came over TLS (session cookies are marked Secure then).
  bool tls = false;
  // Filled by the router's scope check: the organisation the request is about, when its route
  // names one (recorded in the audit log).
  std::optional<int64_t> scope_org_id;
  // The client as failed authentications are counted (ClientAddressKey: the IPv4 address or the
  // IPv6 /64). Set by the transport; empty in direct calls (tests, fuzzers): not throttled.
  std::string client_address;
};

struct ApiResponse {
  int status = 200;
  nlohmann::json body = nlohmann::json::object();
  // A non-JSON payload (audit reports: PDF, HTML, CSV). When set it is sent verbatim with
  // `content_type` instead of `body`; `content_disposition` is added when not empty.
  std::optional<std::string> raw_body;
  // A file streamed from disk by the transport instead of loaded into memory (agent packages);
  // sent with `content_type` and `content_disposition` like raw_body.
  std::optional<std::filesystem::path> file_body;
  // Bytes of static storage duration (the dashboard compiled into the binary) sent as they are,
  // without a copy; with `content_type` like raw_body.
  std::optional<std::span<const unsigned char>> static_body;
  std::string content_type;
  std::string content_disposition;
  // Cache-Control; empty: "no-store" (API answers are per caller and change at any time).
  std::string cache_control;
  // Further headers as (name, value): the dashboard's Content-Security-Policy, ETag, Vary, ...
  std::vector<std::pair<std::string, std::string>> headers;
  // Sent as Retry-After when > 0: with a 503 (the server is busy, not broken) or a 429 (this
  // client is refused for that long).
  int retry_after_seconds = 0;
  // Set-Cookie header values (login, logout).
  std::vector<std::string> set_cookies;
  // What the audit log records about a change besides the route and the caller: the object
  // ("finding 12") and a short detail. Filled by handlers; empty is fine.
  std::string audit_object;
  std::string audit_detail;
  // Who the change was made by when the request had no authenticated caller (a login attempt).
  std::string audit_actor;
  std::optional<Via> audit_via;
  // The organisation a change was about when the route does not name it (creating one).
  std::optional<int64_t> audit_org_id;
};

// A response carrying `payload` as is, e.g. RawResponse(pdf, "application/pdf", "attachment; ...").
ApiResponse RawResponse(std::string payload, std::string_view content_type,
                        std::string_view content_disposition = "");

// {"error": {"code": code, "message": message}} with the given HTTP status.
ApiResponse ErrorResponse(int status, std::string_view code, std::string_view message);
// Maps a store/validation error to its HTTP status (400, 403, 404, 409, 413, 503, 500).
ApiResponse ErrorResponse(const Error& error);

// Unix ms -> "2024-01-31T12:00:00Z" (UTC). Empty for 0.
std::string IsoUtc(int64_t ms);
// Adds "<key>_ms": ms and "<key>": ISO string (null for a missing optional).
void PutTime(nlohmann::json& out, std::string_view key, int64_t ms);
// "revoked", "expired" or "active" for a token with optional revoke/expiry times.
const char* CredentialState(const std::optional<int64_t>& revoked_at_ms,
                            const std::optional<int64_t>& expires_at_ms, int64_t now_ms);
void PutTime(nlohmann::json& out, std::string_view key, const std::optional<int64_t>& ms);

// Parses the request body as a JSON object; kInvalidArgument otherwise.
Result<nlohmann::json> ParseJsonObject(std::string_view body);
// Optional string field: absent/null -> nullopt, wrong type -> kInvalidArgument.
Result<std::optional<std::string>> OptionalString(const nlohmann::json& object,
                                                  std::string_view key);
// Optional integer field in [min, max].
Result<std::optional<int64_t>> OptionalInt(const nlohmann::json& object, std::string_view key,
                                           int64_t min, int64_t max);
// Query parameter as an integer in [min, max]; `fallback` if absent.
Result<int64_t> QueryInt(const ApiRequest& request, std::string_view key, int64_t fallback,
                         int64_t min, int64_t max);

// Percent-decodes a URL component; '+' means space only in query strings. nullopt on a
// malformed escape.
std::optional<std::string> PercentDecode(std::string_view text, bool plus_is_space);
// Splits "a=1&b=2" into decoded pairs; kInvalidArgument on a malformed escape.
Result<std::map<std::string, std::string, std::less<>>> ParseQuery(std::string_view query);

}  // namespace dozor::server::http
