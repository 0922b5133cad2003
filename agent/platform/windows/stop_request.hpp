// How a stop request reaches the agent on Windows. Two sources ask: the console (Ctrl+C,
// Ctrl+Break, closing the window, system shutdown), which StopRequestWatcher handles itself, and
// the service control manager, whose control handler (SERVICE_CONTROL_STOP, _SHUTDOWN,
// _PRESHUTDOWN) calls RequestStop(). Both set one process-wide manual-reset event, which the
// StopRequestWatcher (platform/service.hpp) waits on and turns into its on_stop call.
#pragma once

namespace dozor::agent::platform {

// Asks the process to stop. Thread-safe and cheap (one SetEvent), so it may be called from a
// service control handler, which must return at once. A request made before a watcher exists is
// kept: the watcher, once constructed, calls on_stop straight away.
void RequestStop();

}  // namespace dozor::agent::platform
