#include "platform/system_log.hpp"

#include <doctest/doctest.h>
#include <spdlog/logger.h>

namespace dozor::agent::platform {
namespace {

// On Windows the lines reach ReportEventW; under Wine, which keeps no event log, its debug
// channel shows them, and tests/windows/test_unit_tests_under_wine.py reads them there: the
// warning and the error with their Cyrillic text, not the information line.
TEST_CASE("the system log sink: the event log for warnings and errors on Windows, none on Linux") {
  auto sink = MakeSystemLogSink();
#ifdef _WIN32
  REQUIRE(sink != nullptr);
  CHECK(sink->level() == spdlog::level::warn);
  spdlog::logger logger("system-log-test", sink);
  logger.set_level(spdlog::level::trace);
  CHECK_NOTHROW(logger.info("dozor system log test: not for the event log"));
  CHECK_NOTHROW(logger.warn("dozor system log test: warning \u043f\u0440\u0435\u0434\u0443\u043f"));
  CHECK_NOTHROW(logger.error("dozor system log test: error \u043e\u0448\u0438\u0431\u043a\u0430"));
#else
  // systemd's journal keeps the service's standard error: nothing to add.
  CHECK(sink == nullptr);
#endif
}

}  // namespace
}  // namespace dozor::agent::platform
