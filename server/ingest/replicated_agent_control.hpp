// AgentControl for several replicas on one database: the agent's stream on this replica first
// (the IngestService), else the replica that holds it (RemoteAgents: a command or a disconnect is
// forwarded there and applied to its local stream by DeliverForwarded), else "not connected" as
// with one replica.
#pragma once

#include "ingest/agent_control.hpp"
#include "ingest/remote_agents.hpp"

namespace dozor::server {

class ReplicatedAgentControl final : public AgentControl {
 public:
  // `remote` may be null (a single replica): then this is `local` unchanged.
  ReplicatedAgentControl(AgentControl& local, RemoteAgents* remote)
      : local_(local), remote_(remote) {}

  [[nodiscard]] bool IsConnected(std::string_view agent_id) const override;
  // A forwarded command is queued, not yet written to the stream: the id returned is the
  // forwarding id, and the holding replica's stream gives the command its own id on delivery
  // (the agent only logs it). If that stream closed meanwhile, the command is dropped there, as a
  // command queued on a stream that then closes is.
  Result<uint64_t> SendCommand(std::string_view agent_id, dozor::v1::Command command) override;
  // Closes the local stream if there is one and always asks the other replicas too: after a
  // revocation no replica may keep the agent's stream open (a reconnect may have landed on
  // another replica a moment ago).
  void Disconnect(std::string_view agent_id) override;

  // Applies a request another replica forwarded here to the local stream. Called by the
  // channel's delivery thread.
  void DeliverForwarded(const ForwardedRequest& request);

 private:
  AgentControl& local_;
  RemoteAgents* remote_;
};

}  // namespace dozor::server
