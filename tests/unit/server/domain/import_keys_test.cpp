// Import keys at rest: a wrapped key opens only with the server key it was wrapped with and for
// the token it belongs to; FindImportSigner names the signing token and says why it cannot when
// a token predates signed imports or the server's key changed.
#include "domain/import_keys.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "dozor/common/crypto.hpp"
#include "dozor/contract/snapshot_file.hpp"

namespace dozor::server {
namespace {

const std::string kServerKey(32, 's');

ImportKeyWrapper Wrapper(const std::string& server_key = kServerKey) {
  auto wrapper = ImportKeyWrapper::FromServerKey(server_key);
  REQUIRE(wrapper.ok());
  return *wrapper;
}

std::string ImportKey(const std::string& token) {
  auto key = SnapshotImportKey(token);
  REQUIRE(key.ok());
  return *key;
}

SnapshotEnvelope SignedEnvelope(const std::string& token) {
  SnapshotContents contents;
  contents.created_at_ms = 1700000000000;
  contents.hostname = "web-01";
  contents.machine_id = "m-1";
  contents.inventory_report.set_seq(1);
  contents.inventory_report.mutable_inventory()->mutable_os()->set_hostname("web-01");
  auto text = BuildSnapshotJson(contents, token);
  REQUIRE(text.ok());
  auto envelope = ParseSnapshotEnvelope(*text);
  REQUIRE(envelope.ok());
  return *envelope;
}

TEST_CASE("a wrapped import key unwraps with its server key and owner, and hides the key") {
  const ImportKeyWrapper wrapper = Wrapper();
  const std::string import_key = ImportKey("dze_token_a");
  auto wrapped = wrapper.Wrap({1, 7}, import_key);
  REQUIRE(wrapped.ok());
  CHECK(wrapped->rfind("v1:" + wrapper.key_id() + ":", 0) == 0);
  CHECK(wrapper.key_id().size() == 16);
  CHECK(wrapped->find(HexEncode(import_key)) == std::string::npos);
  CHECK(wrapped->find(HexEncode(kServerKey)) == std::string::npos);
  CHECK(*wrapper.Unwrap({1, 7}, *wrapped) == import_key);
  CHECK(*wrapper.Wrap({1, 7}, import_key) != *wrapped);  // a fresh nonce each time
  // The key id a rotation sorts the kept keys by; nothing for what is not a wrapped key.
  CHECK(ImportKeyWrapper::KeyIdOf(*wrapped) == wrapper.key_id());
  CHECK(ImportKeyWrapper::KeyIdOf("v2:" + wrapper.key_id() + ":00").empty());
  CHECK(ImportKeyWrapper::KeyIdOf("v1:no-second-colon").empty());
  CHECK(ImportKeyWrapper::KeyIdOf("").empty());
  CHECK(wrapper.Unwrap({1, 7}, "v1::00").error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("a wrapped key moved to another token or organisation, or altered, does not unwrap") {
  const ImportKeyWrapper wrapper = Wrapper();
  const std::string wrapped = *wrapper.Wrap({1, 7}, ImportKey("dze_token_a"));
  CHECK(wrapper.Unwrap({1, 8}, wrapped).error().code == ErrorCode::kPermissionDenied);
  CHECK(wrapper.Unwrap({2, 7}, wrapped).error().code == ErrorCode::kPermissionDenied);
  std::string altered = wrapped;
  altered.back() = altered.back() == '0' ? '1' : '0';
  CHECK(wrapper.Unwrap({1, 7}, altered).error().code == ErrorCode::kPermissionDenied);
  CHECK(wrapper.Unwrap({1, 7}, "garbage").error().code == ErrorCode::kInvalidArgument);
  CHECK(wrapper.Unwrap({1, 7}, "v1:" + wrapper.key_id() + ":zz").error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(wrapper.Unwrap({1, 7}, "v9:" + wrapper.key_id() + ":00").error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(ImportKeyWrapper::FromServerKey("short").error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("without the server key a database copy can neither verify nor forge a file") {
  // What a backup holds for a token: its SHA-256 and the wrapped import key.
  const std::string token = "dze_token_a";
  const ImportKeyWrapper server = Wrapper();
  const std::string wrapped = *server.Wrap({1, 7}, ImportKey(token));
  const std::string token_hash = Sha256Hex(token);

  // Another server key (a restore without import-wrap.key, or an attacker's guess) opens nothing,
  // and says it is another key rather than a damaged row.
  const ImportKeyWrapper stranger = Wrapper(std::string(32, 'x'));
  CHECK(stranger.key_id() != server.key_id());
  auto opened = stranger.Unwrap({1, 7}, wrapped);
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::kFailedPrecondition);
  CHECK(opened.error().message.find("replaced or lost") != std::string::npos);
  // Re-labelled with the stranger's key id, the tag still fails.
  std::string relabelled = wrapped;
  relabelled.replace(3, 16, stranger.key_id());
  CHECK(stranger.Unwrap({1, 7}, relabelled).error().code == ErrorCode::kPermissionDenied);

  // Nothing in the copy is the key: files signed with any of it are refused by the real server.
  SnapshotEnvelope forged = SignedEnvelope(token);
  const std::vector<ImportSignerCandidate> candidates = {{7, 1, "dze_token_a", wrapped}};
  for (const std::string& key : {token_hash, *HexDecode(token_hash), wrapped}) {
    forged.hmac_sha256 = HmacSha256Hex(key, forged.SignedBytes());
    auto signer = FindImportSigner(forged, candidates, &server);
    REQUIRE_FALSE(signer.ok());
    CHECK(signer.error().code == ErrorCode::kPermissionDenied);
  }
  // The genuine file verifies with the server's key, and only there.
  CHECK(*FindImportSigner(SignedEnvelope(token), candidates, &server) == 7);
  CHECK_FALSE(FindImportSigner(SignedEnvelope(token), candidates, &stranger).ok());
}

TEST_CASE("the signer is the candidate whose key verifies, every candidate is tried") {
  const ImportKeyWrapper wrapper = Wrapper();
  const std::vector<ImportSignerCandidate> candidates = {
      {3, 1, "dze_token_", *wrapper.Wrap({1, 3}, ImportKey("dze_token_x"))},
      {4, 1, "dze_token_", *wrapper.Wrap({1, 4}, ImportKey("dze_token_b"))},
      {5, 1, "dze_token_", *wrapper.Wrap({1, 5}, ImportKey("dze_token_c"))}};
  CHECK(*FindImportSigner(SignedEnvelope("dze_token_b"), candidates, &wrapper) == 4);
  CHECK(*FindImportSigner(SignedEnvelope("dze_token_c"), candidates, &wrapper) == 5);

  auto nobody = FindImportSigner(SignedEnvelope("dze_token_z"), candidates, &wrapper);
  REQUIRE_FALSE(nobody.ok());
  CHECK(nobody.error().code == ErrorCode::kPermissionDenied);
  CHECK(nobody.error().message.find("no enrollment token of this organisation matches") !=
        std::string::npos);
  CHECK(nobody.error().message.find("new enrollment token") == std::string::npos);
  CHECK(FindImportSigner(SignedEnvelope("dze_token_z"), {}, &wrapper).error().code ==
        ErrorCode::kPermissionDenied);
}

TEST_CASE("a token without an import key is named, with the remedy") {
  const ImportKeyWrapper wrapper = Wrapper();
  const std::vector<ImportSignerCandidate> candidates = {{9, 1, "dze_old_toke", std::nullopt}};
  auto refused = FindImportSigner(SignedEnvelope("dze_old_token"), candidates, &wrapper);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kPermissionDenied);
  CHECK(refused.error().message.find("dze_old_toke") != std::string::npos);
  CHECK(refused.error().message.find("issued before signed imports") != std::string::npos);
  CHECK(refused.error().message.find("dozorctl token create") != std::string::npos);
  CHECK(FindImportSigner(SignedEnvelope("dze_old_token"), candidates, nullptr).error().code ==
        ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace dozor::server
