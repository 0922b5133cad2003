#include "ingest/ingest_service.hpp"

#include <spdlog/spdlog.h>

#include <deque>

#include "dozor/common/crypto.hpp"
#include "dozor/common/text.hpp"

namespace dozor::server {

using dozor::v1::AgentMessage;
using dozor::v1::ServerMessage;

namespace {

constexpr std::string_view kAuthPrefix = "Dozor ";

grpc::Status ToGrpcStatus(const Error& error) {
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      code = grpc::StatusCode::INVALID_ARGUMENT;
      break;
    case ErrorCode::kNotFound:
      code = grpc::StatusCode::NOT_FOUND;
      break;
    case ErrorCode::kAlreadyExists:
      code = grpc::StatusCode::ALREADY_EXISTS;
      break;
    case ErrorCode::kPermissionDenied:
      code = grpc::StatusCode::PERMISSION_DENIED;
      break;
    case ErrorCode::kUnavailable:
      code = grpc::StatusCode::UNAVAILABLE;
      break;
    case ErrorCode::kResourceExhausted:
      code = grpc::StatusCode::RESOURCE_EXHAUSTED;
      break;
    case ErrorCode::kFailedPrecondition:
      code = grpc::StatusCode::FAILED_PRECONDITION;
      break;
    case ErrorCode::kDataLoss:
    case ErrorCode::kInternal:
      code = grpc::StatusCode::INTERNAL;
      break;
  }
  return grpc::Status(code, error.message);
}

std::string PeerOf(const grpc::CallbackServerContext* context) { return context->peer(); }

}  // namespace

// State shared by a stream's reactor and the writer thread's completions. The reactor pointer is
// cleared in OnDone (under `mutex`), after which completions do nothing.
struct StreamState {
  std::mutex mutex;
  class AgentStream* reactor = nullptr;
  std::string agent_id;
};

class AgentStream final : public grpc::ServerBidiReactor<AgentMessage, ServerMessage> {
 public:
  AgentStream(IngestService& service, grpc::CallbackServerContext* context)
      : service_(service), context_(context), state_(std::make_shared<StreamState>()) {
    state_->reactor = this;
    AgentCredential credential;
    grpc::Status auth = Authenticate(&credential);
    if (!auth.ok()) {
      spdlog::warn("refused agent stream from {}: {}", PeerOf(context_),
                   EscapeControlText(auth.error_message()));
      std::lock_guard lock(state_->mutex);
      FinishLocked(auth);
      return;
    }
    agent_id_ = credential.agent_id;
    state_->agent_id = agent_id_;
    service_.Register(agent_id_, state_);
    ServerMessage accepted;
    accepted.mutable_accepted()->set_agent_id(agent_id_);
    accepted.mutable_accepted()->set_last_committed_seq(credential.last_committed_seq);
    accepted.mutable_accepted()->set_server_time_ms(service_.clock().NowMs());
    std::lock_guard lock(state_->mutex);
    QueueWriteLocked(std::move(accepted));
    reading_ = true;
    StartRead(&incoming_);
  }

  void OnReadDone(bool ok) override {
    std::lock_guard lock(state_->mutex);
    reading_ = false;
    if (!ok) {
      // The agent half-closed or the stream broke: finish once pending acks are written.
      read_closed_ = true;
      MaybeFinishCleanLocked();
      return;
    }
    if (finishing_) {
      return;
    }
    HandleMessageLocked();
    if (!finishing_ && in_flight_ < service_.options().max_in_flight_per_stream) {
      reading_ = true;
      StartRead(&incoming_);
    }
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(state_->mutex);
    writing_ = false;
    if (!outbox_.empty()) outbox_.pop_front();
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write to agent failed"));
      return;
    }
    if (pending_finish_) {
      DoFinishLocked();
      return;
    }
    StartNextWriteLocked();
    MaybeFinishCleanLocked();
  }

  void OnCancel() override {
    std::lock_guard lock(state_->mutex);
    FinishLocked(grpc::Status::CANCELLED);
  }

  void OnDone() override {
    {
      std::lock_guard lock(state_->mutex);
      state_->reactor = nullptr;
    }
    if (!agent_id_.empty()) {
      service_.Unregister(agent_id_, state_.get());
    }
    delete this;
  }

  // Writer thread: a report of this stream was committed (or the batch failed).
  void OnCommittedLocked(const Result<CommitResult>& result) {
    --in_flight_;
    if (!result.ok()) {
      FinishLocked(
          grpc::Status(grpc::StatusCode::UNAVAILABLE,
                       "server storage unavailable, retry later: " + result.error().message));
      return;
    }
    ServerMessage message;
    auto* ack = message.mutable_ack();
    ack->set_seq(result->seq);
    switch (result->outcome) {
      case CommitOutcome::kStored:
        ack->set_outcome(dozor::v1::Ack::STORED);
        break;
      case CommitOutcome::kDuplicate:
        ack->set_outcome(dozor::v1::Ack::DUPLICATE);
        break;
      case CommitOutcome::kRejected:
        ack->set_outcome(dozor::v1::Ack::REJECTED);
        ack->set_reason(result->reason);
        break;
    }
    QueueWriteLocked(std::move(message));
    if (!finishing_ && !reading_ && !read_closed_ &&
        in_flight_ < service_.options().max_in_flight_per_stream) {
      reading_ = true;
      StartRead(&incoming_);
    }
    MaybeFinishCleanLocked();
  }

  void QueueWriteLocked(ServerMessage message) {
    if (finishing_) return;
    outbox_.push_back(std::move(message));
    StartNextWriteLocked();
  }

  void FinishLocked(const grpc::Status& status) {
    if (finishing_) return;
    finishing_ = true;
    final_status_ = status;
    if (writing_) {
      pending_finish_ = true;  // Finish after the write in progress completes
      return;
    }
    DoFinishLocked();
  }

 private:
  // UNAUTHENTICATED for missing/malformed credentials, an unknown agent or a wrong secret (one
  // message for all, so a prober learns nothing); PERMISSION_DENIED for a revoked agent.
  grpc::Status Authenticate(AgentCredential* out) {
    const grpc::Status denied(grpc::StatusCode::UNAUTHENTICATED, "unknown agent or wrong secret");
    const auto& metadata = context_->client_metadata();
    auto it = metadata.find("authorization");
    if (it == metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing authorization metadata");
    }
    std::string_view value(it->second.data(), it->second.size());
    if (value.substr(0, kAuthPrefix.size()) != kAuthPrefix || value.size() > 512) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "malformed authorization metadata");
    }
    value.remove_prefix(kAuthPrefix.size());
    auto colon = value.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 128) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "malformed authorization metadata");
    }
    std::string agent_id(value.substr(0, colon));
    std::string_view secret = value.substr(colon + 1);
    auto credential = service_.agents().GetAgentCredential(agent_id);
    if (!credential.ok()) {
      if (credential.error().code == ErrorCode::kNotFound) return denied;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "cannot check credentials: " + credential.error().message);
    }
    if (!ConstantTimeEquals(Sha256Hex(secret), credential->secret_hash)) {
      return denied;
    }
    if (credential->revoked) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "agent " + agent_id + " has been revoked");
    }
    *out = std::move(credential).value();
    return grpc::Status::OK;
  }

  void HandleMessageLocked() {
    if (!incoming_.has_report()) {
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "message without a report"));
      return;
    }
    int64_t now_ms = service_.clock().NowMs();
    auto valid = ValidateReport(incoming_.report(), now_ms, service_.options().limits);
    if (!valid.ok()) {
      uint64_t seq = incoming_.report().seq();
      spdlog::warn("agent {}: rejected report seq {}: {}", agent_id_, seq,
                   EscapeControlText(valid.error().message));
      if (++rejected_ > service_.options().max_rejected_per_stream || seq == 0) {
        FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, valid.error().message));
        return;
      }
      ServerMessage message;
      message.mutable_ack()->set_seq(seq);
      message.mutable_ack()->set_outcome(dozor::v1::Ack::REJECTED);
      message.mutable_ack()->set_reason(valid.error().message);
      QueueWriteLocked(std::move(message));
      return;
    }
    IncomingReport report;
    report.agent_id = agent_id_;
    report.received_at_ms = now_ms;
    report.report.Swap(incoming_.mutable_report());
    std::weak_ptr<StreamState> weak = state_;
    ++in_flight_;
    bool queued =
        service_.writer().Submit(std::move(report), [weak](const Result<CommitResult>& result) {
          auto state = weak.lock();
          if (!state) return;
          std::lock_guard lock(state->mutex);
          if (state->reactor != nullptr) {
            state->reactor->OnCommittedLocked(result);
          }
        });
    if (!queued) {
      --in_flight_;
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server overloaded, retry later"));
    }
  }

  void StartNextWriteLocked() {
    if (writing_ || outbox_.empty() || finishing_) return;
    writing_ = true;
    StartWrite(&outbox_.front());
  }

  void MaybeFinishCleanLocked() {
    if (read_closed_ && in_flight_ == 0 && outbox_.empty() && !writing_) {
      FinishLocked(grpc::Status::OK);
    }
  }

  void DoFinishLocked() {
    pending_finish_ = false;
    Finish(final_status_);
  }

  IngestService& service_;
  grpc::CallbackServerContext* context_;
  std::shared_ptr<StreamState> state_;
  std::string agent_id_;
  AgentMessage incoming_;
  std::deque<ServerMessage> outbox_;  // front() is being written while writing_
  grpc::Status final_status_;
  size_t in_flight_ = 0;
  int rejected_ = 0;
  bool reading_ = false;
  bool read_closed_ = false;
  bool writing_ = false;
  bool finishing_ = false;
  bool pending_finish_ = false;
};

IngestService::IngestService(AgentStore& agents, ReportWriter& writer, const Clock& clock,
                             IngestOptions options)
    : agents_(agents), writer_(writer), clock_(clock), options_(options) {}

IngestService::~IngestService() = default;

grpc::ServerUnaryReactor* IngestService::Enroll(grpc::CallbackServerContext* context,
                                                const dozor::v1::EnrollRequest* request,
                                                dozor::v1::EnrollResponse* response) {
  auto* reactor = context->DefaultReactor();
  try {
    auto valid = ValidateEnrollRequest(*request);
    if (!valid.ok()) {
      reactor->Finish(ToGrpcStatus(valid.error()));
      return reactor;
    }
    auto agent_id = RandomHex(16);
    auto secret = RandomHex(32);
    if (!agent_id.ok() || !secret.ok()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INTERNAL, "cannot generate credentials"));
      return reactor;
    }
    NewAgent agent;
    agent.agent_id = *agent_id;
    agent.secret_hash = Sha256Hex(*secret);
    agent.hostname = request->hostname();
    agent.machine_id = request->machine_id();
    agent.agent_version = request->agent_version();
    agent.os = request->os();
    auto enrolled = agents_.EnrollAgent(Sha256Hex(request->token()), agent, clock_.NowMs());
    if (!enrolled.ok()) {
      // The hostname is the enrolling machine's word: escaped so it cannot forge a log line.
      spdlog::warn("enrollment of {} from {} refused: {}", EscapeControlText(request->hostname()),
                   PeerOf(context), enrolled.error().message);
      reactor->Finish(ToGrpcStatus(enrolled.error()));
      return reactor;
    }
    spdlog::info("enrolled agent {} ({}) into {}", agent.agent_id,
                 EscapeControlText(agent.hostname), EscapeControlText(enrolled->org_name));
    response->set_agent_id(agent.agent_id);
    response->set_agent_secret(*secret);
    response->set_organization(enrolled->org_name);
    reactor->Finish(grpc::Status::OK);
  } catch (const std::exception& e) {
    spdlog::error("enroll failed: {}", e.what());
    reactor->Finish(grpc::Status(grpc::StatusCode::INTERNAL, "internal error"));
  }
  return reactor;
}

grpc::ServerBidiReactor<AgentMessage, ServerMessage>* IngestService::Connect(
    grpc::CallbackServerContext* context) {
  return new AgentStream(*this, context);
}

void IngestService::Register(const std::string& agent_id,
                             const std::shared_ptr<StreamState>& state) {
  std::shared_ptr<StreamState> previous;
  {
    std::lock_guard lock(registry_mutex_);
    auto& slot = streams_[agent_id];
    previous = slot.lock();
    slot = state;
  }
  if (previous) {
    std::lock_guard lock(previous->mutex);
    if (previous->reactor != nullptr) {
      previous->reactor->FinishLocked(grpc::Status(
          grpc::StatusCode::ABORTED, "superseded by a newer connection of the same agent"));
    }
  }
}

void IngestService::Unregister(const std::string& agent_id, const StreamState* state) {
  std::lock_guard lock(registry_mutex_);
  auto it = streams_.find(agent_id);
  if (it != streams_.end()) {
    auto current = it->second.lock();
    if (!current || current.get() == state) {
      streams_.erase(it);
    }
  }
}

bool IngestService::IsConnected(std::string_view agent_id) const {
  std::lock_guard lock(registry_mutex_);
  auto it = streams_.find(std::string(agent_id));
  return it != streams_.end() && !it->second.expired();
}

size_t IngestService::ConnectedCount() const {
  std::lock_guard lock(registry_mutex_);
  return streams_.size();
}

Result<uint64_t> IngestService::SendCommand(std::string_view agent_id, dozor::v1::Command command) {
  std::shared_ptr<StreamState> state;
  {
    std::lock_guard lock(registry_mutex_);
    auto it = streams_.find(std::string(agent_id));
    if (it != streams_.end()) state = it->second.lock();
  }
  if (!state) {
    return MakeError(ErrorCode::kUnavailable,
                     "agent " + std::string(agent_id) + " is not connected");
  }
  uint64_t id = next_command_id_++;
  command.set_id(id);
  std::lock_guard lock(state->mutex);
  if (state->reactor == nullptr) {
    return MakeError(ErrorCode::kUnavailable,
                     "agent " + std::string(agent_id) + " is not connected");
  }
  ServerMessage message;
  *message.mutable_command() = std::move(command);
  state->reactor->QueueWriteLocked(std::move(message));
  return id;
}

void IngestService::Disconnect(std::string_view agent_id) {
  std::shared_ptr<StreamState> state;
  {
    std::lock_guard lock(registry_mutex_);
    auto it = streams_.find(std::string(agent_id));
    if (it != streams_.end()) state = it->second.lock();
  }
  if (state) {
    std::lock_guard lock(state->mutex);
    if (state->reactor != nullptr) {
      state->reactor->FinishLocked(
          grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "agent has been revoked"));
    }
  }
}

}  // namespace dozor::server
