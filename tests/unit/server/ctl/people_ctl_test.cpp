// dozorctl's people commands against a real HttpServer over a real SQLite store on loopback:
// login and the session file, whoami, logout, accounts, engineer assignments, client notes, the
// audit log, and the output language.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "ctl/cli.hpp"
#include "ctl/session_file.hpp"
#include "ctl_server.hpp"
#include "dozor/common/files.hpp"
#include "test_util.hpp"

namespace dozor::ctl {
namespace {

constexpr const char* kAlicePassword = "correct horse battery";
constexpr const char* kIvanPassword = "пароль Ивана 2026";

using PeopleServer = CtlServer;

void CheckNoPassword(const CliRun& run) {
  for (const char* password : {kAlicePassword, kIvanPassword, "wrong horse battery"}) {
    CHECK_FALSE(Has(run.out, password));
    CHECK_FALSE(Has(run.err, password));
  }
}

TEST_CASE("dozorctl login keeps a 0600 session that whoami uses, logout ends it on the server") {
  PeopleServer s;
  auto created = s.Admin({"user", "create", "alice", "--role", "engineer", "--name", "Алиса",
                          "--language", "en", "--email", "alice@example.com", "--password-stdin"},
                         std::string(kAlicePassword) + "\n");
  REQUIRE_MESSAGE(created.code == kExitOk, created.err);
  CHECK(Has(created.out, "alice@example.com"));
  CHECK(Has(created.out, "Password set:      yes"));
  CheckNoPassword(created);

  // A wrong password: a clear error, a non-zero exit, no session file, no password shown.
  auto wrong = s.Person({"--server", s.url, "login", "--login", "alice", "--password-stdin"},
                        "wrong horse battery\n");
  CHECK(wrong.code == kExitApiError);
  CHECK(Has(wrong.err, "login failed: wrong login or password"));
  CHECK_FALSE(std::filesystem::exists(s.session_file));
  CheckNoPassword(wrong);

  auto login = s.Person({"--server", s.url, "login", "-l", "alice", "--password-stdin"},
                        std::string(kAlicePassword) + "\n");
  REQUIRE_MESSAGE(login.code == kExitOk, login.err);
  CHECK(Has(login.out, "Logged in to " + s.url + " as alice (engineer)"));
  CheckNoPassword(login);
  struct stat info {};
  REQUIRE(::stat(s.session_file.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  auto stored = LoadSession(s.session_file);
  REQUIRE(stored.ok());
  REQUIRE(stored->has_value());
  const std::string session_token = (*stored)->token;
  CHECK(session_token.rfind("dzs_", 0) == 0);
  CHECK((*stored)->server_url == s.url);
  CHECK((*stored)->language == "en");
  auto file_text = ReadFile(s.session_file);
  REQUIRE(file_text.ok());
  CHECK_FALSE(Has(*file_text, kAlicePassword));

  // No --server, no token: the session names both.
  auto whoami = s.Person({"whoami"});
  REQUIRE_MESSAGE(whoami.code == kExitOk, whoami.err);
  CHECK(Has(whoami.out, "Login:"));
  CHECK(Has(whoami.out, "alice"));
  CHECK(Has(whoami.out, "engineer"));
  CHECK(Has(whoami.out, "login session"));
  CHECK(Has(whoami.out, "Organisations:    -"));
  CHECK(Has(whoami.out, s.url));
  // An explicit token wins over the stored session.
  auto as_admin = s.Admin({"whoami"});
  REQUIRE(as_admin.code == kExitOk);
  CHECK(Has(as_admin.out, "API token"));
  CHECK_FALSE(Has(as_admin.out, "alice"));
  // --json: the API's reply.
  auto json = s.Person({"--json", "whoami"});
  REQUIRE(json.code == kExitOk);
  CHECK(nlohmann::json::parse(json.out)["login"] == "alice");

  auto logout = s.Person({"logout"});
  REQUIRE_MESSAGE(logout.code == kExitOk, logout.err);
  CHECK(Has(logout.out, "Logged out of " + s.url));
  CHECK_FALSE(std::filesystem::exists(s.session_file));
  auto reused = Run({"--server", s.url, "--token", session_token, "whoami"});
  CHECK(reused.code == kExitApiError);
  CHECK(Has(reused.err, "HTTP 401"));
  CHECK(s.Person({"logout"}).out == "Not logged in.\n");
  auto anonymous = s.Person({"--server", s.url, "whoami"});
  CHECK(anonymous.code == kExitApiError);
  CHECK(Has(anonymous.err, "not logged in: run `dozorctl login`, or give --token"));

  // A stored session the server no longer accepts: the message says what to do.
  StoredSession ended;
  ended.server_url = s.url;
  ended.token = session_token;
  ended.login = "alice";
  REQUIRE(SaveSession(s.session_file, ended).ok());
  auto refused = s.Person({"whoami"});
  CHECK(refused.code == kExitApiError);
  CHECK(Has(refused.err, "session ended; run `dozorctl login`"));
}

TEST_CASE("dozorctl refuses a password on the command line and says why") {
  PeopleServer s;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"login", "--login", "alice", "--password", "hunter2-secret"},
        std::vector<std::string>{"user", "passwd", "alice", "--password=hunter2-secret"},
        std::vector<std::string>{"passwd", "--password", "hunter2-secret"}}) {
    auto run = s.Person(args);
    CHECK(run.code == kExitUsage);
    CHECK(Has(run.err, "not accepted on the command line"));
    CHECK(Has(run.err, "--password-stdin"));
    CHECK_FALSE(Has(run.err + run.out, "hunter2"));
  }
  auto help = s.Person({"login", "--help"});
  CHECK(help.code == kExitOk);
  CHECK(Has(help.out, "ps"));
  CHECK(Has(help.out, "--password-stdin"));
  // --password-stdin without a login, and a login with nothing on stdin.
  CHECK(s.Person({"--server", s.url, "login", "--password-stdin"}).code == kExitUsage);
  auto empty = s.Person({"--server", s.url, "login", "--login", "alice", "--password-stdin"});
  CHECK(empty.code == kExitUsage);
  CHECK(Has(empty.err, "no password on standard input"));
}

TEST_CASE("dozorctl user, org assign, notes and audit drive the people API end to end") {
  PeopleServer s;
  REQUIRE(s.Admin({"org", "create", "Альфа"}).code == kExitOk);
  REQUIRE(s.Admin({"org", "create", "Бета"}).code == kExitOk);
  auto alice = s.Admin(
      {"user", "create", "alice", "--role", "engineer", "--language", "en", "--password-stdin"},
      std::string(kAlicePassword) + "\n");
  REQUIRE_MESSAGE(alice.code == kExitOk, alice.err);
  auto client = s.Admin({"user", "create", "sys.alpha", "--role", "client", "--org", "Альфа",
                         "--name", "Пётр Сидоров"});
  REQUIRE_MESSAGE(client.code == kExitOk, client.err);
  CHECK(Has(client.out, "Альфа"));
  CHECK(Has(client.out, "Password set:      no"));
  CHECK(s.Admin({"user", "create", "nobody", "--role", "client"}).code == kExitUsage);  // no org
  CHECK(s.Admin({"user", "create", "x", "--role", "root"}).code == kExitUsage);
  auto duplicate = s.Admin({"user", "create", "alice", "--role", "engineer"});
  CHECK(duplicate.code == kExitApiError);

  auto users = s.Admin({"user", "list"});
  REQUIRE(users.code == kExitOk);
  CHECK(Has(users.out, "LOGIN"));
  CHECK(Has(users.out, "alice"));
  CHECK(Has(users.out, "sys.alpha"));
  CHECK(Has(users.out, "Пётр Сидоров"));

  // Assignments show in `org engineers` and `user show`.
  auto assigned = s.Admin({"org", "assign", "Альфа", "alice", "--specialty", "1C"});
  REQUIRE_MESSAGE(assigned.code == kExitOk, assigned.err);
  CHECK(Has(assigned.out, "alice is now the primary engineer of Альфа"));
  auto engineers = s.Admin({"org", "engineers", "Альфа"});
  REQUIRE(engineers.code == kExitOk);
  CHECK(Has(engineers.out, "alice"));
  CHECK(Has(engineers.out, "1C"));
  CHECK(Has(engineers.out, "primary"));
  REQUIRE(s.Admin({"org", "assign", "Альфа", "alice", "--backup"}).code == kExitOk);
  CHECK(Has(s.Admin({"org", "engineers", "Альфа"}).out, "backup"));
  auto shown = s.Admin({"user", "show", "alice"});
  REQUIRE(shown.code == kExitOk);
  CHECK(Has(shown.out, "Assignments"));
  CHECK(Has(shown.out, "Альфа"));
  CHECK(s.Admin({"org", "engineers", "Бета"}).out == "No engineers assigned.\n");
  CHECK(s.Admin({"org", "assign", "Альфа", "no.such.user"}).code == kExitApiError);

  // The engineer logs in and writes the client notes; the history keeps both versions.
  REQUIRE(s.Person({"--server", s.url, "login", "--login", "alice", "--password-stdin"},
                   std::string(kAlicePassword) + "\n")
              .code == kExitOk);
  auto whoami = s.Person({"whoami"});
  CHECK(Has(whoami.out, "Альфа"));
  CHECK_FALSE(Has(whoami.out, "Бета"));
  auto first = s.Person({"notes", "set", "Альфа", "--text", "Директор решает всё"});
  REQUIRE_MESSAGE(first.code == kExitOk, first.err);
  CHECK(Has(first.out, "Saved the notes of Альфа"));
  auto second = s.Person({"notes", "set", "Альфа", "-"}, "Звонить до 10:00\nбухгалтер: Ольга\n");
  REQUIRE_MESSAGE(second.code == kExitOk, second.err);
  const auto notes_file = s.env.dir / "notes.txt";
  REQUIRE(WriteFileAtomic(notes_file, "из файла\n").ok());
  CHECK(s.Admin({"notes", "set", "Бета", "--file", notes_file.string()}).code == kExitOk);
  CHECK(s.Person({"notes", "set", "Альфа"}).code == kExitUsage);  // no text given
  CHECK(s.Person({"notes", "set", "Альфа", "--text", "a", "-"}).code == kExitUsage);
  CHECK(s.Person({"notes", "show", "Бета"}).code == kExitApiError);  // not assigned there

  auto current = s.Person({"notes", "show", "Альфа"});
  REQUIRE(current.code == kExitOk);
  CHECK(Has(current.out, "  Звонить до 10:00\n  бухгалтер: Ольга\n"));
  CHECK(Has(current.out, "alice"));
  CHECK_FALSE(Has(current.out, "Директор"));
  auto history = s.Person({"notes", "show", "Альфа", "--history"});
  REQUIRE(history.code == kExitOk);
  CHECK(Has(history.out, "History"));
  CHECK(Has(history.out, "Директор решает всё"));

  // The audit log has the changes, made through the CLI (session or token alike).
  auto audit_json = s.Admin({"--json", "audit", "--limit", "1000"});
  REQUIRE_MESSAGE(audit_json.code == kExitOk, audit_json.err);
  const auto entries = nlohmann::json::parse(audit_json.out)["entries"];
  bool notes_by_alice = false;
  bool assign_by_admin = false;
  for (const auto& entry : entries) {
    const std::string action = entry["action"];
    if (action == "PUT /api/v1/orgs/{org}/notes" && entry["actor"] == "alice") {
      notes_by_alice = true;
      CHECK(entry["via"] == "cli");
    }
    if (action == "PUT /api/v1/orgs/{org}/engineers/{user}") {
      assign_by_admin = true;
      CHECK(entry["via"] == "cli");
    }
  }
  CHECK(notes_by_alice);
  CHECK(assign_by_admin);
  auto audit = s.Admin({"audit", "--actor", "alice", "--action", "PUT", "--since", "1h"});
  REQUIRE_MESSAGE(audit.code == kExitOk, audit.err);
  CHECK(Has(audit.out, "PUT /api/v1/orgs/{org}/notes"));
  CHECK(Has(audit.out, "cli"));
  CHECK(Has(audit.out, "Альфа"));
  CHECK_FALSE(Has(audit.out, "engineers"));
  auto page = s.Admin({"audit", "--limit", "2"});
  REQUIRE(page.code == kExitOk);
  const size_t cursor = page.out.find("Next page: --before ");
  REQUIRE(cursor != std::string::npos);
  const std::string before =
      page.out.substr(cursor + 20, page.out.find('\n', cursor) - cursor - 20);
  auto next = s.Admin({"audit", "--limit", "2", "--before", before});
  REQUIRE_MESSAGE(next.code == kExitOk, next.err);
  CHECK(next.out != page.out);
  CHECK(s.Admin({"audit", "--since", "yesterday"}).code == kExitUsage);
  auto not_admin = s.Person({"audit"});
  CHECK(not_admin.code == kExitApiError);

  // Unassigned: the organisation is out of the engineer's sight.
  auto unassigned = s.Admin({"org", "unassign", "Альфа", "alice"});
  REQUIRE_MESSAGE(unassigned.code == kExitOk, unassigned.err);
  CHECK(Has(unassigned.out, "alice is no longer an engineer of Альфа"));
  CHECK_FALSE(Has(s.Admin({"org", "engineers", "Альфа"}).out, "alice"));
  CHECK(s.Person({"notes", "show", "Альфа"}).code == kExitApiError);

  // Own password change, then an admin reset; each ends the other sessions.
  auto changed = s.Person({"passwd", "--password-stdin"},
                          std::string(kAlicePassword) + "\nnew horse battery\n");
  REQUIRE_MESSAGE(changed.code == kExitOk, changed.err);
  CHECK(Has(changed.out, "Password changed"));
  CHECK(s.Person({"whoami"}).code == kExitOk);  // this session stays
  auto wrong_current =
      s.Person({"passwd", "--password-stdin"}, "not the password\nanother horse battery\n");
  CHECK(wrong_current.code == kExitApiError);
  CHECK(Has(wrong_current.err, "current password is wrong"));
  auto reset = s.Admin({"user", "passwd", "alice", "--password-stdin"}, "reset horse battery\n");
  REQUIRE_MESSAGE(reset.code == kExitOk, reset.err);
  CHECK(Has(reset.out, "Password of alice set"));
  auto after_reset = s.Person({"whoami"});
  CHECK(after_reset.code == kExitApiError);
  CHECK(Has(after_reset.err, "session ended; run `dozorctl login`"));
  CHECK(s.Admin({"user", "passwd", "alice", "--password-stdin"}, "short\n").code == kExitApiError);

  // Disable and enable.
  auto disabled = s.Admin({"user", "disable", "alice"});
  REQUIRE_MESSAGE(disabled.code == kExitOk, disabled.err);
  CHECK(Has(disabled.out, "Account alice disabled"));
  CHECK(Has(s.Admin({"user", "list"}).out, "disabled"));
  auto refused = s.Person({"--server", s.url, "login", "--login", "alice", "--password-stdin"},
                          "reset horse battery\n");
  CHECK(refused.code == kExitApiError);
  REQUIRE(s.Admin({"user", "enable", "alice"}).code == kExitOk);
  CHECK(s.Person({"--server", s.url, "login", "--login", "alice", "--password-stdin"},
                 "reset horse battery\n")
            .code == kExitOk);
  auto updated = s.Admin(
      {"user", "update", "alice", "--name", "Алиса Иванова", "--time-zone", "Asia/Yekaterinburg"});
  REQUIRE_MESSAGE(updated.code == kExitOk, updated.err);
  CHECK(Has(updated.out, "Asia/Yekaterinburg"));
  CHECK(s.Admin({"user", "update", "alice"}).code == kExitUsage);
}

TEST_CASE("dozorctl speaks the account's language, and --lang overrides it") {
  PeopleServer s;
  REQUIRE(s.Admin({"org", "create", "Альфа"}).code == kExitOk);
  // New accounts default to Russian.
  REQUIRE(s.Admin({"user", "create", "ivan", "--role", "admin", "--password-stdin"},
                  std::string(kIvanPassword) + "\n")
              .code == kExitOk);
  auto login = s.Person({"--server", s.url, "login", "--login", "ivan", "--password-stdin"},
                        std::string(kIvanPassword) + "\n");
  REQUIRE_MESSAGE(login.code == kExitOk, login.err);
  CHECK(Has(login.out, "Вход на " + s.url + " выполнен"));
  CheckNoPassword(login);

  auto orgs = s.Person({"org", "list"});
  REQUIRE(orgs.code == kExitOk);
  CHECK(Has(orgs.out, "НАЗВАНИЕ"));
  CHECK(Has(orgs.out, "СТАТУС"));
  CHECK_FALSE(Has(orgs.out, "NAME"));
  auto users = s.Person({"user", "list"});
  CHECK(Has(users.out, "ЛОГИН"));
  CHECK(Has(s.Person({"whoami"}).out, "Логин:"));
  CHECK(Has(s.Person({"org", "engineers", "Альфа"}).out, "Инженеры не назначены."));

  auto english = s.Person({"org", "list", "--lang", "en"});
  REQUIRE(english.code == kExitOk);
  CHECK(Has(english.out, "NAME"));
  CHECK_FALSE(Has(english.out, "НАЗВАНИЕ"));
  // An API token has no account language: English unless asked.
  CHECK(Has(s.Admin({"org", "list"}).out, "NAME"));
  CHECK(Has(s.Admin({"--lang", "ru", "user", "list"}).out, "ЛОГИН"));
  // --json stays the API's JSON whatever the language.
  auto json = s.Person({"--json", "org", "list"});
  REQUIRE(json.code == kExitOk);
  CHECK(nlohmann::json::parse(json.out).contains("organizations"));
  CHECK(s.Person({"org", "list", "--lang", "de"}).code == kExitUsage);

  // The account's language changes: whoami refreshes the session's copy.
  REQUIRE(s.Admin({"user", "update", "ivan", "--language", "en"}).code == kExitOk);
  CHECK(Has(s.Person({"whoami"}).out, "Логин:"));  // still the copy made at login
  CHECK(Has(s.Person({"org", "list"}).out, "NAME"));
}

}  // namespace
}  // namespace dozor::ctl

namespace dozor::ctl {
namespace {

TEST_CASE("dozorctl security-events lists refusals for admins only, filtered and paged") {
  PeopleServer s;
  auto& store = **s.env.store;
  std::vector<server::SecurityEvent> events;
  for (int i = 0; i < 3; ++i) {
    server::SecurityEvent event;
    event.at_ms = s.env.clock.NowMs() - 60'000 + i;
    event.kind = server::SecurityEventKind::kApiAuthFailed;
    event.source = "ipv4:10.0.0." + std::to_string(i);
    event.subject = "dza_7777777" + std::to_string(i);
    event.detail = "unknown API token";
    event.count = 10 + i;
    events.push_back(event);
  }
  server::SecurityEvent enroll;
  enroll.at_ms = s.env.clock.NowMs() - 30'000;
  enroll.kind = server::SecurityEventKind::kEnrollRefused;
  enroll.source = "ipv4:192.0.2.9";
  enroll.subject = "dze_abcdefgh бухгалтерия-пк";
  enroll.detail = "unknown enrollment token";
  enroll.count = 40;
  events.push_back(enroll);
  REQUIRE(store.SecurityEvents().RecordSecurityEvents(events).ok());

  auto all = s.Admin({"security-events"});
  REQUIRE_MESSAGE(all.code == kExitOk, all.err);
  CHECK(Has(all.out, "TIMES"));
  CHECK(Has(all.out, "enrollment refused"));
  CHECK(Has(all.out, "бухгалтерия-пк"));
  CHECK(Has(all.out, "wrong API token"));
  CHECK(Has(all.out, "dza_77777772"));
  auto russian = s.Admin({"--lang", "ru", "security-events", "--kind", "enroll_refused"});
  REQUIRE_MESSAGE(russian.code == kExitOk, russian.err);
  CHECK(Has(russian.out, "регистрация отклонена"));
  CHECK(Has(russian.out, "РАЗ"));
  CHECK_FALSE(Has(russian.out, "dza_7777777"));

  // --json: the API's words; a full page names the next one.
  auto page = s.Json({"security-events", "--kind", "api_auth_failed", "--limit", "2"});
  REQUIRE(page["events"].size() == 2);
  CHECK(page["events"][0]["kind"] == "api_auth_failed");
  CHECK(page["events"][0]["count"] == 12);  // newest recorded first
  CHECK(page["events"][0]["source"] == "ipv4:10.0.0.2");
  REQUIRE(page["next_before"].is_number());
  auto rest = s.Json({"security-events", "--kind", "api_auth_failed", "--limit", "2", "--before",
                      std::to_string(page["next_before"].get<int64_t>())});
  REQUIRE(rest["events"].size() == 1);
  CHECK(rest["events"][0]["count"] == 10);
  CHECK(rest["next_before"].is_null());
  CHECK(s.Json({"security-events", "--since", "45s"})["events"].size() == 1);
  CHECK(s.Json({"security-events", "--until", "45s"})["events"].size() == 3);
  CHECK(s.Admin({"security-events", "--kind", "everything"}).code == kExitUsage);

  // Engineers do not see them: estate-wide, about callers that are nobody's client.
  auto engineer = s.Admin(
      {"user", "create", "alice", "--role", "engineer", "--language", "en", "--password-stdin"},
      std::string(kAlicePassword) + "\n");
  REQUIRE_MESSAGE(engineer.code == kExitOk, engineer.err);
  auto login = s.Person({"--server", s.url, "login", "-l", "alice", "--password-stdin"},
                        std::string(kAlicePassword) + "\n");
  REQUIRE_MESSAGE(login.code == kExitOk, login.err);
  auto refused = s.Person({"security-events"});
  CHECK(refused.code == kExitApiError);
  CHECK(Has(refused.err, "403"));
}

}  // namespace
}  // namespace dozor::ctl
