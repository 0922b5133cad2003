#include "ctl/time_argument.hpp"

#include <charconv>
#include <ctime>
#include <optional>
#include <string>
#include <utility>

namespace dozor::ctl {

namespace {

constexpr int64_t kSecondMs = 1000;

Error BadTime(std::string_view text) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "cannot read the time '" + std::string(text) +
                       "': use a span before now (30m, 2h, 7d, 2w), a date (2026-11-26) or a "
                       "local date and time (2026-11-26 18:30)");
}

// Digits at [at, at + count) of `text` as a number; -1 when any is not a digit.
int Digits(std::string_view text, size_t at, size_t count) {
  if (at + count > text.size()) {
    return -1;
  }
  int value = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') {
      return -1;
    }
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

std::optional<int64_t> SpanMs(std::string_view text) {
  if (text.size() < 2) {
    return std::nullopt;
  }
  int64_t unit_ms = 0;
  switch (text.back()) {
    case 's':
      unit_ms = kSecondMs;
      break;
    case 'm':
      unit_ms = 60 * kSecondMs;
      break;
    case 'h':
      unit_ms = 3600 * kSecondMs;
      break;
    case 'd':
      unit_ms = 86400 * kSecondMs;
      break;
    case 'w':
      unit_ms = 7 * 86400 * kSecondMs;
      break;
    default:
      return std::nullopt;
  }
  int64_t count = 0;
  const std::string_view number = text.substr(0, text.size() - 1);
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), count);
  // Ten years is more than any audit log keeps; the bound keeps the product from overflowing.
  if (error != std::errc() || end != number.data() + number.size() || count < 0 ||
      count > 10LL * 366 * 86400) {
    return std::nullopt;
  }
  return count * unit_ms;
}

}  // namespace

Result<int64_t> ParseTimeArgument(std::string_view text, int64_t now_ms) {
  if (const auto span = SpanMs(text); span.has_value()) {
    return now_ms - *span;
  }
  // YYYY-MM-DD, optionally followed by ' ' or 'T' and HH:MM.
  if (text.size() != 10 && text.size() != 16) {
    return BadTime(text);
  }
  std::tm tm{};
  const int year = Digits(text, 0, 4);
  const int month = Digits(text, 5, 2);
  const int day = Digits(text, 8, 2);
  if (year < 1970 || text[4] != '-' || text[7] != '-' || month < 1 || month > 12 || day < 1 ||
      day > 31) {
    return BadTime(text);
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  if (text.size() == 16) {
    const int hour = Digits(text, 11, 2);
    const int minute = Digits(text, 14, 2);
    if ((text[10] != ' ' && text[10] != 'T') || text[13] != ':' || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59) {
      return BadTime(text);
    }
    tm.tm_hour = hour;
    tm.tm_min = minute;
  }
  tm.tm_isdst = -1;  // whatever daylight saving time the local zone has on that date
  const std::time_t seconds = std::mktime(&tm);
  if (seconds == static_cast<std::time_t>(-1) || tm.tm_mday != day) {
    return BadTime(text);  // e.g. 2026-02-30, which mktime would roll into March
  }
  return static_cast<int64_t>(seconds) * kSecondMs;
}

Result<TimeRangeQuery> ParseTimeRange(std::string_view since, std::string_view until,
                                      int64_t now_ms) {
  TimeRangeQuery query;
  for (const auto& [text, target] :
       {std::pair{since, &query.since_ms}, std::pair{until, &query.until_ms}}) {
    if (text.empty()) {
      continue;
    }
    DOZOR_ASSIGN_OR_RETURN(const int64_t ms, ParseTimeArgument(text, now_ms));
    *target = std::to_string(ms);
  }
  return query;
}

}  // namespace dozor::ctl
