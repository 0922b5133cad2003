#include <doctest/doctest.h>

#include <fstream>
#include <functional>

#include "app/server_config.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

std::filesystem::path WriteConfig(const testing::TempDir& dir, const std::string& text) {
  auto path = dir / "server.toml";
  std::ofstream(path) << text;
  return path;
}

TEST_CASE("host:port parsing accepts names, IPv4 and bracketed IPv6 and rejects the rest") {
  auto v4 = ParseHostPort("127.0.0.1:8443");
  REQUIRE(v4.ok());
  CHECK(v4->host == "127.0.0.1");
  CHECK(v4->port == 8443);
  auto v6 = ParseHostPort("[::1]:0");
  REQUIRE(v6.ok());
  CHECK(v6->host == "::1");
  CHECK(v6->port == 0);
  for (const char* bad :
       {"", "host", ":80", "host:", "host:65536", "host:12x", "::1:80", "[::1]80", "[::1"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseHostPort(bad).ok());
  }
}

TEST_CASE("server config file sets every section and keeps defaults elsewhere") {
  testing::TempDir dir;
  auto config = LoadServerConfigFile(WriteConfig(dir, R"(
[grpc]
listen = "0.0.0.0:9443"
tls_cert = "/etc/dozor/server.crt"
tls_key = "/etc/dozor/server.key"
[http]
listen = "127.0.0.1:9480"
offline_after_seconds = 600
[storage]
state_dir = "/srv/dozor"
health_retention_days = 90
[log]
level = "debug"
[accounts]
audit_retention_days = 400
)"));
  REQUIRE(config.ok());
  CHECK(config->audit_retention_days == 400);
  CHECK(config->grpc_listen == "0.0.0.0:9443");
  CHECK(config->http_listen == "127.0.0.1:9480");
  CHECK(config->offline_after_seconds == 600);
  CHECK(config->DatabasePath() == "/srv/dozor/dozor.db");
  CHECK(config->health_retention_days == 90);
  CHECK(config->log_level == "debug");
  CHECK_FALSE(config->insecure);
  CHECK(ValidateServerConfig(*config).ok());
}

TEST_CASE("server config errors name file, line and key") {
  testing::TempDir dir;
  auto unknown =
      LoadServerConfigFile(WriteConfig(dir, "[grpc]\nlisten = \"0.0.0.0:1\"\nlisen = 1\n"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.find("server.toml:3:") != std::string::npos);
  CHECK(unknown.error().message.find("grpc.lisen") != std::string::npos);

  auto syntax = LoadServerConfigFile(WriteConfig(dir, "[grpc\nlisten = 1\n"));
  REQUIRE_FALSE(syntax.ok());
  CHECK(syntax.error().message.find("server.toml:1:") != std::string::npos);

  auto range = LoadServerConfigFile(WriteConfig(dir, "[storage]\nhealth_retention_days = 0\n"));
  REQUIRE_FALSE(range.ok());
  CHECK(range.error().message.find("1..3650") != std::string::npos);

  auto audit = LoadServerConfigFile(WriteConfig(dir, "[accounts]\naudit_retention_days = 7\n"));
  REQUIRE_FALSE(audit.ok());
  CHECK(audit.error().message.find("30..3650") != std::string::npos);

  auto type = LoadServerConfigFile(WriteConfig(dir, "[grpc]\ninsecure = \"yes\"\n"));
  REQUIRE_FALSE(type.ok());
  CHECK(type.error().message.find("true or false") != std::string::npos);

  auto section = LoadServerConfigFile(WriteConfig(dir, "[database]\npath = \"x\"\n"));
  REQUIRE_FALSE(section.ok());
  CHECK(section.error().message.find("unknown section [database]") != std::string::npos);
}

TEST_CASE("gRPC without TLS needs an explicit insecure flag") {
  ServerConfig config;
  auto refused = ValidateServerConfig(config);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("--insecure") != std::string::npos);
  config.insecure = true;
  CHECK(ValidateServerConfig(config).ok());
  config.http_tls_cert_file = "cert.pem";
  CHECK_FALSE(ValidateServerConfig(config).ok());  // a certificate without its key
  config.http_tls_key_file = "key.pem";
  CHECK(ValidateServerConfig(config).ok());
  config.log_level = "verbose";
  CHECK_FALSE(ValidateServerConfig(config).ok());
}

TEST_CASE("the alerts section: channels, policy, and what is refused") {
  testing::TempDir dir;
  auto config = LoadServerConfigFile(WriteConfig(dir, R"(
[alerts]
min_severity = "critical"
escalate_after_minutes = 15
duty = ["duty", "ночной.дежурный"]
dashboard_url = "https://dozor.example.com"
smtp_url = "smtp://mail.example.com:587"
smtp_username = "dozor"
smtp_password_file = "/etc/dozor/smtp.password"
smtp_from = "Dozor <dozor@example.com>"
telegram_token_file = "/etc/dozor/telegram.token"
webhook_url = "https://helpdesk.example.com/hook"
webhook_secret_file = "/etc/dozor/webhook.secret"
retry_first_seconds = 5
flap_threshold = 0
rate_limit_per_hour = 12
group_window_seconds = 60
group_wait_seconds = 10
monthly_report = false
)"));
  REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().ToString()));
  const auto& alerts = config->alerts;
  CHECK(alerts.flap_threshold == 0);
  CHECK(alerts.flap_window_minutes == 60);  // the default stays
  CHECK(alerts.rate_limit_per_hour == 12);
  CHECK(alerts.group_window_seconds == 60);
  CHECK(alerts.group_wait_seconds == 10);
  CHECK_FALSE(alerts.monthly_report);
  CHECK(ServerConfig{}.alerts.monthly_report);
  CHECK(alerts.Enabled());
  CHECK(alerts.min_severity == "critical");
  CHECK(alerts.escalate_after_minutes == 15);
  CHECK(alerts.duty == std::vector<std::string>{"duty", "ночной.дежурный"});
  CHECK(alerts.smtp_password_file == "/etc/dozor/smtp.password");
  CHECK(alerts.telegram_api_url == "https://api.telegram.org");
  CHECK(alerts.retry_first_seconds == 5);
  CHECK(ValidateAlertsConfig(alerts).ok());
  CHECK_FALSE(ServerConfig{}.alerts.Enabled());  // off until a channel is set

  auto refused = [](const std::function<void(ServerConfig::Alerts&)>& change) {
    ServerConfig::Alerts candidate;
    candidate.smtp_url = "smtps://mail.example.com:465";
    candidate.smtp_from = "dozor@example.com";
    change(candidate);
    return !ValidateAlertsConfig(candidate).ok();
  };
  CHECK_FALSE(refused([](auto&) {}));
  CHECK(refused([](auto& a) { a.min_severity = "urgent"; }));
  CHECK(refused([](auto& a) { a.smtp_url = "mail.example.com:25"; }));
  CHECK(refused([](auto& a) { a.smtp_from.clear(); }));
  CHECK(refused([](auto& a) { a.smtp_username = "dozor"; }));  // no password file
  CHECK(refused([](auto& a) { a.webhook_url = "https://helpdesk.example.com"; }));  // no secret
  CHECK(refused([](auto& a) {
    a.webhook_url = "ftp://helpdesk.example.com";
    a.webhook_secret_file = "/s";
  }));
  auto unknown = LoadServerConfigFile(WriteConfig(dir, "[alerts]\nsmtp_host = \"x\"\n"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message.find("unknown key alerts.smtp_host") != std::string::npos);
  auto wait = LoadServerConfigFile(WriteConfig(dir, "[alerts]\ngroup_wait_seconds = 601\n"));
  CHECK_FALSE(wait.ok());
  auto range = LoadServerConfigFile(WriteConfig(dir, "[alerts]\nsite_offline_percent = 0\n"));
  CHECK_FALSE(range.ok());
}

}  // namespace
}  // namespace dozor::server
