#include "platform/command_runner.hpp"

#include <doctest/doctest.h>

#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.hpp"

namespace dozor::agent {

TEST_CASE("command runner captures stdout and exit codes and enforces timeouts") {
  CommandRunner run = SystemCommandRunner(2000);
  Result<CommandOutput> echo = run({"echo", "hello", "world"});
  REQUIRE(echo.ok());
  CHECK(echo->exit_code == 0);
  CHECK(echo->stdout_text == "hello world\n");

  Result<CommandOutput> failing = run({"sh", "-c", "echo out; echo err >&2; exit 3"});
  REQUIRE(failing.ok());
  CHECK(failing->exit_code == 3);
  CHECK(failing->stdout_text == "out\n");  // stderr discarded

  Result<CommandOutput> missing = run({"dozor-no-such-program-xyz"});
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);

  CommandRunner quick = SystemCommandRunner(200);
  auto started = std::chrono::steady_clock::now();
  Result<CommandOutput> slow = quick({"sleep", "5"});
  auto elapsed = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(slow.ok());
  CHECK(slow.error().code == ErrorCode::kUnavailable);
  CHECK(elapsed < std::chrono::seconds(2));

  // A child that keeps stdout open through a grandchild is still bounded by the
  // timeout.
  Result<CommandOutput> orphan = quick({"sh", "-c", "sleep 5 & echo started"});
  CHECK_FALSE(orphan.ok());
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));

  CHECK_FALSE(run({}).ok());
}

TEST_CASE("command runner reports death by signal as 128 + signal") {
  CommandRunner run = SystemCommandRunner(2000);
  Result<CommandOutput> killed = run({"sh", "-c", "kill -9 $$"});
  REQUIRE(killed.ok());
  CHECK(killed->exit_code == 128 + 9);
}

TEST_CASE("command runner runs the C locale whatever the parent's") {
  CommandRunner run = SystemCommandRunner(2000);
  Result<CommandOutput> locale = run({"sh", "-c", "echo $LC_ALL $LANG"});
  REQUIRE(locale.ok());
  CHECK(locale->stdout_text == "C C\n");
}

// Ambient capabilities pass across execve to every child unless the agent takes care: a service
// started with AmbientCapabilities= would hand CAP_DAC_READ_SEARCH (read any file) and the rest to
// apt-get, dnf and systemctl. Capabilities are per thread on Linux, so each case raises an ambient
// capability on a thread of its own and leaves the rest of the test process as it was.
namespace {

bool SetInheritable(int capability) {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (::syscall(SYS_capget, &header, data) != 0) return false;
  data[capability / 32].inheritable |= 1u << (capability % 32);
  return ::syscall(SYS_capset, &header, data) == 0;
}

// Raises `capability` in the calling thread's ambient set; a message when this environment cannot.
std::string RaiseAmbient(int capability) {
  if (!SetInheritable(capability)) {
    return std::string("capset (inheritable) refused: ") + std::strerror(errno);
  }
  if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, capability, 0, 0) != 0) {
    return std::string("PR_CAP_AMBIENT_RAISE refused: ") + std::strerror(errno);
  }
  return {};
}

// The CapAmb line of /proc/self/status as the child saw it.
std::string ChildAmbientSet(const CommandOutput& output) {
  const size_t at = output.stdout_text.find("CapAmb:");
  if (at == std::string::npos) return "(no CapAmb line)";
  const size_t end = output.stdout_text.find('\n', at);
  std::string value = output.stdout_text.substr(at + 7, end - at - 7);
  value.erase(0, value.find_first_not_of(" \t"));
  return value;
}

uint64_t Bit(int capability) { return uint64_t{1} << capability; }

template <typename Fn>
void OnOwnThread(Fn&& fn) {
  std::thread thread(std::forward<Fn>(fn));
  thread.join();
}

}  // namespace

TEST_CASE("command runner children inherit no ambient capabilities from the agent") {
  OnOwnThread([] {
    const std::string unavailable = RaiseAmbient(CAP_DAC_READ_SEARCH);
    if (!unavailable.empty()) {
      MESSAGE("skipped: cannot raise an ambient capability here (" << unavailable << ")");
      return;
    }
    CommandRunner run = SystemCommandRunner(5000);
    Result<CommandOutput> status = run({"cat", "/proc/self/status"});
    REQUIRE(status.ok());
    CHECK(ChildAmbientSet(*status) == "0000000000000000");
    // The agent's own thread keeps what it had.
    CHECK(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_DAC_READ_SEARCH, 0, 0) == 1);
  });
}

TEST_CASE(
    "command runner gives smartctl only the disk capabilities, and only if the agent has them") {
  OnOwnThread([] {
    std::string unavailable = RaiseAmbient(CAP_DAC_READ_SEARCH);
    if (unavailable.empty()) unavailable = RaiseAmbient(CAP_SYS_RAWIO);
    if (unavailable.empty()) unavailable = SetInheritable(CAP_SYS_ADMIN) ? "" : "capset refused";
    if (!unavailable.empty()) {
      MESSAGE("skipped: cannot raise an ambient capability here (" << unavailable << ")");
      return;
    }
    testing::TempDir dir;
    const std::filesystem::path smartctl = dir.path() / "smartctl";
    {
      std::ofstream script(smartctl);
      script << "#!/bin/sh\nexec cat /proc/self/status\n";
    }
    std::filesystem::permissions(smartctl, std::filesystem::perms::owner_all);
    CommandRunner run = SystemCommandRunner(5000);
    Result<CommandOutput> status = run({smartctl.string()});
    REQUIRE(status.ok());
    // CAP_SYS_ADMIN is in the inheritable set but was not ambient: the runner raises it for
    // smartctl (NVMe admin commands); CAP_DAC_READ_SEARCH is not smartctl's to have.
    CHECK(std::stoull(ChildAmbientSet(*status), nullptr, 16) ==
          (Bit(CAP_SYS_RAWIO) | Bit(CAP_SYS_ADMIN)));
    CHECK(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_SYS_ADMIN, 0, 0) == 0);
    CHECK(::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_DAC_READ_SEARCH, 0, 0) == 1);

    // Another program on the same thread right after: nothing.
    Result<CommandOutput> other = run({"cat", "/proc/self/status"});
    REQUIRE(other.ok());
    CHECK(ChildAmbientSet(*other) == "0000000000000000");
  });
}

}  // namespace dozor::agent
