#include "ctl/cli.hpp"

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <utility>

#include "ctl/api_client.hpp"
#include "ctl/command_context.hpp"
#include "ctl/commands/commands.hpp"
#include "ctl/session_file.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/text.hpp"

namespace dozor::ctl {

namespace {

constexpr size_t kMaxTokenFileBytes = 4096;

struct GlobalOptions {
  ClientOptions client;
  bool server_given = false;  // --server or DOZOR_SERVER, rather than the default
  std::string token_file;
  std::string session_file;
  std::string lang;
  bool json = false;
  long timeout = 30;
};

void AddGlobalOptions(CLI::App& app, GlobalOptions& global) {
  app.add_option("--server", global.client.server_url,
                 "management API URL (default: the server of the stored login session, else "
                 "http://127.0.0.1:8480)")
      ->envname("DOZOR_SERVER");
  app.add_option("--token", global.client.token, "API token (wins over a stored login session)")
      ->envname("DOZOR_TOKEN");
  app.add_option("--token-file", global.token_file, "file holding the API token")
      ->envname("DOZOR_TOKEN_FILE");
  app.add_option("--session-file", global.session_file,
                 "where `login` keeps the session (default $XDG_CONFIG_HOME/dozor/session or "
                 "~/.config/dozor/session)")
      ->envname("DOZOR_SESSION_FILE");
  app.add_option("--ca", global.client.ca_file, "CA bundle (PEM) to verify the HTTPS server")
      ->check(CLI::ExistingFile);
  app.add_flag("--json", global.json, "print the API's JSON");
  app.add_option("--lang", global.lang,
                 "output language, en | ru: table headers, labels, and the titles and texts of "
                 "findings and rules (default: your account's language when logged in, else en)")
      ->envname("DOZOR_LANG")
      ->check(CLI::IsMember({"en", "ru"}));
  app.add_option("--timeout", global.timeout, "request timeout in seconds")
      ->check(CLI::Range(1L, 3600L))
      ->capture_default_str();
}

// What the command line and the stored session decide together: the client's options (server and
// credentials), the session state and the output language; or the usage error to print.
struct Resolved {
  ClientOptions client;
  SessionState session;
  Lang lang = Lang::kEn;
  bool lang_given = false;
};

// An explicit token (--token, else --token-file) wins. Without one, the stored login session is
// used when it is for the server asked for, and gives the server when none was asked for. An
// explicit token never goes to the session's server: a local admin token file must not travel to
// the host someone last logged in to.
Result<Resolved> Resolve(GlobalOptions global, std::ostream& err) {
  Resolved resolved;
  ClientOptions& client = resolved.client;
  client = std::move(global.client);
  if (client.token.empty() && !global.token_file.empty()) {
    auto text = ReadFile(global.token_file, kMaxTokenFileBytes, ReadFrom::kAnyStream);
    if (!text.ok()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "reading token file " + global.token_file + ": " + text.error().message);
    }
    client.token = Trimmed(*text);
  }
  SessionState& session = resolved.session;
  session.path = global.session_file.empty() ? DefaultSessionPath()
                                             : std::filesystem::path(global.session_file);
  if (client.token.empty() && !session.path.empty()) {
    auto loaded = LoadSession(session.path);
    if (!loaded.ok()) {
      err << "dozorctl: " << loaded.error().message << "\n";
    } else if (loaded->has_value() &&
               (!global.server_given || SameServer((*loaded)->server_url, client.server_url))) {
      session.stored = std::move(*loaded);
      session.in_use = true;
      client.token = session.stored->token;
      client.token_is_session = true;
      client.server_url = session.stored->server_url;
    }
  }
  if (client.server_url.rfind("http://", 0) != 0 && client.server_url.rfind("https://", 0) != 0) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "--server must be an http:// or https:// URL, got '" + client.server_url + "'");
  }
  client.timeout_seconds = global.timeout;
  if (auto lang = ParseLang(global.lang); lang.has_value()) {
    resolved.lang = *lang;
    resolved.lang_given = true;
  } else if (session.in_use) {
    resolved.lang = ParseLang(session.stored->language).value_or(Lang::kEn);
  }
  return resolved;
}

int ParseAndRun(int argc, const char* const* argv, std::istream& in, std::ostream& out,
                std::ostream& err) {
  CLI::App app{
      "dozorctl: manage organisations, hosts, findings, audit reports, people and tokens of a "
      "Dozor server"};
  app.require_subcommand(1);
  // Global options (--json, --server, ...) may also follow the command: `host list --json`.
  app.fallthrough();
  GlobalOptions global;
  global.client.server_url = "http://127.0.0.1:8480";
  AddGlobalOptions(app, global);
  Action action;
  AddSessionCommands(app, action);
  AddUserCommands(app, action);
  AddMeCommands(app, action);
  AddOrgCommands(app, action);
  AddNotesCommands(app, action);
  AddAuditCommand(app, action);
  AddSecurityEventsCommand(app, action);
  AddFindingsCommands(app, action);
  AddReportCommand(app, action);
  AddRulesCommands(app, action);
  AddTokenCommands(app, action);
  AddImportCommand(app, action);
  AddHostCommands(app, action);
  AddSearchCommand(app, action);
  AddApiTokenCommands(app, action);
  AddAlertsCommands(app, action);
  AddMaintenanceCommands(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  global.server_given = app.get_option("--server")->count() > 0;
  const bool json = global.json;
  auto resolved = Resolve(std::move(global), err);
  if (!resolved.ok()) {
    err << "dozorctl: " << resolved.error().message << "\n";
    return kExitUsage;
  }
  if (!action) {
    err << app.help();
    return kExitUsage;
  }
  ApiClient client(std::move(resolved->client));
  Context context{client,           out, err, in, json, resolved->lang, resolved->lang_given,
                  resolved->session};
  return action(context);
}

}  // namespace

int RunCli(int argc, const char* const* argv, std::istream& in, std::ostream& out,
           std::ostream& err) {
  try {
    return ParseAndRun(argc, argv, in, out, err);
  } catch (const std::exception& e) {
    err << "dozorctl: " << e.what() << "\n";
  } catch (...) {
    err << "dozorctl: unexpected failure\n";
  }
  return kExitApiError;
}

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  return RunCli(argc, argv, std::cin, out, err);
}

}  // namespace dozor::ctl
