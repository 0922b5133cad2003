#include "ingest/ingest_service.hpp"

#include <spdlog/spdlog.h>

#include <grpcpp/support/byte_buffer.h>

#include <deque>

#include "dozor/common/crypto.hpp"
#include "dozor/common/text.hpp"
#include "dozor/contract/grpc_status.hpp"
#include "ingest/message_bytes.hpp"

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

grpc::ByteBuffer Serialize(const google::protobuf::Message& message) {
  std::string bytes = message.SerializeAsString();
  grpc::Slice slice(std::move(bytes));
  return grpc::ByteBuffer(&slice, 1);
}

}  // namespace

// State shared by a stream's reactor and the writer thread's completions. The reactor pointer is
// cleared in OnDone (under `mutex`), after which completions do nothing.
struct StreamState {
  std::mutex mutex;
  class AgentStream* reactor = nullptr;
  std::string agent_id;
};

class AgentStream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  AgentStream(IngestService& service, grpc::CallbackServerContext* context)
      : service_(service), context_(context), state_(std::make_shared<StreamState>()) {
    state_->reactor = this;
    AgentCredential credential;
    grpc::Status auth = Authenticate(&credential);
    if (!auth.ok()) {
      // Wrong credentials and throttled callers are logged by the security audit, aggregated
      // (a brute-force flood is a few lines); other refusals are rare and logged here.
      if (auth.error_code() != grpc::StatusCode::UNAUTHENTICATED &&
          auth.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED) {
        spdlog::warn("refused agent stream from {}: {}", PeerOf(context_),
                     EscapeControlText(auth.error_message()));
      }
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
    spdlog::debug("agent {}: stream from {} accepted; committed up to seq {}", agent_id_,
                  PeerOf(context_), credential.last_committed_seq);
    std::lock_guard lock(state_->mutex);
    QueueWriteLocked(accepted);
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
    if (!finishing_ && HasRoomLocked()) {
      reading_ = true;
      StartRead(&incoming_);
    }
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(state_->mutex);
    writing_ = false;
    if (!outbox_.empty()) outbox_.pop_front();
    // A finish deferred behind this write (OnCancel, a refusal) goes out now, whether or not the
    // write succeeded: returning without it left the call unfinished forever, which made the
    // server's Shutdown hang on SIGTERM when a stream was cancelled during an ack write.
    if (pending_finish_) {
      // Answers queued before the refusal that closes the stream go out first, so the agent
      // learns what became of every report it was answered for; a cancelled call or a failed
      // write finishes at once (a server shutdown cancels, which fails the write in progress).
      if (ok && !outbox_.empty() && final_status_.error_code() != grpc::StatusCode::CANCELLED) {
        writing_ = true;
        StartWrite(&outbox_.front());
        return;
      }
      DoFinishLocked();
      return;
    }
    if (!ok) {
      FinishLocked(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write to agent failed"));
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
  void OnCommittedLocked(const Result<CommitResult>& result, size_t wire_bytes) {
    --in_flight_;
    in_flight_bytes_ -= std::min(in_flight_bytes_, wire_bytes);
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
    QueueWriteLocked(message);
    if (!finishing_ && !reading_ && !read_closed_ && HasRoomLocked()) {
      reading_ = true;
      StartRead(&incoming_);
    }
    MaybeFinishCleanLocked();
  }

  void QueueWriteLocked(const ServerMessage& message) {
    if (finishing_) return;
    outbox_.push_back(Serialize(message));
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
      service_.StreamAuthFailed(PeerAddress(PeerOf(context_)), "", "missing authorization");
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing authorization metadata");
    }
    std::string_view value(it->second.data(), it->second.size());
    if (value.substr(0, kAuthPrefix.size()) != kAuthPrefix || value.size() > 512) {
      service_.StreamAuthFailed(PeerAddress(PeerOf(context_)), "", "malformed authorization");
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "malformed authorization metadata");
    }
    value.remove_prefix(kAuthPrefix.size());
    auto colon = value.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 128) {
      service_.StreamAuthFailed(PeerAddress(PeerOf(context_)), "", "malformed authorization");
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "malformed authorization metadata");
    }
    std::string agent_id(value.substr(0, colon));
    std::string_view secret = value.substr(colon + 1);
    const std::string source = PeerAddress(PeerOf(context_));
    if (int64_t wait_ms = service_.StreamAuthBlockedForMs(source, agent_id); wait_ms > 0) {
      service_.Audit(SecurityEventKind::kThrottled, source, agent_id,
                     "agent stream refused while blocked for wrong credentials");
      return grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          "too many wrong credentials; retry in " + std::to_string((wait_ms + 999) / 1000) + " s");
    }
    auto credential = service_.agents().GetAgentCredential(agent_id);
    if (!credential.ok()) {
      if (credential.error().code == ErrorCode::kNotFound) {
        service_.StreamAuthFailed(source, agent_id, "unknown agent");
        return denied;
      }
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "cannot check credentials: " + credential.error().message);
    }
    if (!ConstantTimeEquals(Sha256Hex(secret), credential->secret_hash)) {
      service_.StreamAuthFailed(source, agent_id, "wrong secret");
      return denied;
    }
    service_.StreamAuthSucceeded(source, agent_id);
    if (credential->revoked) {
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "agent " + agent_id + " has been revoked");
    }
    *out = std::move(credential).value();
    return grpc::Status::OK;
  }

  bool HasRoomLocked() const {
    return in_flight_ < service_.options().max_in_flight_per_stream &&
           in_flight_bytes_ < service_.options().max_in_flight_bytes_per_stream;
  }

  // Answers one report REJECTED with a reason; a stream that keeps sending rejected reports (or a
  // report without a seq to name it by) is closed with INVALID_ARGUMENT.
  void RejectLocked(uint64_t seq, const std::string& reason) {
    spdlog::warn("agent {}: rejected report seq {}: {}", agent_id_, seq, EscapeControlText(reason));
    if (++rejected_ > service_.options().max_rejected_per_stream || seq == 0) {
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, reason));
      return;
    }
    ServerMessage message;
    message.mutable_ack()->set_seq(seq);
    message.mutable_ack()->set_outcome(dozor::v1::Ack::REJECTED);
    message.mutable_ack()->set_reason(reason);
    QueueWriteLocked(message);
  }

  void HandleMessageLocked() {
    const MessageBytes bytes(incoming_);
    incoming_.Clear();
    const auto& limits = service_.options().limits;
    // Sized and walked before it is parsed: an over-budget report is refused by its seq without
    // ever being materialised; bytes that are not a protobuf message end the stream with a reason.
    WireShape shape;
    auto scanned =
        ScanWireShape(AgentMessage::descriptor(), bytes.view(), StreamScanLimits(limits), &shape);
    if (!scanned.ok() && scanned.error().code != ErrorCode::kResourceExhausted) {
      spdlog::warn("agent {}: undecodable message of {} bytes: {}", agent_id_, bytes.size(),
                   scanned.error().message);
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                "undecodable message: " + scanned.error().message));
      return;
    }
    if (!shape.has_report) {
      FinishLocked(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "message without a report"));
      return;
    }
    auto budget = scanned.ok() ? CheckReportBudget(shape, limits)
                               : Status(WalkLimitError(shape, limits, scanned.error()));
    if (!budget.ok()) {
      RejectLocked(shape.seq, budget.error().message);
      return;
    }
    AgentMessage message;
    if (!message.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      // The wire walk passed, so what protobuf refused is a string that is not valid UTF-8.
      RejectLocked(shape.seq, "not a valid protobuf message (a text field is not valid UTF-8?)");
      service_.writer().NoteRefusedMessage(bytes.size());
      return;
    }
    int64_t now_ms = service_.clock().NowMs();
    auto valid = ValidateReport(message.report(), now_ms, limits);
    if (!valid.ok()) {
      RejectLocked(message.report().seq(), valid.error().message);
      service_.writer().NoteRefusedMessage(bytes.size());
      return;
    }
    if (auto refused = service_.admission().Admit(agent_id_, message.report().seq(), shape.payload,
                                                  message.report().collected_at_ms(), now_ms)) {
      RejectLocked(message.report().seq(), *refused);
      service_.writer().NoteRefusedMessage(bytes.size());
      return;
    }
    IncomingReport report;
    report.agent_id = agent_id_;
    report.received_at_ms = now_ms;
    report.wire_bytes = bytes.size();
    report.report.Swap(message.mutable_report());
    std::weak_ptr<StreamState> weak = state_;
    const size_t wire_bytes = bytes.size();
    ++in_flight_;
    in_flight_bytes_ += wire_bytes;
    bool queued = service_.writer().Submit(
        std::move(report), [weak, wire_bytes](const Result<CommitResult>& result) {
          auto state = weak.lock();
          if (!state) return;
          std::lock_guard lock(state->mutex);
          if (state->reactor != nullptr) {
            state->reactor->OnCommittedLocked(result, wire_bytes);
          }
        });
    if (!queued) {
      --in_flight_;
      in_flight_bytes_ -= wire_bytes;
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
    if (!agent_id_.empty()) {
      spdlog::debug("agent {}: stream ends: {} ({} report(s) in the writer, {} answer(s) unsent)",
                    agent_id_, DescribeGrpcStatus(final_status_), in_flight_, outbox_.size());
    }
    Finish(final_status_);
  }

  IngestService& service_;
  grpc::CallbackServerContext* context_;
  std::shared_ptr<StreamState> state_;
  std::string agent_id_;
  grpc::ByteBuffer incoming_;
  std::deque<grpc::ByteBuffer> outbox_;  // front() is being written while writing_
  grpc::Status final_status_;
  size_t in_flight_ = 0;
  size_t in_flight_bytes_ = 0;
  int rejected_ = 0;
  bool reading_ = false;
  bool read_closed_ = false;
  bool writing_ = false;
  bool finishing_ = false;
  bool pending_finish_ = false;
};

IngestService::IngestService(AgentStore& agents, ReportWriter& writer, const Clock& clock,
                             IngestOptions options, SecurityAudit* audit)
    : agents_(agents),
      writer_(writer),
      clock_(clock),
      options_(options),
      admission_(options.admission),
      audit_(audit),
      enroll_throttle_(options.enroll_throttle),
      stream_source_throttle_(options.stream_source_throttle),
      stream_agent_throttle_(options.stream_agent_throttle),
      stream_pair_throttle_(options.stream_agent_throttle) {}

void IngestService::Audit(SecurityEventKind kind, std::string_view source, std::string_view subject,
                          std::string_view detail, SecurityAudit::Logging logging) {
  if (audit_ != nullptr) {
    audit_->Record(kind, source, subject, detail, logging);
  } else if (logging == SecurityAudit::Logging::kFirstOfKind) {
    spdlog::warn("security: {} from {} ({}): {}", SecurityEventKindName(kind),
                 EscapeControlText(source), EscapeControlText(subject), EscapeControlText(detail));
  }
}

bool IngestService::IsLastGoodSource(const std::string& agent_id, const std::string& source) {
  if (agent_id.empty()) return false;
  std::lock_guard lock(good_sources_mutex_);
  auto it = last_good_source_.find(agent_id);
  return it != last_good_source_.end() && it->second == source;
}

std::string IngestService::PairKey(const std::string& agent_id, const std::string& source) {
  return agent_id + "@" + source;
}

int64_t IngestService::StreamAuthBlockedForMs(const std::string& source,
                                              const std::string& agent_id) {
  const int64_t now_ms = clock_.NowMs();
  if (IsLastGoodSource(agent_id, source)) {
    // An agent that authenticated from this very address before. Neither the address's block
    // applies (behind one NAT address a neighbour's guessing must not cut the other PCs off:
    // a guesser cannot name their agent ids, 128 random bits each) nor the id's block; only this
    // pair's own failures do.
    return stream_pair_throttle_.BlockedForMs(PairKey(agent_id, source), now_ms);
  }
  int64_t wait = stream_source_throttle_.BlockedForMs(source, now_ms);
  if (wait == 0 && !agent_id.empty()) wait = stream_agent_throttle_.BlockedForMs(agent_id, now_ms);
  return wait;
}

void IngestService::StreamAuthFailed(const std::string& source, const std::string& agent_id,
                                     const std::string& reason) {
  const int64_t now_ms = clock_.NowMs();
  // One line per refused attempt, so an operator sees each wrong secret (bounded by the throttle:
  // a blocked caller is refused before its credentials are checked, and those refusals are only
  // summed by the audit). The audit records it without a line of its own.
  spdlog::warn("refused agent stream from {} (agent {}): {}", source, EscapeControlText(agent_id),
               reason);
  Audit(SecurityEventKind::kAgentAuthFailed, source, agent_id, reason,
        SecurityAudit::Logging::kByCaller);
  if (stream_source_throttle_.RecordFailure(source, now_ms)) {
    Audit(SecurityEventKind::kThrottled, source, agent_id,
          "agent streams from this address blocked after repeated wrong credentials");
  }
  if (!agent_id.empty() && stream_agent_throttle_.RecordFailure(agent_id, now_ms)) {
    Audit(SecurityEventKind::kThrottled, source, agent_id,
          "agent id blocked after repeated wrong secrets (except from its last good address)");
  }
  // Kept only for pairs that once authenticated: a guesser's made-up ids add no keys here.
  if (IsLastGoodSource(agent_id, source) &&
      stream_pair_throttle_.RecordFailure(PairKey(agent_id, source), now_ms)) {
    Audit(SecurityEventKind::kThrottled, source, agent_id,
          "agent id blocked at its last good address after repeated wrong secrets from there");
  }
}

void IngestService::StreamAuthSucceeded(const std::string& source, const std::string& agent_id) {
  std::lock_guard lock(good_sources_mutex_);
  // Bounded by the number of enrolled agents (only authenticated ids are kept).
  last_good_source_[agent_id] = source;
}

IngestService::~IngestService() = default;

grpc::ServerUnaryReactor* IngestService::Enroll(grpc::CallbackServerContext* context,
                                                const grpc::ByteBuffer* raw_request,
                                                grpc::ByteBuffer* raw_response) {
  auto* reactor = context->DefaultReactor();
  // Counted for the whole call: each enrollment holds a callback thread while it waits for the
  // store's write lock, so an anonymous flood may not occupy them all.
  struct InProgress {
    std::atomic<int>& count;
    ~InProgress() { --count; }
  } in_progress{enrollments_in_progress_};
  if (++enrollments_in_progress_ > options_.max_concurrent_enrollments) {
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "too many enrollments at once, retry in a few seconds"));
    return reactor;
  }
  const std::string source = PeerAddress(PeerOf(context));
  if (int64_t wait_ms = enroll_throttle_.BlockedForMs(source, clock_.NowMs()); wait_ms > 0) {
    Audit(SecurityEventKind::kThrottled, source, "", "enrollment refused while blocked");
    reactor->Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                 "too many failed enrollments from this address; retry in " +
                                     std::to_string((wait_ms + 999) / 1000) + " s"));
    return reactor;
  }
  // Every refusal below is audited and counts towards this address's block.
  auto refuse = [&](const grpc::Status& status, std::string_view subject) {
    Audit(SecurityEventKind::kEnrollRefused, source, subject, status.error_message());
    if (enroll_throttle_.RecordFailure(source, clock_.NowMs())) {
      Audit(SecurityEventKind::kThrottled, source, subject,
            "enrollments from this address blocked after repeated refusals");
    }
    reactor->Finish(status);
    return reactor;
  };
  try {
    if (raw_request->Length() > kMaxEnrollRequestBytes) {
      return refuse(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                 "enroll request of " + std::to_string(raw_request->Length()) +
                                     " bytes exceeds " + std::to_string(kMaxEnrollRequestBytes)),
                    "");
    }
    dozor::v1::EnrollRequest parsed;
    const MessageBytes bytes(*raw_request);
    if (!parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return refuse(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       "undecodable enroll request (not a protobuf EnrollRequest, or a text field "
                       "that is not valid UTF-8)"),
          "");
    }
    // What the caller presented, for the audit: the token's public hint, never the token.
    const std::string subject =
        parsed.token().substr(0, 12) + " " + parsed.hostname().substr(0, 64);
    const dozor::v1::EnrollRequest* request = &parsed;
    dozor::v1::EnrollResponse enroll_response;
    dozor::v1::EnrollResponse* response = &enroll_response;
    auto valid = ValidateEnrollRequest(*request);
    if (!valid.ok()) {
      return refuse(ToGrpcStatus(valid.error()), subject);
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
      if (enrolled.error().code == ErrorCode::kPermissionDenied) {
        return refuse(ToGrpcStatus(enrolled.error()), subject);  // a bad token: audited
      }
      spdlog::warn("enrollment of {} from {} failed: {}", EscapeControlText(request->hostname()),
                   source, enrolled.error().message);
      reactor->Finish(ToGrpcStatus(enrolled.error()));
      return reactor;
    }
    spdlog::info("enrolled agent {} ({}) into {}", agent.agent_id,
                 EscapeControlText(agent.hostname), EscapeControlText(enrolled->org_name));
    response->set_agent_id(agent.agent_id);
    response->set_agent_secret(*secret);
    response->set_organization(enrolled->org_name);
    *raw_response = Serialize(enroll_response);
    reactor->Finish(grpc::Status::OK);
  } catch (const std::exception& e) {
    spdlog::error("enroll failed: {}", e.what());
    reactor->Finish(grpc::Status(grpc::StatusCode::INTERNAL, "internal error"));
  }
  return reactor;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* IngestService::Connect(
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
    if (stream_observer_ != nullptr) {
      stream_observer_->StreamOpened(agent_id);
    }
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
      if (stream_observer_ != nullptr) {
        stream_observer_->StreamClosed(agent_id);
      }
    }
  }
}

void IngestService::SetStreamObserver(StreamObserver* observer) {
  std::lock_guard lock(registry_mutex_);
  stream_observer_ = observer;
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
  state->reactor->QueueWriteLocked(message);
  return id;
}

void IngestService::Disconnect(std::string_view agent_id) {
  admission_.Forget(agent_id);
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
