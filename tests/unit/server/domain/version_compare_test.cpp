#include "domain/version_compare.hpp"

#include <doctest/doctest.h>

#include <string>

namespace dozor::server {
namespace {

struct Case {
  const char* a;
  const char* b;
  int expected;  // sign of CompareDebianVersions(a, b)
};

int Sign(int value) { return value < 0 ? -1 : (value > 0 ? 1 : 0); }

TEST_CASE("version comparison follows dpkg ordering") {
  const Case cases[] = {
      {"1.0", "1.0.1", -1},
      {"1:0.9", "2.0", 1},     // epoch wins over everything
      {"1.0~rc1", "1.0", -1},  // '~' sorts before the end of the string
      {"1.0~rc1", "1.0~rc2", -1},
      {"1.0~~", "1.0~", -1},
      {"2.0-1", "2.0-2", -1},  // revision compared when upstream is equal
      {"10", "9", 1},          // digit runs compare numerically
      {"1.10", "1.9", 1},
      {"1.0", "1.0", 0},
      {"0:1.0", "1.0", 0},  // missing epoch is 0
      {"1.0-1", "1.0-1", 0},
      {"01.0", "1.0", 0},    // leading zeros do not count
      {"1.0a", "1.0", 1},    // letters sort after the end
      {"1.0a", "1.0+", -1},  // letters sort before other characters
      {"2.36-9+deb12u4", "2.36-9+deb12u3", 1},
      {"1:2.3.4-1ubuntu1", "1:2.3.4-1", 1},
      {"2:1.0", "1:9.9", 1},
      {"1.2-3-4", "1.2-3-5", -1},  // revision starts after the last hyphen
      {"7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1},
  };
  for (const auto& c : cases) {
    CAPTURE(std::string(c.a));
    CAPTURE(std::string(c.b));
    CHECK(Sign(CompareDebianVersions(c.a, c.b)) == c.expected);
    CHECK(Sign(CompareDebianVersions(c.b, c.a)) == -c.expected);
  }
}

TEST_CASE("version comparison tolerates malformed versions") {
  CHECK(CompareDebianVersions("", "") == 0);
  CHECK(CompareDebianVersions("", "1") < 0);
  CHECK(CompareDebianVersions("x:1.0", "1.0") == 0);  // non-numeric epoch counts as 0
  CHECK(Sign(CompareDebianVersions("99999999999999999999999:1", "1:1")) == 1);
  CHECK(CompareDebianVersions("1.0-", "1.0") == 0);
}

}  // namespace
}  // namespace dozor::server
