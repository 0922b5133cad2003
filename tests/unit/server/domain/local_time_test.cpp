// Wall-clock questions in named zones (domain/local_time.hpp) against the system's tzdata: fixed
// instants in Moscow and Novosibirsk, working hours over a weekend, quiet hours across midnight,
// Berlin's clock changes, and the parsers of hours and weekdays with their errors.
#include "domain/local_time.hpp"

#include <doctest/doctest.h>

#include <cstdint>

namespace dozor::server {
namespace {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kLocalHourMs = 60 * kMinuteMs;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil), so the
// expectations do not come from the code under test.
constexpr int64_t Days(int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// The UTC instant of a UTC wall clock.
constexpr int64_t Utc(int64_t y, int m, int d, int hour, int minute) {
  return Days(y, m, d) * 24 * kLocalHourMs + hour * kLocalHourMs + minute * kMinuteMs;
}

static_assert(Days(1970, 1, 1) == 0);
static_assert(Days(2000, 3, 1) == 11017);

constexpr int kMonday = 0, kThursday = 3, kFriday = 4, kSunday = 6;

TEST_CASE("local time: one instant in Moscow and in Novosibirsk") {
  // 2026-12-03 (a Thursday) 15:04 UTC: 18:04 in Moscow (UTC+3), 22:04 in Novosibirsk (UTC+7).
  const int64_t instant = Utc(2026, 12, 3, 15, 4) + 59'999;  // seconds do not round up
  auto moscow = ToLocal("Europe/Moscow", instant);
  REQUIRE(moscow.ok());
  CHECK(moscow->day == Days(2026, 12, 3));
  CHECK(moscow->weekday == kThursday);
  CHECK(moscow->minute == 18 * 60 + 4);
  auto novosibirsk = ToLocal("Asia/Novosibirsk", instant);
  REQUIRE(novosibirsk.ok());
  CHECK(novosibirsk->day == Days(2026, 12, 3));
  CHECK(novosibirsk->minute == 22 * 60 + 4);
  CHECK(*FormatLocalTime("Europe/Moscow", instant) == "2026-12-03 18:04 MSK");
  CHECK(*FormatLocalTime("Asia/Novosibirsk", instant) == "2026-12-03 22:04 +07");

  // 20:30 UTC: still Thursday in Moscow, already Friday 03:30 in Novosibirsk.
  const int64_t late = Utc(2026, 12, 3, 20, 30);
  CHECK(ToLocal("Europe/Moscow", late)->weekday == kThursday);
  CHECK(ToLocal("Europe/Moscow", late)->minute == 23 * 60 + 30);
  auto next_day = ToLocal("Asia/Novosibirsk", late);
  REQUIRE(next_day.ok());
  CHECK(next_day->day == Days(2026, 12, 4));
  CHECK(next_day->weekday == kFriday);
  CHECK(next_day->minute == 3 * 60 + 30);

  // And back: the local wall clock gives the instant in each zone.
  CHECK(*FromLocal("Europe/Moscow", Days(2026, 12, 3), 18 * 60 + 4) == Utc(2026, 12, 3, 15, 4));
  CHECK(*FromLocal("Asia/Novosibirsk", Days(2026, 12, 4), 3 * 60 + 30) == late);
  // Minute 1440 is the next day's midnight.
  CHECK(*FromLocal("Europe/Moscow", Days(2026, 12, 3), 1440) == Utc(2026, 12, 3, 21, 0));
  // The empty zone is UTC.
  CHECK(ToLocal("", late)->minute == 20 * 60 + 30);
  // Before the epoch the weekday still comes out right: 1969-12-31 was a Wednesday.
  auto before = ToLocal("UTC", Utc(1969, 12, 31, 12, 0));
  REQUIRE(before.ok());
  CHECK(before->day == -1);
  CHECK(before->weekday == 2);
}

TEST_CASE("local time: working hours after Friday evening begin on Monday at 09:00") {
  auto working = ParseDailyHours("09:00-18:00", *ParseWeekdays("mon-fri"));
  REQUIRE(working.ok());
  const WeeklySpan span = *working;
  // Friday 2026-12-04 19:00 MSK: Monday 2026-12-07 09:00 MSK (06:00 UTC).
  const int64_t friday_evening = Utc(2026, 12, 4, 16, 0);
  auto next = NextInSpan("Europe/Moscow", span, friday_evening);
  REQUIRE(next.ok());
  REQUIRE(next->has_value());
  CHECK(**next == Utc(2026, 12, 7, 6, 0));
  auto monday = ToLocal("Europe/Moscow", **next);
  CHECK(monday->weekday == kMonday);
  CHECK(monday->minute == 9 * 60);
  CHECK_FALSE(SpanEndingAfter("Europe/Moscow", span, friday_evening)->has_value());

  // Inside working hours: now itself, and the span ends at 18:00 that day.
  const int64_t friday_noon = Utc(2026, 12, 4, 9, 0);
  CHECK(**NextInSpan("Europe/Moscow", span, friday_noon) == friday_noon);
  CHECK(**SpanEndingAfter("Europe/Moscow", span, friday_noon) == Utc(2026, 12, 4, 15, 0));
  // Friday 08:00: 09:00 the same day. Saturday noon: Monday again.
  CHECK(**NextInSpan("Europe/Moscow", span, Utc(2026, 12, 4, 5, 0)) == Utc(2026, 12, 4, 6, 0));
  CHECK(**NextInSpan("Europe/Moscow", span, Utc(2026, 12, 5, 9, 0)) == Utc(2026, 12, 7, 6, 0));
  // 18:00 sharp is outside (the span is half-open): the next morning.
  CHECK(**NextInSpan("Europe/Moscow", span, Utc(2026, 12, 3, 15, 0)) == Utc(2026, 12, 4, 6, 0));
  // The same hours in Novosibirsk: Monday 09:00 there is 02:00 UTC.
  CHECK(**NextInSpan("Asia/Novosibirsk", span, friday_evening) == Utc(2026, 12, 7, 2, 0));

  // A span that never occurs.
  WeeklySpan never = span;
  never.weekdays = 0;
  CHECK_FALSE(NextInSpan("Europe/Moscow", never, friday_evening)->has_value());
  never = span;
  never.duration_minutes = 0;
  CHECK_FALSE(NextInSpan("Europe/Moscow", never, friday_evening)->has_value());
  CHECK_FALSE(SpanEndingAfter("Europe/Moscow", never, friday_noon)->has_value());
}

TEST_CASE("local time: quiet hours 22:00-07:00 run across midnight") {
  auto quiet = ParseDailyHours("22:00-07:00");
  REQUIRE(quiet.ok());
  CHECK(quiet->weekdays == 0x7F);
  CHECK(quiet->start_minute == 22 * 60);
  CHECK(quiet->duration_minutes == 9 * 60);
  const std::string zone = "Europe/Moscow";
  // 23:00 MSK on 2026-12-03: inside, ending 07:00 MSK the next morning.
  auto at_23 = SpanEndingAfter(zone, *quiet, Utc(2026, 12, 3, 20, 0));
  REQUIRE(at_23.ok());
  REQUIRE(at_23->has_value());
  CHECK(**at_23 == Utc(2026, 12, 4, 4, 0));
  // 06:59 MSK: inside (the span began the evening before), ending at 07:00.
  auto at_0659 = SpanEndingAfter(zone, *quiet, Utc(2026, 12, 4, 3, 59));
  REQUIRE(at_0659->has_value());
  CHECK(**at_0659 == Utc(2026, 12, 4, 4, 0));
  // 07:00 sharp and 21:59: outside. 22:00 sharp: inside.
  CHECK_FALSE(SpanEndingAfter(zone, *quiet, Utc(2026, 12, 4, 4, 0))->has_value());
  CHECK_FALSE(SpanEndingAfter(zone, *quiet, Utc(2026, 12, 4, 18, 59))->has_value());
  CHECK(**SpanEndingAfter(zone, *quiet, Utc(2026, 12, 4, 19, 0)) == Utc(2026, 12, 5, 4, 0));
  // Outside, the next quiet hours begin at 22:00.
  CHECK(**NextInSpan(zone, *quiet, Utc(2026, 12, 4, 12, 0)) == Utc(2026, 12, 4, 19, 0));

  // Quiet hours on weekdays only: Sunday 23:00 is not covered, Monday 23:00 is, and so is
  // Saturday 06:00 (the span began on Friday evening).
  WeeklySpan weekdays = *quiet;
  weekdays.weekdays = *ParseWeekdays("mon-fri");
  CHECK_FALSE(SpanEndingAfter(zone, weekdays, Utc(2026, 12, 6, 20, 0))->has_value());
  CHECK(**SpanEndingAfter(zone, weekdays, Utc(2026, 12, 7, 20, 0)) == Utc(2026, 12, 8, 4, 0));
  CHECK(**SpanEndingAfter(zone, weekdays, Utc(2026, 12, 5, 3, 0)) == Utc(2026, 12, 5, 4, 0));

  // A weekly window from Sunday 22:00 for four hours covers Monday 01:00 (across the week's end).
  WeeklySpan sunday_night{1 << kSunday, 22 * 60, 4 * 60};
  CHECK(**SpanEndingAfter(zone, sunday_night, Utc(2026, 12, 6, 22, 0)) == Utc(2026, 12, 6, 23, 0));
  CHECK_FALSE(SpanEndingAfter(zone, sunday_night, Utc(2026, 12, 6, 23, 0))->has_value());
}

TEST_CASE(
    "local time: Berlin's spring-forward gap maps to the jump, the autumn repeat to its first") {
  const std::string zone = "Europe/Berlin";
  // 2026-03-29: at 02:00 CET (01:00 UTC) the clocks jump to 03:00 CEST. 02:30 never happens
  // there; it comes out as the jump's instant, the same as 03:00 CEST.
  const int64_t jump = Utc(2026, 3, 29, 1, 0);
  auto gap = FromLocal(zone, Days(2026, 3, 29), 2 * 60 + 30);
  REQUIRE(gap.ok());
  CHECK(*gap == jump);
  CHECK(*FromLocal(zone, Days(2026, 3, 29), 2 * 60) == jump);
  CHECK(*FromLocal(zone, Days(2026, 3, 29), 3 * 60) == jump);
  CHECK(*FromLocal(zone, Days(2026, 3, 29), 3 * 60 + 30) == jump + 30 * kMinuteMs);
  CHECK(*FromLocal(zone, Days(2026, 3, 29), 1 * 60 + 59) == Utc(2026, 3, 29, 0, 59));
  CHECK(*FormatLocalTime(zone, jump) == "2026-03-29 03:00 CEST");
  CHECK(*FormatLocalTime(zone, jump - kMinuteMs) == "2026-03-29 01:59 CET");
  // Working hours from 02:30 on that Sunday begin at the jump.
  WeeklySpan early{1 << kSunday, 2 * 60 + 30, 60};
  CHECK(**NextInSpan(zone, early, Utc(2026, 3, 28, 23, 0)) == jump);

  // 2026-10-25: 02:30 happens twice (CEST, then CET); the first, 00:30 UTC.
  CHECK(*FromLocal(zone, Days(2026, 10, 25), 2 * 60 + 30) == Utc(2026, 10, 25, 0, 30));
  CHECK(*FromLocal(zone, Days(2026, 10, 25), 4 * 60) == Utc(2026, 10, 25, 3, 0));
  // Moscow keeps no summer time: the same dates are plain +3.
  CHECK(*FromLocal("Europe/Moscow", Days(2026, 3, 29), 2 * 60 + 30) == Utc(2026, 3, 28, 23, 30));
}

TEST_CASE("local time: daily hours parse, format back and refuse what is not HH:MM-HH:MM") {
  auto day = ParseDailyHours("09:00-18:00");
  REQUIRE(day.ok());
  CHECK(day->start_minute == 540);
  CHECK(day->duration_minutes == 540);
  CHECK(FormatMinute(day->start_minute) + "-" +
            FormatMinute(day->start_minute + day->duration_minutes) ==
        "09:00-18:00");
  auto night = ParseDailyHours("22:00-07:00", 0x1F);
  REQUIRE(night.ok());
  CHECK(night->weekdays == 0x1F);
  CHECK(FormatMinute(night->start_minute) + "-" +
            FormatMinute(night->start_minute + night->duration_minutes) ==
        "22:00-07:00");
  auto whole = ParseDailyHours("00:00-24:00");
  REQUIRE(whole.ok());
  CHECK(whole->duration_minutes == 1440);
  auto loose = ParseDailyHours("  9:05 - 17:30 ");
  REQUIRE(loose.ok());
  CHECK(loose->start_minute == 9 * 60 + 5);
  CHECK(loose->duration_minutes == 17 * 60 + 30 - (9 * 60 + 5));
  CHECK(ParseDailyHours("07:00-24:00")->duration_minutes == 17 * 60);
  CHECK(ParseDailyHours("23:59-00:00")->duration_minutes == 1);
  CHECK(FormatMinute(0) == "00:00");
  CHECK(FormatMinute(9 * 60 + 5) == "09:05");
  CHECK(FormatMinute(1440) == "00:00");
  CHECK(FormatMinute(-60) == "23:00");

  for (const char* bad : {"", "-", "09:00", "9-17", "09:00-", "-18:00", "25:00-07:00",
                          "09:60-10:00", "09:00-09:00", "24:00-07:00", "ab:cd-ef:gh", "090:0-10:00",
                          "09:0-10:00", "+9:00-10:00", "09:00-18:00-20:00", "24:01-01:00"}) {
    CAPTURE(bad);
    auto parsed = ParseDailyHours(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == ErrorCode::kInvalidArgument);
    CHECK(parsed.error().message.find("09:00-18:00") != std::string::npos);
  }
}

TEST_CASE("local time: weekdays parse as names and ranges and format back") {
  CHECK(*ParseWeekdays("mon-fri") == 0x1F);
  CHECK(*ParseWeekdays("sat,sun") == 0x60);
  CHECK(*ParseWeekdays("sat-sun") == 0x60);
  CHECK(*ParseWeekdays("MON, Wed ,fri") == 0x15);
  CHECK(*ParseWeekdays("all") == 0x7F);
  CHECK(*ParseWeekdays("daily") == 0x7F);
  CHECK(*ParseWeekdays("mon-sun") == 0x7F);
  CHECK(*ParseWeekdays("fri-mon") == (0x10 | 0x20 | 0x40 | 0x01));  // across the weekend
  CHECK(*ParseWeekdays("thu") == 0x08);

  CHECK(FormatWeekdays(0x1F) == "mon-fri");
  CHECK(FormatWeekdays(0x15) == "mon,wed,fri");
  CHECK(FormatWeekdays(0x60) == "sat-sun");
  CHECK(FormatWeekdays(0x7F) == "all");
  CHECK(FormatWeekdays(0x71) == "mon,fri-sun");
  CHECK(FormatWeekdays(0x08) == "thu");
  for (int mask = 1; mask <= 0x7F; ++mask) {
    CAPTURE(mask);
    auto parsed = ParseWeekdays(FormatWeekdays(mask));
    REQUIRE(parsed.ok());
    CHECK(*parsed == mask);
  }

  for (const char* bad :
       {"", "funday", "mon-", "-fri", ",", "mon,,tue", "mon,", "monday", "mon-fri-sat", "1-5"}) {
    CAPTURE(bad);
    auto parsed = ParseWeekdays(bad);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.error().code == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("local time: a zone not in tzdata is an invalid argument everywhere") {
  CHECK(CheckKnownTimeZone("Europe/Moscow").ok());
  CHECK(CheckKnownTimeZone("Asia/Novosibirsk").ok());
  CHECK(CheckKnownTimeZone("UTC").ok());
  CHECK(CheckKnownTimeZone("").ok());  // UTC
  for (const char* bad : {"Mars/Olympus_Mons", "Europe/Moskva", "MSK+3", "../etc/passwd"}) {
    CAPTURE(bad);
    const Status status = CheckKnownTimeZone(bad);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == ErrorCode::kInvalidArgument);
    CHECK(status.error().message.find(bad) != std::string::npos);
    CHECK(ToLocal(bad, 0).error().code == ErrorCode::kInvalidArgument);
    CHECK(FromLocal(bad, 0, 0).error().code == ErrorCode::kInvalidArgument);
    CHECK(FormatLocalTime(bad, 0).error().code == ErrorCode::kInvalidArgument);
    CHECK(NextInSpan(bad, WeeklySpan{0x7F, 0, 60}, 0).error().code == ErrorCode::kInvalidArgument);
    CHECK(SpanEndingAfter(bad, WeeklySpan{0x7F, 0, 60}, 0).error().code ==
          ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace dozor::server
