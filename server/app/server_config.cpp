#include "app/server_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <iterator>
#include <set>

#include "domain/finding.hpp"

namespace dozor::server {
namespace {

std::string Where(const std::filesystem::path& path, const toml::source_region& source) {
  return path.string() + ":" + std::to_string(source.begin.line) + ":" +
         std::to_string(source.begin.column);
}

}  // namespace

Result<HostPort> ParseHostPort(std::string_view text) {
  HostPort out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return MakeError(ErrorCode::kInvalidArgument,
                       "\"" + std::string(text) + "\" is not [IPv6]:PORT");
    }
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "\"" + std::string(text) + "\" is not HOST:PORT");
    }
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
      out.host.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "\"" + std::string(text) + "\": bad host or port (0..65535)");
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

Result<ServerConfig> LoadServerConfigFile(const std::filesystem::path& path) {
  toml::table root;
  try {
    root = toml::parse_file(path.string());
  } catch (const toml::parse_error& e) {
    return MakeError(ErrorCode::kInvalidArgument,
                     Where(path, e.source()) + ": " + std::string(e.description()));
  }
  ServerConfig config;
  const std::set<std::string> known_sections = {"grpc",    "http",     "storage", "log",   "rules",
                                                "install", "accounts", "alerts",  "limits"};
  Error failure{};
  bool failed = false;
  auto fail = [&](const toml::node& node, const std::string& message) {
    if (!failed) {
      failure = MakeError(ErrorCode::kInvalidArgument, Where(path, node.source()) + ": " + message);
      failed = true;
    }
  };
  auto get_string = [&](const toml::node& node, const std::string& key, std::string& out) {
    if (auto value = node.value<std::string>()) {
      out = *value;
    } else {
      fail(node, key + " must be a string");
    }
  };
  auto get_int = [&](const toml::node& node, const std::string& key, int& out, int64_t min,
                     int64_t max) {
    auto value = node.value<int64_t>();
    if (!value || *value < min || *value > max) {
      fail(node,
           key + " must be an integer in " + std::to_string(min) + ".." + std::to_string(max));
      return;
    }
    out = static_cast<int>(*value);
  };
  auto get_bool = [&](const toml::node& node, const std::string& key, bool& out) {
    if (auto value = node.value<bool>()) {
      out = *value;
    } else {
      fail(node, key + " must be true or false");
    }
  };
  for (auto&& [section_key, section_node] : root) {
    std::string section(section_key.str());
    const auto* table = section_node.as_table();
    if (known_sections.count(section) == 0 || table == nullptr) {
      fail(section_node, "unknown section [" + section +
                             "] (known: grpc, http, storage, log, rules, install, accounts, "
                             "alerts, limits)");
      continue;
    }
    for (auto&& [key_name, node] : *table) {
      std::string key = section + "." + std::string(key_name.str());
      std::string path_value;
      if (key == "grpc.listen")
        get_string(node, key, config.grpc_listen);
      else if (key == "grpc.public_address")
        get_string(node, key, config.grpc_public_address);
      else if (key == "grpc.tls_cert")
        get_string(node, key, config.tls_cert_file);
      else if (key == "grpc.tls_key")
        get_string(node, key, config.tls_key_file);
      else if (key == "grpc.tls_ca")
        get_string(node, key, config.tls_ca_file);
      else if (key == "grpc.insecure")
        get_bool(node, key, config.insecure);
      else if (key == "http.listen")
        get_string(node, key, config.http_listen);
      else if (key == "http.tls_cert")
        get_string(node, key, config.http_tls_cert_file);
      else if (key == "http.tls_key")
        get_string(node, key, config.http_tls_key_file);
      else if (key == "http.offline_after_seconds")
        get_int(node, key, config.offline_after_seconds, 30, 86400 * 7);
      else if (key == "accounts.audit_retention_days")
        get_int(node, key, config.audit_retention_days, 30, 3650);
      else if (key == "accounts.session_idle_minutes")
        get_int(node, key, config.session_idle_minutes, 1, 7 * 24 * 60);
      else if (key == "accounts.session_browser_hours")
        get_int(node, key, config.session_browser_hours, 1, 24 * 31);
      else if (key == "accounts.session_cli_days")
        get_int(node, key, config.session_cli_days, 1, 365);
      else if (key == "http.workers")
        get_int(node, key, config.http_workers, 0, 256);
      else if (key == "http.slow_workers")
        get_int(node, key, config.http_slow_workers, 0, 64);
      else if (key == "http.max_connections")
        get_int(node, key, config.http_max_connections, 1, 100000);
      else if (key == "storage.state_dir") {
        get_string(node, key, path_value);
        config.state_dir = path_value;
      } else if (key == "storage.database") {
        get_string(node, key, path_value);
        config.database = path_value;
      } else if (key == "storage.store") {
        get_string(node, key, config.store);
      } else if (key == "storage.pool_size") {
        get_int(node, key, config.store_pool_size, 2, 1000);
      } else if (key == "storage.health_retention_days")
        get_int(node, key, config.health_retention_days, 1, 3650);
      else if (key == "log.level")
        get_string(node, key, config.log_level);
      else if (key == "rules.dirs") {
        const auto* dirs = node.as_array();
        if (dirs == nullptr) {
          fail(node, key + " must be an array of directory paths");
          continue;
        }
        for (const auto& dir : *dirs) {
          auto value = dir.value<std::string>();
          if (!value || value->empty()) {
            fail(dir, key + " entries must be non-empty strings");
          } else {
            config.rule_dirs.emplace_back(*value);
          }
        }
      } else if (key == "rules.full_interval_seconds")
        get_int(node, key, config.rules_full_interval_seconds, 10, 86400);
      else if (key == "install.packages_dir") {
        get_string(node, key, path_value);
        config.install_packages_dir = path_value;
      } else if (key == "install.public_url")
        get_string(node, key, config.install_public_url);
      else if (key == "install.script") {
        get_string(node, key, path_value);
        config.install_script = path_value;
      } else if (key.rfind("alerts.", 0) == 0) {
        auto& alerts = config.alerts;
        auto get_path = [&](std::filesystem::path& out) {
          get_string(node, key, path_value);
          out = path_value;
        };
        if (key == "alerts.min_severity")
          get_string(node, key, alerts.min_severity);
        else if (key == "alerts.escalate_after_minutes")
          get_int(node, key, alerts.escalate_after_minutes, 0, 7 * 24 * 60);
        else if (key == "alerts.duty") {
          const auto* logins = node.as_array();
          if (logins == nullptr) {
            fail(node, key + " must be an array of logins");
            continue;
          }
          for (const auto& login : *logins) {
            auto value = login.value<std::string>();
            if (!value || value->empty()) {
              fail(login, key + " entries must be non-empty logins");
            } else {
              alerts.duty.push_back(*value);
            }
          }
        } else if (key == "alerts.dashboard_url")
          get_string(node, key, alerts.dashboard_url);
        else if (key == "alerts.site_min_hosts")
          get_int(node, key, alerts.site_min_hosts, 2, 100000);
        else if (key == "alerts.site_offline_percent")
          get_int(node, key, alerts.site_offline_percent, 1, 100);
        else if (key == "alerts.retry_first_seconds")
          get_int(node, key, alerts.retry_first_seconds, 1, 3600);
        else if (key == "alerts.give_up_after_hours")
          get_int(node, key, alerts.give_up_after_hours, 1, 24 * 30);
        else if (key == "alerts.flap_window_minutes")
          get_int(node, key, alerts.flap_window_minutes, 1, 7 * 24 * 60);
        else if (key == "alerts.flap_threshold")
          get_int(node, key, alerts.flap_threshold, 0, 1000);
        else if (key == "alerts.rate_limit_per_hour")
          get_int(node, key, alerts.rate_limit_per_hour, 0, 100000);
        else if (key == "alerts.group_window_seconds")
          get_int(node, key, alerts.group_window_seconds, 0, 3600);
        else if (key == "alerts.group_wait_seconds")
          get_int(node, key, alerts.group_wait_seconds, 0, 600);
        else if (key == "alerts.monthly_report")
          get_bool(node, key, alerts.monthly_report);
        else if (key == "alerts.smtp_url")
          get_string(node, key, alerts.smtp_url);
        else if (key == "alerts.smtp_username")
          get_string(node, key, alerts.smtp_username);
        else if (key == "alerts.smtp_password_file")
          get_path(alerts.smtp_password_file);
        else if (key == "alerts.smtp_from")
          get_string(node, key, alerts.smtp_from);
        else if (key == "alerts.smtp_ca_file")
          get_path(alerts.smtp_ca_file);
        else if (key == "alerts.smtp_allow_plaintext")
          get_bool(node, key, alerts.smtp_allow_plaintext);
        else if (key == "alerts.telegram_api_url")
          get_string(node, key, alerts.telegram_api_url);
        else if (key == "alerts.telegram_token_file")
          get_path(alerts.telegram_token_file);
        else if (key == "alerts.telegram_ca_file")
          get_path(alerts.telegram_ca_file);
        else if (key == "alerts.webhook_url")
          get_string(node, key, alerts.webhook_url);
        else if (key == "alerts.webhook_secret_file")
          get_path(alerts.webhook_secret_file);
        else if (key == "alerts.webhook_ca_file")
          get_path(alerts.webhook_ca_file);
        else
          fail(node, "unknown key " + key);
      } else if (key.rfind("limits.", 0) == 0) {
        auto& l = config.limits;
        struct IntKey {
          const char* name;
          int* value;
          int64_t min;
          int64_t max;
        };
        const IntKey keys[] = {
            {"agent_reports_in_flight", &l.agent_reports_in_flight, 1, 4096},
            {"agent_in_flight_mib", &l.agent_in_flight_mib, 1, 4096},
            {"agent_min_health_interval_ms", &l.agent_min_health_interval_ms, 0, 60'000},
            {"agent_inventory_burst", &l.agent_inventory_burst, 1, 1000},
            {"agent_inventory_refill_seconds", &l.agent_inventory_refill_seconds, 1, 86400},
            {"agent_rejected_before_close", &l.agent_rejected_before_close, 1, 1'000'000},
            {"enrollments_at_once", &l.enrollments_at_once, 1, 256},
            {"enroll_failures_per_minute", &l.enroll_failures_per_minute, 0, 100'000},
            {"stream_auth_failures_per_minute", &l.stream_auth_failures_per_minute, 0, 100'000},
            {"agent_auth_failures_per_minute", &l.agent_auth_failures_per_minute, 0, 100'000},
            {"agent_block_seconds", &l.agent_block_seconds, 1, 86400},
            {"http_uploads_at_once", &l.http_uploads_at_once, 1, 64},
            {"http_max_body_kib", &l.http_max_body_kib, 16, 65536},
            {"http_read_timeout_seconds", &l.http_read_timeout_seconds, 5, 3600},
            {"http_min_body_kib_per_second", &l.http_min_body_kib_per_second, 0, 1'048'576},
            {"http_auth_failures_per_minute", &l.http_auth_failures_per_minute, 0, 100'000},
            {"http_auth_block_seconds", &l.http_auth_block_seconds, 1, 86400},
            {"rules_host_min_interval_ms", &l.rules_host_min_interval_ms, 0, 600'000},
        };
        const std::string name = key.substr(7);
        const auto* found = std::find_if(std::begin(keys), std::end(keys),
                                         [&](const IntKey& k) { return name == k.name; });
        if (found == std::end(keys)) {
          fail(node, "unknown key " + key);
        } else {
          get_int(node, key, *found->value, found->min, found->max);
        }
      } else if (key == "rules.window_minutes")
        get_int(node, key, config.rules_window_minutes, 15, 1440);
      else
        fail(node, "unknown key " + key);
    }
  }
  if (failed) return failure;
  return config;
}

namespace {

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

Status ValidateAlertsConfig(const ServerConfig::Alerts& alerts) {
  auto invalid = [](const std::string& message) {
    return MakeError(ErrorCode::kInvalidArgument, "[alerts] " + message);
  };
  if (!ParseSeverity(alerts.min_severity)) {
    return invalid("min_severity must be one of critical, high, medium, low, info");
  }
  if (!alerts.smtp_url.empty()) {
    if (!StartsWith(alerts.smtp_url, "smtp://") && !StartsWith(alerts.smtp_url, "smtps://")) {
      return invalid("smtp_url must start with smtp:// (STARTTLS) or smtps://");
    }
    if (alerts.smtp_from.empty()) {
      return invalid("smtp_from is required with smtp_url (the From address of alert mail)");
    }
    if (!alerts.smtp_username.empty() && alerts.smtp_password_file.empty()) {
      return invalid("smtp_username needs smtp_password_file");
    }
  }
  if (!alerts.webhook_url.empty()) {
    if (!StartsWith(alerts.webhook_url, "https://") && !StartsWith(alerts.webhook_url, "http://")) {
      return invalid("webhook_url must be an http:// or https:// URL");
    }
    if (alerts.webhook_secret_file.empty()) {
      return invalid("webhook_url needs webhook_secret_file (every request is signed)");
    }
  }
  if (!alerts.telegram_token_file.empty() && !StartsWith(alerts.telegram_api_url, "https://") &&
      !StartsWith(alerts.telegram_api_url, "http://")) {
    return invalid("telegram_api_url must be an http:// or https:// URL");
  }
  for (const auto& login : alerts.duty) {
    if (login.empty() || login.size() > 64) return invalid("duty holds logins (1-64 bytes)");
  }
  return OkStatus();
}

Status ValidateServerConfig(const ServerConfig& config) {
  if (auto grpc = ParseHostPort(config.grpc_listen); !grpc.ok()) {
    return grpc.error().Wrap("grpc.listen (--grpc-listen)");
  }
  if (auto http = ParseHostPort(config.http_listen); !http.ok()) {
    return http.error().Wrap("http.listen (--http-listen)");
  }
  if (!config.insecure && (config.tls_cert_file.empty() || config.tls_key_file.empty())) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "gRPC needs TLS: set grpc.tls_cert and grpc.tls_key (--tls-cert/--tls-key), or pass "
        "--insecure explicitly for a demo on loopback");
  }
  if (config.http_tls_cert_file.empty() != config.http_tls_key_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "http.tls_cert and http.tls_key go together");
  }
  if (config.health_retention_days < 1 || config.health_retention_days > 3650) {
    return MakeError(ErrorCode::kInvalidArgument, "health retention must be 1..3650 days");
  }
  if (config.rules_full_interval_seconds < 10 || config.rules_full_interval_seconds > 86400) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "rules.full_interval_seconds (--rules-full-interval) must be 10..86400");
  }
  for (const auto& dir : config.rule_dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "rules.dirs (--rules-dir): " + dir.string() + " is not a directory");
    }
  }
  if (!config.install_packages_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(config.install_packages_dir, ec)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "install.packages_dir (--install-packages-dir): " +
                           config.install_packages_dir.string() + " is not a directory");
    }
  }
  if (!config.install_public_url.empty() && config.tls_ca_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "install.public_url (--install-public-url) needs grpc.tls_ca (--tls-ca): the "
                     "install command pins the CA that signed the gRPC certificate");
  }
  DOZOR_RETURN_IF_ERROR(ValidateAlertsConfig(config.alerts));
  static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};
  if (kLevels.count(config.log_level) == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "log level must be one of trace, debug, info, warn, error, critical, off");
  }
  return OkStatus();
}

}  // namespace dozor::server
