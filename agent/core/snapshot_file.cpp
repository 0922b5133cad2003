#include "core/snapshot_file.hpp"

#include <nlohmann/json.hpp>

#include "dozor/common/crypto.hpp"

namespace dozor::agent {
namespace {

Error Invalid(const std::string& message) {
  return MakeError(ErrorCode::kInvalidArgument, "snapshot file: " + message);
}

// A string field of the object, "" when absent; error when present with another type.
Result<std::string> StringField(const nlohmann::json& json, const char* key, bool required) {
  auto found = json.find(key);
  if (found == json.end()) {
    if (required) {
      return Invalid(std::string("missing \"") + key + "\"");
    }
    return std::string();
  }
  if (!found->is_string()) {
    return Invalid(std::string("\"") + key + "\" must be a string");
  }
  return found->get<std::string>();
}

}  // namespace

Result<std::string> BuildSnapshotJson(const SnapshotContents& contents, std::string_view token) {
  if (token.empty()) {
    return Invalid("the enrollment token is empty");
  }
  if (!contents.inventory_report.has_inventory()) {
    return Invalid("the report has no inventory");
  }
  std::string payload;
  if (!contents.inventory_report.SerializeToString(&payload)) {
    return MakeError(ErrorCode::kInternal, "cannot serialize the inventory report");
  }
  std::string health_payload;
  if (contents.health_report && !contents.health_report->SerializeToString(&health_payload)) {
    return MakeError(ErrorCode::kInternal, "cannot serialize the health report");
  }
  const std::string signed_bytes = payload + health_payload;
  // The server keeps only Sha256Hex(token); keying with it lets the server verify the file.
  const std::string key = Sha256Hex(token);
  nlohmann::ordered_json json;
  json["format"] = kSnapshotFormat;
  json["created_at_ms"] = contents.created_at_ms;
  json["agent_version"] = contents.agent_version;
  json["hostname"] = contents.hostname;
  json["machine_id"] = contents.machine_id;
  json["token_hint"] = std::string(token.substr(0, kSnapshotTokenHintLength));
  json["payload"] = Base64Encode(payload);
  if (contents.health_report) {
    json["health_payload"] = Base64Encode(health_payload);
  }
  json["sha256"] = Sha256Hex(signed_bytes);
  json["hmac_sha256"] = HmacSha256Hex(key, signed_bytes);
  // Host names and package names come from the machine: replace invalid UTF-8 rather than throw.
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<SnapshotContents> ParseSnapshotJson(std::string_view text, std::string_view token_hash) {
  if (text.size() > kMaxSnapshotFileBytes) {
    return Invalid("larger than " + std::to_string(kMaxSnapshotFileBytes) + " bytes");
  }
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return Invalid("not a JSON object");
  }
  DOZOR_ASSIGN_OR_RETURN(std::string format, StringField(json, "format", true));
  if (format != kSnapshotFormat) {
    return Invalid("unknown format \"" + format + "\" (expected " + std::string(kSnapshotFormat) +
                   ")");
  }
  SnapshotContents contents;
  auto created = json.find("created_at_ms");
  if (created == json.end() || !created->is_number_integer()) {
    return Invalid("\"created_at_ms\" must be an integer");
  }
  contents.created_at_ms = created->get<int64_t>();
  DOZOR_ASSIGN_OR_RETURN(contents.agent_version, StringField(json, "agent_version", true));
  DOZOR_ASSIGN_OR_RETURN(contents.hostname, StringField(json, "hostname", true));
  DOZOR_ASSIGN_OR_RETURN(contents.machine_id, StringField(json, "machine_id", false));
  DOZOR_ASSIGN_OR_RETURN(std::string payload_text, StringField(json, "payload", true));
  DOZOR_ASSIGN_OR_RETURN(std::string health_text, StringField(json, "health_payload", false));
  DOZOR_ASSIGN_OR_RETURN(std::string sha256, StringField(json, "sha256", true));
  DOZOR_ASSIGN_OR_RETURN(std::string hmac, StringField(json, "hmac_sha256", true));
  auto decoded_payload = Base64Decode(payload_text);
  if (!decoded_payload.ok()) {
    return decoded_payload.error().Wrap("snapshot file: \"payload\"");
  }
  auto decoded_health = Base64Decode(health_text);
  if (!decoded_health.ok()) {
    return decoded_health.error().Wrap("snapshot file: \"health_payload\"");
  }
  const std::string& payload = *decoded_payload;
  const std::string& health_payload = *decoded_health;
  const std::string signed_bytes = payload + health_payload;
  if (!ConstantTimeEquals(Sha256Hex(signed_bytes), sha256)) {
    return MakeError(ErrorCode::kDataLoss, "snapshot file: sha256 does not match (damaged file)");
  }
  if (!ConstantTimeEquals(HmacSha256Hex(token_hash, signed_bytes), hmac)) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "snapshot file: hmac_sha256 does not match (modified, or another token)");
  }
  if (!contents.inventory_report.ParseFromString(payload) ||
      !contents.inventory_report.has_inventory()) {
    return Invalid("payload is not an inventory report");
  }
  if (json.contains("health_payload")) {
    dozor::v1::Report health;
    if (!health.ParseFromString(health_payload) || !health.has_health()) {
      return Invalid("health_payload is not a health report");
    }
    contents.health_report = std::move(health);
  }
  return contents;
}

}  // namespace dozor::agent
