// The ingest service over a real gRPC server on a loopback port with a real SQLite store.
#include <doctest/doctest.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <thread>

#include "dozor/common/crypto.hpp"
#include "dozor/v1/agent.grpc.pb.h"
#include "ingest/ingest_service.hpp"
#include "ingest/report_writer.hpp"
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
    service_ =
        std::make_unique<IngestService>(*store_, *writer_, SystemClock::Instance(), ingest_options);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service_.get());
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

  std::string CreateToken(std::optional<int64_t> expires_at_ms = std::nullopt) {
    std::string token = "dze_" + RandomHex(32).value();
    NewEnrollmentToken row;
    row.org_id = org_id_;
    row.token_hash = Sha256Hex(token);
    row.hint = token.substr(0, 12);
    row.expires_at_ms = expires_at_ms;
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

  static dozor::v1::AgentMessage Health(uint64_t seq) {
    AgentMessage message;
    auto* report = message.mutable_report();
    report->set_seq(seq);
    report->set_collected_at_ms(SystemClock::Instance().NowMs());
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
  // gRPC reports an unparsable message to the reactor like the end of the client's writes (the
  // callback API gives no way to tell them apart), so the server closes the stream without an ack
  // and stores nothing; a real agent keeps the report spooled and resends it.
  CHECK_FALSE(Next(cq, 4));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  REQUIRE(Next(cq, 5));
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

}  // namespace
}  // namespace dozor::server
