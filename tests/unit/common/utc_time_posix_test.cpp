// UtcFromMs against the C library's gmtime_r (POSIX only: the Windows suite leaves *_posix_test).
#include <doctest/doctest.h>

#include <ctime>

#include "dozor/common/utc_time.hpp"

namespace dozor {
namespace {

TEST_CASE("UTC fields agree with gmtime over four centuries of instants") {
  // Every 29 d 4 h 28 min 29 s from 1900 to 2300: an odd step, so days of the month, hours and
  // weekdays all vary; leap years and centuries are crossed.
  for (int64_t ms = -2'208'988'800'000; ms < 10'413'792'000'000; ms += 2'521'709'000) {
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    REQUIRE(gmtime_r(&seconds, &tm) != nullptr);
    const UtcDateTime t = UtcFromMs(ms);
    INFO(ms);
    CHECK(t.year == tm.tm_year + 1900);
    CHECK(t.month == tm.tm_mon + 1);
    CHECK(t.day == tm.tm_mday);
    CHECK(t.hour == tm.tm_hour);
    CHECK(t.minute == tm.tm_min);
    CHECK(t.second == tm.tm_sec);
    CHECK(t.weekday == tm.tm_wday);
  }
}

}  // namespace
}  // namespace dozor
