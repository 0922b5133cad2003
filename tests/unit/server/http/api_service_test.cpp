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
  Result<FindingsChange> ApplyEvaluation(const EvaluationInput& input, int64_t now_ms) override {
    return inner_.ApplyEvaluation(input, now_ms);
  }
  Result<int64_t> ExpireWaivers(int64_t now_ms) override { return inner_.ExpireWaivers(now_ms); }
  Result<int64_t> ResolveFindingsOfRemovedRules(const std::vector<std::string>& live,
                                                int64_t now_ms) override {
    return inner_.ResolveFindingsOfRemovedRules(live, now_ms);
  }
  Result<std::vector<Finding>> ListFindings(const FindingFilter& filter) override {
    return inner_.ListFindings(filter);
  }
  Result<Finding> GetFinding(int64_t id) override { return inner_.GetFinding(id); }
  Result<std::vector<FindingEvent>> ListFindingEvents(int64_t finding_id) override {
    return inner_.ListFindingEvents(finding_id);
  }
  Result<Finding> AcknowledgeFinding(int64_t id, std::string_view actor, std::string_view comment,
                                     int64_t now_ms) override {
    return inner_.AcknowledgeFinding(id, actor, comment, now_ms);
  }
  Result<Finding> WaiveFinding(int64_t id, std::string_view actor, std::string_view reason,
                               std::optional<int64_t> until_ms, int64_t now_ms) override {
    return inner_.WaiveFinding(id, actor, reason, until_ms, now_ms);
  }
  Result<Finding> UnwaiveFinding(int64_t id, std::string_view actor, std::string_view comment,
                                 int64_t now_ms) override {
    return inner_.UnwaiveFinding(id, actor, comment, now_ms);
  }
  Result<Finding> CommentFinding(int64_t id, std::string_view actor, std::string_view comment,
                                 int64_t now_ms) override {
    return inner_.CommentFinding(id, actor, comment, now_ms);
  }
  Result<std::vector<ContractEvent>> ListContractEvents(int64_t org_id) override {
    return inner_.ListContractEvents(org_id);
  }
  Result<AuditSnapshot> RecordAuditSnapshot(int64_t org_id, std::string_view kind,
                                            std::string_view actor, int64_t now_ms) override {
    return inner_.RecordAuditSnapshot(org_id, kind, actor, now_ms);
  }
  Result<std::optional<AuditSnapshot>> GetAuditSnapshot(int64_t org_id,
                                                        std::string_view kind) override {
    return inner_.GetAuditSnapshot(org_id, kind);
  }
  Result<EstateSummary> GetEstateSummary(int64_t org_id,
                                         const std::vector<std::string>& names) override {
    return inner_.GetEstateSummary(org_id, names);
  }
  Result<std::vector<std::pair<int64_t, int64_t>>> ListLiveHostKeys() override {
    return inner_.ListLiveHostKeys();
  }
  Result<int64_t> HostPk(std::string_view agent_id) override { return inner_.HostPk(agent_id); }
  void SetCommitObserver(CommitObserver observer) override {
    inner_.SetCommitObserver(std::move(observer));
  }

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
