// Times typed after dozorctl audit --since / --until.
#include "ctl/time_argument.hpp"

#include <doctest/doctest.h>

#include <ctime>

namespace dozor::ctl {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

int64_t LocalMs(int year, int month, int day, int hour, int minute) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_isdst = -1;
  return static_cast<int64_t>(std::mktime(&tm)) * 1000;
}

TEST_CASE("dozorctl audit --since: spans before now") {
  CHECK(*ParseTimeArgument("90s", kNow) == kNow - 90'000);
  CHECK(*ParseTimeArgument("30m", kNow) == kNow - 30 * 60'000);
  CHECK(*ParseTimeArgument("2h", kNow) == kNow - 2 * 3'600'000);
  CHECK(*ParseTimeArgument("7d", kNow) == kNow - 7 * 86'400'000LL);
  CHECK(*ParseTimeArgument("2w", kNow) == kNow - 14 * 86'400'000LL);
}

TEST_CASE("dozorctl audit --since: local dates and times") {
  CHECK(*ParseTimeArgument("2026-11-26", kNow) == LocalMs(2026, 11, 26, 0, 0));
  CHECK(*ParseTimeArgument("2026-11-26 18:30", kNow) == LocalMs(2026, 11, 26, 18, 30));
  CHECK(*ParseTimeArgument("2026-11-26T18:30", kNow) == LocalMs(2026, 11, 26, 18, 30));
}

TEST_CASE("dozorctl audit --since: anything else is refused with the accepted forms") {
  for (const char* bad : {"", "h", "-2h", "2y", "yesterday", "2026-13-01", "2026-02-30",
                          "2026-11-26 24:00", "2026/11/26", "99999999999999999999d"}) {
    INFO(bad);
    auto parsed = ParseTimeArgument(bad, kNow);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().message.find("2026-11-26 18:30") != std::string::npos);
  }
}

TEST_CASE("dozorctl --since/--until become the API's since_ms/until_ms, empty when not given") {
  auto both = ParseTimeRange("2h", "30m", kNow);
  REQUIRE(both.ok());
  CHECK(both->since_ms == std::to_string(kNow - 2 * 3'600'000));
  CHECK(both->until_ms == std::to_string(kNow - 30 * 60'000));
  auto neither = ParseTimeRange("", "", kNow);
  REQUIRE(neither.ok());
  CHECK(neither->since_ms.empty());
  CHECK(neither->until_ms.empty());
  auto only_until = ParseTimeRange("", "2026-11-26", kNow);
  REQUIRE(only_until.ok());
  CHECK(only_until->since_ms.empty());
  CHECK(only_until->until_ms == std::to_string(LocalMs(2026, 11, 26, 0, 0)));
  auto bad_until = ParseTimeRange("2h", "tomorrow", kNow);
  REQUIRE_FALSE(bad_until.ok());
  CHECK(bad_until.error().message.find("'tomorrow'") != std::string::npos);
}

}  // namespace
}  // namespace dozor::ctl
