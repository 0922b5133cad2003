#include "ingest/report_writer.hpp"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <unordered_set>
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
  if (options_.prepare_inventories) {
    preparer_ = std::thread([this] { RunPreparer(); });
  }
}

void ReportWriter::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return;
    stopping_ = true;
    ++generation_;
  }
  wake_.notify_all();
  prepare_wake_.notify_all();
  // The writer commits what is queued, waiting for the preparer to finish what it holds.
  if (thread_.joinable()) thread_.join();
  if (preparer_.joinable()) preparer_.join();
  std::lock_guard lock(mutex_);
  running_ = false;
}

bool ReportWriter::Submit(IncomingReport report, Completion done) {
  bool preparing = false;
  {
    std::lock_guard lock(mutex_);
    if (!running_ || stopping_ || queue_.size() >= options_.max_queue) {
      return false;
    }
    if (!queue_.empty() && queued_bytes_ + report.wire_bytes > options_.max_queue_bytes) {
      return false;
    }
    queued_bytes_ += report.wire_bytes;
    Pending pending{{}, std::move(done), std::chrono::steady_clock::now(), nullptr};
    if (options_.prepare_inventories && report.report.has_inventory()) {
      pending.preparation = std::make_shared<Preparation>();
      pending.report.agent_id = report.agent_id;
      pending.report.wire_bytes = report.wire_bytes;
      pending.preparation->report = std::move(report);
      to_prepare_.push_back(pending.preparation);
      preparing = true;
    } else {
      pending.report = std::move(report);
    }
    queue_.push_back(std::move(pending));
    ++generation_;
  }
  wake_.notify_one();
  if (preparing) prepare_wake_.notify_one();
  return true;
}

void ReportWriter::RunPreparer() {
  while (true) {
    std::shared_ptr<Preparation> next;
    {
      std::unique_lock lock(mutex_);
      prepare_wake_.wait(lock, [this] { return stopping_ || !to_prepare_.empty(); });
      if (to_prepare_.empty()) {
        return;  // stopping, and nothing is left to prepare
      }
      next = std::move(to_prepare_.front());
      to_prepare_.pop_front();
    }
    // Without the lock: the report is only read, and no one else touches it until `done`.
    if (options_.before_preparing) options_.before_preparing(next->report);
    auto prepared = hosts_.PrepareReport(next->report);
    {
      std::lock_guard lock(mutex_);
      next->prepared = std::move(prepared);
      next->done = true;
      ++generation_;
    }
    wake_.notify_one();
  }
}

ReportWriterStats ReportWriter::Stats() const {
  std::lock_guard lock(mutex_);
  ReportWriterStats out = stats_;
  out.queued_reports = queue_.size();
  out.queued_bytes = queued_bytes_;
  return out;
}

std::vector<bool> PickFairBatch(const std::vector<BatchCandidate>& queued, size_t max_batch,
                                size_t max_inventory_bytes_per_batch) {
  std::vector<bool> take(queued.size(), false);
  std::unordered_set<std::string_view> deferred_agents;
  size_t taken = 0;
  size_t inventory_bytes = 0;
  for (size_t i = 0; i < queued.size() && taken < max_batch; ++i) {
    const BatchCandidate& candidate = queued[i];
    if (!deferred_agents.empty() && deferred_agents.count(candidate.agent_id) > 0) continue;
    if (!candidate.ready) {
      deferred_agents.insert(candidate.agent_id);  // its later reports wait behind it
      continue;
    }
    if (candidate.inventory) {
      if (inventory_bytes > 0 &&
          inventory_bytes + candidate.wire_bytes > max_inventory_bytes_per_batch) {
        deferred_agents.insert(candidate.agent_id);
        continue;
      }
      inventory_bytes += candidate.wire_bytes;
    }
    take[i] = true;
    ++taken;
  }
  return take;
}

void ReportWriter::TakeBatchLocked(std::vector<Pending>& batch) {
  // Looks a bounded distance into the queue, so forming a batch stays cheap when it is long.
  const size_t scan = std::min(queue_.size(), options_.max_batch * 4);
  std::vector<BatchCandidate> candidates;
  candidates.reserve(scan);
  for (size_t i = 0; i < scan; ++i) {
    const Pending& pending = queue_[i];
    const bool preparing = pending.preparation != nullptr;
    candidates.push_back({pending.report.agent_id,
                          preparing || pending.report.report.has_inventory(),
                          pending.report.wire_bytes, !preparing || pending.preparation->done});
  }
  const std::vector<bool> take =
      PickFairBatch(candidates, options_.max_batch, options_.max_inventory_bytes_per_batch);
  std::vector<Pending> kept;
  for (size_t i = 0; i < scan; ++i) {
    if (take[i]) {
      Pending& pending = queue_[i];
      queued_bytes_ -= std::min(queued_bytes_, pending.report.wire_bytes);
      if (pending.preparation) {
        pending.report = std::move(pending.preparation->report);
        pending.report.prepared = std::move(pending.preparation->prepared);
        pending.preparation.reset();
      }
      batch.push_back(std::move(pending));
    } else {
      kept.push_back(std::move(queue_[i]));
    }
  }
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(scan));
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    queue_.push_front(std::move(*it));
  }
}

void ReportWriter::NoteRefusedMessage(size_t bytes) { refused_bytes_since_release_ += bytes; }

void ReportWriter::Run() {
  std::vector<Pending> batch;
  std::vector<IncomingReport> reports;
  const auto idle_wake = std::chrono::milliseconds(options_.release_memory_every_ms);
  uint64_t seen_generation = 0;
  bool took = false;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      // After a batch, what is still queued is taken at once. After an empty take (everything
      // queued waits for the preparer), only a change can make something takeable.
      wake_.wait_for(lock, idle_wake, [&] {
        return (stopping_ && queue_.empty()) || generation_ != seen_generation ||
               (took && !queue_.empty());
      });
      if (queue_.empty() && stopping_) {
        return;
      }
      seen_generation = generation_;
      batch.clear();
      if (!queue_.empty()) TakeBatchLocked(batch);
      took = !batch.empty();
    }
    const size_t batch_bytes = batch.empty() ? 0 : CommitBatch(batch, reports);
    // The parsed reports of the batch are freed before memory is released.
    reports.clear();
    batch.clear();
    if (batch_bytes >= options_.release_memory_after_bytes) reports.shrink_to_fit();
    MaybeReleaseMemory(batch_bytes);
  }
}

size_t ReportWriter::CommitBatch(std::vector<Pending>& batch,
                                 std::vector<IncomingReport>& reports) {
  reports.clear();
  reports.reserve(batch.size());
  size_t batch_bytes = 0;
  for (auto& pending : batch) {
    batch_bytes += pending.report.wire_bytes;
    reports.push_back(std::move(pending.report));
  }
  const auto started = std::chrono::steady_clock::now();
  auto results = hosts_.CommitReports(reports);
  const auto committed = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    stats_.commit_seconds_sum += std::chrono::duration<double>(committed - started).count();
    if (results.ok()) {
      ++stats_.committed_batches;
      stats_.committed_reports += batch.size();
      for (const auto& pending : batch) {
        const double latency = std::chrono::duration<double>(committed - pending.queued_at).count();
        stats_.latency_seconds_sum += latency;
        for (size_t i = 0; i < kIngestLatencyBounds.size(); ++i) {
          if (latency <= kIngestLatencyBounds[i]) ++stats_.latency_buckets[i];
        }
      }
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
    return batch_bytes;
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    const CommitResult& result = i < results->size() ? (*results)[i] : CommitResult{};
    batch[i].done(result);
  }
  return batch_bytes;
}

void ReportWriter::MaybeReleaseMemory(size_t batch_bytes) {
  const size_t threshold = options_.release_memory_after_bytes;
  const auto now = std::chrono::steady_clock::now();
  bool release = batch_bytes >= threshold;
  // Refused messages are freed on gRPC's callback threads; an attacker can send them as fast as
  // the network allows, so the releases they cause are spaced out (a release walks the whole heap).
  if (!release && refused_bytes_since_release_.load() >= threshold &&
      now - last_refused_release_ >= std::chrono::milliseconds(options_.release_memory_every_ms)) {
    release = true;
    last_refused_release_ = now;
  }
  if (!release) return;
  refused_bytes_since_release_ = 0;
  malloc_trim(0);
  std::lock_guard lock(mutex_);
  ++stats_.memory_releases;
}

}  // namespace dozor::server
