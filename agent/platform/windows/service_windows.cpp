// The process set-up and stop requests on Windows: error-mode and DLL-search hardening, the
// environment, and one stop event fed by the console control handler and by the service control
// handler (stop_request.hpp).
#include "platform/service.hpp"

#include <windows.h>

#include <cstdlib>
#include <thread>

#include "platform/windows/stop_request.hpp"
#include "platform/windows/win32_handles.hpp"

namespace dozor::agent::platform {
namespace {

// After a console close or a system shutdown event, Windows ends the process as soon as the
// handler returns (and at the latest after 5 s for a close, 20 s for a shutdown). Holding the
// handler lets main() stop the agent and flush its spool first; when main returns, the process
// ends and this wait with it.
constexpr DWORD kConsoleCloseGraceMs = 4500;

// The process-wide stop event: manual-reset, so a request is never lost whichever thread waits
// for it and whenever it starts waiting. Created on first use (thread-safe static); null only
// when the system has no memory for an event, in which case stop requests cannot be delivered.
HANDLE StopEvent() {
  static const HANDLE event = ::CreateEventW(nullptr, /*bManualReset=*/TRUE,
                                             /*bInitialState=*/FALSE, nullptr);
  return event;
}

BOOL WINAPI ConsoleControlHandler(DWORD control) {
  switch (control) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
      RequestStop();
      return TRUE;
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      RequestStop();
      ::Sleep(kConsoleCloseGraceMs);
      return TRUE;
    default:
      // CTRL_LOGOFF_EVENT: a user logging off is no reason for a machine's agent to stop (a
      // console-mode agent started by that user ends with the session anyway).
      return FALSE;
  }
}

}  // namespace

void RequestStop() {
  if (HANDLE event = StopEvent(); event != nullptr) {
    ::SetEvent(event);
  }
}

void PrepareProcess() {
  // A headless agent must never wait on a dialog box: no "insert a disk" prompt for an empty card
  // reader a collector touches, no Windows Error Reporting window after a crash (the service
  // manager restarts the agent instead).
  const UINT previous_mode = ::SetErrorMode(0);
  ::SetErrorMode(previous_mode | SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX |
                 SEM_NOOPENFILEERRORBOX);
  // DLL planting: the agent runs as LocalSystem, often started from a folder users can write to
  // (the current directory of whoever ran it). Take the current directory out of the DLL search
  // and put it last in SearchPath.
  ::SetDllDirectoryW(L"");
  ::SetSearchPathMode(BASE_SEARCH_PATH_ENABLE_SAFE_SEARCHMODE | BASE_SEARCH_PATH_PERMANENT);
  // End the process on heap corruption instead of running on with it.
  ::HeapSetInformation(nullptr, HeapEnableTerminationOnCorruption, nullptr, 0);
  // The agent's text is UTF-8; a console shows it right only with the UTF-8 code page. Without a
  // console (the service) this fails, harmlessly.
  ::SetConsoleOutputCP(CP_UTF8);
  // No umask here: on Windows a new file gets the access list inherited from its folder, and the
  // installer gives the state folder one that admits only SYSTEM and Administrators. The C heap
  // (the process heap, with the low-fragmentation front end) needs no tuning for a small process.
}

void SetEnvironmentDefault(const char* name, const char* value) {
  if (std::getenv(name) == nullptr) {
    // _putenv_s updates both the C runtime's copy and the process environment block, so
    // programs the command runner starts see the value too.
    ::_putenv_s(name, value);
  }
}

struct StopRequestWatcher::State {
  UniqueHandle finished;  // set by the destructor: stop watching without calling on_stop
  std::thread thread;
};

StopRequestWatcher::StopRequestWatcher(std::function<void()> on_stop)
    : state_(std::make_unique<State>()) {
  state_->finished.Reset(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  const HANDLE stop = StopEvent();
  if (!state_->finished.valid() || stop == nullptr) {
    // Out of memory for two events at start: no watcher (a thread that could not be told to end
    // would outlive `on_stop`'s target). The process can still be ended from outside.
    return;
  }
  // Ctrl+C is ignored in a process started with CREATE_NEW_PROCESS_GROUP unless re-enabled.
  ::SetConsoleCtrlHandler(nullptr, FALSE);
  ::SetConsoleCtrlHandler(ConsoleControlHandler, TRUE);
  state_->thread =
      std::thread([finished = state_->finished.get(), stop, on_stop = std::move(on_stop)] {
        // WaitForMultipleObjects reports the lowest signalled index, and `finished` is first: a
        // watcher being destroyed never calls on_stop, even when a stop request came at that
        // moment.
        const HANDLE events[2] = {finished, stop};
        if (::WaitForMultipleObjects(2, events, FALSE, INFINITE) == WAIT_OBJECT_0 + 1) {
          on_stop();
        }
      });
}

StopRequestWatcher::~StopRequestWatcher() {
  if (state_->thread.joinable()) {
    ::SetConsoleCtrlHandler(ConsoleControlHandler, FALSE);
    ::SetEvent(state_->finished.get());
    state_->thread.join();
  }
}

}  // namespace dozor::agent::platform
