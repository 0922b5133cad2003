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

std::optional<SecurityEventKind> SecurityEventKindFromName(std::string_view name) {
  for (const SecurityEventKind kind : kSecurityEventKinds) {
    if (name == SecurityEventKindName(kind)) return kind;
  }
  return std::nullopt;
}

}  // namespace dozor::server
