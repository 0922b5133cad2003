// The snapshot file format (dozor.snapshot/v1) shared by `dozor-agent collect` and the server's
// import route: building, the reference reader, digests pinned against independent values.
#include "dozor/contract/snapshot_file.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

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
//   hmac.new(sha256(token).hexdigest().encode(), payload + health, sha256).hexdigest()
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
// Sha256Hex(kToken), what the server stores.
constexpr const char* kTokenHash =
    "380c67afe95ed01bbdba5329a361f55c8b86369ebdac24c2b3892510be0e37a6";
constexpr const char* kPayloadHex =
    "08011080d095ffbc311a05302e312e30520a12084a067765622d3031a201060a026f731001";
constexpr const char* kHealthHex = "080210e8d795ffbc315a03880101";
constexpr const char* kExpectedSha256 =
    "ac39d14e2560f45a83b11b0402d40b17c21af8474957032a22bb713b7861aa78";
constexpr const char* kExpectedHmac =
    "1f42fa864e7854fb3018842803a487fdf7e7ddaa958add2506417e2c72f2d9e8";

TEST_CASE("snapshot json carries the documented fields and never the token") {
  auto json_text = BuildSnapshotJson(FixedContents(), kToken);
  REQUIRE(json_text.ok());
  CHECK(json_text->find(kToken) == std::string::npos);
  auto json = nlohmann::json::parse(*json_text);
  CHECK(json["format"] == "dozor.snapshot/v1");
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
  auto json = nlohmann::json::parse(*BuildSnapshotJson(FixedContents(), kToken));
  CHECK(json["sha256"] == kExpectedSha256);
  CHECK(json["hmac_sha256"] == kExpectedHmac);
}

TEST_CASE("snapshot without health omits health_payload and signs the payload alone") {
  SnapshotContents contents = FixedContents();
  contents.health_report.reset();
  auto json = nlohmann::json::parse(*BuildSnapshotJson(contents, kToken));
  CHECK_FALSE(json.contains("health_payload"));
  std::string payload = *Base64Decode(json["payload"].get<std::string>());
  CHECK(json["sha256"] == Sha256Hex(payload));
  CHECK(json["hmac_sha256"] == HmacSha256Hex(Sha256Hex(kToken), payload));
  auto parsed = ParseSnapshotJson(json.dump(), Sha256Hex(kToken));
  REQUIRE(parsed.ok());
  CHECK_FALSE(parsed->health_report.has_value());
}

TEST_CASE("snapshot building refuses an empty token and a report without inventory") {
  CHECK(BuildSnapshotJson(FixedContents(), "").error().code == ErrorCode::kInvalidArgument);
  SnapshotContents contents = FixedContents();
  contents.inventory_report.clear_inventory();
  CHECK(BuildSnapshotJson(contents, kToken).error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("snapshot reader round-trips and detects tampering and a wrong token") {
  const std::string text = *BuildSnapshotJson(FixedContents(), kToken);
  auto parsed = ParseSnapshotJson(text, Sha256Hex(kToken));
  REQUIRE(parsed.ok());
  CHECK(parsed->hostname == "web-01");
  CHECK(parsed->inventory_report.inventory().os().hostname() == "web-01");
  REQUIRE(parsed->health_report.has_value());
  CHECK(parsed->health_report->seq() == 2);

  CHECK(ParseSnapshotJson(text, Sha256Hex("dze_other")).error().code ==
        ErrorCode::kPermissionDenied);

  // Change the host name inside the payload and fix up sha256: only the HMAC catches it.
  auto json = nlohmann::json::parse(text);
  SnapshotContents forged = FixedContents();
  forged.inventory_report.mutable_inventory()->mutable_os()->set_hostname("evil-1");
  std::string forged_payload;
  REQUIRE(forged.inventory_report.SerializeToString(&forged_payload));
  json["payload"] = Base64Encode(forged_payload);
  json["sha256"] =
      Sha256Hex(forged_payload + *Base64Decode(json["health_payload"].get<std::string>()));
  CHECK(ParseSnapshotJson(json.dump(), Sha256Hex(kToken)).error().code ==
        ErrorCode::kPermissionDenied);
  json["sha256"] = std::string(64, '0');
  CHECK(ParseSnapshotJson(json.dump(), Sha256Hex(kToken)).error().code == ErrorCode::kDataLoss);

  CHECK(ParseSnapshotJson("not json", Sha256Hex(kToken)).error().code ==
        ErrorCode::kInvalidArgument);
  auto wrong_format = nlohmann::json::parse(text);
  wrong_format["format"] = "dozor.snapshot/v9";
  CHECK(ParseSnapshotJson(wrong_format.dump(), Sha256Hex(kToken)).error().code ==
        ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace dozor
