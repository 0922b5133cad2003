// The routes the dashboard's start page and the alerts follow: the event feed (cursor + long-poll)
// and the estate overview (one summary per organisation in one call). Both scoped: a caller sees
// the events and summaries of its own organisations only.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "domain/host_status.hpp"
#include "http/handlers.hpp"
#include "report/report_model.hpp"
#include "rules/contract_scope.hpp"
#include "rules/rule.hpp"

namespace dozor::server::http {

namespace {

constexpr int kMaxWaitSeconds = 30;
constexpr auto kPollInterval = std::chrono::milliseconds(250);

// Long-polls one caller (account, or token without one) may hold at once. The long-poll pool is
// shared by everyone; without a per-caller share one client's tabs or script would take all of it
// and every engineer's dashboard would get 503s. A dashboard needs one; a few tabs fit.
constexpr int kMaxWaitsPerCaller = 4;

class WaitingCallers {
 public:
  // Takes one of the caller's slots; false when they hold kMaxWaitsPerCaller already.
  bool Take(const std::string& key) {
    std::lock_guard lock(mutex_);
    int& held = held_[key];
    if (held >= kMaxWaitsPerCaller) return false;
    ++held;
    return true;
  }
  void Release(const std::string& key) {
    std::lock_guard lock(mutex_);
    if (auto it = held_.find(key); it != held_.end() && --it->second <= 0) held_.erase(it);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> held_;
};

// The feed's newest event id, shared by every long-poll. One waiter at a time refreshes it, at
// most every kPollInterval (LatestEventId is one read of the primary key's end), and wakes the
// others; a waiter lists its own scoped events only when the newest id has moved past what it
// saw. 64 waiting dashboards cost 4 cheap reads a second instead of 256 filtered lists.
class FeedWatch {
 public:
  // Returns the newest id once it is above `seen`, or at the deadline, or when stopping, or at
  // once on a store error.
  Result<int64_t> WaitPast(EventStore& events, int64_t seen,
                           std::chrono::steady_clock::time_point deadline,
                           const std::atomic<bool>* stopping) {
    std::unique_lock lock(mutex_);
    while (true) {
      const auto now = std::chrono::steady_clock::now();
      if (!refreshing_ && now - refreshed_at_ >= kPollInterval) {
        refreshing_ = true;
        lock.unlock();
        auto latest = events.LatestEventId();
        lock.lock();
        refreshing_ = false;
        refreshed_at_ = std::chrono::steady_clock::now();
        changed_.notify_all();
        if (!latest.ok()) {
          return latest.error();
        }
        latest_ = *latest;
      }
      if (latest_ > seen || now >= deadline || (stopping != nullptr && stopping->load())) {
        return latest_;
      }
      // While another waiter refreshes, sleep until it is done (it notifies); else until the
      // next refresh is due.
      changed_.wait_until(
          lock, refreshing_ ? deadline : std::min(deadline, refreshed_at_ + kPollInterval));
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool refreshing_ = false;
  std::chrono::steady_clock::time_point refreshed_at_{};
  int64_t latest_ = 0;
};

std::string WaiterKey(const ApiRequest& request) {
  if (!request.caller) return "";
  if (request.caller->user_id) return "user:" + std::to_string(*request.caller->user_id);
  if (request.caller->api_token_id) return "token:" + std::to_string(*request.caller->api_token_id);
  return "name:" + request.caller->name;
}

nlohmann::json EventJson(const FeedEvent& event) {
  nlohmann::json out = {{"id", event.id},
                        {"kind", event.kind},
                        {"org", event.org_name},
                        {"actor", event.actor},
                        {"detail", event.detail}};
  out["org_id"] = event.org_id ? nlohmann::json(*event.org_id) : nlohmann::json(nullptr);
  out["host"] = event.agent_id.empty()
                    ? nlohmann::json(nullptr)
                    : nlohmann::json{{"agent_id", event.agent_id}, {"hostname", event.hostname}};
  if (event.finding_id) {
    out["finding"] = {
        {"id", *event.finding_id}, {"rule_id", event.rule_id}, {"severity", event.severity}};
  } else {
    out["finding"] = nullptr;
  }
  PutTime(out, "at", event.at_ms);
  return out;
}

ApiResponse ListEventsRoute(ApiContext& context, WaitingCallers& waiting, FeedWatch& watch,
                            const ApiRequest& request) {
  auto after = QueryInt(request, "after", 0, 0, INT64_MAX);
  auto wait = QueryInt(request, "wait", 0, 0, kMaxWaitSeconds);
  auto limit = QueryInt(request, "limit", 200, 1, 1000);
  for (const auto* value : {&after, &wait, &limit}) {
    if (!value->ok()) {
      return ErrorResponse(value->error());
    }
  }
  auto org = ScopedOrgQuery(context, request);
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  FeedFilter filter;
  filter.after_id = *after;
  filter.org_id = *org;
  filter.limit = static_cast<int>(*limit);
  if (request.caller) {
    filter.visible_org_ids = request.caller->VisibleOrgIds();
  }
  // Long-poll: with ?wait=N the answer comes as soon as there is something after the cursor, or
  // empty after N seconds. The route runs on the long-poll pool, never on a worker that short
  // requests wait for.
  const std::string waiter = WaiterKey(request);
  if (*wait > 0) {
    if (!waiting.Take(waiter)) {
      ApiResponse busy =
          ErrorResponse(429, "too_many_requests",
                        "this account already waits on the event feed " +
                            std::to_string(kMaxWaitsPerCaller) + " times; poll once per client");
      busy.retry_after_seconds = 1;
      return busy;
    }
  }
  struct ReleaseOnReturn {
    WaitingCallers* waiting;
    const std::string* key;
    ~ReleaseOnReturn() {
      if (waiting) waiting->Release(*key);
    }
  } release{*wait > 0 ? &waiting : nullptr, &waiter};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(*wait);
  int64_t seen = *after;  // the newest id already listed for this caller
  while (true) {
    auto events = context.store.Events().ListEvents(filter);
    if (!events.ok()) {
      return ErrorResponse(events.error());
    }
    const bool stopping = context.stopping != nullptr && context.stopping->load();
    if (!events->empty() || stopping || std::chrono::steady_clock::now() >= deadline) {
      ApiResponse response;
      response.body["events"] = nlohmann::json::array();
      int64_t next = *after;
      for (const auto& event : *events) {
        response.body["events"].push_back(EventJson(event));
        next = event.id;
      }
      // Poll again with after=next_after; an empty page keeps the cursor.
      response.body["next_after"] = next;
      return response;
    }
    auto latest = watch.WaitPast(context.store.Events(), seen, deadline, context.stopping);
    if (!latest.ok()) {
      return ErrorResponse(latest.error());
    }
    seen = std::max(seen, *latest);
  }
}

// One organisation's numbers while the overview adds them up; JSON is built once at the end (a
// JSON object lookup per finding row cost more than the query on a 30,000-finding estate).
struct OrgTally {
  const Organization* org = nullptr;
  nlohmann::json engineers = nlohmann::json::array();
  std::array<int64_t, 5> by_severity{};  // critical, high, medium, low, info
  int total = 0, online = 0, offline = 0, overdue = 0, imported = 0;
  int64_t last_change_ms = 0;
  std::vector<std::string> host_keys;
  std::vector<report::ScoredFinding> scored;
};

size_t SeverityIndex(Severity severity) {
  switch (severity) {
    case Severity::kCritical:
      return 0;
    case Severity::kHigh:
      return 1;
    case Severity::kMedium:
      return 2;
    case Severity::kLow:
      return 3;
    case Severity::kInfo:
      break;
  }
  return 4;
}

// How each organisation looks from the estate overview.
nlohmann::json SummariesJson(ApiContext& context, const std::vector<Organization>& orgs,
                             const std::optional<std::vector<int64_t>>& visible) {
  const HostStatusBounds bounds =
      HostStatusBoundsAt(context.clock.NowMs(), context.offline_after_seconds * 1000);
  std::map<int64_t, OrgTally> tallies;
  for (const auto& org : orgs) {
    tallies[org.id].org = &org;
  }
  // One organisation's page reads only its own hosts and assignments (a 3,000-host estate costs
  // the whole read otherwise); the overview reads them all once.
  const std::optional<int64_t> only =
      orgs.size() == 1 ? std::optional<int64_t>(orgs.front().id) : std::nullopt;
  if (auto assignments = context.store.Users().ListAssignments(only); assignments.ok()) {
    for (const auto& a : *assignments) {
      auto it = tallies.find(a.org_id);
      if (it == tallies.end()) continue;
      it->second.engineers.push_back({{"user_id", a.user_id},
                                      {"login", a.login},
                                      {"display_name", a.display_name},
                                      {"kind", ToString(a.kind)},
                                      {"specialty", a.specialty}});
    }
  }
  // The live hosts' duties, which widen the contract scope (rules/contract_scope.hpp).
  std::unordered_map<std::string, HostDuties> duties_by_host;
  if (auto hosts = context.store.Hosts().ListHosts(only); hosts.ok()) {
    for (auto& host : *hosts) {
      auto it = tallies.find(host.org_id);
      // A host loaded from a snapshot file has no agent: it is never online, and calling it
      // offline or overdue would raise an alarm nobody can clear (HostStatus::kImported).
      const HostStatus status =
          HostStatusOf(host.revoked, host.source == "agent", host.last_seen_ms, bounds);
      if (it == tallies.end() || status == HostStatus::kRevoked) continue;
      if (!host.duties.empty()) duties_by_host.emplace(host.agent_id, host.duties);
      OrgTally& tally = it->second;
      ++tally.total;
      ++(status == HostStatus::kOnline    ? tally.online
         : status == HostStatus::kOffline ? tally.offline
         : status == HostStatus::kOverdue ? tally.overdue
                                          : tally.imported);
      // The newest inventory is the last change seen on the estate.
      tally.last_change_ms = std::max(tally.last_change_ms, host.last_inventory_ms);
      tally.host_keys.push_back(std::move(host.agent_id));
    }
  }
  if (auto counts = context.store.Findings().CountActiveFindings(visible); counts.ok()) {
    for (auto& row : *counts) {
      auto it = tallies.find(row.org_id);
      if (it == tallies.end()) continue;
      OrgTally& tally = it->second;
      tally.by_severity[SeverityIndex(row.severity)] += row.count;
      // The readiness score counts what is in the contract's scope (the rule's contracts and
      // the host's duties), as the audit report does.
      const rules::Rule* rule = context.rules ? context.rules->Find(row.rule_id) : nullptr;
      const auto host = duties_by_host.find(row.agent_id);
      if (rule != nullptr &&
          !rules::InContractScope(*rule, tally.org->contract_type,
                                  host != duties_by_host.end() ? host->second : HostDuties())) {
        continue;
      }
      const std::string severity(ToString(row.severity));
      for (int64_t i = 0; i < row.count; ++i) {
        tally.scored.push_back({severity, row.agent_id, row.rule_id});
      }
    }
  }
  nlohmann::json list = nlohmann::json::array();
  for (auto& [org_id, tally] : tallies) {
    const Organization& org = *tally.org;
    nlohmann::json summary = {
        {"id", org.id},
        {"name", org.name},
        {"contract_status", org.contract_status},
        {"contract_type", org.contract_type},
        {"engineers", std::move(tally.engineers)},
        {"open_findings",
         {{"critical", tally.by_severity[0]},
          {"high", tally.by_severity[1]},
          {"medium", tally.by_severity[2]},
          {"low", tally.by_severity[3]},
          {"info", tally.by_severity[4]}}},
        {"hosts",
         {{"total", tally.total},
          {"online", tally.online},
          {"offline", tally.offline},
          {"overdue", tally.overdue},
          {"imported", tally.imported}}},
        {"readiness_score", report::ReadinessScore(tally.host_keys, tally.scored)}};
    if (tally.last_change_ms > 0) {
      PutTime(summary, "last_change_at", tally.last_change_ms);
    } else {
      summary["last_change_at"] = nullptr;
      summary["last_change_at_ms"] = nullptr;
    }
    list.push_back(std::move(summary));
  }
  return list;
}

// The estate overview of every organisation, shared by all callers (each sees its own
// organisations of it). Every dashboard polls the same answer, and computing it costs ~30 ms at
// 300 organisations and 30,000 findings, so it is recomputed only when something it shows may have
// changed: a new feed event (findings, contract moves, hosts going offline or online), a new
// audit-log entry (organisations, assignments and every other change made through the API), or
// after kMaxAgeMs for what neither marks (a host enrolled, a new inventory, the overdue threshold).
class OverviewCache {
 public:
  static constexpr int64_t kMaxAgeMs = 5000;

  struct Snapshot {
    int64_t generated_at_ms = 0;
    int64_t latest_event_id = 0;
    int64_t latest_audit_id = 0;
    std::vector<std::pair<int64_t, nlohmann::json>> summaries;  // by organisation id
  };

  Result<std::shared_ptr<const Snapshot>> Get(ApiContext& context) {
    DOZOR_ASSIGN_OR_RETURN(const int64_t latest_event, context.store.Events().LatestEventId());
    AuditFilter newest;
    newest.limit = 1;
    DOZOR_ASSIGN_OR_RETURN(auto audit, context.store.AuditLog().ListAudit(newest));
    const int64_t latest_audit = audit.empty() ? 0 : audit.front().id;
    // One computation at a time: callers arriving meanwhile wait for it and share it.
    std::lock_guard lock(mutex_);
    const int64_t now_ms = context.clock.NowMs();
    if (snapshot_ && snapshot_->latest_event_id == latest_event &&
        snapshot_->latest_audit_id == latest_audit && now_ms >= snapshot_->generated_at_ms &&
        now_ms - snapshot_->generated_at_ms < kMaxAgeMs) {
      return snapshot_;
    }
    DOZOR_ASSIGN_OR_RETURN(auto orgs, context.store.Organizations().ListOrganizations());
    auto fresh = std::make_shared<Snapshot>();
    fresh->generated_at_ms = now_ms;
    fresh->latest_event_id = latest_event;
    fresh->latest_audit_id = latest_audit;
    for (auto& summary : SummariesJson(context, orgs, std::nullopt)) {
      const int64_t id = summary.at("id").get<int64_t>();
      fresh->summaries.emplace_back(id, std::move(summary));
    }
    snapshot_ = std::move(fresh);
    return snapshot_;
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<const Snapshot> snapshot_;
};

ApiResponse OverviewRoute(ApiContext& context, OverviewCache& cache, const ApiRequest& request) {
  auto snapshot = cache.Get(context);
  if (!snapshot.ok()) {
    return ErrorResponse(snapshot.error());
  }
  ApiResponse response;
  response.body["organizations"] = nlohmann::json::array();
  for (const auto& [org_id, summary] : (*snapshot)->summaries) {
    if (CallerSees(request, org_id)) response.body["organizations"].push_back(summary);
  }
  // When the numbers were computed (at most OverviewCache::kMaxAgeMs ago).
  PutTime(response.body, "generated_at", (*snapshot)->generated_at_ms);
  // The feed's newest event when the numbers were read: a page polls /api/v1/events from here to
  // hear of the next change instead of paging through the whole feed first.
  response.body["events_after"] = (*snapshot)->latest_event_id;
  return response;
}

ApiResponse OrgSummaryRoute(ApiContext& context, const ApiRequest& request) {
  auto org = FindOrg(context.store.Organizations(), request.params.at("org"));
  if (!org.ok()) {
    return ErrorResponse(org.error());
  }
  auto list = SummariesJson(context, {*org}, std::vector<int64_t>{org->id});
  ApiResponse response;
  response.body = list.at(0);
  return response;
}

}  // namespace

void RegisterFeedRoutes(Router& router, ApiContext& context) {
  auto waiting = std::make_shared<WaitingCallers>();
  auto watch = std::make_shared<FeedWatch>();
  auto overview = std::make_shared<OverviewCache>();
  router.Add(
      "GET", "/api/v1/events", Access::kRead, Scope::List(),
      [&context, waiting, watch](ApiRequest& request) {
        return ListEventsRoute(context, *waiting, *watch, request);
      },
      RouteLimits{.cost = RouteCost::kLongPoll});
  router.Add("GET", "/api/v1/overview", Access::kRead, Scope::List(),
             [&context, overview](ApiRequest& request) {
               return OverviewRoute(context, *overview, request);
             });
  router.Add("GET", "/api/v1/orgs/{org}/summary", Access::kRead, Scope::Org(),
             [&context](ApiRequest& request) { return OrgSummaryRoute(context, request); });
}

}  // namespace dozor::server::http
