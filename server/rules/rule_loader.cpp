#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include <toml++/toml.h>

#include "dozor/common/files.hpp"
#include "rules/embedded.hpp"
#include "rules/rule.hpp"

namespace dozor::server::rules {
namespace {

constexpr size_t kMaxRuleFileBytes = 256 * 1024;
constexpr size_t kMaxSqlBytes = 64 * 1024;
constexpr size_t kMaxTextBytes = 16 * 1024;
constexpr size_t kMaxParams = 64;

constexpr std::string_view kCategories[] = {
    "hardware", "network", "os", "security", "software", "backup", "business-application"};
constexpr std::string_view kSeverities[] = {"critical", "high", "medium", "low", "info"};
constexpr std::string_view kContracts[] = {"technical", "application", "complex"};
constexpr std::string_view kKnownKeys[] = {
    "id",       "scope",   "category", "severity",  "contracts", "effort",      "title", "why",
    "evidence", "enabled", "params",   "condition", "sustain",   "remediation", "object"};

template <size_t N>
bool OneOf(const std::string_view (&values)[N], std::string_view value) {
  return std::find(std::begin(values), std::end(values), value) != std::end(values);
}

template <size_t N>
std::string JoinValues(const std::string_view (&values)[N]) {
  std::string out;
  for (std::string_view v : values) {
    out += out.empty() ? "" : ", ";
    out += v;
  }
  return out;
}

bool IsValidRuleId(std::string_view id) {
  if (id.size() < 3 || id.size() > 64) {
    return false;
  }
  for (size_t i = 0; i < id.size(); ++i) {
    char c = id[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool IsValidParamName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "now_ms") {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c == '_') || (c >= '0' && c <= '9' && i > 0) ||
              (c >= 'A' && c <= 'Z');
    if (!ok) {
      return false;
    }
  }
  return true;
}

// Thrown only inside ParseRule and caught there: the first problem found, with its position.
struct ParseProblem {
  int line = 0;
  int column = 0;
  std::string message;
};

int LineOf(const toml::node& node) { return static_cast<int>(node.source().begin.line); }
int ColumnOf(const toml::node& node) { return static_cast<int>(node.source().begin.column); }

[[noreturn]] void Fail(const toml::node* node, std::string message, int fallback_line = 1) {
  ParseProblem problem;
  problem.line = node != nullptr ? LineOf(*node) : fallback_line;
  problem.column = node != nullptr ? ColumnOf(*node) : 1;
  problem.message = std::move(message);
  throw problem;
}

std::string RequiredString(const toml::table& root, std::string_view key, size_t max_bytes,
                           std::string_view prefix = {}, const toml::node* parent = nullptr) {
  const toml::node* node = root.get(key);
  std::string shown = std::string(prefix) + std::string(key);
  if (node == nullptr) {
    Fail(parent, "missing required key '" + shown + "'");
  }
  const auto* value = node->as_string();
  if (value == nullptr) {
    Fail(node, "'" + shown + "' must be a string");
  }
  const std::string& text = value->get();
  if (text.empty()) {
    Fail(node, "'" + shown + "' must not be empty");
  }
  if (text.size() > max_bytes) {
    Fail(node, "'" + shown + "' is longer than " + std::to_string(max_bytes) + " bytes");
  }
  return text;
}

// `effort`: working hours as a TOML integer or float, or the older "<number><unit>" text
// (ParseEffortText), in (0, kMaxEffortHours].
double RequiredEffortHours(const toml::table& root) {
  const toml::node* node = root.get("effort");
  if (node == nullptr) {
    Fail(nullptr, "missing required key 'effort' (working hours, e.g. effort = 2 or 0.5)");
  }
  std::optional<double> hours;
  if (const auto* i = node->as_integer()) {
    hours = static_cast<double>(i->get());
  } else if (const auto* f = node->as_floating_point()) {
    hours = f->get();
  } else if (const auto* s = node->as_string()) {
    hours = ParseEffortText(s->get());
    if (!hours) {
      Fail(node, "invalid effort \"" + s->get().substr(0, 64) +
                     "\": write working hours as a number (effort = 2, effort = 0.5) or a "
                     "duration \"<number><unit>\" with unit m, h, d (8 h) or w (40 h), e.g. "
                     "\"30m\", \"4h\", \"1d\"");
    }
  } else {
    Fail(node, "'effort' must be a number of working hours (effort = 2, effort = 0.5)");
  }
  if (!std::isfinite(*hours) || *hours <= 0 || *hours > kMaxEffortHours) {
    Fail(node, "effort must be more than 0 and at most " + FormatHours(kMaxEffortHours) +
                   " working hours (got " + FormatHours(*hours) + ")");
  }
  return *hours;
}

LocalizedText Localized(const toml::table& root, std::string_view key, bool required) {
  LocalizedText text;
  const toml::node* node = root.get(key);
  if (node == nullptr) {
    if (required) {
      Fail(nullptr, "missing required key '" + std::string(key) + ".en' and '" + std::string(key) +
                        ".ru' (text in both languages)");
    }
    return text;
  }
  const auto* table = node->as_table();
  if (table == nullptr) {
    Fail(node, "'" + std::string(key) + "' must have .en and .ru texts (" + std::string(key) +
                   ".en = \"...\", " + std::string(key) + ".ru = \"...\")");
  }
  for (const auto& [lang, value] : *table) {
    if (lang.str() != "en" && lang.str() != "ru") {
      Fail(&value, "unknown language '" + std::string(key) + "." + std::string(lang.str()) +
                       "' (use en and ru)");
    }
  }
  std::string prefix = std::string(key) + ".";
  text.en = RequiredString(*table, "en", kMaxTextBytes, prefix, node);
  text.ru = RequiredString(*table, "ru", kMaxTextBytes, prefix, node);
  return text;
}

// The file line holding the first line of a string value's text: TOML drops a newline right
// after an opening ''' or """, so SQL written the usual way starts on the next line.
int FirstTextLine(std::string_view file_text, const toml::node& node) {
  int line = LineOf(node);
  int column = ColumnOf(node);
  size_t pos = 0;
  for (int l = 1; l < line && pos != std::string_view::npos; ++l) {
    pos = file_text.find('\n', pos);
    if (pos != std::string_view::npos) {
      ++pos;
    }
  }
  if (pos == std::string_view::npos) {
    return line;
  }
  pos += static_cast<size_t>(std::max(column - 1, 0));
  std::string_view rest = file_text.substr(std::min(pos, file_text.size()));
  if (rest.size() >= 3 && (rest.substr(0, 3) == "'''" || rest.substr(0, 3) == "\"\"\"")) {
    rest.remove_prefix(3);
    if (!rest.empty() && (rest[0] == '\n' || (rest.size() > 1 && rest.substr(0, 2) == "\r\n"))) {
      return line + 1;
    }
  }
  return line;
}

Rule ParseRuleOrThrow(std::string_view toml_text, std::string_view source) {
  if (toml_text.size() > kMaxRuleFileBytes) {
    Fail(nullptr, "rule file is larger than " + std::to_string(kMaxRuleFileBytes) + " bytes");
  }
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    ParseProblem problem;
    problem.line = static_cast<int>(e.source().begin.line);
    problem.column = static_cast<int>(e.source().begin.column);
    problem.message = "TOML: " + std::string(e.description());
    throw problem;
  }
  Rule rule;
  rule.source = std::string(source);
  for (const auto& [key, value] : root) {
    if (!OneOf(kKnownKeys, key.str())) {
      Fail(&value, "unknown key '" + std::string(key.str()) + "'");
    }
  }
  rule.id = RequiredString(root, "id", 64);
  rule.id_line = LineOf(*root.get("id"));
  if (!IsValidRuleId(rule.id)) {
    Fail(root.get("id"), "invalid id '" + rule.id + "': use 3-64 characters a-z, 0-9 and '-'" +
                             ", starting with a letter or digit");
  }
  if (const toml::node* enabled = root.get("enabled"); enabled != nullptr) {
    if (!enabled->is_boolean()) {
      Fail(enabled, "'enabled' must be true or false");
    }
    rule.enabled = enabled->as_boolean()->get();
  }
  if (!rule.enabled) {
    // A file that only switches a rule off needs nothing but its id.
    return rule;
  }

  std::string scope = RequiredString(root, "scope", 16);
  if (scope == "host") {
    rule.scope = RuleScope::kHost;
  } else if (scope == "estate") {
    rule.scope = RuleScope::kEstate;
  } else {
    Fail(root.get("scope"), "invalid scope '" + scope + "' (host | estate)");
  }
  rule.category = RequiredString(root, "category", 64);
  if (!OneOf(kCategories, rule.category)) {
    Fail(root.get("category"),
         "invalid category '" + rule.category + "' (" + JoinValues(kCategories) + ")");
  }
  rule.severity = RequiredString(root, "severity", 16);
  if (!OneOf(kSeverities, rule.severity)) {
    Fail(root.get("severity"),
         "invalid severity '" + rule.severity + "' (" + JoinValues(kSeverities) + ")");
  }
  const toml::node* contracts = root.get("contracts");
  if (contracts == nullptr) {
    Fail(nullptr, "missing required key 'contracts' (e.g. [\"technical\", \"complex\"])");
  }
  const auto* contract_list = contracts->as_array();
  if (contract_list == nullptr || contract_list->empty()) {
    Fail(contracts, "'contracts' must be a non-empty array of " + JoinValues(kContracts));
  }
  for (const toml::node& item : *contract_list) {
    const auto* value = item.as_string();
    if (value == nullptr || !OneOf(kContracts, value->get())) {
      Fail(&item, "invalid contract type in 'contracts' (" + JoinValues(kContracts) + ")");
    }
    if (std::find(rule.contracts.begin(), rule.contracts.end(), value->get()) ==
        rule.contracts.end()) {
      rule.contracts.push_back(value->get());
    }
  }
  rule.effort_hours = RequiredEffortHours(root);
  rule.title = Localized(root, "title", true);
  rule.why = Localized(root, "why", true);
  rule.remediation = Localized(root, "remediation", true);
  rule.evidence_template = Localized(root, "evidence", false);

  if (const toml::node* params = root.get("params"); params != nullptr) {
    const auto* table = params->as_table();
    if (table == nullptr) {
      Fail(params, "'params' must be a table ([params])");
    }
    if (table->size() > kMaxParams) {
      Fail(params, "too many params (at most " + std::to_string(kMaxParams) + ")");
    }
    for (const auto& [key, value] : *table) {
      std::string name(key.str());
      if (!IsValidParamName(name)) {
        Fail(&value,
             "invalid parameter name '" + name + "' (letters, digits, '_'; now_ms is reserved)");
      }
      if (const auto* i = value.as_integer()) {
        rule.params.emplace_back(name, ParamValue(static_cast<int64_t>(i->get())));
      } else if (const auto* f = value.as_floating_point()) {
        rule.params.emplace_back(name, ParamValue(f->get()));
      } else if (const auto* s = value.as_string()) {
        if (s->get().size() > kMaxTextBytes) {
          Fail(&value, "parameter '" + name + "' is too long");
        }
        rule.params.emplace_back(name, ParamValue(s->get()));
      } else if (const auto* b = value.as_boolean()) {
        rule.params.emplace_back(name, ParamValue(b->get()));
      } else {
        Fail(&value, "parameter '" + name + "' must be an integer, float, string or boolean");
      }
    }
  }

  if (const toml::node* object = root.get("object"); object != nullptr) {
    rule.object_column = RequiredString(root, "object", 64);
    rule.object_line = LineOf(*object);
    if (!IsValidParamName(rule.object_column)) {
      Fail(object, "'object' must name a result column (letters, digits, '_')");
    }
    if (rule.scope != RuleScope::kHost) {
      Fail(object, "'object' is for host rules: an estate rule's finding is about the estate");
    }
  }
  rule.condition_sql = RequiredString(root, "condition", kMaxSqlBytes);
  rule.condition_line = FirstTextLine(toml_text, *root.get("condition"));
  if (root.get("sustain") != nullptr) {
    rule.sustain_sql = RequiredString(root, "sustain", kMaxSqlBytes);
    rule.sustain_line = FirstTextLine(toml_text, *root.get("sustain"));
  }
  return rule;
}

std::string BaseName(std::string_view source) {
  std::string_view name = source;
  if (auto colon = name.rfind(':'); name.substr(0, 8) == "builtin:" && colon != std::string::npos) {
    name = name.substr(colon + 1);
  }
  if (auto slash = name.rfind('/'); slash != std::string_view::npos) {
    name = name.substr(slash + 1);
  }
  return std::string(name);
}

// One directory (or the built-in set): parses every file, reports duplicates.
void LoadFiles(const std::vector<std::pair<std::string, std::string>>& files,
               std::vector<Rule>& out, std::vector<RuleLoadError>& errors) {
  std::map<std::string, std::string> seen;  // id -> source
  for (const auto& [source, text] : files) {
    RuleLoadError error;
    Result<Rule> parsed = ParseRule(text, source, &error);
    if (!parsed.ok()) {
      errors.push_back(std::move(error));
      continue;
    }
    Rule rule = std::move(parsed).value();
    if (auto it = seen.find(rule.id); it != seen.end()) {
      errors.push_back({source, rule.id_line, 1,
                        "duplicate rule id '" + rule.id + "' (also in " + it->second +
                            "); this file is ignored"});
      continue;
    }
    seen.emplace(rule.id, source);
    std::string expected = rule.id + ".toml";
    if (BaseName(source) != expected) {
      errors.push_back(
          {source, rule.id_line, 1,
           "file name must be the rule id: expected " + expected + " for id '" + rule.id + "'"});
      continue;
    }
    out.push_back(std::move(rule));
  }
}

}  // namespace

const std::string& LocalizedText::In(std::string_view lang) const {
  if (lang == "ru") {
    return ru.empty() ? en : ru;
  }
  return en.empty() ? ru : en;
}

std::string_view RuleScopeName(RuleScope scope) {
  return scope == RuleScope::kHost ? "host" : "estate";
}

std::string ParamValueToString(const ParamValue& value) {
  if (const auto* i = std::get_if<int64_t>(&value)) {
    return std::to_string(*i);
  }
  if (const auto* d = std::get_if<double>(&value)) {
    std::ostringstream out;
    out << *d;
    return out.str();
  }
  if (const auto* b = std::get_if<bool>(&value)) {
    return *b ? "true" : "false";
  }
  return "\"" + std::get<std::string>(value) + "\"";
}

std::optional<double> ParseEffortText(std::string_view text) {
  if (text.size() < 2 || text.size() > 16) {
    return std::nullopt;
  }
  const char unit = text.back();
  const std::string_view number = text.substr(0, text.size() - 1);
  // Digits, optionally one '.' followed by digits: no sign, no exponent, no spaces.
  const size_t dot = number.find('.');
  auto digits = [](std::string_view part) {
    return !part.empty() &&
           std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (dot == std::string_view::npos
          ? !digits(number)
          : !digits(number.substr(0, dot)) || !digits(number.substr(dot + 1))) {
    return std::nullopt;
  }
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size()) {
    return std::nullopt;
  }
  switch (unit) {
    case 'm':
      return value / 60;
    case 'h':
      return value;
    case 'd':
      return value * kHoursPerWorkingDay;
    case 'w':
      return value * kHoursPerWorkingWeek;
    default:
      return std::nullopt;
  }
}

std::string FormatHours(double hours, std::string_view lang) {
  if (!std::isfinite(hours)) {
    return "?";
  }
  // Hundredths of an hour, so 0.25 stays exact and 1/12 h shows as 0.08.
  const auto hundredths = static_cast<long long>(std::llround(hours * 100));
  const bool negative = hundredths < 0;
  const long long whole = std::llabs(hundredths) / 100;
  const long long fraction = std::llabs(hundredths) % 100;
  std::string out = (negative ? "-" : "") + std::to_string(whole);
  if (fraction != 0) {
    std::string decimals = (fraction < 10 ? "0" : "") + std::to_string(fraction);
    if (decimals.back() == '0') {
      decimals.pop_back();
    }
    out += (lang == "ru" ? "," : ".") + decimals;
  }
  return out;
}

std::string FormatEffort(double hours, std::string_view lang) {
  return FormatHours(hours, lang) + (lang == "ru" ? " ч" : " h");
}

bool Rule::AppliesTo(std::string_view contract_type) const {
  // A complex contract is technical and application support together, so it covers every rule
  // whatever the rule lists; the other two cover the rules that name them.
  if (contract_type == "complex") {
    return !contracts.empty();
  }
  return std::find(contracts.begin(), contracts.end(), contract_type) != contracts.end();
}

std::string RuleLoadError::ToString() const {
  if (line <= 0) {
    return source + ": " + message;
  }
  return source + ":" + std::to_string(line) + ":" + std::to_string(std::max(column, 1)) + ": " +
         message;
}

const Rule* RulePack::Find(std::string_view id) const {
  for (const Rule& rule : rules) {
    if (rule.id == id) {
      return &rule;
    }
  }
  return nullptr;
}

Result<Rule> ParseRule(std::string_view toml_text, std::string_view source,
                       RuleLoadError* error_out) {
  RuleLoadError error;
  error.source = std::string(source);
  try {
    Rule rule = ParseRuleOrThrow(toml_text, source);
    rule.builtin = source.substr(0, 8) == "builtin:";
    return rule;
  } catch (const ParseProblem& problem) {
    error.line = problem.line;
    error.column = problem.column;
    error.message = problem.message;
  } catch (const std::exception& e) {
    error.line = 1;
    error.column = 1;
    error.message = std::string("cannot parse rule: ") + e.what();
  }
  if (error_out != nullptr) {
    *error_out = error;
  }
  return MakeError(ErrorCode::kInvalidArgument, error.ToString());
}

RulePack LoadRulePack(const std::vector<std::string>& override_dirs, bool include_builtin) {
  RulePack pack;
  std::map<std::string, Rule> by_id;
  auto overlay = [&by_id](std::vector<Rule>& rules) {
    for (Rule& rule : rules) {
      if (!rule.enabled) {
        by_id.erase(rule.id);
      } else {
        std::string id = rule.id;
        by_id.insert_or_assign(id, std::move(rule));
      }
    }
  };
  if (include_builtin) {
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& [name, text] : BuiltinRuleFiles()) {
      files.emplace_back("builtin:" + std::string(name), std::string(text));
    }
    std::vector<Rule> rules;
    LoadFiles(files, rules, pack.errors);
    overlay(rules);
  }
  for (const std::string& dir : override_dirs) {
    std::error_code ec;
    std::vector<std::filesystem::path> paths;
    std::filesystem::directory_iterator it(dir, ec);
    if (ec) {
      pack.errors.push_back({dir, 0, 0, "cannot read rule directory: " + ec.message()});
      continue;
    }
    for (const auto& entry : it) {
      if (entry.path().extension() == ".toml" && entry.is_regular_file(ec)) {
        paths.push_back(entry.path());
      }
    }
    std::sort(paths.begin(), paths.end());
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& path : paths) {
      Result<std::string> text = ReadFile(path, kMaxRuleFileBytes);
      if (!text.ok()) {
        pack.errors.push_back({path.string(), 0, 0, text.error().message});
        continue;
      }
      files.emplace_back(path.string(), std::move(text).value());
    }
    std::vector<Rule> rules;
    LoadFiles(files, rules, pack.errors);
    overlay(rules);
  }
  for (auto& [id, rule] : by_id) {
    pack.rules.push_back(std::move(rule));
  }
  return pack;
}

std::vector<std::string> ListRuleLoadErrors(const RulePack& pack) {
  std::vector<std::string> out;
  out.reserve(pack.errors.size());
  for (const RuleLoadError& error : pack.errors) {
    out.push_back(error.ToString());
  }
  return out;
}

}  // namespace dozor::server::rules
