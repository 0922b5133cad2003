// Runs work that may hang (a collector blocked in statvfs on a dead NFS mount, a read of a slow
// /proc file, a stuck subprocess) with a deadline, so the caller always gets an answer in time.
//
// A thread blocked in the kernel cannot be cancelled, so a job that misses its deadline is
// reported as failed and left to finish on its own thread. Until it does, a job of the same name is
// not started again (the caller is told it is still running): a hung collector never piles up
// copies of itself, and the threads left behind are at most one per name.
//
// Thread-safety: Run may be called from any thread. A job must own what it touches (capture by
// value or by shared_ptr), because after a missed deadline it may outlive the call, the caller's
// objects and the DeadlineRunner itself.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "dozor/common/result.hpp"

namespace dozor::agent {

class DeadlineRunner {
 public:
  DeadlineRunner();
  // Does not wait for jobs that missed their deadline: they finish (or not) on their own threads.
  ~DeadlineRunner();
  DeadlineRunner(const DeadlineRunner&) = delete;
  DeadlineRunner& operator=(const DeadlineRunner&) = delete;

  // Runs `job` on a thread of its own and waits for it at most `deadline`.
  // - finished in time: the job's own status (an exception it threw becomes kInternal); its thread
  //   has ended, so everything it wrote is the caller's to read.
  // - missed the deadline: kUnavailable, "<name> did not finish within <deadline> ...".
  // - a job of this name is still running (it missed an earlier deadline): kUnavailable,
  //   "<name> is still running ...", and `job` is not started.
  [[nodiscard]] Status Run(const std::string& name, std::chrono::milliseconds deadline,
                           std::function<Status()> job);

  // Run for a job with a result: the value only when the job finished in time.
  template <typename T>
  [[nodiscard]] Result<T> RunFor(const std::string& name, std::chrono::milliseconds deadline,
                                 std::function<Result<T>()> job) {
    auto slot = std::make_shared<std::optional<Result<T>>>();
    Status status = Run(name, deadline, [slot, job = std::move(job)]() -> Status {
      slot->emplace(job());
      return (*slot)->ok() ? OkStatus() : Status((*slot)->error());
    });
    if (!status.ok()) {
      return status.error();
    }
    return std::move(**slot);
  }

  // Whether a job of this name missed its deadline and has not finished yet.
  [[nodiscard]] bool IsOverdue(const std::string& name) const;
  // The names of all such jobs.
  [[nodiscard]] std::vector<std::string> Overdue() const;

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

// "300 s", "250 ms", for messages about deadlines.
[[nodiscard]] std::string FormatDeadline(std::chrono::milliseconds deadline);

}  // namespace dozor::agent
