// One-shot enrollment: trades a client-scoped token for this agent's identity.
#pragma once

#include <string>

#include "dozor/common/result.hpp"
#include "transport/channel.hpp"

namespace dozor::agent {

struct EnrollResult {
  std::string agent_id;
  std::string agent_secret;
  std::string organization;
};

struct EnrollParams {
  std::string token;
  std::string hostname;
  std::string machine_id;
  int timeout_seconds = 30;
};

// kPermissionDenied with the server's reason for a wrong/expired/revoked token; kUnavailable when
// the server cannot be reached (with gRPC's reason, e.g. a TLS verification failure).
[[nodiscard]] Result<EnrollResult> Enroll(const ChannelOptions& channel,
                                          const EnrollParams& params);

}  // namespace dozor::agent
