#include "dozor/contract/snapshot_file.hpp"

#include <array>
#include <nlohmann/json.hpp>

#include "dozor/common/crypto.hpp"
#include "dozor/common/text.hpp"

namespace dozor {
namespace {

constexpr size_t kMaxTextFieldBytes = 512;
constexpr size_t kMaxHintBytes = 64;

constexpr std::array<std::string_view, 10> kSnapshotKeys = {
    "format",     "created_at_ms", "agent_version",  "hostname", "machine_id",
    "token_hint", "payload",       "health_payload", "sha256",   "hmac_sha256"};

Error Invalid(const std::string& message) {
  return MakeError(ErrorCode::kInvalidArgument, "snapshot file: " + message);
}

bool IsLowerHex64(std::string_view text) {
  if (text.size() != 64) {
    return false;
  }
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

// A string field: "" when absent or null (an error when `required`), an error for another type
// or for more than `max_bytes`.
Result<std::string> StringField(const nlohmann::json& file, std::string_view key, bool required,
                                size_t max_bytes) {
  const auto it = file.find(key);
  if (it == file.end() || it->is_null()) {
    if (required) {
      return Invalid("\"" + std::string(key) + "\" is missing");
    }
    return std::string();
  }
  if (!it->is_string()) {
    return Invalid("\"" + std::string(key) + "\" must be a string");
  }
  std::string value = it->get<std::string>();
  if (value.size() > max_bytes) {
    return Invalid("\"" + std::string(key) + "\" is longer than " + std::to_string(max_bytes) +
                   " bytes");
  }
  return value;
}

void AppendSigned(std::string& out, std::string_view field) {
  uint64_t size = field.size();
  char length[8];
  for (int i = 7; i >= 0; --i) {
    length[i] = static_cast<char>(size & 0xff);
    size >>= 8;
  }
  out.append(length, sizeof(length));
  out.append(field);
}

Error TooLarge() {
  return MakeError(
      ErrorCode::kResourceExhausted,
      "snapshot file: larger than " + std::to_string(kMaxSnapshotFileBytes) + " bytes");
}

}  // namespace

std::string SnapshotEnvelope::SignedBytes() const {
  const std::string created = std::to_string(created_at_ms);
  std::string out;
  out.reserve(8 * 8 + format.size() + created.size() + agent_version.size() + hostname.size() +
              machine_id.size() + token_hint.size() + payload.size() + health_payload.size());
  for (const std::string_view field :
       {std::string_view(format), std::string_view(created), std::string_view(agent_version),
        std::string_view(hostname), std::string_view(machine_id), std::string_view(token_hint),
        std::string_view(payload), std::string_view(health_payload)}) {
    AppendSigned(out, field);
  }
  return out;
}

Result<std::string> SnapshotImportKey(std::string_view token) {
  if (token.empty()) {
    return Invalid("the enrollment token is empty");
  }
  return HkdfSha256(token, "", kSnapshotKeyLabel, kSnapshotImportKeyBytes);
}

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
  DOZOR_ASSIGN_OR_RETURN(const std::string key, SnapshotImportKey(token));
  // The envelope a reader will parse back, so the bytes signed here are the bytes verified there.
  SnapshotEnvelope envelope;
  envelope.format = std::string(kSnapshotFormat);
  envelope.created_at_ms = contents.created_at_ms;
  envelope.agent_version = EscapeInvalidUtf8(contents.agent_version);
  envelope.hostname = EscapeInvalidUtf8(contents.hostname);
  envelope.machine_id = EscapeInvalidUtf8(contents.machine_id);
  envelope.token_hint = EscapeInvalidUtf8(token.substr(0, kSnapshotTokenHintLength));
  envelope.payload = std::move(payload);
  envelope.health_payload = std::move(health_payload);
  const std::string signed_bytes = envelope.SignedBytes();
  nlohmann::ordered_json json;
  json["format"] = envelope.format;
  json["created_at_ms"] = envelope.created_at_ms;
  json["agent_version"] = envelope.agent_version;
  json["hostname"] = envelope.hostname;
  json["machine_id"] = envelope.machine_id;
  json["token_hint"] = envelope.token_hint;
  json["payload"] = Base64Encode(envelope.payload);
  if (contents.health_report) {
    json["health_payload"] = Base64Encode(envelope.health_payload);
  }
  json["sha256"] = Sha256Hex(signed_bytes);
  json["hmac_sha256"] = HmacSha256Hex(key, signed_bytes);
  // Package names inside the payloads are bytes (base64); every text field is valid UTF-8 by now,
  // so `replace` never changes a signed field: it only keeps dump() from throwing.
  std::string text = json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (text.size() > kMaxSnapshotFileBytes) {
    return TooLarge();  // the server would refuse it: fail where the operator can see why
  }
  return text;
}

Result<SnapshotEnvelope> ParseSnapshotEnvelope(std::string_view text) {
  if (text.size() > kMaxSnapshotFileBytes) {
    return TooLarge();
  }
  const auto file = nlohmann::json::parse(text, nullptr, false);
  if (file.is_discarded() || !file.is_object()) {
    return Invalid("not a JSON object");
  }
  for (const auto& item : file.items()) {
    const std::string& key = item.key();
    bool known = false;
    for (const auto& allowed : kSnapshotKeys) {
      known = known || key == allowed;
    }
    if (!known) {
      return Invalid("unknown field \"" + key.substr(0, 64) + "\"");
    }
  }
  DOZOR_ASSIGN_OR_RETURN(std::string format, StringField(file, "format", true, 64));
  if (format == kSnapshotFormatV1) {
    return Invalid(
        "format \"" + std::string(kSnapshotFormatV1) +
        "\" is no longer accepted: its signature did not cover the host name and machine id and "
        "could be made from a copy of the server's database. Collect the machine again with a "
        "current dozor-agent and an enrollment token issued by a current dozor-server");
  }
  if (format != kSnapshotFormat) {
    return Invalid("format is \"" + format + "\", expected \"" + std::string(kSnapshotFormat) +
                   "\"");
  }
  const auto created = file.find("created_at_ms");
  if (created == file.end() || !created->is_number_integer()) {
    return Invalid("\"created_at_ms\" must be an integer");
  }
  SnapshotEnvelope out;
  out.format = std::move(format);
  out.created_at_ms = created->get<int64_t>();
  DOZOR_ASSIGN_OR_RETURN(out.agent_version,
                         StringField(file, "agent_version", false, kMaxTextFieldBytes));
  DOZOR_ASSIGN_OR_RETURN(out.hostname, StringField(file, "hostname", true, kMaxTextFieldBytes));
  DOZOR_ASSIGN_OR_RETURN(out.machine_id,
                         StringField(file, "machine_id", false, kMaxTextFieldBytes));
  DOZOR_ASSIGN_OR_RETURN(out.token_hint, StringField(file, "token_hint", true, kMaxHintBytes));
  if (out.token_hint.empty()) {
    return Invalid("\"token_hint\" is empty");
  }
  DOZOR_ASSIGN_OR_RETURN(out.sha256, StringField(file, "sha256", true, 64));
  DOZOR_ASSIGN_OR_RETURN(out.hmac_sha256, StringField(file, "hmac_sha256", true, 64));
  if (!IsLowerHex64(out.sha256) || !IsLowerHex64(out.hmac_sha256)) {
    return Invalid("\"sha256\" and \"hmac_sha256\" must be 64 lower-case hex characters");
  }
  DOZOR_ASSIGN_OR_RETURN(std::string payload_b64,
                         StringField(file, "payload", true, kMaxSnapshotFileBytes));
  DOZOR_ASSIGN_OR_RETURN(std::string health_b64,
                         StringField(file, "health_payload", false, kMaxSnapshotFileBytes));
  auto payload = Base64Decode(payload_b64);
  if (!payload.ok()) {
    return Invalid("\"payload\" is not valid base64");
  }
  if (payload->empty()) {
    return Invalid("\"payload\" is empty");
  }
  auto health = Base64Decode(health_b64);
  if (!health.ok()) {
    return Invalid("\"health_payload\" is not valid base64");
  }
  out.payload = std::move(payload).value();
  out.health_payload = std::move(health).value();
  if (!ConstantTimeEquals(Sha256Hex(out.SignedBytes()), out.sha256)) {
    return MakeError(ErrorCode::kDataLoss,
                     "snapshot file: the file was modified after collection: its content does not "
                     "match its sha256");
  }
  return out;
}

bool SnapshotSignedBy(const SnapshotEnvelope& envelope, std::string_view import_key) {
  return ConstantTimeEquals(HmacSha256Hex(import_key, envelope.SignedBytes()),
                            envelope.hmac_sha256);
}

Result<SnapshotContents> DecodeSnapshotReports(const SnapshotEnvelope& envelope) {
  SnapshotContents contents;
  contents.created_at_ms = envelope.created_at_ms;
  contents.agent_version = envelope.agent_version;
  contents.hostname = envelope.hostname;
  contents.machine_id = envelope.machine_id;
  if (!contents.inventory_report.ParseFromString(envelope.payload)) {
    return Invalid("\"payload\" is not a dozor.v1.Report");
  }
  if (!contents.inventory_report.has_inventory()) {
    return Invalid("\"payload\" must carry an inventory");
  }
  if (!envelope.health_payload.empty()) {
    dozor::v1::Report health;
    if (!health.ParseFromString(envelope.health_payload)) {
      return Invalid("\"health_payload\" is not a dozor.v1.Report");
    }
    if (!health.has_health()) {
      return Invalid("\"health_payload\" must carry a health sample");
    }
    contents.health_report = std::move(health);
  }
  return contents;
}

Result<SnapshotContents> ParseSnapshotJson(std::string_view json, std::string_view import_key) {
  DOZOR_ASSIGN_OR_RETURN(SnapshotEnvelope envelope, ParseSnapshotEnvelope(json));
  if (!SnapshotSignedBy(envelope, import_key)) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "snapshot file: hmac_sha256 does not match (modified, or another token)");
  }
  return DecodeSnapshotReports(envelope);
}

}  // namespace dozor
