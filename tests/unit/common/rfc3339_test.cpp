#include "dozor/common/rfc3339.hpp"

#include <doctest/doctest.h>

namespace dozor {
namespace {

TEST_CASE("RFC 3339 date-times read as Unix milliseconds with zones and fractions") {
  CHECK(ParseRfc3339Ms("1970-01-01T00:00:00Z") == 0);
  CHECK(ParseRfc3339Ms("2024-01-31T12:00:00Z") == 1'706'702'400'000);
  CHECK(ParseRfc3339Ms("2024-01-31t12:00:00z") == 1'706'702'400'000);
  CHECK(ParseRfc3339Ms("2024-01-31 12:00:00Z") == 1'706'702'400'000);
  CHECK(ParseRfc3339Ms("2024-01-31T15:00:00+03:00") == 1'706'702'400'000);
  CHECK(ParseRfc3339Ms("2024-01-31T07:30:00-04:30") == 1'706'702'400'000);
  // Fractions: milliseconds kept, the rest truncated (PowerShell's "o" format writes seven digits).
  CHECK(ParseRfc3339Ms("2024-01-31T12:00:00.25Z") == 1'706'702'400'250);
  CHECK(ParseRfc3339Ms("2024-01-31T12:00:00.2509999+00:00") == 1'706'702'400'250);
  CHECK(ParseRfc3339Ms("1969-12-31T23:59:59.500Z") == -500);
  // A leap second reads as the next second; 29 February only in leap years.
  CHECK(ParseRfc3339Ms("2016-12-31T23:59:60Z") == ParseRfc3339Ms("2017-01-01T00:00:00Z"));
  CHECK(ParseRfc3339Ms("2024-02-29T00:00:00Z").has_value());
}

TEST_CASE("RFC 3339 refuses other shapes and impossible times") {
  for (const char* text : {"",
                           "2024-01-31",
                           "2024-01-31T12:00:00",
                           "2024-01-31T12:00Z",
                           "2024-01-31T12:00:00Zjunk",
                           " 2024-01-31T12:00:00Z",
                           "2024-01-31T12:00:00Z ",
                           "2023-02-29T00:00:00Z",
                           "2024-13-01T00:00:00Z",
                           "2024-04-31T00:00:00Z",
                           "2024-01-31T24:00:00Z",
                           "2024-01-31T12:60:00Z",
                           "2024-01-31T12:00:61Z",
                           "2024-01-31T12:00:00.Z",
                           "2024-01-31T12:00:00+3:00",
                           "2024-01-31T12:00:00+24:00",
                           "2024-01-31T12:00:00+03:60",
                           "2024-01-31T12:00:00+0300",
                           "2024-01-31X12:00:00Z",
                           "２０２４-01-31T12:00:00Z",
                           "2024-1-31T12:00:00Z"}) {
    CAPTURE(text);
    CHECK_FALSE(ParseRfc3339Ms(text).has_value());
  }
}

}  // namespace
}  // namespace dozor
