// The gRPC ingest service (callback API: no thread per stream).
//
// Enroll trades an enrollment token for an agent identity. Connect is the one long-lived stream per
// agent: authenticated from call metadata, every report validated, handed to the ReportWriter and
// acked only after its batch committed. At most `max_in_flight` reports per stream wait for their
// commit; beyond that the stream stops reading, which pushes back on the agent through gRPC flow
// control instead of growing server memory.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "dozor/common/clock.hpp"
#include "dozor/v1/agent.grpc.pb.h"
#include "ingest/agent_control.hpp"
#include "ingest/report_writer.hpp"
#include "ingest/validate.hpp"
#include "store/agent_store.hpp"
#include "store/host_store.hpp"

namespace dozor::server {

struct IngestOptions {
  size_t max_in_flight_per_stream = 64;
  // A stream that sends this many rejected reports is closed with INVALID_ARGUMENT.
  int max_rejected_per_stream = 100;
  ReportLimits limits;
};

struct StreamState;  // shared between a stream's reactor and the writer's completions

class IngestService final : public dozor::v1::AgentService::CallbackService, public AgentControl {
 public:
  IngestService(AgentStore& agents, ReportWriter& writer, const Clock& clock,
                IngestOptions options = {});
  ~IngestService() override;

  grpc::ServerUnaryReactor* Enroll(grpc::CallbackServerContext* context,
                                   const dozor::v1::EnrollRequest* request,
                                   dozor::v1::EnrollResponse* response) override;
  grpc::ServerBidiReactor<dozor::v1::AgentMessage, dozor::v1::ServerMessage>* Connect(
      grpc::CallbackServerContext* context) override;

  // AgentControl
  [[nodiscard]] bool IsConnected(std::string_view agent_id) const override;
  Result<uint64_t> SendCommand(std::string_view agent_id, dozor::v1::Command command) override;
  void Disconnect(std::string_view agent_id) override;

  [[nodiscard]] size_t ConnectedCount() const;

  // Called by streams; public for the reactor class in the .cpp file.
  void Register(const std::string& agent_id, const std::shared_ptr<StreamState>& state);
  void Unregister(const std::string& agent_id, const StreamState* state);
  AgentStore& agents() { return agents_; }
  ReportWriter& writer() { return writer_; }
  const Clock& clock() const { return clock_; }
  const IngestOptions& options() const { return options_; }

 private:
  AgentStore& agents_;
  ReportWriter& writer_;
  const Clock& clock_;
  IngestOptions options_;
  mutable std::mutex registry_mutex_;
  std::unordered_map<std::string, std::weak_ptr<StreamState>> streams_;
  std::atomic<uint64_t> next_command_id_{1};
};

}  // namespace dozor::server
