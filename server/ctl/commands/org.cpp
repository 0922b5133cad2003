// `org`: client organisations and their contract lifecycle.
#include <memory>
#include <optional>
#include <string>

#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"

namespace dozor::ctl {
namespace {

struct OrgOptions {
  std::string name;
  std::optional<std::string> status;
  std::optional<std::string> type;
  std::optional<std::string> engineer;
  std::optional<std::string> declared_hosts;  // a count, or "none" to clear it
  std::string snapshot_kind = "first-audit";
};
using OrgState = std::shared_ptr<OrgOptions>;

void AddOrgArgument(CLI::App* command, const OrgState& org) {
  command->add_option("ORG", org->name, "organisation id or name")->required();
}

void AddOrgFields(CLI::App* command, const OrgState& org) {
  command->add_option("--status", org->status, "prospect | remediation | active | ended");
  command->add_option("--type", org->type, "technical | application | complex");
  command->add_option("--engineer", org->engineer, "assigned engineer");
  command
      ->add_option("--declared-hosts", org->declared_hosts,
                   "how many machines the client says it has (the report's coverage), or "
                   "'none' to clear it")
      ->check([](const std::string& value) -> std::string {
        if (value == "none") {
          return "";
        }
        if (value.empty() || value.size() > 7 ||
            value.find_first_not_of("0123456789") != std::string::npos ||
            std::stoll(value) > 1000000) {
          return "a whole number 0-1000000 or 'none'";
        }
        return "";
      });
}

// The contract fields that were given, under the API's names.
nlohmann::json ContractFields(const OrgOptions& org, nlohmann::json body) {
  PutIfSet(body, "contract_status", org.status);
  PutIfSet(body, "contract_type", org.type);
  PutIfSet(body, "engineer", org.engineer);
  if (org.declared_hosts) {
    body["declared_hosts"] = *org.declared_hosts == "none"
                                 ? nlohmann::json(nullptr)
                                 : nlohmann::json(std::stoll(*org.declared_hosts));
  }
  return body;
}

void AddCreate(CLI::App* org_command, const OrgState& org, Action& action) {
  auto* create = org_command->add_subcommand("create", "create an organisation");
  create->add_option("NAME", org->name, "organisation name")->required();
  AddOrgFields(create, org);
  create->callback([org, &action] {
    action = [org](Context& context) {
      return Emit(context,
                  context.client.Post("/api/v1/orgs", ContractFields(*org, {{"name", org->name}})),
                  RenderOrg);
    };
  });
}

void AddListAndShow(CLI::App* org_command, const OrgState& org, Action& action) {
  org_command->add_subcommand("list", "list organisations")->callback([&action] {
    action = [](Context& context) {
      return Emit(context, GetAllPages(context.client, "/api/v1/orgs", "organizations"),
                  RenderOrgList);
    };
  });
  auto* show = org_command->add_subcommand("show", "show one organisation");
  AddOrgArgument(show, org);
  show->callback([org, &action] {
    action = [org](Context& context) {
      return Emit(context, context.client.Get(OrgPath(org->name)), RenderOrg);
    };
  });
}

void AddUpdate(CLI::App* org_command, const OrgState& org, Action& action) {
  auto* update = org_command->add_subcommand(
      "update", "change contract status, type, engineer or the declared machine count");
  AddOrgArgument(update, org);
  AddOrgFields(update, org);
  update->callback([org, &action] {
    if (!org->status && !org->type && !org->engineer && !org->declared_hosts) {
      throw CLI::ValidationError(
          "org update", "give at least one of --status, --type, --engineer, --declared-hosts");
    }
    action = [org](Context& context) {
      return Emit(
          context,
          context.client.Patch(OrgPath(org->name), ContractFields(*org, nlohmann::json::object())),
          RenderOrg);
    };
  });
}

void AddContract(CLI::App* org_command, const OrgState& org, Action& action) {
  auto* contract = org_command->add_subcommand(
      "contract", "show the contract lifecycle, or move it with --status");
  AddOrgArgument(contract, org);
  contract->add_option("--status", org->status, "move to prospect | remediation | active | ended")
      ->check(CLI::IsMember({"prospect", "remediation", "active", "ended"}));
  contract->callback([org, &action] {
    action = [org](Context& context) {
      const std::string path = OrgPath(org->name, "/contract");
      if (org->status.has_value()) {
        return Emit(context, context.client.Post(path, {{"status", *org->status}}), RenderContract);
      }
      return Emit(context, context.client.Get(path), RenderContract);
    };
  });
}

void AddSnapshotAndEvaluate(CLI::App* org_command, const OrgState& org, Action& action) {
  auto* snapshot = org_command->add_subcommand(
      "snapshot", "record an audit baseline of the active findings now");
  AddOrgArgument(snapshot, org);
  snapshot->add_option("--kind", org->snapshot_kind, "first-audit | signing")
      ->check(CLI::IsMember({"first-audit", "signing"}))
      ->capture_default_str();
  snapshot->callback([org, &action] {
    action = [org](Context& context) {
      return Emit(
          context,
          context.client.Post(OrgPath(org->name, "/snapshots"), {{"kind", org->snapshot_kind}}),
          RenderSnapshot);
    };
  });
  auto* evaluate =
      org_command->add_subcommand("evaluate", "run every rule over the organisation now");
  AddOrgArgument(evaluate, org);
  evaluate->callback([org, &action] {
    action = [org](Context& context) {
      return Emit(
          context, context.client.Post(OrgPath(org->name, "/evaluate"), nlohmann::json::object()),
          [&](const nlohmann::json& reply) {
            return Message("Evaluation of '" + JsonStr(reply, "org") +
                           "' requested; see `dozorctl findings list --org " + org->name + "`");
          });
    };
  });
}

}  // namespace

void AddOrgCommands(CLI::App& app, Action& action) {
  auto* org_command = app.add_subcommand("org", "client organisations")->require_subcommand(1);
  auto org = std::make_shared<OrgOptions>();
  AddCreate(org_command, org, action);
  AddListAndShow(org_command, org, action);
  AddUpdate(org_command, org, action);
  AddContract(org_command, org, action);
  AddSnapshotAndEvaluate(org_command, org, action);
  AddOrgEngineerCommands(org_command, action);
}

}  // namespace dozor::ctl
