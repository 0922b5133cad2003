#include "ctl/cli.hpp"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ctl/api_client.hpp"
#include "ctl/format.hpp"
#include "dozor/common/files.hpp"

namespace dozor::ctl {

namespace {

constexpr size_t kMaxTokenFileBytes = 4096;
// The server's limit for a snapshot file (kMaxSnapshotFileBytes in server/store/store.hpp).
constexpr size_t kMaxSnapshotFileBytes = 32 * 1024 * 1024;

struct Context {
  ApiClient& client;
  std::ostream& out;
  std::ostream& err;
  bool json = false;
};

int ReportError(const Context& context, const Error& error) {
  context.err << "dozorctl: " << error.message << "\n";
  return error.code == ErrorCode::kUnavailable ? kExitUnreachable : kExitApiError;
}

// Prints the reply (verbatim JSON with --json, else rendered) or the error; returns the exit code.
int Emit(const Context& context, const Result<nlohmann::json>& reply,
         const std::function<std::string(const nlohmann::json&)>& render) {
  if (!reply.ok()) {
    return ReportError(context, reply.error());
  }
  if (context.json) {
    context.out << reply->dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    context.out << render(*reply);
  }
  return kExitOk;
}

std::string TrimText(std::string text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) {
    return "";
  }
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// Accepts an agent id or a hostname; a hostname must match exactly one host.
Result<std::string> ResolveHost(ApiClient& client, const std::string& key) {
  auto host = client.Get("/api/v1/hosts/" + UrlEncode(key));
  if (host.ok()) {
    return key;
  }
  if (host.error().code != ErrorCode::kNotFound) {
    return host.error();
  }
  DOZOR_ASSIGN_OR_RETURN(nlohmann::json hosts, client.Get("/api/v1/hosts"));
  std::vector<std::string> matches;
  if (hosts.contains("hosts") && hosts["hosts"].is_array()) {
    for (const auto& item : hosts["hosts"]) {
      if (JsonStr(item, "hostname") == key) {
        matches.push_back(JsonStr(item, "agent_id"));
      }
    }
  }
  if (matches.size() == 1) {
    return matches.front();
  }
  if (matches.size() > 1) {
    return MakeError(ErrorCode::kInvalidArgument, "hostname '" + key + "' matches " +
                                                      std::to_string(matches.size()) +
                                                      " hosts; use the agent id");
  }
  return MakeError(ErrorCode::kNotFound, "host '" + key + "' not found (by agent id or hostname)");
}

std::string HostPath(const std::string& agent_id, std::string_view suffix = "") {
  return "/api/v1/hosts/" + UrlEncode(agent_id) + std::string(suffix);
}

int RunHostShow(Context& context, const std::string& key) {
  auto agent_id = ResolveHost(context.client, key);
  if (!agent_id.ok()) {
    return ReportError(context, agent_id.error());
  }
  auto host = context.client.Get(HostPath(*agent_id));
  if (!host.ok()) {
    return ReportError(context, host.error());
  }
  auto inventory = context.client.Get(HostPath(*agent_id, "/inventory"));
  nlohmann::json inventory_json = nullptr;
  if (inventory.ok()) {
    inventory_json = std::move(inventory).value();
  } else if (inventory.error().code != ErrorCode::kNotFound) {
    return ReportError(context, inventory.error());
  }
  if (context.json) {
    nlohmann::json combined = {{"host", *host}, {"inventory", inventory_json}};
    context.out << combined.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else {
    context.out << RenderHostShow(*host, inventory_json);
  }
  return kExitOk;
}

// Runs `call` against a resolved host id.
int WithHost(Context& context, const std::string& key,
             const std::function<int(const std::string&)>& call) {
  auto agent_id = ResolveHost(context.client, key);
  if (!agent_id.ok()) {
    return ReportError(context, agent_id.error());
  }
  return call(*agent_id);
}

template <typename T>
void PutIfSet(nlohmann::json& body, const char* key, const std::optional<T>& value) {
  if (value.has_value()) {
    body[key] = *value;
  }
}

std::string Message(std::string text) { return text + "\n"; }

std::string OrgPath(const std::string& org, std::string_view suffix = "") {
  return "/api/v1/orgs/" + UrlEncode(org) + std::string(suffix);
}

std::string FindingPath(int64_t id, std::string_view suffix = "") {
  return "/api/v1/findings/" + std::to_string(id) + std::string(suffix);
}

// "?a=1&b=2" from the non-empty pairs; "" when none.
std::string QueryString(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (value.empty()) {
      continue;
    }
    out += (out.empty() ? "?" : "&") + key + "=" + UrlEncode(value);
  }
  return out;
}

std::string HumanSize(size_t bytes) {
  return bytes < 1024 ? std::to_string(bytes) + " bytes" : HumanBytes(bytes);
}

struct ReportRequest {
  std::string org;
  std::string format = "html";
  std::string lang = "ru";
  std::optional<std::string> output;  // "-" = stdout
};

// Downloads the report and writes it to the file (atomically) or to stdout. PDF is binary and
// would garble a terminal, so it goes to stdout only when stdout is redirected or with -o -.
int RunReport(Context& context, const ReportRequest& request) {
  const bool to_stdout = !request.output.has_value() || *request.output == "-";
  if (!request.output.has_value() && request.format == "pdf" && &context.out == &std::cout &&
      isatty(STDOUT_FILENO) == 1) {
    context.err << "dozorctl: not writing a PDF to the terminal; use -o FILE (or -o - to force)\n";
    return kExitUsage;
  }
  auto reply =
      context.client.Download(OrgPath(request.org, "/report") +
                              QueryString({{"format", request.format}, {"lang", request.lang}}));
  if (!reply.ok()) {
    return ReportError(context, reply.error());
  }
  if (to_stdout) {
    context.out.write(reply->body.data(), static_cast<std::streamsize>(reply->body.size()));
    context.out.flush();
    return kExitOk;
  }
  if (auto written = WriteFileAtomic(*request.output, reply->body, 0644); !written.ok()) {
    context.err << "dozorctl: writing " << *request.output << ": " << written.error().message
                << "\n";
    return kExitApiError;
  }
  context.out << "Wrote " << *request.output << " (" << HumanSize(reply->body.size()) << ", "
              << (reply->content_type.empty() ? request.format : reply->content_type) << ")\n";
  return kExitOk;
}

}  // namespace

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  try {
    CLI::App app{
        "dozorctl: manage organisations, hosts, findings, audit reports and tokens of a "
        "Dozor server"};
    app.require_subcommand(1);
    // Global options (--json, --server, ...) may also follow the command: `host list --json`.
    app.fallthrough();
    ClientOptions client_options;
    std::string token_file;
    bool json = false;
    long timeout = 30;
    app.add_option("--server", client_options.server_url, "management API URL")
        ->envname("DOZOR_SERVER")
        ->capture_default_str();
    app.add_option("--token", client_options.token, "API token")->envname("DOZOR_TOKEN");
    app.add_option("--token-file", token_file, "file holding the API token")
        ->envname("DOZOR_TOKEN_FILE");
    app.add_option("--ca", client_options.ca_file, "CA bundle (PEM) to verify the HTTPS server")
        ->check(CLI::ExistingFile);
    app.add_flag("--json", json, "print the API's JSON");
    app.add_option("--timeout", timeout, "request timeout in seconds")
        ->check(CLI::Range(1L, 3600L))
        ->capture_default_str();

    // Leaf commands record what to run; it runs after the whole line parsed cleanly.
    std::function<int(Context&)> action;

    // ---------------------------------------------------------------- org
    auto* org = app.add_subcommand("org", "client organisations")->require_subcommand(1);
    std::string org_name;
    std::optional<std::string> org_status;
    std::optional<std::string> org_type;
    std::optional<std::string> org_engineer;
    auto add_org_fields = [&](CLI::App* command) {
      command->add_option("--status", org_status, "prospect | remediation | active | ended");
      command->add_option("--type", org_type, "technical | application | complex");
      command->add_option("--engineer", org_engineer, "assigned engineer");
    };
    auto* org_create = org->add_subcommand("create", "create an organisation");
    org_create->add_option("NAME", org_name, "organisation name")->required();
    add_org_fields(org_create);
    org_create->callback([&] {
      action = [&](Context& context) {
        nlohmann::json body = {{"name", org_name}};
        PutIfSet(body, "contract_status", org_status);
        PutIfSet(body, "contract_type", org_type);
        PutIfSet(body, "engineer", org_engineer);
        return Emit(context, context.client.Post("/api/v1/orgs", body),
                    [](const nlohmann::json& reply) { return RenderOrg(reply); });
      };
    });
    org->add_subcommand("list", "list organisations")->callback([&] {
      action = [&](Context& context) {
        return Emit(context, context.client.Get("/api/v1/orgs"), RenderOrgList);
      };
    });
    auto* org_show = org->add_subcommand("show", "show one organisation");
    org_show->add_option("ORG", org_name, "organisation id or name")->required();
    org_show->callback([&] {
      action = [&](Context& context) {
        return Emit(context, context.client.Get("/api/v1/orgs/" + UrlEncode(org_name)), RenderOrg);
      };
    });
    auto* org_update = org->add_subcommand("update", "change contract status, type or engineer");
    org_update->add_option("ORG", org_name, "organisation id or name")->required();
    add_org_fields(org_update);
    org_update->callback([&] {
      if (!org_status && !org_type && !org_engineer) {
        throw CLI::ValidationError("org update",
                                   "give at least one of --status, --type, --engineer");
      }
      action = [&](Context& context) {
        nlohmann::json body = nlohmann::json::object();
        PutIfSet(body, "contract_status", org_status);
        PutIfSet(body, "contract_type", org_type);
        PutIfSet(body, "engineer", org_engineer);
        return Emit(context, context.client.Patch("/api/v1/orgs/" + UrlEncode(org_name), body),
                    RenderOrg);
      };
    });

    auto* org_contract =
        org->add_subcommand("contract", "show the contract lifecycle, or move it with --status");
    org_contract->add_option("ORG", org_name, "organisation id or name")->required();
    org_contract
        ->add_option("--status", org_status, "move to prospect | remediation | active | ended")
        ->check(CLI::IsMember({"prospect", "remediation", "active", "ended"}));
    org_contract->callback([&] {
      action = [&](Context& context) {
        if (org_status.has_value()) {
          return Emit(
              context,
              context.client.Post(OrgPath(org_name, "/contract"), {{"status", *org_status}}),
              RenderContract);
        }
        return Emit(context, context.client.Get(OrgPath(org_name, "/contract")), RenderContract);
      };
    });
    std::string snapshot_kind = "first-audit";
    auto* org_snapshot =
        org->add_subcommand("snapshot", "record an audit baseline of the active findings now");
    org_snapshot->add_option("ORG", org_name, "organisation id or name")->required();
    org_snapshot->add_option("--kind", snapshot_kind, "first-audit | signing")
        ->check(CLI::IsMember({"first-audit", "signing"}))
        ->capture_default_str();
    org_snapshot->callback([&] {
      action = [&](Context& context) {
        return Emit(context,
                    context.client.Post(OrgPath(org_name, "/snapshots"), {{"kind", snapshot_kind}}),
                    RenderSnapshot);
      };
    });
    auto* org_evaluate =
        org->add_subcommand("evaluate", "run every rule over the organisation now");
    org_evaluate->add_option("ORG", org_name, "organisation id or name")->required();
    org_evaluate->callback([&] {
      action = [&](Context& context) {
        return Emit(
            context, context.client.Post(OrgPath(org_name, "/evaluate"), nlohmann::json::object()),
            [&](const nlohmann::json& reply) {
              return Message("Evaluation of '" + JsonStr(reply, "org") +
                             "' requested; see `dozorctl findings list --org " + org_name + "`");
            });
      };
    });

    // ---------------------------------------------------------------- findings
    auto* findings =
        app.add_subcommand("findings", "weak spots the rules found, and their lifecycle")
            ->require_subcommand(1);
    std::string findings_org;
    std::string findings_host;
    std::string findings_state;
    std::string findings_severity;
    std::string findings_rule;
    std::string findings_lang = "en";
    bool findings_all = false;
    int findings_limit = 1000;
    int64_t finding_id = 0;
    std::optional<std::string> finding_comment;
    std::string finding_reason;
    std::optional<std::string> finding_until;
    auto add_lang = [&](CLI::App* command) {
      command->add_option("--lang", findings_lang, "language of titles and texts: en | ru")
          ->check(CLI::IsMember({"en", "ru"}))
          ->capture_default_str();
    };
    auto add_finding_id = [&](CLI::App* command) {
      command->add_option("ID", finding_id, "finding id")->required()->check(CLI::PositiveNumber);
    };
    auto* findings_list =
        findings->add_subcommand("list", "list findings (active ones by default)");
    findings_list->add_option("--org", findings_org, "only this organisation");
    findings_list->add_option("--host", findings_host, "only this host (agent id or hostname)");
    findings_list->add_option("--state", findings_state,
                              "comma list of open, acknowledged, regressed, waived, resolved");
    findings_list->add_option("--severity", findings_severity,
                              "comma list of critical, high, medium, low, info");
    findings_list->add_option("--rule", findings_rule, "only this rule id");
    findings_list->add_flag("--all", findings_all, "every state, resolved included");
    findings_list->add_option("--limit", findings_limit, "at most this many")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    add_lang(findings_list);
    findings_list->callback([&] {
      if (findings_all && !findings_state.empty()) {
        throw CLI::ValidationError("findings list", "--all and --state exclude each other");
      }
      action = [&](Context& context) {
        std::string agent_id;
        if (!findings_host.empty()) {
          auto resolved = ResolveHost(context.client, findings_host);
          if (!resolved.ok()) {
            return ReportError(context, resolved.error());
          }
          agent_id = *resolved;
        }
        const std::string query = QueryString({{"org", findings_org},
                                               {"host", agent_id},
                                               {"state", findings_all ? "all" : findings_state},
                                               {"severity", findings_severity},
                                               {"rule", findings_rule},
                                               {"lang", findings_lang},
                                               {"limit", std::to_string(findings_limit)}});
        return Emit(context, context.client.Get("/api/v1/findings" + query), RenderFindingList);
      };
    });
    auto* findings_show = findings->add_subcommand("show", "one finding with evidence and history");
    add_finding_id(findings_show);
    add_lang(findings_show);
    findings_show->callback([&] {
      action = [&](Context& context) {
        return Emit(context, context.client.Get(FindingPath(finding_id) + "?lang=" + findings_lang),
                    RenderFinding);
      };
    });
    // The lifecycle commands print the finding's new state.
    auto changed = [&](const nlohmann::json& reply) {
      return Message("Finding " + std::to_string(finding_id) + " (" + JsonStr(reply, "rule_id") +
                     ") is now " + JsonStr(reply, "state"));
    };
    auto* findings_ack = findings->add_subcommand("ack", "acknowledge: someone is on it");
    add_finding_id(findings_ack);
    findings_ack->add_option("-m,--comment", finding_comment, "comment");
    findings_ack->callback([&] {
      action = [&](Context& context) {
        nlohmann::json body = nlohmann::json::object();
        PutIfSet(body, "comment", finding_comment);
        return Emit(context, context.client.Post(FindingPath(finding_id, "/ack"), body), changed);
      };
    });
    auto* findings_waive =
        findings->add_subcommand("waive", "accept the risk (the client decided not to fix)");
    add_finding_id(findings_waive);
    findings_waive->add_option("--reason", finding_reason, "why the risk is accepted")->required();
    findings_waive->add_option("--until", finding_until,
                               "YYYY-MM-DD (through that day, UTC) or RFC 3339 time; default: no "
                               "expiry");
    findings_waive->callback([&] {
      action = [&](Context& context) {
        nlohmann::json body = {{"reason", finding_reason}};
        PutIfSet(body, "until", finding_until);
        return Emit(context, context.client.Post(FindingPath(finding_id, "/waive"), body), changed);
      };
    });
    auto* findings_unwaive =
        findings->add_subcommand("unwaive", "withdraw a waiver (back to open)");
    add_finding_id(findings_unwaive);
    findings_unwaive->add_option("-m,--comment", finding_comment, "comment");
    findings_unwaive->callback([&] {
      action = [&](Context& context) {
        nlohmann::json body = nlohmann::json::object();
        PutIfSet(body, "comment", finding_comment);
        return Emit(context, context.client.Post(FindingPath(finding_id, "/unwaive"), body),
                    changed);
      };
    });
    auto* findings_comment = findings->add_subcommand("comment", "add a note to the history");
    add_finding_id(findings_comment);
    findings_comment->add_option("-m,--comment", finding_comment, "the note")->required();
    findings_comment->callback([&] {
      action = [&](Context& context) {
        return Emit(context,
                    context.client.Post(FindingPath(finding_id, "/comments"),
                                        {{"comment", finding_comment.value_or("")}}),
                    [&](const nlohmann::json&) {
                      return Message("Comment added to finding " + std::to_string(finding_id));
                    });
      };
    });

    // ---------------------------------------------------------------- report
    ReportRequest report_request;
    auto* report = app.add_subcommand("report", "download an organisation's audit report");
    report->add_option("--org", report_request.org, "organisation id or name")->required();
    report->add_option("--format", report_request.format, "html | pdf | json | csv")
        ->check(CLI::IsMember({"html", "pdf", "json", "csv"}))
        ->capture_default_str();
    report->add_option("--lang", report_request.lang, "ru | en")
        ->check(CLI::IsMember({"ru", "en"}))
        ->capture_default_str();
    report->add_option("-o,--output", report_request.output, "file to write; - for stdout");
    report->callback(
        [&] { action = [&](Context& context) { return RunReport(context, report_request); }; });

    // ---------------------------------------------------------------- rules
    auto* rules = app.add_subcommand("rules", "the server's rule pack")->require_subcommand(1);
    std::string rule_id;
    std::string rules_lang = "en";
    auto add_rules_lang = [&](CLI::App* command) {
      command->add_option("--lang", rules_lang, "en | ru")
          ->check(CLI::IsMember({"en", "ru"}))
          ->capture_default_str();
    };
    auto* rules_list = rules->add_subcommand("list", "loaded rules and rule files with errors");
    add_rules_lang(rules_list);
    rules_list->callback([&] {
      action = [&](Context& context) {
        return Emit(context, context.client.Get("/api/v1/rules?lang=" + rules_lang),
                    RenderRuleList);
      };
    });
    auto* rules_show = rules->add_subcommand("show", "one rule: texts, parameters, condition");
    rules_show->add_option("ID", rule_id, "rule id")->required();
    add_rules_lang(rules_show);
    rules_show->callback([&] {
      action = [&](Context& context) {
        return Emit(
            context,
            context.client.Get("/api/v1/rules/" + UrlEncode(rule_id) + "?lang=" + rules_lang),
            RenderRule);
      };
    });

    // ---------------------------------------------------------------- token
    auto* token = app.add_subcommand("token", "enrollment tokens")->require_subcommand(1);
    std::string token_org;
    std::optional<std::string> token_label;
    std::optional<int64_t> token_ttl_hours;
    int64_t token_id = 0;
    auto* token_create = token->add_subcommand("create", "create an enrollment token");
    token_create->add_option("--org", token_org, "organisation id or name")->required();
    token_create->add_option("--label", token_label, "free-text label");
    token_create->add_option("--ttl-hours", token_ttl_hours, "validity (0 = never expires)")
        ->check(CLI::Range(int64_t{0}, int64_t{8760}));
    token_create->callback([&] {
      action = [&](Context& context) {
        nlohmann::json body = nlohmann::json::object();
        PutIfSet(body, "label", token_label);
        PutIfSet(body, "ttl_hours", token_ttl_hours);
        return Emit(context,
                    context.client.Post("/api/v1/orgs/" + UrlEncode(token_org) + "/tokens", body),
                    RenderTokenCreated);
      };
    });
    auto* token_list = token->add_subcommand("list", "list enrollment tokens");
    token_list->add_option("--org", token_org, "only this organisation");
    token_list->callback([&] {
      action = [&](Context& context) {
        const std::string query = token_org.empty() ? "" : "?org=" + UrlEncode(token_org);
        return Emit(context, context.client.Get("/api/v1/tokens" + query), RenderTokenList);
      };
    });
    auto* token_revoke = token->add_subcommand("revoke", "revoke an enrollment token");
    token_revoke->add_option("ID", token_id, "token id")->required()->check(CLI::PositiveNumber);
    token_revoke->callback([&] {
      action = [&](Context& context) {
        return Emit(context,
                    context.client.Post("/api/v1/tokens/" + std::to_string(token_id) + "/revoke",
                                        nlohmann::json::object()),
                    [&](const nlohmann::json&) {
                      return Message("Revoked enrollment token " + std::to_string(token_id));
                    });
      };
    });

    // ---------------------------------------------------------------- import
    auto* import_cmd = app.add_subcommand(
        "import", "load a one-shot audit file (dozor-agent collect) as a host of an organisation");
    std::string import_file;
    std::string import_org;
    import_cmd->add_option("FILE", import_file, "snapshot file written by dozor-agent collect -o")
        ->required();
    import_cmd->add_option("--org", import_org, "organisation id or name")->required();
    import_cmd->callback([&] {
      action = [&](Context& context) {
        auto text = ReadFile(import_file, kMaxSnapshotFileBytes);
        if (!text.ok()) {
          context.err << "dozorctl: reading " << import_file << ": " << text.error().message
                      << "\n";
          return kExitApiError;
        }
        return Emit(context,
                    context.client.CallWithText("POST", OrgPath(import_org, "/imports"), *text),
                    RenderImport);
      };
    });

    // ---------------------------------------------------------------- host
    auto* host = app.add_subcommand("host", "enrolled hosts")->require_subcommand(1);
    std::string host_key;
    std::string host_org;
    int host_limit = 50;
    std::optional<int64_t> health_interval;
    std::optional<int64_t> inventory_interval;
    auto* host_list = host->add_subcommand("list", "list hosts");
    host_list->add_option("--org", host_org, "only this organisation");
    host_list->callback([&] {
      action = [&](Context& context) {
        const std::string query = host_org.empty() ? "" : "?org=" + UrlEncode(host_org);
        return Emit(context, context.client.Get("/api/v1/hosts" + query), RenderHostList);
      };
    });
    auto add_host_arg = [&](CLI::App* command) {
      command->add_option("HOST", host_key, "agent id or hostname")->required();
    };
    auto* host_show = host->add_subcommand("show", "host summary and inventory overview");
    add_host_arg(host_show);
    host_show->callback(
        [&] { action = [&](Context& context) { return RunHostShow(context, host_key); }; });
    auto* host_inventory = host->add_subcommand("inventory", "full inventory");
    add_host_arg(host_inventory);
    host_inventory->callback([&] {
      action = [&](Context& context) {
        return WithHost(context, host_key, [&](const std::string& id) {
          return Emit(context, context.client.Get(HostPath(id, "/inventory")), RenderInventory);
        });
      };
    });
    auto* host_changes = host->add_subcommand("changes", "inventory change log");
    add_host_arg(host_changes);
    host_changes->add_option("--limit", host_limit, "at most this many")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    host_changes->callback([&] {
      action = [&](Context& context) {
        return WithHost(context, host_key, [&](const std::string& id) {
          return Emit(
              context,
              context.client.Get(HostPath(id, "/changes?limit=" + std::to_string(host_limit))),
              RenderChanges);
        });
      };
    });
    auto* host_health = host->add_subcommand("health", "recent health samples, newest first");
    add_host_arg(host_health);
    host_health->add_option("--limit", host_limit, "at most this many")
        ->check(CLI::Range(1, 10000))
        ->capture_default_str();
    host_health->callback([&] {
      action = [&](Context& context) {
        return WithHost(context, host_key, [&](const std::string& id) {
          return Emit(
              context,
              context.client.Get(HostPath(id, "/health?limit=" + std::to_string(host_limit))),
              RenderHealth);
        });
      };
    });
    auto* host_revoke = host->add_subcommand("revoke", "revoke a host's agent identity");
    add_host_arg(host_revoke);
    host_revoke->callback([&] {
      action = [&](Context& context) {
        return WithHost(context, host_key, [&](const std::string& id) {
          return Emit(context,
                      context.client.Post(HostPath(id, "/revoke"), nlohmann::json::object()),
                      [&](const nlohmann::json&) { return Message("Revoked host " + id); });
        });
      };
    });
    auto* host_collect = host->add_subcommand("collect", "ask the agent to collect inventory now");
    add_host_arg(host_collect);
    host_collect->callback([&] {
      action = [&](Context& context) {
        return WithHost(context, host_key, [&](const std::string& id) {
          return Emit(context,
                      context.client.Post(HostPath(id, "/commands"), {{"collect_inventory", true}}),
                      [&](const nlohmann::json& reply) {
                        return Message(
                            "Sent collect-inventory to " + id + " (command " +
                            std::to_string(JsonU64(reply.value("command_id", nlohmann::json()))) +
                            ")");
                      });
        });
      };
    });
    auto* host_intervals = host->add_subcommand("intervals", "change the agent's intervals");
    add_host_arg(host_intervals);
    host_intervals->add_option("--health", health_interval, "health interval, seconds (10..86400)")
        ->check(CLI::Range(int64_t{10}, int64_t{86400}));
    host_intervals
        ->add_option("--inventory", inventory_interval, "inventory interval, seconds (60..604800)")
        ->check(CLI::Range(int64_t{60}, int64_t{604800}));
    host_intervals->callback([&] {
      if (!health_interval && !inventory_interval) {
        throw CLI::ValidationError("host intervals", "give --health and/or --inventory");
      }
      action = [&](Context& context) {
        return WithHost(context, host_key, [&](const std::string& id) {
          nlohmann::json body = nlohmann::json::object();
          PutIfSet(body, "health_interval_seconds", health_interval);
          PutIfSet(body, "inventory_interval_seconds", inventory_interval);
          return Emit(
              context, context.client.Post(HostPath(id, "/commands"), body),
              [&](const nlohmann::json&) { return Message("Sent new intervals to " + id); });
        });
      };
    });

    // ---------------------------------------------------------------- apitoken
    auto* apitoken =
        app.add_subcommand("apitoken", "management API tokens (admin)")->require_subcommand(1);
    std::string apitoken_name;
    std::string apitoken_role;
    std::optional<int64_t> apitoken_ttl_days;
    int64_t apitoken_id = 0;
    auto* apitoken_create = apitoken->add_subcommand("create", "create an API token");
    apitoken_create->add_option("NAME", apitoken_name, "who or what uses it")->required();
    apitoken_create->add_option("--role", apitoken_role, "admin | operator | viewer")
        ->required()
        ->check(CLI::IsMember({"admin", "operator", "viewer"}));
    apitoken_create->add_option("--ttl-days", apitoken_ttl_days, "validity (0 = never expires)")
        ->check(CLI::Range(int64_t{0}, int64_t{3650}));
    apitoken_create->callback([&] {
      action = [&](Context& context) {
        nlohmann::json body = {{"name", apitoken_name}, {"role", apitoken_role}};
        PutIfSet(body, "ttl_days", apitoken_ttl_days);
        return Emit(context, context.client.Post("/api/v1/api-tokens", body),
                    RenderApiTokenCreated);
      };
    });
    apitoken->add_subcommand("list", "list API tokens")->callback([&] {
      action = [&](Context& context) {
        return Emit(context, context.client.Get("/api/v1/api-tokens"), RenderApiTokenList);
      };
    });
    auto* apitoken_revoke = apitoken->add_subcommand("revoke", "revoke an API token");
    apitoken_revoke->add_option("ID", apitoken_id, "token id")
        ->required()
        ->check(CLI::PositiveNumber);
    apitoken_revoke->callback([&] {
      action = [&](Context& context) {
        return Emit(
            context,
            context.client.Post("/api/v1/api-tokens/" + std::to_string(apitoken_id) + "/revoke",
                                nlohmann::json::object()),
            [&](const nlohmann::json&) {
              return Message("Revoked API token " + std::to_string(apitoken_id));
            });
      };
    });

    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      const int code = app.exit(e, out, err);
      return code == 0 ? kExitOk : kExitUsage;
    }
    if (client_options.server_url.rfind("http://", 0) != 0 &&
        client_options.server_url.rfind("https://", 0) != 0) {
      err << "dozorctl: --server must be an http:// or https:// URL, got '"
          << client_options.server_url << "'\n";
      return kExitUsage;
    }
    if (client_options.token.empty() && !token_file.empty()) {
      auto text = ReadFile(token_file, kMaxTokenFileBytes);
      if (!text.ok()) {
        err << "dozorctl: reading token file " << token_file << ": " << text.error().message
            << "\n";
        return kExitUsage;
      }
      client_options.token = TrimText(std::move(text).value());
    }
    client_options.timeout_seconds = timeout;
    if (!action) {
      err << app.help();
      return kExitUsage;
    }
    ApiClient client(std::move(client_options));
    Context context{client, out, err, json};
    return action(context);
  } catch (const std::exception& e) {
    err << "dozorctl: " << e.what() << "\n";
  } catch (...) {
    err << "dozorctl: unexpected failure\n";
  }
  return kExitApiError;
}

}  // namespace dozor::ctl
