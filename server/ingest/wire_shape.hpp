// What an agent's message will cost before it is parsed: a walk over the protobuf wire format that
// counts fields at every depth and reads the report's seq and payload kind, allocating nothing.
//
// Why: a parsed message can be many times larger than its bytes (a 30 MB message of tiny nested
// items parsed to ~300 MB), so bounding bytes alone does not bound memory. The shape is checked
// against the report type's budget first, and only a message within it is parsed; an over-budget
// report is refused by seq without ever being materialised.
#pragma once

#include <google/protobuf/descriptor.h>

#include <cstdint>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor::server {

enum class PayloadKind { kNone, kInventory, kHealth };

struct WireShape {
  size_t bytes = 0;
  size_t fields = 0;  // every field occurrence at any depth; each item of a list counts
  int max_depth = 0;
  bool has_report = false;  // AgentMessage.report present
  uint64_t seq = 0;         // Report.seq (0 when absent)
  PayloadKind payload = PayloadKind::kNone;
};

struct WireScanLimits {
  size_t max_fields = 1'000'000;  // the walk stops as soon as this is exceeded
  int max_depth = 16;
};

// Walks `bytes` as a message of type `descriptor` (AgentMessage for the stream). Unknown fields
// are counted and skipped; malformed wire data (bad tag, truncated length, groups) is
// kInvalidArgument naming what is wrong; exceeding a limit is kResourceExhausted. The report's
// seq and payload are filled whenever the walk got that far, so a refusal can name the report.
[[nodiscard]] Status ScanWireShape(const google::protobuf::Descriptor* descriptor,
                                   std::string_view bytes, const WireScanLimits& limits,
                                   WireShape* shape);

}  // namespace dozor::server
