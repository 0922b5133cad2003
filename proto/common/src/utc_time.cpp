#include "dozor/common/utc_time.hpp"

#include <cstdio>

namespace dozor {

std::string FormatUtc(int64_t ms, UtcStyle style) {
  static constexpr const char* kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const UtcDateTime t = UtcFromMs(ms);
  const auto year = static_cast<long long>(t.year);
  char text[64];
  int size = 0;
  switch (style) {
    case UtcStyle::kRfc3339:
      size = std::snprintf(text, sizeof(text), "%04lld-%02d-%02dT%02d:%02d:%02dZ", year, t.month,
                           t.day, t.hour, t.minute, t.second);
      break;
    case UtcStyle::kDate:
      size = std::snprintf(text, sizeof(text), "%04lld-%02d-%02d", year, t.month, t.day);
      break;
    case UtcStyle::kMonth:
      size = std::snprintf(text, sizeof(text), "%04lld-%02d", year, t.month);
      break;
    case UtcStyle::kMinutes:
      size = std::snprintf(text, sizeof(text), "%04lld-%02d-%02d %02d:%02d UTC", year, t.month,
                           t.day, t.hour, t.minute);
      break;
    case UtcStyle::kSeconds:
      size = std::snprintf(text, sizeof(text), "%04lld-%02d-%02d %02d:%02d:%02d UTC", year, t.month,
                           t.day, t.hour, t.minute, t.second);
      break;
    case UtcStyle::kRfc5322:
      size = std::snprintf(text, sizeof(text), "%s, %02d %s %04lld %02d:%02d:%02d +0000",
                           kWeekdays[t.weekday], t.day, kMonths[t.month - 1], year, t.hour,
                           t.minute, t.second);
      break;
  }
  return size > 0 ? std::string(text, static_cast<size_t>(size)) : std::string();
}

}  // namespace dozor
