// `user`: people's accounts (admin). Passwords are typed at a prompt or piped in, never given on
// the command line.
#include <memory>
#include <optional>
#include <string>

#include "ctl/cli.hpp"
#include "ctl/commands/commands.hpp"
#include "ctl/format.hpp"
#include "ctl/password_input.hpp"

namespace dozor::ctl {
namespace {

struct UserOptions {
  std::string user;  // id or login
  std::string role;
  std::optional<std::string> display_name;
  std::optional<std::string> org;
  std::optional<std::string> email;
  std::optional<std::string> telegram_chat_id;
  std::optional<std::string> language;
  std::optional<std::string> time_zone;
  std::optional<std::string> quiet_hours;
  std::optional<std::string> monthly_report;  // "on" / "off"
  bool ask_password = false;
  bool password_stdin = false;
};
using UserState = std::shared_ptr<UserOptions>;

std::string UserPath(const std::string& user, std::string_view suffix = "") {
  return "/api/v1/users/" + PercentEncode(user) + std::string(suffix);
}

void AddUserArgument(CLI::App* command, const UserState& user) {
  command->add_option("USER", user->user, "account id or login")->required();
}

void AddProfileFields(CLI::App* command, const UserState& user) {
  command->add_option("--name", user->display_name, "display name");
  command->add_option("--email", user->email, "e-mail address (alerts)");
  command->add_option("--telegram", user->telegram_chat_id, "Telegram chat id (alerts)");
  command->add_option("--language", user->language, "ru | en")->check(CLI::IsMember({"ru", "en"}));
  command->add_option("--time-zone", user->time_zone, "IANA time zone, e.g. Europe/Moscow");
}

nlohmann::json ProfileFields(const UserOptions& user, nlohmann::json body) {
  PutIfSet(body, "display_name", user.display_name);
  PutIfSet(body, "email", user.email);
  PutIfSet(body, "telegram_chat_id", user.telegram_chat_id);
  PutIfSet(body, "language", user.language);
  PutIfSet(body, "time_zone", user.time_zone);
  return body;
}

// What an existing account may change besides its profile: when alerts wait (quiet hours) and
// whether a client contact gets the monthly report.
void AddAlertFields(CLI::App* command, const UserState& user) {
  command->add_option("--quiet-hours", user->quiet_hours,
                      "hours in your time zone when alerts wait unless urgent, e.g. 22:00-07:00; "
                      "\"\" clears them");
  command
      ->add_option("--monthly-report", user->monthly_report,
                   "on | off: the monthly report by e-mail (client contacts)")
      ->check(CLI::IsMember({"on", "off"}));
}

nlohmann::json UpdateFields(const UserOptions& user) {
  nlohmann::json body = ProfileFields(user, nlohmann::json::object());
  PutIfSet(body, "quiet_hours", user.quiet_hours);
  if (user.monthly_report) {
    body["monthly_report"] = *user.monthly_report == "on";
  }
  return body;
}

constexpr const char* kUpdateOptions =
    "give at least one of --name, --email, --telegram, --language, --time-zone, --quiet-hours, "
    "--monthly-report";

int RunCreate(Context& context, const UserOptions& user) {
  nlohmann::json body = ProfileFields(user, {{"login", user.user}, {"role", user.role}});
  PutIfSet(body, "org", user.org);
  if (user.ask_password || user.password_stdin) {
    PasswordReader passwords(user.password_stdin, context.in);
    auto password = passwords.New("Password for " + user.user + ": ", "Repeat it: ");
    if (!password.ok()) {
      context.err << "dozorctl: " << password.error().message << "\n";
      return kExitUsage;
    }
    body["password"] = *password;
    Forget(*password);
  }
  auto reply = context.client.Post("/api/v1/users", body);
  if (body.contains("password")) {
    Forget(body["password"].get_ref<std::string&>());
  }
  return EmitWithOrgNames(context, reply, RenderUser);
}

void AddCreate(CLI::App* user_command, const UserState& user, Action& action) {
  auto* create = user_command->add_subcommand(
      "create",
      "create an account (without a password option it cannot log in until `user "
      "passwd`)");
  create->add_option("LOGIN", user->user, "login: letters, digits and . _ - @")->required();
  create->add_option("--role", user->role, "admin | engineer | client")
      ->required()
      ->check(CLI::IsMember({"admin", "engineer", "client"}));
  create->add_option("--org", user->org, "the organisation of a client account (id or name)");
  AddProfileFields(create, user);
  auto* ask = create->add_flag("--ask-password", user->ask_password,
                               "set the password now: asked twice at the terminal");
  AddPasswordOptions(create, user->password_stdin,
                     "set the password now from the first line of standard input");
  ask->excludes("--password-stdin");
  create->callback([user, &action] {
    if (user->role == "client" && !user->org.has_value()) {
      throw CLI::ValidationError("user create", "a client account needs --org");
    }
    action = [user](Context& context) { return RunCreate(context, *user); };
  });
}

void AddListAndShow(CLI::App* user_command, const UserState& user, Action& action) {
  user_command->add_subcommand("list", "list accounts")->callback([&action] {
    action = [](Context& context) {
      return EmitWithOrgNames(context, context.client.Get("/api/v1/users"), RenderUserList);
    };
  });
  auto* show = user_command->add_subcommand("show", "one account and its assignments");
  AddUserArgument(show, user);
  show->callback([user, &action] {
    action = [user](Context& context) {
      return EmitWithOrgNames(context, context.client.Get(UserPath(user->user)), RenderUser);
    };
  });
}

void AddUpdate(CLI::App* user_command, const UserState& user, Action& action) {
  auto* update = user_command->add_subcommand("update", "change an account's profile");
  AddUserArgument(update, user);
  AddProfileFields(update, user);
  AddAlertFields(update, user);
  update->callback([user, &action] {
    if (UpdateFields(*user).empty()) {
      throw CLI::ValidationError("user update", kUpdateOptions);
    }
    action = [user](Context& context) {
      return EmitWithOrgNames(
          context, context.client.Patch(UserPath(user->user), UpdateFields(*user)), RenderUser);
    };
  });
}

void AddEnableDisable(CLI::App* user_command, const UserState& user, Action& action) {
  for (const bool enable : {false, true}) {
    auto* command = user_command->add_subcommand(
        enable ? "enable" : "disable",
        enable ? "let a disabled account log in again"
               : "stop an account: its sessions and API tokens stop working");
    AddUserArgument(command, user);
    command->callback([user, enable, &action] {
      action = [user, enable](Context& context) {
        return Emit(context, context.client.Patch(UserPath(user->user), {{"enabled", enable}}),
                    [&](const nlohmann::json& reply) {
                      return Sentence(enable ? "Account {} enabled."
                                             : "Account {} disabled; its sessions and tokens no "
                                               "longer work.",
                                      context.lang, {JsonStr(reply, "login")}) +
                             "\n";
                    });
      };
    });
  }
}

int RunResetPassword(Context& context, const UserOptions& user) {
  PasswordReader passwords(user.password_stdin, context.in);
  auto password = passwords.New("New password for " + user.user + ": ", "Repeat it: ");
  if (!password.ok()) {
    context.err << "dozorctl: " << password.error().message << "\n";
    return kExitUsage;
  }
  nlohmann::json body = {{"password", *password}};
  Forget(*password);
  auto reply = context.client.Post(UserPath(user.user, "/password"), body);
  Forget(body["password"].get_ref<std::string&>());
  return Emit(context, reply, [&](const nlohmann::json&) {
    return Sentence("Password of {} set; the account's sessions were ended.", context.lang,
                    {user.user}) +
           "\n";
  });
}

void AddPasswd(CLI::App* user_command, const UserState& user, Action& action) {
  auto* passwd = user_command->add_subcommand(
      "passwd", "set someone's password (admin reset; for your own use `dozorctl passwd`)");
  AddUserArgument(passwd, user);
  AddPasswordOptions(passwd, user->password_stdin,
                     "read the new password from the first line of standard input");
  passwd->callback([user, &action] {
    action = [user](Context& context) { return RunResetPassword(context, *user); };
  });
}

}  // namespace

void AddUserCommands(CLI::App& app, Action& action) {
  auto* user_command =
      app.add_subcommand("user", "people's accounts (admin)")->require_subcommand(1);
  auto user = std::make_shared<UserOptions>();
  AddCreate(user_command, user, action);
  AddListAndShow(user_command, user, action);
  AddUpdate(user_command, user, action);
  AddEnableDisable(user_command, user, action);
  AddPasswd(user_command, user, action);
}

void AddMeCommands(CLI::App& app, Action& action) {
  auto* me = app.add_subcommand("me", "your own account: show it, change your profile")
                 ->require_subcommand(1);
  me->add_subcommand("show", "your account as the server keeps it")->callback([&action] {
    action = [](Context& context) {
      return EmitWithOrgNames(context, context.client.Get("/api/v1/me"), RenderUser);
    };
  });
  auto user = std::make_shared<UserOptions>();
  auto* update = me->add_subcommand("update", "change your own profile and alert settings");
  AddProfileFields(update, user);
  AddAlertFields(update, user);
  update->callback([user, &action] {
    if (UpdateFields(*user).empty()) {
      throw CLI::ValidationError("me update", kUpdateOptions);
    }
    action = [user](Context& context) {
      return EmitWithOrgNames(context, context.client.Patch("/api/v1/me", UpdateFields(*user)),
                              RenderUser);
    };
  });
}

}  // namespace dozor::ctl
