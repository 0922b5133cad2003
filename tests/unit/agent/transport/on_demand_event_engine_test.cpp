#include "transport/on_demand_event_engine.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace dozor::agent {
namespace {

using namespace std::chrono_literals;
using grpc_event_engine::experimental::EventEngine;

// Waits (bounded) until `done` holds; the engine's threads do the work.
template <typename Predicate>
bool WaitFor(Predicate done, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

class CountingClosure : public EventEngine::Closure {
 public:
  void Run() override { runs.fetch_add(1); }
  std::atomic<int> runs{0};
};

TEST_CASE("OnDemandEventEngine runs closures on its own worker threads") {
  OnDemandEventEngine engine;
  CHECK_FALSE(engine.IsWorkerThread());
  std::atomic<int> ran{0};
  std::atomic<bool> on_worker{false};
  engine.Run([&] {
    on_worker = engine.IsWorkerThread();
    ran.fetch_add(1);
  });
  CountingClosure closure;
  engine.Run(&closure);
  REQUIRE(WaitFor([&] { return ran.load() == 1 && closure.runs.load() == 1; }));
  CHECK(on_worker.load());
}

TEST_CASE("OnDemandEventEngine runs timers after their delay, earliest first") {
  OnDemandEventEngine engine;
  std::mutex mutex;
  std::vector<int> order;
  const auto started = std::chrono::steady_clock::now();
  std::atomic<int64_t> first_after_ms{0};
  engine.RunAfter(60ms, [&] {
    std::lock_guard lock(mutex);
    order.push_back(2);
  });
  engine.RunAfter(20ms, [&] {
    first_after_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - started)
                         .count();
    std::lock_guard lock(mutex);
    order.push_back(1);
  });
  REQUIRE(WaitFor([&] {
    std::lock_guard lock(mutex);
    return order.size() == 2;
  }));
  CHECK(order == std::vector<int>{1, 2});
  CHECK(first_after_ms.load() >= 20);
}

TEST_CASE("OnDemandEventEngine cancels a pending timer, not one that has run") {
  OnDemandEventEngine engine;
  CountingClosure later;
  auto pending = engine.RunAfter(std::chrono::hours(1), &later);
  CHECK(engine.Cancel(pending));
  CHECK_FALSE(engine.Cancel(pending));  // already cancelled

  std::atomic<int> ran{0};
  auto soon = engine.RunAfter(1ms, [&] { ran.fetch_add(1); });
  REQUIRE(WaitFor([&] { return ran.load() == 1; }));
  CHECK_FALSE(engine.Cancel(soon));
  CHECK(later.runs.load() == 0);
  CHECK_FALSE(engine.Cancel(EventEngine::TaskHandle{{12345, 678}}));  // never scheduled
}

TEST_CASE("OnDemandEventEngine sleeps until the next deadline, without periodic wake-ups") {
  OnDemandEventEngine engine;
  std::atomic<int> ran{0};
  engine.RunAfter(1ms, [&] { ran.fetch_add(1); });
  REQUIRE(WaitFor([&] { return ran.load() == 1; }));
  // Nothing due for a minute: the timer thread must not wake until then (gRPC's own wakes
  // every second).
  auto far = engine.RunAfter(std::chrono::minutes(1), [] {});
  std::this_thread::sleep_for(50ms);
  const uint64_t wakeups = engine.timer_wakeups();
  std::this_thread::sleep_for(1200ms);
  CHECK(engine.timer_wakeups() == wakeups);
  CHECK(engine.Cancel(far));
}

TEST_CASE("OnDemandEventEngine starts spare workers while others are busy and lets them go") {
  OnDemandEventEngine::Options options;
  options.spare_worker_idle = 50ms;
  OnDemandEventEngine engine(options);
  std::mutex mutex;
  std::condition_variable released_cv;
  bool released = false;
  std::atomic<int> blocked{0};
  engine.Run([&] {
    blocked.fetch_add(1);
    std::unique_lock lock(mutex);
    released_cv.wait(lock, [&] { return released; });
  });
  REQUIRE(WaitFor([&] { return blocked.load() == 1; }));
  // The only worker is busy: this one must not wait for it.
  std::atomic<int> ran{0};
  engine.Run([&] { ran.fetch_add(1); });
  REQUIRE(WaitFor([&] { return ran.load() == 1; }));
  CHECK(engine.workers() == 2);
  {
    std::lock_guard lock(mutex);
    released = true;
  }
  released_cv.notify_all();
  CHECK(WaitFor([&] { return engine.workers() == 1; }));
}

TEST_CASE("OnDemandEventEngine can be destroyed by a closure running on it") {
  auto engine = std::make_shared<OnDemandEventEngine>();
  EventEngine* raw = engine.get();
  std::atomic<bool> destroyed{false};
  raw->Run([engine = std::move(engine), &destroyed]() mutable {
    engine.reset();  // the last reference: the destructor runs on the engine's own worker
    destroyed = true;
  });
  CHECK(WaitFor([&] { return destroyed.load(); }));
}

}  // namespace
}  // namespace dozor::agent
