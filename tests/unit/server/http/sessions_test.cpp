// People logging in through ApiService over a real SQLite store and real argon2id hashes: the
// browser session cookie and its CSRF token, the CLI session token, expiry, logout, throttled
// logins, password changes and admin resets, and what the audit log keeps of them.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "http/api_service.hpp"
#include "http/handlers.hpp"
#include "http/password.hpp"
#include "server/http/api_request.hpp"
#include "server/test_store.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

constexpr char kPassword[] = "correct horse battery";

struct SessionsFixture {
  SessionsFixture() {
    store = dozor::testing::OpenTestStore(dir);
    Organization org;
    org.name = "Acme";
    org_id = store->CreateOrganization(org)->id;
    auto hash = HashPassword(kPassword);
    REQUIRE(hash.ok());
    NewUser anna;
    anna.login = "anna";
    anna.display_name = "Анна";
    anna.role = UserRole::kEngineer;
    anna.language = "ru";
    anna.password_hash = *hash;
    anna_id = store->CreateUser(anna, clock.NowMs())->id;
    REQUIRE(
        store->AssignEngineer(org_id, anna_id, AssignmentKind::kPrimary, "", clock.NowMs()).ok());
    NewUser admin = anna;
    admin.login = "root";
    admin.role = UserRole::kAdmin;
    admin_id = store->CreateUser(admin, clock.NowMs())->id;
    ApiContext context{.store = *store, .clock = clock};
    context.sessions.idle_ms = 30 * 60'000;
    context.sessions.browser_absolute_ms = 8 * 3'600'000;
    api = std::make_unique<ApiService>(std::move(context));
  }

  ApiResponse Call(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& cookie = "", const std::string& csrf = "",
                   const std::string& bearer = "", const std::string& address = "192.0.2.7") {
    ApiRequest request = dozor::testing::MakeApiRequest(method, path, bearer, body);
    request.cookie = cookie;
    request.csrf_token = csrf;
    request.client_address = address;
    return api->Handle(request);
  }

  ApiResponse Login(const std::string& login, const std::string& password,
                    const std::string& client = "browser",
                    const std::string& address = "192.0.2.7") {
    nlohmann::json body = {{"login", login}, {"password", password}, {"client", client}};
    return Call("POST", "/api/v1/auth/login", body.dump(), "", "", "", address);
  }

  dozor::testing::TempDir dir;
  FakeClock clock{1'800'000'000'000};
  std::unique_ptr<SqliteStore> store;
  int64_t org_id = 0;
  int64_t anna_id = 0;
  int64_t admin_id = 0;
  std::unique_ptr<ApiService> api;
};

// "dozor_session=dzs_...; Path=/; ..." -> "dozor_session=dzs_..."
std::string CookiePair(const ApiResponse& response) {
  REQUIRE(response.set_cookies.size() == 1);
  const std::string& header = response.set_cookies.front();
  return header.substr(0, header.find(';'));
}

TEST_CASE("a browser login sets an HttpOnly SameSite=Strict cookie, changes need the CSRF token") {
  SessionsFixture f;
  auto login = f.Login("anna", kPassword);
  REQUIRE(login.status == 200);
  const std::string& header = login.set_cookies.at(0);
  CHECK(header.find("HttpOnly") != std::string::npos);
  CHECK(header.find("SameSite=Strict") != std::string::npos);
  CHECK(header.find("Secure") == std::string::npos);  // not over TLS here
  CHECK(login.body["user"]["login"] == "anna");
  CHECK(login.body["user"]["language"] == "ru");
  CHECK_FALSE(login.body.contains("session_token"));  // the id lives only in the cookie
  CHECK(login.body.dump().find("argon2") == std::string::npos);
  const std::string csrf = login.body["csrf_token"];
  const std::string cookie = CookiePair(login);

  auto me = f.Call("GET", "/api/v1/me", "", cookie);
  REQUIRE(me.status == 200);
  CHECK(me.body["role"] == "engineer");
  CHECK(me.body["organizations"].size() == 1);
  CHECK(me.body["via"] == "dashboard");
  // A reloaded tab gets the session's CSRF token back from /me (the cookie alone cannot read it).
  CHECK(me.body["csrf_token"] == csrf);

  const std::string note = R"({"text":"call before 10:00"})";
  auto forged = f.Call("PUT", "/api/v1/orgs/Acme/notes", note, cookie);
  CHECK(forged.status == 403);
  CHECK(forged.body["error"]["code"] == "csrf_failed");
  CHECK(f.Call("PUT", "/api/v1/orgs/Acme/notes", note, cookie, "wrong" + csrf).status == 403);
  CHECK(f.Call("PUT", "/api/v1/orgs/Acme/notes", note, cookie, csrf).status == 201);
  // The refusals are in the audit log under anna's name, with the reason.
  auto root = f.Login("root", kPassword, "cli");
  auto log = f.Call("GET", "/api/v1/audit-log?actor=anna", "", "", "",
                    root.body["session_token"].get<std::string>());
  REQUIRE(log.status == 200);
  int refused = 0;
  for (const auto& entry : log.body["entries"]) {
    if (entry["status"] == 403 && entry["action"] == "PUT /api/v1/orgs/{org}/notes") {
      ++refused;
      CHECK(entry["detail"].get<std::string>().find("X-CSRF-Token") != std::string::npos);
      CHECK(entry["via"] == "dashboard");
    }
  }
  CHECK(refused == 2);

  // Logout ends the session and clears the cookie.
  auto out = f.Call("POST", "/api/v1/auth/logout", "{}", cookie, csrf);
  REQUIRE(out.status == 200);
  CHECK(out.set_cookies.at(0).find("Max-Age=0") != std::string::npos);
  CHECK(f.Call("GET", "/api/v1/me", "", cookie).status == 401);
}

TEST_CASE("sessions end when idle and at their absolute expiry") {
  SessionsFixture f;
  auto login = f.Login("anna", kPassword);
  REQUIRE(login.status == 200);
  const std::string cookie = CookiePair(login);
  // Kept alive by use every 20 minutes...
  for (int i = 0; i < 5; ++i) {
    f.clock.AdvanceMs(20 * 60'000);
    REQUIRE(f.Call("GET", "/api/v1/me", "", cookie).status == 200);
  }
  // ...not after 31 minutes without.
  f.clock.AdvanceMs(31 * 60'000);
  auto idle = f.Call("GET", "/api/v1/me", "", cookie);
  CHECK(idle.status == 401);
  CHECK(idle.body["error"]["message"].get<std::string>().find("idle") != std::string::npos);

  auto again = f.Login("anna", kPassword);
  const std::string second = CookiePair(again);
  for (int i = 0; i < 24; ++i) {  // 8 h of use every 20 min
    f.clock.AdvanceMs(20 * 60'000);
    if (i < 23) REQUIRE(f.Call("GET", "/api/v1/me", "", second).status == 200);
  }
  auto expired = f.Call("GET", "/api/v1/me", "", second);
  CHECK(expired.status == 401);
  CHECK(expired.body["error"]["message"].get<std::string>().find("expired") != std::string::npos);
}

TEST_CASE("a CLI login gets a bearer session token that needs no CSRF token") {
  SessionsFixture f;
  auto login = f.Login("anna", kPassword, "cli");
  REQUIRE(login.status == 200);
  CHECK(login.set_cookies.empty());
  const std::string token = login.body["session_token"];
  CHECK(token.rfind("dzs_", 0) == 0);
  auto me = f.Call("GET", "/api/v1/me", "", "", "", token);
  REQUIRE(me.status == 200);
  CHECK(me.body["via"] == "cli");
  CHECK_FALSE(me.body.contains("csrf_token"));  // a bearer needs none
  CHECK(f.Call("PUT", "/api/v1/orgs/Acme/notes", R"({"text":"x"})", "", "", token).status == 201);
  CHECK(f.Call("POST", "/api/v1/auth/logout", "{}", "", "", token).status == 200);
  CHECK(f.Call("GET", "/api/v1/me", "", "", "", token).status == 401);
}

TEST_CASE("failed logins: one answer for unknown and wrong, throttled per account and address") {
  SessionsFixture f;
  auto unknown = f.Login("nobody", kPassword);
  auto wrong = f.Login("anna", "wrong password!");
  CHECK(unknown.status == 401);
  CHECK(wrong.status == 401);
  CHECK(unknown.body == wrong.body);
  for (int i = 0; i < 4; ++i) {
    CHECK(
        f.Login("anna", "wrong password!", "browser", "192.0.2." + std::to_string(20 + i)).status ==
        401);
  }
  // Five failures for the account (from several addresses): even the right password waits.
  auto blocked = f.Login("anna", kPassword, "browser", "198.51.100.1");
  CHECK(blocked.status == 429);
  CHECK(blocked.retry_after_seconds > 0);
  CHECK(blocked.body["error"]["message"].get<std::string>().find("account") != std::string::npos);
  // Another account from a clean address is not affected.
  CHECK(f.Login("root", kPassword, "browser", "198.51.100.2").status == 200);
  f.clock.AdvanceMs(16 * 60'000);
  CHECK(f.Login("anna", kPassword).status == 200);

  // The audit log has each failure with the login tried, the address and how.
  auto admin = f.Login("root", kPassword, "cli", "198.51.100.2");
  const std::string admin_token = admin.body["session_token"];
  auto log = f.Call("GET", "/api/v1/audit-log?action=POST%20/api/v1/auth/login&limit=1000", "", "",
                    "", admin_token);
  REQUIRE(log.status == 200);
  int failed = 0;
  int throttled = 0;
  for (const auto& entry : log.body["entries"]) {
    if (entry["status"] == 401) {
      ++failed;
      CHECK(entry["detail"] == "login failed");
      CHECK(entry["via"] == "dashboard");
      CHECK(entry["source"].get<std::string>().rfind("192.0.2.", 0) == 0);
    }
    if (entry["status"] == 429) ++throttled;
  }
  CHECK(failed == 6);  // nobody once, anna five times
  CHECK(throttled == 1);
}

TEST_CASE("passwords: minimum length, own change ends other sessions, admin reset, disabled") {
  SessionsFixture f;
  auto first = f.Login("anna", kPassword, "cli");
  auto second = f.Login("anna", kPassword, "cli");
  const std::string keep = first.body["session_token"];
  const std::string other = second.body["session_token"];
  const std::string path = "/api/v1/me/password";
  auto short_one =
      f.Call("POST", path, R"({"current_password":"correct horse battery","new_password":"short"})",
             "", "", keep);
  CHECK(short_one.status == 400);
  CHECK(f.Call("POST", path, R"({"current_password":"nope","new_password":"a much longer one"})",
               "", "", keep)
            .status == 403);
  REQUIRE(
      f.Call("POST", path,
             R"({"current_password":"correct horse battery","new_password":"a much longer one"})",
             "", "", keep)
          .status == 200);
  CHECK(f.Call("GET", "/api/v1/me", "", "", "", keep).status == 200);
  CHECK(f.Call("GET", "/api/v1/me", "", "", "", other).status == 401);
  CHECK(f.Login("anna", kPassword).status == 401);
  CHECK(f.Login("anna", "a much longer one").status == 200);

  auto admin = f.Login("root", kPassword, "cli");
  const std::string root = admin.body["session_token"];
  REQUIRE(f.Call("POST", "/api/v1/users/anna/password", R"({"password":"reset by the admin"})", "",
                 "", root)
              .status == 200);
  CHECK(f.Call("GET", "/api/v1/me", "", "", "", keep).status == 401);  // a reset ends every session
  CHECK(f.Login("anna", "reset by the admin").status == 200);
  // A disabled account cannot log in, and its sessions end.
  auto live = f.Login("anna", "reset by the admin", "cli");
  REQUIRE(f.Call("PATCH", "/api/v1/users/anna", R"({"enabled":false})", "", "", root).status ==
          200);
  CHECK(f.Call("GET", "/api/v1/me", "", "", "", live.body["session_token"]).status == 401);
  CHECK(f.Login("anna", "reset by the admin").status == 401);
  // No response or user listing ever carries a password or its hash.
  auto users = f.Call("GET", "/api/v1/users", "", "", "", root);
  REQUIRE(users.status == 200);
  CHECK(users.body.dump().find("argon2") == std::string::npos);
  CHECK(users.body.dump().find("\"password\"") == std::string::npos);
}

TEST_CASE("an account without a password cannot give itself one through a narrowed API token") {
  SessionsFixture f;
  // A migrated engineer: no password, an operator-narrowed API token for scripts.
  NewUser migrated;
  migrated.login = "engineer-1";
  migrated.display_name = "Пётр";
  migrated.role = UserRole::kEngineer;
  const int64_t migrated_id = f.store->CreateUser(migrated, f.clock.NowMs())->id;
  REQUIRE(f.store
              ->CreateApiToken("script", ApiRole::kOperator, Sha256Hex("dza_script"), "dza_s",
                               std::nullopt, migrated_id)
              .ok());
  const std::string path = "/api/v1/me/password";
  for (const char* body :
       {R"({"current_password":"","new_password":"now I log in fully"})",
        R"({"current_password":"anything","new_password":"now I log in fully"})"}) {
    auto refused = f.Call("POST", path, body, "", "", "dza_script");
    CHECK(refused.status == 403);
    CHECK(refused.body["error"]["message"].get<std::string>().find("administrator") !=
          std::string::npos);
  }
  CHECK(f.Login("engineer-1", "now I log in fully").status == 401);
  // An administrator sets the first password; from then on the owner changes it knowing it.
  auto admin = f.Login("root", kPassword, "cli");
  const std::string root = admin.body["session_token"];
  REQUIRE(f.Call("POST", "/api/v1/users/engineer-1/password", R"({"password":"first from admin"})",
                 "", "", root)
              .status == 200);
  // The reset revoked the account's tokens: one minted by whoever held the account is gone.
  CHECK(f.Call("GET", "/api/v1/me", "", "", "", "dza_script").status == 401);
  auto own = f.Login("engineer-1", "first from admin", "cli");
  REQUIRE(own.status == 200);
  CHECK(f.Call("POST", path,
               R"({"current_password":"first from admin","new_password":"my own secret now"})", "",
               "", own.body["session_token"].get<std::string>())
            .status == 200);
  CHECK(f.Login("engineer-1", "my own secret now").status == 200);
}

TEST_CASE("one's own profile: contacts are checked before they are kept") {
  SessionsFixture f;
  auto login = f.Login("anna", kPassword, "cli");
  const std::string token = login.body["session_token"];
  for (const char* bad :
       {R"({"email":"anna at example"})", R"({"telegram_chat_id":"12ab"})",
        R"({"time_zone":"../../etc/passwd"})", R"({"language":"de"})", R"({"role":"admin"})"}) {
    auto refused = f.Call("PATCH", "/api/v1/me", bad, "", "", token);
    CHECK_MESSAGE(refused.status == 400, bad);
  }
  auto saved = f.Call(
      "PATCH", "/api/v1/me",
      R"({"email":" anna@example.ru ","telegram_chat_id":"-1001234","time_zone":"Asia/Yekaterinburg"})",
      "", "", token);
  REQUIRE(saved.status == 200);
  CHECK(saved.body["email"] == "anna@example.ru");
  CHECK(saved.body["telegram_chat_id"] == "-1001234");
  CHECK(saved.body["time_zone"] == "Asia/Yekaterinburg");
  CHECK(saved.body["role"] == "engineer");
}

TEST_CASE("a login must be JSON: another site's form cannot log a browser in") {
  SessionsFixture f;
  ApiRequest form;
  form.method = "POST";
  form.path = "/api/v1/auth/login";
  form.body = R"({"login":"anna","password":"correct horse battery","x":"="})";
  form.content_type = "text/plain";
  form.client_address = "192.0.2.9";
  auto refused = f.api->Handle(form);
  CHECK(refused.status == 415);
  CHECK(refused.set_cookies.empty());
  form.content_type = "Application/JSON; charset=utf-8";
  CHECK(f.api->Handle(form).status == 200);
}

TEST_CASE("guessing the current password is throttled like a login") {
  SessionsFixture f;
  auto login = f.Login("anna", kPassword, "cli");
  const std::string token = login.body["session_token"];
  int forbidden = 0;
  int throttled = 0;
  for (int i = 0; i < 8; ++i) {
    auto guess = f.Call("POST", "/api/v1/me/password",
                        R"({"current_password":"guess )" + std::to_string(i) +
                            R"(","new_password":"a much longer one"})",
                        "", "", token);
    if (guess.status == 403) ++forbidden;
    if (guess.status == 429) ++throttled;
  }
  CHECK(forbidden == 5);
  CHECK(throttled == 3);
  // The account is locked for logins too, with the right password.
  CHECK(f.Login("anna", kPassword).status == 429);
}

TEST_CASE("narrowed tokens revoke only themselves, nobody else holds a client's token") {
  SessionsFixture f;
  auto admin = f.Login("root", kPassword, "cli");
  const std::string root = admin.body["session_token"];
  auto wide =
      f.Call("POST", "/api/v1/api-tokens", R"({"name":"wide","role":"admin"})", "", "", root);
  REQUIRE(wide.status == 201);
  auto narrow =
      f.Call("POST", "/api/v1/api-tokens", R"({"name":"script","role":"operator"})", "", "", root);
  REQUIRE(narrow.status == 201);
  const std::string narrow_token = narrow.body["token"];
  const std::string wide_path =
      "/api/v1/api-tokens/" + std::to_string(wide.body["id"].get<int64_t>()) + "/revoke";
  CHECK(f.Call("POST", wide_path, "{}", "", "", narrow_token).status == 403);
  CHECK(f.Call("GET", "/api/v1/me", "", "", "", wide.body["token"]).status == 200);
  const std::string own_path =
      "/api/v1/api-tokens/" + std::to_string(narrow.body["id"].get<int64_t>()) + "/revoke";
  CHECK(f.Call("POST", own_path, "{}", "", "", narrow_token).status == 200);
  CHECK(f.Call("GET", "/api/v1/me", "", "", "", narrow_token).status == 401);

  REQUIRE(f.Call("POST", "/api/v1/users",
                 R"({"login":"sys.acme","display_name":"Сисадмин","role":"client","org":"Acme"})",
                 "", "", root)
              .status == 201);
  auto for_client =
      f.Call("POST", "/api/v1/api-tokens",
             R"({"name":"as the client","role":"viewer","user":"sys.acme"})", "", "", root);
  CHECK(for_client.status == 403);
  auto for_engineer =
      f.Call("POST", "/api/v1/api-tokens",
             R"({"name":"anna's script","role":"viewer","user":"anna"})", "", "", root);
  CHECK(for_engineer.status == 201);
  auto log = f.Call("GET", "/api/v1/audit-log?action=POST%20/api/v1/api-tokens", "", "", "", root);
  REQUIRE(log.status == 200);
  CHECK(log.body.dump().find("of user " + std::to_string(f.anna_id)) != std::string::npos);
}

TEST_CASE("admins create accounts, logins and roles are checked") {
  SessionsFixture f;
  auto admin = f.Login("root", kPassword, "cli");
  const std::string root = admin.body["session_token"];
  auto created = f.Call("POST", "/api/v1/users",
                        R"({"login":"sysadmin.acme","display_name":"Сисадмин","role":"client",
                            "org":"Acme","password":"long enough pass","language":"en"})",
                        "", "", root);
  REQUIRE(created.status == 201);
  CHECK(created.body["role"] == "client");
  CHECK(created.body["org_id"] == f.org_id);
  CHECK(created.body["has_password"] == true);
  CHECK(f.Call("POST", "/api/v1/users", R"({"login":"bad login","role":"engineer"})", "", "", root)
            .status == 400);
  CHECK(
      f.Call("POST", "/api/v1/users", R"({"login":"x","role":"superuser"})", "", "", root).status ==
      400);
  CHECK(f.Call("POST", "/api/v1/users", R"({"login":"SYSADMIN.acme","role":"engineer"})", "", "",
               root)
            .status == 409);
  auto client = f.Login("sysadmin.acme", "long enough pass", "cli");
  REQUIRE(client.status == 200);
  CHECK(client.body["user"]["organizations"].size() == 1);
  CHECK(f.Call("GET", "/api/v1/users", "", "", "", client.body["session_token"]).status == 403);
}

TEST_CASE("an admin changes an engineer's role, effective on the account's next request") {
  SessionsFixture f;
  const std::string root = f.Login("root", kPassword, "cli").body["session_token"];
  const std::string anna = f.Login("anna", kPassword, "cli").body["session_token"];
  CHECK(f.Call("GET", "/api/v1/users", "", "", "", anna).status == 403);
  auto promoted = f.Call("PATCH", "/api/v1/users/anna", R"({"role":"admin"})", "", "", root);
  REQUIRE(promoted.status == 200);
  CHECK(promoted.body["role"] == "admin");
  // The live session now acts as an admin: no new login needed.
  CHECK(f.Call("GET", "/api/v1/users", "", "", "", anna).status == 200);
  // Nobody changes their own role, so the admin making a change always remains one.
  CHECK(f.Call("PATCH", "/api/v1/users/root", R"({"role":"engineer"})", "", "", root).status ==
        400);
  CHECK(f.Call("PATCH", "/api/v1/users/anna", R"({"role":"engineer"})", "", "", anna).status ==
        400);
  CHECK(f.Call("PATCH", "/api/v1/users/anna", R"({"role":"superuser"})", "", "", root).status ==
        400);
  CHECK(f.Call("PATCH", "/api/v1/users/anna", R"({"role":"client"})", "", "", root).status == 400);
  REQUIRE(f.Call("PATCH", "/api/v1/users/anna", R"({"role":"engineer"})", "", "", root).status ==
          200);
  CHECK(f.Call("GET", "/api/v1/users", "", "", "", anna).status == 403);
  // A client account stays a client of its organisation.
  REQUIRE(f.Call("POST", "/api/v1/users",
                 R"({"login":"sysadmin.acme","display_name":"Сисадмин","role":"client",
                     "org":"Acme"})",
                 "", "", root)
              .status == 201);
  auto refused =
      f.Call("PATCH", "/api/v1/users/sysadmin.acme", R"({"role":"engineer"})", "", "", root);
  CHECK(refused.status == 409);
  CHECK(f.Call("GET", "/api/v1/users/sysadmin.acme", "", "", "", root).body["role"] == "client");
  // A user's own profile route takes no role.
  CHECK(f.Call("PATCH", "/api/v1/me", R"({"role":"admin"})", "", "", anna).status == 400);
}

TEST_CASE("a user lists their own live sessions and ends one, never another user's") {
  SessionsFixture f;
  auto browser = f.Login("anna", kPassword, "browser", "192.0.2.7");
  REQUIRE(browser.status == 200);
  const std::string cookie = CookiePair(browser);
  auto cli = f.Login("anna", kPassword, "cli", "198.51.100.9");
  REQUIRE(cli.status == 200);
  const std::string bearer = cli.body["session_token"];
  auto root = f.Login("root", kPassword, "cli");
  REQUIRE(root.status == 200);

  auto listed = f.Call("GET", "/api/v1/me/sessions", "", "", "", bearer);
  REQUIRE(listed.status == 200);
  const auto& sessions = listed.body["sessions"];
  REQUIRE(sessions.size() == 2);  // root's is not anna's
  CHECK(sessions[0]["kind"] == "cli");
  CHECK(sessions[0]["current"] == true);
  CHECK(sessions[0]["source"] == "198.51.100.9");
  CHECK(sessions[1]["kind"] == "browser");
  CHECK(sessions[1]["current"] == false);
  CHECK_FALSE(sessions[1].contains("csrf_token"));
  const int64_t browser_id = sessions[1]["id"];

  // root's session id, seen from anna: not found, and root's session lives on.
  auto roots = f.Call("GET", "/api/v1/me/sessions", "", "", "", root.body["session_token"]);
  REQUIRE(roots.body["sessions"].size() == 1);
  const int64_t root_id = roots.body["sessions"][0]["id"];
  CHECK(f.Call("POST", "/api/v1/me/sessions/" + std::to_string(root_id) + "/end", "{}", "", "",
               bearer)
            .status == 404);
  CHECK(f.Call("GET", "/api/v1/me", "", "", "", root.body["session_token"]).status == 200);
  CHECK(f.Call("POST", "/api/v1/me/sessions/abc/end", "{}", "", "", bearer).status == 404);

  // From dozorctl, anna ends her browser session: the dashboard is logged out.
  auto ended = f.Call("POST", "/api/v1/me/sessions/" + std::to_string(browser_id) + "/end", "{}",
                      "", "", bearer);
  REQUIRE(ended.status == 200);
  CHECK(ended.body["current"] == false);
  CHECK(f.Call("GET", "/api/v1/me", "", cookie).status == 401);
  CHECK(f.Call("GET", "/api/v1/me/sessions", "", "", "", bearer).body["sessions"].size() == 1);

  // Ending the current browser session needs the CSRF token and clears the cookie.
  auto again = f.Login("anna", kPassword);
  const std::string cookie2 = CookiePair(again);
  const std::string csrf2 = again.body["csrf_token"];
  auto mine = f.Call("GET", "/api/v1/me/sessions", "", cookie2);
  REQUIRE(mine.status == 200);
  int64_t current_id = 0;
  for (const auto& session : mine.body["sessions"]) {
    if (session["current"] == true) current_id = session["id"];
  }
  REQUIRE(current_id > 0);
  const std::string path = "/api/v1/me/sessions/" + std::to_string(current_id) + "/end";
  CHECK(f.Call("POST", path, "{}", cookie2).status == 403);  // no CSRF token
  auto self = f.Call("POST", path, "{}", cookie2, csrf2);
  REQUIRE(self.status == 200);
  CHECK(self.body["current"] == true);
  REQUIRE(self.set_cookies.size() == 1);
  CHECK(self.set_cookies[0].find("Max-Age=0") != std::string::npos);
  CHECK(f.Call("GET", "/api/v1/me", "", cookie2).status == 401);
}

}  // namespace
}  // namespace dozor::server::http
