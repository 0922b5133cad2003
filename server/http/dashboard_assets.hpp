// The web dashboard's built files (dashboard/, built by npm and Vite) compiled into dozor-server,
// so the package needs no files beside the binary and the page always matches the API it talks to.
// The table is generated at build time (deploy/cmake/embed_assets.cpp, dashboard/CMakeLists.txt)
// into the library dozor_dashboard_assets, which only the dozor-server executable links: unit
// tests, fuzzers and benchmarks build without npm and hand the handler a table of their own.
#pragma once

#include <span>
#include <string_view>

namespace dozor::server::http {

// One file of the built dashboard. Every view points into static storage (the generated arrays),
// so a table lives as long as the program.
struct EmbeddedAsset {
  std::string_view path;          // the URL path: "/index.html", "/assets/index-AbC123.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  // A hash of the content, without quotes (sent as the strong ETag "<etag>" of the plain body,
  // "<etag>-gzip" of the compressed one).
  std::string_view etag;
  std::span<const unsigned char> body;
  // The body gzip-compressed at build time; empty when that would not save enough to be worth it.
  std::span<const unsigned char> gzip_body;
};

// The dashboard this binary was built with; empty when it was built without one
// (-DDOZOR_BUILD_DASHBOARD=OFF). Defined by the generated source of dozor_dashboard_assets.
std::span<const EmbeddedAsset> DashboardAssets();

}  // namespace dozor::server::http
