// gRPC's EventEngine for the agent: threads that sleep until there is work.
//
// gRPC 1.51 creates its built-in EventEngine (PosixEventEngine) as soon as a channel exists. Its
// timer thread advances the timer list in windows of at most one second, so an idle agent's
// process woke once a second (often twice) for it, empty timer list or not, plus a pool of three
// threads. In 1.51 this EventEngine only runs closures and timers: the connection, its TLS and
// HTTP/2, keepalive and reconnect backoff all stay on gRPC's own iomgr. This engine replaces it
// through gRPC's public factory hook (grpc/event_engine/event_engine.h): one timer thread that
// sleeps until the earliest deadline (forever when there is none) and worker threads that sleep
// until a closure arrives.
//
// Connect, CreateListener and GetDNSResolver are only used by gRPC's experimental EventEngine
// transports, which 1.51 does not enable; they fail cleanly here.
#pragma once

#include <grpc/event_engine/event_engine.h>

#include <memory>

namespace dozor::agent {

class OnDemandEventEngine final : public grpc_event_engine::experimental::EventEngine {
 public:
  struct Options {
    // Workers beyond the first exit after this long without work; the first one stays.
    Duration spare_worker_idle = std::chrono::seconds(30);
    // More closures than this may run at once only by queueing behind the busy ones.
    int max_workers = 8;
  };

  OnDemandEventEngine();
  explicit OnDemandEventEngine(Options options);
  ~OnDemandEventEngine() override;

  bool IsWorkerThread() override;
  void Run(Closure* closure) override;
  void Run(absl::AnyInvocable<void()> closure) override;
  TaskHandle RunAfter(Duration when, Closure* closure) override;
  TaskHandle RunAfter(Duration when, absl::AnyInvocable<void()> closure) override;
  bool Cancel(TaskHandle handle) override;

  absl::StatusOr<std::unique_ptr<Listener>> CreateListener(
      Listener::AcceptCallback on_accept, absl::AnyInvocable<void(absl::Status)> on_shutdown,
      const grpc_event_engine::experimental::EndpointConfig& config,
      std::unique_ptr<grpc_event_engine::experimental::MemoryAllocatorFactory>
          memory_allocator_factory) override;
  ConnectionHandle Connect(OnConnectCallback on_connect, const ResolvedAddress& addr,
                           const grpc_event_engine::experimental::EndpointConfig& args,
                           grpc_event_engine::experimental::MemoryAllocator memory_allocator,
                           Duration timeout) override;
  bool CancelConnect(ConnectionHandle handle) override;
  std::unique_ptr<DNSResolver> GetDNSResolver(const DNSResolver::ResolverOptions& options) override;

  // For tests: how often the timer thread woke up (for a deadline, a new timer or shutdown).
  [[nodiscard]] uint64_t timer_wakeups() const;
  // For tests: worker threads alive now.
  [[nodiscard]] int workers() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// Makes gRPC create OnDemandEventEngine wherever it would create its built-in one. Call before the
// first channel is created (gRPC keeps an engine it already made).
void UseOnDemandEventEngine();

}  // namespace dozor::agent
