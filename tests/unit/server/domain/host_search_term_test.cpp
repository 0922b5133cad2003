#include "domain/host_search_term.hpp"

#include <doctest/doctest.h>

namespace dozor::server {
namespace {

TEST_CASE("a MAC in colon, dash, Cisco dot or bare spelling normalises to lower-case colons") {
  for (const char* text :
       {"52:54:00:AB:cd:EF", "52-54-00-ab-cd-ef", "5254.00ab.cdef", "525400ABCDEF"}) {
    INFO(text);
    auto mac = NormalizeMac(text);
    REQUIRE(mac.has_value());
    CHECK(*mac == "52:54:00:ab:cd:ef");
  }
}

TEST_CASE("text that is not a MAC is not read as one") {
  for (const char* text :
       {"", "52:54:00:ab:cd", "52:54:00:ab:cd:ef:01", "52:54-00:ab:cd:ef", "5254:00ab:cdef",
        "52:54:00:ab:cd:eg", "web-01", "10.0.0.1", "52:54:00:ab:cd:e"}) {
    INFO(text);
    CHECK_FALSE(NormalizeMac(text).has_value());
  }
}

TEST_CASE("a package term is a name, or name=version") {
  auto name = ParsePackageTerm("openssl");
  REQUIRE(name.has_value());
  CHECK(name->name == "openssl");
  CHECK_FALSE(name->version.has_value());
  auto pinned = ParsePackageTerm("openssl=3.0.17-1~deb12u2");
  REQUIRE(pinned.has_value());
  CHECK(pinned->name == "openssl");
  CHECK(*pinned->version == "3.0.17-1~deb12u2");
  // Only the first '=' splits (a version may hold one).
  CHECK(*ParsePackageTerm("x=1=2")->version == "1=2");
  for (const char* text : {"", "=1.0", "openssl=", "two words"}) {
    INFO(text);
    CHECK_FALSE(ParsePackageTerm(text).has_value());
  }
}

}  // namespace
}  // namespace dozor::server
