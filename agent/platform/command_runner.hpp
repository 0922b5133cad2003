// Running an external program (smartctl, apt-get, dnf, ...) for a collector, bounded in time and
// output. Collectors receive a CommandRunner through their context, so tests swap in canned
// output; the real one is per OS (linux/command_runner_linux.cpp: posix_spawn).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "dozor/common/result.hpp"

namespace dozor::agent {

struct CommandOutput {
  int exit_code = 0;
  std::string stdout_text;
};

// Runs argv (no shell) with a timeout; kNotFound if the program does not exist.
using CommandRunner = std::function<Result<CommandOutput>(const std::vector<std::string>& argv)>;

// The real command runner: no shell, stdout captured (at most 16 MiB), stdin and stderr discarded,
// the locale forced to C, the program and everything it started killed when `timeout_ms` expires
// (kUnavailable). A program killed by a signal exits with 128 + the signal number. The agent's
// privileges are not inherited wholesale: a program gets only the capabilities its job needs (on
// Linux: smartctl raw disk access, everything else none).
CommandRunner SystemCommandRunner(int timeout_ms = 10000);

}  // namespace dozor::agent
