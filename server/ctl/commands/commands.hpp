// dozorctl's command groups. Each Add...Commands registers one top-level command and its
// subcommands on `app`; when a leaf is chosen, its parse callback stores what to run in `action`.
// The option values live in state the callbacks own, so they outlive the function that adds them.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "ctl/command_context.hpp"

namespace dozor::ctl {

void AddSessionCommands(CLI::App& app, Action& action);        // login, logout, whoami, passwd
void AddUserCommands(CLI::App& app, Action& action);           // user list|create|show|update|...
void AddMeCommands(CLI::App& app, Action& action);             // me show|update
void AddOrgCommands(CLI::App& app, Action& action);            // org create|list|show|update|...
void AddNotesCommands(CLI::App& app, Action& action);          // notes show|set
void AddAuditCommand(CLI::App& app, Action& action);           // audit
void AddSecurityEventsCommand(CLI::App& app, Action& action);  // security-events
void AddFindingsCommands(CLI::App& app, Action& action);       // findings list|show|ack|waive|...
void AddReportCommand(CLI::App& app, Action& action);          // report
void AddRulesCommands(CLI::App& app, Action& action);          // rules list|show
void AddTokenCommands(CLI::App& app, Action& action);          // token create|list|revoke
void AddImportCommand(CLI::App& app, Action& action);          // import
void AddHostCommands(CLI::App& app, Action& action);           // host list|show|inventory|...
void AddSearchCommand(CLI::App& app, Action& action);          // search TEXT
void AddApiTokenCommands(CLI::App& app, Action& action);       // apitoken create|list|revoke
void AddAlertsCommands(CLI::App& app, Action& action);  // alerts list|show|ack|channels|settings
void AddMaintenanceCommands(CLI::App& app, Action& action);  // maintenance list|add|remove

// Adds `org engineers|assign|unassign` under the `org` command.
void AddOrgEngineerCommands(CLI::App* org_command, Action& action);

// Adds --password-stdin to `command` and a hidden --password that is refused with the reason
// (passwords never go on the command line).
void AddPasswordOptions(CLI::App* command, bool& password_stdin,
                        const std::string& stdin_description);

// Adds `revoke ID` under `parent`: POST <collection>/ID/revoke, then "Revoked <what> ID".
void AddRevokeById(CLI::App* parent, const std::string& description, const std::string& collection,
                   const std::string& what, Action& action);

}  // namespace dozor::ctl
