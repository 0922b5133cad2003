#include "domain/host_status.hpp"

namespace dozor::server {

HostStatusBounds HostStatusBoundsAt(int64_t now_ms, int64_t offline_after_ms) {
  return HostStatusBounds{now_ms - offline_after_ms, now_ms - kHostOverdueAfterMs};
}

HostStatus HostStatusOf(bool revoked, bool from_agent, int64_t last_seen_ms,
                        const HostStatusBounds& bounds) {
  if (revoked) {
    return HostStatus::kRevoked;
  }
  if (!from_agent) {
    return HostStatus::kImported;
  }
  if (last_seen_ms > 0 && last_seen_ms >= bounds.online_since_ms) {
    return HostStatus::kOnline;
  }
  return last_seen_ms <= bounds.overdue_before_ms ? HostStatus::kOverdue : HostStatus::kOffline;
}

}  // namespace dozor::server
