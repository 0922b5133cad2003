#include "dozor/common/utc_time.hpp"

#include <doctest/doctest.h>

#include "dozor/common/rfc3339.hpp"

namespace dozor {
namespace {

TEST_CASE("UTC texts of one instant in every style") {
  const int64_t ms = 1'764'181'805'123;  // 2025-11-26T18:30:05.123Z, a Wednesday
  CHECK(FormatUtc(ms, UtcStyle::kRfc3339) == "2025-11-26T18:30:05Z");
  CHECK(FormatUtc(ms, UtcStyle::kDate) == "2025-11-26");
  CHECK(FormatUtc(ms, UtcStyle::kMonth) == "2025-11");
  CHECK(FormatUtc(ms, UtcStyle::kMinutes) == "2025-11-26 18:30 UTC");
  CHECK(FormatUtc(ms, UtcStyle::kSeconds) == "2025-11-26 18:30:05 UTC");
  CHECK(FormatUtc(ms, UtcStyle::kRfc5322) == "Wed, 26 Nov 2025 18:30:05 +0000");
  CHECK(FormatUtc(0, UtcStyle::kRfc5322) == "Thu, 01 Jan 1970 00:00:00 +0000");
  // Before 1970 the second is floored, not truncated towards zero.
  CHECK(FormatUtc(-500, UtcStyle::kRfc3339) == "1969-12-31T23:59:59Z");
  CHECK(FormatUtc(-86'400'000, UtcStyle::kRfc5322) == "Wed, 31 Dec 1969 00:00:00 +0000");
}

TEST_CASE("UTC texts round-trip through the RFC 3339 parser and MsFromUtc") {
  for (int64_t ms = -2'208'988'800'000; ms < 10'413'792'000'000; ms += 2'521'709'000) {
    INFO(ms);
    const UtcDateTime t = UtcFromMs(ms);
    CHECK(MsFromUtc(t.year, t.month, t.day, t.hour, t.minute, t.second) == ms);
    CHECK(ParseRfc3339Ms(FormatUtc(ms, UtcStyle::kRfc3339)) == ms);
  }
}

}  // namespace
}  // namespace dozor
