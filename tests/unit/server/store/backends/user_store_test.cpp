// The people area (store/user_store.hpp) on every backend: accounts, assignments with the
// organisations' engineer-name cache, client notes and login sessions.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::kBackendClockStartMs;
using dozor::testing::MakeOrg;
using dozor::testing::Ok;

constexpr int64_t kNow = kBackendClockStartMs;
constexpr int64_t kIdleMs = 600'000;

template <typename Backend>
User MakeUser(Backend& backend, const std::string& login, UserRole role = UserRole::kEngineer,
              std::optional<int64_t> org_id = std::nullopt,
              std::optional<std::string> password_hash = std::string("$argon2id$fake")) {
  NewUser user;
  user.login = login;
  user.display_name = "Name of " + login;
  user.role = role;
  user.org_id = org_id;
  user.password_hash = std::move(password_hash);
  return Ok(backend.store->Users().CreateUser(user, kNow));
}

NewSession SessionOf(int64_t user_id, const std::string& hash, int64_t now_ms,
                     int64_t expires_at_ms, SessionKind kind = SessionKind::kBrowser) {
  NewSession session;
  session.session_hash = hash;
  session.user_id = user_id;
  session.kind = kind;
  session.csrf_token = "csrf-" + hash;
  session.source = "127.0.0.1";
  session.now_ms = now_ms;
  session.expires_at_ms = expires_at_ms;
  return session;
}

// API tokens of a user. The SQLite store has the API-token area; the PostgreSQL one does not
// yet, so there the rows are written and read with plain SQL (the table is migration 001's).
int64_t AddApiToken(testing::SqliteBackend& backend, const std::string& hash, int64_t user_id) {
  return Ok(backend.store->ApiTokens().CreateApiToken("token " + hash, ApiRole::kOperator, hash,
                                                      "dz_" + hash, std::nullopt, user_id))
      .id;
}
bool ApiTokenRevoked(testing::SqliteBackend& backend, int64_t id) {
  return Ok(backend.store->ApiTokens().GetApiToken(id)).revoked_at_ms.has_value();
}
int64_t AddApiToken(testing::PostgresBackend& backend, const std::string& hash, int64_t user_id) {
  auto db = Ok(backend.store->pool().Acquire());
  const pg::Rows rows =
      Ok(db->Query("INSERT INTO api_tokens(token_hash, name, role, hint, created_at, user_id) "
                   "VALUES ($1, $2, 'operator', $3, $4, $5) RETURNING id",
                   pg::Params(hash, "token " + hash, "dz_" + hash, kNow, user_id)));
  return rows.Int(0, 0);
}
bool ApiTokenRevoked(testing::PostgresBackend& backend, int64_t id) {
  auto db = Ok(backend.store->pool().Acquire());
  const pg::Rows rows =
      Ok(db->Query("SELECT revoked_at FROM api_tokens WHERE id = $1", pg::Params(id)));
  REQUIRE(rows.size() == 1);
  return !rows.IsNull(0, 0);
}

// The error code of a failed result, nullopt for a success.
template <typename R>
std::optional<ErrorCode> CodeOf(const R& result) {
  if (result.ok()) {
    return std::nullopt;
  }
  return result.error().code;
}

template <typename Backend>
std::string EngineerOf(Backend& backend, int64_t org_id) {
  return Ok(backend.store->Organizations().FindOrganization(std::to_string(org_id))).engineer;
}

// ------------------------------------------------------------------ accounts

TEST_CASE_TEMPLATE("users: created, read by id, found by login whatever its case, listed by id",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const int64_t acme = MakeOrg(*backend.store, "Acme");

  NewUser anna;
  anna.login = "Anna";
  anna.display_name = "Анна Петрова";
  anna.email = "anna@example.com";
  anna.telegram_chat_id = "-100123";
  anna.language = "en";
  anna.time_zone = "Asia/Yekaterinburg";
  anna.password_hash = "$argon2id$anna";
  const User created = Ok(users.CreateUser(anna, kNow + 5));
  CHECK(created.id > 0);
  CHECK(created.login == "Anna");
  CHECK(created.display_name == "Анна Петрова");
  CHECK(created.email == "anna@example.com");
  CHECK(created.telegram_chat_id == "-100123");
  CHECK(created.language == "en");
  CHECK(created.time_zone == "Asia/Yekaterinburg");
  CHECK(created.quiet_hours.empty());
  CHECK_FALSE(created.monthly_report);
  CHECK(created.role == UserRole::kEngineer);
  CHECK_FALSE(created.org_id.has_value());
  CHECK(created.enabled);
  CHECK(created.has_password);
  CHECK(created.password_changed_at_ms == std::optional<int64_t>(kNow + 5));
  CHECK(created.created_at_ms == kNow + 5);
  CHECK(created.updated_at_ms == kNow + 5);

  // Without a password: none, and no change time either; the defaults of language and zone.
  NewUser boris;
  boris.login = "boris";
  boris.display_name = "Boris";
  boris.role = UserRole::kAdmin;
  const User admin = Ok(users.CreateUser(boris, kNow));
  CHECK_FALSE(admin.has_password);
  CHECK_FALSE(admin.password_changed_at_ms.has_value());
  CHECK(admin.language == "ru");
  CHECK(admin.time_zone == "Europe/Moscow");
  CHECK(admin.role == UserRole::kAdmin);

  const User client = MakeUser(backend, "sysadmin", UserRole::kClient, acme);
  CHECK(client.role == UserRole::kClient);
  CHECK(client.org_id == std::optional<int64_t>(acme));

  CHECK(Ok(users.GetUser(created.id)).display_name == "Анна Петрова");
  CHECK(users.GetUser(client.id + 100).error().code == ErrorCode::kNotFound);
  CHECK(users.GetUser(client.id + 100).error().message ==
        "no user with id " + std::to_string(client.id + 100));
  for (const char* spelling : {"anna", "ANNA", "Anna", "aNNa"}) {
    CHECK_MESSAGE(Ok(users.FindUserByLogin(spelling)).id == created.id, spelling);
  }
  CHECK(users.FindUserByLogin("ann").error().code == ErrorCode::kNotFound);
  CHECK(users.FindUserByLogin("nobody").error().message == "no user 'nobody'");

  const auto all = Ok(users.ListUsers());
  REQUIRE(all.size() == 3);
  CHECK(all[0].id == created.id);
  CHECK(all[1].id == admin.id);
  CHECK(all[2].id == client.id);
  CHECK(all[0].id < all[1].id);
  CHECK(all[1].id < all[2].id);
  CHECK(all[2].org_id == std::optional<int64_t>(acme));
}

TEST_CASE_TEMPLATE("users: refused accounts (login taken in any case, the client-org invariant)",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  MakeUser(backend, "Anna");

  NewUser same;
  same.display_name = "Other Anna";
  for (const char* login : {"Anna", "anna", "ANNA"}) {
    same.login = login;
    auto taken = users.CreateUser(same, kNow);
    CHECK_MESSAGE(taken.error().code == ErrorCode::kAlreadyExists, login);
    CHECK(taken.error().message == "user '" + std::string(login) + "' already exists");
  }

  NewUser user;
  user.login = "x";
  user.display_name = "X";
  auto refused = [&](const NewUser& candidate) {
    return CodeOf(users.CreateUser(candidate, kNow));
  };
  NewUser bad = user;
  bad.login = "";
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad.login = std::string(65, 'a');
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad = user;
  bad.display_name = "";
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad.display_name = std::string(201, 'n');
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad = user;
  bad.email = "not an address";
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad = user;
  bad.language = "de";
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad = user;
  bad.time_zone = "Moscow time";
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad = user;
  bad.telegram_chat_id = "chat?";
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);

  // A client needs an existing organisation; nobody else has one.
  NewUser client = user;
  client.role = UserRole::kClient;
  CHECK(refused(client) == ErrorCode::kInvalidArgument);
  client.org_id = acme + 100;
  auto orphan = users.CreateUser(client, kNow);
  CHECK(orphan.error().code == ErrorCode::kInvalidArgument);
  CHECK(orphan.error().message == "no organization with id " + std::to_string(acme + 100));
  NewUser engineer_with_org = user;
  engineer_with_org.org_id = acme;
  CHECK(refused(engineer_with_org) == ErrorCode::kInvalidArgument);
  NewUser admin_with_org = engineer_with_org;
  admin_with_org.role = UserRole::kAdmin;
  CHECK(refused(admin_with_org) == ErrorCode::kInvalidArgument);

  // Nothing refused left a row behind, and the login is still free.
  CHECK(Ok(users.ListUsers()).size() == 1);
  CHECK(Ok(users.CreateUser(user, kNow)).login == "x");
}

TEST_CASE_TEMPLATE("users: a patch changes the fields it names and nothing else", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const User anna = MakeUser(backend, "anna");

  UserPatch patch;
  patch.email = "anna@example.org";
  patch.telegram_chat_id = "@anna_bot";
  patch.language = "en";
  patch.time_zone = "UTC";
  patch.quiet_hours = "22:00-07:00";
  patch.monthly_report = true;
  const User patched = Ok(users.UpdateUser(anna.id, patch, kNow + 10));
  CHECK(patched.email == "anna@example.org");
  CHECK(patched.telegram_chat_id == "@anna_bot");
  CHECK(patched.language == "en");
  CHECK(patched.time_zone == "UTC");
  CHECK(patched.quiet_hours == "22:00-07:00");
  CHECK(patched.monthly_report);
  CHECK(patched.display_name == anna.display_name);  // not named: kept
  CHECK(patched.enabled);
  CHECK(patched.role == UserRole::kEngineer);
  CHECK(patched.created_at_ms == kNow);
  CHECK(patched.updated_at_ms == kNow + 10);
  CHECK(patched.password_changed_at_ms == anna.password_changed_at_ms);

  // An empty patch only touches updated_at; "" clears quiet hours.
  const User touched = Ok(users.UpdateUser(anna.id, UserPatch{}, kNow + 20));
  CHECK(touched.quiet_hours == "22:00-07:00");
  CHECK(touched.updated_at_ms == kNow + 20);
  UserPatch clear;
  clear.quiet_hours = "";
  clear.monthly_report = false;
  clear.email = "";
  const User cleared = Ok(users.UpdateUser(anna.id, clear, kNow + 30));
  CHECK(cleared.quiet_hours.empty());
  CHECK_FALSE(cleared.monthly_report);
  CHECK(cleared.email.empty());
  CHECK(cleared.language == "en");

  // Refused values change nothing.
  auto refused = [&](const UserPatch& bad) {
    return CodeOf(users.UpdateUser(anna.id, bad, kNow + 40));
  };
  UserPatch bad;
  bad.display_name = "";
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad.display_name = std::string(201, 'n');
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad = UserPatch{};
  bad.language = "fr";
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad = UserPatch{};
  bad.quiet_hours = "late";
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad = UserPatch{};
  bad.email = "@";
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  bad = UserPatch{};
  bad.time_zone = "no zone";
  CHECK(refused(bad) == ErrorCode::kInvalidArgument);
  CHECK(Ok(users.GetUser(anna.id)).updated_at_ms == kNow + 30);

  UserPatch rename;
  rename.display_name = "Anna K.";
  CHECK(users.UpdateUser(anna.id + 100, rename, kNow).error().code == ErrorCode::kNotFound);
  CHECK(users.UpdateUser(anna.id + 100, rename, kNow).error().message ==
        "no user with id " + std::to_string(anna.id + 100));
}

TEST_CASE_TEMPLATE("users: admin and engineer swap roles, a client account never changes role",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const User anna = MakeUser(backend, "anna");
  const User client = MakeUser(backend, "sysadmin", UserRole::kClient, acme);

  UserPatch promote;
  promote.role = UserRole::kAdmin;
  const User promoted = Ok(users.UpdateUser(anna.id, promote, kNow + 1));
  CHECK(promoted.role == UserRole::kAdmin);
  CHECK(promoted.updated_at_ms == kNow + 1);
  UserPatch demote;
  demote.role = UserRole::kEngineer;
  demote.display_name = "Anna K.";
  const User demoted = Ok(users.UpdateUser(anna.id, demote, kNow + 2));
  CHECK(demoted.role == UserRole::kEngineer);
  CHECK(demoted.display_name == "Anna K.");

  // Neither to nor from a client account, and a refused change changes nothing else either.
  UserPatch to_client;
  to_client.role = UserRole::kClient;
  to_client.display_name = "should not stick";
  CHECK(users.UpdateUser(anna.id, to_client, kNow + 3).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK(Ok(users.GetUser(anna.id)).display_name == "Anna K.");
  CHECK(Ok(users.GetUser(anna.id)).updated_at_ms == kNow + 2);
  CHECK(users.UpdateUser(client.id, promote, kNow + 3).error().code ==
        ErrorCode::kFailedPrecondition);
  UserPatch client_stays;
  client_stays.role = UserRole::kClient;
  CHECK(users.UpdateUser(client.id, client_stays, kNow + 3).error().code ==
        ErrorCode::kFailedPrecondition);
  const User still = Ok(users.GetUser(client.id));
  CHECK(still.role == UserRole::kClient);
  CHECK(still.org_id == std::optional<int64_t>(acme));
  CHECK(users.UpdateUser(client.id + 100, promote, kNow).error().code == ErrorCode::kNotFound);

  // Other fields of a client account change as anyone's.
  UserPatch report;
  report.monthly_report = true;
  CHECK(Ok(users.UpdateUser(client.id, report, kNow + 4)).monthly_report);
}

TEST_CASE_TEMPLATE("users: the password for login, refused when disabled or never set", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const User anna = MakeUser(backend, "Anna");
  const User nopass = MakeUser(backend, "nopass", UserRole::kEngineer, std::nullopt, std::nullopt);

  const auto [user, hash] = Ok(users.PasswordOf("anna"));
  CHECK(user.id == anna.id);
  CHECK(user.login == "Anna");
  CHECK(hash == "$argon2id$fake");
  CHECK(Ok(users.PasswordOf("ANNA")).first.id == anna.id);
  CHECK(users.PasswordOf("nobody").error().code == ErrorCode::kNotFound);
  auto none = users.PasswordOf("nopass");
  CHECK(none.error().code == ErrorCode::kPermissionDenied);
  CHECK(none.error().message == "the account has no password yet");

  // Setting one makes it usable and dates it.
  CHECK(Ok(users.SetPasswordHash(nopass.id, "$argon2id$set", kNow + 7, std::nullopt, false)) == 0);
  CHECK(Ok(users.PasswordOf("nopass")).second == "$argon2id$set");
  const User set = Ok(users.GetUser(nopass.id));
  CHECK(set.has_password);
  CHECK(set.password_changed_at_ms == std::optional<int64_t>(kNow + 7));
  CHECK(set.updated_at_ms == kNow + 7);

  UserPatch disable;
  disable.enabled = false;
  CHECK_FALSE(Ok(users.UpdateUser(anna.id, disable, kNow + 8)).enabled);
  auto disabled = users.PasswordOf("anna");
  CHECK(disabled.error().code == ErrorCode::kPermissionDenied);
  CHECK(disabled.error().message == "the account is disabled");
  UserPatch enable;
  enable.enabled = true;
  Ok(users.UpdateUser(anna.id, enable, kNow + 9));
  CHECK(Ok(users.PasswordOf("anna")).second == "$argon2id$fake");
}

TEST_CASE_TEMPLATE("users: a new password ends the other sessions, a reset revokes API tokens",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const User anna = MakeUser(backend, "anna");
  const User boris = MakeUser(backend, "boris");
  const int64_t far = kNow + 100 * kIdleMs;
  Ok(users.CreateSession(SessionOf(anna.id, "a1", kNow, far)));
  const Session keep = Ok(users.CreateSession(SessionOf(anna.id, "a2", kNow, far)));
  Ok(users.CreateSession(SessionOf(anna.id, "a3", kNow, far, SessionKind::kCli)));
  Ok(users.CreateSession(SessionOf(boris.id, "b1", kNow, far)));
  const int64_t anna_1 = AddApiToken(backend, "th-a1", anna.id);
  const int64_t anna_2 = AddApiToken(backend, "th-a2", anna.id);
  const int64_t boris_1 = AddApiToken(backend, "th-b1", boris.id);

  // A change of one's own password keeps the session it was made from and the API tokens.
  CHECK(Ok(users.SetPasswordHash(anna.id, "$argon2id$self", kNow + 1, keep.id, false)) == 0);
  CHECK_FALSE(users.AuthenticateSession("a1", kNow + 2, kIdleMs).ok());
  CHECK_FALSE(users.AuthenticateSession("a3", kNow + 2, kIdleMs).ok());
  CHECK(Ok(users.AuthenticateSession("a2", kNow + 2, kIdleMs)).first.id == keep.id);
  CHECK(users.AuthenticateSession("b1", kNow + 2, kIdleMs).ok());  // another user's stays
  CHECK_FALSE(ApiTokenRevoked(backend, anna_1));
  CHECK(Ok(users.PasswordOf("anna")).second == "$argon2id$self");

  // An admin reset: every session of the user and its live API tokens, counted.
  CHECK(Ok(users.SetPasswordHash(anna.id, "$argon2id$reset", kNow + 3, std::nullopt, true)) == 2);
  CHECK_FALSE(users.AuthenticateSession("a2", kNow + 4, kIdleMs).ok());
  CHECK(Ok(users.ListUserSessions(anna.id, kNow + 4, kIdleMs)).empty());
  CHECK(ApiTokenRevoked(backend, anna_1));
  CHECK(ApiTokenRevoked(backend, anna_2));
  CHECK_FALSE(ApiTokenRevoked(backend, boris_1));
  CHECK(users.AuthenticateSession("b1", kNow + 4, kIdleMs).ok());
  // Already revoked tokens are not counted twice.
  CHECK(Ok(users.SetPasswordHash(anna.id, "$argon2id$again", kNow + 5, std::nullopt, true)) == 0);

  auto missing = users.SetPasswordHash(boris.id + 100, "$argon2id$x", kNow, std::nullopt, true);
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "no user with id " + std::to_string(boris.id + 100));
}

// ------------------------------------------------------------------ assignments

TEST_CASE_TEMPLATE("assignments: assign, re-kind, list in order, unassign, and their errors",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");
  const User anna = MakeUser(backend, "anna");
  const User boris = MakeUser(backend, "boris", UserRole::kAdmin);
  const User carl = MakeUser(backend, "carl");
  const User client = MakeUser(backend, "sysadmin", UserRole::kClient, acme);

  const Assignment first =
      Ok(users.AssignEngineer(acme, carl.id, AssignmentKind::kBackup, "1С", kNow + 1));
  CHECK(first.org_id == acme);
  CHECK(first.user_id == carl.id);
  CHECK(first.kind == AssignmentKind::kBackup);
  CHECK(first.specialty == "1С");
  CHECK(first.created_at_ms == kNow + 1);
  CHECK(first.login == "carl");
  CHECK(first.display_name == "Name of carl");
  CHECK(first.enabled);
  Ok(users.AssignEngineer(acme, boris.id, AssignmentKind::kPrimary, "", kNow + 2));
  Ok(users.AssignEngineer(acme, anna.id, AssignmentKind::kPrimary, "сети", kNow + 3));
  Ok(users.AssignEngineer(beta, anna.id, AssignmentKind::kBackup, "", kNow + 4));

  // By organisation, primaries first, then by when they were assigned.
  auto all = Ok(users.ListAssignments(std::nullopt));
  REQUIRE(all.size() == 4);
  CHECK(all[0].org_id == acme);
  CHECK(all[0].user_id == boris.id);
  CHECK(all[1].user_id == anna.id);
  CHECK(all[1].specialty == "сети");
  CHECK(all[2].user_id == carl.id);
  CHECK(all[3].org_id == beta);
  const auto of_beta = Ok(users.ListAssignments(beta));
  REQUIRE(of_beta.size() == 1);
  CHECK(of_beta[0].user_id == anna.id);
  CHECK(Ok(users.ListAssignments(beta + 100)).empty());
  CHECK(Ok(users.AssignedOrgIds(anna.id)) == std::vector<int64_t>{acme, beta});
  CHECK(Ok(users.AssignedOrgIds(carl.id)) == std::vector<int64_t>{acme});
  CHECK(Ok(users.AssignedOrgIds(client.id)).empty());

  // Re-assigning changes kind and specialty and keeps the time it was first made.
  const Assignment again =
      Ok(users.AssignEngineer(acme, carl.id, AssignmentKind::kPrimary, "Linux", kNow + 9));
  CHECK(again.kind == AssignmentKind::kPrimary);
  CHECK(again.specialty == "Linux");
  CHECK(again.created_at_ms == kNow + 1);
  all = Ok(users.ListAssignments(acme));
  REQUIRE(all.size() == 3);
  CHECK(all[0].user_id == carl.id);  // now the earliest primary
  CHECK(all[1].user_id == boris.id);
  CHECK(all[2].user_id == anna.id);

  // The joined account fields follow the account.
  UserPatch disable;
  disable.enabled = false;
  Ok(users.UpdateUser(carl.id, disable, kNow + 10));
  CHECK_FALSE(Ok(users.ListAssignments(acme))[0].enabled);

  auto no_org = users.AssignEngineer(beta + 100, anna.id, AssignmentKind::kPrimary, "", kNow);
  CHECK(CodeOf(no_org) == ErrorCode::kNotFound);
  CHECK(no_org.error().message == "no organization with id " + std::to_string(beta + 100));
  // An unknown organisation is reported before an unknown user.
  CHECK(CodeOf(users.AssignEngineer(beta + 100, client.id + 100, AssignmentKind::kPrimary, "",
                                    kNow)) == ErrorCode::kNotFound);
  CHECK(users.AssignEngineer(beta + 100, client.id + 100, AssignmentKind::kPrimary, "", kNow)
            .error()
            .message.find("organization") != std::string::npos);
  auto no_user = users.AssignEngineer(acme, client.id + 100, AssignmentKind::kPrimary, "", kNow);
  CHECK(CodeOf(no_user) == ErrorCode::kNotFound);
  CHECK(no_user.error().message == "no user with id " + std::to_string(client.id + 100));
  CHECK(CodeOf(users.AssignEngineer(acme, client.id, AssignmentKind::kPrimary, "", kNow)) ==
        ErrorCode::kInvalidArgument);
  CHECK(CodeOf(users.AssignEngineer(acme, anna.id, AssignmentKind::kPrimary, std::string(201, 's'),
                                    kNow)) == ErrorCode::kInvalidArgument);
  CHECK(Ok(users.ListAssignments(std::nullopt)).size() == 4);

  Ok(users.UnassignEngineer(acme, boris.id));
  CHECK(Ok(users.AssignedOrgIds(boris.id)).empty());
  auto twice = users.UnassignEngineer(acme, boris.id);
  CHECK(CodeOf(twice) == ErrorCode::kNotFound);
  CHECK(twice.error().message == "user " + std::to_string(boris.id) +
                                     " is not assigned to organization " + std::to_string(acme));
  CHECK(CodeOf(users.UnassignEngineer(beta + 100, anna.id)) == ErrorCode::kNotFound);
  CHECK(Ok(users.ListAssignments(std::nullopt)).size() == 3);
}

TEST_CASE_TEMPLATE("assignments: the organisation's engineer names follow assignments and renames",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");
  const User anna = MakeUser(backend, "anna");
  const User boris = MakeUser(backend, "boris");
  CHECK(EngineerOf(backend, acme).empty());

  Ok(users.AssignEngineer(acme, anna.id, AssignmentKind::kPrimary, "", kNow + 1));
  CHECK(EngineerOf(backend, acme) == "Name of anna");
  // A backup engineer is not named there.
  Ok(users.AssignEngineer(acme, boris.id, AssignmentKind::kBackup, "", kNow + 2));
  CHECK(EngineerOf(backend, acme) == "Name of anna");
  // Primaries in the order they were assigned.
  Ok(users.AssignEngineer(acme, boris.id, AssignmentKind::kPrimary, "", kNow + 3));
  CHECK(EngineerOf(backend, acme) == "Name of anna, Name of boris");
  Ok(users.AssignEngineer(beta, boris.id, AssignmentKind::kPrimary, "", kNow + 4));
  CHECK(EngineerOf(backend, beta) == "Name of boris");

  // A rename shows in every organisation the engineer is assigned to; another field does not
  // touch them.
  UserPatch rename;
  rename.display_name = "Борис Б.";
  Ok(users.UpdateUser(boris.id, rename, kNow + 5));
  CHECK(EngineerOf(backend, acme) == "Name of anna, Борис Б.");
  CHECK(EngineerOf(backend, beta) == "Борис Б.");

  // Back to backup, then unassigned.
  Ok(users.AssignEngineer(acme, anna.id, AssignmentKind::kBackup, "", kNow + 6));
  CHECK(EngineerOf(backend, acme) == "Борис Б.");
  Ok(users.UnassignEngineer(acme, boris.id));
  CHECK(EngineerOf(backend, acme).empty());
  CHECK(EngineerOf(backend, beta) == "Борис Б.");
  Ok(users.UnassignEngineer(beta, boris.id));
  CHECK(EngineerOf(backend, beta).empty());

  // The organisation's own engineer field links an account the people area then lists.
  OrganizationPatch legacy;
  legacy.engineer = "anna";
  Ok(backend.store->Organizations().UpdateOrganization(beta, legacy));
  CHECK(EngineerOf(backend, beta) == "Name of anna");
  CHECK(Ok(users.AssignedOrgIds(anna.id)) == std::vector<int64_t>{acme, beta});
  rename.display_name = "Anna";
  Ok(users.UpdateUser(anna.id, rename, kNow + 7));
  CHECK(EngineerOf(backend, beta) == "Anna");
}

// ------------------------------------------------------------------ notes

TEST_CASE_TEMPLATE("notes: versions are kept newest first, with their authors", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");
  const User anna = MakeUser(backend, "anna");

  const NoteVersion first = Ok(users.SaveOrgNote(acme, "первая", anna.id, "anna", kNow + 1));
  CHECK(first.id > 0);
  CHECK(first.org_id == acme);
  CHECK(first.body == "первая");
  CHECK(first.author_user_id == std::optional<int64_t>(anna.id));
  CHECK(first.author == "anna");
  CHECK(first.created_at_ms == kNow + 1);
  const NoteVersion second =
      Ok(users.SaveOrgNote(acme, "second", std::nullopt, "legacy-token", kNow + 2));
  CHECK(second.id > first.id);
  Ok(users.SaveOrgNote(beta, "beta", std::nullopt, "x", kNow + 3));
  Ok(users.SaveOrgNote(acme, "", anna.id, "anna", kNow + 4));  // emptied: a version too

  const auto notes = Ok(users.ListOrgNotes(acme, 10));
  REQUIRE(notes.size() == 3);
  CHECK(notes[0].body.empty());
  CHECK(notes[1].body == "second");
  CHECK_FALSE(notes[1].author_user_id.has_value());
  CHECK(notes[1].author == "legacy-token");
  CHECK(notes[1].created_at_ms == kNow + 2);
  CHECK(notes[2].body == "первая");
  CHECK(notes[2].author_user_id == std::optional<int64_t>(anna.id));
  CHECK(Ok(users.ListOrgNotes(acme, 2)).size() == 2);
  CHECK(Ok(users.ListOrgNotes(acme, 0)).size() == 1);  // limits clamp to 1..1000
  CHECK(Ok(users.ListOrgNotes(acme, -5)).size() == 1);
  CHECK(Ok(users.ListOrgNotes(beta, 10)).size() == 1);
  CHECK(Ok(users.ListOrgNotes(beta + 100, 10)).empty());

  auto no_org = users.SaveOrgNote(beta + 100, "x", std::nullopt, "y", kNow);
  CHECK(no_org.error().code == ErrorCode::kNotFound);
  CHECK(no_org.error().message == "no organization with id " + std::to_string(beta + 100));
  CHECK(Ok(users.SaveOrgNote(acme, std::string(64 * 1024, 'n'), std::nullopt, "x", kNow))
            .body.size() == 64 * 1024);
  CHECK(users.SaveOrgNote(acme, std::string(64 * 1024 + 1, 'n'), std::nullopt, "x", kNow)
            .error()
            .code == ErrorCode::kInvalidArgument);
}

TEST_CASE_TEMPLATE("notes: only the newest kMaxNoteVersions versions stay, per organisation",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t globex = MakeOrg(*backend.store, "Globex");
  Ok(users.SaveOrgNote(globex, "globex note", std::nullopt, "x", kNow));
  const int max = UserStore::kMaxNoteVersions;
  for (int i = 0; i < max + 25; ++i) {
    Ok(users.SaveOrgNote(acme, "version " + std::to_string(i), std::nullopt, "x", kNow + i));
  }
  const auto notes = Ok(users.ListOrgNotes(acme, max + 100));
  REQUIRE(static_cast<int>(notes.size()) == max);
  CHECK(notes.front().body == "version " + std::to_string(max + 24));
  CHECK(notes.back().body == "version 25");
  const auto other = Ok(users.ListOrgNotes(globex, 10));
  REQUIRE(other.size() == 1);
  CHECK(other.front().body == "globex note");
}

// ------------------------------------------------------------------ sessions

TEST_CASE_TEMPLATE("sessions: created, authenticated with their user, seen at most once a minute",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const User anna = MakeUser(backend, "anna");
  const Session created = Ok(
      users.CreateSession(SessionOf(anna.id, "h1", kNow, kNow + 3 * kIdleMs, SessionKind::kCli)));
  CHECK(created.id > 0);
  CHECK(created.user_id == anna.id);
  CHECK(created.kind == SessionKind::kCli);
  CHECK(created.csrf_token == "csrf-h1");
  CHECK(created.source == "127.0.0.1");
  CHECK(created.created_at_ms == kNow);
  CHECK(created.last_seen_at_ms == kNow);
  CHECK(created.expires_at_ms == kNow + 3 * kIdleMs);

  auto [session, user] = Ok(users.AuthenticateSession("h1", kNow + 59'999, kIdleMs));
  CHECK(session.id == created.id);
  CHECK(session.kind == SessionKind::kCli);
  CHECK(session.csrf_token == "csrf-h1");
  CHECK(session.last_seen_at_ms == kNow);  // under a minute: not written
  CHECK(user.id == anna.id);
  CHECK(user.login == "anna");
  CHECK(Ok(users.AuthenticateSession("h1", kNow + 60'000, kIdleMs)).first.last_seen_at_ms ==
        kNow + 60'000);
  CHECK(Ok(users.ListUserSessions(anna.id, kNow + 60'000, kIdleMs))[0].last_seen_at_ms ==
        kNow + 60'000);
  // A request stamped earlier than the last mark (another replica's clock) never moves it back.
  CHECK(Ok(users.AuthenticateSession("h1", kNow + 70'000, kIdleMs)).first.last_seen_at_ms ==
        kNow + 60'000);

  auto unknown = users.AuthenticateSession("nope", kNow, kIdleMs);
  CHECK(unknown.error().code == ErrorCode::kPermissionDenied);
  CHECK(unknown.error().message == "unknown or ended session; log in again");
  // The session hash is unique.
  CHECK(users.CreateSession(SessionOf(anna.id, "h1", kNow, kNow + kIdleMs)).error().code ==
        ErrorCode::kAlreadyExists);

  // Disabling the user ends its sessions.
  Ok(users.CreateSession(SessionOf(anna.id, "h2", kNow, kNow + 3 * kIdleMs)));
  UserPatch disable;
  disable.enabled = false;
  Ok(users.UpdateUser(anna.id, disable, kNow + 61'000));
  CHECK(users.AuthenticateSession("h1", kNow + 62'000, kIdleMs).error().code ==
        ErrorCode::kPermissionDenied);
  CHECK(Ok(users.ListUserSessions(anna.id, kNow + 62'000, kIdleMs)).empty());
  UserPatch enable;
  enable.enabled = true;
  Ok(users.UpdateUser(anna.id, enable, kNow + 63'000));
  CHECK_FALSE(users.AuthenticateSession("h2", kNow + 64'000, kIdleMs).ok());
}

TEST_CASE_TEMPLATE("sessions: they end when idle and at their absolute expiry", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const User anna = MakeUser(backend, "anna");
  Ok(users.CreateSession(SessionOf(anna.id, "h1", kNow, kNow + 3 * kIdleMs)));
  Ok(users.CreateSession(SessionOf(anna.id, "h2", kNow, kNow + 100 * kIdleMs)));
  // Used every 9 minutes it stays alive...
  for (int64_t t = kNow; t < kNow + 3 * kIdleMs; t += 540'000) {
    auto alive = users.AuthenticateSession("h1", t, kIdleMs);
    REQUIRE_MESSAGE(alive.ok(), t);
    CHECK(alive->first.csrf_token == "csrf-h1");
  }
  CHECK(users.AuthenticateSession("h1", kNow + 3 * kIdleMs - 1, kIdleMs).ok());
  // ...until its absolute expiry.
  auto expired = users.AuthenticateSession("h1", kNow + 3 * kIdleMs, kIdleMs);
  CHECK(expired.error().code == ErrorCode::kPermissionDenied);
  CHECK(expired.error().message == "the session has expired; log in again");
  // Idle exactly as long as allowed is still alive; a millisecond more is not.
  CHECK(users.AuthenticateSession("h2", kNow + kIdleMs, kIdleMs).ok());
  auto idle = users.AuthenticateSession("h2", kNow + 2 * kIdleMs + 1, kIdleMs);
  CHECK(idle.error().code == ErrorCode::kPermissionDenied);
  CHECK(idle.error().message == "the session ended after being idle; log in again");
}

TEST_CASE_TEMPLATE("sessions: a user's live ones listed newest first, ended one by one, pruned",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const User anna = MakeUser(backend, "anna");
  const User boris = MakeUser(backend, "boris");
  const Session old_one = Ok(users.CreateSession(SessionOf(anna.id, "a1", kNow, kNow + kIdleMs)));
  const Session idle_one =
      Ok(users.CreateSession(SessionOf(anna.id, "a2", kNow - 2 * kIdleMs, kNow + 10 * kIdleMs)));
  const Session newer =
      Ok(users.CreateSession(SessionOf(anna.id, "a3", kNow, kNow + 10 * kIdleMs)));
  const Session newest =
      Ok(users.CreateSession(SessionOf(anna.id, "a4", kNow, kNow + 10 * kIdleMs)));
  const Session of_boris =
      Ok(users.CreateSession(SessionOf(boris.id, "b1", kNow, kNow + 10 * kIdleMs)));

  auto live = Ok(users.ListUserSessions(anna.id, kNow + 1, kIdleMs));
  REQUIRE(live.size() == 3);  // the idle one is not listed
  CHECK(live[0].id == newest.id);
  CHECK(live[1].id == newer.id);
  CHECK(live[2].id == old_one.id);
  CHECK(live[0].csrf_token == "csrf-a4");
  live = Ok(users.ListUserSessions(anna.id, kNow + kIdleMs, kIdleMs));
  REQUIRE(live.size() == 2);  // past the first one's absolute expiry
  CHECK(live[0].id == newest.id);

  // Ending: only one's own; another user's id reads as unknown.
  auto foreign = users.EndUserSession(anna.id, of_boris.id);
  CHECK(foreign.error().code == ErrorCode::kNotFound);
  CHECK(foreign.error().message == "no session with id " + std::to_string(of_boris.id));
  CHECK(users.AuthenticateSession("b1", kNow + 1, kIdleMs).ok());
  Ok(users.EndUserSession(anna.id, newer.id));
  CHECK(users.EndUserSession(anna.id, newer.id).error().code == ErrorCode::kNotFound);
  CHECK_FALSE(users.AuthenticateSession("a3", kNow + 1, kIdleMs).ok());
  // Logout deletes by id; an unknown id is no error.
  Ok(users.DeleteSession(newest.id));
  Ok(users.DeleteSession(newest.id));
  CHECK_FALSE(users.AuthenticateSession("a4", kNow + 1, kIdleMs).ok());

  // Pruning: past the absolute expiry (a1) or idle too long (a2); b1 stays until it idles.
  CHECK(Ok(users.PruneSessions(kNow + kIdleMs, kIdleMs)) == 2);
  CHECK(Ok(users.PruneSessions(kNow + kIdleMs, kIdleMs)) == 0);
  CHECK(Ok(users.ListUserSessions(boris.id, kNow + kIdleMs, kIdleMs)).size() == 1);
  CHECK(Ok(users.PruneSessions(kNow + kIdleMs + 1, kIdleMs)) == 1);
  CHECK(Ok(users.ListUserSessions(boris.id, kNow, kIdleMs)).empty());
  CHECK(Ok(users.ListUserSessions(anna.id, kNow, kIdleMs)).empty());
  (void)idle_one;
}

// ------------------------------------------------------------------ concurrency

TEST_CASE_TEMPLATE("users: one login created at once from many threads exists once", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  std::atomic<int> created{0};
  std::atomic<int> taken{0};
  std::atomic<int> other_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        NewUser user;
        // The same login in a different case per thread.
        user.login = "login-" + std::to_string(i);
        if (t % 2 == 1) {
          for (char& c : user.login) c = static_cast<char>(std::toupper(c));
        }
        user.display_name = "thread " + std::to_string(t);
        auto result = users.CreateUser(user, kNow);
        if (result.ok()) {
          ++created;
        } else if (result.error().code == ErrorCode::kAlreadyExists) {
          ++taken;
        } else {
          ++other_errors;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(created.load() == 5);
  CHECK(taken.load() == 15);
  CHECK(other_errors.load() == 0);
  CHECK(Ok(users.ListUsers()).size() == 5);
}

TEST_CASE_TEMPLATE("sessions: authenticated from many threads at once", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const User anna = MakeUser(backend, "anna");
  Ok(users.CreateSession(SessionOf(anna.id, "shared", kNow, kNow + 100 * kIdleMs)));
  // Requests stamped up to 8 minutes apart in no particular order, as replicas' clocks and
  // scheduling make them: all within the idle time of each other, so every one is accepted.
  constexpr int64_t kStepMs = 61'000;
  constexpr int kSteps = 9;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const int64_t now = kNow + ((i * 4 + t) % kSteps) * kStepMs;
        auto result = users.AuthenticateSession("shared", now, kIdleMs);
        if (!result.ok() || result->first.user_id != anna.id) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(failures.load() == 0);
  const auto sessions = Ok(users.ListUserSessions(anna.id, kNow, kIdleMs));
  REQUIRE(sessions.size() == 1);
  const int64_t latest = kNow + (kSteps - 1) * kStepMs;
  if constexpr (std::is_same_v<Backend, testing::PostgresBackend>) {
    // PostgreSQL marks a session seen with greatest(): a late write of an earlier request never
    // moves the mark back, so it ends at the latest request's time.
    CHECK(sessions[0].last_seen_at_ms == latest);
  } else {
    // SQLite writes the request's own time (one writer, so rarely out of order).
    CHECK(sessions[0].last_seen_at_ms >= kNow);
    CHECK(sessions[0].last_seen_at_ms <= latest);
  }
}

TEST_CASE_TEMPLATE(
    "assignments: the engineer names stay right under concurrent assigns and renames", Backend,
    DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");
  constexpr int kThreads = 4;
  std::vector<User> engineers;
  for (int t = 0; t < kThreads; ++t) {
    engineers.push_back(MakeUser(backend, "eng" + std::to_string(t)));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const int64_t id = engineers[static_cast<size_t>(t)].id;
      for (int i = 0; i < 8; ++i) {
        const int64_t org = (i + t) % 2 == 0 ? acme : beta;
        if (!users.AssignEngineer(org, id, AssignmentKind::kPrimary, "", kNow + i).ok()) {
          ++failures;
        }
        UserPatch rename;
        rename.display_name = "E" + std::to_string(t) + " v" + std::to_string(i);
        if (!users.UpdateUser(id, rename, kNow + i).ok()) {
          ++failures;
        }
        if (i % 3 == 2 && !users.UnassignEngineer(org, id).ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  REQUIRE(failures.load() == 0);
  // Whatever the interleaving, each organisation's cache is what its assignments say now.
  for (int64_t org : {acme, beta}) {
    std::string expected;
    for (const Assignment& a : Ok(users.ListAssignments(org))) {
      if (a.kind != AssignmentKind::kPrimary) continue;
      if (!expected.empty()) expected += ", ";
      expected += a.display_name;
    }
    CHECK_MESSAGE(EngineerOf(backend, org) == expected, org);
  }
  // Every engineer ended on its last name.
  for (int t = 0; t < kThreads; ++t) {
    CHECK(Ok(users.GetUser(engineers[static_cast<size_t>(t)].id)).display_name ==
          "E" + std::to_string(t) + " v7");
  }
}

TEST_CASE_TEMPLATE("notes: the version cap holds exactly under concurrent saves", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& users = backend.store->Users();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int max = UserStore::kMaxNoteVersions;
  constexpr int kThreads = 4;
  const int per_thread = 30;
  // Saves far from the cap first, so the concurrent ones below each trim.
  for (int i = 0; i < max - 20; ++i) {
    Ok(users.SaveOrgNote(acme, "seed " + std::to_string(i), std::nullopt, "x", kNow));
  }
  std::atomic<int> failures{0};
  std::atomic<bool> saving{true};
  std::atomic<int> over_cap{0};
  // A reader meanwhile never sees more versions than the cap on PostgreSQL (insert and trim are
  // one transaction); SQLite runs them as two statements under its writer lock, so a reader
  // there may see the one just inserted before the oldest goes.
  const int seen_at_most = std::is_same_v<Backend, testing::PostgresBackend> ? max : max + 1;
  std::thread reader([&] {
    while (saving.load()) {
      auto notes = users.ListOrgNotes(acme, 1000);
      if (notes.ok() && static_cast<int>(notes->size()) > seen_at_most) {
        ++over_cap;
      }
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        if (!users
                 .SaveOrgNote(acme, std::to_string(t) + "/" + std::to_string(i), std::nullopt, "x",
                              kNow + i)
                 .ok()) {
          ++failures;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  saving = false;
  reader.join();
  REQUIRE(failures.load() == 0);
  CHECK(over_cap.load() == 0);
  const auto notes = Ok(users.ListOrgNotes(acme, 1000));
  REQUIRE(static_cast<int>(notes.size()) == max);
  // The newest were kept: every concurrent save, and the seeds after the oldest 100.
  int concurrent = 0;
  for (size_t i = 0; i < notes.size(); ++i) {
    if (i > 0) {
      REQUIRE(notes[i].id < notes[i - 1].id);
    }
    concurrent += notes[i].body.find('/') != std::string::npos ? 1 : 0;
  }
  CHECK(concurrent == kThreads * per_thread);
  CHECK(notes.back().body == "seed " + std::to_string(kThreads * per_thread - 20));
}

}  // namespace
}  // namespace dozor::server
