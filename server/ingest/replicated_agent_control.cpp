#include "ingest/replicated_agent_control.hpp"

#include <spdlog/spdlog.h>

#include <string>

namespace dozor::server {

bool ReplicatedAgentControl::IsConnected(std::string_view agent_id) const {
  if (local_.IsConnected(agent_id)) {
    return true;
  }
  if (remote_ == nullptr) {
    return false;
  }
  auto elsewhere = remote_->IsConnectedElsewhere(agent_id);
  if (!elsewhere.ok()) {
    spdlog::warn("is agent {} connected to another replica: {}", agent_id,
                 elsewhere.error().ToString());
    return false;
  }
  return *elsewhere;
}

Result<uint64_t> ReplicatedAgentControl::SendCommand(std::string_view agent_id,
                                                     dozor::v1::Command command) {
  if (remote_ == nullptr || local_.IsConnected(agent_id)) {
    auto sent = local_.SendCommand(agent_id, command);
    // The local stream may have closed between the two calls; the agent may be elsewhere now.
    if (sent.ok() || remote_ == nullptr || sent.error().code != ErrorCode::kUnavailable) {
      return sent;
    }
  }
  std::string bytes;
  if (!command.SerializeToString(&bytes)) {
    return MakeError(ErrorCode::kInternal, "cannot serialize the command");
  }
  return remote_->ForwardCommand(agent_id, bytes);
}

void ReplicatedAgentControl::Disconnect(std::string_view agent_id) {
  local_.Disconnect(agent_id);
  if (remote_ == nullptr) {
    return;
  }
  if (Status forwarded = remote_->ForwardDisconnect(agent_id); !forwarded.ok()) {
    spdlog::warn("cannot ask the other replicas to disconnect agent {}: {}", agent_id,
                 forwarded.error().ToString());
  }
}

void ReplicatedAgentControl::DeliverForwarded(const ForwardedRequest& request) {
  if (request.kind == ForwardedRequest::Kind::kDisconnect) {
    local_.Disconnect(request.agent_id);
    return;
  }
  dozor::v1::Command command;
  if (!command.ParseFromString(request.command)) {
    spdlog::warn("dropping forwarded request {} for agent {}: not a command", request.id,
                 request.agent_id);
    return;
  }
  auto sent = local_.SendCommand(request.agent_id, std::move(command));
  if (!sent.ok()) {
    spdlog::info("dropping forwarded command {} for agent {}: {}", request.id, request.agent_id,
                 sent.error().ToString());
    return;
  }
  spdlog::debug("forwarded command {} for agent {} sent as command {}", request.id,
                request.agent_id, *sent);
}

}  // namespace dozor::server
