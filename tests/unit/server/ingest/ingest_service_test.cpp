// The ingest service over a real gRPC server on a loopback port with a real SQLite store.
#include <doctest/doctest.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "dozor/common/crypto.hpp"
#include "dozor/v1/agent.grpc.pb.h"
#include "ingest/ingest_service.hpp"
#include "ingest/report_writer.hpp"
#include "ingest/security_audit.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

using dozor::v1::AgentMessage;
using dozor::v1::ServerMessage;

class IngestFixture {
 public:
  IngestFixture() {
    SqliteStoreOptions options;
    options.path = (dir_ / "dozor.db").string();
    auto store = OpenSqliteStore(options);
    REQUIRE(store.ok());
    store_ = std::move(store).value();
    writer_ = std::make_unique<ReportWriter>(*store_);
    writer_->Start();
    IngestOptions ingest_options;
    ingest_options.max_rejected_per_stream = 3;
    audit_ = std::make_unique<SecurityAudit>(*store_, SystemClock::Instance());
    service_ = std::make_unique<IngestService>(*store_, *writer_, SystemClock::Instance(),
                                               ingest_options, audit_.get());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
    builder.SetMaxReceiveMessageSize(16 * 1024 * 1024 + 64 * 1024);  // as the server's
    server_ = builder.BuildAndStart();
    REQUIRE(port_ > 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
    stub_ = dozor::v1::AgentService::NewStub(channel_);

    Organization org;
    org.name = "Test org";
    auto created = store_->CreateOrganization(org);
    REQUIRE(created.ok());
    org_id_ = created->id;
  }
  ~IngestFixture() {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    writer_->Stop();
  }

  std::string CreateToken(std::optional<int64_t> expires_at_ms = std::nullopt,
                          std::optional<int64_t> max_uses = std::nullopt) {
    std::string token = "dze_" + RandomHex(32).value();
    NewEnrollmentToken row;
    row.org_id = org_id_;
    row.token_hash = Sha256Hex(token);
    row.hint = token.substr(0, 12);
    row.expires_at_ms = expires_at_ms;
    row.max_uses = max_uses;
    REQUIRE(store_->CreateEnrollmentToken(row).ok());
    return token;
  }

  grpc::Status Enroll(const std::string& token, dozor::v1::EnrollResponse* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    dozor::v1::EnrollRequest request;
    request.set_token(token);
    request.set_hostname("pc-01");
    return stub_->Enroll(&context, request, response);
  }

  dozor::v1::EnrollResponse EnrollOk() {
    dozor::v1::EnrollResponse response;
    auto status = Enroll(CreateToken(), &response);
    REQUIRE(status.ok());
    return response;
  }

  // Samples one minute apart by seq (in the last hour), as a real agent's schedule would space
  // them.
  static dozor::v1::AgentMessage Health(uint64_t seq) {
    AgentMessage message;
    auto* report = message.mutable_report();
    report->set_seq(seq);
    report->set_collected_at_ms(SystemClock::Instance().NowMs() - 3'600'000 +
                                static_cast<int64_t>(seq) * 60'000);
    report->mutable_health()->set_cpu_percent(5);
    return message;
  }

  struct Stream {
    std::unique_ptr<grpc::ClientContext> context = std::make_unique<grpc::ClientContext>();
    std::unique_ptr<grpc::ClientReaderWriter<AgentMessage, ServerMessage>> rw;
  };

  Stream Connect(const std::string& authorization) {
    Stream stream;
    if (!authorization.empty()) stream.context->AddMetadata("authorization", authorization);
    stream.context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    stream.rw = stub_->Connect(stream.context.get());
    return stream;
  }

  static std::string Auth(const dozor::v1::EnrollResponse& agent) {
    return "Dozor " + agent.agent_id() + ":" + agent.agent_secret();
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<ReportWriter> writer_;
  std::unique_ptr<SecurityAudit> audit_;
  std::unique_ptr<IngestService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<dozor::v1::AgentService::Stub> stub_;
  int port_ = 0;
  int64_t org_id_ = 0;
};

TEST_CASE_FIXTURE(IngestFixture,
                  "enroll refuses unknown and expired tokens and accepts a valid one") {
  dozor::v1::EnrollResponse response;
  auto unknown = Enroll("dze_nonsense", &response);
  CHECK(unknown.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(unknown.error_message() == "unknown enrollment token");
  auto expired = Enroll(CreateToken(SystemClock::Instance().NowMs() - 1000), &response);
  CHECK(expired.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(expired.error_message().find("expired") != std::string::npos);
  auto ok = Enroll(CreateToken(), &response);
  REQUIRE(ok.ok());
  CHECK(response.agent_id().size() == 32);
  CHECK(response.agent_secret().size() == 64);
  CHECK(response.organization() == "Test org");
  auto credential = store_->GetAgentCredential(response.agent_id());
  REQUIRE(credential.ok());
  CHECK(credential->secret_hash == Sha256Hex(response.agent_secret()));  // only the hash at rest
}

TEST_CASE_FIXTURE(IngestFixture, "streams without valid credentials are refused") {
  auto agent = EnrollOk();
  for (const std::string& auth :
       {std::string(), std::string("Bearer x"), std::string("Dozor nocolon"),
        "Dozor " + agent.agent_id() + ":wrong", "Dozor 0000:" + agent.agent_secret()}) {
    auto stream = Connect(auth);
    ServerMessage message;
    CHECK_FALSE(stream.rw->Read(&message));
    auto status = stream.rw->Finish();
    CHECK(status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  }
  REQUIRE(store_->RevokeAgent(agent.agent_id(), SystemClock::Instance().NowMs()).ok());
  auto stream = Connect(Auth(agent));
  ServerMessage message;
  CHECK_FALSE(stream.rw->Read(&message));
  CHECK(stream.rw->Finish().error_code() == grpc::StatusCode::PERMISSION_DENIED);
}

TEST_CASE_FIXTURE(IngestFixture,
                  "reports are acked after commit and a resend is acked as duplicate") {
  auto agent = EnrollOk();
  {
    auto stream = Connect(Auth(agent));
    ServerMessage message;
    REQUIRE(stream.rw->Read(&message));
    REQUIRE(message.has_accepted());
    CHECK(message.accepted().last_committed_seq() == 0);
    for (uint64_t seq = 1; seq <= 3; ++seq) REQUIRE(stream.rw->Write(Health(seq)));
    for (uint64_t seq = 1; seq <= 3; ++seq) {
      REQUIRE(stream.rw->Read(&message));
      REQUIRE(message.has_ack());
      CHECK(message.ack().seq() == seq);
      CHECK(message.ack().outcome() == dozor::v1::Ack::STORED);
    }
    // Acked means committed: the store already has them.
    auto health = store_->ListHealth(agent.agent_id(), 0, 100);
    REQUIRE(health.ok());
    CHECK(health->size() == 3);
    REQUIRE(stream.rw->Write(Health(2)));  // a resend after a lost ack
    REQUIRE(stream.rw->Read(&message));
    CHECK(message.ack().seq() == 2);
    CHECK(message.ack().outcome() == dozor::v1::Ack::DUPLICATE);
    stream.rw->WritesDone();
    CHECK(stream.rw->Finish().ok());
  }
  auto health = store_->ListHealth(agent.agent_id(), 0, 100);
  REQUIRE(health.ok());
  CHECK(health->size() == 3);
  // A new stream learns what the server already has.
  auto stream = Connect(Auth(agent));
  ServerMessage message;
  REQUIRE(stream.rw->Read(&message));
  CHECK(message.accepted().last_committed_seq() == 3);
}

TEST_CASE_FIXTURE(
    IngestFixture,
    "an invalid report is rejected with a reason and a flood of them closes the stream") {
  auto agent = EnrollOk();
  auto stream = Connect(Auth(agent));
  ServerMessage message;
  REQUIRE(stream.rw->Read(&message));
  auto bad = Health(1);
  bad.mutable_report()->mutable_health()->set_load1(std::nan(""));
  REQUIRE(stream.rw->Write(bad));
  REQUIRE(stream.rw->Read(&message));
  CHECK(message.ack().outcome() == dozor::v1::Ack::REJECTED);
  CHECK(message.ack().reason().find("health.load1") != std::string::npos);
  // The stream still works for good reports.
  REQUIRE(stream.rw->Write(Health(2)));
  REQUIRE(stream.rw->Read(&message));
  CHECK(message.ack().outcome() == dozor::v1::Ack::STORED);
  // More rejections than the limit (3 in this fixture) end the stream with INVALID_ARGUMENT.
  for (int i = 0; i < 5; ++i) {
    if (!stream.rw->Write(bad)) break;
  }
  while (stream.rw->Read(&message)) {
  }
  CHECK(stream.rw->Finish().error_code() == grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_CASE_FIXTURE(IngestFixture,
                  "a second stream of the same agent supersedes the first and commands reach it") {
  auto agent = EnrollOk();
  auto first = Connect(Auth(agent));
  ServerMessage message;
  REQUIRE(first.rw->Read(&message));
  CHECK(service_->IsConnected(agent.agent_id()));
  auto second = Connect(Auth(agent));
  REQUIRE(second.rw->Read(&message));
  REQUIRE(message.has_accepted());
  while (first.rw->Read(&message)) {
  }
  CHECK(first.rw->Finish().error_code() == grpc::StatusCode::ABORTED);
  CHECK(service_->IsConnected(agent.agent_id()));

  dozor::v1::Command command;
  command.mutable_collect_inventory();
  auto id = service_->SendCommand(agent.agent_id(), command);
  REQUIRE(id.ok());
  REQUIRE(second.rw->Read(&message));
  REQUIRE(message.has_command());
  CHECK(message.command().id() == *id);
  CHECK(message.command().has_collect_inventory());
  CHECK_FALSE(service_->SendCommand("not-connected", command).ok());

  service_->Disconnect(agent.agent_id());
  while (second.rw->Read(&message)) {
  }
  CHECK(second.rw->Finish().error_code() == grpc::StatusCode::PERMISSION_DENIED);
  for (int i = 0; i < 50 && service_->IsConnected(agent.agent_id()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_FALSE(service_->IsConnected(agent.agent_id()));
}

// Records what the service tells a stream observer (the replica channel in production).
class RecordingStreamObserver final : public StreamObserver {
 public:
  void StreamOpened(std::string_view agent_id) override {
    std::lock_guard lock(mutex_);
    events_.push_back("opened " + std::string(agent_id));
  }
  void StreamClosed(std::string_view agent_id) override {
    std::lock_guard lock(mutex_);
    events_.push_back("closed " + std::string(agent_id));
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> events_;
};

TEST_CASE_FIXTURE(IngestFixture,
                  "the stream observer hears of the current stream opening and closing") {
  RecordingStreamObserver observer;
  service_->SetStreamObserver(&observer);
  auto agent = EnrollOk();
  const std::string opened = "opened " + agent.agent_id();
  const std::string closed = "closed " + agent.agent_id();
  auto first = Connect(Auth(agent));
  ServerMessage message;
  REQUIRE(first.rw->Read(&message));
  CHECK(observer.events() == std::vector<std::string>{opened});
  // The superseded stream's end is not the agent's: only the newer stream's open is told.
  auto second = Connect(Auth(agent));
  REQUIRE(second.rw->Read(&message));
  while (first.rw->Read(&message)) {
  }
  (void)first.rw->Finish();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(observer.events() == std::vector<std::string>{opened, opened});
  service_->Disconnect(agent.agent_id());
  while (second.rw->Read(&message)) {
  }
  (void)second.rw->Finish();
  for (int i = 0; i < 50 && service_->IsConnected(agent.agent_id()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(observer.events() == std::vector<std::string>{opened, opened, closed});
  service_->SetStreamObserver(nullptr);
}

// Waits for the next completion-queue event and returns its ok flag (tags are only checked).
bool Next(grpc::CompletionQueue& cq, intptr_t expected_tag) {
  void* tag = nullptr;
  bool ok = false;
  REQUIRE(cq.Next(&tag, &ok));
  CHECK(reinterpret_cast<intptr_t>(tag) == expected_tag);
  return ok;
}

TEST_CASE_FIXTURE(IngestFixture,
                  "bytes that are not a protobuf message end that stream and nothing else") {
  auto agent = EnrollOk();
  grpc::GenericStub generic(channel_);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.AddMetadata("authorization", Auth(agent));
  auto call = generic.PrepareCall(&context, "/dozor.v1.AgentService/Connect", &cq);
  call->StartCall(reinterpret_cast<void*>(1));
  REQUIRE(Next(cq, 1));
  grpc::ByteBuffer accepted;
  call->Read(&accepted, reinterpret_cast<void*>(2));
  REQUIRE(Next(cq, 2));
  const std::string garbage = "\xff\xff\xff\xff not a protobuf \x0a\xff\xff\xff\xff\x0f";
  grpc::Slice slice(garbage);
  grpc::ByteBuffer bad(&slice, 1);
  call->Write(bad, reinterpret_cast<void*>(3));
  (void)Next(cq, 3);
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(4));
  // The server walks the bytes before parsing them and ends the stream with INVALID_ARGUMENT and a
  // reason (gRPC's own decoding would have ended it like a clean half-close, status OK, no ack);
  // nothing is stored, and a real agent keeps the report spooled.
  CHECK_FALSE(Next(cq, 4));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  REQUIRE(Next(cq, 5));
  CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(status.error_message().find("undecodable message") != std::string::npos);
  auto stored = store_->ListHealth(agent.agent_id(), 0, 10);
  REQUIRE(stored.ok());
  CHECK(stored->empty());
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }

  // The server is fine: a regular stream of the same agent still stores reports.
  auto stream = Connect(Auth(agent));
  ServerMessage message;
  REQUIRE(stream.rw->Read(&message));
  REQUIRE(stream.rw->Write(Health(1)));
  REQUIRE(stream.rw->Read(&message));
  CHECK(message.ack().outcome() == dozor::v1::Ack::STORED);
}

// One unary call with raw bytes, as a hostile client can send them.
grpc::Status RawEnroll(const std::shared_ptr<grpc::Channel>& channel, const std::string& bytes) {
  grpc::GenericStub generic(channel);
  grpc::CompletionQueue cq;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  auto call = generic.PrepareUnaryCall(&context, "/dozor.v1.AgentService/Enroll", request, &cq);
  call->StartCall();
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  REQUIRE(Next(cq, 1));
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

TEST_CASE_FIXTURE(IngestFixture,
                  "an undecodable or oversized enroll request is INVALID_ARGUMENT with a reason") {
  // A hostname with a byte that is not UTF-8: protobuf refuses the string field.
  dozor::v1::EnrollRequest request;
  request.set_token(CreateToken());
  request.set_hostname("pc-01");
  std::string bytes = request.SerializeAsString();
  bytes[bytes.size() - 1] = '\xff';
  auto undecodable = RawEnroll(channel_, bytes);
  CHECK(undecodable.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(undecodable.error_message().find("undecodable enroll request") != std::string::npos);
  // 100 KiB is far beyond five short strings: refused before it is parsed.
  request.set_machine_id(std::string(100 * 1024, 'm'));
  auto oversized = RawEnroll(channel_, request.SerializeAsString());
  CHECK(oversized.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(oversized.error_message().find("exceeds 16384") != std::string::npos);
  // A well-formed request still enrolls.
  dozor::v1::EnrollResponse response;
  CHECK(Enroll(CreateToken(), &response).ok());
}

TEST_CASE_FIXTURE(IngestFixture,
                  "a report over its kind's budget is refused by seq and the stream goes on") {
  auto agent = EnrollOk();
  auto stream = Connect(Auth(agent));
  ServerMessage message;
  REQUIRE(stream.rw->Read(&message));
  // A health sample with 25,000 processes: small lists each, but over the health field budget.
  auto flood = Health(1);
  for (int i = 0; i < 25'000; ++i) {
    flood.mutable_report()->mutable_health()->add_top_cpu()->set_pid(static_cast<uint32_t>(i));
  }
  REQUIRE(stream.rw->Write(flood));
  REQUIRE(stream.rw->Read(&message));
  CHECK(message.ack().seq() == 1);
  CHECK(message.ack().outcome() == dozor::v1::Ack::REJECTED);
  CHECK(message.ack().reason().find("health sample of") != std::string::npos);
  CHECK(message.ack().reason().find("exceeds the budget") != std::string::npos);
  // Nested lists multiply: 300 interfaces x 2,000 addresses, each list within the per-list limit.
  AgentMessage inventory;
  inventory.mutable_report()->set_seq(2);
  inventory.mutable_report()->set_collected_at_ms(SystemClock::Instance().NowMs());
  for (int n = 0; n < 300; ++n) {
    auto* nic =
        inventory.mutable_report()->mutable_inventory()->mutable_network()->add_interfaces();
    nic->set_name("eth" + std::to_string(n));
    for (int a = 0; a < 2'000; ++a) nic->add_addresses()->set_address("10.0.0.1");
  }
  REQUIRE(stream.rw->Write(inventory));
  REQUIRE(stream.rw->Read(&message));
  CHECK(message.ack().seq() == 2);
  CHECK(message.ack().outcome() == dozor::v1::Ack::REJECTED);
  CHECK(message.ack().reason().find("inventory of") != std::string::npos);
  REQUIRE(stream.rw->Write(Health(3)));
  REQUIRE(stream.rw->Read(&message));
  CHECK(message.ack().seq() == 3);
  CHECK(message.ack().outcome() == dozor::v1::Ack::STORED);
}

TEST_CASE_FIXTURE(
    IngestFixture,
    "health samples closer than the minimum interval and inventory floods are refused") {
  auto agent = EnrollOk();
  auto stream = Connect(Auth(agent));
  ServerMessage message;
  REQUIRE(stream.rw->Read(&message));
  auto first = Health(1);
  auto second = Health(2);
  second.mutable_report()->set_collected_at_ms(first.report().collected_at_ms() + 100);
  REQUIRE(stream.rw->Write(first));
  REQUIRE(stream.rw->Write(second));
  // A refusal is answered at once, a stored report after its commit: acks may come in any order.
  std::map<uint64_t, dozor::v1::Ack> acks;
  for (int i = 0; i < 2; ++i) {
    REQUIRE(stream.rw->Read(&message));
    acks[message.ack().seq()] = message.ack();
  }
  CHECK(acks[1].outcome() == dozor::v1::Ack::STORED);
  CHECK(acks[2].outcome() == dozor::v1::Ack::REJECTED);
  CHECK(acks[2].reason().find("at most one per 500 ms") != std::string::npos);
  stream.rw->WritesDone();
  CHECK(stream.rw->Finish().ok());
  // Inventories on a new stream: the burst (6) is stored, the rest of a flood is refused (three
  // here: the fixture closes a stream at its fourth refusal).
  stream = Connect(Auth(agent));
  REQUIRE(stream.rw->Read(&message));
  int stored = 0;
  int refused = 0;
  for (uint64_t seq = 3; seq < 3 + 9; ++seq) {
    AgentMessage inventory;
    inventory.mutable_report()->set_seq(seq);
    inventory.mutable_report()->set_collected_at_ms(SystemClock::Instance().NowMs());
    inventory.mutable_report()->mutable_inventory()->mutable_os()->set_name("Debian");
    REQUIRE(stream.rw->Write(inventory));
    REQUIRE(stream.rw->Read(&message));
    REQUIRE(message.ack().seq() == seq);
    if (message.ack().outcome() == dozor::v1::Ack::STORED) ++stored;
    if (message.ack().outcome() == dozor::v1::Ack::REJECTED) {
      ++refused;
      CHECK(message.ack().reason().find("too many inventories") != std::string::npos);
    }
  }
  CHECK(stored == 6);
  CHECK(refused == 3);
}

TEST_CASE_FIXTURE(IngestFixture,
                  "failed enrollments from one address are throttled and audited, max_uses holds") {
  // A token for two machines enrols two, then refuses with the reason.
  const std::string two = CreateToken(std::nullopt, 2);
  dozor::v1::EnrollResponse response;
  REQUIRE(Enroll(two, &response).ok());
  REQUIRE(Enroll(two, &response).ok());
  auto used_up = Enroll(two, &response);
  CHECK(used_up.error_code() == grpc::StatusCode::PERMISSION_DENIED);
  CHECK(used_up.error_message().find("its limit") != std::string::npos);
  // Guessing tokens: 20 refusals in a burst block the address (the used-up one counted too).
  int denied = 0;
  int throttled = 0;
  for (int i = 0; i < 30; ++i) {
    auto status = Enroll("dze_guess" + std::to_string(i), &response);
    if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED) ++denied;
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++throttled;
      CHECK(status.error_message().find("too many failed enrollments") != std::string::npos);
    }
  }
  // The limit is a leaky bucket draining 20 a minute: the block comes at the 20th or 21st refusal.
  CHECK(denied >= 19);
  CHECK(denied <= 20);
  CHECK(denied + throttled == 30);
  // While blocked, even a valid token is refused from that address (its credentials unchecked).
  CHECK(Enroll(CreateToken(), &response).error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Every refusal is in the audit, summed per kind and address.
  REQUIRE(audit_->Flush().ok());
  auto events = store_->ListSecurityEvents({.limit = 100});
  REQUIRE(events.ok());
  int64_t refused = 0;
  int64_t blocked = 0;
  for (const auto& event : *events) {
    CHECK(event.source.rfind("ipv4:127.0.0.1", 0) == 0);
    if (event.kind == SecurityEventKind::kEnrollRefused) refused += event.count;
    if (event.kind == SecurityEventKind::kThrottled) blocked += event.count;
  }
  CHECK(refused == denied + 1);  // the used-up token, then the guesses
  CHECK(blocked ==
        1 + throttled + 1);  // the block itself, each attempt while blocked, the valid one
}

TEST_CASE_FIXTURE(IngestFixture, "wrong stream secrets are throttled per address and audited") {
  auto agent = EnrollOk();
  int unauthenticated = 0;
  int throttled = 0;
  for (int i = 0; i < 25; ++i) {
    auto stream = Connect("Dozor " + agent.agent_id() + ":wrong" + std::to_string(i));
    ServerMessage message;
    CHECK_FALSE(stream.rw->Read(&message));
    auto status = stream.rw->Finish();
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED) ++unauthenticated;
    if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++throttled;
      CHECK(status.error_message().find("too many wrong credentials") != std::string::npos);
    }
  }
  // The agent id's own limit (10 a minute) blocks it at the 10th or 11th wrong secret.
  CHECK(unauthenticated >= 10);
  CHECK(unauthenticated <= 11);
  CHECK(unauthenticated + throttled == 25);
  REQUIRE(audit_->Flush().ok());
  auto events = store_->ListSecurityEvents({.limit = 100});
  REQUIRE(events.ok());
  int64_t failed = 0;
  for (const auto& event : *events) {
    if (event.kind == SecurityEventKind::kAgentAuthFailed) failed += event.count;
  }
  CHECK(failed == unauthenticated);
}

TEST_CASE_FIXTURE(IngestFixture, "a wrong agent secret is logged once and recorded") {
  auto agent = EnrollOk();
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured)));
  auto stream = Connect("Dozor " + agent.agent_id() + ":wrong");
  ServerMessage message;
  CHECK_FALSE(stream.rw->Read(&message));
  const grpc::Status status = stream.rw->Finish();
  const Status flushed = audit_->Flush();
  spdlog::set_default_logger(previous);
  CHECK(status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
  REQUIRE(flushed.ok());
  // One line, naming the agent and the reason (the audit adds none of its own).
  const std::string log = captured.str();
  size_t lines = 0;
  for (size_t at = log.find("wrong secret"); at != std::string::npos;
       at = log.find("wrong secret", at + 1)) {
    ++lines;
  }
  CHECK(lines == 1);
  CHECK(log.find("refused agent stream from ipv4:127.0.0.1 (agent " + agent.agent_id() +
                 "): wrong secret") != std::string::npos);
  auto events = store_->ListSecurityEvents({.limit = 100});
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK(events->front().kind == SecurityEventKind::kAgentAuthFailed);
  CHECK(events->front().count == 1);
  CHECK(events->front().detail == "wrong secret");
}

TEST_CASE_FIXTURE(
    IngestFixture,
    "an agent id blocked for wrong secrets still connects from its last good address") {
  auto agent = EnrollOk();
  const std::string id = agent.agent_id();
  service_->StreamAuthSucceeded("ipv4:10.0.0.5", id);
  for (int i = 0; i < 10; ++i)
    service_->StreamAuthFailed("ipv4:10.9.9." + std::to_string(i), id, "x");
  CHECK(service_->StreamAuthBlockedForMs("ipv4:10.9.9.77", id) > 0);  // a new address: blocked
  CHECK(service_->StreamAuthBlockedForMs("ipv4:10.0.0.5", id) == 0);  // the agent's own address
}

TEST_CASE_FIXTURE(IngestFixture,
                  "one PC guessing behind a NAT address does not cut off its neighbours' agents") {
  // Two agents of one office, both seen at the office's one public address.
  auto neighbour = EnrollOk();
  auto guessed_at = EnrollOk();
  const std::string nat = "ipv4:203.0.113.7";
  service_->StreamAuthSucceeded(nat, neighbour.agent_id());
  service_->StreamAuthSucceeded(nat, guessed_at.agent_id());
  // A third PC there guesses with made-up agent ids until the address is blocked.
  for (int i = 0; i < 25; ++i) service_->StreamAuthFailed(nat, "made-up-" + std::to_string(i), "x");
  CHECK(service_->StreamAuthBlockedForMs(nat, "made-up-99") > 0);  // the guesser: blocked
  CHECK(service_->StreamAuthBlockedForMs(nat, "") > 0);            // no id at all: blocked
  // The agents that authenticated from there before keep connecting.
  CHECK(service_->StreamAuthBlockedForMs(nat, neighbour.agent_id()) == 0);
  CHECK(service_->StreamAuthBlockedForMs(nat, guessed_at.agent_id()) == 0);
  // Wrong secrets for one known agent from there block that pair only (its own limit, 10 a
  // minute), not the neighbour.
  for (int i = 0; i < 10; ++i)
    service_->StreamAuthFailed(nat, guessed_at.agent_id(), "wrong secret");
  CHECK(service_->StreamAuthBlockedForMs(nat, guessed_at.agent_id()) > 0);
  CHECK(service_->StreamAuthBlockedForMs(nat, neighbour.agent_id()) == 0);
  // A new agent behind that address (never authenticated there) waits out the block.
  auto newcomer = EnrollOk();
  CHECK(service_->StreamAuthBlockedForMs(nat, newcomer.agent_id()) > 0);
}

TEST_CASE("a batch keeps arrival order but spreads one agent's inventories over batches") {
  // Agent a floods four 3 MiB inventories, then b and c send health samples.
  const size_t mib = 1024 * 1024;
  std::vector<BatchCandidate> queued = {
      {"a", true, 3 * mib}, {"a", true, 3 * mib}, {"a", false, 1000}, {"a", true, 3 * mib},
      {"b", false, 2000},   {"c", true, 1 * mib}, {"c", false, 1000}};
  auto take = PickFairBatch(queued, 512, 4 * mib);
  // First inventory of a taken; its second would pass the 4 MiB budget, so a's later reports
  // (even its health sample) wait, keeping a's order; b's sample and c's small inventory go now.
  CHECK(take == std::vector<bool>{true, false, false, false, true, true, true});
  // The batch size bound still applies.
  CHECK(PickFairBatch(queued, 2, 4 * mib) ==
        std::vector<bool>{true, false, false, false, true, false, false});
  // A single inventory over the budget is still taken (alone).
  std::vector<BatchCandidate> big = {{"a", true, 10 * mib}, {"b", true, 1 * mib}};
  CHECK(PickFairBatch(big, 512, 4 * mib) == std::vector<bool>{true, false});
}

TEST_CASE("an inventory still being prepared holds back its agent's later reports, no one else's") {
  const size_t mib = 1024 * 1024;
  std::vector<BatchCandidate> queued = {{"a", true, 3 * mib, /*ready=*/false},
                                        {"b", false, 2000},
                                        {"a", false, 1000},
                                        {"c", true, 1 * mib},
                                        {"a", true, 1 * mib}};
  CHECK(PickFairBatch(queued, 512, 4 * mib) == std::vector<bool>{false, true, false, true, false});
  // Once prepared it is taken like any inventory, with its agent's next report.
  queued[0].ready = true;
  CHECK(PickFairBatch(queued, 512, 4 * mib) == std::vector<bool>{true, true, true, true, false});
}

}  // namespace
}  // namespace dozor::server
