// A background pass run on its own thread every period until stopped: flushing aggregated
// events, retention, checkpoints. One place for the thread, its wake-up and its stop, so each
// subsystem with such a pass keeps only the pass itself.
//
// The first run is one period after Start (not at Start). Stop wakes the thread at once instead
// of waiting out the period, lets a run in progress finish, and joins; it does not run the task
// again (a subsystem with a final pass, such as a last flush, does it after Stop returns true).
// Start after Stop starts again.
//
// Thread-safety: Start and Stop are for the owner (not from the task, not racing each other);
// the task runs on the worker's thread, so it must lock whatever it shares. The destructor stops.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace dozor {

class PeriodicWorker {
 public:
  PeriodicWorker(std::chrono::milliseconds period, std::function<void()> task);
  ~PeriodicWorker();
  PeriodicWorker(const PeriodicWorker&) = delete;
  PeriodicWorker& operator=(const PeriodicWorker&) = delete;

  // Starts the thread; does nothing when it runs already.
  void Start();
  // Stops and joins the thread. True when it was running (so a final pass runs once, and only
  // after a real start).
  bool Stop();

 private:
  void Run();

  const std::chrono::milliseconds period_;
  const std::function<void()> task_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool running_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace dozor
