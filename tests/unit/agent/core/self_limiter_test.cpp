#include "core/self_limiter.hpp"

#include <doctest/doctest.h>

namespace dozor::agent {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

SelfLimits TestLimits() {
  SelfLimits limits;
  limits.max_rss_bytes = 100 * kMiB;
  limits.max_cpu_percent = 10;
  limits.cpu_window_ms = 60000;
  limits.recover_ticks = 3;
  limits.fatal_memory_factor = 1.5;
  limits.fatal_ticks = 3;
  return limits;
}

// Feeds readings one health tick (60 s) apart; CPU grows by `cpu_ms_per_tick` each tick.
class Ticker {
 public:
  explicit Ticker(SelfLimiter& limiter) : limiter_(limiter) {}
  SelfLimitDecision Tick(uint64_t rss_mib, int64_t cpu_ms_per_tick, int64_t tick_ms = 60000) {
    now_ms_ += tick_ms;
    cpu_ms_ += cpu_ms_per_tick;
    return limiter_.Observe(SelfUsage{now_ms_, rss_mib * kMiB, cpu_ms_});
  }

 private:
  SelfLimiter& limiter_;
  int64_t now_ms_ = 1'000'000;
  int64_t cpu_ms_ = 5000;
};

TEST_CASE("self limiter stays quiet under both limits") {
  SelfLimiter limiter(TestLimits());
  Ticker ticker(limiter);
  for (int i = 0; i < 10; ++i) {
    auto decision = ticker.Tick(40, 600);  // 1 % CPU
    CHECK_FALSE(decision.shed);
    CHECK_FALSE(decision.started);
    CHECK_FALSE(decision.exit);
    CHECK(decision.reason.empty());
  }
}

TEST_CASE("self limiter reports CPU averaged over the window once it spans enough time") {
  SelfLimiter limiter(TestLimits());
  CHECK(limiter.Observe({0, 10 * kMiB, 0}).cpu_percent < 0);        // one reading: unknown
  CHECK(limiter.Observe({5000, 10 * kMiB, 2500}).cpu_percent < 0);  // 5 s: too short to judge
  CHECK(limiter.Observe({60000, 10 * kMiB, 6000}).cpu_percent == doctest::Approx(10.0));
  // 10 s ticks: the average covers the last minute, not just the last tick.
  SelfLimiter fine(TestLimits());
  int64_t cpu = 0;
  double last = -1;
  for (int64_t t = 0; t <= 120000; t += 10000) {
    cpu += t <= 60000 ? 0 : 3000;  // 30 % during the second minute only
    last = fine.Observe({t, kMiB, cpu}).cpu_percent;
  }
  CHECK(last == doctest::Approx(30.0));
}

TEST_CASE("self limiter sheds once per episode on memory and recovers after quiet ticks") {
  SelfLimiter limiter(TestLimits());
  Ticker ticker(limiter);
  ticker.Tick(50, 600);
  auto first = ticker.Tick(120, 600);
  CHECK(first.shed);
  CHECK(first.started);
  CHECK(first.reason.find("memory 120.0 MiB") != std::string::npos);
  auto second = ticker.Tick(120, 600);
  CHECK(second.shed);
  CHECK_FALSE(second.started);  // warned once per episode
  // Under again: still shedding for recover_ticks - 1 ticks, then recovered.
  CHECK(ticker.Tick(60, 600).shed);
  CHECK(ticker.Tick(60, 600).shed);
  auto recovered = ticker.Tick(60, 600);
  CHECK_FALSE(recovered.shed);
  CHECK(recovered.recovered);
  CHECK_FALSE(ticker.Tick(60, 600).recovered);
  // A new episode warns again.
  CHECK(ticker.Tick(130, 600).started);
}

TEST_CASE("self limiter resets its recovery count when usage goes over again") {
  SelfLimiter limiter(TestLimits());
  Ticker ticker(limiter);
  ticker.Tick(120, 0);
  ticker.Tick(60, 0);
  ticker.Tick(60, 0);
  CHECK(ticker.Tick(120, 0).shed);  // back over before the third quiet tick
  ticker.Tick(60, 0);
  ticker.Tick(60, 0);
  CHECK(limiter.shedding());
  CHECK(ticker.Tick(60, 0).recovered);
}

TEST_CASE("self limiter sheds on sustained CPU and recovers when it drops") {
  SelfLimiter limiter(TestLimits());
  Ticker ticker(limiter);
  ticker.Tick(30, 600);
  auto busy = ticker.Tick(30, 12000);  // 20 % of a core over the minute
  CHECK(busy.started);
  CHECK(busy.cpu_percent == doctest::Approx(20.0));
  CHECK(busy.reason.find("CPU 20.0%") != std::string::npos);
  ticker.Tick(30, 600, 120000);  // shedding doubles the interval
  ticker.Tick(30, 600, 120000);
  auto recovered = ticker.Tick(30, 600, 120000);
  CHECK(recovered.recovered);
  CHECK(recovered.cpu_percent < 10);
}

TEST_CASE("self limiter asks to exit only after memory stays over 1.5x for several ticks") {
  SelfLimiter limiter(TestLimits());
  Ticker ticker(limiter);
  CHECK_FALSE(ticker.Tick(160, 0).exit);
  CHECK_FALSE(ticker.Tick(160, 0).exit);
  CHECK_FALSE(ticker.Tick(140, 0).exit);  // over the limit but under 1.5x: the count restarts
  CHECK_FALSE(ticker.Tick(151, 0).exit);
  CHECK_FALSE(ticker.Tick(151, 0).exit);
  auto fatal = ticker.Tick(151, 0);
  CHECK(fatal.exit);
  CHECK(fatal.shed);
}

}  // namespace
}  // namespace dozor::agent
