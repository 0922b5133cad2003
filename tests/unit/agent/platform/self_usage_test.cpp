#include "platform/self_usage.hpp"

#include <doctest/doctest.h>

#include <string>

namespace dozor::agent::platform {
namespace {

TEST_CASE("own usage reports a resident set and a peak at least as large") {
  auto usage = ReadSelfUsage();
  REQUIRE(usage.ok());
  CHECK(usage->rss_bytes > 0);
  CHECK(usage->cpu_time_ms >= 0);
  auto peak = ReadPeakRss();
  REQUIRE(peak.ok());
  CHECK(*peak >= usage->rss_bytes / 2);
}

TEST_CASE("trimming the working set loses nothing the process uses") {
  static const std::string kText = "still here";
  TrimWorkingSet();
  ReleaseFreeHeap();
  CHECK(kText == "still here");  // code and read-only data come back on access
  auto usage = ReadSelfUsage();
  REQUIRE(usage.ok());
  CHECK(usage->rss_bytes > 0);
}

}  // namespace
}  // namespace dozor::agent::platform
