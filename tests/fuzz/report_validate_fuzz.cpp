// Fuzz target: what an agent sends on its stream. Arbitrary bytes are first walked as wire format
// (the allocation-free pre-parse check, wire_shape.hpp) and checked against the report budgets,
// then parsed as an AgentMessage (the stream's message type) and every report in it goes through
// the server's validator, exactly as the ingest reactor does before anything reaches the store.
#include <cstddef>
#include <cstdint>

#include "dozor/v1/agent.pb.h"
#include "ingest/validate.hpp"
#include "ingest/wire_shape.hpp"

namespace {
// A fixed "now" keeps runs repeatable (collected_at checks depend on it).
constexpr int64_t kNowMs = 1'780'000'000'000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const dozor::server::ReportLimits limits;
  dozor::server::WireShape shape;
  auto scanned =
      dozor::server::ScanWireShape(dozor::v1::AgentMessage::descriptor(),
                                   std::string_view(reinterpret_cast<const char*>(data), size),
                                   dozor::server::StreamScanLimits(limits), &shape);
  if (scanned.ok()) {
    (void)dozor::server::CheckReportBudget(shape, limits);
  }
  dozor::v1::AgentMessage message;
  if (!message.ParseFromArray(data, static_cast<int>(size))) {
    return 0;
  }
  if (message.has_report()) {
    (void)dozor::server::ValidateReport(message.report(), kNowMs);
  }
  dozor::v1::EnrollRequest enroll;
  if (enroll.ParseFromArray(data, static_cast<int>(size))) {
    (void)dozor::server::ValidateEnrollRequest(enroll);
  }
  return 0;
}
