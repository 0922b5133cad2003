// A rule: one TOML file holding metadata, bilingual text and a read-only SQL condition over the
// fact views (docs/rule-language.md). Loading never throws and never stops at a broken file:
// broken files become RuleLoadErrors with file:line:col, the others load.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "dozor/common/result.hpp"

namespace dozor::server::rules {

struct LocalizedText {
  std::string en;
  std::string ru;
  // "ru" gives the Russian text, anything else English; falls back to the other when empty.
  [[nodiscard]] const std::string& In(std::string_view lang) const;
};

enum class RuleScope { kHost, kEstate };
std::string_view RuleScopeName(RuleScope scope);  // "host" | "estate"

// A [params] value, bound as :name. Booleans bind as 0/1.
using ParamValue = std::variant<int64_t, double, std::string, bool>;
std::string ParamValueToString(const ParamValue& value);

// Remediation effort is a number of working hours: 0 < hours <= kMaxEffortHours (ten working
// weeks; anything bigger is a project, not a finding's fix).
inline constexpr double kMaxEffortHours = 400;
inline constexpr double kHoursPerWorkingDay = 8;
inline constexpr double kHoursPerWorkingWeek = 40;

// The effort text rule files used before hours were numbers, still accepted from override rules:
// exactly "<number><unit>", unit m (minutes), h, d (a working day, 8 h) or w (a working week,
// 40 h): "30m" -> 0.5, "1.5h" -> 1.5, "1d" -> 8. nullopt for anything else (spaces, other units,
// signs, exponents). The range is not checked here.
std::optional<double> ParseEffortText(std::string_view text);
// Hours as a short number: "2", "0.5", "0.25", "37.5" (rounded to two decimals, no trailing
// zeros); the decimal separator is "," for lang "ru" ("0,5") and "." otherwise.
std::string FormatHours(double hours, std::string_view lang = "en");
// Hours for people: "2 h", "0.5 h"; for lang "ru" "2 ч", "0,5 ч".
std::string FormatEffort(double hours, std::string_view lang);

struct Rule {
  std::string id;
  RuleScope scope = RuleScope::kHost;
  std::string
      category;  // hardware | network | os | security | software | backup | business-application
  std::string severity;                // critical | high | medium | low | info
  std::vector<std::string> contracts;  // technical | application | complex
  double effort_hours = 1;  // working hours to fix one occurrence (one host, or the estate)
  LocalizedText title, why, remediation, evidence_template;
  bool enabled = true;
  std::string condition_sql;
  std::string sustain_sql;  // empty: no hysteresis
  // A column of the condition's (and sustain's) rows naming the object the rule is about: the
  // mount, interface, disk, service. Set: one finding per (rule, host, object), each with its own
  // life (/var fixed while /boot is full resolves the /var finding and keeps /boot's). Empty: one
  // finding per (rule, target).
  std::string object_column;
  int object_line = 0;
  std::vector<std::pair<std::string, ParamValue>> params;
  std::string source;      // "builtin:disk-space-low.toml" or the file path
  int condition_line = 0;  // line of `condition` in the file, for error messages
  int sustain_line = 0;
  int id_line = 1;
  bool builtin = false;

  // True when the rule belongs to that contract type (technical | application | complex) by its
  // own list. A complex contract covers every rule. Whether a finding counts under a contract
  // also depends on its host: rules::InContractScope (rules/contract_scope.hpp).
  [[nodiscard]] bool AppliesTo(std::string_view contract_type) const;
};

struct RuleLoadError {
  std::string source;
  int line = 0;
  int column = 0;
  std::string message;
  [[nodiscard]] std::string ToString() const;  // "source:line:col: message"
};

struct RulePack {
  std::vector<Rule> rules;  // sorted by id
  std::vector<RuleLoadError> errors;
  [[nodiscard]] const Rule* Find(std::string_view id) const;
};

// Parses one rule file. On failure the Error message is RuleLoadError::ToString(); when
// `error_out` is given it also receives the structured error (line and column of the problem).
Result<Rule> ParseRule(std::string_view toml_text, std::string_view source,
                       RuleLoadError* error_out = nullptr);

// The built-in pack (when include_builtin) overlaid by every *.toml file of override_dirs, in
// order: a file whose id matches an earlier rule replaces it; `enabled = false` removes it.
// Two files with the same id in one directory are both an error (the first is kept). Never
// fails as a whole: problems land in RulePack::errors. SQL is checked by RuleEngine::Open.
RulePack LoadRulePack(const std::vector<std::string>& override_dirs, bool include_builtin = true);

// Markdown reference of every rule (docs/rules.md is generated from the default pack).
std::string RenderRuleReference(const RulePack& pack);

// One line per load error, "source:line:col: message", for logs and `dozor-server --check-rules`.
std::vector<std::string> ListRuleLoadErrors(const RulePack& pack);

}  // namespace dozor::server::rules
