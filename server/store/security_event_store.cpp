#include "store/security_event_store.hpp"

namespace dozor::server {

const char* SecurityEventKindName(SecurityEventKind kind) {
  switch (kind) {
    case SecurityEventKind::kEnrollRefused:
      return "enroll_refused";
    case SecurityEventKind::kAgentAuthFailed:
      return "agent_auth_failed";
    case SecurityEventKind::kThrottled:
      return "throttled";
    case SecurityEventKind::kApiAuthFailed:
      return "api_auth_failed";
    case SecurityEventKind::kImportRefused:
      return "import_refused";
  }
  return "enroll_refused";
}

}  // namespace dozor::server
