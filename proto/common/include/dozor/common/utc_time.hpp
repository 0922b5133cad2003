// Unix milliseconds as UTC calendar fields and as the few texts both binaries write: the API's
// RFC 3339 stamps, dates, the "2026-11-26 18:30 UTC" of reports and status files, and the
// RFC 5322 Date header of alert mail. One implementation on civil_time.hpp's arithmetic rather
// than gmtime_r/strftime in each caller: Windows has no gmtime_r, strftime's %a/%b follow the
// process locale (a mail header must be English), and times before 1970 need floor division.
#pragma once

#include <cstdint>
#include <string>

#include "dozor/common/civil_time.hpp"

namespace dozor {

struct UtcDateTime {
  int64_t year = 1970;
  int month = 1;    // 1..12
  int day = 1;      // 1..31
  int hour = 0;     // 0..23
  int minute = 0;   // 0..59
  int second = 0;   // 0..59
  int weekday = 4;  // 0 = Sunday .. 6 = Saturday (1970-01-01 was a Thursday)
};

// The UTC fields of `ms` (sub-second part dropped, towards the past for negative times).
[[nodiscard]] constexpr UtcDateTime UtcFromMs(int64_t ms) {
  // Floor division without negating: -INT64_MIN would overflow.
  const int64_t seconds = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
  const int64_t days = seconds / 86400 - (seconds % 86400 < 0 ? 1 : 0);
  const int64_t of_day = seconds - days * 86400;
  const CivilDate date = CivilFromDays(days);
  return {.year = date.year,
          .month = date.month,
          .day = date.day,
          .hour = static_cast<int>(of_day / 3600),
          .minute = static_cast<int>(of_day / 60 % 60),
          .second = static_cast<int>(of_day % 60),
          .weekday = static_cast<int>(((days % 7) + 11) % 7)};
}

// Unix ms of a UTC date and time (fields as in UtcDateTime; not range-checked).
[[nodiscard]] constexpr int64_t MsFromUtc(int64_t year, int month, int day, int hour = 0,
                                          int minute = 0, int second = 0) {
  return ((DaysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60000LL + second * 1000LL;
}

enum class UtcStyle {
  kRfc3339,  // 2026-11-26T18:30:05Z (the API)
  kDate,     // 2026-11-26
  kMonth,    // 2026-11
  kMinutes,  // 2026-11-26 18:30 UTC (reports)
  kSeconds,  // 2026-11-26 18:30:05 UTC (the agent's status)
  kRfc5322,  // Thu, 26 Nov 2026 18:30:05 +0000 (mail Date header; English names)
};

[[nodiscard]] std::string FormatUtc(int64_t ms, UtcStyle style);

static_assert(UtcFromMs(0).weekday == 4 && UtcFromMs(0).hour == 0);
static_assert(UtcFromMs(-1).year == 1969 && UtcFromMs(-1).second == 59 &&
              UtcFromMs(-1).weekday == 3);
static_assert(MsFromUtc(2000, 3, 1) == 11017LL * 86400000);
static_assert(UtcFromMs(-86'400'000).day == 31 && UtcFromMs(-86'400'001).day == 30);
static_assert(UtcFromMs(INT64_MIN).second >= 0);  // no overflow at the extreme

}  // namespace dozor
