#include <map>

#include "dozor/common/text.hpp"
#include "rules/rule.hpp"

namespace dozor::server::rules {
namespace {

constexpr std::string_view kCategoryOrder[] = {
    "hardware", "network", "os", "security", "software", "backup", "business-application"};

std::string Join(const std::vector<std::string>& values, std::string_view separator) {
  std::string out;
  for (const std::string& value : values) {
    out += out.empty() ? "" : std::string(separator);
    out += value;
  }
  return out;
}

// Table cells must not break the markdown table.
std::string Cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

void RenderRule(const Rule& rule, std::string& out) {
  out += "<a id=\"" + rule.id + "\"></a>\n\n### `" + rule.id + "`: " + rule.title.en + "\n\n";
  out += "*" + rule.title.ru + "*\n\n";
  out += "| | |\n|---|---|\n";
  out += "| Severity | " + rule.severity + " |\n";
  out += "| Scope | " + std::string(RuleScopeName(rule.scope)) + " |\n";
  out += "| Category | " + rule.category + " |\n";
  out += "| Contracts | " + Join(rule.contracts, ", ") + " |\n";
  out += "| Effort | " + FormatEffort(rule.effort_hours, "en") +
         (rule.object_column.empty() ? "" : " per host") + " |\n";
  if (!rule.object_column.empty()) {
    out += "| One finding per | `" + Cell(rule.object_column) + "` |\n";
  }
  out += "| Source | " + Cell(rule.source) + " |\n";
  if (!rule.params.empty()) {
    std::vector<std::string> params;
    for (const auto& [name, value] : rule.params) {
      params.push_back("`" + name + " = " + Cell(ParamValueToString(value)) + "`");
    }
    out += "| Parameters | " + Join(params, ", ") + " |\n";
  }
  out += "\n**Why it matters.** " + Trimmed(rule.why.en) + "\n\n";
  out += "*Почему это важно.* " + Trimmed(rule.why.ru) + "\n\n";
  out += "**Remediation.** " + Trimmed(rule.remediation.en) + "\n\n";
  out += "*Что сделать.* " + Trimmed(rule.remediation.ru) + "\n\n";
  if (!rule.evidence_template.en.empty()) {
    out += "Evidence: `" + Trimmed(rule.evidence_template.en) + "`\n\n";
  }
  out += "Condition:\n\n```sql\n" + Trimmed(rule.condition_sql) + "\n```\n\n";
  if (!rule.sustain_sql.empty()) {
    out += "Sustain (stays active while this matches):\n\n```sql\n" + Trimmed(rule.sustain_sql) +
           "\n```\n\n";
  }
}

}  // namespace

std::string RenderRuleReference(const RulePack& pack) {
  std::map<std::string, std::vector<const Rule*>> by_category;
  for (const Rule& rule : pack.rules) {
    by_category[rule.category].push_back(&rule);
  }
  std::string out;
  out += "# Rule reference\n\n";
  out +=
      "Generated from the default rule pack (`server/rules/pack/*.toml`); do not edit by hand. "
      "The rule language is described in [rule-language.md](rule-language.md).\n\n";
  out += std::to_string(pack.rules.size()) + " rules.\n\n";
  out += "| Rule | Severity | Scope | Category | Title |\n|---|---|---|---|---|\n";
  for (std::string_view category : kCategoryOrder) {
    for (const Rule* rule : by_category[std::string(category)]) {
      out += "| [`" + rule->id + "`](#" + rule->id + ") | " + rule->severity + " | " +
             std::string(RuleScopeName(rule->scope)) + " | " + rule->category + " | " +
             Cell(rule->title.en) + " |\n";
    }
  }
  out += "\n";
  for (std::string_view category : kCategoryOrder) {
    const auto& rules = by_category[std::string(category)];
    if (rules.empty()) {
      continue;
    }
    out += "## " + std::string(category) + "\n\n";
    for (const Rule* rule : rules) {
      RenderRule(*rule, out);
    }
  }
  if (!pack.errors.empty()) {
    out += "## Load errors\n\n";
    for (const RuleLoadError& error : pack.errors) {
      out += "- `" + Cell(error.ToString()) + "`\n";
    }
    out += "\n";
  }
  return out;
}

}  // namespace dozor::server::rules
