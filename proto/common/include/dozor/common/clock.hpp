// Injectable wall clock so timing logic (backoff, retention, offline detection) is testable.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace dozor {

class Clock {
 public:
  virtual ~Clock() = default;
  // Unix time in milliseconds.
  [[nodiscard]] virtual int64_t NowMs() const = 0;
  [[nodiscard]] int64_t NowSeconds() const { return NowMs() / 1000; }
};

// The start of the `step_ms` bucket that holds `ms` (also before 1970): rounds towards minus
// infinity where integer division rounds towards zero. step_ms > 0.
[[nodiscard]] constexpr int64_t FloorToStep(int64_t ms, int64_t step_ms) {
  int64_t quotient = ms / step_ms;
  if (ms % step_ms != 0 && ms < 0) {
    --quotient;
  }
  return quotient * step_ms;
}

class SystemClock final : public Clock {
 public:
  [[nodiscard]] int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static const SystemClock& Instance() {
    static const SystemClock clock;
    return clock;
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t now_ms = 1'700'000'000'000) : now_ms_(now_ms) {}
  [[nodiscard]] int64_t NowMs() const override { return now_ms_.load(); }
  void AdvanceMs(int64_t ms) { now_ms_ += ms; }
  void SetMs(int64_t ms) { now_ms_ = ms; }

 private:
  std::atomic<int64_t> now_ms_;
};

}  // namespace dozor
