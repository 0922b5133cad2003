#include "platform/command_runner.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

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

}  // namespace dozor::agent
