// The agent as a service of its OS: how a stop request reaches it and what the process sets up
// before doing anything (linux/service_linux.cpp: SIGINT/SIGTERM, umask, malloc arenas; a Windows
// service control handler later).
#pragma once

#include <functional>
#include <memory>

namespace dozor::agent::platform {

// New files and directories the process creates are readable by their owner only (identity,
// spool and status hold secrets or host data), and the C heap is set up for a small, mostly idle
// process. Call first thing in main, before any thread starts.
void PrepareProcess();

// Sets an environment variable unless it is already set (a value the operator gave wins). Not
// thread-safe: call before other threads start.
void SetEnvironmentDefault(const char* name, const char* value);

// Calls `on_stop` once, on a dedicated thread, when the OS asks the process to stop (SIGINT or
// SIGTERM on Linux). Construct before starting other threads: they inherit the blocked signals, so
// a stop request never interrupts them. Destroying the watcher stops watching (without calling
// `on_stop`) and joins its thread.
class StopRequestWatcher {
 public:
  explicit StopRequestWatcher(std::function<void()> on_stop);
  ~StopRequestWatcher();
  StopRequestWatcher(const StopRequestWatcher&) = delete;
  StopRequestWatcher& operator=(const StopRequestWatcher&) = delete;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace dozor::agent::platform
