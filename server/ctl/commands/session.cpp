// `login`, `logout`, `whoami` and `passwd`: a person's own session and password. `login` keeps a
// bearer session token in the session file (session_file.hpp) that later commands use.
#include <memory>
#include <string>

#include "ctl/cli.hpp"
#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"
#include "ctl/password_input.hpp"
#include "ctl/session_file.hpp"

namespace dozor::ctl {

namespace {

constexpr const char* kNoPasswordOnCommandLine =
    "passwords are not accepted on the command line: other users see them in `ps`, and they stay "
    "in the shell history. Type it at the prompt, or pipe it in with --password-stdin";

struct LoginOptions {
  std::string login;
  bool password_stdin = false;
};

struct PasswdOptions {
  bool password_stdin = false;
};

// The stored session's fields from a login reply.
StoredSession SessionFromLogin(const std::string& server_url, const nlohmann::json& reply) {
  const nlohmann::json& user = reply.contains("user") ? reply["user"] : nlohmann::json::object();
  StoredSession session;
  session.server_url = server_url;
  session.token = JsonStr(reply, "session_token");
  session.login = JsonStr(user, "login");
  session.role = JsonStr(user, "role");
  session.language = JsonStr(user, "language");
  session.expires_at_ms = JsonI64(reply.value("expires_at_ms", nlohmann::json(0)));
  return session;
}

// The same client without credentials (login needs none and should send none).
ClientOptions Anonymous(const ApiClient& client) {
  ClientOptions options = client.options();
  options.token.clear();
  options.token_is_session = false;
  return options;
}

Result<std::string> LoginName(Context& context, const LoginOptions& options) {
  if (!options.login.empty()) {
    return options.login;
  }
  if (options.password_stdin) {
    return MakeError(ErrorCode::kInvalidArgument, "--password-stdin needs --login NAME");
  }
  // Logging in again after the session ended: the same account by default.
  if (context.session.stored.has_value() && !context.session.stored->login.empty() &&
      SameServer(context.session.stored->server_url, context.client.options().server_url)) {
    return context.session.stored->login;
  }
  auto typed = ReadLineFromTerminal("Login: ");
  if (!typed.ok()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "give --login NAME (" + typed.error().message + ")");
  }
  if (typed->empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "no login given");
  }
  return typed;
}

int RunLogin(Context& context, const LoginOptions& options) {
  if (context.session.path.empty()) {
    context.err << "dozorctl: nowhere to keep the session: set HOME or XDG_CONFIG_HOME, or give "
                   "--session-file\n";
    return kExitUsage;
  }
  auto login = LoginName(context, options);
  if (!login.ok()) {
    context.err << "dozorctl: " << login.error().message << "\n";
    return kExitUsage;
  }
  ApiClient anonymous(Anonymous(context.client));
  const std::string& server_url = anonymous.options().server_url;
  PasswordReader passwords(options.password_stdin, context.in);
  auto password = passwords.Existing("Password for " + *login + " at " + server_url + ": ");
  if (!password.ok()) {
    context.err << "dozorctl: " << password.error().message << "\n";
    return kExitUsage;
  }
  nlohmann::json body = {{"login", *login}, {"password", *password}, {"client", "cli"}};
  Forget(*password);
  auto reply = anonymous.Post("/api/v1/auth/login", body);
  Forget(body["password"].get_ref<std::string&>());
  if (!reply.ok()) {
    return ReportError(context, reply.error().Wrap("login failed"));
  }
  StoredSession session = SessionFromLogin(server_url, *reply);
  if (session.token.empty()) {
    context.err << "dozorctl: the server sent no session token (is it older than dozorctl?)\n";
    return kExitApiError;
  }
  if (auto saved = SaveSession(context.session.path, session); !saved.ok()) {
    // A session nobody can use again should not stay open on the server.
    ClientOptions with_session = Anonymous(context.client);
    with_session.token = session.token;
    (void)ApiClient(with_session).Post("/api/v1/auth/logout", nlohmann::json::object());
    context.err << "dozorctl: " << saved.error().message << "\n";
    return kExitApiError;
  }
  if (context.json) {
    nlohmann::json shown = *reply;
    shown.erase("session_token");  // a credential: it lives in the session file only
    PrintJson(context, shown);
    return kExitOk;
  }
  const Lang lang =
      context.lang_given ? context.lang : ParseLang(session.language).value_or(Lang::kEn);
  context.out << TerminalText(Sentence(
                     "Logged in to {} as {} ({}); the session is kept in {} until {}.", lang,
                     {server_url, session.login, session.role, context.session.path.string(),
                      FormatLocalTime(session.expires_at_ms)}))
              << "\n";
  return kExitOk;
}

int RunLogout(Context& context) {
  if (!context.session.stored.has_value()) {
    context.out << Label("Not logged in.", context.lang) << "\n";
    return kExitOk;
  }
  const StoredSession& stored = *context.session.stored;
  ClientOptions options = Anonymous(context.client);
  options.server_url = stored.server_url;
  options.token = stored.token;
  auto ended = ApiClient(options).Post("/api/v1/auth/logout", nlohmann::json::object());
  // The local token goes in any case: on a shared machine that matters most. A session the
  // server no longer knows (401) has ended already.
  if (auto removed = RemoveSession(context.session.path); !removed.ok()) {
    return ReportError(context, removed.error());
  }
  if (!ended.ok() && ended.error().code != ErrorCode::kPermissionDenied) {
    context.err << "dozorctl: "
                << TerminalText(Sentence("Logged out of {}; the server was not told ({}): the "
                                         "session stays valid there until it expires.",
                                         context.lang, {stored.server_url, ended.error().message}))
                << "\n";
    return ended.error().code == ErrorCode::kUnavailable ? kExitUnreachable : kExitApiError;
  }
  context.out << TerminalText(Sentence("Logged out of {}.", context.lang, {stored.server_url}))
              << "\n";
  return kExitOk;
}

// Keeps the session file's copy of the account (login, role, language) current, so the output
// language follows a changed setting without logging in again.
void RefreshStoredAccount(Context& context, const nlohmann::json& me) {
  if (!context.session.in_use || !context.session.stored.has_value()) {
    return;
  }
  StoredSession updated = *context.session.stored;
  updated.login = JsonStr(me, "login");
  updated.role = JsonStr(me, "role");
  updated.language = JsonStr(me, "language");
  const StoredSession& stored = *context.session.stored;
  if (updated.login != stored.login || updated.role != stored.role ||
      updated.language != stored.language) {
    if (SaveSession(context.session.path, updated).ok()) {
      context.session.stored = updated;
    }
  }
}

int RunWhoami(Context& context) {
  auto me = context.client.Get("/api/v1/me");
  if (me.ok()) {
    RefreshStoredAccount(context, *me);
  }
  const int64_t expires =
      context.session.in_use ? context.session.stored->expires_at_ms : int64_t{0};
  const std::string server = context.client.options().server_url;
  return Emit(context, me, [&](const nlohmann::json& reply) {
    return RenderWhoami(reply, server, expires, context.lang);
  });
}

int RunPasswd(Context& context, const PasswdOptions& options) {
  PasswordReader passwords(options.password_stdin, context.in);
  auto current = passwords.Existing("Current password: ");
  if (!current.ok()) {
    context.err << "dozorctl: " << current.error().message << "\n";
    return kExitUsage;
  }
  auto next = passwords.New("New password: ", "Repeat the new password: ");
  if (!next.ok()) {
    Forget(*current);
    context.err << "dozorctl: " << next.error().message << "\n";
    return kExitUsage;
  }
  nlohmann::json body = {{"current_password", *current}, {"new_password", *next}};
  Forget(*current);
  Forget(*next);
  auto reply = context.client.Post("/api/v1/me/password", body);
  Forget(body["current_password"].get_ref<std::string&>());
  Forget(body["new_password"].get_ref<std::string&>());
  return Emit(context, reply, [&](const nlohmann::json&) {
    return Label("Password changed; your other sessions were ended.", context.lang) + "\n";
  });
}

}  // namespace

void AddPasswordOptions(CLI::App* command, bool& password_stdin,
                        const std::string& stdin_description) {
  command->add_flag("--password-stdin", password_stdin, stdin_description);
  // Refused with the reason rather than "unknown option", and the value is never echoed.
  // The option writes nowhere useful: the check refuses every value before it is stored.
  static std::string never_stored;
  command->add_option("--password", never_stored)->group("")->check([](const std::string&) {
    return std::string(kNoPasswordOnCommandLine);
  });
}

void AddSessionCommands(CLI::App& app, Action& action) {
  auto login_options = std::make_shared<LoginOptions>();
  auto* login = app.add_subcommand(
      "login",
      "log in with your account's password; later commands use the session (no password on the "
      "command line: it would show in `ps` and the shell history)");
  login->add_option("-l,--login", login_options->login,
                    "account login (default: the stored session's, else asked)");
  AddPasswordOptions(login, login_options->password_stdin,
                     "read the password from the first line of standard input (for scripts)");
  login->callback([login_options, &action] {
    action = [login_options](Context& context) { return RunLogin(context, *login_options); };
  });

  app.add_subcommand("logout", "end the stored login session on the server and delete it")
      ->callback([&action] { action = [](Context& context) { return RunLogout(context); }; });
  app.add_subcommand("whoami", "the account in use: login, role, organisations")
      ->callback([&action] { action = [](Context& context) { return RunWhoami(context); }; });

  auto passwd_options = std::make_shared<PasswdOptions>();
  auto* passwd = app.add_subcommand(
      "passwd", "change your own password (asks the current one; other sessions end)");
  AddPasswordOptions(passwd, passwd_options->password_stdin,
                     "read the current password, then the new one, one per line of standard input");
  passwd->callback([passwd_options, &action] {
    action = [passwd_options](Context& context) { return RunPasswd(context, *passwd_options); };
  });
}

}  // namespace dozor::ctl
