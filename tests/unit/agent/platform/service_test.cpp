#include "platform/service.hpp"

#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "platform/self_usage.hpp"

namespace dozor::agent::platform {
namespace {

TEST_CASE("a stop request (SIGTERM) reaches the watcher's callback once") {
  std::atomic<int> stops{0};
  {
    StopRequestWatcher watcher([&] { stops.fetch_add(1); });
    ::kill(static_cast<pid_t>(ProcessId()), SIGTERM);
    for (int i = 0; i < 200 && stops.load() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  CHECK(stops.load() == 1);
}

TEST_CASE("a watcher destroyed without a stop request does not call back") {
  std::atomic<int> stops{0};
  {
    StopRequestWatcher watcher([&] { stops.fetch_add(1); });
  }
  CHECK(stops.load() == 0);
}

}  // namespace
}  // namespace dozor::agent::platform
