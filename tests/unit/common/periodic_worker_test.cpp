#include "dozor/common/periodic_worker.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "test_util.hpp"

namespace dozor {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// The worker's thread counts; waits up to two seconds for it.
bool Reaches(const std::atomic<int>& runs, int wanted) {
  return testing::WaitUntil([&] { return runs.load() >= wanted; }, std::chrono::seconds(2));
}

TEST_CASE("a periodic worker runs its task every period until stopped, then never again") {
  std::atomic<int> runs{0};
  PeriodicWorker worker(milliseconds(10), [&] { ++runs; });
  worker.Start();
  worker.Start();  // already running: no second thread
  CHECK(Reaches(runs, 3));
  CHECK(worker.Stop());
  const int after_stop = runs.load();
  std::this_thread::sleep_for(milliseconds(50));
  CHECK(runs.load() == after_stop);
  CHECK_FALSE(worker.Stop());  // stopped already
}

TEST_CASE("stopping does not wait out the period, and the first run is one period after start") {
  std::atomic<int> runs{0};
  PeriodicWorker worker(std::chrono::hours(1), [&] { ++runs; });
  worker.Start();
  const auto started = steady_clock::now();
  CHECK(worker.Stop());
  CHECK(steady_clock::now() - started < std::chrono::seconds(1));
  CHECK(runs.load() == 0);
}

TEST_CASE("stop lets a run in progress finish, and start after stop runs again") {
  std::atomic<int> runs{0};
  std::atomic<bool> in_task{false};
  std::atomic<bool> finished{false};
  PeriodicWorker worker(milliseconds(5), [&] {
    if (++runs == 1) {
      in_task = true;
      std::this_thread::sleep_for(milliseconds(100));
      finished = true;
    }
  });
  CHECK_FALSE(worker.Stop());  // never started
  worker.Start();
  REQUIRE(testing::WaitUntil([&] { return in_task.load(); }, std::chrono::seconds(2)));
  CHECK(worker.Stop());
  CHECK(finished.load());
  worker.Start();
  CHECK(Reaches(runs, 2));
}

TEST_CASE("a periodic worker stops when it is destroyed") {
  std::atomic<int> runs{0};
  {
    PeriodicWorker worker(milliseconds(5), [&] { ++runs; });
    worker.Start();
    CHECK(Reaches(runs, 1));
  }
  const int after = runs.load();
  std::this_thread::sleep_for(milliseconds(30));
  CHECK(runs.load() == after);
}

}  // namespace
}  // namespace dozor
