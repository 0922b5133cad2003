// The web dashboard on the management API's port (same origin as /api/v1, so its session cookie
// and CSRF token work): GET / and every client-side route of the single-page app ("/orgs/12",
// "/findings") answer index.html; GET /assets/<file> answers the content-hashed scripts, styles
// and fonts; other built files at the root (a favicon) answer themselves. The pages hold no data
// (everything comes from /api/v1 with the session), so they are public.
//
// Every answer carries a Content-Security-Policy that allows only this origin's scripts, styles
// and connections (no inline code), nosniff, and no framing. index.html and root files are
// revalidated by ETag on every use (Cache-Control: no-cache, 304 when unchanged); /assets/ files
// have the hash of their content in their names and are cached for a year. A file is sent
// gzip-compressed (compressed at build time) to a client that accepts gzip.
//
// Thread-safety: pure functions over a table of static data.
#pragma once

#include <span>
#include <string_view>

#include "http/api_types.hpp"
#include "http/dashboard_assets.hpp"

namespace dozor::server::http {

inline constexpr std::string_view kDashboardContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'; object-src 'none'";

// Whether an Accept-Encoding value admits gzip: "gzip" (or "x-gzip"), or else "*", listed with a
// q-value above zero ("gzip;q=0" refuses it). "" (no header) admits only the plain body.
[[nodiscard]] bool AcceptsGzip(std::string_view accept_encoding);

// Whether an If-None-Match value names `etag` (quoted, "\"abc\"") or is "*". Compared weakly, as
// RFC 9110 says for If-None-Match: W/"abc" names "abc" too.
[[nodiscard]] bool EtagMatches(std::string_view if_none_match, std::string_view etag);

// Whether `path` (as requested, still percent-encoded) is a page of the single-page app: not under
// /api/, /assets/ or /packages, not /install.sh or /ca.crt, and not a file name (its last segment
// does not end in an extension the dashboard serves, such as .js, .css, .png, .ico, .map).
// "/orgs/acme.ru" is a page; "/logo.png" is a missing file.
[[nodiscard]] bool IsClientRoute(std::string_view path);

// The answer to GET `path` from `assets`: the file at that path, 404 when there is none, the page
// saying the dashboard is not built when `assets` is empty.
[[nodiscard]] ApiResponse ServeDashboardFile(std::span<const EmbeddedAsset> assets,
                                             std::string_view path, const ApiRequest& request);

}  // namespace dozor::server::http
