#include "ctl/cli.hpp"

#include <CLI/CLI.hpp>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "ctl/api_client.hpp"
#include "ctl/command_context.hpp"
#include "ctl/commands/commands.hpp"
#include "dozor/common/files.hpp"
#include "dozor/common/text.hpp"

namespace dozor::ctl {

namespace {

constexpr size_t kMaxTokenFileBytes = 4096;

struct GlobalOptions {
  ClientOptions client;
  std::string token_file;
  bool json = false;
  long timeout = 30;
};

void AddGlobalOptions(CLI::App& app, GlobalOptions& global) {
  app.add_option("--server", global.client.server_url, "management API URL")
      ->envname("DOZOR_SERVER")
      ->capture_default_str();
  app.add_option("--token", global.client.token, "API token")->envname("DOZOR_TOKEN");
  app.add_option("--token-file", global.token_file, "file holding the API token")
      ->envname("DOZOR_TOKEN_FILE");
  app.add_option("--ca", global.client.ca_file, "CA bundle (PEM) to verify the HTTPS server")
      ->check(CLI::ExistingFile);
  app.add_flag("--json", global.json, "print the API's JSON");
  app.add_option("--timeout", global.timeout, "request timeout in seconds")
      ->check(CLI::Range(1L, 3600L))
      ->capture_default_str();
}

// The client's options from the parsed global options (the token read from --token-file when
// --token is not given), or the usage error to print.
Result<ClientOptions> ResolveClientOptions(GlobalOptions global) {
  ClientOptions client = std::move(global.client);
  if (client.server_url.rfind("http://", 0) != 0 && client.server_url.rfind("https://", 0) != 0) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "--server must be an http:// or https:// URL, got '" + client.server_url + "'");
  }
  if (client.token.empty() && !global.token_file.empty()) {
    auto text = ReadFile(global.token_file, kMaxTokenFileBytes, ReadFrom::kAnyStream);
    if (!text.ok()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "reading token file " + global.token_file + ": " + text.error().message);
    }
    client.token = Trimmed(*text);
  }
  client.timeout_seconds = global.timeout;
  return client;
}

int ParseAndRun(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "dozorctl: manage organisations, hosts, findings, audit reports and tokens of a "
      "Dozor server"};
  app.require_subcommand(1);
  // Global options (--json, --server, ...) may also follow the command: `host list --json`.
  app.fallthrough();
  GlobalOptions global;
  AddGlobalOptions(app, global);
  Action action;
  AddOrgCommands(app, action);
  AddFindingsCommands(app, action);
  AddReportCommand(app, action);
  AddRulesCommands(app, action);
  AddTokenCommands(app, action);
  AddImportCommand(app, action);
  AddHostCommands(app, action);
  AddApiTokenCommands(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }
  const bool json = global.json;
  auto client_options = ResolveClientOptions(std::move(global));
  if (!client_options.ok()) {
    err << "dozorctl: " << client_options.error().message << "\n";
    return kExitUsage;
  }
  if (!action) {
    err << app.help();
    return kExitUsage;
  }
  ApiClient client(std::move(client_options).value());
  Context context{client, out, err, json};
  return action(context);
}

}  // namespace

int RunCli(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  try {
    return ParseAndRun(argc, argv, out, err);
  } catch (const std::exception& e) {
    err << "dozorctl: " << e.what() << "\n";
  } catch (...) {
    err << "dozorctl: unexpected failure\n";
  }
  return kExitApiError;
}

}  // namespace dozor::ctl
