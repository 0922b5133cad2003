// The enrollment and agents area (store/agent_store.hpp) on every backend.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "backends.hpp"

namespace dozor::server {
namespace {

using dozor::testing::kBackendClockStartMs;
using dozor::testing::MakeOrg;
using dozor::testing::Ok;

NewAgent AgentNamed(const std::string& id) {
  NewAgent agent;
  agent.agent_id = id;
  agent.secret_hash = "secret-of-" + id;
  agent.hostname = "host-" + id;
  agent.machine_id = "machine-" + id;
  agent.agent_version = "1.2.3";
  agent.os = "linux";
  return agent;
}

TEST_CASE_TEMPLATE("agents: enrollment tokens are created, listed, read and revoked", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& agents = backend.store->Agents();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  const int64_t beta = MakeOrg(*backend.store, "Beta");

  NewEnrollmentToken token;
  token.org_id = acme;
  token.token_hash = "hash-1";
  token.hint = "dz1";
  token.label = "офис";
  token.expires_at_ms = kBackendClockStartMs + 86'400'000;
  token.max_uses = 3;
  const EnrollmentToken created = Ok(agents.CreateEnrollmentToken(token));
  CHECK(created.org_id == acme);
  CHECK(created.org_name == "Acme");
  CHECK(created.label == "офис");
  CHECK(created.hint == "dz1");
  CHECK(created.created_at_ms == kBackendClockStartMs);
  CHECK(created.expires_at_ms == token.expires_at_ms);
  CHECK(created.max_uses == std::optional<int64_t>(3));
  CHECK(created.uses == 0);
  CHECK_FALSE(created.revoked_at_ms.has_value());
  CHECK_FALSE(created.signs_imports);

  NewEnrollmentToken other = token;
  other.org_id = beta;
  other.token_hash = "hash-2";
  other.max_uses.reset();
  const EnrollmentToken second = Ok(agents.CreateEnrollmentToken(other));
  CHECK_FALSE(second.max_uses.has_value());

  CHECK(Ok(agents.ListEnrollmentTokens(std::nullopt)).size() == 2);
  const auto of_beta = Ok(agents.ListEnrollmentTokens(beta));
  REQUIRE(of_beta.size() == 1);
  CHECK(of_beta[0].id == second.id);
  CHECK(Ok(agents.GetEnrollmentToken(created.id)).label == "офис");
  CHECK(agents.GetEnrollmentToken(second.id + 100).error().code == ErrorCode::kNotFound);

  SUBCASE("refused tokens") {
    auto duplicate = agents.CreateEnrollmentToken(token);
    CHECK(duplicate.error().code == ErrorCode::kAlreadyExists);
    NewEnrollmentToken orphan = token;
    orphan.token_hash = "hash-3";
    orphan.org_id = beta + 100;
    CHECK(agents.CreateEnrollmentToken(orphan).error().code == ErrorCode::kNotFound);
    NewEnrollmentToken zero_uses = token;
    zero_uses.token_hash = "hash-4";
    zero_uses.max_uses = 0;
    CHECK(agents.CreateEnrollmentToken(zero_uses).error().code == ErrorCode::kInvalidArgument);
    NewEnrollmentToken no_hash = token;
    no_hash.token_hash.clear();
    CHECK(agents.CreateEnrollmentToken(no_hash).error().code == ErrorCode::kInvalidArgument);
  }

  SUBCASE("revocation keeps the first time and refuses unknown tokens") {
    Ok(agents.RevokeEnrollmentToken(created.id, 5000));
    Ok(agents.RevokeEnrollmentToken(created.id, 9000));
    CHECK(Ok(agents.GetEnrollmentToken(created.id)).revoked_at_ms == std::optional<int64_t>(5000));
    CHECK(agents.RevokeEnrollmentToken(second.id + 100, 5000).error().code == ErrorCode::kNotFound);
  }
}

TEST_CASE_TEMPLATE("agents: enrolling checks the token, counts its uses and stores credentials",
                   Backend, DOZOR_BACKENDS) {
  Backend backend;
  auto& agents = backend.store->Agents();
  const int64_t acme = MakeOrg(*backend.store, "Acme");
  NewEnrollmentToken token;
  token.org_id = acme;
  token.token_hash = "limited";
  token.max_uses = 2;
  token.expires_at_ms = 10'000;
  const int64_t token_id = Ok(agents.CreateEnrollmentToken(token)).id;

  const EnrolledAgent enrolled = Ok(agents.EnrollAgent("limited", AgentNamed("a1"), 1000));
  CHECK(enrolled.agent_id == "a1");
  CHECK(enrolled.org_id == acme);
  CHECK(enrolled.org_name == "Acme");
  CHECK(Ok(backend.store->Organizations().FindOrganization("Acme")).host_count == 1);

  const AgentCredential credential = Ok(agents.GetAgentCredential("a1"));
  CHECK(credential.org_id == acme);
  CHECK(credential.secret_hash == "secret-of-a1");
  CHECK_FALSE(credential.revoked);
  CHECK(credential.last_committed_seq == 0);
  CHECK(agents.GetAgentCredential("nobody").error().code == ErrorCode::kNotFound);

  // A second agent with the same id is refused and does not use the token up.
  auto again = agents.EnrollAgent("limited", AgentNamed("a1"), 1000);
  CHECK(again.error().code == ErrorCode::kAlreadyExists);
  CHECK(Ok(agents.GetEnrollmentToken(token_id)).uses == 1);

  Ok(agents.EnrollAgent("limited", AgentNamed("a2"), 1000));
  auto used_up = agents.EnrollAgent("limited", AgentNamed("a3"), 1000);
  CHECK(used_up.error().code == ErrorCode::kPermissionDenied);
  CHECK(used_up.error().message.find("used 2 times") != std::string::npos);

  CHECK(agents.EnrollAgent("unknown", AgentNamed("a4"), 1000).error().code ==
        ErrorCode::kPermissionDenied);
  NewEnrollmentToken expiring = token;
  expiring.token_hash = "expiring";
  expiring.max_uses.reset();
  Ok(agents.CreateEnrollmentToken(expiring));
  auto expired = agents.EnrollAgent("expiring", AgentNamed("a5"), 10'000);
  CHECK(expired.error().code == ErrorCode::kPermissionDenied);
  CHECK(expired.error().message.find("expired") != std::string::npos);
  NewEnrollmentToken revoked = expiring;
  revoked.token_hash = "revoked";
  revoked.expires_at_ms.reset();
  const int64_t revoked_id = Ok(agents.CreateEnrollmentToken(revoked)).id;
  Ok(agents.RevokeEnrollmentToken(revoked_id, 500));
  CHECK(agents.EnrollAgent("revoked", AgentNamed("a6"), 1000).error().message.find("revoked") !=
        std::string::npos);
  NewAgent nameless;
  CHECK(agents.EnrollAgent("expiring", nameless, 1000).error().code == ErrorCode::kInvalidArgument);

  Ok(agents.RevokeAgent("a1", 2000));
  Ok(agents.RevokeAgent("a1", 3000));
  CHECK(Ok(agents.GetAgentCredential("a1")).revoked);
  CHECK(agents.RevokeAgent("nobody", 2000).error().code == ErrorCode::kNotFound);
  CHECK(Ok(backend.store->Organizations().FindOrganization("Acme")).host_count == 1);
}

TEST_CASE_TEMPLATE("agents: a token's use limit holds under concurrent enrollments", Backend,
                   DOZOR_BACKENDS) {
  Backend backend;
  auto& agents = backend.store->Agents();
  NewEnrollmentToken token;
  token.org_id = MakeOrg(*backend.store, "Acme");
  token.token_hash = "shared";
  token.max_uses = 5;
  const int64_t token_id = Ok(agents.CreateEnrollmentToken(token)).id;

  std::atomic<int> enrolled{0};
  std::atomic<int> refused{0};
  std::atomic<int> other_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4; ++i) {
        auto result = agents.EnrollAgent("shared", AgentNamed(std::to_string(t * 10 + i)), 1000);
        if (result.ok()) {
          ++enrolled;
        } else if (result.error().code == ErrorCode::kPermissionDenied) {
          ++refused;
        } else {
          ++other_errors;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(enrolled.load() == 5);
  CHECK(refused.load() == 11);
  CHECK(other_errors.load() == 0);
  CHECK(Ok(agents.GetEnrollmentToken(token_id)).uses == 5);
}

}  // namespace
}  // namespace dozor::server
