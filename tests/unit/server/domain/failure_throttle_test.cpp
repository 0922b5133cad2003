#include "domain/failure_throttle.hpp"

#include <doctest/doctest.h>

#include <string>

#include "domain/log_limiter.hpp"

namespace dozor::server {
namespace {

constexpr int64_t kStart = 1'700'000'000'000;

TEST_CASE("failure throttle blocks a key at its tenth failure within a minute, for a minute") {
  FailureThrottle throttle;
  for (int i = 1; i < 10; ++i) {
    CHECK_FALSE(throttle.RecordFailure("198.51.100.7", kStart + i));
    CHECK(throttle.BlockedForMs("198.51.100.7", kStart + i) == 0);
  }
  CHECK(throttle.RecordFailure("198.51.100.7", kStart + 10));
  CHECK(throttle.BlockedForMs("198.51.100.7", kStart + 10) == 60'000);
  CHECK(throttle.BlockedForMs("198.51.100.7", kStart + 40'010) == 20'000);
  // Other keys are not affected.
  CHECK(throttle.BlockedForMs("198.51.100.8", kStart + 10) == 0);
  // The block ends by itself, and the failures behind it have drained.
  CHECK(throttle.BlockedForMs("198.51.100.7", kStart + 60'010) == 0);
  CHECK_FALSE(throttle.RecordFailure("198.51.100.7", kStart + 60'020));
}

TEST_CASE("failure throttle lets a slow trickle of failures through") {
  FailureThrottle throttle;
  // One failure every 7 s is 8.6 a minute: under the limit forever.
  for (int i = 0; i < 100; ++i) {
    const int64_t now = kStart + i * 7'000;
    CHECK(throttle.BlockedForMs("a", now) == 0);
    CHECK_FALSE(throttle.RecordFailure("a", now));
  }
  // Four a second is blocked within a few seconds.
  FailureThrottle fast;
  int failures = 0;
  while (!fast.RecordFailure("b", kStart + failures * 250)) {
    ++failures;
  }
  CHECK(failures + 1 == 10);
}

TEST_CASE("failure throttle does not extend a block by attempts made while blocked") {
  FailureThrottle throttle({.max_failures = 2, .window_ms = 1'000, .block_ms = 5'000});
  CHECK_FALSE(throttle.RecordFailure("k", kStart));
  CHECK(throttle.RecordFailure("k", kStart));
  CHECK_FALSE(throttle.RecordFailure("k", kStart + 1'000));  // a caller that did not check
  CHECK(throttle.BlockedForMs("k", kStart + 4'999) == 1);
  CHECK(throttle.BlockedForMs("k", kStart + 5'000) == 0);
}

TEST_CASE("failure throttle tracks at most max_keys keys and evicts the least recently used") {
  FailureThrottle throttle(
      {.max_failures = 3, .window_ms = 60'000, .block_ms = 60'000, .max_keys = 100});
  // "blocked" is blocked, then thousands of other keys fail once each.
  for (int i = 0; i < 3; ++i) {
    (void)throttle.RecordFailure("blocked", kStart);
  }
  REQUIRE(throttle.BlockedForMs("blocked", kStart) > 0);
  for (int i = 0; i < 5'000; ++i) {
    (void)throttle.RecordFailure("spray-" + std::to_string(i), kStart + 1);
    if (i % 50 == 0) {
      CHECK(throttle.BlockedForMs("blocked", kStart + 1) > 0);  // knocking keeps it tracked
    }
    CHECK(throttle.TrackedKeys() <= 100);
  }
  CHECK(throttle.BlockedForMs("blocked", kStart + 2) > 0);
  // The oldest spray keys were forgotten.
  CHECK(throttle.TrackedKeys() == 100);
}

TEST_CASE("failure throttle forgets keys whose failures have drained") {
  FailureThrottle throttle;
  (void)throttle.RecordFailure("once", kStart);
  CHECK(throttle.TrackedKeys() == 1);
  CHECK(throttle.BlockedForMs("once", kStart + 60'000) == 0);
  CHECK(throttle.TrackedKeys() == 0);
}

TEST_CASE("failure throttle with max_failures 0 never blocks") {
  FailureThrottle throttle({.max_failures = 0});
  for (int i = 0; i < 1000; ++i) {
    CHECK_FALSE(throttle.RecordFailure("k", kStart));
  }
  CHECK(throttle.BlockedForMs("k", kStart) == 0);
  CHECK(throttle.TrackedKeys() == 0);
}

TEST_CASE("log limiter logs the first event, then one line per interval with the count left out") {
  LogLimiter limiter(10'000);
  CHECK(limiter.Allow(kStart) == 0);
  for (int i = 1; i <= 500; ++i) {
    CHECK_FALSE(limiter.Allow(kStart + i).has_value());
  }
  CHECK(limiter.Allow(kStart + 10'000) == 500);
  CHECK_FALSE(limiter.Allow(kStart + 10'001).has_value());
  CHECK(limiter.Allow(kStart + 30'000) == 1);
}

}  // namespace
}  // namespace dozor::server
