#include "ingest/wire_shape.hpp"

#include <doctest/doctest.h>

#include "dozor/v1/agent.pb.h"

namespace dozor::server {
namespace {

using dozor::v1::AgentMessage;

WireShape Scan(const std::string& bytes, WireScanLimits limits = {}) {
  WireShape shape;
  auto status = ScanWireShape(AgentMessage::descriptor(), bytes, limits, &shape);
  REQUIRE(status.ok());
  return shape;
}

TEST_CASE("the wire walk reads seq and payload kind and counts fields at every depth") {
  AgentMessage message;
  message.mutable_report()->set_seq(42);
  message.mutable_report()->set_collected_at_ms(1'700'000'000'000);
  auto* health = message.mutable_report()->mutable_health();
  for (int i = 0; i < 10; ++i) health->add_top_cpu()->set_pid(static_cast<uint32_t>(i + 1));
  auto shape = Scan(message.SerializeAsString());
  CHECK(shape.has_report);
  CHECK(shape.seq == 42);
  CHECK(shape.payload == PayloadKind::kHealth);
  // report, seq, collected_at, health, 10 x (top_cpu + pid)
  CHECK(shape.fields == 4 + 20);
  CHECK(shape.max_depth == 3);
  CHECK(shape.bytes == message.ByteSizeLong());

  AgentMessage inventory;
  inventory.mutable_report()->set_seq(7);
  inventory.mutable_report()->mutable_inventory()->mutable_os()->set_name("Debian");
  auto inventory_shape = Scan(inventory.SerializeAsString());
  CHECK(inventory_shape.payload == PayloadKind::kInventory);
  CHECK(inventory_shape.seq == 7);

  CHECK_FALSE(Scan("").has_report);
}

TEST_CASE("the wire walk stops at the field limit and keeps what it learned") {
  AgentMessage message;
  message.mutable_report()->set_seq(9);
  for (int i = 0; i < 1000; ++i) {
    message.mutable_report()->mutable_health()->add_top_cpu()->set_pid(1);
  }
  WireScanLimits limits;
  limits.max_fields = 100;
  WireShape shape;
  auto status =
      ScanWireShape(AgentMessage::descriptor(), message.SerializeAsString(), limits, &shape);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == ErrorCode::kResourceExhausted);
  CHECK(shape.seq == 9);
  CHECK(shape.payload == PayloadKind::kHealth);
}

TEST_CASE("malformed wire data is refused with a reason, never read past its end") {
  AgentMessage message;
  message.mutable_report()->set_seq(1);
  message.mutable_report()->mutable_health()->set_cpu_percent(3);
  const std::string good = message.SerializeAsString();
  WireShape shape;
  // Truncated: a length that runs past the end.
  auto truncated = ScanWireShape(AgentMessage::descriptor(), good.substr(0, good.size() - 3),
                                 WireScanLimits{}, &shape);
  REQUIRE_FALSE(truncated.ok());
  CHECK(truncated.error().code == ErrorCode::kInvalidArgument);
  // A zero tag, field number 0, a group and wire type 7.
  for (std::string bad :
       {std::string("\x00\x01", 2), std::string("\x02\x00", 2), std::string("\x0b\x0c", 2),
        std::string("\x0f", 1), std::string("\x0a\xff\xff\xff\xff\x0f", 6)}) {
    auto status = ScanWireShape(AgentMessage::descriptor(), bad, WireScanLimits{}, &shape);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == ErrorCode::kInvalidArgument);
    CHECK(status.error().message.find("not a valid protobuf message") != std::string::npos);
  }
}

TEST_CASE("nesting deeper than the limit is refused") {
  // An unknown length-delimited field is skipped as bytes, so depth comes only from known
  // message fields: report -> health -> top_cpu is depth 3.
  AgentMessage message;
  message.mutable_report()->mutable_health()->add_top_cpu()->set_pid(1);
  WireScanLimits limits;
  limits.max_depth = 2;
  WireShape shape;
  auto status =
      ScanWireShape(AgentMessage::descriptor(), message.SerializeAsString(), limits, &shape);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().code == ErrorCode::kResourceExhausted);
}

}  // namespace
}  // namespace dozor::server
