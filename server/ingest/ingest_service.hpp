// The gRPC ingest service (callback API: no thread per stream).
//
// Enroll trades an enrollment token for an agent identity. Connect is the one long-lived stream per
// agent: authenticated from call metadata, every report validated, handed to the ReportWriter and
// acked only after its batch committed. At most `max_in_flight` reports (and
// `max_in_flight_bytes`) per stream wait for their commit; beyond that the stream stops reading,
// which pushes back on the agent through gRPC flow control instead of growing server memory.
//
// Both methods are registered "raw" (grpc::ByteBuffer): the service sizes and walks each message
// (wire_shape.hpp) before parsing it, so an over-budget message is refused by seq without being
// materialised, and undecodable bytes get INVALID_ARGUMENT with a reason instead of gRPC's generic
// handling (UNIMPLEMENTED for Enroll, a silent end of stream for Connect).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "domain/failure_throttle.hpp"
#include "dozor/common/clock.hpp"
#include "dozor/v1/agent.grpc.pb.h"
#include "ingest/agent_control.hpp"
#include "ingest/remote_agents.hpp"
#include "ingest/report_admission.hpp"
#include "ingest/report_writer.hpp"
#include "ingest/security_audit.hpp"
#include "ingest/validate.hpp"
#include "store/agent_store.hpp"
#include "store/host_store.hpp"

namespace dozor::server {

struct IngestOptions {
  size_t max_in_flight_per_stream = 64;
  // Wire bytes of one stream's reports waiting for their commit: two of the largest inventories.
  size_t max_in_flight_bytes_per_stream = 32 * 1024 * 1024;
  // Enrollments being processed at once (each waits for the store's write lock on a callback
  // thread); beyond this RESOURCE_EXHAUSTED, and a real agent retries.
  int max_concurrent_enrollments = 4;
  AdmissionOptions admission;
  // Brute force: failed enrollments per source address, wrong stream credentials per source
  // address and per agent id. A blocked caller gets RESOURCE_EXHAUSTED with the wait, without its
  // credentials being checked. An agent id's block never applies from the address that agent last
  // authenticated from, so guessing at a real agent's id cannot lock that agent out.
  FailureThrottleOptions enroll_throttle{20, 60'000, 300'000, 10'000};
  FailureThrottleOptions stream_source_throttle{20, 60'000, 300'000, 10'000};
  FailureThrottleOptions stream_agent_throttle{10, 60'000, 300'000, 10'000};
  // A stream that sends this many rejected reports is closed with INVALID_ARGUMENT.
  int max_rejected_per_stream = 100;
  ReportLimits limits;
};

struct StreamState;  // shared between a stream's reactor and the writer's completions

using RawAgentService = dozor::v1::AgentService::WithRawCallbackMethod_Enroll<
    dozor::v1::AgentService::WithRawCallbackMethod_Connect<dozor::v1::AgentService::Service>>;

class IngestService final : public RawAgentService, public AgentControl {
 public:
  // `audit` (may be null in tests) receives every refusal of an anonymous or agent caller.
  IngestService(AgentStore& agents, ReportWriter& writer, const Clock& clock,
                IngestOptions options = {}, SecurityAudit* audit = nullptr);
  ~IngestService() override;

  grpc::ServerUnaryReactor* Enroll(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Connect(
      grpc::CallbackServerContext* context) override;

  // AgentControl
  [[nodiscard]] bool IsConnected(std::string_view agent_id) const override;
  Result<uint64_t> SendCommand(std::string_view agent_id, dozor::v1::Command command) override;
  void Disconnect(std::string_view agent_id) override;

  [[nodiscard]] size_t ConnectedCount() const;

  // Told of every stream that becomes or stops being an agent's current one here (the replica
  // channel records it in the database). Set before the service takes streams; null = none.
  void SetStreamObserver(StreamObserver* observer);

  // Called by streams; public for the reactor class in the .cpp file.
  void Register(const std::string& agent_id, const std::shared_ptr<StreamState>& state);
  void Unregister(const std::string& agent_id, const StreamState* state);
  AgentStore& agents() { return agents_; }
  ReportWriter& writer() { return writer_; }
  const Clock& clock() const { return clock_; }
  const IngestOptions& options() const { return options_; }
  ReportAdmission& admission() { return admission_; }

  // Stream authentication's brute-force checks (see IngestOptions). Blocked: the wait in ms.
  int64_t StreamAuthBlockedForMs(const std::string& source, const std::string& agent_id);
  void StreamAuthFailed(const std::string& source, const std::string& agent_id,
                        const std::string& reason);
  void StreamAuthSucceeded(const std::string& source, const std::string& agent_id);
  void Audit(SecurityEventKind kind, std::string_view source, std::string_view subject,
             std::string_view detail,
             SecurityAudit::Logging logging = SecurityAudit::Logging::kFirstOfKind);

 private:
  AgentStore& agents_;
  ReportWriter& writer_;
  const Clock& clock_;
  IngestOptions options_;
  ReportAdmission admission_;
  SecurityAudit* audit_;
  FailureThrottle enroll_throttle_;
  FailureThrottle stream_source_throttle_;
  FailureThrottle stream_agent_throttle_;
  // Keyed "agent@address" for agents at their last good address, which the two above exempt.
  FailureThrottle stream_pair_throttle_;
  bool IsLastGoodSource(const std::string& agent_id, const std::string& source);
  static std::string PairKey(const std::string& agent_id, const std::string& source);
  std::mutex good_sources_mutex_;
  std::unordered_map<std::string, std::string> last_good_source_;  // agent id -> address
  std::atomic<int> enrollments_in_progress_{0};
  mutable std::mutex registry_mutex_;
  std::unordered_map<std::string, std::weak_ptr<StreamState>> streams_;
  StreamObserver* stream_observer_ = nullptr;  // guarded by registry_mutex_
  std::atomic<uint64_t> next_command_id_{1};
};

}  // namespace dozor::server
