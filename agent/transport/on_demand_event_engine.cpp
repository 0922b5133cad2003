#include "transport/on_demand_event_engine.hpp"

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace dozor::agent {

namespace {
using Clock = std::chrono::steady_clock;
using grpc_event_engine::experimental::EventEngine;

// One closure to run: either gRPC's Closure (owned by gRPC) or a callable we own.
struct Task {
  EventEngine::Closure* closure = nullptr;
  absl::AnyInvocable<void()> callable;

  void Run() {
    if (closure != nullptr) {
      closure->Run();
    } else {
      callable();
    }
  }
};

// Timers by (deadline, id): the earliest is first, the id makes keys unique and is what a
// TaskHandle carries, with the deadline, so Cancel finds the entry without a second index.
using TimerKey = std::pair<Clock::time_point, int64_t>;
}  // namespace

struct OnDemandEventEngine::State {
  explicit State(Options options) : options(options) {}

  const Options options;
  mutable std::mutex mutex;
  std::condition_variable work_ready;
  std::condition_variable timers_changed;
  std::condition_variable thread_exited;
  std::deque<Task> queue;
  std::map<TimerKey, Task> timers;
  int64_t next_timer_id = 1;
  int workers = 0;
  int idle_workers = 0;
  bool timer_thread_started = false;
  bool timer_thread_running = false;
  bool shutting_down = false;
  uint64_t timer_wakeups = 0;
};

namespace {
// Which engine's thread this is (IsWorkerThread, and the destructor must not wait for itself).
thread_local const OnDemandEventEngine::State* t_engine_state = nullptr;

void NameThisThread(const char* name) { pthread_setname_np(pthread_self(), name); }

void WorkerLoop(const std::shared_ptr<OnDemandEventEngine::State>& state) {
  t_engine_state = state.get();
  NameThisThread("dozor-ee-work");
  std::unique_lock lock(state->mutex);
  while (true) {
    if (!state->queue.empty()) {
      Task task = std::move(state->queue.front());
      state->queue.pop_front();
      lock.unlock();
      task.Run();
      task = Task();  // destroyed outside the lock: a destructor may call back into the engine
      lock.lock();
      continue;
    }
    if (state->shutting_down) {
      break;
    }
    ++state->idle_workers;
    bool exit_spare = false;
    if (state->workers > 1) {
      // A spare worker (started while the others were busy) leaves after a quiet spell; the
      // last one waits without a timeout, so an idle engine has no periodic wake-ups.
      const bool woken = state->work_ready.wait_for(lock, state->options.spare_worker_idle, [&] {
        return !state->queue.empty() || state->shutting_down;
      });
      exit_spare = !woken && state->workers > 1;
    } else {
      state->work_ready.wait(lock, [&] { return !state->queue.empty() || state->shutting_down; });
    }
    --state->idle_workers;
    if (exit_spare) {
      break;
    }
  }
  --state->workers;
  state->thread_exited.notify_all();
}

// Called with the mutex held after queueing: wakes an idle worker or starts one.
void DispatchLocked(const std::shared_ptr<OnDemandEventEngine::State>& state) {
  if (state->idle_workers > 0 || state->workers >= state->options.max_workers) {
    state->work_ready.notify_one();
    return;
  }
  ++state->workers;
  std::thread([state] { WorkerLoop(state); }).detach();
}

void TimerLoop(const std::shared_ptr<OnDemandEventEngine::State>& state) {
  t_engine_state = state.get();
  NameThisThread("dozor-ee-timer");
  std::unique_lock lock(state->mutex);
  while (!state->shutting_down) {
    if (state->timers.empty()) {
      state->timers_changed.wait(lock);
    } else {
      state->timers_changed.wait_until(lock, state->timers.begin()->first.first);
    }
    ++state->timer_wakeups;
    const auto now = Clock::now();
    bool queued = false;
    while (!state->shutting_down && !state->timers.empty() &&
           state->timers.begin()->first.first <= now) {
      state->queue.push_back(std::move(state->timers.begin()->second));
      state->timers.erase(state->timers.begin());
      queued = true;
    }
    if (queued) {
      DispatchLocked(state);
    }
  }
  state->timer_thread_running = false;
  state->thread_exited.notify_all();
}

EventEngine::TaskHandle ScheduleTimer(const std::shared_ptr<OnDemandEventEngine::State>& state,
                                      EventEngine::Duration when, Task task) {
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(when);
  std::lock_guard lock(state->mutex);
  const int64_t id = state->next_timer_id++;
  const bool earliest = state->timers.empty() || deadline < state->timers.begin()->first.first;
  state->timers.emplace(TimerKey{deadline, id}, std::move(task));
  if (!state->timer_thread_started) {
    state->timer_thread_started = true;
    state->timer_thread_running = true;
    std::thread([state] { TimerLoop(state); }).detach();
  } else if (earliest) {
    state->timers_changed.notify_one();
  }
  return EventEngine::TaskHandle{
      {static_cast<intptr_t>(id), static_cast<intptr_t>(deadline.time_since_epoch().count())}};
}
}  // namespace

OnDemandEventEngine::OnDemandEventEngine() : OnDemandEventEngine(Options{}) {}

OnDemandEventEngine::OnDemandEventEngine(Options options)
    : state_(std::make_shared<State>(options)) {}

OnDemandEventEngine::~OnDemandEventEngine() {
  std::map<TimerKey, Task> abandoned;
  {
    std::unique_lock lock(state_->mutex);
    state_->shutting_down = true;
    // gRPC cancels or lets run every timer before it drops an engine; anything left would never
    // run anyway.
    abandoned.swap(state_->timers);
    state_->work_ready.notify_all();
    state_->timers_changed.notify_all();
    // The last reference can be dropped by a closure running on one of this engine's workers
    // (the timer thread runs none): that worker finishes its closure and then leaves by itself,
    // so it is not waited for.
    const int own = (t_engine_state == state_.get()) ? 1 : 0;
    state_->thread_exited.wait(
        lock, [&] { return state_->workers <= own && !state_->timer_thread_running; });
  }
}

bool OnDemandEventEngine::IsWorkerThread() { return t_engine_state == state_.get(); }

void OnDemandEventEngine::Run(Closure* closure) {
  std::lock_guard lock(state_->mutex);
  state_->queue.push_back(Task{closure, {}});
  DispatchLocked(state_);
}

void OnDemandEventEngine::Run(absl::AnyInvocable<void()> closure) {
  std::lock_guard lock(state_->mutex);
  state_->queue.push_back(Task{nullptr, std::move(closure)});
  DispatchLocked(state_);
}

EventEngine::TaskHandle OnDemandEventEngine::RunAfter(Duration when, Closure* closure) {
  return ScheduleTimer(state_, when, Task{closure, {}});
}

EventEngine::TaskHandle OnDemandEventEngine::RunAfter(Duration when,
                                                      absl::AnyInvocable<void()> closure) {
  return ScheduleTimer(state_, when, Task{nullptr, std::move(closure)});
}

bool OnDemandEventEngine::Cancel(TaskHandle handle) {
  const TimerKey key{Clock::time_point(Clock::duration(handle.keys[1])), handle.keys[0]};
  Task cancelled;
  {
    std::lock_guard lock(state_->mutex);
    auto found = state_->timers.find(key);
    if (found == state_->timers.end()) {
      return false;  // already run (or running), or never scheduled here
    }
    cancelled = std::move(found->second);
    state_->timers.erase(found);
    // The timer thread may now sleep past its deadline: it wakes, finds nothing due, sleeps on.
  }
  return true;
}

absl::StatusOr<std::unique_ptr<EventEngine::Listener>> OnDemandEventEngine::CreateListener(
    Listener::AcceptCallback /*on_accept*/, absl::AnyInvocable<void(absl::Status)> /*on_shutdown*/,
    const grpc_event_engine::experimental::EndpointConfig& /*config*/,
    std::unique_ptr<grpc_event_engine::experimental::MemoryAllocatorFactory> /*factory*/) {
  return absl::UnimplementedError("dozor-agent's EventEngine does not listen");
}

EventEngine::ConnectionHandle OnDemandEventEngine::Connect(
    OnConnectCallback on_connect, const ResolvedAddress& /*addr*/,
    const grpc_event_engine::experimental::EndpointConfig& /*args*/,
    grpc_event_engine::experimental::MemoryAllocator /*memory_allocator*/, Duration /*timeout*/) {
  Run([on_connect = std::move(on_connect)]() mutable {
    on_connect(absl::UnimplementedError("dozor-agent's EventEngine does not connect"));
  });
  return ConnectionHandle{{0, 0}};
}

bool OnDemandEventEngine::CancelConnect(ConnectionHandle /*handle*/) { return false; }

std::unique_ptr<EventEngine::DNSResolver> OnDemandEventEngine::GetDNSResolver(
    const DNSResolver::ResolverOptions& /*options*/) {
  return nullptr;
}

uint64_t OnDemandEventEngine::timer_wakeups() const {
  std::lock_guard lock(state_->mutex);
  return state_->timer_wakeups;
}

int OnDemandEventEngine::workers() const {
  std::lock_guard lock(state_->mutex);
  return state_->workers;
}

void UseOnDemandEventEngine() {
  grpc_event_engine::experimental::SetEventEngineFactory(
      [] { return std::make_unique<OnDemandEventEngine>(); });
}

}  // namespace dozor::agent
