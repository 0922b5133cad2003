#include "core/deadline_runner.hpp"

#include <condition_variable>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

namespace dozor::agent {
namespace {
using SteadyClock = std::chrono::steady_clock;
}  // namespace

// Shared with every job thread, so a thread left behind still has somewhere to say it finished.
struct DeadlineRunner::Shared {
  struct Running {
    std::chrono::milliseconds deadline{0};
    std::optional<SteadyClock::time_point> missed_at;  // set once the caller stopped waiting
  };
  struct Call {
    bool done = false;
    Status status;
  };

  mutable std::mutex mutex;
  std::condition_variable finished;
  std::map<std::string, Running> running;  // one entry per name while its job runs
};

DeadlineRunner::DeadlineRunner() : shared_(std::make_shared<Shared>()) {}

DeadlineRunner::~DeadlineRunner() = default;

std::string FormatDeadline(std::chrono::milliseconds deadline) {
  if (deadline.count() % 1000 == 0) {
    return std::to_string(deadline.count() / 1000) + " s";
  }
  return std::to_string(deadline.count()) + " ms";
}

Status DeadlineRunner::Run(const std::string& name, std::chrono::milliseconds deadline,
                           std::function<Status()> job) {
  auto call = std::make_shared<Shared::Call>();
  {
    std::lock_guard lock(shared_->mutex);
    if (auto found = shared_->running.find(name); found != shared_->running.end()) {
      std::string since;
      if (found->second.missed_at) {
        const auto overdue = std::chrono::duration_cast<std::chrono::seconds>(
            SteadyClock::now() - *found->second.missed_at);
        since = " (it missed its deadline of " + FormatDeadline(found->second.deadline) + " " +
                std::to_string(overdue.count()) + " s ago)";
      }
      return MakeError(ErrorCode::kUnavailable, name + " is still running" + since +
                                                    "; not started again until it finishes");
    }
    shared_->running[name] = Shared::Running{deadline, std::nullopt};
  }
  std::thread worker;
  try {
    worker = std::thread([shared = shared_, call, name, job = std::move(job)]() mutable {
      Status status;
      try {
        status = job();
      } catch (const std::exception& error) {
        status = MakeError(ErrorCode::kInternal, name + " threw: " + error.what());
      } catch (...) {
        status = MakeError(ErrorCode::kInternal, name + " threw an unknown exception");
      }
      // What the job holds goes before it is announced finished: a caller that joins sees it gone.
      job = nullptr;
      std::lock_guard lock(shared->mutex);
      shared->running.erase(name);
      call->status = std::move(status);
      call->done = true;
      shared->finished.notify_all();
    });
  } catch (const std::system_error& error) {
    std::lock_guard lock(shared_->mutex);
    shared_->running.erase(name);
    return MakeError(ErrorCode::kResourceExhausted,
                     name + ": cannot start a thread: " + std::string(error.what()));
  }
  std::unique_lock lock(shared_->mutex);
  if (shared_->finished.wait_for(lock, deadline, [&] { return call->done; })) {
    Status status = std::move(call->status);
    lock.unlock();
    worker.join();
    return status;
  }
  shared_->running[name].missed_at = SteadyClock::now();
  lock.unlock();
  worker.detach();
  return MakeError(ErrorCode::kUnavailable,
                   name + " did not finish within " + FormatDeadline(deadline) +
                       "; it is left running and not started again until it finishes");
}

bool DeadlineRunner::IsOverdue(const std::string& name) const {
  std::lock_guard lock(shared_->mutex);
  auto found = shared_->running.find(name);
  return found != shared_->running.end() && found->second.missed_at.has_value();
}

std::vector<std::string> DeadlineRunner::Overdue() const {
  std::lock_guard lock(shared_->mutex);
  std::vector<std::string> out;
  for (const auto& [name, running] : shared_->running) {
    if (running.missed_at) {
      out.push_back(name);
    }
  }
  return out;
}

}  // namespace dozor::agent
