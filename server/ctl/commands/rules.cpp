// `rules`: the server's rule pack.
#include <memory>
#include <string>

#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"
#include "dozor/common/text.hpp"

namespace dozor::ctl {
namespace {

struct RulesOptions {
  std::string id;
  std::string lang = "en";
};
using RulesState = std::shared_ptr<RulesOptions>;

void AddLang(CLI::App* command, const RulesState& rules) {
  command->add_option("--lang", rules->lang, "en | ru")
      ->check(CLI::IsMember({"en", "ru"}))
      ->capture_default_str();
}

}  // namespace

void AddRulesCommands(CLI::App& app, Action& action) {
  auto* rules_command =
      app.add_subcommand("rules", "the server's rule pack")->require_subcommand(1);
  auto rules = std::make_shared<RulesOptions>();
  auto* list = rules_command->add_subcommand("list", "loaded rules and rule files with errors");
  AddLang(list, rules);
  list->callback([rules, &action] {
    action = [rules](Context& context) {
      return Emit(context, context.client.Get("/api/v1/rules?lang=" + rules->lang), RenderRuleList);
    };
  });
  auto* show = rules_command->add_subcommand("show", "one rule: texts, parameters, condition");
  show->add_option("ID", rules->id, "rule id")->required();
  AddLang(show, rules);
  show->callback([rules, &action] {
    action = [rules](Context& context) {
      return Emit(
          context,
          context.client.Get("/api/v1/rules/" + PercentEncode(rules->id) + "?lang=" + rules->lang),
          RenderRule);
    };
  });
}

}  // namespace dozor::ctl
