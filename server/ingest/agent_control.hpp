// What the management API may ask of connected agents. Plain C++ (no gRPC types) so the HTTP layer
// can depend on it without linking the gRPC ingest; the ingest service implements it.
#pragma once

#include <string>
#include <string_view>

#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"

namespace dozor::server {

class AgentControl {
 public:
  virtual ~AgentControl() = default;
  // True while the agent has an authenticated stream open.
  [[nodiscard]] virtual bool IsConnected(std::string_view agent_id) const = 0;
  // Queues a command on the agent's live stream. kUnavailable if it is not connected.
  // The command id is assigned by the implementation and returned.
  virtual Result<uint64_t> SendCommand(std::string_view agent_id, dozor::v1::Command command) = 0;
  // Closes the agent's stream (e.g. after it was revoked).
  virtual void Disconnect(std::string_view agent_id) = 0;
};

}  // namespace dozor::server
