// dozor-server configuration: TOML file (docs/server-config.md) with command-line overrides.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "dozor/common/result.hpp"

namespace dozor::server {

struct ServerConfig {
  // gRPC ingest (agents).
  std::string grpc_listen = "0.0.0.0:8443";
  std::string grpc_public_address;  // shown in enroll commands; default: this host's name + port
  std::string tls_cert_file;
  std::string tls_key_file;
  // PEM of the CA that signed tls_cert: served as /ca.crt to the install script, its fingerprint
  // goes into the printed install command. Empty: no one-line install.
  std::string tls_ca_file;
  bool insecure = false;  // plaintext gRPC: demo/loopback only, must be explicit
  // Management HTTP API.
  std::string http_listen = "127.0.0.1:8480";
  std::string http_tls_cert_file;
  std::string http_tls_key_file;
  int offline_after_seconds = 180;
  // Management API handler threads and the part of them for slow routes (reports, evaluation,
  // imports); 0: from the core count. Connections beyond max get 503 (docs/server-config.md).
  int http_workers = 0;
  int http_slow_workers = 0;
  int http_max_connections = 512;
  // Storage.
  std::filesystem::path state_dir = "/var/lib/dozor-server";
  std::filesystem::path database;  // default: <state_dir>/dozor.db
  // The store backend: empty or "sqlite" = the SQLite file above; a PostgreSQL connection URI
  // (postgresql://…) or key=value string = the PostgreSQL backend (docs/postgresql.md), with a
  // pool of store_pool_size connections.
  std::string store;
  int store_pool_size = 16;
  [[nodiscard]] bool UsesPostgres() const { return !store.empty() && store != "sqlite"; }
  int health_retention_days = 30;
  std::string log_level = "info";
  std::filesystem::path ready_file;  // written with the bound ports once listening (tests, scripts)
  bool reset_admin_token = false;    // issue a fresh admin token into admin.token at start
  // Rules: directories of extra/overriding rule files (docs/rule-language.md), how often the
  // whole estate is re-evaluated (time-based rules, waiver expiry) and the health window rules
  // can look back over.
  std::vector<std::filesystem::path> rule_dirs;
  int rules_full_interval_seconds = 300;
  int rules_window_minutes = 30;
  // One-line agent install (docs/install-agent.md): directory with dozor-agent_*.deb files
  // served under /packages/, the URL clients reach the management API by (shown in the install
  // command) and the install script served as /install.sh (default: the packaged copy).
  std::filesystem::path install_packages_dir;
  std::string install_public_url;
  std::filesystem::path install_script;
  // People's login sessions (docs/server-config.md, [accounts]).
  int session_idle_minutes = 120;
  // Audit-log entries older than this are deleted by the retention pass.
  int audit_retention_days = 730;
  int session_browser_hours = 12;
  int session_cli_days = 30;
  // Alerts to the assigned engineers (docs/alerts.md, [alerts]); off until a channel is set.
  struct Alerts {
    std::string min_severity = "high";
    int escalate_after_minutes = 30;  // 0: no escalation
    std::vector<std::string> duty;    // logins: the last escalation stage
    std::string dashboard_url;        // links in messages; default: install.public_url
    int site_min_hosts = 3;
    int site_offline_percent = 60;
    int give_up_after_hours = 48;
    int retry_first_seconds = 30;  // doubling up to an hour
    // The flap detector: a finding that went bad flap_threshold times within the window stops
    // paging until it settles (0: off).
    int flap_window_minutes = 60;
    int flap_threshold = 3;
    // Messages per person per hour on one channel; more wait (0: no limit).
    int rate_limit_per_hour = 30;
    // A burst of one organisation's messages to one person within this window goes as one;
    // what is not urgent waits group_wait_seconds for the burst to gather (0: no grouping).
    int group_window_seconds = 120;
    int group_wait_seconds = 20;
    // On the 1st of each month, each active client's audit report PDF by e-mail to its primary
    // engineers and the client contacts who opted in.
    bool monthly_report = true;
    // E-mail: smtp://host:587 (STARTTLS required) or smtps://host:465.
    std::string smtp_url;
    std::string smtp_username;
    std::filesystem::path smtp_password_file;
    std::string smtp_from;
    std::filesystem::path smtp_ca_file;
    bool smtp_allow_plaintext = false;  // a relay on loopback only
    // Telegram Bot API.
    std::string telegram_api_url = "https://api.telegram.org";
    std::filesystem::path telegram_token_file;
    std::filesystem::path telegram_ca_file;
    // Signed JSON webhook (a helpdesk).
    std::string webhook_url;
    std::filesystem::path webhook_secret_file;
    std::filesystem::path webhook_ca_file;

    [[nodiscard]] bool Enabled() const {
      return !smtp_url.empty() || !telegram_token_file.empty() || !webhook_url.empty();
    }
  } alerts;

  // What one agent or one HTTP client may use ([limits], docs/server-config.md). The defaults
  // equal those of the options they feed (app/limits.hpp; a unit test keeps them equal).
  struct Limits {
    int agent_reports_in_flight = 64;         // per stream, waiting for their commit
    int agent_in_flight_mib = 32;             // their wire bytes
    int agent_min_health_interval_ms = 500;   // closer health samples are REJECTED
    int agent_inventory_burst = 6;            // inventories at once, then one per refill
    int agent_inventory_refill_seconds = 60;  //
    int agent_rejected_before_close = 100;    // answered refusals; the next closes the stream
    int enrollments_at_once = 4;              // more get RESOURCE_EXHAUSTED (the agent retries)
    // Failures per minute before the source (or agent id) is blocked for agent_block_seconds;
    // 0 turns that throttle off.
    int enroll_failures_per_minute = 20;       // per source address
    int stream_auth_failures_per_minute = 20;  // per source address
    int agent_auth_failures_per_minute = 10;   // per agent id
    int agent_block_seconds = 300;
    int http_uploads_at_once = 2;  // imports (up to 32 MiB) received or handled at once
    int http_max_body_kib = 1024;  // routes without a limit of their own
    int http_read_timeout_seconds = 30;
    int http_min_body_kib_per_second = 64;   // 0: each route's own deadline only
    int http_auth_failures_per_minute = 10;  // per client address, then 429
    int http_auth_block_seconds = 60;
    int rules_host_min_interval_ms = 1000;  // one host's rules at most this often
  } limits;

  [[nodiscard]] std::filesystem::path DatabasePath() const {
    return database.empty() ? state_dir / "dozor.db" : database;
  }
  [[nodiscard]] std::filesystem::path AdminTokenPath() const { return state_dir / "admin.token"; }
  // The import wrapping key (app/import_key_file.hpp): beside the database, never inside it.
  [[nodiscard]] std::filesystem::path ImportKeyPath() const {
    return state_dir / "import-wrap.key";
  }
};

// Parses the TOML file over the defaults; errors name file:line:column and the key.
[[nodiscard]] Result<ServerConfig> LoadServerConfigFile(const std::filesystem::path& path);
// Cross-field checks (TLS files present unless insecure, addresses well-formed, ranges).
[[nodiscard]] Status ValidateServerConfig(const ServerConfig& config);
// The [alerts] part of it (URL schemes, a From address for mail, a secret for the webhook).
[[nodiscard]] Status ValidateAlertsConfig(const ServerConfig::Alerts& alerts);

// "host:port" -> (host, port); accepts "[v6]:port". kInvalidArgument otherwise.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
[[nodiscard]] Result<HostPort> ParseHostPort(std::string_view text);

}  // namespace dozor::server
