#include "transport/stream_client.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <random>

#include "dozor/v1/agent.grpc.pb.h"
#include "transport/server_addresses.hpp"

namespace dozor::agent {

namespace {
int64_t NowMs() { return SystemClock::Instance().NowMs(); }
}  // namespace

Backoff::Backoff(int initial_ms, int max_ms, uint64_t seed)
    : initial_ms_(initial_ms), max_ms_(max_ms), state_(seed | 1) {}

int Backoff::NextDelayMs() {
  int64_t base = initial_ms_;
  for (int i = 0; i < attempt_ && base < max_ms_; ++i) base *= 2;
  if (base > max_ms_) base = max_ms_;
  ++attempt_;
  // xorshift64: cheap, and seeded per agent so a fleet restarted together spreads out.
  state_ ^= state_ << 13;
  state_ ^= state_ >> 7;
  state_ ^= state_ << 17;
  int64_t half = base / 2;
  return static_cast<int>(half + static_cast<int64_t>(state_ % static_cast<uint64_t>(half + 1)));
}

StreamClient::StreamClient(StreamClientOptions options, Spool& spool, CommandHandler on_command)
    : options_(std::move(options)), spool_(spool), on_command_(std::move(on_command)) {}

StreamClient::~StreamClient() { Stop(); }

void StreamClient::Start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Run(); });
}

void StreamClient::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (active_context_ != nullptr) {
      static_cast<grpc::ClientContext*>(active_context_)->TryCancel();
    }
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StreamClient::Wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

void StreamClient::NotifyStatusChange() const {
  if (options_.on_status_change) {
    options_.on_status_change();
  }
}

StreamClientStatus StreamClient::status() const {
  std::lock_guard lock(mutex_);
  return status_;
}

void StreamClient::SleepInterruptibly(int ms) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stopping_; });
}

void StreamClient::Run() {
  std::random_device device;
  Backoff backoff(
      options_.backoff_initial_ms, options_.backoff_max_ms,
      (static_cast<uint64_t>(device()) << 32) ^ std::hash<std::string>{}(options_.agent_id));
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    int64_t started = NowMs();
    const bool acked = RunSession();
    {
      std::lock_guard lock(mutex_);
      status_.connected = false;
      if (stopping_) return;
    }
    NotifyStatusChange();
    // A session that got acks, or lived a while, was healthy: start the backoff over. Only a
    // 60 s session used to count, so a server restarting every ~30 s pushed its agents to
    // minutes of delay although every session stored their reports.
    if (acked || NowMs() - started > 60000) backoff.Reset();
    const size_t replicas = SplitServerAddresses(options_.channel.server_address).size();
    if (!acked && replicas > 1) {
      // That replica may be gone: the next session tries the next one. The committed sequence
      // number lives in the shared database, so the new replica resumes where this one stopped.
      address_index_ = (address_index_ + 1) % replicas;
    }
    int delay = backoff.NextDelayMs();
    spdlog::info("reconnecting to {} in {:.1f} s", CurrentAddress(), delay / 1000.0);
    SleepInterruptibly(delay);
  }
}

std::string StreamClient::CurrentAddress() const {
  const std::vector<std::string> addresses = SplitServerAddresses(options_.channel.server_address);
  if (addresses.empty()) {
    return options_.channel.server_address;
  }
  return addresses[address_index_ % addresses.size()];
}

bool StreamClient::RunSession() {
  ChannelOptions channel_options = options_.channel;
  channel_options.server_address = CurrentAddress();
  auto channel = MakeServerChannel(channel_options);
  if (!channel.ok()) {
    spdlog::error("cannot set up the connection: {}", channel.error().message);
    {
      std::lock_guard lock(mutex_);
      status_.last_error = channel.error().message;
    }
    NotifyStatusChange();
    return false;
  }
  auto stub = dozor::v1::AgentService::NewStub(*channel);
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Dozor " + options_.agent_id + ":" + options_.agent_secret);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    active_context_ = &context;
  }
  auto stream = stub->Connect(&context);

  // Shared between this (writer) thread and the reader thread below.
  struct Flow {
    std::mutex mutex;
    std::condition_variable changed;
    size_t in_flight = 0;
    bool ended = false;
    bool accepted = false;
    uint64_t last_committed = 0;
    uint64_t acks = 0;  // this session's: evidence that the stream works
  } flow;

  std::thread reader([&] {
    dozor::v1::ServerMessage message;
    while (stream->Read(&message)) {
      if (message.has_accepted()) {
        std::lock_guard lock(flow.mutex);
        flow.accepted = true;
        flow.last_committed = message.accepted().last_committed_seq();
        flow.changed.notify_all();
      } else if (message.has_ack()) {
        const auto& ack = message.ack();
        if (ack.outcome() == dozor::v1::Ack::REJECTED) {
          spdlog::error("server rejected report {}: {} (dropped from the spool)", ack.seq(),
                        ack.reason());
        }
        auto removed = spool_.Acknowledged(ack.seq());
        if (!removed.ok()) {
          spdlog::error("cannot remove acked report {} from the spool: {}", ack.seq(),
                        removed.error().message);
        }
        {
          std::lock_guard lock(mutex_);
          status_.last_ack_ms = NowMs();
          ++status_.acked_total;
          if (ack.outcome() == dozor::v1::Ack::REJECTED) ++status_.rejected_total;
        }
        NotifyStatusChange();
        std::lock_guard lock(flow.mutex);
        ++flow.acks;
        if (flow.in_flight > 0) --flow.in_flight;
        flow.changed.notify_all();
      } else if (message.has_command()) {
        if (on_command_) on_command_(message.command());
      }
    }
    {
      std::lock_guard lock(flow.mutex);
      flow.ended = true;
      flow.changed.notify_all();
    }
    // Wake the sender if it is idle-waiting for new reports (flag set under its mutex: no lost
    // wake-up).
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    wake_.notify_all();
  });

  // Wait for StreamAccepted: it tells what the server already has.
  bool accept_overdue = false;
  {
    std::unique_lock lock(flow.mutex);
    accept_overdue =
        !flow.changed.wait_for(lock, std::chrono::milliseconds(options_.accept_timeout_ms),
                               [&] { return flow.accepted || flow.ended; });
  }
  if (accept_overdue) {
    const int ms = options_.accept_timeout_ms;
    const std::string error =
        "the server did not accept the stream within " +
        (ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms");
    spdlog::warn("stream to {}: {}; connecting again", CurrentAddress(), error);
    std::lock_guard lock(mutex_);
    status_.last_error = error;
  }
  uint64_t last_sent = 0;
  bool ok = false;
  {
    std::lock_guard lock(flow.mutex);
    ok = flow.accepted && !flow.ended;
    last_sent = flow.last_committed;
  }
  if (ok) {
    // Drops reports the server committed but whose acks were lost (it crashed right after
    // COMMIT), or renumbers a fresh spool's reports above what the server already has.
    auto reconciled = spool_.ReconcileWithServer(last_sent);
    if (!reconciled.ok()) {
      spdlog::error("cannot reconcile the spool with the server: {}", reconciled.error().message);
      ok = false;
    }
  }
  if (ok) {
    spdlog::info("connected to {}; server has everything up to seq {}", CurrentAddress(),
                 last_sent);
    {
      std::lock_guard lock(mutex_);
      status_.connected = true;
      status_.last_connect_ms = NowMs();
      status_.last_error.clear();
    }
    NotifyStatusChange();
  }
  while (ok) {
    size_t room = 0;
    {
      std::unique_lock lock(flow.mutex);
      flow.changed.wait(lock, [&] { return flow.ended || flow.in_flight < options_.window; });
      if (flow.ended) break;
      room = options_.window - flow.in_flight;
    }
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    auto pending = spool_.ReadAfter(last_sent, room);
    if (!pending.ok()) {
      spdlog::error("cannot read the spool: {}", pending.error().message);
      break;
    }
    if (pending->empty()) {
      // Idle until Wake() (a new report), the stream ending or Stop(): no polling, which keeps an
      // idle agent's CPU near zero. The timeout is only a safety net.
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, std::chrono::minutes(5), [&] { return stopping_ || woken_; });
      woken_ = false;
      std::lock_guard flow_lock(flow.mutex);
      if (flow.ended) break;
      continue;
    }
    for (auto& item : *pending) {
      dozor::v1::AgentMessage message;
      if (!message.mutable_report()->ParseFromString(item.payload)) {
        spdlog::error("spooled report {} is corrupt; dropping it", item.seq);
        (void)spool_.Remove(item.seq);
        last_sent = item.seq;
        continue;
      }
      // The row's seq wins after a renumbering. dropped_health_samples was set by Spool::Append
      // (a cumulative count; the server keeps the maximum), so no spool query per batch here.
      message.mutable_report()->set_seq(item.seq);
      {
        std::lock_guard lock(flow.mutex);
        ++flow.in_flight;
      }
      if (!stream->Write(message)) {
        ok = false;
        break;
      }
      last_sent = item.seq;
    }
  }
  bool server_ended = false;
  {
    std::lock_guard lock(flow.mutex);
    server_ended = flow.ended;
  }
  if (!server_ended) {
    // We are the ones ending it (stop, write failure): cancel so the reader's Read returns.
    // When the server ended the stream, cancelling would replace its status with CANCELLED.
    stream->WritesDone();
    context.TryCancel();
  }
  reader.join();
  grpc::Status status = stream->Finish();
  {
    std::lock_guard lock(mutex_);
    active_context_ = nullptr;
    if (!stopping_ && !status.ok() && !accept_overdue) {  // else: the reason set above
      status_.last_error = DescribeStatus(status);
    }
  }
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    if (status.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
        status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      spdlog::error(
          "server refused this agent: {} (re-enroll with `dozor-agent enroll` if it was revoked)",
          DescribeStatus(status));
    } else {
      spdlog::warn("stream to {} ended: {}", CurrentAddress(), DescribeStatus(status));
    }
  }
  return flow.acks > 0;
}

}  // namespace dozor::agent
