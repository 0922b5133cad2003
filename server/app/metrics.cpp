#include "app/metrics.hpp"

#include <fmt/format.h>

namespace dozor::server {

namespace {

class Exposition {
 public:
  // One metric family: its HELP and TYPE lines, then its samples.
  void Family(std::string_view name, std::string_view type, std::string_view help) {
    text_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void Sample(std::string_view name, double value, std::string_view labels = "") {
    text_ += fmt::format("{}{}{}{} {}\n", name, labels.empty() ? "" : "{", labels,
                         labels.empty() ? "" : "}", value);
  }
  void Sample(std::string_view name, uint64_t value, std::string_view labels = "") {
    text_ += fmt::format("{}{}{}{} {}\n", name, labels.empty() ? "" : "{", labels,
                         labels.empty() ? "" : "}", value);
  }
  [[nodiscard]] std::string Take() { return std::move(text_); }

 private:
  std::string text_;
};

std::string ChannelLabel(AlertChannel channel) {
  return fmt::format("channel=\"{}\"", ToString(channel));
}

}  // namespace

std::string RenderPrometheus(const MetricsSnapshot& s) {
  Exposition out;
  out.Family("dozor_start_time_seconds", "gauge", "When the server started, Unix seconds.");
  out.Sample("dozor_start_time_seconds", static_cast<double>(s.started_at_ms) / 1000.0);

  out.Family("dozor_agents_connected", "gauge", "Agents with a live report stream.");
  out.Sample("dozor_agents_connected", s.connected_agents);
  out.Family("dozor_ingest_reports_total", "counter", "Agent reports committed to the store.");
  out.Sample("dozor_ingest_reports_total", s.ingest.committed_reports);
  out.Family("dozor_ingest_batches_total", "counter", "Commit batches, by outcome.");
  out.Sample("dozor_ingest_batches_total", s.ingest.committed_batches, "outcome=\"committed\"");
  out.Sample("dozor_ingest_batches_total", s.ingest.failed_batches, "outcome=\"failed\"");
  out.Family("dozor_ingest_queue_reports", "gauge", "Reports waiting for the store's writer.");
  out.Sample("dozor_ingest_queue_reports", s.ingest.queued_reports);
  out.Family("dozor_ingest_queue_bytes", "gauge", "Wire bytes of the reports waiting.");
  out.Sample("dozor_ingest_queue_bytes", s.ingest.queued_bytes);
  out.Family("dozor_ingest_commit_seconds_total", "counter", "Time spent committing batches.");
  out.Sample("dozor_ingest_commit_seconds_total", s.ingest.commit_seconds_sum);
  out.Family("dozor_ingest_latency_seconds", "histogram",
             "A report's time from the writer's queue to its commit (its ack follows).");
  for (size_t i = 0; i < kIngestLatencyBounds.size(); ++i) {
    out.Sample("dozor_ingest_latency_seconds_bucket", s.ingest.latency_buckets[i],
               fmt::format("le=\"{}\"", kIngestLatencyBounds[i]));
  }
  out.Sample("dozor_ingest_latency_seconds_bucket", s.ingest.committed_reports, "le=\"+Inf\"");
  out.Sample("dozor_ingest_latency_seconds_sum", s.ingest.latency_seconds_sum);
  out.Sample("dozor_ingest_latency_seconds_count", s.ingest.committed_reports);

  out.Family("dozor_rule_evaluations_total", "counter", "Rule evaluations, by kind.");
  out.Sample("dozor_rule_evaluations_total", s.rules.full_runs, "kind=\"full\"");
  out.Sample("dozor_rule_evaluations_total", s.rules.host_runs, "kind=\"host\"");
  out.Sample("dozor_rule_evaluations_total", s.rules.org_runs, "kind=\"organization\"");
  out.Family("dozor_rule_evaluation_seconds_total", "counter", "Time spent evaluating, by kind.");
  out.Sample("dozor_rule_evaluation_seconds_total", s.rules.full_seconds_sum, "kind=\"full\"");
  out.Sample("dozor_rule_evaluation_seconds_total", s.rules.host_seconds_sum, "kind=\"host\"");
  out.Sample("dozor_rule_evaluation_seconds_total", s.rules.org_seconds_sum,
             "kind=\"organization\"");
  out.Family("dozor_rule_full_evaluation_last_seconds", "gauge",
             "How long the last whole-estate evaluation took.");
  out.Sample("dozor_rule_full_evaluation_last_seconds", s.rules.last_full_seconds);
  out.Family("dozor_rule_evaluation_failures_total", "counter", "Evaluations that failed.");
  out.Sample("dozor_rule_evaluation_failures_total", s.rules.failures);

  out.Family("dozor_alert_messages", "gauge",
             "Alert messages in the outbox, by channel and state.");
  for (const auto& channel : s.outbox) {
    const std::string label = ChannelLabel(channel.channel);
    out.Sample("dozor_alert_messages", static_cast<uint64_t>(channel.pending),
               label + ",state=\"pending\"");
    out.Sample("dozor_alert_messages", static_cast<uint64_t>(channel.failed),
               label + ",state=\"failed\"");
    out.Sample("dozor_alert_messages", static_cast<uint64_t>(channel.sent),
               label + ",state=\"sent\"");
  }
  out.Family("dozor_alert_oldest_pending_seconds", "gauge",
             "Age of the oldest message waiting, by channel (0: none waits).");
  for (const auto& channel : s.outbox) {
    const double age = channel.oldest_pending_ms
                           ? static_cast<double>(s.now_ms - *channel.oldest_pending_ms) / 1000.0
                           : 0.0;
    out.Sample("dozor_alert_oldest_pending_seconds", age, ChannelLabel(channel.channel));
  }
  out.Family("dozor_alert_delivery_failures_total", "counter",
             "Failed delivery attempts since start, by channel.");
  for (const auto& failures : s.delivery_failures) {
    out.Sample("dozor_alert_delivery_failures_total", failures.failed_attempts,
               ChannelLabel(failures.channel));
  }
  return out.Take();
}

}  // namespace dozor::server
