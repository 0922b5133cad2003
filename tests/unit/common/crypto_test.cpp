// The OpenSSL-backed primitives behind import keys: HKDF-SHA256 and AES-256-GCM against published
// test vectors, and the refusals that keep a wrapped key bound to its key and owner.
#include "dozor/common/crypto.hpp"

#include <doctest/doctest.h>

#include <string>

namespace dozor {
namespace {

std::string FromHex(std::string_view hex) {
  auto bytes = HexDecode(hex);
  REQUIRE(bytes.ok());
  return *bytes;
}

TEST_CASE("hex round-trips bytes and rejects odd lengths and non-hex characters") {
  const std::string bytes("\x00\x7f\x80\xff", 4);
  CHECK(HexEncode(bytes) == "007f80ff");
  CHECK(*HexDecode("007F80ff") == bytes);
  CHECK(HexDecode("").value().empty());
  CHECK(HexDecode("abc").error().code == ErrorCode::kInvalidArgument);
  CHECK(HexDecode("zz").error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("hkdf-sha256 matches RFC 5869 test cases 1 and 3") {
  auto case1 =
      HkdfSha256(FromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"),
                 FromHex("000102030405060708090a0b0c"), FromHex("f0f1f2f3f4f5f6f7f8f9"), 42);
  REQUIRE(case1.ok());
  CHECK(HexEncode(*case1) ==
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  // Empty salt and info: the salt defaults to zeros, as the import key derivation relies on.
  auto case3 = HkdfSha256(FromHex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"), "", "", 42);
  REQUIRE(case3.ok());
  CHECK(HexEncode(*case3) ==
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
  CHECK(HkdfSha256("key", "", "", 0).error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("aes-256-gcm opens the GCM specification's test case 16") {
  const std::string key =
      FromHex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const std::string associated = FromHex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const std::string sealed = FromHex(
      "cafebabefacedbaddecaf888"  // nonce
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b10"
      "56828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b");  // tag
  auto opened = OpenAes256Gcm(key, sealed, associated);
  REQUIRE(opened.ok());
  CHECK(HexEncode(*opened) ==
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
        "49a6b525b16aedf5aa0de657ba637b39");
}

TEST_CASE("aes-256-gcm seals with a fresh nonce and opens only with the same key and owner") {
  const std::string key(32, 'k');
  auto first = SealAes256Gcm(key, "secret import key", "token=1");
  auto second = SealAes256Gcm(key, "secret import key", "token=1");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->size() == 12 + 17 + 16);
  CHECK(*first != *second);  // a new nonce each time
  CHECK(*OpenAes256Gcm(key, *first, "token=1") == "secret import key");
  CHECK(*OpenAes256Gcm(key, *second, "token=1") == "secret import key");

  CHECK(OpenAes256Gcm(std::string(32, 'x'), *first, "token=1").error().code ==
        ErrorCode::kPermissionDenied);
  CHECK(OpenAes256Gcm(key, *first, "token=2").error().code == ErrorCode::kPermissionDenied);
  std::string altered = *first;
  altered[14] = static_cast<char>(altered[14] ^ 1);
  CHECK(OpenAes256Gcm(key, altered, "token=1").error().code == ErrorCode::kPermissionDenied);
  CHECK(OpenAes256Gcm(key, first->substr(0, 27), "token=1").error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(SealAes256Gcm("short", "x", "").error().code == ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace dozor
