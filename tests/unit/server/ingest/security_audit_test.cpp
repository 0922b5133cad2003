#include "ingest/security_audit.hpp"

#include <doctest/doctest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

#include "server/test_store.hpp"

namespace dozor::server {
namespace {

using testing::OpenTestStore;

TEST_CASE("a flood of refusals becomes one row per kind and source, with the count") {
  testing::TempDir dir;
  auto store = OpenTestStore(dir);
  FakeClock clock;
  SecurityAudit audit(*store, clock);
  for (int i = 0; i < 1000; ++i) {
    audit.Record(SecurityEventKind::kAgentAuthFailed, "ipv4:10.0.0.5", "agent-x", "wrong secret");
  }
  audit.Record(SecurityEventKind::kAgentAuthFailed, "ipv4:10.0.0.6", "agent-y", "unknown agent");
  audit.Record(SecurityEventKind::kThrottled, "ipv4:10.0.0.5", "agent-x", "blocked");
  REQUIRE(audit.Flush().ok());
  auto rows = store->ListSecurityEvents({.limit = 100});
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 3);
  int64_t total = 0;
  for (const auto& row : *rows) {
    total += row.count;
    if (row.source == "ipv4:10.0.0.5" && row.kind == SecurityEventKind::kAgentAuthFailed) {
      CHECK(row.count == 1000);
      CHECK(row.subject == "agent-x");
    }
  }
  CHECK(total == 1002);
  // Nothing pending: a second flush writes nothing.
  REQUIRE(audit.Flush().ok());
  CHECK(store->ListSecurityEvents({.limit = 100})->size() == 3);
}

TEST_CASE("pending refusals are bounded: beyond max_pending sources they are summed under *") {
  testing::TempDir dir;
  auto store = OpenTestStore(dir);
  FakeClock clock;
  SecurityAuditOptions options;
  options.max_pending = 3;
  SecurityAudit audit(*store, clock, options);
  for (int i = 0; i < 10; ++i) {
    audit.Record(SecurityEventKind::kEnrollRefused, "ipv4:10.0.0." + std::to_string(i), "",
                 "unknown enrollment token");
  }
  REQUIRE(audit.Flush().ok());
  auto rows = store->ListSecurityEvents({.limit = 100});
  REQUIRE(rows.ok());
  // Three sources, then "*" (a fourth pending entry) standing for the other seven.
  REQUIRE(rows->size() == 4);
  int64_t starred = 0;
  for (const auto& row : *rows) {
    if (row.source == "*") starred = row.count;
  }
  CHECK(starred == 7);
}

TEST_CASE("control characters in what a caller presented are escaped before they are stored") {
  testing::TempDir dir;
  auto store = OpenTestStore(dir);
  FakeClock clock;
  SecurityAudit audit(*store, clock);
  audit.Record(SecurityEventKind::kEnrollRefused, "ipv4:10.0.0.1", "pc\n01\x1b[31m", "bad\r");
  REQUIRE(audit.Flush().ok());
  auto rows = store->ListSecurityEvents({.limit = 10});
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  CHECK(rows->front().subject.find('\n') == std::string::npos);
  CHECK(rows->front().subject.find('\x1b') == std::string::npos);
  CHECK(rows->front().detail.find('\r') == std::string::npos);
}

TEST_CASE("a refusal its caller logs is stored and counted without a log line of the audit's") {
  testing::TempDir dir;
  auto store = OpenTestStore(dir);
  FakeClock clock;
  SecurityAudit audit(*store, clock);
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured)));
  for (int i = 0; i < 3; ++i) {
    audit.Record(SecurityEventKind::kAgentAuthFailed, "ipv4:10.0.0.5", "agent-x", "wrong secret",
                 SecurityAudit::Logging::kByCaller);
  }
  for (int i = 0; i < 3; ++i) {
    audit.Record(SecurityEventKind::kEnrollRefused, "ipv4:10.0.0.5", "", "unknown token");
  }
  const Status flushed = audit.Flush();
  spdlog::set_default_logger(previous);
  REQUIRE(flushed.ok());
  const std::string log = captured.str();
  CHECK(log.find("agent_auth_failed") == std::string::npos);
  CHECK(log.find("security: enroll_refused from ipv4:10.0.0.5") != std::string::npos);
  CHECK(log.find("2 more enroll_refused") != std::string::npos);
  auto rows = store->ListSecurityEvents({.limit = 10});
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 2);
  for (const auto& row : *rows) CHECK(row.count == 3);
}

TEST_CASE("a gRPC peer's address drops the port") {
  CHECK(PeerAddress("ipv4:10.0.0.5:53124") == "ipv4:10.0.0.5");
  CHECK(PeerAddress("ipv6:[::1]:80") == "ipv6:[::1]");
  CHECK(PeerAddress("ipv6:%5B::1%5D:80") == "ipv6:%5B::1%5D");
  CHECK(PeerAddress("unix:/run/x.sock") == "unix:/run/x.sock");
  CHECK(PeerAddress("") == "");
}

}  // namespace
}  // namespace dozor::server
