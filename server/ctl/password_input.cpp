#include "ctl/password_input.hpp"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace dozor::ctl {

namespace {

// Signals that end a prompt: the terminal's echo is restored before they take effect.
constexpr std::array<int, 5> kPromptSignals = {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGTSTP};

volatile std::sig_atomic_t g_prompt_signal = 0;

extern "C" void NotePromptSignal(int signal_number) { g_prompt_signal = signal_number; }

// Installs NotePromptSignal for the prompt's signals (without SA_RESTART, so read() returns
// EINTR) and puts the previous handlers back when destroyed.
class PromptSignals {
 public:
  PromptSignals() {
    g_prompt_signal = 0;
    struct sigaction action {};
    action.sa_handler = &NotePromptSignal;
    sigemptyset(&action.sa_mask);
    for (size_t i = 0; i < kPromptSignals.size(); ++i) {
      ::sigaction(kPromptSignals[i], &action, &previous_[i]);
    }
  }
  ~PromptSignals() {
    for (size_t i = 0; i < kPromptSignals.size(); ++i) {
      ::sigaction(kPromptSignals[i], &previous_[i], nullptr);
    }
  }
  PromptSignals(const PromptSignals&) = delete;
  PromptSignals& operator=(const PromptSignals&) = delete;

 private:
  std::array<struct sigaction, kPromptSignals.size()> previous_{};
};

void WriteAll(int fd, std::string_view text) {
  while (!text.empty()) {
    const ssize_t n = ::write(fd, text.data(), text.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;
    }
    text.remove_prefix(static_cast<size_t>(n));
  }
}

Result<std::string> CheckedPassword(std::string line) {
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  if (line.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "empty password");
  }
  return line;
}

// Reads one line from the terminal `fd` whose echo is already off.
Result<std::string> ReadLine(int fd) {
  std::string line;
  char c = 0;
  while (true) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) {
      if (g_prompt_signal != 0) {
        Forget(line);
        return MakeError(ErrorCode::kFailedPrecondition, "interrupted");
      }
      continue;
    }
    if (n < 0) {
      Forget(line);
      return MakeError(ErrorCode::kInternal,
                       std::string("reading the terminal: ") + std::strerror(errno));
    }
    if (n == 0 || c == '\n') {
      break;
    }
    if (line.size() >= kMaxPasswordInputBytes) {
      Forget(line);
      return MakeError(ErrorCode::kInvalidArgument, "password too long");
    }
    line += c;
  }
  if (!line.empty() && line.back() == '\r') {
    line.pop_back();
  }
  return line;
}

}  // namespace

void Forget(std::string& secret) {
  volatile char* bytes = secret.data();
  for (size_t i = 0; i < secret.size(); ++i) {
    bytes[i] = 0;
  }
  secret.clear();
}

Result<std::string> ReadPasswordFromTerminal(std::string_view prompt, const std::string& tty_path) {
  const int fd = ::open(tty_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "no terminal to read the password from; pipe it in with --password-stdin");
  }
  termios saved{};
  if (::tcgetattr(fd, &saved) != 0) {
    ::close(fd);
    return MakeError(ErrorCode::kFailedPrecondition,
                     tty_path + " is not a terminal; pipe the password in with --password-stdin");
  }
  Result<std::string> password = MakeError(ErrorCode::kInternal, "not read");
  int interrupted_by = 0;
  {
    PromptSignals signals;
    termios quiet = saved;
    // No echo of the characters, but the Enter key still moves to the next line.
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK);
    quiet.c_lflag |= ECHONL;
    WriteAll(fd, prompt);
    if (::tcsetattr(fd, TCSADRAIN, &quiet) != 0) {
      ::close(fd);
      return MakeError(ErrorCode::kInternal, "cannot turn off the terminal's echo");
    }
    password = ReadLine(fd);
    if (password.ok()) {
      password = CheckedPassword(std::move(password).value());
    }
    ::tcsetattr(fd, TCSADRAIN, &saved);
    interrupted_by = g_prompt_signal;
  }
  if (interrupted_by != 0) {
    WriteAll(fd, "\n");
  }
  ::close(fd);
  if (interrupted_by != 0) {
    // The terminal is whole again: let the signal do what it would have done.
    std::raise(interrupted_by);
  }
  return password;
}

Result<std::string> ReadLineFromTerminal(std::string_view prompt, const std::string& tty_path) {
  const int fd = ::open(tty_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    return MakeError(ErrorCode::kFailedPrecondition, "no terminal to ask on");
  }
  WriteAll(fd, prompt);
  auto line = ReadLine(fd);
  ::close(fd);
  return line;
}

Result<std::string> ReadPasswordLine(std::istream& in) {
  std::string line;
  char c = 0;
  bool any = false;
  // Bounded by hand: getline would first read a line of any length into memory.
  while (in.get(c)) {
    any = true;
    if (c == '\n') {
      break;
    }
    if (line.size() >= kMaxPasswordInputBytes) {
      Forget(line);
      return MakeError(ErrorCode::kInvalidArgument, "password too long");
    }
    line += c;
  }
  if (!any) {
    return MakeError(ErrorCode::kInvalidArgument, "no password on standard input");
  }
  return CheckedPassword(std::move(line));
}

Result<std::string> PasswordReader::Existing(std::string_view prompt) {
  if (from_stdin_) {
    return ReadPasswordLine(in_);
  }
  return ReadPasswordFromTerminal(prompt);
}

Result<std::string> PasswordReader::New(std::string_view prompt, std::string_view confirm_prompt) {
  if (from_stdin_) {
    return ReadPasswordLine(in_);
  }
  DOZOR_ASSIGN_OR_RETURN(std::string first, ReadPasswordFromTerminal(prompt));
  auto second = ReadPasswordFromTerminal(confirm_prompt);
  if (!second.ok()) {
    Forget(first);
    return second.error();
  }
  const bool same = first == *second;
  Forget(*second);
  if (!same) {
    Forget(first);
    return MakeError(ErrorCode::kInvalidArgument, "the two passwords differ; nothing changed");
  }
  return first;
}

}  // namespace dozor::ctl
