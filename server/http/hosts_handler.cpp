// /api/v1/hosts: enrolled agents, their inventory, change log, health samples, revocation and
// commands to connected agents.
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <optional>

#include "domain/health_series.hpp"
#include "http/handlers.hpp"
#include "http/list_paging.hpp"

namespace dozor::server::http {

namespace {

constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 10000;
constexpr int64_t kMinHealthInterval = 10;
constexpr int64_t kMaxHealthInterval = 86400;
constexpr int64_t kMinInventoryInterval = 60;
constexpr int64_t kMaxInventoryInterval = 604800;
constexpr size_t kMaxAgentIdBytes = 128;
// ?until_ms= of the health series: any time up to the year 33,000 (GridFor's bound).
constexpr int64_t kMaxSeriesUntilMs = 1'000'000'000'000'000;

Result<nlohmann::json> ProtoToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = false;
  options.preserve_proto_field_names = true;
  std::string text;
  const auto status = google::protobuf::util::MessageToJsonString(message, &text, options);
  if (!status.ok()) {
    return MakeError(ErrorCode::kInternal, "converting to JSON: " + std::string(status.message()));
  }
  nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return MakeError(ErrorCode::kInternal, "protobuf produced unparseable JSON");
  }
  return parsed;
}

// Figures the CLI and dashboard show for every sample, computed once here (with the formula the
// health series uses).
nlohmann::json DerivedHealth(const dozor::v1::HealthSample& sample) {
  nlohmann::json out;
  out["memory_used_percent"] =
      UsedPercent(sample.memory_total_bytes(), sample.memory_available_bytes());
  out["swap_used_percent"] = UsedPercent(sample.swap_total_bytes(), sample.swap_free_bytes());
  nlohmann::json fullest = nullptr;
  double fullest_percent = -1;
  for (const auto& fs : sample.filesystems()) {
    if (fs.total_bytes() == 0) {
      continue;
    }
    const double used = UsedPercent(fs.total_bytes(), fs.available_bytes());
    if (used > fullest_percent) {
      fullest_percent = used;
      fullest = {{"mount_point", fs.mount_point()}, {"used_percent", used}};
    }
  }
  out["fullest_filesystem"] = fullest;
  return out;
}

Result<std::string> AgentIdParam(const ApiRequest& request) {
  const std::string& id = request.params.at("agent_id");
  if (id.empty() || id.size() > kMaxAgentIdBytes) {
    return MakeError(ErrorCode::kNotFound, "host not found");
  }
  return id;
}

// Store lookups by agent id report kNotFound with their own words; keep the message uniform.
ApiResponse HostError(const Error& error, std::string_view agent_id) {
  if (error.code == ErrorCode::kNotFound) {
    return ErrorResponse(404, "not_found", "host '" + std::string(agent_id) + "' not found");
  }
  return ErrorResponse(error);
}

// ?sort= spellings and the store's fields, in the same order.
const std::vector<std::string_view> kHostSortNames = {"org", "hostname", "last_seen"};
constexpr HostSort kHostSortFields[] = {HostSort::kOrg, HostSort::kHostname, HostSort::kLastSeen};

// ?status=, a comma list of online, offline, overdue, revoked: hosts in any of them, each
// decided by the last report (domain/host_status.hpp). "offline" is every live host that is not
// online, overdue, never-reporting and imported ones included (what it meant before "overdue").
Status ApplyHostStatus(const ApiContext& context, const std::vector<std::string>& statuses,
                       HostQuery& query) {
  for (const auto& status : statuses) {
    if (status == "online") {
      query.statuses.push_back(HostStatus::kOnline);
    } else if (status == "offline") {
      query.statuses.insert(query.statuses.end(),
                            {HostStatus::kOffline, HostStatus::kOverdue, HostStatus::kImported});
    } else if (status == "overdue") {
      query.statuses.push_back(HostStatus::kOverdue);
    } else if (status == "revoked") {
      query.statuses.push_back(HostStatus::kRevoked);
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "query parameter 'status' takes online, offline, overdue, revoked (or a "
                       "comma list of them); got '" +
                           status + "'");
    }
  }
  query.status_bounds =
      HostStatusBoundsAt(context.clock.NowMs(), context.offline_after_seconds * 1000);
  return OkStatus();
}

ApiResponse ListHostsRoute(ApiContext& context, const ApiRequest& request) {
  auto org_id = ScopedOrgQuery(context, request);
  if (!org_id.ok()) {
    return ErrorResponse(org_id.error());
  }
  auto sort = ParseSort(request, kHostSortNames, "org");
  if (!sort.ok()) {
    return ErrorResponse(sort.error());
  }
  auto page = ParsePageRequest(request, *sort);
  auto text = QueryText(request, "q");
  auto os = QueryText(request, "os");
  auto status = QueryList(request, "status");
  for (const Error* failure :
       {page.ok() ? nullptr : &page.error(), text.ok() ? nullptr : &text.error(),
        os.ok() ? nullptr : &os.error(), status.ok() ? nullptr : &status.error()}) {
    if (failure != nullptr) {
      return ErrorResponse(*failure);
    }
  }
  HostQuery query;
  query.org_id = *org_id;
  if (request.caller) {
    query.visible_org_ids = request.caller->VisibleOrgIds();
  }
  query.text = *text;
  query.os_family = *os;
  if (auto applied = ApplyHostStatus(context, *status, query); !applied.ok()) {
    return ErrorResponse(applied.error());
  }
  query.sort = kHostSortFields[sort->index];
  query.direction = sort->direction;
  query.page = std::move(page).value();
  auto hosts = context.store.Hosts().QueryHosts(query);
  if (!hosts.ok()) {
    return ErrorResponse(hosts.error());
  }
  ApiResponse response;
  response.body["hosts"] = nlohmann::json::array();
  for (const auto& host : hosts->rows) {
    response.body["hosts"].push_back(HostJson(context, host));
  }
  response.body["next_cursor"] = NextCursorJson(hosts->next, *sort);
  return response;
}

ApiResponse ShowHost(ApiContext& context, const ApiRequest& request) {
  auto id = AgentIdParam(request);
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  auto host = context.store.Hosts().GetHost(*id);
  if (!host.ok()) {
    return HostError(host.error(), *id);
  }
  ApiResponse response;
  response.body = HostJson(context, *host);
  return response;
}

ApiResponse ShowInventory(ApiContext& context, const ApiRequest& request) {
  auto id = AgentIdParam(request);
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  auto inventory = context.store.Hosts().GetInventory(*id);
  if (!inventory.ok()) {
    return HostError(inventory.error(), *id);
  }
  auto inventory_json = ProtoToJson(inventory->inventory);
  if (!inventory_json.ok()) {
    return ErrorResponse(inventory_json.error());
  }
  ApiResponse response;
  response.body["host"] = HostJson(context, inventory->host);
  response.body["inventory"] = std::move(inventory_json).value();
  response.body["collectors"] = nlohmann::json::array();
  for (const auto& collector : inventory->collectors) {
    response.body["collectors"].push_back({{"name", collector.name()},
                                           {"ok", collector.ok()},
                                           {"error", collector.error()},
                                           {"duration_ms", collector.duration_ms()}});
  }
  return response;
}

// /hosts/{id}/<history>?since=&limit=, for an existing host (an unknown one is a 404, not an
// empty list). On failure `error` holds the response to send.
struct HistoryQuery {
  std::string agent_id;
  int64_t since_ms = 0;
  int limit = 0;
};

std::optional<HistoryQuery> ParseHistoryQuery(ApiContext& context, const ApiRequest& request,
                                              ApiResponse* error) {
  auto id = AgentIdParam(request);
  auto since = QueryInt(request, "since", 0, 0, INT64_MAX / 2);
  auto limit = QueryInt(request, "limit", kDefaultLimit, 1, kMaxLimit);
  for (const Error* failure :
       {id.ok() ? nullptr : &id.error(), since.ok() ? nullptr : &since.error(),
        limit.ok() ? nullptr : &limit.error()}) {
    if (failure != nullptr) {
      *error = ErrorResponse(*failure);
      return std::nullopt;
    }
  }
  if (auto host = context.store.Hosts().GetHost(*id); !host.ok()) {
    *error = HostError(host.error(), *id);
    return std::nullopt;
  }
  return HistoryQuery{*id, *since, static_cast<int>(*limit)};
}

ApiResponse ListChangesRoute(ApiContext& context, const ApiRequest& request) {
  ApiResponse error;
  auto query = ParseHistoryQuery(context, request, &error);
  if (!query) {
    return error;
  }
  auto changes = context.store.Hosts().ListChanges(query->agent_id, query->since_ms, query->limit);
  if (!changes.ok()) {
    return HostError(changes.error(), query->agent_id);
  }
  ApiResponse response;
  response.body["agent_id"] = query->agent_id;
  response.body["changes"] = nlohmann::json::array();
  for (const auto& change : *changes) {
    nlohmann::json item = {{"id", change.id},
                           {"category", change.category},
                           {"action", change.action},
                           {"subject", change.subject},
                           {"old_value", change.old_value},
                           {"new_value", change.new_value}};
    PutTime(item, "at", change.at_ms);
    response.body["changes"].push_back(std::move(item));
  }
  return response;
}

ApiResponse ListHealthRoute(ApiContext& context, const ApiRequest& request) {
  ApiResponse error;
  auto query = ParseHistoryQuery(context, request, &error);
  if (!query) {
    return error;
  }
  auto records = context.store.Hosts().ListHealth(query->agent_id, query->since_ms, query->limit);
  if (!records.ok()) {
    return HostError(records.error(), query->agent_id);
  }
  ApiResponse response;
  response.body["agent_id"] = query->agent_id;
  response.body["samples"] = nlohmann::json::array();
  for (const auto& record : *records) {
    auto sample = ProtoToJson(record.sample);
    if (!sample.ok()) {
      return ErrorResponse(sample.error());
    }
    nlohmann::json item = {{"seq", record.seq},
                           {"sample", std::move(sample).value()},
                           {"derived", DerivedHealth(record.sample)}};
    PutTime(item, "collected_at", record.collected_at_ms);
    response.body["samples"].push_back(std::move(item));
  }
  return response;
}

nlohmann::json SeriesJson(const SeriesValues& values) {
  nlohmann::json out = nlohmann::json::array();
  out.get_ref<nlohmann::json::array_t&>().reserve(values.size());
  for (const auto& value : values) {
    out.push_back(value ? nlohmann::json(*value) : nlohmann::json(nullptr));
  }
  return out;
}

// Columnar, so a chart library takes each array as is: `t` holds the bucket starts and every other
// array one value per bucket (null: no sample, a gap in the chart).
nlohmann::json HealthSeriesJson(const std::string& agent_id, HealthRange range,
                                const HealthSeries& series) {
  nlohmann::json out = {{"agent_id", agent_id}, {"range", ToString(range)}};
  PutTime(out, "from", series.grid.from_ms);
  PutTime(out, "to", series.grid.to_ms);
  out["step_ms"] = series.grid.step_ms;
  nlohmann::json t = nlohmann::json::array();
  for (size_t i = 0; i < series.grid.count; ++i) {
    t.push_back(series.grid.from_ms + static_cast<int64_t>(i) * series.grid.step_ms);
  }
  out["t"] = std::move(t);
  out["cpu_percent"] = {{"avg", SeriesJson(series.cpu_percent_avg)},
                        {"max", SeriesJson(series.cpu_percent_max)}};
  out["cpu_iowait_percent"] = SeriesJson(series.cpu_iowait_percent);
  out["load1"] = SeriesJson(series.load1);
  out["memory_used_percent"] = SeriesJson(series.memory_used_percent);
  out["swap_used_percent"] = SeriesJson(series.swap_used_percent);
  out["filesystems"] = nlohmann::json::array();
  for (const auto& fs : series.filesystems) {
    out["filesystems"].push_back(
        {{"mount_point", fs.mount_point}, {"used_percent", SeriesJson(fs.used_percent)}});
  }
  out["disks"] = nlohmann::json::array();
  for (const auto& disk : series.disks) {
    out["disks"].push_back({{"name", disk.name},
                            {"read_bytes_per_second", SeriesJson(disk.read_bytes_per_second)},
                            {"write_bytes_per_second", SeriesJson(disk.write_bytes_per_second)}});
  }
  out["networks"] = nlohmann::json::array();
  for (const auto& nic : series.networks) {
    out["networks"].push_back({{"name", nic.name},
                               {"rx_bytes_per_second", SeriesJson(nic.rx_bytes_per_second)},
                               {"tx_bytes_per_second", SeriesJson(nic.tx_bytes_per_second)}});
  }
  return out;
}

// /hosts/{id}/health/series?range=24h|7d|30d&until_ms=: the samples of the range bucketed for
// charts, aggregated while the store decodes them (30 days at one sample a minute is 43,200
// samples; the answer is 720 buckets).
ApiResponse HealthSeriesRoute(ApiContext& context, const ApiRequest& request) {
  auto id = AgentIdParam(request);
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  const auto range_param = request.query.find("range");
  const std::optional<HealthRange> range =
      range_param == request.query.end() || range_param->second.empty()
          ? std::optional<HealthRange>(HealthRange::k24Hours)
          : ParseHealthRange(range_param->second);
  if (!range) {
    return ErrorResponse(400, "invalid_argument", "query parameter 'range' takes 24h, 7d, 30d");
  }
  auto until = QueryInt(request, "until_ms", context.clock.NowMs(), 0, kMaxSeriesUntilMs);
  if (!until.ok()) {
    return ErrorResponse(until.error());
  }
  const SeriesGrid grid = GridFor(*range, *until);
  HealthSeriesBuilder builder(grid);
  auto visited = context.store.Hosts().VisitHealth(
      *id, grid.from_ms, grid.to_ms,
      [&builder](int64_t collected_at_ms, const dozor::v1::HealthSample& sample) {
        builder.Add(collected_at_ms, sample);
      });
  if (!visited.ok()) {
    return HostError(visited.error(), *id);
  }
  ApiResponse response;
  response.body = HealthSeriesJson(*id, *range, builder.Finish());
  return response;
}

ApiResponse RevokeHost(ApiContext& context, const ApiRequest& request) {
  auto id = AgentIdParam(request);
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  if (auto revoked = context.store.Agents().RevokeAgent(*id, context.clock.NowMs());
      !revoked.ok()) {
    return HostError(revoked.error(), *id);
  }
  // The stored revocation stops future streams; this closes the one that may be open now.
  if (context.agents != nullptr) {
    context.agents->Disconnect(*id);
  }
  ApiResponse response;
  response.body = {{"agent_id", *id}, {"revoked", true}};
  return response;
}

ApiResponse SendCommandRoute(ApiContext& context, const ApiRequest& request) {
  auto id = AgentIdParam(request);
  if (!id.ok()) {
    return ErrorResponse(id.error());
  }
  auto body = ParseJsonObject(request.body);
  if (!body.ok()) {
    return ErrorResponse(body.error());
  }
  dozor::v1::Command command;
  const auto collect = body->find("collect_inventory");
  const bool has_collect = collect != body->end() && !collect->is_null();
  auto health =
      OptionalInt(*body, "health_interval_seconds", kMinHealthInterval, kMaxHealthInterval);
  auto inventory = OptionalInt(*body, "inventory_interval_seconds", kMinInventoryInterval,
                               kMaxInventoryInterval);
  if (!health.ok()) {
    return ErrorResponse(health.error());
  }
  if (!inventory.ok()) {
    return ErrorResponse(inventory.error());
  }
  const bool has_intervals = health->has_value() || inventory->has_value();
  if (has_collect == has_intervals) {
    return ErrorResponse(400, "invalid_argument",
                         "send either {\"collect_inventory\": true} or "
                         "{\"health_interval_seconds\": N, \"inventory_interval_seconds\": M}");
  }
  if (has_collect) {
    if (!collect->is_boolean() || !collect->get<bool>()) {
      return ErrorResponse(400, "invalid_argument", "collect_inventory must be true");
    }
    command.mutable_collect_inventory();
  } else {
    auto* intervals = command.mutable_set_intervals();
    intervals->set_health_interval_seconds(static_cast<uint32_t>(health->value_or(0)));
    intervals->set_inventory_interval_seconds(static_cast<uint32_t>(inventory->value_or(0)));
  }
  auto host = context.store.Hosts().GetHost(*id);
  if (!host.ok()) {
    return HostError(host.error(), *id);
  }
  if (host->revoked) {
    return ErrorResponse(409, "revoked", "host '" + *id + "' is revoked");
  }
  if (context.agents == nullptr || !context.agents->IsConnected(*id)) {
    return ErrorResponse(409, "not_connected", "host '" + *id + "' is not connected");
  }
  auto sent = context.agents->SendCommand(*id, std::move(command));
  if (!sent.ok()) {
    if (sent.error().code == ErrorCode::kUnavailable) {
      return ErrorResponse(409, "not_connected", "host '" + *id + "' is not connected");
    }
    return ErrorResponse(sent.error());
  }
  ApiResponse response;
  response.status = 202;
  response.body = {{"agent_id", *id}, {"command_id", *sent}};
  return response;
}

}  // namespace

namespace {

bool IsOnline(const ApiContext& context, const HostSummary& host) {
  // A snapshot host was looked at once (last_seen is its collection time); it is never online.
  if (host.revoked || host.source == "import") {
    return false;
  }
  if (context.agents != nullptr && context.agents->IsConnected(host.agent_id)) {
    return true;
  }
  return host.last_seen_ms > 0 &&
         context.clock.NowMs() - host.last_seen_ms <= context.offline_after_seconds * 1000;
}

// ["database", "onec"]: the host's duties from its latest inventory, [] for none.
nlohmann::json DutiesJson(HostDuties duties) {
  nlohmann::json out = nlohmann::json::array();
  for (HostDuty duty : duties.List()) {
    out.push_back(ToString(duty));
  }
  return out;
}

}  // namespace

nlohmann::json HostJson(const ApiContext& context, const HostSummary& host) {
  nlohmann::json out = {
      {"agent_id", host.agent_id},
      {"org_id", host.org_id},
      {"org", host.org_name},
      {"hostname", host.hostname},
      {"os_pretty_name", host.os_pretty_name},
      {"os_family", host.os_family},
      {"addresses", host.addresses},
      {"agent_version", host.agent_version},
      {"revoked", host.revoked},
      {"source", host.source},
      {"duties", DutiesJson(host.duties)},
      {"dropped_health_samples", host.dropped_health_samples},
      {"connected", context.agents != nullptr && context.agents->IsConnected(host.agent_id)},
      {"online", IsOnline(context, host)}};
  PutTime(out, "enrolled_at", host.enrolled_at_ms);
  PutTime(out, "last_seen", host.last_seen_ms);
  PutTime(out, "last_inventory", host.last_inventory_ms);
  return out;
}

void RegisterHostRoutes(Router& router, ApiContext& context) {
  router.Add("GET", "/api/v1/hosts", Access::kRead, Scope::List(),
             [&context](ApiRequest& request) { return ListHostsRoute(context, request); });
  router.Add("GET", "/api/v1/hosts/{agent_id}", Access::kRead, Scope::Host(),
             [&context](ApiRequest& request) { return ShowHost(context, request); });
  router.Add("GET", "/api/v1/hosts/{agent_id}/inventory", Access::kRead, Scope::Host(),
             [&context](ApiRequest& request) { return ShowInventory(context, request); });
  router.Add("GET", "/api/v1/hosts/{agent_id}/changes", Access::kRead, Scope::Host(),
             [&context](ApiRequest& request) { return ListChangesRoute(context, request); });
  router.Add("GET", "/api/v1/hosts/{agent_id}/health", Access::kRead, Scope::Host(),
             [&context](ApiRequest& request) { return ListHealthRoute(context, request); });
  // 30 days of samples decoded and bucketed: tens of ms normally, more for a host that sends
  // many mounts or short intervals, so the slow pool, not a worker that small reads wait for.
  router.Add(
      "GET", "/api/v1/hosts/{agent_id}/health/series", Access::kRead, Scope::Host(),
      [&context](ApiRequest& request) { return HealthSeriesRoute(context, request); },
      RouteLimits{.cost = RouteCost::kSlow});
  router.Add("POST", "/api/v1/hosts/{agent_id}/revoke", Access::kWrite, Scope::Host(),
             [&context](ApiRequest& request) { return RevokeHost(context, request); });
  router.Add("POST", "/api/v1/hosts/{agent_id}/commands", Access::kWrite, Scope::Host(),
             [&context](ApiRequest& request) { return SendCommandRoute(context, request); });
}

}  // namespace dozor::server::http
