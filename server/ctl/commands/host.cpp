// `host`: enrolled (and imported) hosts: summaries, inventory, change log, health, and commands
// to the agent. HOST is an agent id or a hostname that matches one host.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ctl/cli.hpp"
#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"

namespace dozor::ctl {
namespace {

struct HostOptions {
  std::string key;  // HOST as given
  std::string org;
  int limit = 50;
  std::optional<int64_t> health_interval;
  std::optional<int64_t> inventory_interval;
};
using HostState = std::shared_ptr<HostOptions>;

// What a host command does with the agent id HOST resolved to.
using HostCall = std::function<int(Context&, const HostOptions&, const std::string& agent_id)>;

// Throws CLI::ValidationError for option combinations the command refuses.
using HostCheck = std::function<void(const HostOptions&)>;

// Adds `name` with the HOST argument; choosing it runs `check` on the parsed options, then
// records `call` against the resolved host.
CLI::App* AddHostCommand(CLI::App* host_command, const HostState& host, Action& action,
                         const std::string& name, const std::string& description, HostCall call,
                         HostCheck check = nullptr) {
  auto* command = host_command->add_subcommand(name, description);
  command->add_option("HOST", host->key, "agent id or hostname")->required();
  command->callback([host, &action, call = std::move(call), check = std::move(check)] {
    if (check) {
      check(*host);
    }
    action = [host, call](Context& context) {
      return WithHost(context, host->key,
                      [&](const std::string& agent_id) { return call(context, *host, agent_id); });
    };
  });
  return command;
}

// `host show`: the host and, when one arrived, its inventory (one JSON object with --json).
int RunShow(Context& context, const HostOptions&, const std::string& agent_id) {
  auto host = context.client.Get(HostPath(agent_id));
  if (!host.ok()) {
    return ReportError(context, host.error());
  }
  auto inventory = context.client.Get(HostPath(agent_id, "/inventory"));
  nlohmann::json inventory_json = nullptr;
  if (inventory.ok()) {
    inventory_json = std::move(inventory).value();
  } else if (inventory.error().code != ErrorCode::kNotFound) {
    return ReportError(context, inventory.error());
  }
  if (context.json) {
    PrintJson(context, {{"host", *host}, {"inventory", inventory_json}});
  } else {
    context.out << TerminalText(RenderHostShow(*host, inventory_json, context.lang));
  }
  return kExitOk;
}

void AddLimit(CLI::App* command, const HostState& host) {
  command->add_option("--limit", host->limit, "at most this many")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
}

void AddReadCommands(CLI::App* host_command, const HostState& host, Action& action) {
  auto* list = host_command->add_subcommand("list", "list hosts");
  list->add_option("--org", host->org, "only this organisation");
  list->callback([host, &action] {
    action = [host](Context& context) {
      return Emit(
          context,
          GetAllPages(context.client, "/api/v1/hosts" + QueryString({{"org", host->org}}), "hosts"),
          RenderHostList);
    };
  });
  AddHostCommand(host_command, host, action, "show", "host summary and inventory overview",
                 RunShow);
  AddHostCommand(host_command, host, action, "inventory", "full inventory",
                 [](Context& context, const HostOptions&, const std::string& id) {
                   return Emit(context, context.client.Get(HostPath(id, "/inventory")),
                               RenderInventory);
                 });
  AddLimit(AddHostCommand(host_command, host, action, "changes", "inventory change log",
                          [](Context& context, const HostOptions& options, const std::string& id) {
                            return Emit(context,
                                        context.client.Get(HostPath(
                                            id, "/changes?limit=" + std::to_string(options.limit))),
                                        RenderChanges);
                          }),
           host);
  AddLimit(
      AddHostCommand(host_command, host, action, "health", "recent health samples, newest first",
                     [](Context& context, const HostOptions& options, const std::string& id) {
                       return Emit(context,
                                   context.client.Get(HostPath(
                                       id, "/health?limit=" + std::to_string(options.limit))),
                                   RenderHealth);
                     }),
      host);
}

int SendCollect(Context& context, const HostOptions&, const std::string& id) {
  return Emit(
      context, context.client.Post(HostPath(id, "/commands"), {{"collect_inventory", true}}),
      [&](const nlohmann::json& reply) {
        return Message("Sent collect-inventory to " + id + " (command " +
                       std::to_string(JsonU64(reply.value("command_id", nlohmann::json()))) + ")");
      });
}

int SendIntervals(Context& context, const HostOptions& options, const std::string& id) {
  nlohmann::json body = nlohmann::json::object();
  PutIfSet(body, "health_interval_seconds", options.health_interval);
  PutIfSet(body, "inventory_interval_seconds", options.inventory_interval);
  return Emit(context, context.client.Post(HostPath(id, "/commands"), body),
              [&](const nlohmann::json&) { return Message("Sent new intervals to " + id); });
}

void AddAgentCommands(CLI::App* host_command, const HostState& host, Action& action) {
  AddHostCommand(
      host_command, host, action, "revoke", "revoke a host's agent identity",
      [](Context& context, const HostOptions&, const std::string& id) {
        return Emit(context, context.client.Post(HostPath(id, "/revoke"), nlohmann::json::object()),
                    [&](const nlohmann::json&) { return Message("Revoked host " + id); });
      });
  AddHostCommand(host_command, host, action, "collect", "ask the agent to collect inventory now",
                 SendCollect);
  auto* intervals = AddHostCommand(
      host_command, host, action, "intervals", "change the agent's intervals", SendIntervals,
      [](const HostOptions& options) {
        if (!options.health_interval && !options.inventory_interval) {
          throw CLI::ValidationError("host intervals", "give --health and/or --inventory");
        }
      });
  intervals->add_option("--health", host->health_interval, "health interval, seconds (10..86400)")
      ->check(CLI::Range(int64_t{10}, int64_t{86400}));
  intervals
      ->add_option("--inventory", host->inventory_interval,
                   "inventory interval, seconds (60..604800)")
      ->check(CLI::Range(int64_t{60}, int64_t{604800}));
}

}  // namespace

void AddHostCommands(CLI::App& app, Action& action) {
  auto* host_command = app.add_subcommand("host", "enrolled hosts")->require_subcommand(1);
  auto host = std::make_shared<HostOptions>();
  AddReadCommands(host_command, host, action);
  AddAgentCommands(host_command, host, action);
}

}  // namespace dozor::ctl
