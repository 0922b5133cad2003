// Keeps findings current: evaluates the rule pack when a host's data changes and on a timer, and
// hands each evaluation to the store's finding state machine.
//
// One thread owns the RuleEngine (its fact sessions are single-threaded). The store's commit
// observer only marks hosts dirty, so ingest never waits for rules. Work per wake-up:
//   - every dirty host: its per-host rules (health-only reports run only the rules that read
//     health; inventory reports run the others too), at most once per `host_min_interval_ms`:
//     a host whose reports arrive faster (a backlog replayed after an outage, a flood) is
//     evaluated once more when the interval has passed, over everything that arrived meanwhile;
//   - every organisation with a dirty host, at most once per `estate_debounce_ms`: its
//     estate-wide rules;
//   - every `full_interval_ms`: everything (time-based rules such as "host not reporting"),
//     waiver expiry and the resolution of findings whose rule was removed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "dozor/common/clock.hpp"
#include "dozor/common/result.hpp"
#include "rules/rule_engine.hpp"
#include "store/finding_store.hpp"
#include "store/host_store.hpp"
#include "store/job_coordinator.hpp"

namespace dozor::server {

// What the evaluator has done since start, for /metrics.
struct RuleEvaluatorStats {
  uint64_t full_runs = 0;  // whole-estate evaluations
  double full_seconds_sum = 0;
  double last_full_seconds = 0;
  uint64_t host_runs = 0;  // one host's rules after its data changed
  double host_seconds_sum = 0;
  uint64_t org_runs = 0;  // an organisation's estate-wide rules
  double org_seconds_sum = 0;
  uint64_t failures = 0;
};

struct RuleEvaluatorOptions {
  int64_t full_interval_ms = 300'000;
  // With replicas: the full pass runs only where this says the estate-evaluation job is held
  // (store/job_coordinator.hpp); null = always here. Must outlive the evaluator.
  JobCoordinator* jobs = nullptr;
  int64_t estate_debounce_ms = 30'000;
  // Why 1 s: rules read windows of minutes, so evaluating a host again within a second of its
  // last run changes nothing a person could see, while without a floor a host sending reports
  // as fast as the server takes them kept the evaluator thread busy on every commit (~35 % of
  // the server's CPU in run_server_bench.sh throughput).
  int64_t host_min_interval_ms = 1'000;
  // And never sooner than this many times its last run took: a host whose window is expensive
  // (an agent whose clock runs hours ahead keeps every sample "in the window") may use at most
  // about 1/host_cost_factor of the evaluator's time, so other clients' findings stay prompt.
  int64_t host_cost_factor = 10;
  // After a round of host runs that took T, the next round starts no sooner than T later: host
  // evaluation uses at most half of one core, and when dirty hosts come faster than that they
  // wait and are evaluated together, never dropped. A 10,000-host estate at a 60 s cadence needs
  // ~17 % of a core, so only an overload (a flood, a replay, future-stamped windows) meets it,
  // and then the cores go to committing and acknowledging reports first.
  bool host_rounds_half_duty = true;
};

// Targets with an active finding, by rule (what sustain queries can keep); empty optional when
// there are more than kMaxActiveTargets (the caller then runs sustain over everything).
inline constexpr int kMaxActiveTargets = 50000;
Result<std::optional<rules::ActiveTargets>> ActiveFindingTargets(FindingStore& finding_store);

class RuleEvaluator {
 public:
  // It needs two areas of the store: the hosts (which are live) and the findings (what the
  // rules' results become); the facts come through the engine's own FactSource.
  RuleEvaluator(HostStore& hosts, FindingStore& findings, std::unique_ptr<rules::RuleEngine> engine,
                const Clock& clock, RuleEvaluatorOptions options);
  ~RuleEvaluator();
  RuleEvaluator(const RuleEvaluator&) = delete;
  RuleEvaluator& operator=(const RuleEvaluator&) = delete;

  // Starts the thread; the first thing it does is a full evaluation.
  void Start();
  // Finishes the evaluation in progress, then stops. Idempotent.
  void Stop();

  // For the store's commit observer: cheap, thread-safe, never blocks on evaluation.
  void MarkDirty(const std::vector<CommittedHost>& hosts);

  // Evaluates one organisation (its hosts and its estate rules) on the evaluator thread and waits
  // for the result (the management API's "evaluate now"). kUnavailable when stopped.
  Status EvaluateOrganizationNow(int64_t org_id);

  [[nodiscard]] RuleEvaluatorStats Stats() const;

  // The pack in use (immutable after construction).
  const rules::RulePack& pack() const { return engine_->pack(); }

 private:
  struct DirtyHost {
    int64_t org_id = 0;
    bool inventory = false;
    bool health = false;
  };
  struct OrgRequest {
    int64_t org_id = 0;
    std::promise<Status> done;
  };

  void Loop();
  // Adds the hosts just marked dirty to the deferred ones and returns those whose
  // host_min_interval_ms has passed (evaluator thread only).
  std::unordered_map<int64_t, DirtyHost> TakeDueHosts(std::unordered_map<int64_t, DirtyHost> marked,
                                                      int64_t now_ms);
  Status RunFull(int64_t now_ms);
  Status ResolveFindingsOfRevokedHosts(int64_t now_ms);
  Status RunHost(int64_t host_pk, const DirtyHost& dirty, int64_t now_ms);
  Status RunOrganization(int64_t org_id, int64_t now_ms);
  Status RunOrganizationFully(int64_t org_id, int64_t now_ms);
  Status Apply(const rules::EvaluationResult& result, int64_t now_ms);

  HostStore& hosts_;
  FindingStore& findings_;
  std::unique_ptr<rules::RuleEngine> engine_;
  const Clock& clock_;
  RuleEvaluatorOptions options_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool started_ = false;
  std::unordered_map<int64_t, DirtyHost> dirty_hosts_;
  std::deque<OrgRequest> org_requests_;
  std::thread thread_;

  // Evaluator thread only.
  std::unordered_map<int64_t, int64_t> estate_due_ms_;  // org -> earliest next estate run
  std::unordered_map<int64_t, bool> estate_pending_;
  std::unordered_map<int64_t, int64_t> host_due_ms_;       // host -> earliest next host run
  std::unordered_map<int64_t, DirtyHost> deferred_hosts_;  // dirty, waiting for that time
  int64_t deferred_due_ms_ = INT64_MAX;                    // the earliest of their due times
  int64_t next_host_round_ms_ = 0;                         // no host round before this
  std::unordered_map<std::string, RuleMeta> meta_;
  mutable std::mutex stats_mu_;
  RuleEvaluatorStats stats_;
};

}  // namespace dozor::server
