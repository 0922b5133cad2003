// /api/v1/orgs/{org}/imports: one-shot audit files written by `dozor-agent collect` on machines
// without a permanent agent, loaded into the organisation as snapshot hosts.
//
// The file (format "dozor.snapshot/v1") is untrusted input: its shape, encoding and sizes are
// checked strictly, its SHA-256 must match its content, and its HMAC must verify with the key of
// one of this organisation's enrollment tokens (keyed by the stored token hash, so the token
// itself never travels in the file). Only then are the reports parsed, validated exactly like
// ingest validates a live agent's reports, and handed to Store::ImportSnapshot.
#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/common/base64.hpp"
#include "dozor/common/crypto.hpp"
#include "http/auth.hpp"
#include "http/handlers.hpp"
#include "ingest/validate.hpp"

namespace dozor::server::http {

namespace {

constexpr std::string_view kSnapshotFormat = "dozor.snapshot/v1";
constexpr size_t kMaxTextFieldBytes = 512;
constexpr size_t kMaxHintBytes = 64;
constexpr int kDefaultImportList = 100;
constexpr int kMaxImportList = 1000;

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

struct SnapshotFile {
  std::string hostname;
  std::string machine_id;
  std::string agent_version;
  std::string token_hint;
  std::string signed_bytes;  // payload || health_payload, decoded
  std::string sha256;
  std::string hmac;
  dozor::v1::Report inventory;
  std::optional<dozor::v1::Report> health;
};

// Shape, encoding and integrity (sha256) of the file; the reports are only decoded later, once
// the HMAC proved who made it.
Result<SnapshotFile> ParseSnapshotFile(std::string_view body, size_t* payload_size) {
  auto parsed = ParseJsonObject(body);
  if (!parsed.ok()) {
    return Invalid("not a JSON object (" + parsed.error().message + ")");
  }
  const nlohmann::json& file = *parsed;
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
  if (format != kSnapshotFormat) {
    return Invalid("format is \"" + format + "\", expected \"" + std::string(kSnapshotFormat) +
                   "\"");
  }
  if (const auto it = file.find("created_at_ms"); it == file.end() || !it->is_number_integer()) {
    return Invalid("\"created_at_ms\" must be an integer");
  }
  SnapshotFile out;
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
  DOZOR_ASSIGN_OR_RETURN(out.hmac, StringField(file, "hmac_sha256", true, 64));
  if (!IsLowerHex64(out.sha256) || !IsLowerHex64(out.hmac)) {
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
  *payload_size = payload->size();
  out.signed_bytes = std::move(*payload) + *health;
  if (!ConstantTimeEquals(Sha256Hex(out.signed_bytes), out.sha256)) {
    return Invalid("the file was modified after collection: its content does not match its sha256");
  }
  if (!health->empty()) {
    out.health.emplace();
  }
  return out;
}

// Decodes and validates the reports (after the HMAC check): like ingest, plus the snapshot's own
// rules (an inventory first, a health sample second, the names in the file match the inventory).
Status DecodeReports(SnapshotFile& file, size_t payload_size, int64_t now_ms) {
  const std::string_view bytes = file.signed_bytes;
  if (!file.inventory.ParseFromArray(bytes.data(), static_cast<int>(payload_size))) {
    return Invalid("\"payload\" is not a dozor.v1.Report");
  }
  if (!file.inventory.has_inventory()) {
    return Invalid("\"payload\" must carry an inventory");
  }
  if (file.health) {
    const std::string_view health = bytes.substr(payload_size);
    if (!file.health->ParseFromArray(health.data(), static_cast<int>(health.size()))) {
      return Invalid("\"health_payload\" is not a dozor.v1.Report");
    }
    if (!file.health->has_health()) {
      return Invalid("\"health_payload\" must carry a health sample");
    }
  }
  // The file's seq numbers are replaced by the store (a snapshot continues its host's
  // sequence); everything else is checked exactly as for a live agent.
  for (dozor::v1::Report* report : {&file.inventory, file.health ? &*file.health : nullptr}) {
    if (report == nullptr) {
      continue;
    }
    if (report->seq() == 0) {
      report->set_seq(1);
    }
    if (auto valid = ValidateReport(*report, now_ms); !valid.ok()) {
      return Invalid(std::string(report->has_health() ? "health_payload" : "payload") + ": " +
                     valid.error().message);
    }
  }
  // Only the payload is signed: the inventory's names win, and the plain copies must agree.
  const auto& os = file.inventory.inventory().os();
  if (!os.machine_id().empty()) {
    if (!file.machine_id.empty() && file.machine_id != os.machine_id()) {
      return Invalid("\"machine_id\" does not match the inventory");
    }
    file.machine_id = os.machine_id();
  }
  if (file.machine_id.empty()) {
    return Invalid("no machine id: the inventory and the file both lack one");
  }
  if (!os.hostname().empty()) {
    file.hostname = os.hostname();
  }
  if (!file.inventory.agent_version().empty()) {
    file.agent_version = file.inventory.agent_version();
  }
  return OkStatus();
}

nlohmann::json ImportJson(const ImportRecord& record) {
  nlohmann::json out = {{"id", record.id},
                        {"org_id", record.org_id},
                        {"sha256", record.sha256},
                        {"agent_id", record.agent_id},
                        {"hostname", record.hostname},
                        {"machine_id", record.machine_id},
                        {"agent_version", record.agent_version},
                        {"actor", record.actor},
                        {"outcome", record.outcome}};
  PutTime(out, "collected_at", record.collected_at_ms);
  PutTime(out, "imported_at", record.imported_at_ms);
  return out;
}

ApiResponse CreateImport(ApiContext& context, const ApiRequest& request) {
  if (request.body.size() > kMaxSnapshotFileBytes) {
    return ErrorResponse(
        413, "too_large",
        "snapshot file exceeds " + std::to_string(kMaxSnapshotFileBytes) + " bytes");
  }
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  size_t payload_size = 0;
  auto file = ParseSnapshotFile(request.body, &payload_size);
  if (!file.ok()) {
    return ErrorResponse(file.error());
  }
  auto candidates = context.store.Imports().FindEnrollmentTokensByHint(org->id, file->token_hint);
  if (!candidates.ok()) {
    return ErrorResponse(candidates.error());
  }
  std::optional<int64_t> token_id;
  for (const auto& candidate : *candidates) {
    // Every candidate is checked (no early exit) so the time taken says nothing about which.
    const bool match =
        ConstantTimeEquals(HmacSha256Hex(candidate.token_hash, file->signed_bytes), file->hmac);
    if (match && !token_id) {
      token_id = candidate.id;
    }
  }
  if (!token_id) {
    return ErrorResponse(
        403, "permission_denied",
        "no enrollment token of this organisation matches the file (collected with another "
        "organisation's token, a revoked token, or the file was altered)");
  }
  const int64_t now_ms = context.clock.NowMs();
  if (auto decoded = DecodeReports(*file, payload_size, now_ms); !decoded.ok()) {
    return ErrorResponse(decoded.error());
  }
  SnapshotImport import;
  import.org_id = org->id;
  import.sha256 = file->sha256;
  import.hostname = file->hostname;
  import.machine_id = file->machine_id;
  import.agent_version = file->agent_version;
  import.token_id = token_id;
  import.actor = ActorOf(request);
  import.now_ms = now_ms;
  import.inventory = std::move(file->inventory);
  import.health = std::move(file->health);
  auto imported = context.store.Imports().ImportSnapshot(import);
  if (!imported.ok()) {
    return ErrorResponse(imported.error());
  }
  ApiResponse response;
  response.status = imported->duplicate ? 200 : 201;
  response.body = {{"import", ImportJson(imported->record)},
                   {"duplicate", imported->duplicate},
                   {"org", org->name},
                   {"host",
                    {{"agent_id", imported->record.agent_id},
                     {"hostname", imported->record.hostname},
                     {"source", "import"}}}};
  return response;
}

ApiResponse ListImportsRoute(ApiContext& context, const ApiRequest& request) {
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  auto limit = QueryInt(request, "limit", kDefaultImportList, 1, kMaxImportList);
  if (!limit.ok()) {
    return ErrorResponse(limit.error());
  }
  auto imports = context.store.Imports().ListImports(org->id, static_cast<int>(*limit));
  if (!imports.ok()) {
    return ErrorResponse(imports.error());
  }
  ApiResponse response;
  response.body["imports"] = nlohmann::json::array();
  for (const auto& record : *imports) {
    response.body["imports"].push_back(ImportJson(record));
  }
  return response;
}

}  // namespace

void RegisterImportRoutes(Router& router, ApiContext& context) {
  router.Add("POST", "/api/v1/orgs/{org}/imports", Access::kWrite,
             [&context](ApiRequest& request) { return CreateImport(context, request); });
  router.Add("GET", "/api/v1/orgs/{org}/imports", Access::kRead,
             [&context](ApiRequest& request) { return ListImportsRoute(context, request); });
}

}  // namespace dozor::server::http
