#include "domain/host_status.hpp"

#include <doctest/doctest.h>

namespace dozor::server {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;
constexpr int64_t kOfflineAfterMs = 180'000;
constexpr int64_t kHourMs = 3'600'000;

HostStatus AgentHost(int64_t last_seen_ms, int64_t offline_after_ms = kOfflineAfterMs) {
  return HostStatusOf(false, true, last_seen_ms, HostStatusBoundsAt(kNow, offline_after_ms));
}

TEST_CASE(
    "an agent host is online within the offline threshold, offline after, overdue after a day") {
  CHECK(AgentHost(kNow) == HostStatus::kOnline);
  CHECK(AgentHost(kNow - kOfflineAfterMs) == HostStatus::kOnline);
  CHECK(AgentHost(kNow - kOfflineAfterMs - 1) == HostStatus::kOffline);
  CHECK(AgentHost(kNow - 23 * kHourMs) == HostStatus::kOffline);
  CHECK(AgentHost(kNow - kHostOverdueAfterMs + 1) == HostStatus::kOffline);
  CHECK(AgentHost(kNow - kHostOverdueAfterMs) == HostStatus::kOverdue);
  CHECK(AgentHost(kNow - 30 * 24 * kHourMs) == HostStatus::kOverdue);
}

TEST_CASE("a host that never reported is overdue, never online") {
  CHECK(AgentHost(0) == HostStatus::kOverdue);
  // Even with an offline threshold past a day (the configuration allows a week).
  CHECK(AgentHost(0, 7 * 24 * kHourMs) == HostStatus::kOverdue);
}

TEST_CASE("with an offline threshold past a day a host is online until it is overdue") {
  const int64_t week = 7 * 24 * kHourMs;
  CHECK(AgentHost(kNow - 2 * 24 * kHourMs, week) == HostStatus::kOnline);
  CHECK(AgentHost(kNow - week - 1, week) == HostStatus::kOverdue);
}

TEST_CASE("revoked and imported hosts are neither online, offline nor overdue") {
  const HostStatusBounds bounds = HostStatusBoundsAt(kNow, kOfflineAfterMs);
  CHECK(HostStatusOf(true, true, kNow, bounds) == HostStatus::kRevoked);
  CHECK(HostStatusOf(true, false, 0, bounds) == HostStatus::kRevoked);
  CHECK(HostStatusOf(false, false, 0, bounds) == HostStatus::kImported);
  CHECK(HostStatusOf(false, false, kNow, bounds) == HostStatus::kImported);
}

}  // namespace
}  // namespace dozor::server
