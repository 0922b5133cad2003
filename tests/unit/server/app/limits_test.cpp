// The [limits] section: parsed with ranges, and mapped onto the ingest, HTTP and rule-evaluator
// options with the same defaults those options have on their own.
#include "app/limits.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "app/server_config.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

Result<ServerConfig> LoadLimitsConfig(const testing::TempDir& dir, const std::string& text) {
  auto path = dir / "limits.toml";
  std::ofstream(path) << text;
  return LoadServerConfigFile(path);
}

void CheckSameThrottle(const FailureThrottleOptions& a, const FailureThrottleOptions& b) {
  CHECK(a.max_failures == b.max_failures);
  CHECK(a.window_ms == b.window_ms);
  CHECK(a.block_ms == b.block_ms);
  CHECK(a.max_keys == b.max_keys);
}

TEST_CASE("limits: a config without [limits] gives every part its own defaults") {
  const ServerConfig::Limits defaults;
  const IngestOptions ingest = IngestOptionsFromLimits(defaults);
  const IngestOptions built_in;
  CHECK(ingest.max_in_flight_per_stream == built_in.max_in_flight_per_stream);
  CHECK(ingest.max_in_flight_bytes_per_stream == built_in.max_in_flight_bytes_per_stream);
  CHECK(ingest.max_concurrent_enrollments == built_in.max_concurrent_enrollments);
  CHECK(ingest.admission.min_health_interval_ms == built_in.admission.min_health_interval_ms);
  CHECK(ingest.admission.inventory_burst == built_in.admission.inventory_burst);
  CHECK(ingest.admission.inventory_refill_ms == built_in.admission.inventory_refill_ms);
  CHECK(ingest.max_rejected_per_stream == built_in.max_rejected_per_stream);
  CheckSameThrottle(ingest.enroll_throttle, built_in.enroll_throttle);
  CheckSameThrottle(ingest.stream_source_throttle, built_in.stream_source_throttle);
  CheckSameThrottle(ingest.stream_agent_throttle, built_in.stream_agent_throttle);

  http::HttpServer::Options http;
  ApplyHttpLimits(defaults, http);
  const http::HttpServer::Options http_built_in;
  CHECK(http.max_concurrent_uploads == http_built_in.max_concurrent_uploads);
  CHECK(http.max_body_bytes == http_built_in.max_body_bytes);
  CHECK(http.read_timeout_seconds == http_built_in.read_timeout_seconds);
  CHECK(http.min_body_bytes_per_second == http_built_in.min_body_bytes_per_second);
  CheckSameThrottle(http.auth_throttle, http_built_in.auth_throttle);

  RuleEvaluatorOptions rules;
  ApplyRuleLimits(defaults, rules);
  CHECK(rules.host_min_interval_ms == RuleEvaluatorOptions{}.host_min_interval_ms);
}

TEST_CASE("limits: every key is read, converted to the options' units and applied") {
  testing::TempDir dir;
  auto config = LoadLimitsConfig(dir, R"(
[limits]
agent_reports_in_flight = 16
agent_in_flight_mib = 8
agent_min_health_interval_ms = 2000
agent_inventory_burst = 2
agent_inventory_refill_seconds = 600
agent_rejected_before_close = 5
enrollments_at_once = 1
enroll_failures_per_minute = 3
stream_auth_failures_per_minute = 4
agent_auth_failures_per_minute = 0
agent_block_seconds = 900
http_uploads_at_once = 1
http_max_body_kib = 256
http_read_timeout_seconds = 10
http_min_body_kib_per_second = 0
http_auth_failures_per_minute = 5
http_auth_block_seconds = 120
rules_host_min_interval_ms = 5000
)");
  REQUIRE_MESSAGE(config.ok(), config.error().ToString());
  const IngestOptions ingest = IngestOptionsFromLimits(config->limits);
  CHECK(ingest.max_in_flight_per_stream == 16);
  CHECK(ingest.max_in_flight_bytes_per_stream == 8u * 1024 * 1024);
  CHECK(ingest.admission.min_health_interval_ms == 2000);
  CHECK(ingest.admission.inventory_burst == 2);
  CHECK(ingest.admission.inventory_refill_ms == 600'000);
  CHECK(ingest.max_rejected_per_stream == 5);
  CHECK(ingest.max_concurrent_enrollments == 1);
  CHECK(ingest.enroll_throttle.max_failures == 3);
  CHECK(ingest.enroll_throttle.window_ms == 60'000);
  CHECK(ingest.enroll_throttle.block_ms == 900'000);
  CHECK(ingest.stream_source_throttle.max_failures == 4);
  CHECK(ingest.stream_agent_throttle.max_failures == 0);  // off
  CHECK(ingest.stream_agent_throttle.block_ms == 900'000);

  http::HttpServer::Options http;
  ApplyHttpLimits(config->limits, http);
  CHECK(http.max_concurrent_uploads == 1);
  CHECK(http.max_body_bytes == 256u * 1024);
  CHECK(http.read_timeout_seconds == 10);
  CHECK(http.min_body_bytes_per_second == 0);
  CHECK(http.auth_throttle.max_failures == 5);
  CHECK(http.auth_throttle.block_ms == 120'000);

  RuleEvaluatorOptions rules;
  ApplyRuleLimits(config->limits, rules);
  CHECK(rules.host_min_interval_ms == 5000);
}

TEST_CASE("limits: unknown keys, wrong types and values out of range name file, line and key") {
  testing::TempDir dir;
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {"[limits]\nagent_reports_in_flights = 16\n", "unknown key limits.agent_reports_in_flights"},
      {"[limits]\nagent_in_flight_mib = 0\n",
       "limits.agent_in_flight_mib must be an integer in 1..4096"},
      {"[limits]\nhttp_max_body_kib = \"1M\"\n", "limits.http_max_body_kib must be an integer"},
      {"[limits]\n\nenrollments_at_once = 1000\n", ":3:"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto config = LoadLimitsConfig(dir, c.text);
    REQUIRE_FALSE(config.ok());
    CHECK(config.error().message.find(c.expected) != std::string::npos);
    CHECK(config.error().message.find("limits.toml") != std::string::npos);
  }
}

}  // namespace
}  // namespace dozor::server
