#include "app/rule_evaluator.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <unordered_set>

namespace dozor::server {

RuleEvaluator::RuleEvaluator(HostStore& hosts, FindingStore& findings,
                             std::unique_ptr<rules::RuleEngine> engine, const Clock& clock,
                             RuleEvaluatorOptions options)
    : hosts_(hosts),
      findings_(findings),
      engine_(std::move(engine)),
      clock_(clock),
      options_(options) {
  for (const auto& rule : engine_->pack().rules) {
    meta_[rule.id] =
        RuleMeta{ParseSeverity(rule.severity).value_or(Severity::kInfo), rule.category};
  }
}

RuleEvaluator::~RuleEvaluator() { Stop(); }

void RuleEvaluator::Start() {
  std::lock_guard lock(mu_);
  if (started_) {
    return;
  }
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
}

void RuleEvaluator::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& request : org_requests_) {
      request.done.set_value(MakeError(ErrorCode::kUnavailable, "the rule evaluator is stopping"));
    }
    org_requests_.clear();
  }
  wake_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void RuleEvaluator::MarkDirty(const std::vector<CommittedHost>& hosts) {
  {
    std::lock_guard lock(mu_);
    for (const auto& host : hosts) {
      DirtyHost& dirty = dirty_hosts_[host.host_pk];
      dirty.org_id = host.org_id;
      dirty.inventory = dirty.inventory || host.inventory;
      dirty.health = dirty.health || host.health;
    }
  }
  wake_.notify_one();
}

Status RuleEvaluator::EvaluateOrganizationNow(int64_t org_id) {
  std::future<Status> done;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !started_) {
      return MakeError(ErrorCode::kUnavailable, "the rule evaluator is not running");
    }
    org_requests_.push_back(OrgRequest{org_id, {}});
    done = org_requests_.back().done.get_future();
  }
  wake_.notify_one();
  // A full evaluation of a large estate may be running; the caller (an HTTP request) waits.
  if (done.wait_for(std::chrono::seconds(120)) != std::future_status::ready) {
    return MakeError(ErrorCode::kUnavailable, "rule evaluation did not finish within 120 s");
  }
  return done.get();
}

RuleEvaluatorStats RuleEvaluator::Stats() const {
  std::lock_guard lock(stats_mu_);
  return stats_;
}

void RuleEvaluator::Loop() {
  int64_t next_full_ms = 0;  // run a full evaluation first
  while (true) {
    std::unordered_map<int64_t, DirtyHost> hosts;
    std::deque<OrgRequest> requests;
    {
      std::unique_lock lock(mu_);
      auto has_work = [&] {
        const int64_t now = clock_.NowMs();
        return stopping_ || !dirty_hosts_.empty() || !org_requests_.empty() ||
               now >= next_full_ms || now >= deferred_due_ms_;
      };
      // Short naps while estate runs are pending so debounced organisations get their turn, and
      // none longer than the wait of the first deferred host.
      auto nap = estate_pending_.empty() ? std::chrono::milliseconds(1000)
                                         : std::chrono::milliseconds(200);
      if (deferred_due_ms_ != INT64_MAX) {
        nap = std::clamp(std::chrono::milliseconds(deferred_due_ms_ - clock_.NowMs()),
                         std::chrono::milliseconds(1), nap);
      }
      wake_.wait_for(lock, nap, has_work);
      if (stopping_) {
        return;
      }
      hosts.swap(dirty_hosts_);
      requests.swap(org_requests_);
    }
    const int64_t now_ms = clock_.NowMs();
    hosts = TakeDueHosts(std::move(hosts), now_ms);
    // Runs one evaluation and counts it (runs, seconds, failures) for /metrics.
    auto timed = [this](uint64_t RuleEvaluatorStats::*runs, double RuleEvaluatorStats::*seconds,
                        const auto& evaluate) {
      const auto started = std::chrono::steady_clock::now();
      Status status = evaluate();
      const double took =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::lock_guard lock(stats_mu_);
      ++(stats_.*runs);
      stats_.*seconds += took;
      if (runs == &RuleEvaluatorStats::full_runs) stats_.last_full_seconds = took;
      if (!status.ok()) ++stats_.failures;
      return status;
    };
    if (now_ms >= next_full_ms && options_.jobs != nullptr &&
        !options_.jobs->Holds(SingletonJob::kEstateEvaluation)) {
      // Another replica runs the estate pass; this one evaluates the hosts its own commits touch.
      next_full_ms = now_ms + options_.full_interval_ms;
    } else if (now_ms >= next_full_ms) {
      auto started = std::chrono::steady_clock::now();
      if (auto full = timed(&RuleEvaluatorStats::full_runs, &RuleEvaluatorStats::full_seconds_sum,
                            [&] { return RunFull(now_ms); });
          !full.ok()) {
        spdlog::warn("rules: full evaluation failed: {}", full.error().ToString());
      } else {
        auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - started);
        spdlog::debug("rules: full evaluation took {} ms", took.count());
      }
      next_full_ms = now_ms + options_.full_interval_ms;
      hosts.clear();  // the full run covered them
      deferred_hosts_.clear();
      deferred_due_ms_ = INT64_MAX;
      std::erase_if(host_due_ms_, [&](const auto& entry) { return entry.second <= now_ms; });
      estate_pending_.clear();
    }
    const auto round_started = std::chrono::steady_clock::now();
    for (const auto& [host_pk, dirty] : hosts) {
      const auto started = std::chrono::steady_clock::now();
      if (auto status = timed(&RuleEvaluatorStats::host_runs, &RuleEvaluatorStats::host_seconds_sum,
                              [&] { return RunHost(host_pk, dirty, now_ms); });
          !status.ok()) {
        spdlog::warn("rules: host {}: {}", host_pk, status.error().ToString());
      }
      const int64_t took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - started)
                                  .count();
      host_due_ms_[host_pk] =
          now_ms + std::max(options_.host_min_interval_ms, options_.host_cost_factor * took_ms);
      estate_pending_[dirty.org_id] = true;
    }
    if (options_.host_rounds_half_duty && !hosts.empty()) {
      const int64_t round_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - round_started)
                                   .count();
      next_host_round_ms_ = clock_.NowMs() + round_ms;
    }
    for (auto it = estate_pending_.begin(); it != estate_pending_.end();) {
      int64_t& due = estate_due_ms_[it->first];
      if (now_ms < due) {
        ++it;
        continue;
      }
      if (auto status = timed(&RuleEvaluatorStats::org_runs, &RuleEvaluatorStats::org_seconds_sum,
                              [&] { return RunOrganization(it->first, now_ms); });
          !status.ok()) {
        spdlog::warn("rules: organisation {}: {}", it->first, status.error().ToString());
      }
      due = now_ms + options_.estate_debounce_ms;
      it = estate_pending_.erase(it);
    }
    for (auto& request : requests) {
      request.done.set_value(RunOrganizationFully(request.org_id, clock_.NowMs()));
    }
  }
}

std::unordered_map<int64_t, RuleEvaluator::DirtyHost> RuleEvaluator::TakeDueHosts(
    std::unordered_map<int64_t, DirtyHost> marked, int64_t now_ms) {
  for (const auto& [host_pk, dirty] : marked) {
    DirtyHost& waiting = deferred_hosts_[host_pk];
    waiting.org_id = dirty.org_id;
    waiting.inventory = waiting.inventory || dirty.inventory;
    waiting.health = waiting.health || dirty.health;
  }
  std::unordered_map<int64_t, DirtyHost> due;
  if (now_ms < next_host_round_ms_) {
    deferred_due_ms_ = next_host_round_ms_;  // the last round's pause is not over
    return due;
  }
  deferred_due_ms_ = INT64_MAX;
  for (auto it = deferred_hosts_.begin(); it != deferred_hosts_.end();) {
    auto last = host_due_ms_.find(it->first);
    if (last == host_due_ms_.end() || last->second <= now_ms) {
      due.emplace(it->first, it->second);
      it = deferred_hosts_.erase(it);
    } else {
      deferred_due_ms_ = std::min(deferred_due_ms_, last->second);
      ++it;
    }
  }
  return due;
}

Status RuleEvaluator::Apply(const rules::EvaluationResult& result, int64_t now_ms) {
  for (const auto& error : result.rule_errors) {
    spdlog::warn("rules: {}", error);
  }
  EvaluationInput input;
  input.host_scope = result.scope == rules::RuleScope::kHost;
  input.rule_ids = result.rule_ids;
  input.targets = result.targets;
  input.meta = meta_;
  input.hits.reserve(result.hits.size());
  for (const auto& hit : result.hits) {
    input.hits.push_back(FindingHit{hit.rule_id, hit.org_id, hit.host_id, hit.evidence_json,
                                    hit.sustain_only, hit.object});
  }
  auto applied = findings_.ApplyEvaluation(input, now_ms);
  if (!applied.ok()) {
    return applied.error();
  }
  if (applied->opened + applied->regressed + applied->resolved > 0) {
    spdlog::info("rules: {} opened, {} regressed, {} resolved", applied->opened, applied->regressed,
                 applied->resolved);
  }
  return OkStatus();
}

Result<std::optional<rules::ActiveTargets>> ActiveFindingTargets(FindingStore& finding_store) {
  FindingFilter filter;
  filter.states.assign(std::begin(kActiveFindingStates), std::end(kActiveFindingStates));
  filter.limit = kMaxActiveTargets + 1;
  DOZOR_ASSIGN_OR_RETURN(std::vector<Finding> findings, finding_store.ListFindings(filter));
  if (findings.size() > static_cast<size_t>(kMaxActiveTargets)) {
    return std::optional<rules::ActiveTargets>();  // too many to list: sustain runs everywhere
  }
  rules::ActiveTargets active;
  for (const auto& finding : findings) {
    // target is "host:<agents.id>" or "org:<organizations.id>"
    auto colon = finding.target.find(':');
    if (colon == std::string::npos) {
      continue;
    }
    try {
      active[finding.rule_id].push_back(std::stoll(finding.target.substr(colon + 1)));
    } catch (const std::exception&) {
      spdlog::warn("rules: finding {} has a malformed target '{}'", finding.id, finding.target);
    }
  }
  // A host appears once per rule however many of its objects have a finding.
  for (auto& [rule_id, targets] : active) {
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  }
  return std::optional<rules::ActiveTargets>(std::move(active));
}

Status RuleEvaluator::RunFull(int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto active, ActiveFindingTargets(findings_));
  DOZOR_ASSIGN_OR_RETURN(std::vector<rules::EvaluationResult> results,
                         engine_->EvaluateAll(now_ms, active ? &*active : nullptr));
  for (const auto& result : results) {
    DOZOR_RETURN_IF_ERROR(Apply(result, now_ms));
  }
  std::vector<std::string> live;
  live.reserve(engine_->pack().rules.size() + engine_->pack().errors.size());
  for (const auto& rule : engine_->pack().rules) {
    live.push_back(rule.id);
  }
  // A rule file that fails to load (say, an override with a typo) is broken, not removed: its
  // findings keep their state and history until it is fixed. Rule files are named <id>.toml.
  for (const auto& error : engine_->pack().errors) {
    live.push_back(std::filesystem::path(error.source).stem().string());
  }
  DOZOR_RETURN_IF_ERROR(findings_.ResolveFindingsOfRemovedRules(live, now_ms));
  DOZOR_RETURN_IF_ERROR(ResolveFindingsOfRevokedHosts(now_ms));
  DOZOR_RETURN_IF_ERROR(findings_.ExpireWaivers(now_ms));
  return OkStatus();
}

Status RuleEvaluator::ResolveFindingsOfRevokedHosts(int64_t now_ms) {
  // A revoked (decommissioned) host is never evaluated again, so its findings would stay active
  // for ever and keep counting against the client: resolve them, one evaluation per rule with
  // no hits for those hosts.
  DOZOR_ASSIGN_OR_RETURN(auto keys, hosts_.ListLiveHostKeys());
  std::unordered_set<int64_t> live;
  for (const auto& [host_pk, org_id] : keys) {
    live.insert(host_pk);
  }
  FindingFilter filter;
  filter.states.assign(std::begin(kActiveFindingStates), std::end(kActiveFindingStates));
  filter.limit = kMaxActiveTargets;
  DOZOR_ASSIGN_OR_RETURN(std::vector<Finding> findings, findings_.ListFindings(filter));
  std::map<std::string, std::vector<int64_t>> gone;  // rule -> revoked host pks
  for (const auto& finding : findings) {
    if (finding.target.rfind("host:", 0) != 0) {
      continue;
    }
    try {
      int64_t host_pk = std::stoll(finding.target.substr(5));
      if (live.count(host_pk) == 0) {
        gone[finding.rule_id].push_back(host_pk);
      }
    } catch (const std::exception&) {
      continue;
    }
  }
  for (auto& [rule_id, hosts] : gone) {
    std::sort(hosts.begin(), hosts.end());
    hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
    EvaluationInput input;
    input.host_scope = true;
    input.rule_ids = {rule_id};
    input.targets = std::move(hosts);
    input.meta = meta_;
    DOZOR_ASSIGN_OR_RETURN(auto applied, findings_.ApplyEvaluation(input, now_ms));
    spdlog::info("rules: resolved {} finding(s) of {} on revoked hosts", applied.resolved, rule_id);
  }
  return OkStatus();
}

Status RuleEvaluator::RunHost(int64_t host_pk, const DirtyHost& dirty, int64_t now_ms) {
  auto filter = dirty.inventory ? rules::RuleFilter::kAll : rules::RuleFilter::kHealthOnly;
  DOZOR_ASSIGN_OR_RETURN(rules::EvaluationResult result,
                         engine_->EvaluateHost(host_pk, now_ms, filter));
  return Apply(result, now_ms);
}

Status RuleEvaluator::RunOrganization(int64_t org_id, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(rules::EvaluationResult result,
                         engine_->EvaluateOrganization(org_id, now_ms));
  return Apply(result, now_ms);
}

Status RuleEvaluator::RunOrganizationFully(int64_t org_id, int64_t now_ms) {
  DOZOR_ASSIGN_OR_RETURN(auto keys, hosts_.ListLiveHostKeys());
  for (const auto& [host_pk, host_org] : keys) {
    if (host_org == org_id) {
      DOZOR_RETURN_IF_ERROR(RunHost(host_pk, DirtyHost{org_id, true, true}, now_ms));
    }
  }
  DOZOR_RETURN_IF_ERROR(RunOrganization(org_id, now_ms));
  estate_pending_.erase(org_id);
  DOZOR_RETURN_IF_ERROR(findings_.ExpireWaivers(now_ms));
  return OkStatus();
}

}  // namespace dozor::server
