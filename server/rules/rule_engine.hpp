// Evaluates a RulePack against the store's SQLite file over the fact views (fact_views.sql).
//
// The engine owns two read-only connections of its own: "full" (views over every live host; used
// by EvaluateAll) and "scoped" (views filtered to the hosts in temp.scope_hosts; used by
// EvaluateHost and EvaluateOrganization). Rule SQL runs under an authorizer that allows only
// SELECT, reads of the temp fact views (and tables only through them) and whitelisted functions,
// with a per-statement deadline and row caps.
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

namespace dozor::server::rules {

struct RuleHit {
  std::string rule_id;
  int64_t org_id = 0;
  std::optional<int64_t> host_id;  // set for per-host rules (agents.id)
  std::string evidence_json;       // JSON array of row objects (non-key columns of each row);
                                   // empty on a keep-as-is hit (no fresh data, see EngineOptions)
  bool sustain_only = false;       // in sustain but not in condition: keeps, never opens
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
  int statement_timeout_ms = 2000;
  int max_evidence_rows_per_target = 20;
  int64_t max_rows_per_rule = 200000;
  // A host whose newest health sample is older than this has no window to judge: rules over the
  // health windows leave its findings as they are (host-not-reporting speaks for it) instead of
  // resolving them for lack of data.
  int64_t health_stale_after_ms = 30 * 60 * 1000;
};

class RuleEngine {
 public:
  // Opens the store file read-only, creates the fact views and prepares every rule; rules whose
  // SQL fails (syntax, forbidden table/function, missing host_id/org_id, unknown :param) are
  // moved from the pack to pack().errors with file:line. Fails only if the file cannot be used.
  static Result<std::unique_ptr<RuleEngine>> Open(const std::string& db_path, RulePack pack,
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
  // Fact views a rule reads (as recorded by the authorizer at prepare time), e.g. {"health_fs"}.
  [[nodiscard]] std::set<std::string> ViewsReadBy(std::string_view rule_id) const;
  // True when the rule reads health data (see RuleFilter::kHealthOnly).
  [[nodiscard]] bool IsHealthRule(std::string_view rule_id) const;

  struct Impl;

 private:
  explicit RuleEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dozor::server::rules
