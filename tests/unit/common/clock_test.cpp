// Time arithmetic shared by the health charts' grid and the readiness trend's midnights.
#include <doctest/doctest.h>

#include "dozor/common/clock.hpp"

namespace dozor {
namespace {

TEST_CASE("FloorToStep rounds down to the bucket start, before 1970 too") {
  constexpr int64_t kDay = 86'400'000;
  static_assert(FloorToStep(0, kDay) == 0);
  CHECK(FloorToStep(kDay - 1, kDay) == 0);
  CHECK(FloorToStep(kDay, kDay) == kDay);
  CHECK(FloorToStep(kDay + 1, kDay) == kDay);
  CHECK(FloorToStep(-1, kDay) == -kDay);
  CHECK(FloorToStep(-kDay, kDay) == -kDay);
  CHECK(FloorToStep(-kDay - 1, kDay) == -2 * kDay);
  CHECK(FloorToStep(1'800'000'123'456, 60'000) == 1'800'000'120'000);
}

TEST_CASE("FakeClock moves only when told") {
  FakeClock clock{1000};
  CHECK(clock.NowMs() == 1000);
  CHECK(clock.NowSeconds() == 1);
  clock.AdvanceMs(2500);
  CHECK(clock.NowMs() == 3500);
}

}  // namespace
}  // namespace dozor
