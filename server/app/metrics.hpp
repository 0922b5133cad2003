// The server watching itself the way operators expect: its numbers in Prometheus' text exposition
// format (version 0.0.4) for GET /metrics, so the company's own monitoring can alert on Dozor.
// Pure rendering of a snapshot the app collects; no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/rule_evaluator.hpp"
#include "ingest/report_writer.hpp"
#include "store/alert_store.hpp"

namespace dozor::server {

struct MetricsSnapshot {
  ReportWriterStats ingest;
  uint64_t connected_agents = 0;
  RuleEvaluatorStats rules;
  std::vector<ChannelBacklog> outbox;  // the configured channels' messages by state
  struct ChannelFailures {
    AlertChannel channel = AlertChannel::kEmail;
    uint64_t failed_attempts = 0;  // since start
  };
  std::vector<ChannelFailures> delivery_failures;
  int64_t started_at_ms = 0;
  int64_t now_ms = 0;
};

std::string RenderPrometheus(const MetricsSnapshot& snapshot);

}  // namespace dozor::server
