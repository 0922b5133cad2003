#include "rules/rule_engine.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "domain/finding_lifecycle.hpp"
#include "dozor/common/text.hpp"
#include "dozor/common/version.hpp"
#include "rules/dialect.hpp"

namespace dozor::server::rules {
namespace {

using Json = nlohmann::ordered_json;

const std::set<std::string>& HealthViews() {
  static const std::set<std::string> kViews = {"health",   "health_fs",     "health_nic",
                                               "fs_trend", "health_latest", "health_fs_latest"};
  return kViews;
}

FactValue ToFactValue(const ParamValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    return *i;
  }
  if (const auto* d = std::get_if<double>(&value)) {
    return *d;
  }
  if (const auto* b = std::get_if<bool>(&value)) {
    return int64_t{*b ? 1 : 0};
  }
  return std::get<std::string>(value);
}

// A rule statement prepared on one session.
struct RuleStatement {
  std::unique_ptr<FactStatement> stmt;
  size_t key_column = 0;
  std::optional<size_t> object_column;  // the rule's object column (rule.hpp), if it names one
  std::optional<size_t> now_index;      // unset: :now_ms not used
};

struct CompiledRule {
  size_t rule_index = 0;
  RuleStatement condition_full, sustain_full, condition_scoped, sustain_scoped;
  std::set<std::string> views;
  bool health = false;  // re-run on health reports (window views or hosts.last_seen_ms)
  bool window = false;  // reads the health windows: needs fresh samples to say anything
};

// Turns a byte offset of `sql` into the line and column of the rule file.
void PointAt(std::string_view sql, int offset, RuleLoadError& error) {
  if (offset < 0 || static_cast<size_t>(offset) > sql.size()) {
    return;
  }
  std::string_view before = sql.substr(0, static_cast<size_t>(offset));
  error.line += static_cast<int>(std::count(before.begin(), before.end(), '\n'));
  size_t last_newline = before.rfind('\n');
  error.column = static_cast<int>(
      last_newline == std::string_view::npos ? before.size() + 1 : before.size() - last_newline);
}

// Prepares one rule SQL text on `session`; on failure fills `error` with file:line:col. The
// backend refuses what is unsafe (writes, tables, unknown functions); the dialect checker then
// refuses what would not run the same on every backend.
bool PrepareRuleSql(FactSession& session, const Rule& rule, const std::string& sql, int first_line,
                    std::string_view what, std::set<std::string>& views, bool& reads_last_seen,
                    RuleStatement& out, RuleLoadError& error) {
  error.source = rule.source;
  error.line = first_line > 0 ? first_line : 1;
  error.column = 1;
  auto fail = [&](std::string message) {
    error.message = std::string(what) + ": " + message;
    return false;
  };
  int offset = -1;
  auto prepared = session.PrepareRule(sql, &offset);
  if (!prepared.ok()) {
    PointAt(sql, offset, error);
    return fail(prepared.error().message);
  }
  if (auto violation = CheckRuleDialect(sql); violation) {
    PointAt(sql, static_cast<int>(violation->offset), error);
    return fail(violation->message + " (docs/rule-language.md)");
  }
  FactStatement& stmt = **prepared;
  std::string_view key = rule.scope == RuleScope::kHost ? "host_id" : "org_id";
  const auto& columns = stmt.column_names();
  auto key_it = std::find_if(columns.begin(), columns.end(),
                             [key](const std::string& name) { return Lower(name) == key; });
  if (key_it == columns.end()) {
    return fail(std::string(RuleScopeName(rule.scope)) + " rules must return a column " +
                std::string(key));
  }
  out.key_column = static_cast<size_t>(key_it - columns.begin());
  out.object_column.reset();
  if (!rule.object_column.empty()) {
    const std::string object = Lower(rule.object_column);
    auto object_it = std::find_if(columns.begin(), columns.end(),
                                  [&object](const std::string& n) { return Lower(n) == object; });
    if (object_it == columns.end() || object == key) {
      return fail("the object column '" + rule.object_column +
                  "' is not among the result columns (object = names a column of every row)");
    }
    out.object_column = static_cast<size_t>(object_it - columns.begin());
  }
  out.now_index.reset();
  const auto& parameters = stmt.parameter_names();
  for (size_t i = 0; i < parameters.size(); ++i) {
    const std::string& name = parameters[i];
    if (name.empty()) {
      return fail("use named parameters (:name), not ? or $name");
    }
    if (name == "now_ms") {
      out.now_index = i;
      continue;
    }
    if (name == "server_version") {
      // Fixed for the life of the process, so bound once here.
      stmt.Bind(i, std::string(kVersion));
      continue;
    }
    auto param = std::find_if(rule.params.begin(), rule.params.end(),
                              [&name](const auto& p) { return p.first == name; });
    if (param == rule.params.end()) {
      return fail("unknown parameter :" + name + " (declare it under [params])");
    }
    stmt.Bind(i, ToFactValue(param->second));
  }
  views.insert(stmt.views_read().begin(), stmt.views_read().end());
  reads_last_seen = reads_last_seen || stmt.columns_read().count("hosts.last_seen_ms") != 0;
  out.stmt = std::move(prepared).value();
  return true;
}

void AppendColumn(Json& object, const std::string& name, const FactValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    object[name] = *i;
  } else if (const auto* d = std::get_if<double>(&value)) {
    object[name] = *d;
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    object[name] = *s;
  } else {
    object[name] = nullptr;
  }
}

// The object a row is about, as kept on a finding: printable UTF-8 (control bytes and broken
// sequences escaped: it comes from a client machine), cut to kMaxFindingObjectBytes on a
// character boundary. NULL is "" (the whole target).
std::string ObjectName(const FactValue& value) {
  std::string text;
  if (const auto* i = std::get_if<int64_t>(&value)) {
    text = std::to_string(*i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    text = Json(*d).dump();
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    text = EscapeControlText(*s);
  }
  if (text.size() <= kMaxFindingObjectBytes) {
    return text;
  }
  size_t end = 0;
  while (end < text.size()) {
    size_t length = std::max<size_t>(1, Utf8SequenceLength(text, end));
    if (end + length > kMaxFindingObjectBytes) {
      break;
    }
    end += length;
  }
  return text.substr(0, end);
}

// One target's rows: by object ("" when the rule names none), and whether objects were left out
// for being over max_objects_per_target.
struct TargetEvidence {
  std::map<std::string, Json> by_object;  // object -> JSON array of evidence rows
  bool objects_left_out = false;
};
using TargetRows = std::map<int64_t, TargetEvidence>;     // target -> its rows
using TargetOrgs = std::unordered_map<int64_t, int64_t>;  // target of an evaluation -> its org

}  // namespace

struct RuleEngine::Impl {
  RulePack pack;
  EngineOptions options;
  // Sessions before the statements prepared on them: members are destroyed in reverse order.
  std::unique_ptr<FactSession> full;
  std::unique_ptr<FactSession> scoped;
  std::vector<CompiledRule> compiled;
  std::unordered_map<std::string, size_t> by_id;  // rule id -> index in compiled

  Status Prepare();
  // Evidence rows by target; rows keyed to anything outside `targets` are skipped.
  Status RunStatement(FactSession& session, const RuleStatement& statement, int64_t now_ms,
                      const TargetOrgs& targets, TargetRows& out);
  void EvaluateRules(FactSession& session, bool use_scoped, RuleScope scope,
                     const std::function<bool(const CompiledRule&)>& select,
                     const std::unordered_map<int64_t, int64_t>& target_org, int64_t now_ms,
                     EvaluationResult& result, const ActiveTargets* active = nullptr);
  // Runs a rule's sustain query on the scoped session over only `targets` (hosts, or the
  // hosts of organisations for estate rules).
  Status RunSustainScoped(const CompiledRule& compiled_rule, RuleScope scope,
                          const std::vector<int64_t>& targets, int64_t now_ms,
                          const TargetOrgs& target_org, TargetRows& out);
  // A window rule says nothing about a host without fresh samples: every active finding of such a
  // host gets an evidence-less sustain hit, which the store treats as "leave it as it is". Without
  // `active` (too many findings to list) those findings resolve as before.
  void KeepStaleWindowFindings(EvaluationResult& result,
                               const std::unordered_map<int64_t, int64_t>& host_org,
                               const std::unordered_set<int64_t>& stale_hosts,
                               const ActiveTargets* active) const {
    if (active == nullptr || stale_hosts.empty()) {
      return;
    }
    for (const std::string& rule_id : result.rule_ids) {
      auto compiled_it = by_id.find(rule_id);
      auto targets = active->find(rule_id);
      if (compiled_it == by_id.end() || !compiled[compiled_it->second].window ||
          targets == active->end()) {
        continue;
      }
      for (int64_t host : targets->second) {
        auto org = host_org.find(host);
        // Even where the stale window still gave a hit: findings of objects it did not name
        // must not resolve for lack of data either.
        if (stale_hosts.count(host) == 0 || org == host_org.end()) {
          continue;
        }
        RuleHit keep;
        keep.rule_id = rule_id;
        keep.org_id = org->second;
        keep.host_id = host;
        keep.sustain_only = true;  // evidence_json stays empty: "no fresh data"
        result.hits.push_back(std::move(keep));
      }
    }
  }
};

Status RuleEngine::Impl::Prepare() {
  std::vector<Rule> kept;
  for (size_t i = 0; i < pack.rules.size(); ++i) {
    const Rule& rule = pack.rules[i];
    CompiledRule compiled_rule;
    RuleLoadError error;
    bool reads_last_seen = false;
    bool ok =
        PrepareRuleSql(*full, rule, rule.condition_sql, rule.condition_line, "condition",
                       compiled_rule.views, reads_last_seen, compiled_rule.condition_full, error) &&
        PrepareRuleSql(*scoped, rule, rule.condition_sql, rule.condition_line, "condition",
                       compiled_rule.views, reads_last_seen, compiled_rule.condition_scoped, error);
    if (ok && !rule.sustain_sql.empty()) {
      ok =
          PrepareRuleSql(*full, rule, rule.sustain_sql, rule.sustain_line, "sustain",
                         compiled_rule.views, reads_last_seen, compiled_rule.sustain_full, error) &&
          PrepareRuleSql(*scoped, rule, rule.sustain_sql, rule.sustain_line, "sustain",
                         compiled_rule.views, reads_last_seen, compiled_rule.sustain_scoped, error);
    }
    if (!ok) {
      pack.errors.push_back(std::move(error));
      continue;
    }
    for (const std::string& view : compiled_rule.views) {
      compiled_rule.window = compiled_rule.window || HealthViews().count(view) != 0;
    }
    compiled_rule.health = compiled_rule.window || reads_last_seen;
    compiled_rule.rule_index = kept.size();
    by_id.emplace(rule.id, compiled.size());
    compiled.push_back(std::move(compiled_rule));
    kept.push_back(rule);
  }
  pack.rules = std::move(kept);
  return OkStatus();
}

Status RuleEngine::Impl::RunStatement(FactSession& session, const RuleStatement& statement,
                                      int64_t now_ms, const TargetOrgs& targets, TargetRows& out) {
  if (statement.now_index) {
    statement.stmt->Bind(*statement.now_index, now_ms);
  }
  const auto& names = statement.stmt->column_names();
  return session.Run(
      *statement.stmt, std::chrono::milliseconds(options.statement_timeout_ms),
      [&](const FactRow& row) {
        if (row.IsNull(statement.key_column)) {
          return true;
        }
        const int64_t target = row.Int(statement.key_column);
        if (targets.count(target) == 0) {
          return true;  // not a live host / organisation of this evaluation: never stored
        }
        TargetEvidence& evidence_of_target = out[target];
        std::string object;
        if (statement.object_column) {
          object = ObjectName(row.Get(*statement.object_column));
        }
        auto found = evidence_of_target.by_object.find(object);
        if (found == evidence_of_target.by_object.end()) {
          if (evidence_of_target.by_object.size() >=
              static_cast<size_t>(std::max(1, options.max_objects_per_target))) {
            evidence_of_target.objects_left_out = true;
            return true;
          }
          found = evidence_of_target.by_object.emplace(std::move(object), Json::array()).first;
        }
        Json& rows = found->second;
        if (rows.size() >= static_cast<size_t>(options.max_evidence_rows_per_target)) {
          return true;
        }
        Json evidence = Json::object();
        for (size_t c = 0; c < row.size(); ++c) {
          if (c != statement.key_column) {
            AppendColumn(evidence, names[c], row.Get(c));
          }
        }
        rows.push_back(std::move(evidence));
        return true;
      });
}

Status RuleEngine::Impl::RunSustainScoped(const CompiledRule& compiled_rule, RuleScope scope,
                                          const std::vector<int64_t>& targets, int64_t now_ms,
                                          const TargetOrgs& target_org, TargetRows& out) {
  DOZOR_RETURN_IF_ERROR(scope == RuleScope::kHost ? scoped->ScopeToHosts(targets)
                                                  : scoped->ScopeToOrganizations(targets));
  return RunStatement(*scoped, compiled_rule.sustain_scoped, now_ms, target_org, out);
}

void RuleEngine::Impl::EvaluateRules(FactSession& session, bool use_scoped, RuleScope scope,
                                     const std::function<bool(const CompiledRule&)>& select,
                                     const std::unordered_map<int64_t, int64_t>& target_org,
                                     int64_t now_ms, EvaluationResult& result,
                                     const ActiveTargets* active) {
  result.scope = scope;
  for (const CompiledRule& compiled_rule : compiled) {
    const Rule& rule = pack.rules[compiled_rule.rule_index];
    if (rule.scope != scope || !select(compiled_rule)) {
      continue;
    }
    const RuleStatement& condition =
        use_scoped ? compiled_rule.condition_scoped : compiled_rule.condition_full;
    const RuleStatement& sustain =
        use_scoped ? compiled_rule.sustain_scoped : compiled_rule.sustain_full;
    TargetRows fired;
    TargetRows sustained;
    Status status = RunStatement(session, condition, now_ms, target_org, fired);
    if (status.ok() && sustain.stmt != nullptr) {
      if (active == nullptr) {
        status = RunStatement(session, sustain, now_ms, target_org, sustained);
      } else if (auto it = active->find(rule.id); it != active->end() && !it->second.empty()) {
        // Sustain can only keep a finding that is active, so over the whole estate it runs
        // for those targets alone (a handful) rather than scanning every host's window again.
        status = RunSustainScoped(compiled_rule, scope, it->second, now_ms, target_org, sustained);
      }
    }
    if (!status.ok()) {
      result.rule_errors.push_back(rule.id + " (" + rule.source + "): " + status.error().message);
      continue;
    }
    result.rule_ids.push_back(rule.id);
    auto add_hit = [&](int64_t target, const std::string& object, const Json* rows,
                       bool sustain_only) {
      auto org = target_org.find(target);
      if (org == target_org.end()) {
        return;  // not a live host / organisation in this evaluation
      }
      RuleHit hit;
      hit.rule_id = rule.id;
      hit.org_id = org->second;
      if (scope == RuleScope::kHost) {
        hit.host_id = target;
      }
      hit.object = object;
      if (rows != nullptr) {
        hit.evidence_json = rows->dump(-1, ' ', false, Json::error_handler_t::replace);
      }
      hit.sustain_only = sustain_only;
      result.hits.push_back(std::move(hit));
    };
    for (const auto& [target, evidence] : fired) {
      for (const auto& [object, rows] : evidence.by_object) {
        add_hit(target, object, &rows, false);
      }
    }
    for (const auto& [target, evidence] : sustained) {
      auto condition = fired.find(target);
      for (const auto& [object, rows] : evidence.by_object) {
        if (condition == fired.end() || condition->second.by_object.count(object) == 0) {
          add_hit(target, object, &rows, true);
        }
      }
    }
    // Objects over the cap were not listed: a keep marker, so their findings do not resolve
    // for having been left out.
    std::set<int64_t> left_out;
    for (const TargetRows* rows : {&fired, &sustained}) {
      for (const auto& [target, evidence] : *rows) {
        if (evidence.objects_left_out) {
          left_out.insert(target);
        }
      }
    }
    for (int64_t target : left_out) {
      add_hit(target, "", nullptr, true);
    }
  }
}

RuleEngine::RuleEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RuleEngine::~RuleEngine() = default;

Result<std::unique_ptr<RuleEngine>> RuleEngine::Open(FactSource& facts, RulePack pack,
                                                     const EngineOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->pack = std::move(pack);
  impl->options = options;
  DOZOR_ASSIGN_OR_RETURN(impl->full, facts.OpenSession(FactSessionKind::kEstate));
  DOZOR_ASSIGN_OR_RETURN(impl->scoped, facts.OpenSession(FactSessionKind::kScoped));
  DOZOR_RETURN_IF_ERROR(impl->Prepare());
  return std::unique_ptr<RuleEngine>(new RuleEngine(std::move(impl)));
}

const RulePack& RuleEngine::pack() const { return impl_->pack; }

std::set<std::string> RuleEngine::ViewsReadBy(std::string_view rule_id) const {
  auto it = impl_->by_id.find(std::string(rule_id));
  return it == impl_->by_id.end() ? std::set<std::string>() : impl_->compiled[it->second].views;
}

bool RuleEngine::IsHealthRule(std::string_view rule_id) const {
  auto it = impl_->by_id.find(std::string(rule_id));
  return it != impl_->by_id.end() && impl_->compiled[it->second].health;
}

namespace {
// One consistent snapshot for one evaluation: begun on construction, ended on destruction
// (rule sessions never write, so ending it is all there is to do).
class Snapshot {
 public:
  explicit Snapshot(FactSession& session) : session_(session) {
    status_ = session_.BeginSnapshot();
  }
  ~Snapshot() {
    if (status_.ok()) {
      (void)session_.EndSnapshot();
    }
  }
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;
  [[nodiscard]] const Status& status() const { return status_; }

 private:
  FactSession& session_;
  Status status_;
};
}  // namespace

Result<EvaluationResult> RuleEngine::EvaluateHost(int64_t host_id, int64_t now_ms,
                                                  RuleFilter filter) {
  Impl& impl = *impl_;
  Snapshot snapshot(*impl.scoped);
  DOZOR_RETURN_IF_ERROR(snapshot.status());
  DOZOR_ASSIGN_OR_RETURN(std::optional<FactHost> host, impl.scoped->LiveHost(host_id));
  EvaluationResult result;
  result.scope = RuleScope::kHost;
  if (!host) {
    return result;  // revoked or unknown: nothing to evaluate
  }
  std::unordered_map<int64_t, int64_t> target_org{{host_id, host->org_id}};
  bool stale = host->last_health_ms < now_ms - impl.options.health_stale_after_ms;
  result.targets.push_back(host_id);
  DOZOR_RETURN_IF_ERROR(impl.scoped->ScopeToHosts({host_id}));
  auto select = [filter, stale](const CompiledRule& rule) {
    if (stale && rule.window) {
      return false;  // no fresh samples: leave these findings as they are
    }
    return filter == RuleFilter::kAll || (filter == RuleFilter::kHealthOnly) == rule.health;
  };
  impl.EvaluateRules(*impl.scoped, true, RuleScope::kHost, select, target_org, now_ms, result);
  return result;
}

Result<EvaluationResult> RuleEngine::EvaluateOrganization(int64_t org_id, int64_t now_ms) {
  Impl& impl = *impl_;
  Snapshot snapshot(*impl.scoped);
  DOZOR_RETURN_IF_ERROR(snapshot.status());
  DOZOR_ASSIGN_OR_RETURN(bool exists, impl.scoped->OrganizationExists(org_id));
  EvaluationResult result;
  result.scope = RuleScope::kEstate;
  if (!exists) {
    return MakeError(ErrorCode::kNotFound, "rules: no organisation " + std::to_string(org_id));
  }
  std::unordered_map<int64_t, int64_t> target_org{{org_id, org_id}};
  result.targets.push_back(org_id);
  DOZOR_RETURN_IF_ERROR(impl.scoped->ScopeToOrganizations({org_id}));
  impl.EvaluateRules(
      *impl.scoped, true, RuleScope::kEstate, [](const CompiledRule&) { return true; }, target_org,
      now_ms, result);
  return result;
}

Result<std::vector<EvaluationResult>> RuleEngine::EvaluateAll(int64_t now_ms,
                                                              const ActiveTargets* active) {
  Impl& impl = *impl_;
  Snapshot snapshot(*impl.full);
  DOZOR_RETURN_IF_ERROR(snapshot.status());
  std::optional<Snapshot> scoped_snapshot;
  if (active != nullptr) {
    scoped_snapshot.emplace(*impl.scoped);
    DOZOR_RETURN_IF_ERROR(scoped_snapshot->status());
  }
  std::unordered_map<int64_t, int64_t> host_org;
  std::unordered_map<int64_t, int64_t> orgs;
  EvaluationResult hosts;
  EvaluationResult estate;
  hosts.scope = RuleScope::kHost;
  estate.scope = RuleScope::kEstate;
  std::unordered_set<int64_t> stale_hosts;
  DOZOR_ASSIGN_OR_RETURN(std::vector<FactHost> live, impl.full->LiveHosts());
  for (const FactHost& host : live) {
    host_org[host.host_id] = host.org_id;
    hosts.targets.push_back(host.host_id);
    if (host.last_health_ms < now_ms - impl.options.health_stale_after_ms) {
      stale_hosts.insert(host.host_id);
    }
  }
  DOZOR_ASSIGN_OR_RETURN(std::vector<int64_t> org_ids, impl.full->Organizations());
  for (int64_t id : org_ids) {
    orgs[id] = id;
    estate.targets.push_back(id);
  }
  std::sort(hosts.targets.begin(), hosts.targets.end());
  std::sort(estate.targets.begin(), estate.targets.end());
  auto all = [](const CompiledRule&) { return true; };
  impl.EvaluateRules(*impl.full, false, RuleScope::kHost, all, host_org, now_ms, hosts, active);
  impl.KeepStaleWindowFindings(hosts, host_org, stale_hosts, active);
  impl.EvaluateRules(*impl.full, false, RuleScope::kEstate, all, orgs, now_ms, estate, active);
  std::vector<EvaluationResult> out;
  out.push_back(std::move(hosts));
  out.push_back(std::move(estate));
  return out;
}

}  // namespace dozor::server::rules
