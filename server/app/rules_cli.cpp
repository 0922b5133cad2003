#include "app/rules_cli.hpp"

#include <ostream>

#include "app/scratch_database.hpp"
#include "dozor/common/files.hpp"
#include "rules/rule.hpp"
#include "rules/rule_engine.hpp"
#include "store/sqlite/sqlite_fact_source.hpp"

namespace dozor::server {
namespace {

// Loads and compiles; nullptr engine (with the error printed) when checking itself failed.
std::unique_ptr<rules::RuleEngine> LoadAndCompile(const std::vector<std::string>& dirs,
                                                  ScratchDatabase& scratch, std::ostream& err) {
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      err << dir << ": not a directory\n";
      return nullptr;
    }
  }
  rules::RulePack pack = rules::LoadRulePack(dirs, true);
  auto store = scratch.Open();
  if (!store.ok()) {
    err << "cannot create a scratch database: " << store.error().message << "\n";
    return nullptr;
  }
  store->reset();  // the fact source opens the file with connections of its own
  auto facts = MakeSqliteFactSource(scratch.path());
  auto engine = rules::RuleEngine::Open(*facts, std::move(pack));
  if (!engine.ok()) {
    err << "cannot open the rule engine: " << engine.error().message << "\n";
    return nullptr;
  }
  return std::move(*engine);
}

}  // namespace

int RunRulesCheck(const std::vector<std::string>& dirs, std::ostream& out, std::ostream& err) {
  ScratchDatabase scratch("dozor-rules-check");
  auto engine = LoadAndCompile(dirs, scratch, err);
  if (!engine) {
    return 2;
  }
  const rules::RulePack& pack = engine->pack();
  for (const auto& line : rules::ListRuleLoadErrors(pack)) {
    err << line << "\n";
  }
  size_t builtin = 0;
  for (const auto& rule : pack.rules) {
    builtin += rule.builtin ? 1 : 0;
  }
  out << pack.rules.size() << " rules ready (" << builtin << " built-in, "
      << pack.rules.size() - builtin << " from rule directories), " << pack.errors.size()
      << " broken\n";
  return pack.errors.empty() ? 0 : 1;
}

int RunRulesDoc(const std::vector<std::string>& dirs, const std::filesystem::path& output,
                std::ostream& out, std::ostream& err) {
  ScratchDatabase scratch("dozor-rules-check");
  auto engine = LoadAndCompile(dirs, scratch, err);
  if (!engine) {
    return 2;
  }
  for (const auto& line : rules::ListRuleLoadErrors(engine->pack())) {
    err << line << "\n";
  }
  std::string markdown = rules::RenderRuleReference(engine->pack());
  if (output.empty() || output == "-") {
    out << markdown;
  } else if (auto written = WriteFileAtomic(output, markdown, 0644); !written.ok()) {
    err << written.error().message << "\n";
    return 2;
  }
  return engine->pack().errors.empty() ? 0 : 1;
}

}  // namespace dozor::server
