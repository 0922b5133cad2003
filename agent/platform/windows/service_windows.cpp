// The process set-up and stop requests on Windows: error-mode and DLL-search hardening, the
// environment, and one stop event fed by the console control handler and by the service control
// handler (stop_request.hpp).
#include "platform/service.hpp"

#include <windows.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
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

// --- The service control manager ----------------------------------------------------------------

// Restart after a crash or a failed exit: 10 s, 60 s, then every 5 minutes; the count starts again
// after a day without failures. A restart loop of an agent that cannot start (a broken config) is
// thus slow, and its reason is in the agent's log (%ProgramData%\Dozor\logs) and in
// `dozor-agent.exe status`.
constexpr DWORD kRestartDelaysMs[] = {10'000, 60'000, 300'000};
constexpr DWORD kFailureCountResetSeconds = 24 * 60 * 60;
// How long the manager should wait for a stop before it considers the service hung: the agent
// closes its stream and its spool within a few seconds (the longest step is a collector command
// being ended).
constexpr DWORD kStopWaitHintMs = 30'000;

struct ServiceState {
  std::mutex mutex;  // the control handler (the dispatcher's thread) and ServiceMain both report
  const std::function<int(bool)>* agent = nullptr;
  SERVICE_STATUS_HANDLE status_handle = nullptr;
  SERVICE_STATUS status{};
  int exit_code = 0;
};
ServiceState g_service;  // one service per process; touched by the dispatcher's threads only

void ReportServiceStatus(DWORD state, DWORD wait_hint_ms = 0) {
  std::lock_guard lock(g_service.mutex);
  // Once stopped, stays stopped: a shutdown control racing the agent's own exit must not report
  // "stop pending" after "stopped".
  if (g_service.status.dwCurrentState == SERVICE_STOPPED && state != SERVICE_STOPPED &&
      g_service.status.dwServiceType != 0) {
    return;
  }
  g_service.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  g_service.status.dwCurrentState = state;
  g_service.status.dwControlsAccepted =
      state == SERVICE_RUNNING
          ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PRESHUTDOWN
          : 0;
  g_service.status.dwWaitHint = wait_hint_ms;
  if (state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING) {
    ++g_service.status.dwCheckPoint;
  } else {
    g_service.status.dwCheckPoint = 0;
  }
  ::SetServiceStatus(g_service.status_handle, &g_service.status);
}

DWORD WINAPI ServiceControlHandler(DWORD control, DWORD /*event_type*/, LPVOID /*event_data*/,
                                   LPVOID /*context*/) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
    case SERVICE_CONTROL_PRESHUTDOWN:
      ReportServiceStatus(SERVICE_STOP_PENDING, kStopWaitHintMs);
      RequestStop();
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

// Best effort: the recovery actions are the service's own configuration, and the MSI tables
// wixl writes have no place for them (no MsiServiceConfigFailureActions), so the service sets them
// each time it starts. Failing to (a locked-down manager) does not stop the agent.
void ConfigureRecoveryActions(const wchar_t* service_name) {
  ScHandle manager(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!manager.valid()) return;
  ScHandle service(
      ::OpenServiceW(manager.get(), service_name, SERVICE_CHANGE_CONFIG | SERVICE_START));
  if (!service.valid()) return;
  SC_ACTION actions[std::size(kRestartDelaysMs)];
  for (size_t i = 0; i < std::size(kRestartDelaysMs); ++i) {
    actions[i].Type = SC_ACTION_RESTART;
    actions[i].Delay = kRestartDelaysMs[i];
  }
  SERVICE_FAILURE_ACTIONSW failure{};
  failure.dwResetPeriod = kFailureCountResetSeconds;
  failure.cActions = static_cast<DWORD>(std::size(actions));
  failure.lpsaActions = actions;
  ::ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS, &failure);
  // Also after a stop with a non-zero exit code, not only after a crash.
  SERVICE_FAILURE_ACTIONS_FLAG on_failed_exit{};
  on_failed_exit.fFailureActionsOnNonCrashFailures = TRUE;
  ::ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &on_failed_exit);
  // Stop late at shutdown (after the user sessions), with the wait hint above.
  SERVICE_PRESHUTDOWN_INFO preshutdown{};
  preshutdown.dwPreshutdownTimeout = kStopWaitHintMs;
  ::ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_PRESHUTDOWN_INFO, &preshutdown);
}

void WINAPI ServiceMain(DWORD argc, LPWSTR* argv) {
  const wchar_t* name = argc > 0 && argv[0] != nullptr ? argv[0] : L"dozor-agent";
  g_service.status_handle = ::RegisterServiceCtrlHandlerExW(name, ServiceControlHandler, nullptr);
  if (g_service.status_handle == nullptr) {
    g_service.exit_code = 1;
    return;
  }
  // Running first, then the recovery actions: a service manager that handles one request at a time
  // (Wine's, and an installer's StartServices waiting for "running") would otherwise hold the
  // configuration change until its start timeout.
  ReportServiceStatus(SERVICE_RUNNING);
  ConfigureRecoveryActions(name);
  g_service.exit_code = (*g_service.agent)(/*as_service=*/true);
  if (g_service.exit_code != 0) {
    // The manager shows this number ("The service terminated with service-specific error N"),
    // and the recovery actions run for it.
    g_service.status.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
    g_service.status.dwServiceSpecificExitCode = static_cast<DWORD>(g_service.exit_code);
  }
  ReportServiceStatus(SERVICE_STOPPED);
}

}  // namespace

int RunAsService(const std::function<int(bool as_service)>& agent) {
  g_service.agent = &agent;
  // The name is ignored for a SERVICE_WIN32_OWN_PROCESS service; the manager passes the real one
  // to ServiceMain.
  wchar_t empty_name[] = L"";
  const SERVICE_TABLE_ENTRYW table[] = {{empty_name, ServiceMain}, {nullptr, nullptr}};
  // Blocks until the service has stopped. Fails at once when the process was not started by the
  // service control manager (a console, a scheduled task, the tests): then it is no service.
  if (::StartServiceCtrlDispatcherW(table)) {
    // The service has stopped and its log is flushed: the process ends now, before the static
    // destructors (gRPC's shutdown joins its threads, which can take a second). An uninstall
    // (msiexec /x) deletes the program right after the stop, and a program still running then is
    // in use: the installer would leave it behind.
    std::fflush(nullptr);
    std::_Exit(g_service.exit_code);
  }
  return agent(/*as_service=*/false);
}

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
