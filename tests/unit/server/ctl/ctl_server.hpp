// A real HttpServer over a real SQLite store on loopback for dozorctl's tests: an admin token file,
// and dozorctl runs as the admin or as whoever is logged in through one session file.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http/auth.hpp"
#include "http/http_server.hpp"
#include "run_cli.hpp"
#include "store_in_temp_dir.hpp"

namespace dozor::ctl {

inline bool Has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

struct CtlServer {
  CtlServer() {
    auto& [dir, store, clock] = env;
    admin_token_file = dir / "admin.token";
    REQUIRE(server::http::BootstrapAdminToken(**store, admin_token_file, clock).ok());
    http = std::make_unique<server::http::HttpServer>(server::http::HttpServer::Options{}, **store,
                                                      nullptr, clock);
    REQUIRE(http->Start().ok());
    url = "http://127.0.0.1:" + std::to_string(http->port());
    session_file = dir / "home" / ".config" / "dozor" / "session";
  }
  ~CtlServer() { http->Stop(); }
  CtlServer(const CtlServer&) = delete;
  CtlServer& operator=(const CtlServer&) = delete;

  CliRun Admin(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--server", url, "--token-file", admin_token_file.string(),
                               "--session-file", session_file.string()});
    return RunWithInput(args, input);
  }
  // No --server and no token: whatever the session file holds.
  CliRun Person(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), {"--session-file", session_file.string()});
    return RunWithInput(args, input);
  }
  // The admin's run with --json, which must succeed, parsed.
  nlohmann::json Json(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    auto run = Admin(std::move(args));
    REQUIRE_MESSAGE(run.code == kExitOk, run.err);
    return nlohmann::json::parse(run.out);
  }

  StoreInTempDir env;
  std::filesystem::path admin_token_file;
  std::unique_ptr<server::http::HttpServer> http;
  std::string url;
  std::filesystem::path session_file;
};

}  // namespace dozor::ctl
