// dozor-server: flags and wiring only; the composition root is app/server_app.
#include <absl/synchronization/mutex.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "app/routes_cli.hpp"
#include "app/rules_cli.hpp"
#include "app/server_app.hpp"
#include "app/store_cli.hpp"
#include "dozor/common/version.hpp"
#include "http/dashboard_assets.hpp"

int main(int argc, char** argv) {
  // Debian builds abseil without NDEBUG: its deadlock detector costs ~12 % CPU at 10k streams.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  spdlog::set_default_logger(spdlog::stderr_color_mt("dozor-server"));
  // The database and token files hold credentials (hashed) and client data: owner-only.
  umask(077);

  CLI::App app{"dozor-server: stores agent reports and serves the management API"};
  app.set_version_flag("--version", dozor::kVersion);
  std::string config_file;
  dozor::server::ServerConfig flags;
  std::string state_dir, database, ready_file;
  int retention_days = 0;
  auto* config_option =
      app.add_option("-c,--config", config_file, "Config file (TOML, see docs/server-config.md)");
  auto* grpc_listen =
      app.add_option("--grpc-listen", flags.grpc_listen, "Agent gRPC listen address HOST:PORT");
  auto* public_address = app.add_option("--public-address", flags.grpc_public_address,
                                        "gRPC address agents use (shown in enroll commands)");
  auto* tls_cert =
      app.add_option("--tls-cert", flags.tls_cert_file, "PEM certificate chain for gRPC");
  auto* tls_key = app.add_option("--tls-key", flags.tls_key_file, "PEM private key for --tls-cert");
  auto* tls_ca = app.add_option(
      "--tls-ca", flags.tls_ca_file,
      "PEM of the CA that signed --tls-cert (served as /ca.crt for the one-line install)");
  std::string packages_dir, install_script;
  auto* packages_option =
      app.add_option("--install-packages-dir", packages_dir,
                     "Directory of dozor-agent_*.deb files served under /packages/");
  auto* public_url =
      app.add_option("--install-public-url", flags.install_public_url,
                     "URL clients reach the management API by, for the install command");
  auto* script_option =
      app.add_option("--install-script", install_script, "Install script served as /install.sh");
  auto* insecure =
      app.add_flag("--insecure", flags.insecure, "Plaintext gRPC for agents: demo/loopback only");
  auto* http_listen =
      app.add_option("--http-listen", flags.http_listen, "Management API listen address HOST:PORT");
  auto* http_cert = app.add_option("--http-tls-cert", flags.http_tls_cert_file,
                                   "PEM certificate for the management API");
  auto* http_key = app.add_option("--http-tls-key", flags.http_tls_key_file,
                                  "PEM private key for --http-tls-cert");
  auto* state_option =
      app.add_option("--state-dir", state_dir, "State directory (database, admin.token)");
  auto* db_option =
      app.add_option("--db", database, "SQLite database file (default <state-dir>/dozor.db)");
  std::string store_url;
  auto* store_option = app.add_option(
      "--store", store_url,
      "Store backend: sqlite (default, the --db file) or a postgresql:// connection URI");
  auto* retention =
      app.add_option("--health-retention-days", retention_days, "Days of health samples to keep");
  auto* log_level =
      app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error");
  app.add_option("--ready-file", ready_file,
                 "Write {grpc_port, http_port, pid} here once listening");
  bool reset_admin_token = false;
  app.add_flag(
      "--reset-admin-token", reset_admin_token,
      "Issue a new admin API token into <state-dir>/admin.token (lost file, revoked admin)");
  std::vector<std::string> rule_dirs;
  auto* rules_dir_option = app.add_option("--rules-dir", rule_dirs,
                                          "Directory of extra/overriding rule files (repeatable)");
  int rules_full_interval = 0;
  auto* rules_full_option = app.add_option("--rules-full-interval", rules_full_interval,
                                           "Seconds between evaluations of the whole estate");

  // `dozor-server rules check|doc`: for engineers editing rule directories (docs/rule-language.md).
  auto* rules_cmd = app.add_subcommand("rules", "Check rule files or print the rule reference");
  rules_cmd->require_subcommand(1);
  std::vector<std::string> check_dirs;
  std::string doc_output;
  auto* rules_check = rules_cmd->add_subcommand(
      "check",
      "Load the built-in pack plus --rules-dir directories and compile every rule; "
      "prints file:line:col for each broken one (exit 1)");
  rules_check->add_option("--rules-dir", check_dirs, "Rule directory (repeatable)");
  auto* rules_doc = rules_cmd->add_subcommand("doc", "Print the Markdown rule reference");
  rules_doc->add_option("--rules-dir", check_dirs, "Rule directory (repeatable)");
  rules_doc->add_option("-o,--output", doc_output, "Write to this file instead of stdout");
  // `dozor-server routes`: the API's route table, checked against docs/openapi.yaml by a test.
  auto* routes_cmd = app.add_subcommand(
      "routes", "Print the management API's routes as JSON (method, pattern, access, scope)");
  // `dozor-server store migrate`: SQLite -> PostgreSQL (docs/postgresql.md).
  auto* store_cmd = app.add_subcommand(
      "store", "Move the store between backends, or rotate the import wrapping key");
  store_cmd->require_subcommand(1);
  std::string migrate_from, migrate_to;
  int64_t migrate_batch_rows = 5000;
  auto* store_migrate = store_cmd->add_subcommand(
      "migrate",
      "Copy a SQLite database into an empty PostgreSQL database, verifying every table "
      "(row count and checksum); commits only if all verify");
  store_migrate->add_option("--from", migrate_from, "sqlite:PATH of the source database")
      ->required();
  store_migrate->add_option("--to", migrate_to, "postgresql://... of the empty target")->required();
  store_migrate->add_option("--batch-rows", migrate_batch_rows, "Rows per INSERT (default 5000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  auto* store_rotate = store_cmd->add_subcommand(
      "rotate-import-key",
      "Replace the state directory's import-wrap.key with a new key and rewrap every token's "
      "import key under it (the server must be stopped; the server's own options name the "
      "store and the state directory)");
  CLI11_PARSE(app, argc, argv);
  if (*store_migrate) {
    return dozor::server::RunStoreMigrate(migrate_from, migrate_to, migrate_batch_rows, std::cout,
                                          std::cerr);
  }
  if (*rules_cmd || *routes_cmd) {
    spdlog::set_level(spdlog::level::warn);  // scratch-database migrations are not news
  }
  if (*rules_check) {
    return dozor::server::RunRulesCheck(check_dirs, std::cout, std::cerr);
  }
  if (*rules_doc) {
    return dozor::server::RunRulesDoc(check_dirs, doc_output, std::cout, std::cerr);
  }
  if (*routes_cmd) {
    return dozor::server::RunRoutesList(std::cout, std::cerr);
  }

  dozor::server::ServerConfig config;
  if (*config_option) {
    auto loaded = dozor::server::LoadServerConfigFile(config_file);
    if (!loaded.ok()) {
      std::cerr << "dozor-server: " << loaded.error().message << "\n";
      return 2;
    }
    config = *loaded;
  }
  if (*grpc_listen) config.grpc_listen = flags.grpc_listen;
  if (*public_address) config.grpc_public_address = flags.grpc_public_address;
  if (*tls_cert) config.tls_cert_file = flags.tls_cert_file;
  if (*tls_key) config.tls_key_file = flags.tls_key_file;
  if (*insecure) config.insecure = true;
  if (*tls_ca) config.tls_ca_file = flags.tls_ca_file;
  if (*packages_option) config.install_packages_dir = packages_dir;
  if (*public_url) config.install_public_url = flags.install_public_url;
  if (*script_option) config.install_script = install_script;
  if (*http_listen) config.http_listen = flags.http_listen;
  if (*http_cert) config.http_tls_cert_file = flags.http_tls_cert_file;
  if (*http_key) config.http_tls_key_file = flags.http_tls_key_file;
  if (*state_option) config.state_dir = state_dir;
  if (*db_option) config.database = database;
  if (*store_option) config.store = store_url;
  if (*retention) config.health_retention_days = retention_days;
  if (*log_level) config.log_level = flags.log_level;
  if (*rules_dir_option) config.rule_dirs.assign(rule_dirs.begin(), rule_dirs.end());
  if (*rules_full_option) config.rules_full_interval_seconds = rules_full_interval;
  config.ready_file = ready_file;
  config.reset_admin_token = reset_admin_token;
  if (auto valid = dozor::server::ValidateServerConfig(config); !valid.ok()) {
    std::cerr << "dozor-server: " << valid.error().message << "\n";
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  if (*store_rotate) {
    return dozor::server::RunRotateImportKey(config, std::cout, std::cerr);
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  dozor::server::ServerApp server(config, dozor::server::http::DashboardAssets());
  auto started = server.Start();
  if (!started.ok()) {
    std::cerr << "dozor-server: " << started.error().message << "\n";
    return 1;
  }
  std::thread signal_thread([&] {
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info("received signal {}, shutting down", received);
    server.Stop();
  });
  server.Wait();
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  return 0;
}
