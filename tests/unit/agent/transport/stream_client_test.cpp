// The stream client against a real in-process gRPC server that fails the way a crashing server
// does: it accepts the stream, stores (acks) one report, then ends the stream.
#include "transport/stream_client.hpp"

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "dozor/v1/agent.grpc.pb.h"
#include "test_util.hpp"
#include "transport/spool.hpp"

namespace dozor::agent {
namespace {

using Clock = std::chrono::steady_clock;

// A real gRPC server on a loopback port for `service`.
std::unique_ptr<grpc::Server> StartLoopbackServer(grpc::Service& service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  REQUIRE(server != nullptr);
  return server;
}

StreamClientOptions LoopbackClientOptions(int port) {
  StreamClientOptions options;
  options.channel.server_address = "127.0.0.1:" + std::to_string(port);
  options.channel.insecure = true;
  options.agent_id = "agent";
  options.agent_secret = "secret";
  return options;
}

// Accepts, acks one report, then ends the stream with UNAVAILABLE (a server restarting).
class RestartingServer final : public dozor::v1::AgentService::Service {
 public:
  grpc::Status Connect(grpc::ServerContext* /*context*/,
                       grpc::ServerReaderWriter<dozor::v1::ServerMessage, dozor::v1::AgentMessage>*
                           stream) override {
    uint64_t committed = 0;
    {
      std::lock_guard lock(mutex_);
      sessions_.push_back(Clock::now());
      committed = committed_;
    }
    dozor::v1::ServerMessage accepted;
    accepted.mutable_accepted()->set_last_committed_seq(committed);
    stream->Write(accepted);
    dozor::v1::AgentMessage message;
    if (stream->Read(&message)) {
      dozor::v1::ServerMessage ack;
      ack.mutable_ack()->set_seq(message.report().seq());
      ack.mutable_ack()->set_outcome(dozor::v1::Ack::STORED);
      {
        std::lock_guard lock(mutex_);
        committed_ = std::max(committed_, message.report().seq());
      }
      stream->Write(ack);
    }
    return {grpc::StatusCode::UNAVAILABLE, "restarting"};
  }

  std::vector<Clock::time_point> sessions() {
    std::lock_guard lock(mutex_);
    return sessions_;
  }

 private:
  std::mutex mutex_;
  std::vector<Clock::time_point> sessions_;
  uint64_t committed_ = 0;
};

TEST_CASE("a stream that stores reports resets the reconnect backoff, however short it lived") {
  // Before: only a 60 s session reset it, so a server dying every ~30 s pushed agents to delays
  // of 2, 5, 10 ... 196 s although every session stored their reports.
  dozor::testing::TempDir dir;
  auto spool = Spool::Open(SpoolOptions{dir / "spool.db", 1 << 20});
  REQUIRE(spool.ok());
  for (int i = 0; i < 7; ++i) {
    dozor::v1::Report report;
    report.set_collected_at_ms(1'700'000'000'000 + i);
    report.mutable_health();
    REQUIRE((*spool)->Append(&report).ok());
  }
  RestartingServer service;
  int port = 0;
  auto server = StartLoopbackServer(service, &port);

  StreamClientOptions options = LoopbackClientOptions(port);
  options.window = 1;
  options.backoff_initial_ms = 200;
  options.backoff_max_ms = 60000;
  StreamClient client(options, **spool, nullptr);
  client.Start();
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  // Until the seventh session has stored its report (a session starting is not enough: stopping
  // the client before its ack arrived left one report spooled on a loaded machine).
  auto spooled = [&] {
    auto stats = (*spool)->Stats();
    return stats.ok() ? stats->count : uint64_t{1};
  };
  while ((service.sessions().size() < 7 || spooled() > 0) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  client.Stop();
  server->Shutdown();

  auto sessions = service.sessions();
  REQUIRE(sessions.size() >= 7);
  // Every gap is the first backoff step (100-200 ms with jitter) plus connection set-up; with
  // the old rule the sixth gap alone would be 3.2-6.4 s.
  for (size_t i = 1; i < 7; ++i) {
    const auto gap =
        std::chrono::duration_cast<std::chrono::milliseconds>(sessions[i] - sessions[i - 1]);
    CAPTURE(i);
    CHECK(gap.count() < 1500);
  }
  auto stats = (*spool)->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->count == 0);  // all seven stored and acked, one per session
}

// Takes the stream and never answers it: no StreamAccepted, no status, while the connection stays
// healthy (keepalive pings would pass).
class SilentServer final : public dozor::v1::AgentService::Service {
 public:
  grpc::Status Connect(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<dozor::v1::ServerMessage, dozor::v1::AgentMessage>*
                       /*stream*/) override {
    {
      std::lock_guard lock(mutex_);
      ++sessions_;
    }
    while (!context->IsCancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return grpc::Status::CANCELLED;
  }

  int sessions() {
    std::lock_guard lock(mutex_);
    return sessions_;
  }

 private:
  std::mutex mutex_;
  int sessions_ = 0;
};

TEST_CASE(
    "a stream the server never accepts is given up after the accept deadline and opened again") {
  dozor::testing::TempDir dir;
  auto spool = Spool::Open(SpoolOptions{dir / "spool.db", 1 << 20});
  REQUIRE(spool.ok());
  dozor::v1::Report report;
  report.set_collected_at_ms(1'700'000'000'000);
  report.mutable_health();
  REQUIRE((*spool)->Append(&report).ok());
  SilentServer service;
  int port = 0;
  auto server = StartLoopbackServer(service, &port);

  StreamClientOptions options = LoopbackClientOptions(port);
  options.backoff_initial_ms = 100;
  options.accept_timeout_ms = 300;
  StreamClient client(options, **spool, nullptr);
  client.Start();
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (service.sessions() < 3 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto status = client.status();
  client.Stop();
  server->Shutdown();
  // Without the deadline the first stream waited for ever: one session.
  CHECK(service.sessions() >= 3);
  CHECK(status.last_error.find("did not accept the stream within") != std::string::npos);
  auto stats = (*spool)->Stats();
  REQUIRE(stats.ok());
  CHECK(stats->count == 1);  // nothing acked, nothing lost
}

}  // namespace
}  // namespace dozor::agent
