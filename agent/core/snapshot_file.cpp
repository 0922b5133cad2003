#include "core/snapshot_file.hpp"

#include <array>
#include <nlohmann/json.hpp>

#include "dozor/common/crypto.hpp"

namespace dozor::agent {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

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

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    const uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out += "==";
  } else if (rest == 2) {
    const uint32_t n =
        (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return Invalid("base64 length is not a multiple of 4");
  }
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::array<int, 4> values{};
    int padding = 0;
    for (size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=' && last && j >= 2) {
        values[j] = 0;
        ++padding;
        continue;
      }
      if (padding > 0) {
        return Invalid("base64 has data after padding");
      }
      values[j] = DecodeChar(c);
      if (values[j] < 0) {
        return Invalid("invalid base64 character");
      }
    }
    const uint32_t n = (static_cast<uint32_t>(values[0]) << 18) |
                       (static_cast<uint32_t>(values[1]) << 12) |
                       (static_cast<uint32_t>(values[2]) << 6) | static_cast<uint32_t>(values[3]);
    // Canonical form only: the bits dropped by padding must be zero.
    if ((padding == 1 && (n & 0xff) != 0) || (padding == 2 && (n & 0xffff) != 0)) {
      return Invalid("base64 padding is not canonical");
    }
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    if (padding < 2) {
      out.push_back(static_cast<char>((n >> 8) & 0xff));
    }
    if (padding < 1) {
      out.push_back(static_cast<char>(n & 0xff));
    }
  }
  return out;
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
  DOZOR_ASSIGN_OR_RETURN(std::string payload, Base64Decode(payload_text));
  DOZOR_ASSIGN_OR_RETURN(std::string health_payload, Base64Decode(health_text));
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
