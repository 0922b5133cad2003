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
};
using RulesState = std::shared_ptr<RulesOptions>;

// The rules' titles and texts come in the output language (--lang).
std::string LangQuery(const Context& context) {
  return "?lang=" + std::string(LangCode(context.lang));
}

}  // namespace

void AddRulesCommands(CLI::App& app, Action& action) {
  auto* rules_command =
      app.add_subcommand("rules", "the server's rule pack")->require_subcommand(1);
  auto rules = std::make_shared<RulesOptions>();
  auto* list = rules_command->add_subcommand("list", "loaded rules and rule files with errors");
  list->callback([rules, &action] {
    action = [rules](Context& context) {
      return Emit(context, context.client.Get("/api/v1/rules" + LangQuery(context)),
                  RenderRuleList);
    };
  });
  auto* show = rules_command->add_subcommand("show", "one rule: texts, parameters, condition");
  show->add_option("ID", rules->id, "rule id")->required();
  show->callback([rules, &action] {
    action = [rules](Context& context) {
      return Emit(
          context,
          context.client.Get("/api/v1/rules/" + PercentEncode(rules->id) + LangQuery(context)),
          RenderRule);
    };
  });
}

}  // namespace dozor::ctl
