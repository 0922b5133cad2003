// `org engineers|assign|unassign`: the engineers assigned to an organisation (primary and backups,
// each with a specialty). Assigning is an admin's call.
#include <memory>
#include <optional>
#include <string>

#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"

namespace dozor::ctl {
namespace {

struct AssignmentOptions {
  std::string org;
  std::string user;
  bool backup = false;
  std::optional<std::string> specialty;
};
using AssignmentState = std::shared_ptr<AssignmentOptions>;

std::string EngineerPath(const AssignmentOptions& assignment) {
  return OrgPath(assignment.org, "/engineers/" + PercentEncode(assignment.user));
}

void AddOrgAndUser(CLI::App* command, const AssignmentState& assignment) {
  command->add_option("ORG", assignment->org, "organisation id or name")->required();
  command->add_option("USER", assignment->user, "engineer's account id or login")->required();
}

}  // namespace

void AddOrgEngineerCommands(CLI::App* org_command, Action& action) {
  auto assignment = std::make_shared<AssignmentOptions>();
  auto* engineers =
      org_command->add_subcommand("engineers", "the engineers assigned to an organisation");
  engineers->add_option("ORG", assignment->org, "organisation id or name")->required();
  engineers->callback([assignment, &action] {
    action = [assignment](Context& context) {
      return Emit(context, context.client.Get(OrgPath(assignment->org, "/engineers")),
                  RenderEngineers);
    };
  });

  auto* assign = org_command->add_subcommand(
      "assign", "assign an engineer (primary by default); again to change kind or specialty");
  AddOrgAndUser(assign, assignment);
  assign->add_flag("--backup", assignment->backup,
                   "as a backup (stands in when the primary is away)");
  assign->add_option(
      "--specialty", assignment->specialty,
      "what this engineer covers, e.g. \"1C\" (assigning again without it clears it)");
  assign->callback([assignment, &action] {
    action = [assignment](Context& context) {
      nlohmann::json body = {{"kind", assignment->backup ? "backup" : "primary"}};
      PutIfSet(body, "specialty", assignment->specialty);
      return Emit(context, context.client.Put(EngineerPath(*assignment), body),
                  [&](const nlohmann::json& reply) {
                    return Sentence(
                               "{} is now the {} engineer of {}.", context.lang,
                               {JsonStr(reply, "login"),
                                Label(JsonStr(reply, "kind"), context.lang), assignment->org}) +
                           "\n";
                  });
    };
  });

  auto* unassign =
      org_command->add_subcommand("unassign", "remove an engineer from an organisation");
  AddOrgAndUser(unassign, assignment);
  unassign->callback([assignment, &action] {
    action = [assignment](Context& context) {
      return Emit(context, context.client.Delete(EngineerPath(*assignment)),
                  [&](const nlohmann::json&) {
                    return Sentence("{} is no longer an engineer of {}.", context.lang,
                                    {assignment->user, assignment->org}) +
                           "\n";
                  });
    };
  });
}

}  // namespace dozor::ctl
