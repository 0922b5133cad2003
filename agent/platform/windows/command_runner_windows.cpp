// SystemCommandRunner on Windows: CreateProcessW without a shell, the arguments quoted the way the
// C runtime splits them, stdout through a pipe read on a thread, stdin and stderr on NUL, no
// window, and the program with everything it starts in a job object that kills them all on
// timeout (and when the job handle closes).
#include "platform/command_runner.hpp"

#include <windows.h>

#include <algorithm>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/windows/wide_text.hpp"
#include "platform/windows/win32_handles.hpp"

namespace dozor::agent {
namespace {

using platform::UniqueHandle;
using platform::Widen;
using platform::WindowsErrorMessage;

constexpr size_t kMaxStdoutBytes = 16 * 1024 * 1024;
// CreateProcessW's limit for lpCommandLine, terminating NUL included.
constexpr size_t kMaxCommandLineChars = 32767;
// How long a killed program and the stdout reader get to finish before they are given up on.
constexpr DWORD kKillGraceMs = 5000;
constexpr DWORD kCancelGraceMs = 1000;
constexpr DWORD kReaderStackBytes = 256 * 1024;

bool IsFile(const std::wstring& path) {
  const DWORD attributes = ::GetFileAttributesW(path.c_str());
  return attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY) == 0;
}

std::wstring Lowered(std::wstring text) {
  std::transform(text.begin(), text.end(), text.begin(), [](wchar_t c) {
    return c >= L'A' && c <= L'Z' ? static_cast<wchar_t>(c - L'A' + L'a') : c;
  });
  return text;
}

// The folder this executable is in ("C:\Program Files\Dozor"): tools shipped with the agent.
std::wstring ProgramFolder() {
  std::wstring path(MAX_PATH, L'\0');
  while (true) {
    const DWORD length =
        ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    if (length == 0) {
      return {};
    }
    if (length < path.size()) {
      path.resize(length);
      break;
    }
    if (path.size() >= kMaxCommandLineChars) {
      return {};
    }
    path.resize(path.size() * 2);
  }
  const size_t slash = path.find_last_of(L"\\/");
  return slash == std::wstring::npos ? std::wstring() : path.substr(0, slash);
}

std::wstring SystemFolder() {
  wchar_t folder[MAX_PATH] = {};
  const UINT length = ::GetSystemDirectoryW(folder, MAX_PATH);
  return length == 0 || length >= MAX_PATH ? std::wstring() : std::wstring(folder, length);
}

std::vector<std::wstring> PathFolders() {
  std::vector<std::wstring> folders;
  const DWORD size = ::GetEnvironmentVariableW(L"PATH", nullptr, 0);
  if (size == 0) {
    return folders;
  }
  std::wstring path(size, L'\0');
  const DWORD length = ::GetEnvironmentVariableW(L"PATH", path.data(), size);
  path.resize(std::min<DWORD>(length, size));
  size_t start = 0;
  while (start <= path.size()) {
    const size_t end = std::min(path.find(L';', start), path.size());
    std::wstring folder = path.substr(start, end - start);
    folder.erase(std::remove(folder.begin(), folder.end(), L'"'), folder.end());
    if (!folder.empty()) {
      folders.push_back(std::move(folder));
    }
    start = end + 1;
  }
  return folders;
}

// "smartctl" -> the first existing smartctl.exe (or smartctl) in the agent's folder, System32,
// then PATH. The current directory is not searched: it is whatever folder the agent was started
// from, and a program planted there would run as LocalSystem. A name with a folder is taken as is.
std::optional<std::wstring> FindProgram(const std::wstring& program) {
  const size_t separator = program.find_last_of(L"\\/:");
  const std::wstring file_name =
      separator == std::wstring::npos ? program : program.substr(separator + 1);
  std::vector<std::wstring> names;
  if (file_name.find(L'.') == std::wstring::npos) {
    names.push_back(program + L".exe");
  }
  names.push_back(program);
  if (separator != std::wstring::npos) {
    for (const std::wstring& name : names) {
      if (IsFile(name)) {
        return name;
      }
    }
    return std::nullopt;
  }
  std::vector<std::wstring> folders = {ProgramFolder(), SystemFolder()};
  for (std::wstring& folder : PathFolders()) {
    folders.push_back(std::move(folder));
  }
  for (const std::wstring& folder : folders) {
    if (folder.empty()) {
      continue;
    }
    const bool has_separator = folder.back() == L'\\' || folder.back() == L'/';
    for (const std::wstring& name : names) {
      std::wstring candidate = folder + (has_separator ? L"" : L"\\") + name;
      if (IsFile(candidate)) {
        return candidate;
      }
    }
  }
  return std::nullopt;
}

// One argument as the Microsoft C runtime's command-line parser reads it back: quoted when it
// has blanks or quotes (or is empty), a quote escaped as \", and backslashes doubled only where
// they precede a quote.
void AppendQuoted(const std::wstring& argument, std::wstring* line) {
  if (!argument.empty() && argument.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
    line->append(argument);
    return;
  }
  line->push_back(L'"');
  for (auto it = argument.begin();; ++it) {
    size_t backslashes = 0;
    while (it != argument.end() && *it == L'\\') {
      ++it;
      ++backslashes;
    }
    if (it == argument.end()) {
      line->append(backslashes * 2, L'\\');  // the closing quote follows
      break;
    }
    if (*it == L'"') {
      line->append(backslashes * 2 + 1, L'\\');
    } else {
      line->append(backslashes, L'\\');
    }
    line->push_back(*it);
  }
  line->push_back(L'"');
}

// The stdout reader's state, shared with its thread: if the thread ever has to be abandoned (a
// pipe that neither closes nor cancels), it still owns valid memory until it ends.
struct StdoutReader {
  UniqueHandle pipe;
  UniqueHandle too_large;  // set when the output passes kMaxStdoutBytes
  std::string text;
  bool exceeded = false;
  DWORD error = 0;
};

// A plain Win32 thread rather than std::thread: a thread blocked in ReadFile on a pipe is only
// released by CancelSynchronousIo, which needs its handle.
DWORD WINAPI ReadStdout(void* parameter) {
  const std::unique_ptr<std::shared_ptr<StdoutReader>> owner(
      static_cast<std::shared_ptr<StdoutReader>*>(parameter));
  StdoutReader& reader = **owner;
  std::vector<char> buffer(64 * 1024);
  while (true) {
    DWORD read = 0;
    if (!::ReadFile(reader.pipe.get(), buffer.data(), static_cast<DWORD>(buffer.size()), &read,
                    nullptr)) {
      const DWORD error = ::GetLastError();
      if (error != ERROR_BROKEN_PIPE) {  // ERROR_BROKEN_PIPE: every writer closed, the end
        reader.error = error;
      }
      break;
    }
    if (reader.text.size() + read > kMaxStdoutBytes) {
      reader.exceeded = true;
      ::SetEvent(reader.too_large.get());
      break;
    }
    try {
      reader.text.append(buffer.data(), read);
    } catch (const std::bad_alloc&) {
      reader.error = ERROR_NOT_ENOUGH_MEMORY;
      break;
    }
  }
  return 0;
}

// STARTUPINFOEX's attribute list, deleted with the object.
class AttributeList {
 public:
  AttributeList() {
    SIZE_T size = 0;
    ::InitializeProcThreadAttributeList(nullptr, 1, 0, &size);
    storage_.resize(size);
    list_ = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(storage_.data());
    if (size == 0 || !::InitializeProcThreadAttributeList(list_, 1, 0, &size)) {
      list_ = nullptr;
    }
  }
  ~AttributeList() {
    if (list_ != nullptr) {
      ::DeleteProcThreadAttributeList(list_);
    }
  }
  AttributeList(const AttributeList&) = delete;
  AttributeList& operator=(const AttributeList&) = delete;
  [[nodiscard]] LPPROC_THREAD_ATTRIBUTE_LIST get() const { return list_; }

 private:
  std::vector<std::byte> storage_;
  LPPROC_THREAD_ATTRIBUTE_LIST list_ = nullptr;
};

// A job that kills its processes when its last handle closes, and lets none of them wait on a
// crash dialog. Empty when the system refuses one.
UniqueHandle MakeKillOnCloseJob() {
  UniqueHandle job(::CreateJobObjectW(nullptr, nullptr));
  if (!job.valid()) {
    return job;
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits = {};
  limits.BasicLimitInformation.LimitFlags =
      JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
  if (!::SetInformationJobObject(job.get(), JobObjectExtendedLimitInformation, &limits,
                                 sizeof(limits))) {
    job.Reset();
  }
  return job;
}

// Milliseconds left before `deadline` (GetTickCount64 time), as a wait timeout.
DWORD Remaining(ULONGLONG deadline) {
  const ULONGLONG now = ::GetTickCount64();
  return now >= deadline ? 0
                         : static_cast<DWORD>(std::min<ULONGLONG>(deadline - now, INFINITE - 1));
}

UniqueHandle OpenNul(DWORD access) {
  SECURITY_ATTRIBUTES inheritable = {sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
  return UniqueHandle(::CreateFileW(L"NUL", access, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                    &inheritable, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
}

class RunningCommand {
 public:
  RunningCommand(std::string name, int timeout_ms)
      : name_(std::move(name)), timeout_ms_(timeout_ms) {}
  ~RunningCommand() {
    if (process_.valid() && !finished_) {
      Kill();
    }
    if (reader_thread_.valid()) {
      StopReader();
    }
  }
  RunningCommand(const RunningCommand&) = delete;
  RunningCommand& operator=(const RunningCommand&) = delete;

  Status Start(const std::wstring& program, std::wstring command_line);
  Result<CommandOutput> Wait();

 private:
  Error TimedOut() const {
    return MakeError(ErrorCode::kUnavailable,
                     name_ + ": timed out after " + std::to_string(timeout_ms_) + " ms");
  }
  void Kill();
  void StopReader();

  std::string name_;
  int timeout_ms_;
  ULONGLONG deadline_ = 0;
  UniqueHandle job_;
  UniqueHandle process_;
  UniqueHandle reader_thread_;
  std::shared_ptr<StdoutReader> reader_;
  bool finished_ = false;
};

Status RunningCommand::Start(const std::wstring& program, std::wstring command_line) {
  deadline_ = ::GetTickCount64() + static_cast<ULONGLONG>(std::max(timeout_ms_, 0));
  reader_ = std::make_shared<StdoutReader>();
  reader_->too_large.Reset(::CreateEventW(nullptr, TRUE, FALSE, nullptr));
  UniqueHandle stdout_write;
  // Neither end inheritable at first; only the child's end is made so below, and the handle list
  // hands the child exactly its three handles, so a program started at the same time by another
  // thread cannot keep the pipe open.
  if (!reader_->too_large.valid() ||
      !::CreatePipe(reader_->pipe.Put(), stdout_write.Put(), nullptr, 0) ||
      !::SetHandleInformation(stdout_write.get(), HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT)) {
    return MakeError(ErrorCode::kInternal,
                     name_ + ": cannot create a pipe: " + WindowsErrorMessage(::GetLastError()));
  }
  UniqueHandle stdin_null = OpenNul(GENERIC_READ);
  UniqueHandle stderr_null = OpenNul(GENERIC_WRITE);
  AttributeList attributes;
  HANDLE inherited[] = {stdin_null.get(), stdout_write.get(), stderr_null.get()};
  if (!stdin_null.valid() || !stderr_null.valid() || attributes.get() == nullptr ||
      !::UpdateProcThreadAttribute(attributes.get(), 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
                                   inherited, sizeof(inherited), nullptr, nullptr)) {
    return MakeError(ErrorCode::kInternal, name_ + ": cannot prepare the standard handles: " +
                                               WindowsErrorMessage(::GetLastError()));
  }
  STARTUPINFOEXW startup = {};
  startup.StartupInfo.cb = sizeof(startup);
  startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  startup.StartupInfo.hStdInput = stdin_null.get();
  startup.StartupInfo.hStdOutput = stdout_write.get();
  startup.StartupInfo.hStdError = stderr_null.get();
  startup.lpAttributeList = attributes.get();

  // Suspended until it is in the job, so nothing it starts escapes the job. The environment is
  // the agent's: unlike LC_ALL on Linux, no variable switches a Windows program's language (that
  // follows the account's UI language), so parsers must not depend on translated text.
  PROCESS_INFORMATION started = {};
  if (!::CreateProcessW(program.c_str(), command_line.data(), nullptr, nullptr,
                        /*bInheritHandles=*/TRUE,
                        CREATE_NO_WINDOW | CREATE_SUSPENDED | EXTENDED_STARTUPINFO_PRESENT, nullptr,
                        nullptr, &startup.StartupInfo, &started)) {
    const DWORD error = ::GetLastError();
    const ErrorCode code = error == ERROR_FILE_NOT_FOUND || error == ERROR_PATH_NOT_FOUND
                               ? ErrorCode::kNotFound
                               : ErrorCode::kInternal;
    return MakeError(code, name_ + ": cannot start: " + WindowsErrorMessage(error));
  }
  process_.Reset(started.hProcess);
  UniqueHandle main_thread(started.hThread);
  // The child has its copies; ours must go, or the pipe never reports the end of the output.
  stdout_write.Reset();
  stdin_null.Reset();
  stderr_null.Reset();

  job_ = MakeKillOnCloseJob();
  if (job_.valid() && !::AssignProcessToJobObject(job_.get(), process_.get())) {
    // Windows 7 cannot nest jobs: an agent already in a job (started by some service wrappers)
    // runs its commands without one, and a timeout then kills only the program itself.
    job_.Reset();
  }

  auto* thread_owner = new std::shared_ptr<StdoutReader>(reader_);
  reader_thread_.Reset(::CreateThread(nullptr, kReaderStackBytes, ReadStdout, thread_owner,
                                      STACK_SIZE_PARAM_IS_A_RESERVATION, nullptr));
  if (!reader_thread_.valid()) {
    delete thread_owner;
    const DWORD error = ::GetLastError();
    Kill();
    return MakeError(ErrorCode::kInternal,
                     name_ + ": cannot start the output reader: " + WindowsErrorMessage(error));
  }
  if (::ResumeThread(main_thread.get()) == static_cast<DWORD>(-1)) {
    const DWORD error = ::GetLastError();
    Kill();
    return MakeError(ErrorCode::kInternal,
                     name_ + ": cannot resume: " + WindowsErrorMessage(error));
  }
  return OkStatus();
}

Result<CommandOutput> RunningCommand::Wait() {
  const HANDLE events[] = {process_.get(), reader_->too_large.get()};
  const DWORD woke = ::WaitForMultipleObjects(2, events, FALSE, Remaining(deadline_));
  if (woke == WAIT_OBJECT_0 + 1) {
    Kill();
    return MakeError(ErrorCode::kResourceExhausted,
                     name_ + ": output larger than " + std::to_string(kMaxStdoutBytes) + " bytes");
  }
  if (woke == WAIT_TIMEOUT) {
    Kill();
    return TimedOut();
  }
  if (woke != WAIT_OBJECT_0) {
    const DWORD error = ::GetLastError();
    Kill();
    return MakeError(ErrorCode::kInternal, name_ + ": wait failed: " + WindowsErrorMessage(error));
  }
  finished_ = true;
  // The program has exited; the output ends when every holder of the pipe has closed it. A
  // program it started in the background may still hold it: bounded by the same deadline.
  if (::WaitForSingleObject(reader_thread_.get(), Remaining(deadline_)) != WAIT_OBJECT_0) {
    Kill();
    return TimedOut();
  }
  reader_thread_.Reset();
  if (reader_->exceeded) {
    return MakeError(ErrorCode::kResourceExhausted,
                     name_ + ": output larger than " + std::to_string(kMaxStdoutBytes) + " bytes");
  }
  if (reader_->error != 0) {
    return MakeError(ErrorCode::kInternal,
                     name_ + ": cannot read its output: " + WindowsErrorMessage(reader_->error));
  }
  DWORD exit_code = 0;
  if (!::GetExitCodeProcess(process_.get(), &exit_code)) {
    return MakeError(ErrorCode::kInternal,
                     name_ + ": no exit code: " + WindowsErrorMessage(::GetLastError()));
  }
  CommandOutput output;
  output.exit_code = static_cast<int>(exit_code);  // NTSTATUS crash codes come out negative
  output.stdout_text = std::move(reader_->text);
  return output;
}

void RunningCommand::Kill() {
  if (job_.valid()) {
    ::TerminateJobObject(job_.get(), 1);
  } else if (!finished_) {
    ::TerminateProcess(process_.get(), 1);
  }
  ::WaitForSingleObject(process_.get(), kKillGraceMs);
  finished_ = true;
}

void RunningCommand::StopReader() {
  // After a kill the pipe's writers are gone and the reader sees the end; a writer outside the
  // job (none is expected) is cut off by cancelling the read. A reader that still does not end
  // is left behind: it owns its state (StdoutReader) and ends when the pipe finally closes.
  if (::WaitForSingleObject(reader_thread_.get(), kKillGraceMs) != WAIT_OBJECT_0) {
    ::CancelSynchronousIo(reader_thread_.get());
    ::WaitForSingleObject(reader_thread_.get(), kCancelGraceMs);
  }
  reader_thread_.Reset();
}

Result<CommandOutput> RunCommand(const std::vector<std::string>& argv, int timeout_ms) {
  if (argv.empty() || argv[0].empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "empty command");
  }
  for (const std::string& argument : argv) {
    if (argument.find('\0') != std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, argv[0] + ": an argument holds a NUL byte");
    }
  }
  const std::optional<std::wstring> program = FindProgram(Widen(argv[0]));
  if (!program) {
    return MakeError(ErrorCode::kNotFound, argv[0] + ": program not found");
  }
  // CreateProcess runs a .bat or .cmd through cmd.exe, which re-parses the arguments with its
  // own rules: no quoting makes them safe there.
  const std::wstring lowered = Lowered(*program);
  if (lowered.ends_with(L".bat") || lowered.ends_with(L".cmd")) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        argv[0] + ": batch files are not run (their arguments cannot be quoted safely)");
  }
  if (program->find(L'"') != std::wstring::npos) {
    return MakeError(ErrorCode::kInvalidArgument, argv[0] + ": a program path cannot hold quotes");
  }
  // The program name is parsed without escapes (up to the next quote), so it is only quoted.
  std::wstring command_line = L"\"" + *program + L"\"";
  for (size_t i = 1; i < argv.size(); ++i) {
    command_line.push_back(L' ');
    AppendQuoted(Widen(argv[i]), &command_line);
  }
  if (command_line.size() >= kMaxCommandLineChars) {
    return MakeError(ErrorCode::kInvalidArgument, argv[0] + ": command line too long");
  }
  RunningCommand command(argv[0], timeout_ms);
  DOZOR_RETURN_IF_ERROR(command.Start(*program, std::move(command_line)));
  return command.Wait();
}

}  // namespace

CommandRunner SystemCommandRunner(int timeout_ms) {
  return [timeout_ms](const std::vector<std::string>& argv) -> Result<CommandOutput> {
    try {
      return RunCommand(argv, timeout_ms);
    } catch (const std::exception& e) {
      return MakeError(ErrorCode::kInternal, argv.empty()
                                                 ? std::string("command runner: ") + e.what()
                                                 : argv[0] + ": " + e.what());
    }
  };
}

}  // namespace dozor::agent
