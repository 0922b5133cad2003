// ApiService without a socket: the exception boundary and authentication order.
#include "http/api_service.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "store/store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

// Forwards to a real store, except that listing organisations throws like a buggy dependency.
class ThrowingStore final : public Store {
 public:
  explicit ThrowingStore(Store& inner) : inner_(inner) {}
  Result<Organization> CreateOrganization(const Organization& org) override {
    return inner_.CreateOrganization(org);
  }
  Result<std::vector<Organization>> ListOrganizations() override {
    throw std::runtime_error("boom");
  }
  Result<Organization> FindOrganization(std::string_view key) override {
    return inner_.FindOrganization(key);
  }
  Result<Organization> UpdateOrganization(int64_t id, const OrganizationPatch& patch) override {
    return inner_.UpdateOrganization(id, patch);
  }
  Result<EnrollmentToken> CreateEnrollmentToken(const NewEnrollmentToken& token) override {
    return inner_.CreateEnrollmentToken(token);
  }
  Result<std::vector<EnrollmentToken>> ListEnrollmentTokens(
      std::optional<int64_t> org_id) override {
    return inner_.ListEnrollmentTokens(org_id);
  }
  Status RevokeEnrollmentToken(int64_t token_id, int64_t now_ms) override {
    return inner_.RevokeEnrollmentToken(token_id, now_ms);
  }
  Result<EnrolledAgent> EnrollAgent(std::string_view token_hash, const NewAgent& agent,
                                    int64_t now_ms) override {
    return inner_.EnrollAgent(token_hash, agent, now_ms);
  }
  Result<AgentCredential> GetAgentCredential(std::string_view agent_id) override {
    return inner_.GetAgentCredential(agent_id);
  }
  Status RevokeAgent(std::string_view agent_id, int64_t now_ms) override {
    return inner_.RevokeAgent(agent_id, now_ms);
  }
  Result<std::vector<CommitResult>> CommitReports(std::vector<IncomingReport>& batch) override {
    return inner_.CommitReports(batch);
  }
  Result<std::vector<HostSummary>> ListHosts(std::optional<int64_t> org_id) override {
    return inner_.ListHosts(org_id);
  }
  Result<HostSummary> GetHost(std::string_view agent_id) override {
    return inner_.GetHost(agent_id);
  }
  Result<HostInventory> GetInventory(std::string_view agent_id) override {
    return inner_.GetInventory(agent_id);
  }
  Result<std::vector<InventoryChange>> ListChanges(std::string_view agent_id, int64_t since_ms,
                                                   int limit) override {
    return inner_.ListChanges(agent_id, since_ms, limit);
  }
  Result<std::vector<HealthRecord>> ListHealth(std::string_view agent_id, int64_t since_ms,
                                               int limit) override {
    return inner_.ListHealth(agent_id, since_ms, limit);
  }
  Result<ApiToken> CreateApiToken(std::string_view name, std::string_view role,
                                  std::string_view token_hash, std::string_view hint,
                                  std::optional<int64_t> expires_at_ms) override {
    return inner_.CreateApiToken(name, role, token_hash, hint, expires_at_ms);
  }
  Result<ApiToken> AuthenticateApiToken(std::string_view token_hash, int64_t now_ms) override {
    return inner_.AuthenticateApiToken(token_hash, now_ms);
  }
  Result<std::vector<ApiToken>> ListApiTokens() override { return inner_.ListApiTokens(); }
  Status RevokeApiToken(int64_t id, int64_t now_ms) override {
    return inner_.RevokeApiToken(id, now_ms);
  }
  Result<int64_t> CountApiTokens() override { return inner_.CountApiTokens(); }
  Result<int64_t> PruneHealth(int64_t cutoff_ms) override { return inner_.PruneHealth(cutoff_ms); }

 private:
  Store& inner_;
};

TEST_CASE("a throwing handler becomes a 500 JSON error and the service keeps working") {
  dozor::testing::TempDir dir;
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  auto real = OpenSqliteStore(options);
  REQUIRE(real.ok());
  REQUIRE((*real)->CreateApiToken("t", "viewer", Sha256Hex("dza_t"), "dza_t", std::nullopt).ok());
  ThrowingStore store(**real);
  FakeClock clock;
  ApiService api(ApiContext{store, nullptr, clock, "", 180});

  ApiRequest request;
  request.method = "GET";
  request.path = "/api/v1/orgs";
  request.authorization = "Bearer dza_t";
  ApiResponse response;
  CHECK_NOTHROW(response = api.Handle(request));
  CHECK(response.status == 500);
  CHECK(response.body["error"]["code"] == "internal");
  CHECK(response.body["error"]["message"] == "internal error");  // no internals leak

  ApiRequest tokens;
  tokens.method = "GET";
  tokens.path = "/api/v1/tokens";
  tokens.authorization = "Bearer dza_t";
  CHECK(api.Handle(tokens).status == 200);

  tokens.authorization = "Basic dza_t";
  CHECK(api.Handle(tokens).status == 401);
  tokens.authorization = "Bearer " + std::string(10000, 'x');
  CHECK(api.Handle(tokens).status == 401);
}

}  // namespace
}  // namespace dozor::server::http
