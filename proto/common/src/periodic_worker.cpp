#include "dozor/common/periodic_worker.hpp"

#include <utility>

namespace dozor {

PeriodicWorker::PeriodicWorker(std::chrono::milliseconds period, std::function<void()> task)
    : period_(period), task_(std::move(task)) {}

PeriodicWorker::~PeriodicWorker() { Stop(); }

void PeriodicWorker::Start() {
  std::lock_guard lock(mutex_);
  if (running_) return;
  running_ = true;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

bool PeriodicWorker::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return false;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  running_ = false;
  return true;
}

void PeriodicWorker::Run() {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period_, [this] { return stopping_; })) {
    lock.unlock();
    task_();
    lock.lock();
  }
}

}  // namespace dozor
