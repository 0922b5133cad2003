// Agents whose stream another dozor-server replica holds, and the hook that tells such a registry
// which streams this replica holds. Plain C++ (no gRPC, no protobuf, no store backend): the
// PostgreSQL replica channel (store/postgres/pg_replica_channel.hpp) implements both, and
// ReplicatedAgentControl (replicated_agent_control.hpp) uses them without depending on it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"

namespace dozor::server {

// Told by IngestService when an agent's stream becomes this replica's current one and when it is
// gone. Called under the service's registry lock, in the order the registry changed, so an
// implementation must only record the change (no I/O, no calls back into the service).
class StreamObserver {
 public:
  virtual ~StreamObserver() = default;
  virtual void StreamOpened(std::string_view agent_id) = 0;
  virtual void StreamClosed(std::string_view agent_id) = 0;
};

// A request another replica forwarded to this one, for an agent whose stream is (or was, when it
// was sent) held here.
struct ForwardedRequest {
  enum class Kind { kCommand, kDisconnect };
  int64_t id = 0;  // the forwarding id, increasing in the order the requests were sent
  std::string agent_id;
  Kind kind = Kind::kCommand;
  std::string command;  // kCommand: a serialized dozor.v1.Command
};

// The streams the other replicas hold. Errors are the registry's own (a lost database):
// callers treat them as "not connected".
class RemoteAgents {
 public:
  virtual ~RemoteAgents() = default;
  // True when another live replica holds the agent's stream.
  [[nodiscard]] virtual Result<bool> IsConnectedElsewhere(std::string_view agent_id) = 0;
  // Queues `command` (a serialized dozor.v1.Command) for the replica holding the agent's stream
  // and wakes it; returns the forwarding id. kUnavailable "agent … is not connected" when no
  // other live replica holds it.
  virtual Result<uint64_t> ForwardCommand(std::string_view agent_id,
                                          const std::string& command) = 0;
  // Asks the replica holding the agent's stream to close it. Ok (nothing to do) when none does.
  virtual Status ForwardDisconnect(std::string_view agent_id) = 0;
};

}  // namespace dozor::server
