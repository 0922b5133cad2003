// Times typed on dozorctl's command line (audit --since / --until).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor::ctl {

// Unix ms of `text`: a span before `now_ms` ("90s", "30m", "2h", "7d", "2w"), a local date
// ("2026-11-26": its midnight) or a local date and time ("2026-11-26 18:30", "2026-11-26T18:30").
// kInvalidArgument naming the accepted forms otherwise.
Result<int64_t> ParseTimeArgument(std::string_view text, int64_t now_ms);

// --since / --until as the API's since_ms / until_ms query values: each empty when its argument
// is, else its ParseTimeArgument in decimal. The first argument that cannot be read fails.
struct TimeRangeQuery {
  std::string since_ms;
  std::string until_ms;
};
Result<TimeRangeQuery> ParseTimeRange(std::string_view since, std::string_view until,
                                      int64_t now_ms);

}  // namespace dozor::ctl
