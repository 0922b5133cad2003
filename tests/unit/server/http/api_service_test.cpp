// ApiService without a socket: the exception boundary and authentication order.
#include "http/api_service.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "test_util.hpp"

namespace dozor::server::http {
namespace {

// The organisations area of a real store, except that listing organisations throws like a buggy
// dependency.
class ThrowingOrganizations final : public OrganizationStore {
 public:
  explicit ThrowingOrganizations(OrganizationStore& inner) : inner_(inner) {}
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
  Result<std::vector<ContractEvent>> ListContractEvents(int64_t org_id) override {
    return inner_.ListContractEvents(org_id);
  }
  Result<AuditSnapshot> RecordAuditSnapshot(int64_t org_id, AuditSnapshotKind kind,
                                            std::string_view actor, int64_t now_ms) override {
    return inner_.RecordAuditSnapshot(org_id, kind, actor, now_ms);
  }
  Result<std::optional<AuditSnapshot>> GetAuditSnapshot(int64_t org_id,
                                                        AuditSnapshotKind kind) override {
    return inner_.GetAuditSnapshot(org_id, kind);
  }

 private:
  OrganizationStore& inner_;
};

// A real store whose organisations area is the throwing one.
class ThrowingStore final : public Store {
 public:
  explicit ThrowingStore(Store& inner) : inner_(inner), organizations_(inner.Organizations()) {}
  OrganizationStore& Organizations() override { return organizations_; }
  AgentStore& Agents() override { return inner_.Agents(); }
  HostStore& Hosts() override { return inner_.Hosts(); }
  FindingStore& Findings() override { return inner_.Findings(); }
  ImportStore& Imports() override { return inner_.Imports(); }
  ApiTokenStore& ApiTokens() override { return inner_.ApiTokens(); }
  SecurityEventStore& SecurityEvents() override { return inner_.SecurityEvents(); }

 private:
  Store& inner_;
  ThrowingOrganizations organizations_;
};

TEST_CASE("a throwing handler becomes a 500 JSON error and the service keeps working") {
  dozor::testing::TempDir dir;
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  auto real = OpenSqliteStore(options);
  REQUIRE(real.ok());
  REQUIRE((*real)
              ->CreateApiToken("t", ApiRole::kViewer, Sha256Hex("dza_t"), "dza_t", std::nullopt)
              .ok());
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
