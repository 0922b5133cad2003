#include "dozor/common/base64.hpp"

#include <doctest/doctest.h>

#include <string>

namespace dozor {
namespace {

TEST_CASE("base64 matches the RFC 4648 test vectors and rejects malformed text") {
  CHECK(Base64Encode("") == "");
  CHECK(Base64Encode("f") == "Zg==");
  CHECK(Base64Encode("fo") == "Zm8=");
  CHECK(Base64Encode("foo") == "Zm9v");
  CHECK(Base64Encode("foob") == "Zm9vYg==");
  CHECK(Base64Encode("fooba") == "Zm9vYmE=");
  CHECK(Base64Encode("foobar") == "Zm9vYmFy");
  CHECK(Base64Encode(std::string("\xff\xfe\x00", 3)) == "//4A");
  CHECK(*Base64Decode("Zm9vYmE=") == "fooba");
  CHECK(*Base64Decode("//4A") == std::string("\xff\xfe\x00", 3));
  CHECK_FALSE(Base64Decode("Zm9").ok());       // length
  CHECK_FALSE(Base64Decode("Zm9v*mFy").ok());  // alphabet
  CHECK_FALSE(Base64Decode("Zg==Zm9v").ok());  // data after padding
  CHECK_FALSE(Base64Decode("Zh==").ok());      // non-canonical padding bits
  CHECK_FALSE(Base64Decode("Z===").ok());
  std::string all;
  for (int i = 0; i < 256; ++i) {
    all.push_back(static_cast<char>(i));
  }
  for (size_t length = 0; length <= all.size(); length += 37) {
    CHECK(*Base64Decode(Base64Encode(all.substr(0, length))) == all.substr(0, length));
  }
}

}  // namespace
}  // namespace dozor
