#include "core/deadline_runner.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include "test_util.hpp"

namespace dozor::agent {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using testing::Gate;
using testing::WaitUntil;

}  // namespace

TEST_CASE("deadline runner returns a job's own result when it finishes in time") {
  DeadlineRunner runner;
  CHECK(runner.Run("quick", 5s, [] { return OkStatus(); }).ok());
  Status failed =
      runner.Run("failing", 5s, [] { return Status(MakeError(ErrorCode::kNotFound, "gone")); });
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code == ErrorCode::kNotFound);
  Result<int> value = runner.RunFor<int>("value", 5s, [] { return Result<int>(42); });
  REQUIRE(value.ok());
  CHECK(*value == 42);
  CHECK(runner.Overdue().empty());
}

TEST_CASE("deadline runner turns an exception into an error") {
  DeadlineRunner runner;
  Status threw = runner.Run("thrower", 5s, []() -> Status { throw std::runtime_error("boom"); });
  REQUIRE_FALSE(threw.ok());
  CHECK(threw.error().code == ErrorCode::kInternal);
  CHECK(threw.error().message == "thrower threw: boom");
  CHECK(runner.Run("thrower", 5s, [] { return OkStatus(); }).ok());
}

TEST_CASE("deadline runner answers at the deadline and never starts a second copy of a hung job") {
  DeadlineRunner runner;
  auto gate = std::make_shared<Gate>();
  auto starts = std::make_shared<std::atomic<int>>(0);
  auto blocking = [gate, starts]() -> Status {
    ++*starts;
    gate->Wait();
    return OkStatus();
  };

  const auto started = SteadyClock::now();
  Status missed = runner.Run("collector hung", 200ms, blocking);
  const auto waited = SteadyClock::now() - started;
  REQUIRE_FALSE(missed.ok());
  CHECK(missed.error().code == ErrorCode::kUnavailable);
  CHECK(missed.error().message ==
        "collector hung did not finish within 200 ms; it is left running and not started again "
        "until it finishes");
  CHECK(waited >= 200ms);
  CHECK(waited < 2s);
  CHECK(runner.IsOverdue("collector hung"));
  CHECK(runner.Overdue() == std::vector<std::string>{"collector hung"});

  // Still hung: reported at once, and the job is not started again.
  const auto again_started = SteadyClock::now();
  Status again = runner.Run("collector hung", 200ms, blocking);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().message.find("collector hung is still running (it missed its deadline of "
                                   "200 ms") == 0);
  CHECK(SteadyClock::now() - again_started < 200ms);  // not waited for again
  CHECK(starts->load() == 1);

  // Other names are not held up.
  CHECK(runner.Run("collector other", 5s, [] { return OkStatus(); }).ok());

  // Once it finishes, the name is free and runs again.
  gate->Open();
  REQUIRE(WaitUntil([&] { return !runner.IsOverdue("collector hung"); }, 5s));
  CHECK(runner.Run("collector hung", 5s, blocking).ok());
  CHECK(starts->load() == 2);
}

TEST_CASE("deadline runner: a job left behind outlives the runner safely") {
  auto gate = std::make_shared<Gate>();
  auto finished = std::make_shared<std::atomic<bool>>(false);
  {
    DeadlineRunner runner;
    Result<std::string> missed =
        runner.RunFor<std::string>("late", 50ms, [gate, finished]() -> Result<std::string> {
          gate->Wait();
          finished->store(true);
          return std::string("too late");
        });
    CHECK_FALSE(missed.ok());
  }
  gate->Open();
  CHECK(WaitUntil([&] { return finished->load(); }, 5s));
}

TEST_CASE("deadline runner formats deadlines in seconds when whole") {
  CHECK(FormatDeadline(300s) == "300 s");
  CHECK(FormatDeadline(1500ms) == "1500 ms");
}

}  // namespace dozor::agent
