// The single writer: collects reports from every stream and commits them in batches (group
// commit), then reports each outcome to its stream so the ack goes out only after COMMIT.
//
// While one batch commits, new reports queue up and form the next batch, so batches grow with load
// without any artificial delay (see FACTS.md: one report per transaction caps at a few thousand/s).
//
// An inventory's work that needs no writer (HostStore::PrepareReport: for SQLite the diff
// against the stored inventory and its compression, ~200 ms for 45,000 packages) runs on a second
// thread, the preparer, while the writer goes on committing other agents' reports. The agent's
// own later reports wait behind its inventory, so each agent's reports still commit in order.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

#include "store/host_store.hpp"

namespace dozor::server {

struct ReportWriterOptions {
  size_t max_batch = 512;
  size_t max_queue = 200000;  // reports waiting; beyond this Submit refuses (backpressure)
  // Wire bytes waiting, all streams together: bounds the server's memory whatever the number of
  // agents (each stream is bounded too, see IngestOptions). Beyond it Submit refuses.
  size_t max_queue_bytes = 256 * 1024 * 1024;
  // Inventories in one batch, by wire bytes (at least one is always taken). An inventory commit is
  // thousands of rows; the rest of the queue waits behind it, so one agent's large inventories
  // are spread over batches and other agents' reports are interleaved between them.
  size_t max_inventory_bytes_per_batch = 4 * 1024 * 1024;
  // Freed heap is handed back to the kernel (glibc keeps it mapped otherwise, and RSS after a flood
  // of large messages would stay at its peak) after a batch of at least this many wire bytes, or
  // once refused messages of that many bytes were freed since the last release.
  size_t release_memory_after_bytes = 4 * 1024 * 1024;
  // Releases for refused messages are at most this often; an idle writer wakes this often to do
  // one, so it happens within this bound even when no report arrives.
  int64_t release_memory_every_ms = 1000;
  // Inventories are prepared on the preparer thread (off: the commit prepares them itself).
  bool prepare_inventories = true;
  // Tests: runs on the preparer thread before each preparation (to hold one back on purpose).
  std::function<void(const IncomingReport&)> before_preparing;
};

// Upper bounds (seconds) of the ingest latency histogram: a report's time from its hand-over to
// the writer to its batch's commit (the part of an agent's wait for its ack the server decides).
inline constexpr std::array<double, 10> kIngestLatencyBounds = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                                0.25,  0.5,  1.0,   2.5,  10.0};

struct ReportWriterStats {
  uint64_t committed_batches = 0;
  uint64_t committed_reports = 0;
  uint64_t failed_batches = 0;
  uint64_t memory_releases = 0;
  // Now: reports and wire bytes waiting for the writer.
  uint64_t queued_reports = 0;
  uint64_t queued_bytes = 0;
  // Committed reports by latency: latency_buckets[i] counts those at or under
  // kIngestLatencyBounds[i] (cumulative, as Prometheus wants), then the sum of all latencies.
  std::array<uint64_t, kIngestLatencyBounds.size()> latency_buckets{};
  double latency_seconds_sum = 0;
  double commit_seconds_sum = 0;  // time spent in the store's commit, all batches
};

// Batch formation as a pure decision (tested on its own): which of the first queued reports go
// into the next batch. Arrival order, except that once the batch's inventory budget is spent an
// agent's later reports stay queued, so its own order is kept and other agents' reports are not
// stuck behind one agent's stream of large inventories.
struct BatchCandidate {
  std::string_view agent_id;
  bool inventory = false;
  size_t wire_bytes = 0;
  bool ready = true;  // false while being prepared: neither it nor its agent's later reports go
};
[[nodiscard]] std::vector<bool> PickFairBatch(const std::vector<BatchCandidate>& queued,
                                              size_t max_batch,
                                              size_t max_inventory_bytes_per_batch);

class ReportWriter {
 public:
  // Called on the writer thread once the batch holding the report committed (or failed).
  using Completion = std::function<void(const Result<CommitResult>&)>;

  ReportWriter(HostStore& hosts, ReportWriterOptions options = {});
  ~ReportWriter();
  ReportWriter(const ReportWriter&) = delete;
  ReportWriter& operator=(const ReportWriter&) = delete;

  void Start();
  // Commits what is queued, then stops the thread.
  void Stop();

  // false if the queue is full or the writer is stopped; `done` is then not called.
  bool Submit(IncomingReport report, Completion done);

  // Any thread: a refused message of `bytes` wire bytes was (or is about to be) freed. Counted
  // for the writer thread, the one thread that releases freed memory (see ReportWriterOptions).
  void NoteRefusedMessage(size_t bytes);

  [[nodiscard]] ReportWriterStats Stats() const;

 private:
  // An inventory waiting for the preparer. The report waits here, on the heap, while the
  // preparer reads it: the queue moves its Pending around as batches are taken.
  struct Preparation {
    IncomingReport report;
    std::shared_ptr<const PreparedReport> prepared;
    bool done = false;  // guarded by mutex_
  };
  struct Pending {
    IncomingReport report;  // while preparing: only its agent_id and wire_bytes
    Completion done;
    std::chrono::steady_clock::time_point queued_at;
    std::shared_ptr<Preparation> preparation;  // null once prepared, or never to be
  };
  void Run();
  void RunPreparer();
  // Commits `batch` and completes each report; returns the batch's wire bytes.
  size_t CommitBatch(std::vector<Pending>& batch, std::vector<IncomingReport>& reports);
  // Writer thread, after each batch (0 bytes after an idle wait).
  void MaybeReleaseMemory(size_t batch_bytes);

  HostStore& hosts_;
  ReportWriterOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // Moves the next batch (PickFairBatch) from the queue into `batch`.
  void TakeBatchLocked(std::vector<Pending>& batch);

  std::deque<Pending> queue_;
  std::deque<std::shared_ptr<Preparation>> to_prepare_;
  std::condition_variable prepare_wake_;
  // Bumped by every change that may make a report takeable (a submit, a preparation done, Stop):
  // a writer that found nothing to take waits for the next one instead of rescanning.
  uint64_t generation_ = 0;
  size_t queued_bytes_ = 0;
  bool stopping_ = false;
  bool running_ = false;
  ReportWriterStats stats_;
  std::atomic<size_t> refused_bytes_since_release_{0};
  std::chrono::steady_clock::time_point last_refused_release_{};  // writer thread only
  std::thread thread_;
  std::thread preparer_;
};

}  // namespace dozor::server
