// RFC 3339 date-times, read by both binaries: the agent's Windows sources (update and antivirus
// times) and the server's API (waiver ends, alert silences). One parser, so both accept and refuse
// the same texts.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace dozor {

// "YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|+HH:MM|-HH:MM)" -> Unix milliseconds (the fraction
// truncated to milliseconds; a leap second :60 reads as the next second). nullopt when the text
// has another shape, a date that does not exist (30 February), an hour past 23 or anything after
// the zone. No surrounding whitespace is allowed: callers trim what their source pads.
[[nodiscard]] std::optional<int64_t> ParseRfc3339Ms(std::string_view text);

}  // namespace dozor
