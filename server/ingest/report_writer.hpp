// The single writer: collects reports from every stream and commits them in batches (group
// commit), then reports each outcome to its stream so the ack goes out only after COMMIT.
//
// While one batch commits, new reports queue up and form the next batch, so batches grow with load
// without any artificial delay (see FACTS.md: one report per transaction caps at a few thousand/s).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "store/host_store.hpp"

namespace dozor::server {

struct ReportWriterOptions {
  size_t max_batch = 512;
  size_t max_queue = 200000;  // reports waiting; beyond this Submit refuses (backpressure)
};

struct ReportWriterStats {
  uint64_t committed_batches = 0;
  uint64_t committed_reports = 0;
  uint64_t failed_batches = 0;
};

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

  [[nodiscard]] ReportWriterStats Stats() const;

 private:
  struct Pending {
    IncomingReport report;
    Completion done;
  };
  void Run();

  HostStore& hosts_;
  ReportWriterOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Pending> queue_;
  bool stopping_ = false;
  bool running_ = false;
  ReportWriterStats stats_;
  std::thread thread_;
};

}  // namespace dozor::server
