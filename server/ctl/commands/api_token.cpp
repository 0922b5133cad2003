// `apitoken`: tokens of the management API (admin only).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"

namespace dozor::ctl {
namespace {

struct ApiTokenOptions {
  std::string name;
  std::string role;
  std::optional<int64_t> ttl_days;
};
using ApiTokenState = std::shared_ptr<ApiTokenOptions>;

void AddCreate(CLI::App* apitoken_command, const ApiTokenState& token, Action& action) {
  auto* create = apitoken_command->add_subcommand("create", "create an API token");
  create->add_option("NAME", token->name, "who or what uses it")->required();
  create->add_option("--role", token->role, "admin | operator | viewer")
      ->required()
      ->check(CLI::IsMember({"admin", "operator", "viewer"}));
  create->add_option("--ttl-days", token->ttl_days, "validity (0 = never expires)")
      ->check(CLI::Range(int64_t{0}, int64_t{3650}));
  create->callback([token, &action] {
    action = [token](Context& context) {
      nlohmann::json body = {{"name", token->name}, {"role", token->role}};
      PutIfSet(body, "ttl_days", token->ttl_days);
      return Emit(context, context.client.Post("/api/v1/api-tokens", body), RenderApiTokenCreated);
    };
  });
}

void AddListAndRevoke(CLI::App* apitoken_command, Action& action) {
  apitoken_command->add_subcommand("list", "list API tokens")->callback([&action] {
    action = [](Context& context) {
      return Emit(context, context.client.Get("/api/v1/api-tokens"), RenderApiTokenList);
    };
  });
  AddRevokeById(apitoken_command, "revoke an API token", "/api/v1/api-tokens", "API token", action);
}

}  // namespace

void AddApiTokenCommands(CLI::App& app, Action& action) {
  auto* apitoken_command =
      app.add_subcommand("apitoken", "management API tokens (admin)")->require_subcommand(1);
  auto token = std::make_shared<ApiTokenOptions>();
  AddCreate(apitoken_command, token, action);
  AddListAndRevoke(apitoken_command, action);
}

}  // namespace dozor::ctl
