#include "domain/local_time.hpp"

#include <date/tz.h>

#include <array>
#include <chrono>

#include "dozor/common/text.hpp"

namespace dozor::server {

namespace {

constexpr int kMinutesPerDay = 1440;
constexpr std::array<std::string_view, 7> kWeekdayNames = {"mon", "tue", "wed", "thu",
                                                           "fri", "sat", "sun"};

Result<const date::time_zone*> Zone(std::string_view zone) {
  try {
    return date::locate_zone(std::string(zone.empty() ? std::string_view("UTC") : zone));
  } catch (const std::exception&) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unknown time zone '" + std::string(zone) + "' (not in this server's tzdata)");
  }
}

bool OnWeekday(int mask, int64_t day) {
  // 1970-01-01 was a Thursday (weekday 3 counting from Monday).
  const int weekday = static_cast<int>(((day % 7) + 7 + 3) % 7);
  return (mask & (1 << weekday)) != 0;
}

}  // namespace

Status CheckKnownTimeZone(std::string_view zone) {
  DOZOR_RETURN_IF_ERROR(Zone(zone));
  return OkStatus();
}

Result<LocalMoment> ToLocal(std::string_view zone, int64_t utc_ms) {
  DOZOR_ASSIGN_OR_RETURN(const date::time_zone* tz, Zone(zone));
  const date::sys_time<std::chrono::milliseconds> instant{std::chrono::milliseconds(utc_ms)};
  const auto local = tz->to_local(instant);
  const auto day = date::floor<date::days>(local);
  LocalMoment moment;
  moment.day = day.time_since_epoch().count();
  moment.weekday = static_cast<int>((date::weekday(day).c_encoding() + 6) % 7);
  moment.minute =
      static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - day).count());
  return moment;
}

Result<int64_t> FromLocal(std::string_view zone, int64_t day, int minute) {
  DOZOR_ASSIGN_OR_RETURN(const date::time_zone* tz, Zone(zone));
  const date::local_time<std::chrono::minutes> local{date::days(day) +
                                                     std::chrono::minutes(minute)};
  const date::local_info info = tz->get_info(local);
  std::chrono::seconds offset = info.first.offset;
  if (info.result == date::local_info::nonexistent) {
    // Inside the gap of a spring-forward: the instant the clocks jumped (the gap's end).
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               info.second.begin.time_since_epoch())
        .count();
  }
  const auto utc = local.time_since_epoch() - offset;
  return std::chrono::duration_cast<std::chrono::milliseconds>(utc).count();
}

Result<std::optional<int64_t>> SpanEndingAfter(std::string_view zone, const WeeklySpan& span,
                                               int64_t utc_ms) {
  if (span.weekdays == 0 || span.duration_minutes <= 0) return std::optional<int64_t>();
  DOZOR_ASSIGN_OR_RETURN(const LocalMoment now, ToLocal(zone, utc_ms));
  // A span that covers now started today or on one of the days its duration reaches back over.
  const int64_t back = (span.start_minute + span.duration_minutes) / kMinutesPerDay;
  std::optional<int64_t> end;
  for (int64_t day = now.day - back; day <= now.day; ++day) {
    if (!OnWeekday(span.weekdays, day)) continue;
    DOZOR_ASSIGN_OR_RETURN(const int64_t begins, FromLocal(zone, day, span.start_minute));
    const int64_t end_minute = span.start_minute + span.duration_minutes;
    DOZOR_ASSIGN_OR_RETURN(const int64_t ends,
                           FromLocal(zone, day + end_minute / kMinutesPerDay,
                                     static_cast<int>(end_minute % kMinutesPerDay)));
    if (begins <= utc_ms && utc_ms < ends) end = std::max(end.value_or(0), ends);
  }
  return end;
}

Result<std::optional<int64_t>> NextInSpan(std::string_view zone, const WeeklySpan& span,
                                          int64_t utc_ms) {
  if (span.weekdays == 0 || span.duration_minutes <= 0) return std::optional<int64_t>();
  DOZOR_ASSIGN_OR_RETURN(const auto covering, SpanEndingAfter(zone, span, utc_ms));
  if (covering) return std::optional(utc_ms);
  DOZOR_ASSIGN_OR_RETURN(const LocalMoment now, ToLocal(zone, utc_ms));
  for (int64_t day = now.day; day <= now.day + 8; ++day) {
    if (!OnWeekday(span.weekdays, day)) continue;
    DOZOR_ASSIGN_OR_RETURN(const int64_t begins, FromLocal(zone, day, span.start_minute));
    if (begins >= utc_ms) return std::optional(begins);
  }
  return std::optional<int64_t>();
}

namespace {

std::optional<int> ParseClock(std::string_view text) {
  // H:MM or HH:MM, up to 24:00
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || text.size() != colon + 3) {
    return std::nullopt;
  }
  int hours = 0;
  int minutes = 0;
  for (size_t i = 0; i < colon; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    hours = hours * 10 + (text[i] - '0');
  }
  for (size_t i = colon + 1; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    minutes = minutes * 10 + (text[i] - '0');
  }
  if (minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) return std::nullopt;
  return hours * 60 + minutes;
}

}  // namespace

Result<WeeklySpan> ParseDailyHours(std::string_view text, int weekdays) {
  const std::string trimmed(Trim(text));
  const size_t dash = trimmed.find('-');
  const auto invalid = [&] {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "hours must look like 09:00-18:00 (or 22:00-07:00 across midnight), got '" + trimmed + "'");
  };
  if (dash == std::string::npos) return invalid();
  const auto start = ParseClock(Trim(std::string_view(trimmed).substr(0, dash)));
  const auto end = ParseClock(Trim(std::string_view(trimmed).substr(dash + 1)));
  if (!start || !end || *start == *end || *start == kMinutesPerDay) return invalid();
  WeeklySpan span;
  span.weekdays = weekdays;
  span.start_minute = *start;
  span.duration_minutes = *end > *start ? *end - *start : *end + kMinutesPerDay - *start;
  return span;
}

Result<std::string> FormatLocalTime(std::string_view zone, int64_t utc_ms) {
  DOZOR_ASSIGN_OR_RETURN(const date::time_zone* tz, Zone(zone));
  const date::sys_time<std::chrono::minutes> instant = date::floor<std::chrono::minutes>(
      date::sys_time<std::chrono::milliseconds>(std::chrono::milliseconds(utc_ms)));
  return date::format("%Y-%m-%d %H:%M %Z", date::make_zoned(tz, instant));
}

std::string FormatMinute(int minute) {
  minute = ((minute % kMinutesPerDay) + kMinutesPerDay) % kMinutesPerDay;
  const int hours = minute / 60;
  const int minutes = minute % 60;
  std::string out;
  out += static_cast<char>('0' + hours / 10);
  out += static_cast<char>('0' + hours % 10);
  out += ':';
  out += static_cast<char>('0' + minutes / 10);
  out += static_cast<char>('0' + minutes % 10);
  return out;
}

Result<int> ParseWeekdays(std::string_view text) {
  const std::string folded = FoldCase(Trim(text));
  const auto invalid = [&] {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "weekdays must be names like mon-fri, sat,sun or all; got '" + std::string(text) + "'");
  };
  if (folded == "all" || folded == "daily") return 0x7F;
  const auto index = [](std::string_view name) -> std::optional<int> {
    for (size_t i = 0; i < kWeekdayNames.size(); ++i) {
      if (kWeekdayNames[i] == name) return static_cast<int>(i);
    }
    return std::nullopt;
  };
  int mask = 0;
  size_t start = 0;
  while (start <= folded.size()) {
    size_t comma = folded.find(',', start);
    if (comma == std::string::npos) comma = folded.size();
    const std::string_view item = Trim(std::string_view(folded).substr(start, comma - start));
    const size_t dash = item.find('-');
    const auto first = index(Trim(item.substr(0, dash)));
    const auto last = dash == std::string_view::npos ? first : index(Trim(item.substr(dash + 1)));
    if (!first || !last) return invalid();
    // "fri-mon" wraps through the weekend.
    for (int day = *first;; day = (day + 1) % 7) {
      mask |= 1 << day;
      if (day == *last) break;
    }
    start = comma + 1;
  }
  if (mask == 0) return invalid();
  return mask;
}

std::string FormatWeekdays(int mask) {
  if ((mask & 0x7F) == 0x7F) return "all";
  std::string out;
  for (int day = 0; day < 7; ++day) {
    if ((mask & (1 << day)) == 0) continue;
    int last = day;
    while (last + 1 < 7 && (mask & (1 << (last + 1))) != 0) ++last;
    if (!out.empty()) out += ',';
    out += kWeekdayNames[static_cast<size_t>(day)];
    if (last > day) {
      out += '-';
      out += kWeekdayNames[static_cast<size_t>(last)];
    }
    day = last;
  }
  return out;
}

}  // namespace dozor::server
