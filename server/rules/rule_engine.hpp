// Evaluates a RulePack over the fact views of a FactSource (store/fact_source.hpp), whatever
// backend holds them.
//
// The engine owns two fact sessions: "full" (views over every live host; used by EvaluateAll)
// and "scoped" (views restricted to a scope of hosts; used by EvaluateHost and
// EvaluateOrganization). The backend guards what rule SQL may do (one SELECT over the fact views,
// whitelisted functions, a per-statement deadline); the engine adds the rule dialect's
// portability check (rules/dialect.hpp), parameter binding, row caps, evidence and hits.
//
// Thread-safety: one RuleEngine is used by one thread at a time. Several engines may coexist.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "dozor/common/result.hpp"
#include "rules/rule.hpp"
#include "store/fact_source.hpp"

namespace dozor::server::rules {

struct RuleHit {
  std::string rule_id;
  int64_t org_id = 0;
  std::optional<int64_t> host_id;  // set for per-host rules (agents.id)
  // The object column's value (rule.hpp) for a rule about objects: one hit per object of the
  // target, carrying that object's rows. "" for other rules.
  std::string object;
  std::string evidence_json;  // JSON array of row objects (non-key columns of each row); empty
                              // on a keep marker: the target's findings that no hit names stay
                              // as they are (no fresh data, or more objects than listed)
  bool sustain_only = false;  // in sustain but not in condition: keeps, never opens
};

// One evaluation: every rule of rule_ids was evaluated over every target of targets (host ids
// for kHost, org ids for kEstate). A (rule, target) pair without a hit is "clear". Rules that
// failed at run time are NOT in rule_ids (their findings must stay as they are) and are
// described in rule_errors.
struct EvaluationResult {
  std::vector<std::string> rule_ids;
  RuleScope scope = RuleScope::kHost;
  std::vector<int64_t> targets;
  std::vector<RuleHit> hits;
  std::vector<std::string> rule_errors;
};

// Targets (host ids for per-host rules, org ids for estate rules) that currently have an active
// finding, by rule id: the only ones a sustain query can keep.
using ActiveTargets = std::unordered_map<std::string, std::vector<int64_t>>;

// kHealthOnly: rules that read health, health_fs, health_nic, fs_trend or hosts.last_seen_ms;
// kInventoryOnly: all the others. Used to re-evaluate only what a report can change.
enum class RuleFilter { kAll, kHealthOnly, kInventoryOnly };

struct EngineOptions {
  // Bounds a rule's time; its memory is bounded by the evidence cap per target (rows keyed to
  // anything but a target of the evaluation are skipped unread). There is deliberately no row
  // budget over the whole estate: one client's unusual data (50,000 uid-0 accounts) would then
  // fail the rule for every client.
  int statement_timeout_ms = 2000;
  int max_evidence_rows_per_target = 20;  // per finding: per object for rules about objects
  // Objects one rule may name on one target (mounts, interfaces, services of one host); beyond
  // it the rest are not listed and their findings are kept as they are (a keep marker), so a
  // host with 5,000 failed units costs bounded memory and resolves nothing by omission.
  int max_objects_per_target = 64;
  // A host whose newest health sample is older than this has no window to judge: rules over the
  // health windows leave its findings as they are (host-not-reporting speaks for it) instead of
  // resolving them for lack of data.
  int64_t health_stale_after_ms = 30 * 60 * 1000;
};

class RuleEngine {
 public:
  // Opens two sessions of `facts` and prepares every rule; rules whose SQL fails (syntax,
  // forbidden table/function, outside the rule dialect, missing host_id/org_id, unknown :param)
  // are moved from the pack to pack().errors with file:line:col. Fails only if the facts cannot
  // be read at all. `facts` is needed only during Open (the sessions live in the engine).
  static Result<std::unique_ptr<RuleEngine>> Open(FactSource& facts, RulePack pack,
                                                  const EngineOptions& options = {});
  ~RuleEngine();
  RuleEngine(const RuleEngine&) = delete;
  RuleEngine& operator=(const RuleEngine&) = delete;

  // Per-host rules for one live host. A revoked/unknown host gives an empty target list.
  Result<EvaluationResult> EvaluateHost(int64_t host_id, int64_t now_ms,
                                        RuleFilter filter = RuleFilter::kAll);
  // Estate-wide rules for one organisation (its live hosts only).
  Result<EvaluationResult> EvaluateOrganization(int64_t org_id, int64_t now_ms);
  // Per-host rules over all live hosts (one result, scope kHost) and estate rules over all
  // organisations (one result, scope kEstate). With `active`, sustain queries run only for the
  // targets listed there (sustain never opens a finding, so nothing else can be affected); without
  // it they run over everything.
  Result<std::vector<EvaluationResult>> EvaluateAll(int64_t now_ms,
                                                    const ActiveTargets* active = nullptr);

  [[nodiscard]] const RulePack& pack() const;
  // Fact views a rule reads (as the backend recorded at prepare time), e.g. {"health_fs"}.
  [[nodiscard]] std::set<std::string> ViewsReadBy(std::string_view rule_id) const;
  // True when the rule reads health data (see RuleFilter::kHealthOnly).
  [[nodiscard]] bool IsHealthRule(std::string_view rule_id) const;

  struct Impl;

 private:
  explicit RuleEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dozor::server::rules
