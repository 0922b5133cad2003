// POST /api/v1/orgs/{org}/imports through ApiService over a real SQLite store: a snapshot file
// (format dozor.snapshot/v2, as `dozor-agent collect` writes it) is imported once, and every
// kind of damaged, foreign, forged or malformed file is refused with nothing stored; a copy of
// the database is not enough to forge one.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dozor/common/base64.hpp"
#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "dozor/common/sqlite.hpp"
#include "dozor/contract/snapshot_file.hpp"
#include "http/api_service.hpp"
#include "http/auth.hpp"
#include "http/handlers.hpp"
#include "server/test_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

dozor::v1::Report InventoryReport(const std::string& machine_id, const std::string& kernel,
                                  int64_t at_ms) {
  dozor::v1::Report report;
  report.set_seq(1);
  report.set_collected_at_ms(at_ms);
  report.set_agent_version("0.4.0");
  auto* os = report.mutable_inventory()->mutable_os();
  os->set_hostname("legacy1");
  os->set_machine_id(machine_id);
  os->set_pretty_name("Debian GNU/Linux 11 (bullseye)");
  os->set_kernel(kernel);
  auto* collector = report.add_collectors();
  collector->set_name("os");
  collector->set_ok(true);
  return report;
}

dozor::v1::Report HealthReport(int64_t at_ms) {
  dozor::v1::Report report;
  report.set_seq(1);
  report.set_collected_at_ms(at_ms);
  report.mutable_health()->set_cpu_percent(12.5);
  return report;
}

struct FileNames {
  std::string hostname = "legacy1";
  std::string machine_id = "m-1";
};

// The digests of a file as the format defines them (SnapshotEnvelope::SignedBytes), with `key`.
void Sign(nlohmann::json& file, std::string_view key) {
  SnapshotEnvelope envelope;
  envelope.format = file["format"].get<std::string>();
  envelope.created_at_ms = file["created_at_ms"].get<int64_t>();
  envelope.agent_version = file["agent_version"].get<std::string>();
  envelope.hostname = file["hostname"].get<std::string>();
  envelope.machine_id = file["machine_id"].get<std::string>();
  envelope.token_hint = file["token_hint"].get<std::string>();
  envelope.payload = *Base64Decode(file["payload"].get<std::string>());
  if (file.contains("health_payload")) {
    envelope.health_payload = *Base64Decode(file["health_payload"].get<std::string>());
  }
  const std::string signed_bytes = envelope.SignedBytes();
  file["sha256"] = Sha256Hex(signed_bytes);
  file["hmac_sha256"] = HmacSha256Hex(key, signed_bytes);
}

// Signs every field like `dozor-agent collect` does (key: SnapshotImportKey(token)).
nlohmann::json SignedFile(const std::string& token, const std::string& payload,
                          const std::string& health, const FileNames& names = {}) {
  nlohmann::json file = {
      {"format", "dozor.snapshot/v2"},   {"created_at_ms", kNow - 60000},
      {"agent_version", "0.4.0"},        {"hostname", names.hostname},
      {"machine_id", names.machine_id},  {"token_hint", token.substr(0, kTokenHintLength)},
      {"payload", Base64Encode(payload)}};
  if (!health.empty()) {
    file["health_payload"] = Base64Encode(health);
  }
  Sign(file, *SnapshotImportKey(token));
  return file;
}

nlohmann::json SnapshotFile(const std::string& token, const std::string& kernel = "5.10.0-21",
                            int64_t at_ms = kNow - 3600000) {
  return SignedFile(token, InventoryReport("m-1", kernel, at_ms).SerializeAsString(),
                    HealthReport(at_ms + 1000).SerializeAsString());
}

struct ImportsApiFixture {
  ImportsApiFixture() {
    store = dozor::testing::OpenTestStore(dir);
    REQUIRE(store
                ->CreateApiToken("alice", ApiRole::kOperator, Sha256Hex("dza_op"), "dza_op",
                                 std::nullopt)
                .ok());
    REQUIRE(store
                ->CreateApiToken("bob", ApiRole::kViewer, Sha256Hex("dza_view"), "dza_view",
                                 std::nullopt)
                .ok());
    api = std::make_unique<ApiService>(
        ApiContext{.store = *store, .clock = clock, .import_keys = &import_keys});
    for (const char* name : {"Acme", "Other"}) {
      REQUIRE(Call("POST", "/api/v1/orgs", nlohmann::json{{"name", name}}.dump()).status == 201);
    }
    token = NewToken("Acme");
  }

  // A real enrollment token of the organisation, created through the API.
  std::string NewToken(const std::string& org) {
    auto created = Call("POST", "/api/v1/orgs/" + org + "/tokens", "{}");
    REQUIRE(created.status == 201);
    return created.body["token"].get<std::string>();
  }

  ApiResponse Call(std::string method, std::string path, std::string body = "",
                   std::string api_token = "dza_op") {
    ApiRequest request;
    request.method = std::move(method);
    const size_t question = path.find('?');
    request.path = path.substr(0, question);
    if (question != std::string::npos) {
      auto query = ParseQuery(path.substr(question + 1));
      REQUIRE(query.ok());
      request.query = std::move(query).value();
    }
    request.body = std::move(body);
    request.client_address = client_address;
    if (!api_token.empty()) {
      request.authorization = "Bearer " + api_token;
    }
    return api->Handle(request);
  }

  ApiResponse Import(const nlohmann::json& file, const std::string& org = "Acme",
                     const std::string& api_token = "dza_op") {
    return Call("POST", "/api/v1/orgs/" + org + "/imports", file.dump(), api_token);
  }

  size_t HostCount() {
    auto hosts = store->ListHosts(std::nullopt);
    REQUIRE(hosts.ok());
    return hosts->size();
  }

  size_t ImportCount(const std::string& org = "Acme") {
    auto listed = Call("GET", "/api/v1/orgs/" + org + "/imports");
    REQUIRE(listed.status == 200);
    return listed.body["imports"].size();
  }

  std::string Message(const ApiResponse& response) {
    return response.body["error"]["message"].get<std::string>();
  }

  dozor::testing::TempDir dir;
  FakeClock clock{kNow};
  // The server's import wrapping key: in the real server a file beside the database.
  ImportKeyWrapper import_keys = *ImportKeyWrapper::FromServerKey(std::string(32, 's'));
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<ApiService> api;
  std::string token;
  std::string client_address;  // empty: failed authentications are not counted
};

TEST_CASE("imports api: a valid snapshot file becomes a snapshot host, once") {
  ImportsApiFixture f;
  const nlohmann::json file = SnapshotFile(f.token);
  auto imported = f.Import(file);
  REQUIRE_MESSAGE(imported.status == 201, imported.body.dump());
  CHECK(imported.body["duplicate"] == false);
  CHECK(imported.body["org"] == "Acme");
  CHECK(imported.body["import"]["outcome"] == "created");
  CHECK(imported.body["import"]["hostname"] == "legacy1");
  CHECK(imported.body["import"]["machine_id"] == "m-1");
  CHECK(imported.body["import"]["actor"] == "alice");
  CHECK(imported.body["import"]["sha256"] == file["sha256"]);
  const std::string agent_id = imported.body["host"]["agent_id"];
  CHECK(agent_id.rfind("snap-", 0) == 0);

  auto hosts = f.Call("GET", "/api/v1/hosts?org=Acme", "", "dza_view");
  REQUIRE(hosts.status == 200);
  REQUIRE(hosts.body["hosts"].size() == 1);
  CHECK(hosts.body["hosts"][0]["agent_id"] == agent_id);
  CHECK(hosts.body["hosts"][0]["source"] == "import");
  CHECK(hosts.body["hosts"][0]["duties"] == nlohmann::json::array());  // a plain server
  CHECK(hosts.body["hosts"][0]["online"] == false);  // collected a minute ago, still a snapshot
  auto inventory = f.Call("GET", "/api/v1/hosts/" + agent_id + "/inventory");
  REQUIRE(inventory.status == 200);
  CHECK(inventory.body["inventory"]["os"]["kernel"] == "5.10.0-21");
  auto health = f.Call("GET", "/api/v1/hosts/" + agent_id + "/health");
  REQUIRE(health.status == 200);
  CHECK(health.body["samples"].size() == 1);

  auto again = f.Import(file);
  REQUIRE(again.status == 200);
  CHECK(again.body["duplicate"] == true);
  CHECK(again.body["import"]["id"] == imported.body["import"]["id"]);
  CHECK(f.HostCount() == 1);
  CHECK(f.ImportCount() == 1);

  auto newer = f.Import(SnapshotFile(f.token, "5.10.0-26", kNow - 60000));
  REQUIRE(newer.status == 201);
  CHECK(newer.body["import"]["outcome"] == "updated");
  CHECK(newer.body["host"]["agent_id"] == agent_id);
  CHECK(f.HostCount() == 1);
  CHECK(f.ImportCount() == 2);
}

TEST_CASE("imports api: a payload changed after collection is refused as modified") {
  ImportsApiFixture f;
  nlohmann::json file = SnapshotFile(f.token);
  std::string payload = InventoryReport("m-1", "5.10.0-21", kNow - 3600000).SerializeAsString();
  payload[payload.size() / 2] ^= 0x01;
  file["payload"] = Base64Encode(payload);
  auto refused = f.Import(file);
  CHECK(refused.status == 400);
  CHECK(f.Message(refused).find("modified after collection") != std::string::npos);

  // Recomputing the plain sha256 is not enough: the HMAC needs the token.
  const std::string genuine_hmac = file["hmac_sha256"];
  Sign(file, "no key");
  file["hmac_sha256"] = genuine_hmac;
  auto forged = f.Import(file);
  CHECK(forged.status == 403);
  CHECK(f.Message(forged).find("no enrollment token of this organisation matches") !=
        std::string::npos);

  // The copies of the names beside the inventory must agree with it, even when signed.
  nlohmann::json renamed =
      SignedFile(f.token, InventoryReport("m-1", "5.10.0-21", kNow - 3600000).SerializeAsString(),
                 HealthReport(kNow - 3600000 + 1000).SerializeAsString(),
                 FileNames{.machine_id = "someone-else"});
  auto mismatch = f.Import(renamed);
  CHECK(mismatch.status == 400);
  CHECK(f.Message(mismatch).find("machine_id") != std::string::npos);
  CHECK(f.HostCount() == 0);
  CHECK(f.ImportCount() == 0);
}

TEST_CASE("imports api: files of another organisation's or a revoked token are refused") {
  ImportsApiFixture f;
  const std::string other_token = f.NewToken("Other");
  auto foreign = f.Import(SnapshotFile(other_token), "Acme");
  CHECK(foreign.status == 403);
  CHECK(f.Message(foreign).find("no enrollment token of this organisation matches") !=
        std::string::npos);
  // A token with the same hint but another secret does not verify either.
  std::string lookalike = f.token;
  lookalike.back() = lookalike.back() == '0' ? '1' : '0';
  CHECK(f.Import(SnapshotFile(lookalike)).status == 403);

  auto tokens = f.store->ListEnrollmentTokens(std::nullopt);
  REQUIRE(tokens.ok());
  for (const auto& token : *tokens) {
    if (token.org_name == "Acme") {
      REQUIRE(f.store->RevokeEnrollmentToken(token.id, kNow).ok());
    }
  }
  CHECK(f.Import(SnapshotFile(f.token)).status == 403);
  CHECK(f.HostCount() == 0);
  CHECK(f.ImportCount("Acme") == 0);
  CHECK(f.ImportCount("Other") == 0);
  CHECK(f.Import(SnapshotFile(other_token), "Other").status == 201);
  CHECK(f.Import(SnapshotFile(other_token), "nope").status == 404);
}

TEST_CASE("imports api: refused imports and failed API authentications are security events") {
  ImportsApiFixture f;
  SecurityAudit audit(f.store->SecurityEvents(), f.clock);
  f.api = std::make_unique<ApiService>(ApiContext{
      .store = *f.store, .clock = f.clock, .import_keys = &f.import_keys, .audit = &audit});
  f.client_address = "192.0.2.7";
  const std::string other_token = f.NewToken("Other");
  CHECK(f.Import(SnapshotFile(other_token), "Acme").status == 403);
  CHECK(f.Import(SnapshotFile(other_token), "Acme").status == 403);
  CHECK(f.Call("GET", "/api/v1/orgs", "", "dza_not_a_real_token").status == 401);
  // Accepted work is no event.
  CHECK(f.Import(SnapshotFile(f.token), "Acme").status == 201);
  REQUIRE(audit.Flush().ok());

  auto events = f.store->SecurityEvents().ListSecurityEvents({.limit = 100});
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  int64_t refused_imports = 0;
  int64_t failed_logins = 0;
  for (const SecurityEvent& event : *events) {
    CAPTURE(event.subject);
    CHECK(event.source == "192.0.2.7");
    if (event.kind == SecurityEventKind::kImportRefused) {
      refused_imports += event.count;
      CHECK(event.subject.find("org ") != std::string::npos);
      CHECK(event.detail.find("no enrollment token of this organisation matches") !=
            std::string::npos);
    } else if (event.kind == SecurityEventKind::kApiAuthFailed) {
      failed_logins += event.count;
      CHECK(event.subject == "dza_not_a_re");  // the hint only, never the whole credential
    }
  }
  CHECK(refused_imports == 2);
  CHECK(failed_logins == 1);
}

TEST_CASE("imports api: a file collected with a since expired token is still accepted") {
  ImportsApiFixture f;
  const std::string token = "dze_" + std::string(64, 'a');
  auto org = f.store->FindOrganization("Acme");
  REQUIRE(org.ok());
  NewEnrollmentToken expired;
  expired.org_id = org->id;
  expired.token_hash = Sha256Hex(token);
  expired.hint = token.substr(0, kTokenHintLength);
  expired.expires_at_ms = kNow - 1000;
  auto created = f.store->CreateEnrollmentToken(expired);
  REQUIRE(created.ok());
  REQUIRE(
      SaveImportKeyForNewToken(*f.store, f.import_keys, {org->id, created->id}, token, kNow - 2000)
          .ok());
  auto imported = f.Import(SnapshotFile(token));
  CHECK(imported.status == 201);
  CHECK(f.HostCount() == 1);
}

TEST_CASE("imports api: garbage, bad encodings and broken reports are 400 and store nothing") {
  ImportsApiFixture f;
  const nlohmann::json good = SnapshotFile(f.token);
  auto refuse = [&](const std::string& body, const std::string& expected) {
    CAPTURE(body.substr(0, 200));
    auto response = f.Call("POST", "/api/v1/orgs/Acme/imports", body);
    CHECK(response.status == 400);
    if (response.status == 400) {
      CHECK_MESSAGE(f.Message(response).find(expected) != std::string::npos, f.Message(response));
    }
  };
  refuse("", "not a JSON object");
  refuse("this is not json", "not a JSON object");
  refuse("[1, 2]", "not a JSON object");
  auto with = [&](const std::string& key, const nlohmann::json& value) {
    nlohmann::json file = good;
    if (value.is_discarded()) {
      file.erase(key);
    } else {
      file[key] = value;
    }
    return file.dump();
  };
  const nlohmann::json erase = nlohmann::json(nlohmann::json::value_t::discarded);
  refuse(with("format", "dozor.snapshot/v9"), "format");
  refuse(with("format", "dozor.snapshot/v1"), "no longer accepted");
  refuse(with("format", erase), "\"format\" is missing");
  refuse(with("payload", erase), "\"payload\" is missing");
  refuse(with("payload", 42), "\"payload\" must be a string");
  refuse(with("payload", "@@@@"), "not valid base64");
  refuse(with("payload", "QUJD\nREVG"), "not valid base64");
  refuse(with("payload", "QUJ"), "not valid base64");
  refuse(with("payload", "QR=="), "not valid base64");  // stray bits under the padding
  refuse(with("payload", ""), "\"payload\" is empty");
  refuse(with("health_payload", "!!"), "not valid base64");
  refuse(with("sha256", "ABC"), "64 lower-case hex");
  refuse(with("hmac_sha256", std::string(64, 'G')), "64 lower-case hex");
  refuse(with("token_hint", ""), "\"token_hint\" is empty");
  refuse(with("created_at_ms", "yesterday"), "created_at_ms");
  refuse(with("extra", true), "unknown field \"extra\"");
  refuse(with("hostname", std::string(600, 'h')), "longer than 512");

  // Correctly signed, but not what a snapshot must carry.
  refuse(SignedFile(f.token, "\xff\xff\xff not protobuf", "").dump(), "not a dozor.v1.Report");
  refuse(SignedFile(f.token, HealthReport(kNow).SerializeAsString(), "").dump(),
         "must carry an inventory");
  refuse(SignedFile(f.token, InventoryReport("m-1", "k", kNow).SerializeAsString(),
                    InventoryReport("m-1", "k", kNow).SerializeAsString())
             .dump(),
         "must carry a health sample");
  // Checked exactly like a live agent's report: a clock two days ahead, invalid UTF-8.
  refuse(SignedFile(f.token, InventoryReport("m-1", "k", kNow + 2 * 86400000LL).SerializeAsString(),
                    "")
             .dump(),
         "collected_at_ms");
  refuse(
      SignedFile(f.token, InventoryReport("m-1", "bad\xc3", kNow).SerializeAsString(), "").dump(),
      "payload");  // proto3 parsing itself refuses invalid UTF-8 strings
  nlohmann::json no_machine_id = SignedFile(
      f.token, InventoryReport("", "k", kNow).SerializeAsString(), "", FileNames{.machine_id = ""});
  refuse(no_machine_id.dump(), "no machine id");
  CHECK(f.HostCount() == 0);
  CHECK(f.ImportCount() == 0);
}

TEST_CASE("imports api: oversize files are 413, viewers and strangers may not import") {
  ImportsApiFixture f;
  std::string huge(kMaxSnapshotFileBytes + 1, ' ');
  auto too_large = f.Call("POST", "/api/v1/orgs/Acme/imports", huge);
  CHECK(too_large.status == 413);
  huge.clear();
  huge.shrink_to_fit();

  auto viewer = f.Import(SnapshotFile(f.token), "Acme", "dza_view");
  CHECK(viewer.status == 403);
  auto anonymous = f.Import(SnapshotFile(f.token), "Acme", "");
  CHECK(anonymous.status == 401);
  CHECK(f.HostCount() == 0);
  CHECK(f.Call("GET", "/api/v1/orgs/Acme/imports", "", "dza_view").status == 200);
  CHECK(f.ImportCount() == 0);
}

TEST_CASE("imports api: names and times changed in a signed file are refused") {
  ImportsApiFixture f;
  for (const auto& [field, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"hostname", "evil-1"}, {"machine_id", "m-2"}, {"created_at_ms", kNow - 1000}}) {
    CAPTURE(field);
    nlohmann::json file = SnapshotFile(f.token);
    file[field] = value;
    auto modified = f.Import(file);
    CHECK(modified.status == 400);
    CHECK(f.Message(modified).find("modified after collection") != std::string::npos);
    // A forger recomputes the sha256 and keeps the genuine HMAC: the key is still missing.
    Sign(file, "no key");
    file["hmac_sha256"] = SnapshotFile(f.token)["hmac_sha256"];
    auto forged = f.Import(file);
    CHECK(forged.status == 403);
  }
  CHECK(f.HostCount() == 0);
  CHECK(f.ImportCount() == 0);
}

// Everything a backup of the database offers, read from the database file itself.
struct DatabaseCopy {
  std::string token_hash;
  std::string wrapped_key;
};

DatabaseCopy ReadDatabaseCopy(const std::filesystem::path& db_path, const std::string& token) {
  auto db = sqlite::Database::Open(db_path.string());
  REQUIRE(db.ok());
  auto query = db->Prepare(
      "SELECT t.token_hash, k.wrapped_key FROM enrollment_tokens t "
      "JOIN enrollment_token_import_keys k ON k.token_id = t.id WHERE t.hint = ?");
  REQUIRE(query.ok());
  REQUIRE(query->Bind(1, token.substr(0, kTokenHintLength)).Step().value());
  return {query->Text(0), query->Text(1)};
}

TEST_CASE("imports api: a file forged with only the database's contents is refused") {
  ImportsApiFixture f;
  const DatabaseCopy copy = ReadDatabaseCopy(f.dir / "dozor.db", f.token);
  CHECK(copy.token_hash == Sha256Hex(f.token));
  CHECK(copy.wrapped_key.rfind("v1:", 0) == 0);
  const std::string import_key = *SnapshotImportKey(f.token);
  CHECK(copy.wrapped_key.find(HexEncode(import_key)) == std::string::npos);

  // A machine that never existed, signed with every key the copy could offer.
  const std::string payload =
      InventoryReport("m-forged", "6.1.0", kNow - 3600000).SerializeAsString();
  for (const std::string& key : {copy.token_hash, *HexDecode(copy.token_hash), copy.wrapped_key,
                                 Sha256Hex(copy.wrapped_key)}) {
    nlohmann::json forged = SignedFile(f.token, payload, "", FileNames{"ghost", "m-forged"});
    Sign(forged, key);
    auto refused = f.Import(forged);
    CHECK(refused.status == 403);
    CHECK(f.Message(refused).find("no enrollment token of this organisation matches") !=
          std::string::npos);
  }
  // The old format, signed the old way with the stored hash, is refused outright.
  nlohmann::json v1 = {{"format", "dozor.snapshot/v1"},
                       {"created_at_ms", kNow - 60000},
                       {"agent_version", "0.4.0"},
                       {"hostname", "ghost"},
                       {"machine_id", "m-forged"},
                       {"token_hint", f.token.substr(0, kTokenHintLength)},
                       {"payload", Base64Encode(payload)},
                       {"sha256", Sha256Hex(payload)},
                       {"hmac_sha256", HmacSha256Hex(copy.token_hash, payload)}};
  auto old_format = f.Import(v1);
  CHECK(old_format.status == 400);
  CHECK(f.Message(old_format).find("no longer accepted") != std::string::npos);
  CHECK(f.HostCount() == 0);
  CHECK(f.ImportCount() == 0);

  // The genuine file of the same token imports.
  auto genuine = f.Import(SnapshotFile(f.token));
  CHECK(genuine.status == 201);
  CHECK(f.HostCount() == 1);
}

TEST_CASE("imports api: a token issued before signed imports gets a clear refusal") {
  ImportsApiFixture f;
  const std::string token = "dze_" + std::string(64, 'b');
  auto org = f.store->FindOrganization("Acme");
  REQUIRE(org.ok());
  NewEnrollmentToken old_token;
  old_token.org_id = org->id;
  old_token.token_hash = Sha256Hex(token);
  old_token.hint = token.substr(0, kTokenHintLength);
  REQUIRE(f.store->CreateEnrollmentToken(old_token).ok());  // as before migration 007: no key
  auto refused = f.Import(SnapshotFile(token));
  CHECK(refused.status == 403);
  CHECK(f.Message(refused).find("issued before signed imports") != std::string::npos);
  CHECK(f.Message(refused).find("dozorctl token create") != std::string::npos);
  CHECK(f.HostCount() == 0);
  // A new token is the remedy.
  CHECK(f.Import(SnapshotFile(f.NewToken("Acme"))).status == 201);
  // The token list says which tokens can sign imports, so nobody hands a prospect an old one.
  auto listed = f.Call("GET", "/api/v1/tokens");
  REQUIRE(listed.status == 200);
  int with_key = 0;
  int without_key = 0;
  for (const auto& listed_token : listed.body["tokens"]) {
    if (listed_token["hint"] == old_token.hint) {
      CHECK(listed_token["signs_imports"] == false);
      ++without_key;
    } else {
      CHECK(listed_token["signs_imports"] == true);
      ++with_key;
    }
  }
  CHECK(without_key == 1);
  CHECK(with_key >= 1);
  auto created = f.Call("POST", "/api/v1/orgs/Acme/tokens", "{}");
  REQUIRE(created.status == 201);
  CHECK(created.body["signs_imports"] == true);
}

TEST_CASE("imports api: a server with another import key cannot verify, and says why") {
  ImportsApiFixture f;
  const nlohmann::json file = SnapshotFile(f.token);
  // The database restored onto a server whose import-wrap.key is not the one the token was
  // issued with (lost, or never copied): its keys stay sealed.
  ImportKeyWrapper other = *ImportKeyWrapper::FromServerKey(std::string(32, 't'));
  ApiService restored(ApiContext{.store = *f.store, .clock = f.clock, .import_keys = &other});
  ApiRequest request;
  request.method = "POST";
  request.path = "/api/v1/orgs/Acme/imports";
  request.body = file.dump();
  request.authorization = "Bearer dza_op";
  auto refused = restored.Handle(request);
  CHECK(refused.status == 403);
  CHECK(f.Message(refused).find("replaced or lost") != std::string::npos);
  CHECK(f.Message(refused).find("dozorctl token create") != std::string::npos);

  ApiService without_key(ApiContext{.store = *f.store, .clock = f.clock});
  CHECK(without_key.Handle(request).status == 503);
  CHECK(f.HostCount() == 0);
  CHECK(f.Import(file).status == 201);  // the server that issued the token still verifies it
}

TEST_CASE("imports api: every token issued through the api gets its own wrapped import key") {
  ImportsApiFixture f;
  const std::string second = f.NewToken("Acme");
  const DatabaseCopy first_copy = ReadDatabaseCopy(f.dir / "dozor.db", f.token);
  const DatabaseCopy second_copy = ReadDatabaseCopy(f.dir / "dozor.db", second);
  CHECK(first_copy.wrapped_key != second_copy.wrapped_key);
  CHECK(f.Import(SnapshotFile(second)).status == 201);
}

}  // namespace
}  // namespace dozor::server::http
