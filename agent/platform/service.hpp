// The agent as a service of its OS: how a stop request reaches it and what the process sets up
// before doing anything (linux/service_linux.cpp: SIGINT/SIGTERM, umask, malloc arenas;
// windows/service_windows.cpp: console control events and the service control manager).
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
// The name the agent's service is registered under (systemd unit, Windows service).
inline constexpr const char* kServiceName = "dozor-agent";

// Runs `agent` (the whole agent; returns the process's exit code) the way the OS's service manager
// expects. Linux: systemd runs the agent as an ordinary process, so `agent()` is called directly.
// Windows: when the service control manager started the process, `agent()` runs as the service
// "dozor-agent": it reports start and stop to the manager, turns its stop, shutdown and
// pre-shutdown controls into stop requests, and sets the service's recovery actions (restart after
// a crash or a failed exit) before reporting running; started from a console, `agent()` is called
// directly. `agent` learns which (true: under a service manager that keeps no output, so it should
// log to a file).
[[nodiscard]] int RunAsService(const std::function<int(bool as_service)>& agent);

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
