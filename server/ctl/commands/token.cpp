// `token`: enrollment tokens, with which agents join an organisation.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"

namespace dozor::ctl {
namespace {

struct TokenOptions {
  std::string org;
  std::optional<std::string> label;
  std::optional<int64_t> ttl_hours;
  std::optional<int64_t> max_uses;
};
using TokenState = std::shared_ptr<TokenOptions>;

void AddCreate(CLI::App* token_command, const TokenState& token, Action& action) {
  auto* create = token_command->add_subcommand("create", "create an enrollment token");
  create->add_option("--org", token->org, "organisation id or name")->required();
  create->add_option("--label", token->label, "free-text label");
  create->add_option("--ttl-hours", token->ttl_hours, "validity (0 = never expires)")
      ->check(CLI::Range(int64_t{0}, int64_t{8760}));
  create
      ->add_option("--max-uses", token->max_uses,
                   "how many machines may enrol with it (default 100, 0 = no limit)")
      ->check(CLI::Range(int64_t{0}, int64_t{100000}));
  create->callback([token, &action] {
    action = [token](Context& context) {
      nlohmann::json body = nlohmann::json::object();
      PutIfSet(body, "label", token->label);
      PutIfSet(body, "ttl_hours", token->ttl_hours);
      PutIfSet(body, "max_uses", token->max_uses);
      return Emit(context, context.client.Post(OrgPath(token->org, "/tokens"), body),
                  RenderTokenCreated);
    };
  });
}

void AddListAndRevoke(CLI::App* token_command, const TokenState& token, Action& action) {
  auto* list = token_command->add_subcommand("list", "list enrollment tokens");
  list->add_option("--org", token->org, "only this organisation");
  list->callback([token, &action] {
    action = [token](Context& context) {
      return Emit(context,
                  context.client.Get("/api/v1/tokens" + QueryString({{"org", token->org}})),
                  RenderTokenList);
    };
  });
  AddRevokeById(token_command, "revoke an enrollment token", "/api/v1/tokens", "enrollment token",
                action);
}

}  // namespace

void AddTokenCommands(CLI::App& app, Action& action) {
  auto* token_command = app.add_subcommand("token", "enrollment tokens")->require_subcommand(1);
  auto token = std::make_shared<TokenOptions>();
  AddCreate(token_command, token, action);
  AddListAndRevoke(token_command, token, action);
}

}  // namespace dozor::ctl
