#include "store/report_screening.hpp"

#include <cstdint>

namespace dozor::server {

std::optional<CommitResult> ScreenReport(const dozor::v1::Report& report, bool known, bool revoked,
                                         uint64_t last_seq, bool unencodable) {
  CommitResult result;
  result.seq = report.seq();
  result.outcome = CommitOutcome::kRejected;
  if (!known) {
    result.reason = "unknown agent";
  } else if (report.seq() > static_cast<uint64_t>(INT64_MAX)) {
    result.reason = "sequence number beyond 2^63";  // stored as int64, it would turn negative
  } else if (revoked) {
    result.reason = "agent is revoked";
  } else if (report.seq() <= last_seq) {
    result.outcome = CommitOutcome::kDuplicate;
  } else if (report.has_health() && unencodable) {
    result.reason = "health sample could not be encoded";
  } else if (!report.has_health() && !report.has_inventory()) {
    result.reason = "report has no payload";
  } else {
    return std::nullopt;
  }
  return result;
}

}  // namespace dozor::server
