#include <doctest/doctest.h>

#include <fstream>

#include "rules/rule.hpp"
#include "test_util.hpp"

namespace dozor::server::rules {
namespace {

using dozor::testing::TempDir;

constexpr const char* kValidRule = R"(id = "disk-space-low"
scope = "host"
category = "hardware"
severity = "high"
contracts = ["technical", "complex"]
effort = 1.5
title.en = "Filesystem almost full"
title.ru = "Файловая система почти заполнена"
why.en = "Services fail when the disk is full."
why.ru = "Службы падают, когда диск заполнен."
remediation.en = "Free space or grow the filesystem."
remediation.ru = "Освободите место или расширьте ФС."
evidence.en = "{mount}: {used_pct}% used"
evidence.ru = "{mount}: занято {used_pct}%"
condition = '''
SELECT host_id, mount, used_pct FROM health_fs
WHERE used_pct > :fire_pct
'''
sustain = "SELECT host_id, mount, used_pct FROM health_fs WHERE used_pct > :clear_pct"

[params]
fire_pct = 90
clear_pct = 85.5
label = "x"
strict = true
)";

// kValidRule with one line replaced (1-based), to place each error at a known line.
std::string WithLine(int line, const std::string& replacement) {
  std::string text = kValidRule;
  size_t begin = 0;
  for (int i = 1; i < line; ++i) {
    begin = text.find('\n', begin) + 1;
  }
  size_t end = text.find('\n', begin);
  return text.substr(0, begin) + replacement + text.substr(end);
}

RuleLoadError ErrorOf(const std::string& text, const std::string& source = "rule.toml") {
  RuleLoadError error;
  auto rule = ParseRule(text, source, &error);
  REQUIRE_FALSE(rule.ok());
  CHECK(rule.error().message == error.ToString());
  return error;
}

void WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

TEST_CASE("a valid rule file parses every field") {
  auto parsed = ParseRule(kValidRule, "/etc/dozor/rules/disk-space-low.toml");
  REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().message));
  const Rule& rule = *parsed;
  CHECK(rule.id == "disk-space-low");
  CHECK(rule.scope == RuleScope::kHost);
  CHECK(rule.category == "hardware");
  CHECK(rule.severity == "high");
  CHECK(rule.contracts == std::vector<std::string>{"technical", "complex"});
  CHECK(rule.AppliesTo("complex"));
  CHECK_FALSE(rule.AppliesTo("application"));
  CHECK(rule.effort_hours == doctest::Approx(1.5));
  CHECK(rule.title.In("ru") == "Файловая система почти заполнена");
  CHECK(rule.title.In("en") == "Filesystem almost full");
  CHECK(rule.evidence_template.en == "{mount}: {used_pct}% used");
  CHECK(rule.enabled);
  CHECK_FALSE(rule.builtin);
  CHECK(rule.condition_sql.rfind("SELECT host_id, mount", 0) == 0);
  CHECK(rule.condition_line == 16);  // the SQL starts on the line after condition = '''
  CHECK(rule.sustain_line == 19);    // single-line string: the line of the key
  REQUIRE(rule.params.size() == 4);
  auto param = [&rule](const std::string& name) {
    for (const auto& [key, value] : rule.params) {
      if (key == name) {
        return value;
      }
    }
    FAIL("no parameter " << name);
    return ParamValue{};
  };
  CHECK(std::get<int64_t>(param("fire_pct")) == 90);
  CHECK(std::get<double>(param("clear_pct")) == doctest::Approx(85.5));
  CHECK(std::get<std::string>(param("label")) == "x");
  CHECK(std::get<bool>(param("strict")));
  CHECK(rule.source == "/etc/dozor/rules/disk-space-low.toml");
}

TEST_CASE("TOML syntax errors are reported with line and column") {
  auto error = ErrorOf(WithLine(4, "severity = high"));
  CHECK(error.line == 4);
  CHECK(error.column > 1);
  CHECK(error.message.find("TOML") != std::string::npos);
  CHECK(error.ToString().rfind("rule.toml:4:", 0) == 0);
}

TEST_CASE("invalid values are reported at the line of their key") {
  auto severity = ErrorOf(WithLine(4, "severity = \"urgent\""));
  CHECK(severity.line == 4);
  CHECK(severity.message.find("invalid severity 'urgent'") != std::string::npos);
  auto scope = ErrorOf(WithLine(2, "scope = \"cluster\""));
  CHECK(scope.line == 2);
  CHECK(scope.message.find("scope") != std::string::npos);
  auto category = ErrorOf(WithLine(3, "category = \"misc\""));
  CHECK(category.line == 3);
  auto contracts = ErrorOf(WithLine(5, "contracts = [\"technical\", \"gold\"]"));
  CHECK(contracts.line == 5);
  CHECK(contracts.message.find("contract") != std::string::npos);
  auto id = ErrorOf(WithLine(1, "id = \"Disk_Space\""));
  CHECK(id.line == 1);
  CHECK(id.message.find("invalid id") != std::string::npos);
  auto unknown = ErrorOf(WithLine(6, "efort = \"1h\""));
  CHECK(unknown.line == 6);
  CHECK(unknown.message.find("unknown key 'efort'") != std::string::npos);
  // Without the [params] header its keys become unknown top-level keys.
  auto no_header = ErrorOf(WithLine(21, ""));
  CHECK(no_header.line == 23);  // keys are checked in name order: clear_pct first
  CHECK(no_header.message.find("unknown key 'clear_pct'") != std::string::npos);
}

TEST_CASE("effort is working hours: a number, or a legacy duration text") {
  auto hours_of = [](const std::string& line) {
    auto rule = ParseRule(WithLine(6, line), "rule.toml");
    REQUIRE_MESSAGE(rule.ok(), (rule.ok() ? "" : rule.error().message));
    return rule->effort_hours;
  };
  CHECK(hours_of("effort = 2") == doctest::Approx(2));
  CHECK(hours_of("effort = 0.5") == doctest::Approx(0.5));
  CHECK(hours_of("effort = 400") == doctest::Approx(400));
  // Override rules written before hours were numbers keep loading.
  CHECK(hours_of("effort = \"30m\"") == doctest::Approx(0.5));
  CHECK(hours_of("effort = \"15m\"") == doctest::Approx(0.25));
  CHECK(hours_of("effort = \"4h\"") == doctest::Approx(4));
  CHECK(hours_of("effort = \"1.5h\"") == doctest::Approx(1.5));
  CHECK(hours_of("effort = \"1d\"") == doctest::Approx(8));
  CHECK(hours_of("effort = \"3d\"") == doctest::Approx(24));
  CHECK(hours_of("effort = \"1w\"") == doctest::Approx(40));
}

TEST_CASE("garbage, zero, negative and huge efforts are refused at their position") {
  for (const char* line :
       {"effort = \"half a day\"", "effort = \"1 h\"", "effort = \"1H\"", "effort = \"2\"",
        "effort = \"h\"", "effort = \"-1h\"", "effort = \"1e2h\"", "effort = \"1.h\"",
        "effort = \".5h\"", "effort = \"1y\"", "effort = \"\""}) {
    CAPTURE(line);
    auto error = ErrorOf(WithLine(6, line));
    CHECK(error.line == 6);
    CHECK(error.column == 10);
    CHECK(error.message.find("invalid effort") != std::string::npos);
    CHECK(error.ToString().rfind("rule.toml:6:10: ", 0) == 0);
  }
  for (const char* line :
       {"effort = 0", "effort = -2", "effort = 0.0", "effort = 400.5", "effort = 100000",
        "effort = \"0h\"", "effort = \"11w\"", "effort = inf", "effort = nan"}) {
    CAPTURE(line);
    auto error = ErrorOf(WithLine(6, line));
    CHECK(error.line == 6);
    CHECK(error.column == 10);
    CHECK(error.message.find("more than 0 and at most 400 working hours") != std::string::npos);
  }
  auto wrong_type = ErrorOf(WithLine(6, "effort = [1]"));
  CHECK(wrong_type.line == 6);
  CHECK(wrong_type.message.find("number of working hours") != std::string::npos);
  auto missing = ErrorOf(WithLine(6, "# no effort"));
  CHECK(missing.message.find("missing required key 'effort'") != std::string::npos);
}

TEST_CASE("hours are shown as short numbers in the report's language") {
  CHECK(FormatHours(2) == "2");
  CHECK(FormatHours(0.5) == "0.5");
  CHECK(FormatHours(0.25) == "0.25");
  CHECK(FormatHours(1.0 / 12) == "0.08");
  CHECK(FormatHours(37.5, "ru") == "37,5");
  CHECK(FormatHours(0.1 + 0.2) == "0.3");
  CHECK(FormatEffort(4, "en") == "4 h");
  CHECK(FormatEffort(4, "ru") == "4 ч");
  CHECK(FormatEffort(0.5, "ru") == "0,5 ч");
  CHECK(ParseEffortText("90m").value_or(0) == doctest::Approx(1.5));
  CHECK_FALSE(ParseEffortText("1d ").has_value());
}

TEST_CASE("both languages are required for title, why and remediation") {
  auto no_ru = ErrorOf(WithLine(8, "# no Russian title"));
  CHECK(no_ru.message.find("title.ru") != std::string::npos);
  CHECK(no_ru.line == 7);  // the title table starts at title.en
  auto missing_why_ru = ErrorOf(WithLine(10, "# gone"));
  CHECK(missing_why_ru.message.find("why.ru") != std::string::npos);
  auto empty_remediation = ErrorOf(WithLine(11, "remediation.en = \"\""));
  CHECK(empty_remediation.message.find("remediation.en") != std::string::npos);
  CHECK(empty_remediation.line == 11);
  auto bad_lang = ErrorOf(WithLine(12, "remediation.de = \"x\""));
  CHECK(bad_lang.message.find("remediation.de") != std::string::npos);
}

TEST_CASE("a missing condition is reported") {
  std::string text = kValidRule;
  size_t begin = text.find("condition = '''");
  size_t end = text.find("'''\n", begin + 15) + 4;
  text.erase(begin, end - begin);
  auto error = ErrorOf(text);
  CHECK(error.message.find("missing required key 'condition'") != std::string::npos);
}

TEST_CASE("a parameter of an unsupported type is reported at its line") {
  auto error = ErrorOf(std::string(kValidRule) + "dates = [1, 2]\n");
  CHECK(error.line == 26);
  CHECK(error.message.find("dates") != std::string::npos);
}

TEST_CASE("override directories replace and disable rules, duplicates and bad files are errors") {
  TempDir base;
  TempDir over;
  std::filesystem::create_directories(base.path());
  auto rule_text = [](const std::string& id, const std::string& title) {
    std::string text = kValidRule;
    text.replace(text.find("disk-space-low"), 14, id);
    text.replace(text.find("Filesystem almost full"), 22, title);
    return text;
  };
  WriteFile(base / "alpha-rule.toml", rule_text("alpha-rule", "Alpha"));
  WriteFile(base / "beta-rule.toml", rule_text("beta-rule", "Beta"));
  WriteFile(base / "gamma-rule.toml", rule_text("gamma-rule", "Gamma"));
  WriteFile(base / "notes.txt", "ignored: not a .toml file");
  WriteFile(over / "alpha-rule.toml", rule_text("alpha-rule", "Alpha, our way"));
  WriteFile(over / "beta-rule.toml", "id = \"beta-rule\"\nenabled = false\n");
  // Same id as alpha-rule.toml in the same directory.
  WriteFile(over / "zzz-copy.toml", rule_text("alpha-rule", "Copy"));
  WriteFile(over / "broken.toml", "id = \"broken\"\nscope = \n");
  WriteFile(over / "wrong-name.toml", rule_text("other-name", "Other"));

  RulePack pack = LoadRulePack({base.path().string(), over.path().string()}, false);
  REQUIRE(pack.rules.size() == 2);
  const Rule* alpha = pack.Find("alpha-rule");
  REQUIRE(alpha != nullptr);
  CHECK(alpha->title.en == "Alpha, our way");
  CHECK(alpha->source == (over / "alpha-rule.toml").string());
  CHECK(pack.Find("beta-rule") == nullptr);
  CHECK(pack.Find("gamma-rule") != nullptr);
  CHECK(pack.Find("other-name") == nullptr);

  std::vector<std::string> errors = ListRuleLoadErrors(pack);
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].rfind((over / "broken.toml").string() + ":2:", 0) == 0);
  CHECK(errors[1].find("wrong-name.toml:1:1: file name must be the rule id") != std::string::npos);
  CHECK(errors[2].find("zzz-copy.toml:1:1: duplicate rule id 'alpha-rule'") != std::string::npos);

  RulePack missing = LoadRulePack({(base / "nope").string()}, false);
  CHECK(missing.rules.empty());
  REQUIRE(missing.errors.size() == 1);
  CHECK(missing.errors[0].message.find("cannot read rule directory") != std::string::npos);
}

TEST_CASE("an override file can switch off a built-in rule") {
  RulePack builtin = LoadRulePack({}, true);
  for (const Rule& rule : builtin.rules) {
    CHECK(rule.builtin);
    CHECK(rule.source.rfind("builtin:", 0) == 0);
  }
  if (builtin.rules.empty()) {
    return;  // the default pack is being written; nothing to switch off yet
  }
  TempDir over;
  std::string id = builtin.rules.front().id;
  WriteFile(over / (id + ".toml"), "id = \"" + id + "\"\nenabled = false\n");
  RulePack pack = LoadRulePack({over.path().string()}, true);
  CHECK(pack.Find(id) == nullptr);
  CHECK(pack.rules.size() == builtin.rules.size() - 1);
}

TEST_CASE("the rule reference lists every rule with both languages and its SQL") {
  auto rule = ParseRule(kValidRule, "builtin:disk-space-low.toml");
  REQUIRE(rule.ok());
  RulePack pack;
  pack.rules.push_back(*rule);
  pack.errors.push_back({"x.toml", 3, 1, "bad"});
  std::string doc = RenderRuleReference(pack);
  CHECK(doc.find("## hardware") != std::string::npos);
  CHECK(doc.find("`disk-space-low`: Filesystem almost full") != std::string::npos);
  CHECK(doc.find("Файловая система почти заполнена") != std::string::npos);
  CHECK(doc.find("`fire_pct = 90`") != std::string::npos);
  CHECK(doc.find("| Effort | 1.5 h |") != std::string::npos);
  CHECK(doc.find("```sql\nSELECT host_id, mount, used_pct FROM health_fs") != std::string::npos);
  CHECK(doc.find("Освободите место") != std::string::npos);
  CHECK(doc.find("x.toml:3:1: bad") != std::string::npos);
}

TEST_CASE("oversized and non-UTF-8 rule files are rejected without crashing") {
  std::string huge = std::string(kValidRule) + "# " + std::string(300 * 1024, 'x') + "\n";
  CHECK(ErrorOf(huge).message.find("larger than") != std::string::npos);
  std::string bad = WithLine(7, "title.en = \"\xff\xfe\"");
  CHECK_FALSE(ParseRule(bad, "bad.toml").ok());
  CHECK_FALSE(ParseRule("", "empty.toml").ok());
}

}  // namespace
}  // namespace dozor::server::rules
