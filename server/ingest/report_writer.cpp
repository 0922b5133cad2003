#include "ingest/report_writer.hpp"

#include <spdlog/spdlog.h>

#include <vector>

namespace dozor::server {

ReportWriter::ReportWriter(HostStore& hosts, ReportWriterOptions options)
    : hosts_(hosts), options_(options) {}

ReportWriter::~ReportWriter() { Stop(); }

void ReportWriter::Start() {
  std::lock_guard lock(mutex_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void ReportWriter::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  running_ = false;
}

bool ReportWriter::Submit(IncomingReport report, Completion done) {
  {
    std::lock_guard lock(mutex_);
    if (!running_ || stopping_ || queue_.size() >= options_.max_queue) {
      return false;
    }
    queue_.push_back(Pending{std::move(report), std::move(done)});
  }
  wake_.notify_one();
  return true;
}

ReportWriterStats ReportWriter::Stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void ReportWriter::Run() {
  std::vector<Pending> batch;
  std::vector<IncomingReport> reports;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) {
        return;
      }
      size_t take = std::min(queue_.size(), options_.max_batch);
      batch.clear();
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    reports.clear();
    reports.reserve(batch.size());
    for (auto& pending : batch) {
      reports.push_back(std::move(pending.report));
    }
    auto results = hosts_.CommitReports(reports);
    {
      std::lock_guard lock(mutex_);
      if (results.ok()) {
        ++stats_.committed_batches;
        stats_.committed_reports += batch.size();
      } else {
        ++stats_.failed_batches;
      }
    }
    if (!results.ok()) {
      // Nothing of the batch is committed, so nothing is acked: each stream is closed with an
      // error and its agent resends after reconnecting.
      spdlog::error("committing a batch of {} reports failed: {}", batch.size(),
                    results.error().ToString());
      for (auto& pending : batch) {
        pending.done(results.error());
      }
      continue;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const CommitResult& result = i < results->size() ? (*results)[i] : CommitResult{};
      batch[i].done(result);
    }
  }
}

}  // namespace dozor::server
