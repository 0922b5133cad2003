// `findings`: what the rules found, and the lifecycle commands (ack, waive, unwaive, comment).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"

namespace dozor::ctl {
namespace {

struct FindingsOptions {
  // findings list
  std::string org;
  std::string host;
  std::string state;
  std::string severity;
  std::string rule;
  bool all = false;
  int limit = 1000;
  // one finding
  int64_t id = 0;
  std::optional<std::string> comment;
  std::string reason;
  std::optional<std::string> until;
};
using FindingsState = std::shared_ptr<FindingsOptions>;

void AddFindingId(CLI::App* command, const FindingsState& findings) {
  command->add_option("ID", findings->id, "finding id")->required()->check(CLI::PositiveNumber);
}

int RunList(Context& context, const FindingsOptions& findings) {
  std::string agent_id;
  if (!findings.host.empty()) {
    auto resolved = ResolveHost(context.client, findings.host);
    if (!resolved.ok()) {
      return ReportError(context, resolved.error());
    }
    agent_id = *resolved;
  }
  const std::string query = QueryString({{"org", findings.org},
                                         {"host", agent_id},
                                         {"state", findings.all ? "all" : findings.state},
                                         {"severity", findings.severity},
                                         {"rule", findings.rule},
                                         {"lang", std::string(LangCode(context.lang))}});
  return Emit(context,
              GetAllPages(context.client, "/api/v1/findings" + query, "findings", findings.limit),
              RenderFindingList);
}

void AddList(CLI::App* findings_command, const FindingsState& findings, Action& action) {
  auto* list = findings_command->add_subcommand("list", "list findings (active ones by default)");
  list->add_option("--org", findings->org, "only this organisation");
  list->add_option("--host", findings->host, "only this host (agent id or hostname)");
  list->add_option("--state", findings->state,
                   "comma list of open, acknowledged, regressed, waived, resolved");
  list->add_option("--severity", findings->severity,
                   "comma list of critical, high, medium, low, info");
  list->add_option("--rule", findings->rule, "only this rule id");
  list->add_flag("--all", findings->all, "every state, resolved included");
  list->add_option("--limit", findings->limit, "at most this many")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  list->callback([findings, &action] {
    if (findings->all && !findings->state.empty()) {
      throw CLI::ValidationError("findings list", "--all and --state exclude each other");
    }
    action = [findings](Context& context) { return RunList(context, *findings); };
  });
}

void AddShow(CLI::App* findings_command, const FindingsState& findings, Action& action) {
  auto* show = findings_command->add_subcommand("show", "one finding with evidence and history");
  AddFindingId(show, findings);
  show->callback([findings, &action] {
    action = [findings](Context& context) {
      return Emit(context,
                  context.client.Get(FindingPath(findings->id) +
                                     "?lang=" + std::string(LangCode(context.lang))),
                  RenderFinding);
    };
  });
}

// Records, for a lifecycle command, a POST to /findings/ID<suffix> that prints the new state.
void OnLifecycle(CLI::App* command, const FindingsState& findings, Action& action,
                 std::string suffix, std::function<nlohmann::json()> body) {
  command->callback([findings, &action, suffix, body] {
    action = [findings, suffix, body](Context& context) {
      return Emit(context, context.client.Post(FindingPath(findings->id, suffix), body()),
                  [&](const nlohmann::json& reply) {
                    return Message("Finding " + std::to_string(findings->id) + " (" +
                                   JsonStr(reply, "rule_id") + ") is now " +
                                   JsonStr(reply, "state"));
                  });
    };
  });
}

void AddLifecycle(CLI::App* findings_command, const FindingsState& findings, Action& action) {
  auto comment_body = [findings] {
    nlohmann::json body = nlohmann::json::object();
    PutIfSet(body, "comment", findings->comment);
    return body;
  };
  auto* ack = findings_command->add_subcommand("ack", "acknowledge: someone is on it");
  AddFindingId(ack, findings);
  ack->add_option("-m,--comment", findings->comment, "comment");
  OnLifecycle(ack, findings, action, "/ack", comment_body);

  auto* waive =
      findings_command->add_subcommand("waive", "accept the risk (the client decided not to fix)");
  AddFindingId(waive, findings);
  waive->add_option("--reason", findings->reason, "why the risk is accepted")->required();
  waive->add_option("--until", findings->until,
                    "YYYY-MM-DD (through that day, UTC) or RFC 3339 time; default: no expiry");
  OnLifecycle(waive, findings, action, "/waive", [findings] {
    nlohmann::json body = {{"reason", findings->reason}};
    PutIfSet(body, "until", findings->until);
    return body;
  });

  auto* unwaive = findings_command->add_subcommand("unwaive", "withdraw a waiver (back to open)");
  AddFindingId(unwaive, findings);
  unwaive->add_option("-m,--comment", findings->comment, "comment");
  OnLifecycle(unwaive, findings, action, "/unwaive", comment_body);
}

void AddComment(CLI::App* findings_command, const FindingsState& findings, Action& action) {
  auto* comment = findings_command->add_subcommand("comment", "add a note to the history");
  AddFindingId(comment, findings);
  comment->add_option("-m,--comment", findings->comment, "the note")->required();
  comment->callback([findings, &action] {
    action = [findings](Context& context) {
      return Emit(context,
                  context.client.Post(FindingPath(findings->id, "/comments"),
                                      {{"comment", findings->comment.value_or("")}}),
                  [&](const nlohmann::json&) {
                    return Message("Comment added to finding " + std::to_string(findings->id));
                  });
    };
  });
}

}  // namespace

void AddFindingsCommands(CLI::App& app, Action& action) {
  auto* findings_command =
      app.add_subcommand("findings", "weak spots the rules found, and their lifecycle")
          ->require_subcommand(1);
  auto findings = std::make_shared<FindingsOptions>();
  AddList(findings_command, findings, action);
  AddShow(findings_command, findings, action);
  AddLifecycle(findings_command, findings, action);
  AddComment(findings_command, findings, action);
}

}  // namespace dozor::ctl
