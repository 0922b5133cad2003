#include "app/limits.hpp"

#include <cstdint>

namespace dozor::server {
namespace {

constexpr int64_t kMinuteMs = 60'000;

FailureThrottleOptions PerMinute(int failures, int block_seconds, FailureThrottleOptions base) {
  base.max_failures = failures;
  base.window_ms = kMinuteMs;
  base.block_ms = int64_t{block_seconds} * 1000;
  return base;
}

}  // namespace

IngestOptions IngestOptionsFromLimits(const ServerConfig::Limits& limits) {
  IngestOptions options;
  options.max_in_flight_per_stream = static_cast<size_t>(limits.agent_reports_in_flight);
  options.max_in_flight_bytes_per_stream = static_cast<size_t>(limits.agent_in_flight_mib) << 20;
  options.max_concurrent_enrollments = limits.enrollments_at_once;
  options.admission.min_health_interval_ms = limits.agent_min_health_interval_ms;
  options.admission.inventory_burst = limits.agent_inventory_burst;
  options.admission.inventory_refill_ms = int64_t{limits.agent_inventory_refill_seconds} * 1000;
  options.max_rejected_per_stream = limits.agent_rejected_before_close;
  options.enroll_throttle = PerMinute(limits.enroll_failures_per_minute, limits.agent_block_seconds,
                                      options.enroll_throttle);
  options.stream_source_throttle =
      PerMinute(limits.stream_auth_failures_per_minute, limits.agent_block_seconds,
                options.stream_source_throttle);
  options.stream_agent_throttle =
      PerMinute(limits.agent_auth_failures_per_minute, limits.agent_block_seconds,
                options.stream_agent_throttle);
  return options;
}

void ApplyHttpLimits(const ServerConfig::Limits& limits, http::HttpServer::Options& options) {
  options.max_concurrent_uploads = limits.http_uploads_at_once;
  options.max_body_bytes = static_cast<size_t>(limits.http_max_body_kib) << 10;
  options.read_timeout_seconds = limits.http_read_timeout_seconds;
  options.min_body_bytes_per_second = static_cast<size_t>(limits.http_min_body_kib_per_second)
                                      << 10;
  options.auth_throttle = PerMinute(limits.http_auth_failures_per_minute,
                                    limits.http_auth_block_seconds, options.auth_throttle);
}

void ApplyRuleLimits(const ServerConfig::Limits& limits, RuleEvaluatorOptions& options) {
  options.host_min_interval_ms = limits.rules_host_min_interval_ms;
}

}  // namespace dozor::server
