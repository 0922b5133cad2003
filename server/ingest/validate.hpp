// Validation of everything an agent sends. Agents are treated as hostile: every string, list and
// number is bounded before anything reaches the store.
#pragma once

#include <cstdint>
#include <string>

#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::server {

struct ReportLimits {
  size_t max_string_bytes = 4096;
  size_t max_repeated = 50000;  // any single list (packages are the longest, ~5k on big hosts)
  int64_t max_clock_skew_ms = 24LL * 3600 * 1000;  // collected_at may not be further in the future
  int64_t min_collected_at_ms = 946684800000;      // 2000-01-01
};

// Checks a report: seq > 0, exactly one payload, collected_at plausible, every string within
// max_string_bytes and valid UTF-8, every list within max_repeated, every double finite.
// kInvalidArgument with the offending field path on failure.
[[nodiscard]] Status ValidateReport(const dozor::v1::Report& report, int64_t now_ms,
                                    const ReportLimits& limits = {});

[[nodiscard]] Status ValidateEnrollRequest(const dozor::v1::EnrollRequest& request);

}  // namespace dozor::server
