// SystemCommandRunner: posix_spawn without a shell, stdout captured through a
// pipe, stdin and stderr on /dev/null, the whole process group killed when the
// timeout expires, and no capability passed on that the program does not need.
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "platform/command_runner.hpp"
#include "platform/linux/ambient_capabilities_linux.hpp"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace dozor::agent {
namespace {

constexpr size_t kMaxStdoutBytes = 16 * 1024 * 1024;
// Agents often run with a minimal PATH (systemd units); smartctl and friends
// live in sbin.
constexpr std::string_view kExtraSearchDirs[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                                 "/usr/bin",        "/sbin",          "/bin"};

// What a child may keep of the agent's ambient capabilities (systemd's AmbientCapabilities=, all
// inherited across execve): only smartctl needs any, raw disk access for SMART (CAP_SYS_RAWIO:
// SATA/SAS pass-through; CAP_SYS_ADMIN: NVMe admin commands). apt-get, dnf and systemctl read
// nothing that needs a privilege, and must not get the agent's read-any-file capability.
struct ProgramCapabilities {
  std::string_view program;  // file name, wherever it was found
  std::array<int, 2> capabilities;
};
constexpr ProgramCapabilities kProgramCapabilities[] = {
    {"smartctl", {CAP_SYS_RAWIO, CAP_SYS_ADMIN}},
};

std::span<const int> CapabilitiesFor(std::string_view program_path) {
  const size_t slash = program_path.rfind('/');
  const std::string_view name =
      slash == std::string_view::npos ? program_path : program_path.substr(slash + 1);
  for (const auto& entry : kProgramCapabilities) {
    if (entry.program == name) {
      return entry.capabilities;
    }
  }
  return {};
}

bool IsExecutableFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::string> FindProgram(const std::string& program) {
  if (program.find('/') != std::string::npos) {
    if (IsExecutableFile(program)) {
      return program;
    }
    return std::nullopt;
  }
  std::vector<std::string> dirs;
  if (const char* path_env = ::getenv("PATH"); path_env != nullptr) {
    std::string_view rest = path_env;
    while (!rest.empty()) {
      const size_t colon = rest.find(':');
      std::string_view dir = rest.substr(0, colon);
      if (!dir.empty()) {
        dirs.emplace_back(dir);
      }
      rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon + 1);
    }
  }
  for (std::string_view dir : kExtraSearchDirs) {
    dirs.emplace_back(dir);
  }
  for (const std::string& dir : dirs) {
    std::string candidate = dir + "/" + program;
    if (IsExecutableFile(candidate)) {
      return candidate;
    }
  }
  return std::nullopt;
}

// The parent environment with the locale forced to C: parsers expect
// untranslated output.
std::vector<std::string> ChildEnvironment() {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view item = *entry;
    if (item.starts_with("LC_") || item.starts_with("LANG=") || item.starts_with("LANGUAGE=")) {
      continue;
    }
    env.emplace_back(item);
  }
  env.emplace_back("LC_ALL=C");
  env.emplace_back("LANG=C");
  return env;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class SpawnAttributes {
 public:
  SpawnAttributes() {
    ::posix_spawn_file_actions_init(&actions_);
    ::posix_spawnattr_init(&attr_);
  }
  ~SpawnAttributes() {
    ::posix_spawn_file_actions_destroy(&actions_);
    ::posix_spawnattr_destroy(&attr_);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawn_file_actions_t* actions() { return &actions_; }
  posix_spawnattr_t* attr() { return &attr_; }

 private:
  posix_spawn_file_actions_t actions_{};
  posix_spawnattr_t attr_{};
};

int ExitCodeFromWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return WEXITSTATUS(wait_status);
  }
  if (WIFSIGNALED(wait_status)) {
    return 128 + WTERMSIG(wait_status);
  }
  return -1;
}

void KillAndReap(pid_t pid) {
  // The child leads its own process group, so helpers it started die with it.
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
}

Result<CommandOutput> RunCommand(const std::vector<std::string>& argv, int timeout_ms) {
  if (argv.empty() || argv[0].empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "empty command");
  }
  std::optional<std::string> program = FindProgram(argv[0]);
  if (!program) {
    return MakeError(ErrorCode::kNotFound, argv[0] + ": program not found");
  }

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return MakeError(ErrorCode::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  SpawnAttributes spawn;
  ::posix_spawn_file_actions_addopen(spawn.actions(), 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(spawn.actions(), pipe_fds[1], 1);
  ::posix_spawn_file_actions_addopen(spawn.actions(), 2, "/dev/null", O_WRONLY, 0);
  ::posix_spawnattr_setpgroup(spawn.attr(), 0);
  sigset_t default_signals;
  sigemptyset(&default_signals);
  sigaddset(&default_signals, SIGPIPE);
  sigaddset(&default_signals, SIGTERM);
  sigaddset(&default_signals, SIGINT);
  sigaddset(&default_signals, SIGCHLD);
  ::posix_spawnattr_setsigdefault(spawn.attr(), &default_signals);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  ::posix_spawnattr_setsigmask(spawn.attr(), &no_signals);
  ::posix_spawnattr_setflags(
      spawn.attr(), POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> child_argv;
  child_argv.reserve(argv.size() + 1);
  for (const std::string& arg : argv) {
    child_argv.push_back(const_cast<char*>(arg.c_str()));  // NOLINT: posix_spawn's signature
  }
  child_argv.push_back(nullptr);
  std::vector<std::string> env = ChildEnvironment();
  std::vector<char*> child_env;
  child_env.reserve(env.size() + 1);
  for (std::string& item : env) {
    child_env.push_back(item.data());
  }
  child_env.push_back(nullptr);

  pid_t pid = 0;
  int spawn_error = 0;
  {
    const platform::ScopedAmbientCapabilities ambient(CapabilitiesFor(*program));
    spawn_error = ::posix_spawn(&pid, program->c_str(), spawn.actions(), spawn.attr(),
                                child_argv.data(), child_env.data());
  }
  ::close(pipe_fds[1]);
  if (spawn_error != 0) {
    ::close(pipe_fds[0]);
    ErrorCode code = spawn_error == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInternal;
    return MakeError(code, argv[0] + ": cannot start: " + std::strerror(spawn_error));
  }

  const int64_t deadline = NowMs() + timeout_ms;
  CommandOutput output;
  std::optional<Error> failure;
  char buffer[65536];
  while (true) {
    int64_t remaining = deadline - NowMs();
    if (remaining <= 0) {
      failure = MakeError(ErrorCode::kUnavailable,
                          argv[0] + ": timed out after " + std::to_string(timeout_ms) + " ms");
      break;
    }
    pollfd pfd{pipe_fds[0], POLLIN, 0};
    int ready = ::poll(&pfd, 1, static_cast<int>(remaining));
    if (ready < 0) {
      if (errno == EINTR) {
        continue;
      }
      failure = MakeError(ErrorCode::kInternal, std::string("poll: ") + std::strerror(errno));
      break;
    }
    if (ready == 0) {
      continue;  // the deadline check above ends the loop
    }
    ssize_t n = ::read(pipe_fds[0], buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      failure = MakeError(ErrorCode::kInternal, std::string("read: ") + std::strerror(errno));
      break;
    }
    if (n == 0) {
      break;  // EOF: the child closed stdout (normally by exiting)
    }
    if (output.stdout_text.size() + static_cast<size_t>(n) > kMaxStdoutBytes) {
      failure =
          MakeError(ErrorCode::kResourceExhausted,
                    argv[0] + ": output larger than " + std::to_string(kMaxStdoutBytes) + " bytes");
      break;
    }
    output.stdout_text.append(buffer, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);

  if (failure) {
    KillAndReap(pid);
    return *failure;
  }
  // stdout is closed; the child is exiting. Still bound the wait in case it
  // closed stdout early.
  int wait_status = 0;
  while (true) {
    pid_t done = ::waitpid(pid, &wait_status, WNOHANG);
    if (done == pid) {
      break;
    }
    if (done < 0 && errno != EINTR) {
      return MakeError(ErrorCode::kInternal, std::string("waitpid: ") + std::strerror(errno));
    }
    if (NowMs() >= deadline) {
      KillAndReap(pid);
      return MakeError(ErrorCode::kUnavailable,
                       argv[0] + ": timed out after " + std::to_string(timeout_ms) + " ms");
    }
    ::usleep(2000);
  }
  output.exit_code = ExitCodeFromWaitStatus(wait_status);
  return output;
}

}  // namespace

CommandRunner SystemCommandRunner(int timeout_ms) {
  return [timeout_ms](const std::vector<std::string>& argv) -> Result<CommandOutput> {
    return RunCommand(argv, timeout_ms);
  };
}

}  // namespace dozor::agent
