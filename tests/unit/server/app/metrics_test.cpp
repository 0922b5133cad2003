// GET /metrics' text: Prometheus' exposition format, every family with HELP and TYPE, a histogram
// with cumulative buckets ending in +Inf, labels quoted.
#include <doctest/doctest.h>

#include <map>
#include <sstream>

#include "app/metrics.hpp"

namespace dozor::server {
namespace {

// "name{labels}" -> value, for every sample line.
std::map<std::string, std::string> Samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    REQUIRE(space != std::string::npos);
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

TEST_CASE("the metrics text: ingest, rules and the alert outbox in Prometheus' format") {
  MetricsSnapshot snapshot;
  snapshot.started_at_ms = 1'800'000'000'000;
  snapshot.now_ms = 1'800'000'060'000;
  snapshot.connected_agents = 412;
  snapshot.ingest.committed_reports = 10;
  snapshot.ingest.committed_batches = 3;
  snapshot.ingest.failed_batches = 1;
  snapshot.ingest.queued_reports = 7;
  snapshot.ingest.latency_buckets = {2, 5, 8, 9, 10, 10, 10, 10, 10, 10};
  snapshot.ingest.latency_seconds_sum = 0.25;
  snapshot.rules.full_runs = 2;
  snapshot.rules.last_full_seconds = 0.5;
  ChannelBacklog email;
  email.channel = AlertChannel::kEmail;
  email.pending = 4;
  email.failed = 1;
  email.sent = 20;
  email.oldest_pending_ms = 1'800'000'000'000;
  snapshot.outbox = {email};
  snapshot.delivery_failures = {{AlertChannel::kEmail, 6}};
  const std::string text = RenderPrometheus(snapshot);
  const auto samples = Samples(text);
  CHECK(samples.at("dozor_agents_connected") == "412");
  CHECK(samples.at("dozor_start_time_seconds") == "1800000000");
  CHECK(samples.at("dozor_ingest_reports_total") == "10");
  CHECK(samples.at("dozor_ingest_batches_total{outcome=\"failed\"}") == "1");
  CHECK(samples.at("dozor_ingest_queue_reports") == "7");
  CHECK(samples.at("dozor_ingest_latency_seconds_bucket{le=\"0.005\"}") == "2");
  CHECK(samples.at("dozor_ingest_latency_seconds_bucket{le=\"+Inf\"}") == "10");
  CHECK(samples.at("dozor_ingest_latency_seconds_count") == "10");
  CHECK(samples.at("dozor_ingest_latency_seconds_sum") == "0.25");
  CHECK(samples.at("dozor_rule_evaluations_total{kind=\"full\"}") == "2");
  CHECK(samples.at("dozor_rule_full_evaluation_last_seconds") == "0.5");
  CHECK(samples.at("dozor_alert_messages{channel=\"email\",state=\"pending\"}") == "4");
  CHECK(samples.at("dozor_alert_messages{channel=\"email\",state=\"failed\"}") == "1");
  CHECK(samples.at("dozor_alert_oldest_pending_seconds{channel=\"email\"}") == "60");
  CHECK(samples.at("dozor_alert_delivery_failures_total{channel=\"email\"}") == "6");
  // Every sample's family has HELP and TYPE lines before it.
  for (const auto& [name, value] : samples) {
    std::string family = name.substr(0, name.find('{'));
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s(suffix);
      if (family.size() > s.size() && family.compare(family.size() - s.size(), s.size(), s) == 0 &&
          text.find("# TYPE " + family.substr(0, family.size() - s.size()) + " histogram") !=
              std::string::npos) {
        family = family.substr(0, family.size() - s.size());
      }
    }
    CAPTURE(name);
    CHECK(text.find("# HELP " + family + " ") != std::string::npos);
    CHECK(text.find("# TYPE " + family + " ") != std::string::npos);
  }
}

}  // namespace
}  // namespace dozor::server
