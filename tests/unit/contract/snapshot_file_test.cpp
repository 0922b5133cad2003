// The snapshot file format (dozor.snapshot/v2) shared by `dozor-agent collect` and the server's
// import route: building, the reference reader, digests pinned against independent values, and
// every field the server trusts covered by the signature.
#include "dozor/contract/snapshot_file.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dozor/common/crypto.hpp"

namespace dozor {
namespace {

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    out.push_back(kDigits[(static_cast<unsigned char>(c) >> 4) & 15]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 15]);
  }
  return out;
}

// A small fixed pair of reports whose wire bytes are pinned below (built by hand from the field
// numbers in agent.proto), so the digests can be checked against values computed independently
// with Python's hashlib/hmac over those bytes:
//   key = HKDF-SHA256(token, salt b"", info b"dozor import v2", 32)   (RFC 5869 by hand with hmac)
//   signed = b"".join(struct.pack(">Q", len(f)) + f for f in [b"dozor.snapshot/v2",
//            b"1700000000000", b"0.1.0", b"web-01", machine_id, b"dze_test_tok", payload, health])
//   hmac.new(key, signed, sha256).hexdigest()
SnapshotContents FixedContents() {
  SnapshotContents contents;
  contents.created_at_ms = 1700000000000;
  contents.agent_version = "0.1.0";
  contents.hostname = "web-01";
  contents.machine_id = "0123456789abcdef0123456789abcdef";
  auto& inventory = contents.inventory_report;
  inventory.set_seq(1);
  inventory.set_collected_at_ms(1700000000000);
  inventory.set_agent_version("0.1.0");
  inventory.mutable_inventory()->mutable_os()->set_hostname("web-01");
  auto* status = inventory.add_collectors();
  status->set_name("os");
  status->set_ok(true);
  dozor::v1::Report health;
  health.set_seq(2);
  health.set_collected_at_ms(1700000001000);
  health.mutable_health()->set_interval_seconds(1);
  contents.health_report = health;
  return contents;
}

constexpr const char* kToken = "dze_test_token_0123456789";
// Sha256Hex(kToken), what the server's database holds: no longer a key of anything here.
constexpr const char* kTokenHash =
    "380c67afe95ed01bbdba5329a361f55c8b86369ebdac24c2b3892510be0e37a6";
// HKDF-SHA256(kToken, "", "dozor import v2", 32), hex.
constexpr const char* kImportKeyHex =
    "d373742434c55c3f325dfb767be064705338fb818ffee52569e7cc24288a9e39";
constexpr const char* kPayloadHex =
    "08011080d095ffbc311a05302e312e30520a12084a067765622d3031a201060a026f731001";
constexpr const char* kHealthHex = "080210e8d795ffbc315a03880101";
constexpr const char* kExpectedSha256 =
    "97648dbb1ae7bd1d691673ebae911a10f7008ce65e322210404aa6900edf0465";
constexpr const char* kExpectedHmac =
    "58a3ccce743db6bc347d8357ed0cbe7aa64c2f1f615395906d623d57c1b5fa91";
constexpr const char* kExpectedSha256NoHealth =
    "829a1823c313e45b7ce513dff1190d04935945296f5bc6928cdb7cf1e740e4d2";
constexpr const char* kExpectedHmacNoHealth =
    "5b66c71e41edfeaca92895edbe8e2ce9ea9dc22386201d88a69597a88883a801";

std::string ImportKey(std::string_view token = kToken) {
  auto key = SnapshotImportKey(token);
  REQUIRE(key.ok());
  return *key;
}

struct Signature {
  std::string sha256;
  std::string hmac;
};

// A forger's digests for an edited file: its signed bytes rebuilt from the JSON as the format
// defines them, HMAC'd with whatever key the forger has.
Signature ReSigned(const nlohmann::json& json, std::string_view key) {
  SnapshotEnvelope envelope;
  envelope.format = json["format"].get<std::string>();
  envelope.created_at_ms = json["created_at_ms"].get<int64_t>();
  envelope.agent_version = json["agent_version"].get<std::string>();
  envelope.hostname = json["hostname"].get<std::string>();
  envelope.machine_id = json["machine_id"].get<std::string>();
  envelope.token_hint = json["token_hint"].get<std::string>();
  envelope.payload = *Base64Decode(json["payload"].get<std::string>());
  if (json.contains("health_payload")) {
    envelope.health_payload = *Base64Decode(json["health_payload"].get<std::string>());
  }
  const std::string signed_bytes = envelope.SignedBytes();
  return {Sha256Hex(signed_bytes), HmacSha256Hex(key, signed_bytes)};
}

TEST_CASE("snapshot json carries the documented fields and never the token") {
  auto json_text = BuildSnapshotJson(FixedContents(), kToken);
  REQUIRE(json_text.ok());
  CHECK(json_text->find(kToken) == std::string::npos);
  auto json = nlohmann::json::parse(*json_text);
  CHECK(json["format"] == "dozor.snapshot/v2");
  CHECK(json["created_at_ms"] == 1700000000000);
  CHECK(json["agent_version"] == "0.1.0");
  CHECK(json["hostname"] == "web-01");
  CHECK(json["machine_id"] == "0123456789abcdef0123456789abcdef");
  CHECK(json["token_hint"] == "dze_test_tok");
  CHECK(json["token_hint"].get<std::string>().size() == 12);
  CHECK(json.size() == 10);

  auto payload = Base64Decode(json["payload"].get<std::string>());
  auto health = Base64Decode(json["health_payload"].get<std::string>());
  REQUIRE(payload.ok());
  REQUIRE(health.ok());
  CHECK(Hex(*payload) == kPayloadHex);
  CHECK(Hex(*health) == kHealthHex);
  dozor::v1::Report report;
  REQUIRE(report.ParseFromString(*payload));
  CHECK(report.seq() == 1);
  CHECK(report.inventory().os().hostname() == "web-01");
  CHECK(report.collectors_size() == 1);
}

TEST_CASE("snapshot digests match independently computed sha256 and hmac values") {
  CHECK(Sha256Hex(kToken) == kTokenHash);
  CHECK(HexEncode(ImportKey()) == kImportKeyHex);
  auto json = nlohmann::json::parse(*BuildSnapshotJson(FixedContents(), kToken));
  CHECK(json["sha256"] == kExpectedSha256);
  CHECK(json["hmac_sha256"] == kExpectedHmac);
}

TEST_CASE("snapshot without health omits health_payload and signs it as empty") {
  SnapshotContents contents = FixedContents();
  contents.health_report.reset();
  auto json = nlohmann::json::parse(*BuildSnapshotJson(contents, kToken));
  CHECK_FALSE(json.contains("health_payload"));
  CHECK(json["sha256"] == kExpectedSha256NoHealth);
  CHECK(json["hmac_sha256"] == kExpectedHmacNoHealth);
  auto parsed = ParseSnapshotJson(json.dump(), ImportKey());
  REQUIRE(parsed.ok());
  CHECK_FALSE(parsed->health_report.has_value());
}

TEST_CASE("the import key comes from the plaintext token, not from its stored hash") {
  CHECK(ImportKey().size() == kSnapshotImportKeyBytes);
  CHECK(ImportKey() != ImportKey("dze_other"));
  // Neither the hash the database keeps nor anything derived the v1 way verifies a v2 file.
  const std::string text = *BuildSnapshotJson(FixedContents(), kToken);
  auto envelope = ParseSnapshotEnvelope(text);
  REQUIRE(envelope.ok());
  CHECK(SnapshotSignedBy(*envelope, ImportKey()));
  CHECK_FALSE(SnapshotSignedBy(*envelope, kTokenHash));
  CHECK_FALSE(SnapshotSignedBy(*envelope, *HexDecode(kTokenHash)));
  CHECK(SnapshotImportKey("").error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("snapshot building refuses an empty token and a report without inventory") {
  CHECK(BuildSnapshotJson(FixedContents(), "").error().code == ErrorCode::kInvalidArgument);
  SnapshotContents contents = FixedContents();
  contents.inventory_report.clear_inventory();
  CHECK(BuildSnapshotJson(contents, kToken).error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("snapshot reader round-trips and detects tampering and a wrong token") {
  const std::string text = *BuildSnapshotJson(FixedContents(), kToken);
  auto parsed = ParseSnapshotJson(text, ImportKey());
  REQUIRE(parsed.ok());
  CHECK(parsed->hostname == "web-01");
  CHECK(parsed->inventory_report.inventory().os().hostname() == "web-01");
  REQUIRE(parsed->health_report.has_value());
  CHECK(parsed->health_report->seq() == 2);

  CHECK(ParseSnapshotJson(text, ImportKey("dze_other")).error().code ==
        ErrorCode::kPermissionDenied);

  // Change the host name inside the payload and fix up sha256: only the HMAC catches it.
  auto json = nlohmann::json::parse(text);
  SnapshotContents forged = FixedContents();
  forged.inventory_report.mutable_inventory()->mutable_os()->set_hostname("evil-1");
  std::string forged_payload;
  REQUIRE(forged.inventory_report.SerializeToString(&forged_payload));
  json["payload"] = Base64Encode(forged_payload);
  json["sha256"] = ReSigned(json, "").sha256;
  CHECK(ParseSnapshotJson(json.dump(), ImportKey()).error().code == ErrorCode::kPermissionDenied);
  json["sha256"] = std::string(64, '0');
  CHECK(ParseSnapshotJson(json.dump(), ImportKey()).error().code == ErrorCode::kDataLoss);

  CHECK(ParseSnapshotJson("not json", ImportKey()).error().code == ErrorCode::kInvalidArgument);
  auto wrong_format = nlohmann::json::parse(text);
  wrong_format["format"] = "dozor.snapshot/v9";
  CHECK(ParseSnapshotJson(wrong_format.dump(), ImportKey()).error().code ==
        ErrorCode::kInvalidArgument);
}

TEST_CASE("changing any field the server trusts is detected, even with a recomputed sha256") {
  const std::string text = *BuildSnapshotJson(FixedContents(), kToken);
  struct Change {
    const char* field;
    nlohmann::json value;
  };
  const std::vector<Change> changes = {
      {"hostname", "evil-1"},     {"machine_id", "ffffffffffffffffffffffffffffffff"},
      {"machine_id", ""},         {"created_at_ms", 1800000000000},
      {"agent_version", "9.9.9"}, {"token_hint", "dze_other_to"}};
  for (const auto& change : changes) {
    CAPTURE(change.field);
    auto json = nlohmann::json::parse(text);
    json[change.field] = change.value;
    // Left as it was, the sha256 already says the file was modified...
    CHECK(ParseSnapshotJson(json.dump(), ImportKey()).error().code == ErrorCode::kDataLoss);
    // ...and with a sha256 recomputed by a forger, the HMAC does.
    json["sha256"] = ReSigned(json, "").sha256;
    CHECK(ParseSnapshotJson(json.dump(), ImportKey()).error().code == ErrorCode::kPermissionDenied);
  }
  // Dropping the health sample is a change too.
  auto json = nlohmann::json::parse(text);
  json.erase("health_payload");
  json["sha256"] = ReSigned(json, "").sha256;
  CHECK(ParseSnapshotJson(json.dump(), ImportKey()).error().code == ErrorCode::kPermissionDenied);
}

TEST_CASE("a file signed by a forger who has only the database's token hash is refused") {
  // What a database backup gives: Sha256Hex(token). Sign with it as the key, every way round.
  auto json = nlohmann::json::parse(*BuildSnapshotJson(FixedContents(), kToken));
  json["hostname"] = "evil-1";
  for (const std::string& guessed : {std::string(kTokenHash), *HexDecode(kTokenHash)}) {
    const Signature forged = ReSigned(json, guessed);
    json["sha256"] = forged.sha256;
    json["hmac_sha256"] = forged.hmac;
    CHECK(ParseSnapshotJson(json.dump(), ImportKey()).error().code == ErrorCode::kPermissionDenied);
  }
}

TEST_CASE("a version 1 file is refused with a message that says what to do") {
  auto json = nlohmann::json::parse(*BuildSnapshotJson(FixedContents(), kToken));
  json["format"] = "dozor.snapshot/v1";
  auto parsed = ParseSnapshotEnvelope(json.dump());
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().code == ErrorCode::kInvalidArgument);
  CHECK(parsed.error().message.find("no longer accepted") != std::string::npos);
  CHECK(parsed.error().message.find("Collect the machine again") != std::string::npos);
}

TEST_CASE("names that are not valid UTF-8 are signed as the reader will see them") {
  SnapshotContents contents = FixedContents();
  contents.hostname = std::string("caf\xe9-01", 7);
  contents.machine_id = std::string("id\0x", 4);
  auto text = BuildSnapshotJson(contents, kToken);
  REQUIRE(text.ok());
  auto parsed = ParseSnapshotJson(*text, ImportKey());
  REQUIRE(parsed.ok());
  CHECK(parsed->hostname == "caf\\xe9-01");
  CHECK(parsed->machine_id == "id\\x00x");
}

}  // namespace
}  // namespace dozor
