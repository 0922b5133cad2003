// /api/v1/orgs/{org}/imports: one-shot audit files written by `dozor-agent collect` on machines
// without a permanent agent, loaded into the organisation as snapshot hosts.
//
// The file (format "dozor.snapshot/v2", dozor/contract/snapshot_file.hpp) is untrusted input: its
// shape, encoding and sizes are checked strictly, its SHA-256 must match its content, and its
// HMAC must verify with the import key of one of this organisation's enrollment tokens (kept
// wrapped, store/import_store.hpp VerifyImportSigner; the token itself never travels in the file).
// Only then are the reports parsed, validated exactly like ingest validates a live agent's
// reports, and handed to Store::ImportSnapshot.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "dozor/contract/snapshot_file.hpp"
#include "http/auth.hpp"
#include "http/handlers.hpp"
#include "ingest/validate.hpp"

namespace dozor::server::http {

namespace {

constexpr int kDefaultImportList = 100;
constexpr int kMaxImportList = 1000;

Error Invalid(const std::string& message) {
  return MakeError(ErrorCode::kInvalidArgument, "snapshot file: " + message);
}

// The import's own rules on top of the format (after the HMAC check): each report is validated
// exactly as ingest validates a live agent's, and the plain names in the file must agree with
// the signed inventory.
Status ValidateImportedReports(SnapshotContents& file, int64_t now_ms) {
  // The file's seq numbers are replaced by the store (a snapshot continues its host's
  // sequence); everything else is checked exactly as for a live agent.
  for (dozor::v1::Report* report :
       {&file.inventory_report, file.health_report ? &*file.health_report : nullptr}) {
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
  // The inventory's names win, and the file's copies (signed too) must agree with them.
  const auto& os = file.inventory_report.inventory().os();
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
  if (!file.inventory_report.agent_version().empty()) {
    file.agent_version = file.inventory_report.agent_version();
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
  // The route's body limit (kMaxSnapshotFileBytes) was enforced before the body was read.
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  auto envelope = ParseSnapshotEnvelope(request.body);
  if (!envelope.ok()) {
    if (envelope.error().code == ErrorCode::kDataLoss) {
      return ErrorResponse(400, "invalid_argument", envelope.error().message);
    }
    return ErrorResponse(envelope.error());
  }
  auto token_id =
      VerifyImportSigner(context.store.Imports(), context.import_keys, org->id, *envelope);
  if (!token_id.ok()) {
    // A file whose signature does not verify is a forgery or a file for another client: worth a
    // security event. A server without its import key (503) is a configuration matter.
    if (context.audit != nullptr && token_id.error().code != ErrorCode::kUnavailable) {
      context.audit->Record(SecurityEventKind::kImportRefused, request.client_address,
                            envelope->token_hint.substr(0, 16) + " org " + std::to_string(org->id) +
                                " " + envelope->hostname.substr(0, 64),
                            token_id.error().message);
    }
    return ErrorResponse(token_id.error());
  }
  auto file = DecodeSnapshotReports(*envelope);
  if (!file.ok()) {
    return ErrorResponse(file.error());
  }
  const int64_t now_ms = context.clock.NowMs();
  if (auto valid = ValidateImportedReports(*file, now_ms); !valid.ok()) {
    return ErrorResponse(valid.error());
  }
  SnapshotImport import;
  import.org_id = org->id;
  import.sha256 = envelope->sha256;
  import.hostname = file->hostname;
  import.machine_id = file->machine_id;
  import.agent_version = file->agent_version;
  import.token_id = *token_id;
  import.actor = ActorOf(request);
  import.now_ms = now_ms;
  import.inventory = std::move(file->inventory_report);
  import.health = std::move(file->health_report);
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
  // Authenticated and role-checked on the headers; the body (up to one snapshot file) is read
  // only then. Verifying and storing a big host's file takes a while: the slow pool.
  router.Add(
      "POST", "/api/v1/orgs/{org}/imports", Access::kWrite, Scope::Org(),
      [&context](ApiRequest& request) { return CreateImport(context, request); },
      RouteLimits{.cost = RouteCost::kSlow,
                  .max_body_bytes = kMaxSnapshotFileBytes,
                  .body_read_timeout_seconds = 120,
                  .upload = true});
  router.Add("GET", "/api/v1/orgs/{org}/imports", Access::kRead, Scope::Org(),
             [&context](ApiRequest& request) { return ListImportsRoute(context, request); });
}

}  // namespace dozor::server::http
