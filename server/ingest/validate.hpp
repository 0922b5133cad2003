// Validation of everything an agent sends. Agents are treated as hostile: every string, list and
// number is bounded before anything reaches the store.
#pragma once

#include <cstdint>
#include <string>

#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"
#include "ingest/wire_shape.hpp"

namespace dozor::server {

// What one report of a kind may cost, on the wire and parsed (fields at any depth; every parsed
// field is a few dozen bytes of memory, so this bounds the parsed size as bytes bound the wire).
struct PayloadBudget {
  size_t max_bytes = 0;
  size_t max_fields = 0;
};

struct ReportLimits {
  // Health samples are small: this machine's is 405 bytes and 73 fields; a host with 300 network
  // interfaces and 200 mounts is ~30 KB and ~5,500 fields.
  PayloadBudget health{512 * 1024, 20'000};
  // Inventories are bounded but generous: this machine's (983 packages) is 110 KB and 7,590
  // fields, so a server with 5,000 packages is ~0.6 MB and ~40,000 fields. 16 MiB is also the
  // transport's receive limit.
  PayloadBudget inventory{16 * 1024 * 1024, 1'000'000};
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

// Checks a stream message's wire shape against its payload's budget (a message without a payload
// gets the health budget, the smallest). kResourceExhausted saying which budget, before any parse.
[[nodiscard]] Status CheckReportBudget(const WireShape& shape, const ReportLimits& limits);

// The refusal for a message whose wire walk stopped at a limit (kResourceExhausted from
// ScanWireShape): named by the payload's kind and budget, like CheckReportBudget's.
[[nodiscard]] Error WalkLimitError(const WireShape& shape, const ReportLimits& limits,
                                   const Error& walk);

// The wire-walk limits for a stream message: the larger budget, so the walk stops early.
[[nodiscard]] WireScanLimits StreamScanLimits(const ReportLimits& limits);

// Enrollment requests are five short strings; anything larger is refused before it is parsed.
inline constexpr size_t kMaxEnrollRequestBytes = 16 * 1024;

[[nodiscard]] Status ValidateEnrollRequest(const dozor::v1::EnrollRequest& request);

}  // namespace dozor::server
