// Wall-clock questions in a named time zone: an organisation's working hours, a person's quiet
// hours, a weekly maintenance window. GCC 12's <chrono> has no time zones, so the zones come from
// the system's tzdata through Howard Hinnant's date/tz (Debian's libhowardhinnant-date-dev), the
// library <chrono>'s zones were standardised from.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor::server {

// One instant as a wall clock in some zone shows it.
struct LocalMoment {
  int64_t day = 0;  // local days since 1970-01-01
  int weekday = 0;  // 0 Monday ... 6 Sunday
  int minute = 0;   // of the day, 0..1439
};

// kInvalidArgument when the zone is not in the installed tzdata.
Status CheckKnownTimeZone(std::string_view zone);
Result<LocalMoment> ToLocal(std::string_view zone, int64_t utc_ms);
// The instant of local `minute` (0..1440) on local `day`. A time skipped by a clock change comes
// out as the instant the clocks jumped to; a repeated one as its first occurrence.
Result<int64_t> FromLocal(std::string_view zone, int64_t day, int minute);

// A span of each chosen weekday: from start_minute for duration_minutes (it may run past midnight
// into the next day, or for several days). Working hours, quiet hours and weekly maintenance are
// all such spans.
struct WeeklySpan {
  int weekdays = 0x7F;  // bit 0 Monday ... bit 6 Sunday; the day the span starts
  int start_minute = 0;
  int duration_minutes = 0;
};

// When the span that covers utc_ms ends; nullopt when none covers it.
Result<std::optional<int64_t>> SpanEndingAfter(std::string_view zone, const WeeklySpan& span,
                                               int64_t utc_ms);
// The first instant at or after utc_ms inside the span (utc_ms itself when inside); nullopt when
// the span never occurs (no weekdays or no duration).
Result<std::optional<int64_t>> NextInSpan(std::string_view zone, const WeeklySpan& span,
                                          int64_t utc_ms);

// "HH:MM-HH:MM" (end "24:00" allowed; end before start runs past midnight) as a daily span over
// `weekdays`. kInvalidArgument with the expected shape otherwise.
Result<WeeklySpan> ParseDailyHours(std::string_view text, int weekdays = 0x7F);
std::string FormatMinute(int minute);  // "09:05"
// "2026-12-03 18:04 MSK" (the zone's abbreviation, or its offset "+07" where it has none).
Result<std::string> FormatLocalTime(std::string_view zone, int64_t utc_ms);
// Weekdays as English three-letter names, listed or as ranges: "mon-fri", "mon,wed,fri",
// "sat-sun", "all". Returns the mask.
Result<int> ParseWeekdays(std::string_view text);
std::string FormatWeekdays(int mask);

}  // namespace dozor::server
