// The people area of the SQLite store: accounts, assignments, notes, sessions, the audit log, and
// migration 008 turning the old free-text engineer field into accounts and assignments.
#include <doctest/doctest.h>

#include "dozor/common/sqlite.hpp"
#include "store/sqlite/migrations.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server {
namespace {

using dozor::testing::TempDir;

constexpr int64_t kNow = 1'800'000'000'000;

std::unique_ptr<SqliteStore> Open(const TempDir& dir) {
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  options.background_checkpoint = false;
  auto store = OpenSqliteStore(options);
  REQUIRE_MESSAGE(store.ok(), (store.ok() ? "" : store.error().ToString()));
  return std::move(store).value();
}

int64_t Org(SqliteStore& store, const std::string& name, const std::string& engineer = "") {
  Organization org;
  org.name = name;
  org.engineer = engineer;
  auto created = store.CreateOrganization(org);
  REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().ToString()));
  return created->id;
}

User MakeUser(SqliteStore& store, const std::string& login, UserRole role,
              std::optional<int64_t> org_id = std::nullopt) {
  NewUser user;
  user.login = login;
  user.display_name = "Name of " + login;
  user.role = role;
  user.org_id = org_id;
  user.password_hash = "$argon2id$fake";
  auto created = store.CreateUser(user, kNow);
  REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().ToString()));
  return *created;
}

TEST_CASE("migration 008 turns the free-text engineer field into accounts and assignments") {
  TempDir dir;
  {
    // A database as the previous release left it: migrations 001-007 and three organisations.
    auto db = sqlite::Database::Open(dir / "dozor.db");
    REQUIRE(db.ok());
    REQUIRE(db->Exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT "
                     "NULL, applied_at INTEGER NOT NULL)")
                .ok());
    for (const auto& migration : Migrations()) {
      if (migration.version >= 8) break;
      REQUIRE_MESSAGE(db->Exec(migration.sql).ok(), migration.name);
      auto record = db->Prepare("INSERT INTO schema_migrations VALUES (?, ?, 0)");
      REQUIRE(record.ok());
      REQUIRE(record->Bind(1, migration.version).Bind(2, migration.name).Run().ok());
    }
    REQUIRE(db->Exec("INSERT INTO organizations(name, engineer, created_at) VALUES "
                     "('Ромашка', 'Иван Петров', 1), ('Лютик', ' Иван Петров ', 2), "
                     "('Василёк', '', 3), ('Acme', 'anna@example.com', 4)")
                .ok());
  }
  auto store = Open(dir);
  auto users = store->ListUsers();
  REQUIRE(users.ok());
  REQUIRE(users->size() == 2);  // one account per distinct name
  for (const auto& user : *users) {
    CHECK(user.role == UserRole::kEngineer);
    CHECK_FALSE(user.has_password);  // an admin sets one before they can log in
    CHECK(user.login.rfind("engineer-", 0) == 0);
  }
  auto assignments = store->ListAssignments(std::nullopt);
  REQUIRE(assignments.ok());
  REQUIRE(assignments->size() == 3);
  for (const auto& a : *assignments) {
    CHECK(a.kind == AssignmentKind::kPrimary);
  }
  CHECK(assignments->at(0).user_id == assignments->at(1).user_id);  // the same Иван Петров
  auto romashka = store->FindOrganization("Ромашка");
  REQUIRE(romashka.ok());
  CHECK(romashka->engineer == "Иван Петров");
  auto vasilek = store->FindOrganization("Василёк");
  REQUIRE(vasilek.ok());
  CHECK(vasilek->engineer.empty());
}

TEST_CASE("the old engineer field links an existing account or makes a password-less one") {
  TempDir dir;
  auto store = Open(dir);
  const User petrov = MakeUser(*store, "petrov", UserRole::kEngineer);
  const int64_t acme = Org(*store, "Acme", "petrov");
  auto assigned = store->AssignedOrgIds(petrov.id);
  REQUIRE(assigned.ok());
  CHECK(*assigned == std::vector<int64_t>{acme});
  CHECK(store->FindOrganization("Acme")->engineer == "Name of petrov");

  // An unknown name becomes a new engineer account; the patch replaces the primary engineer.
  OrganizationPatch patch;
  patch.engineer = "Сидоров";
  REQUIRE(store->UpdateOrganization(acme, patch).ok());
  CHECK(store->FindOrganization("Acme")->engineer == "Сидоров");
  CHECK(store->AssignedOrgIds(petrov.id)->empty());
  auto sidorov = store->ListUsers();
  REQUIRE(sidorov.ok());
  REQUIRE(sidorov->size() == 2);
  CHECK(sidorov->back().display_name == "Сидоров");
  CHECK_FALSE(sidorov->back().has_password);

  // Renaming the engineer renames the organisation's engineer field.
  UserPatch rename;
  rename.display_name = "Сидоров С.";
  REQUIRE(store->UpdateUser(sidorov->back().id, rename, kNow).ok());
  CHECK(store->FindOrganization("Acme")->engineer == "Сидоров С.");
  patch.engineer = "";
  REQUIRE(store->UpdateOrganization(acme, patch).ok());
  CHECK(store->FindOrganization("Acme")->engineer.empty());
}

TEST_CASE("accounts: unique logins, a client needs its organisation, disabling ends sessions") {
  TempDir dir;
  auto store = Open(dir);
  const int64_t acme = Org(*store, "Acme");
  MakeUser(*store, "Anna", UserRole::kEngineer);
  NewUser same;
  same.login = "anna";  // logins compare case-insensitively
  same.display_name = "x";
  CHECK(store->CreateUser(same, kNow).error().code == ErrorCode::kAlreadyExists);
  NewUser client;
  client.login = "sysadmin";
  client.display_name = "Sysadmin";
  client.role = UserRole::kClient;
  CHECK(store->CreateUser(client, kNow).error().code == ErrorCode::kInvalidArgument);
  client.org_id = 999;
  CHECK(store->CreateUser(client, kNow).error().code == ErrorCode::kInvalidArgument);
  client.org_id = acme;
  auto made = store->CreateUser(client, kNow);
  REQUIRE(made.ok());
  CHECK(made->org_id == acme);
  CHECK(store->PasswordOf("sysadmin").error().code == ErrorCode::kPermissionDenied);  // no password
  CHECK(store->AssignEngineer(acme, made->id, AssignmentKind::kPrimary, "", kNow).error().code ==
        ErrorCode::kInvalidArgument);

  const User anna = *store->FindUserByLogin("ANNA");
  auto password = store->PasswordOf("anna");
  REQUIRE(password.ok());
  CHECK(password->second == "$argon2id$fake");
  NewSession session{"hash-1",    anna.id, SessionKind::kBrowser, "csrf",
                     "127.0.0.1", kNow,    kNow + 3'600'000};
  REQUIRE(store->CreateSession(session).ok());
  REQUIRE(store->AuthenticateSession("hash-1", kNow + 1000, 600'000).ok());
  UserPatch disable;
  disable.enabled = false;
  REQUIRE(store->UpdateUser(anna.id, disable, kNow).ok());
  CHECK(store->AuthenticateSession("hash-1", kNow + 2000, 600'000).error().code ==
        ErrorCode::kPermissionDenied);
  CHECK(store->PasswordOf("anna").error().code == ErrorCode::kPermissionDenied);
}

TEST_CASE("sessions end when idle, at their absolute expiry, and on a password change") {
  TempDir dir;
  auto store = Open(dir);
  const User anna = MakeUser(*store, "anna", UserRole::kEngineer);
  const int64_t idle = 600'000;
  auto one =
      store->CreateSession({"h1", anna.id, SessionKind::kBrowser, "c1", "", kNow, kNow + 3 * idle});
  REQUIRE(one.ok());
  REQUIRE(
      store->CreateSession({"h2", anna.id, SessionKind::kCli, "c2", "", kNow, kNow + 100 * idle})
          .ok());
  // Used every 9 minutes it stays alive (seen is recorded at most once a minute)...
  for (int64_t t = kNow; t < kNow + 3 * idle - idle; t += 540'000) {
    auto alive = store->AuthenticateSession("h1", t, idle);
    REQUIRE_MESSAGE(alive.ok(), t);
    CHECK(alive->first.csrf_token == "c1");
  }
  // ...until its absolute expiry.
  CHECK(store->AuthenticateSession("h1", kNow + 3 * idle, idle).error().message.find("expired") !=
        std::string::npos);
  // Idle longer than allowed.
  CHECK(store->AuthenticateSession("h2", kNow + idle + 1, idle).error().message.find("idle") !=
        std::string::npos);
  REQUIRE(store->CreateSession({"h3", anna.id, SessionKind::kCli, "c3", "", kNow, kNow + 10 * idle})
              .ok());
  auto keep = store->CreateSession(
      {"h4", anna.id, SessionKind::kBrowser, "c4", "", kNow, kNow + 10 * idle});
  REQUIRE(keep.ok());
  REQUIRE(store->SetPasswordHash(anna.id, "$argon2id$new", kNow, keep->id, false).ok());
  CHECK_FALSE(store->AuthenticateSession("h3", kNow + 1, idle).ok());
  CHECK(store->AuthenticateSession("h4", kNow + 1, idle).ok());
  auto pruned = store->PruneSessions(kNow + 20 * idle, idle);
  REQUIRE(pruned.ok());
  CHECK(*pruned >= 1);
  CHECK_FALSE(store->AuthenticateSession("h4", kNow + 1, idle).ok());
}

TEST_CASE(
    "a password reset revokes the user's API tokens in the same change, a self change keeps them") {
  TempDir dir;
  auto store = Open(dir);
  const User anna = MakeUser(*store, "anna", UserRole::kEngineer);
  const User boris = MakeUser(*store, "boris", UserRole::kEngineer);
  REQUIRE(
      store->CreateApiToken("anna-1", ApiRole::kOperator, "th-a1", "dz_a1", std::nullopt, anna.id)
          .ok());
  REQUIRE(store->CreateApiToken("anna-2", ApiRole::kViewer, "th-a2", "dz_a2", std::nullopt, anna.id)
              .ok());
  REQUIRE(
      store->CreateApiToken("boris-1", ApiRole::kOperator, "th-b1", "dz_b1", std::nullopt, boris.id)
          .ok());
  auto kept = store->SetPasswordHash(anna.id, "$argon2id$self", kNow, std::nullopt, false);
  REQUIRE(kept.ok());
  CHECK(*kept == 0);
  CHECK(store->AuthenticateApiToken("th-a1", kNow).ok());
  auto reset = store->SetPasswordHash(anna.id, "$argon2id$reset", kNow + 1, std::nullopt, true);
  REQUIRE(reset.ok());
  CHECK(*reset == 2);
  CHECK_FALSE(store->AuthenticateApiToken("th-a1", kNow + 2).ok());
  CHECK_FALSE(store->AuthenticateApiToken("th-a2", kNow + 2).ok());
  CHECK(store->AuthenticateApiToken("th-b1", kNow + 2).ok());  // another user's token stays
  auto again = store->SetPasswordHash(anna.id, "$argon2id$again", kNow + 3, std::nullopt, true);
  REQUIRE(again.ok());
  CHECK(*again == 0);  // already revoked ones are not counted twice
  CHECK(store->SetPasswordHash(9999, "$argon2id$x", kNow, std::nullopt, true).error().code ==
        ErrorCode::kNotFound);
  // The route scope reads one token by id (revoked ones too).
  auto tokens = store->ListApiTokens();
  REQUIRE(tokens.ok());
  REQUIRE(tokens->size() == 3);
  for (const auto& token : *tokens) {
    auto one = store->GetApiToken(token.id);
    REQUIRE(one.ok());
    CHECK(one->name == token.name);
    CHECK(one->user_id == token.user_id);
    CHECK(one->revoked_at_ms.has_value() == (token.user_id == anna.id));
  }
  CHECK(store->GetApiToken(424242).error().code == ErrorCode::kNotFound);
  CHECK(store->GetEnrollmentToken(424242).error().code == ErrorCode::kNotFound);
}

TEST_CASE("client notes keep every version, the audit log filters and pages newest first") {
  TempDir dir;
  auto store = Open(dir);
  const int64_t acme = Org(*store, "Acme");
  const User anna = MakeUser(*store, "anna", UserRole::kEngineer);
  REQUIRE(store->SaveOrgNote(acme, "first", anna.id, "anna", kNow).ok());
  REQUIRE(store->SaveOrgNote(acme, "second", std::nullopt, "legacy-token", kNow + 1).ok());
  CHECK(store->SaveOrgNote(999, "x", std::nullopt, "y", kNow).error().code == ErrorCode::kNotFound);
  auto notes = store->ListOrgNotes(acme, 10);
  REQUIRE(notes.ok());
  REQUIRE(notes->size() == 2);
  CHECK(notes->at(0).body == "second");
  CHECK(notes->at(1).author_user_id == anna.id);

  for (int i = 0; i < 5; ++i) {
    AuditEntry entry;
    entry.at_ms = kNow + i;
    entry.actor = i % 2 == 0 ? "anna" : "boris";
    entry.actor_user_id = i % 2 == 0 ? std::optional<int64_t>(anna.id) : std::nullopt;
    entry.via = Via::kDashboard;
    entry.action = i < 3 ? "POST /api/v1/findings/{id}/ack" : "PUT /api/v1/orgs/{org}/notes";
    entry.org_id = acme;
    entry.status = 200;
    REQUIRE(store->AppendAudit(entry).ok());
  }
  AuditFilter filter;
  auto all = store->ListAudit(filter);
  REQUIRE(all.ok());
  REQUIRE(all->size() == 5);
  CHECK(all->front().at_ms == kNow + 4);
  CHECK(all->front().via == Via::kDashboard);
  filter.actor = "anna";
  CHECK(store->ListAudit(filter)->size() == 3);
  filter.actor.reset();
  filter.action_prefix = "PUT ";
  CHECK(store->ListAudit(filter)->size() == 2);
  filter.action_prefix.reset();
  filter.limit = 2;
  auto page = store->ListAudit(filter);
  REQUIRE(page->size() == 2);
  filter.before_id = page->back().id;
  auto next = store->ListAudit(filter);
  REQUIRE(next->size() == 2);
  CHECK(next->front().id < page->back().id);
  filter.since_ms = kNow + 10;
  CHECK(store->ListAudit(filter)->empty());

  // Retention deletes only what is older than the cutoff.
  auto pruned = store->PruneAudit(kNow + 3);
  REQUIRE(pruned.ok());
  CHECK(*pruned == 3);
  auto left = store->ListAudit(AuditFilter{});
  REQUIRE(left.ok());
  REQUIRE(left->size() == 2);
  CHECK(left->back().at_ms == kNow + 3);
  CHECK(*store->PruneAudit(kNow + 3) == 0);
}

TEST_CASE("an organisation's notes keep their newest versions only, and another's are untouched") {
  TempDir dir;
  auto store = Open(dir);
  const int64_t acme = Org(*store, "Acme");
  const int64_t globex = Org(*store, "Globex");
  REQUIRE(store->SaveOrgNote(globex, "globex note", std::nullopt, "x", kNow).ok());
  const int max = UserStore::kMaxNoteVersions;
  for (int i = 0; i < max + 25; ++i) {
    REQUIRE(
        store->SaveOrgNote(acme, "version " + std::to_string(i), std::nullopt, "x", kNow + i).ok());
  }
  auto notes = store->ListOrgNotes(acme, max + 100);
  REQUIRE(notes.ok());
  REQUIRE(static_cast<int>(notes->size()) == max);
  CHECK(notes->front().body == "version " + std::to_string(max + 24));
  CHECK(notes->back().body == "version 25");
  auto other = store->ListOrgNotes(globex, 10);
  REQUIRE(other.ok());
  REQUIRE(other->size() == 1);
  CHECK(other->front().body == "globex note");
}

TEST_CASE("an account moves between admin and engineer, a client account never changes role") {
  TempDir dir;
  auto store = Open(dir);
  const int64_t acme = Org(*store, "Acme");
  const User anna = MakeUser(*store, "anna", UserRole::kEngineer);
  const User client = MakeUser(*store, "sysadmin", UserRole::kClient, acme);
  UserPatch promote;
  promote.role = UserRole::kAdmin;
  auto promoted = store->UpdateUser(anna.id, promote, kNow + 1);
  REQUIRE(promoted.ok());
  CHECK(promoted->role == UserRole::kAdmin);
  CHECK(promoted->updated_at_ms == kNow + 1);
  UserPatch demote;
  demote.role = UserRole::kEngineer;
  demote.display_name = "Anna K.";
  auto demoted = store->UpdateUser(anna.id, demote, kNow + 2);
  REQUIRE(demoted.ok());
  CHECK(demoted->role == UserRole::kEngineer);
  CHECK(demoted->display_name == "Anna K.");

  // Neither to nor from a client account, and a refused change changes nothing else either.
  UserPatch to_client;
  to_client.role = UserRole::kClient;
  to_client.display_name = "should not stick";
  CHECK(store->UpdateUser(anna.id, to_client, kNow + 3).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK(store->GetUser(anna.id)->display_name == "Anna K.");
  CHECK(store->UpdateUser(client.id, promote, kNow + 3).error().code ==
        ErrorCode::kFailedPrecondition);
  auto still = store->GetUser(client.id);
  REQUIRE(still.ok());
  CHECK(still->role == UserRole::kClient);
  CHECK(still->org_id == acme);
  CHECK(store->UpdateUser(9999, promote, kNow).error().code == ErrorCode::kNotFound);
}

}  // namespace
}  // namespace dozor::server
