// The management-API tokens area (store/api_token_store.hpp) on every backend.
#include <doctest/doctest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::kBackendClockStartMs;
using dozor::testing::Ok;

TEST_CASE_TEMPLATE("api tokens: created, read, listed by id and counted", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& tokens = backend.store->ApiTokens();
  CHECK(Ok(tokens.CountApiTokens()) == 0);
  CHECK(Ok(tokens.ListApiTokens()).empty());

  const ApiToken admin =
      Ok(tokens.CreateApiToken("bootstrap", ApiRole::kAdmin, "th-1", "dz_ab", std::nullopt));
  CHECK(admin.id > 0);
  CHECK(admin.name == "bootstrap");
  CHECK(admin.role == ApiRole::kAdmin);
  CHECK(admin.hint == "dz_ab");
  CHECK(admin.created_at_ms == kBackendClockStartMs);  // stamped with the store's clock
  CHECK_FALSE(admin.revoked_at_ms.has_value());
  CHECK_FALSE(admin.expires_at_ms.has_value());
  CHECK_FALSE(admin.user_id.has_value());

  backend.clock.AdvanceMs(1000);
  const ApiToken ci = Ok(tokens.CreateApiToken("ci «сборка»", ApiRole::kViewer, "th-2", "",
                                               kBackendClockStartMs + 5000));
  CHECK(ci.id > admin.id);
  CHECK(ci.created_at_ms == kBackendClockStartMs + 1000);
  CHECK(ci.expires_at_ms == kBackendClockStartMs + 5000);
  CHECK(ci.hint.empty());
  const ApiToken op =
      Ok(tokens.CreateApiToken("ops", ApiRole::kOperator, "th-3", "dz_cd", std::nullopt));
  CHECK(Ok(tokens.CountApiTokens()) == 3);

  // Listed oldest first, every field as created.
  const auto listed = Ok(tokens.ListApiTokens());
  REQUIRE(listed.size() == 3);
  CHECK(listed[0].id == admin.id);
  CHECK(listed[1].id == ci.id);
  CHECK(listed[1].name == "ci «сборка»");
  CHECK(listed[1].role == ApiRole::kViewer);
  CHECK(listed[2].id == op.id);
  CHECK(listed[2].role == ApiRole::kOperator);

  const ApiToken one = Ok(tokens.GetApiToken(ci.id));
  CHECK(one.name == ci.name);
  CHECK(one.expires_at_ms == ci.expires_at_ms);
  CHECK(one.created_at_ms == ci.created_at_ms);
  auto missing = tokens.GetApiToken(op.id + 100);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "no API token with id " + std::to_string(op.id + 100));
}

TEST_CASE_TEMPLATE("api tokens: invalid and duplicate tokens are refused", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& tokens = backend.store->ApiTokens();
  auto code = [&](const std::string& name, const std::string& hash, const std::string& hint) {
    auto created = tokens.CreateApiToken(name, ApiRole::kViewer, hash, hint, std::nullopt);
    // nullopt: created.
    return created.ok() ? std::nullopt : std::optional<ErrorCode>(created.error().code);
  };
  CHECK(code("", "h-empty-name", "") == ErrorCode::kInvalidArgument);
  CHECK(code(std::string(201, 'n'), "h-long-name", "") == ErrorCode::kInvalidArgument);
  CHECK(code("no hash", "", "") == ErrorCode::kInvalidArgument);
  CHECK(code("long hint", "h-long-hint", std::string(65, 'h')) == ErrorCode::kInvalidArgument);
  auto message = tokens.CreateApiToken("", ApiRole::kViewer, "h", "", std::nullopt);
  CHECK(message.error().message == "API token name must be 1-200 characters");
  CHECK(Ok(tokens.CountApiTokens()) == 0);

  // The limits themselves are allowed.
  CHECK(code(std::string(200, 'n'), "h-200", std::string(64, 'h')) == std::nullopt);
  // The hash is unique; names are not.
  CHECK(code("same name", "h-a", "") == std::nullopt);
  CHECK(code("same name", "h-b", "") == std::nullopt);
  auto duplicate = tokens.CreateApiToken("other", ApiRole::kAdmin, "h-a", "", std::nullopt);
  REQUIRE_FALSE(duplicate.ok());
  CHECK(duplicate.error().code == ErrorCode::kAlreadyExists);
  CHECK(duplicate.error().message == "API token already exists");
  CHECK(Ok(tokens.CountApiTokens()) == 3);
}

TEST_CASE_TEMPLATE("api tokens: authenticate until revoked or expired", Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& tokens = backend.store->ApiTokens();
  const ApiToken admin =
      Ok(tokens.CreateApiToken("bootstrap", ApiRole::kAdmin, "th-1", "dz_ab", std::nullopt));
  const ApiToken temp =
      Ok(tokens.CreateApiToken("ci", ApiRole::kViewer, "th-2", "dz_cd", int64_t{5000}));

  const ApiToken ok = Ok(tokens.AuthenticateApiToken("th-1", 1000));
  CHECK(ok.id == admin.id);
  CHECK(ok.role == ApiRole::kAdmin);
  CHECK(ok.name == "bootstrap");
  CHECK(Ok(tokens.AuthenticateApiToken("th-2", 4999)).id == temp.id);
  // Expiry is exclusive: at expires_at the token is already refused.
  auto expired = tokens.AuthenticateApiToken("th-2", 5000);
  REQUIRE_FALSE(expired.ok());
  CHECK(expired.error().code == ErrorCode::kPermissionDenied);
  CHECK(expired.error().message == "API token is expired");
  auto unknown = tokens.AuthenticateApiToken("zzz", 1);
  CHECK(unknown.error().code == ErrorCode::kPermissionDenied);
  CHECK(unknown.error().message == "unknown API token");

  Ok(tokens.RevokeApiToken(admin.id, 2000));
  auto revoked = tokens.AuthenticateApiToken("th-1", 3000);
  CHECK(revoked.error().code == ErrorCode::kPermissionDenied);
  CHECK(revoked.error().message == "API token is revoked");
  // Revoking again keeps the first time; a revoked token is still read and listed.
  Ok(tokens.RevokeApiToken(admin.id, 9000));
  CHECK(Ok(tokens.GetApiToken(admin.id)).revoked_at_ms == 2000);
  const auto listed = Ok(tokens.ListApiTokens());
  REQUIRE(listed.size() == 2);
  CHECK(listed.front().revoked_at_ms == 2000);
  CHECK_FALSE(listed.back().revoked_at_ms.has_value());
  CHECK(Ok(tokens.CountApiTokens()) == 2);  // revoked ones count too

  auto missing = tokens.RevokeApiToken(temp.id + 100, 1);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "no API token with id " + std::to_string(temp.id + 100));
}

TEST_CASE_TEMPLATE("api tokens: concurrent creates of one hash leave one token", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& tokens = backend.store->ApiTokens();
  std::atomic<int> created{0};
  std::atomic<int> conflicts{0};
  std::atomic<int> other_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        // Every thread races for the same five hashes.
        auto result = tokens.CreateApiToken("racer-" + std::to_string(t), ApiRole::kViewer,
                                            "race-" + std::to_string(i), "", std::nullopt);
        if (result.ok()) {
          ++created;
        } else if (result.error().code == ErrorCode::kAlreadyExists) {
          ++conflicts;
        } else {
          ++other_errors;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(created.load() == 5);
  CHECK(conflicts.load() == 15);
  CHECK(other_errors.load() == 0);
  CHECK(Ok(tokens.CountApiTokens()) == 5);

  // Racing revocations agree on one time.
  const int64_t id = Ok(tokens.ListApiTokens()).front().id;
  std::vector<std::thread> revokers;
  for (int t = 0; t < 4; ++t) {
    revokers.emplace_back([&, t] { CHECK(tokens.RevokeApiToken(id, 100 + t).ok()); });
  }
  for (auto& thread : revokers) thread.join();
  const auto revoked_at = Ok(tokens.GetApiToken(id)).revoked_at_ms;
  REQUIRE(revoked_at.has_value());
  CHECK(*revoked_at >= 100);
  CHECK(*revoked_at <= 103);
}

// The users area is not on PostgreSQL yet: the account is made with SQL here.
TEST_CASE("api tokens (postgresql): a token acts for an existing account only") {
  dozor::testing::PostgresBackend backend;
  auto& tokens = backend.store->ApiTokens();
  auto db = pg::Connection::Open(backend.database.conninfo());
  REQUIRE(db.ok());
  const int64_t anna = Ok(db->Query("INSERT INTO users(login, display_name, role, created_at, "
                                    "updated_at) VALUES ('anna', 'Anna', 'engineer', 0, 0) "
                                    "RETURNING id"))
                           .Int(0, 0);
  const ApiToken token =
      Ok(tokens.CreateApiToken("anna-1", ApiRole::kOperator, "th-a", "dz_a", std::nullopt, anna));
  CHECK(token.user_id == anna);
  CHECK(Ok(tokens.GetApiToken(token.id)).user_id == anna);
  CHECK(Ok(tokens.AuthenticateApiToken("th-a", 1)).user_id == anna);
  CHECK(Ok(tokens.ListApiTokens()).front().user_id == anna);

  // SQLite reports this as "API token already exists" (its constraint errors all read as
  // conflicts); PostgreSQL names what is missing.
  auto orphan = tokens.CreateApiToken("x", ApiRole::kViewer, "th-x", "", std::nullopt, anna + 100);
  REQUIRE_FALSE(orphan.ok());
  CHECK(orphan.error().code == ErrorCode::kNotFound);
  CHECK(orphan.error().message == "no user with id " + std::to_string(anna + 100));
  CHECK(Ok(tokens.CountApiTokens()) == 1);
}

// A role word this binary does not know (a newer binary's, written past the CHECK): listed as
// the least privileged role, never authenticated.
TEST_CASE("api tokens (postgresql): a stored role this server does not know never authenticates") {
  dozor::testing::PostgresBackend backend;
  auto& tokens = backend.store->ApiTokens();
  Ok(tokens.CreateApiToken("future", ApiRole::kAdmin, "th-f", "dz_ff", std::nullopt));
  auto db = pg::Connection::Open(backend.database.conninfo());
  REQUIRE(db.ok());
  CHECK_FALSE(db->Run("UPDATE api_tokens SET role = 'superuser'").ok());  // the CHECK holds
  Ok(db->Exec("ALTER TABLE api_tokens DROP CONSTRAINT api_tokens_role_check"));
  Ok(db->Run("UPDATE api_tokens SET role = 'superuser'"));
  auto denied = tokens.AuthenticateApiToken("th-f", 1000);
  REQUIRE_FALSE(denied.ok());
  CHECK(denied.error().code == ErrorCode::kPermissionDenied);
  CHECK(denied.error().message == "API token has a role this server does not know: 'superuser'");
  const auto listed = Ok(tokens.ListApiTokens());
  REQUIRE(listed.size() == 1);
  CHECK(listed.front().role == ApiRole::kViewer);
}

}  // namespace
}  // namespace dozor::server
