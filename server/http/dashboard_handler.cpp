#include "http/dashboard_handler.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "dozor/common/text.hpp"
#include "http/handlers.hpp"

namespace dozor::server::http {
namespace {

constexpr std::string_view kIndexPath = "/index.html";
// /assets/ names carry a hash of their content: a changed file is a new name, so a copy never
// goes stale.
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";
// Everything else is asked for again on each use and answered 304 while unchanged: a new server
// version shows its new page (and so its new /assets/ names) at once.
constexpr std::string_view kRevalidate = "no-cache";
constexpr std::string_view kNotBuilt =
    "This dozor-server was built without its web dashboard (DOZOR_BUILD_DASHBOARD=OFF).\n"
    "The management API is at /api/v1/ (docs/management-api.md).\n";

// Extensions of the files a dashboard build has (deploy/cmake/embed_assets.cpp lists their
// types): a path ending in one asks for a file, never for a page.
constexpr std::array<std::string_view, 18> kFileExtensions = {
    "html", "js",  "mjs", "css",  "json", "map", "webmanifest", "txt",  "svg",
    "png",  "jpg", "gif", "jpeg", "webp", "ico", "woff2",       "woff", "ttf"};

// Optional whitespace of HTTP header values.
constexpr std::string_view kOws = " \t";

// Calls `each` with every `separator`-separated element of a header value, trimmed, empty ones
// skipped.
template <class Each>
void ForEachElement(std::string_view list, char separator, Each each) {
  while (!list.empty()) {
    const size_t end = list.find(separator);
    const std::string_view element = Trim(list.substr(0, end), kOws);
    if (!element.empty()) {
      each(element);
    }
    if (end == std::string_view::npos) {
      break;
    }
    list.remove_prefix(end + 1);
  }
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 9110, 12.4.2), above zero.
// A malformed one counts as zero: the plain body is always a safe answer.
bool QualityAboveZero(std::string_view q) {
  if (q.empty() || q.size() > 5 || (q[0] != '0' && q[0] != '1') || (q.size() > 1 && q[1] != '.')) {
    return false;
  }
  const std::string_view decimals = q.substr(std::min<size_t>(2, q.size()));
  if (!std::all_of(decimals.begin(), decimals.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  const bool zero_decimals =
      std::all_of(decimals.begin(), decimals.end(), [](char c) { return c == '0'; });
  return q[0] == '1' ? zero_decimals : !zero_decimals;
}

// Whether an Accept-Encoding element ("gzip;q=0.5") names `coding` (lower case), and if so
// whether it admits it.
std::optional<bool> Admits(std::string_view element, std::string_view coding) {
  bool first = true;
  bool named = false;
  bool admitted = true;  // no q: 1
  ForEachElement(element, ';', [&](std::string_view part) {
    if (first) {
      first = false;
      named = Lower(part) == coding;
      return;
    }
    const size_t equals = part.find('=');
    if (equals != std::string_view::npos && Lower(Trim(part.substr(0, equals), kOws)) == "q") {
      admitted = QualityAboveZero(Trim(part.substr(equals + 1), kOws));
    }
  });
  return named ? std::optional<bool>(admitted) : std::nullopt;
}

bool IsUnder(std::string_view path, std::string_view folder) {
  return path == folder || (path.size() > folder.size() &&
                            path.substr(0, folder.size()) == folder && path[folder.size()] == '/');
}

// Paths that belong to the server, not to the dashboard.
bool IsServerPath(std::string_view path) {
  return IsUnder(path, "/api") || IsUnder(path, "/packages") || path == "/install.sh" ||
         path == "/ca.crt";
}

const EmbeddedAsset* FindAsset(std::span<const EmbeddedAsset> assets, std::string_view path) {
  const auto it = std::find_if(assets.begin(), assets.end(),
                               [&](const EmbeddedAsset& asset) { return asset.path == path; });
  return it == assets.end() ? nullptr : &*it;
}

void AddSecurityHeaders(ApiResponse& response) {
  response.headers.emplace_back("Content-Security-Policy", kDashboardContentSecurityPolicy);
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "same-origin");
  response.headers.emplace_back("X-Frame-Options", "DENY");
}

ApiResponse ServeAsset(const EmbeddedAsset& asset, const ApiRequest& request) {
  const bool gzip = !asset.gzip_body.empty() && AcceptsGzip(request.accept_encoding);
  // The two encodings are different bytes, so they are two representations with two tags.
  const std::string etag = "\"" + std::string(asset.etag) + (gzip ? "-gzip" : "") + "\"";
  ApiResponse response;
  AddSecurityHeaders(response);
  response.cache_control = std::string(IsUnder(asset.path, "/assets") ? kImmutable : kRevalidate);
  response.headers.emplace_back("ETag", etag);
  if (!asset.gzip_body.empty()) {
    response.headers.emplace_back("Vary", "Accept-Encoding");
  }
  if (EtagMatches(request.if_none_match, etag)) {
    response.status = 304;
    response.raw_body.emplace();
    return response;
  }
  response.content_type = std::string(asset.content_type);
  if (gzip) {
    response.headers.emplace_back("Content-Encoding", "gzip");
    response.static_body = asset.gzip_body;
  } else {
    response.static_body = asset.body;
  }
  return response;
}

}  // namespace

bool AcceptsGzip(std::string_view accept_encoding) {
  std::optional<bool> gzip;
  std::optional<bool> any;
  ForEachElement(accept_encoding, ',', [&](std::string_view element) {
    for (const std::string_view name : {"gzip", "x-gzip"}) {
      if (const auto verdict = Admits(element, name)) {
        gzip = gzip.value_or(false) || *verdict;
      }
    }
    if (const auto verdict = Admits(element, "*")) {
      any = any.value_or(false) || *verdict;
    }
  });
  // A coding named outright wins over "*".
  return gzip.value_or(any.value_or(false));
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  bool matches = false;
  const std::string_view opaque = etag.substr(0, 2) == "W/" ? etag.substr(2) : etag;
  ForEachElement(if_none_match, ',', [&](std::string_view element) {
    if (element == "*") {
      matches = true;
    }
    if (element.substr(0, 2) == "W/") {
      element.remove_prefix(2);
    }
    matches = matches || element == opaque;
  });
  return matches;
}

bool IsClientRoute(std::string_view path) {
  if (path == "/") {
    return true;
  }
  // Only the app's own pages (dashboard/src/lib/router.ts): any other path stays a 404, so a
  // probe such as /etc/passwd or /wp-login.php is told there is nothing there.
  static constexpr std::array<std::string_view, 7> kPages = {
      "/login", "/orgs", "/hosts", "/findings", "/alerts", "/admin", "/account"};
  if (!std::any_of(kPages.begin(), kPages.end(),
                   [&](std::string_view page) { return IsUnder(path, page); })) {
    return false;
  }
  const std::string_view last = path.substr(path.rfind('/') + 1);
  const size_t dot = last.rfind('.');
  if (dot == std::string_view::npos) {
    return true;
  }
  // "/orgs/acme.ru" is a page; "/orgs/app.js" asks for a file.
  const std::string extension = Lower(last.substr(dot + 1));
  return std::find(kFileExtensions.begin(), kFileExtensions.end(), extension) ==
         kFileExtensions.end();
}

ApiResponse ServeDashboardFile(std::span<const EmbeddedAsset> assets, std::string_view path,
                               const ApiRequest& request) {
  if (assets.empty()) {
    ApiResponse response = RawResponse(std::string(kNotBuilt), "text/plain; charset=utf-8");
    response.status = 404;
    AddSecurityHeaders(response);
    return response;
  }
  if (const EmbeddedAsset* asset = FindAsset(assets, path)) {
    return ServeAsset(*asset, request);
  }
  ApiResponse response =
      ErrorResponse(404, "not_found", "no such dashboard file: " + std::string(path));
  AddSecurityHeaders(response);
  return response;
}

void RegisterDashboardRoutes(Router& router, ApiContext& context) {
  const std::span<const EmbeddedAsset> assets = context.dashboard;
  for (const char* method : {"GET", "HEAD"}) {
    router.Add(method, "/", Access::kPublic, Scope::Public(), [assets](ApiRequest& request) {
      return ServeDashboardFile(assets, kIndexPath, request);
    });
    // The path as requested: asset names need no escaping, and a decoded "%2F" must not reach
    // into another folder.
    router.Add(method, "/assets/{file}", Access::kPublic, Scope::Public(),
               [assets](ApiRequest& request) {
                 return ServeDashboardFile(assets, request.path, request);
               });
    // Other built files (favicon.ico, anything deeper under /assets/) answer themselves or 404;
    // every page of the app answers index.html, whose script then shows the page for the path.
    router.AddFallback(
        method,
        [assets](std::string_view path) {
          return !IsServerPath(path) && (FindAsset(assets, path) != nullptr ||
                                         IsUnder(path, "/assets") || IsClientRoute(path));
        },
        [assets](ApiRequest& request) {
          const bool page =
              FindAsset(assets, request.path) == nullptr && IsClientRoute(request.path);
          return ServeDashboardFile(assets, page ? kIndexPath : std::string_view(request.path),
                                    request);
        });
  }
}

}  // namespace dozor::server::http
