// ApiService without a socket: the exception boundary and authentication order.
#include "http/api_service.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

#include "dozor/common/clock.hpp"
#include "dozor/common/crypto.hpp"
#include "http/request_head.hpp"
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
  Result<Page<Organization>> QueryOrganizations(const OrgQuery& /*query*/) override {
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
  UserStore& Users() override { return inner_.Users(); }
  AuditLogStore& AuditLog() override { return inner_.AuditLog(); }
  EventStore& Events() override { return inner_.Events(); }
  AlertStore& Alerts() override { return inner_.Alerts(); }

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

ApiRequest GetOrgs(const std::string& authorization, const std::string& client_address) {
  ApiRequest request;
  request.method = "GET";
  request.path = "/api/v1/orgs";
  request.authorization = authorization;
  request.client_address = client_address;
  return request;
}

TEST_CASE("failed authentications are counted per client address, only for presented tokens") {
  dozor::testing::TempDir dir;
  SqliteStoreOptions options;
  options.path = (dir / "dozor.db").string();
  auto store = OpenSqliteStore(options);
  REQUIRE(store.ok());
  REQUIRE((*store)
              ->CreateApiToken("t", ApiRole::kViewer, Sha256Hex("dza_t"), "dza_t", std::nullopt)
              .ok());
  FakeClock clock;
  ApiService api(ApiContext{
      **store, nullptr, clock, "", 180, nullptr, nullptr, InstallSettings{},
      FailureThrottleOptions{.max_failures = 3, .window_ms = 60'000, .block_ms = 30'000}});

  // No Authorization header at all is not a guess: never blocked.
  for (int i = 0; i < 10; ++i) {
    auto request = GetOrgs("", "192.0.2.1");
    CHECK(api.Handle(request).status == 401);
  }
  // Three wrong tokens block the address; the fourth request is not even checked.
  for (int i = 0; i < 3; ++i) {
    auto request = GetOrgs("Bearer dza_wrong", "192.0.2.2");
    CHECK(api.Handle(request).status == 401);
  }
  auto good = GetOrgs("Bearer dza_t", "192.0.2.2");
  const ApiResponse blocked = api.Handle(good);
  CHECK(blocked.status == 429);
  CHECK(blocked.body["error"]["code"] == "too_many_requests");
  CHECK(blocked.retry_after_seconds == 30);
  // Other addresses, and calls without an address (tests, fuzzers), are not affected.
  auto elsewhere = GetOrgs("Bearer dza_t", "192.0.2.3");
  CHECK(api.Handle(elsewhere).status == 200);
  for (int i = 0; i < 10; ++i) {
    auto request = GetOrgs("Bearer dza_wrong", "");
    CHECK(api.Handle(request).status == 401);
  }
  // Public routes answer a blocked address.
  ApiRequest health;
  health.method = "GET";
  health.path = "/api/v1/health";
  health.client_address = "192.0.2.2";
  CHECK(api.Handle(health).status == 200);
  clock.AdvanceMs(29'000);
  good = GetOrgs("Bearer dza_t", "192.0.2.2");
  CHECK(api.Handle(good).retry_after_seconds == 1);
  clock.AdvanceMs(1'000);
  good = GetOrgs("Bearer dza_t", "192.0.2.2");
  CHECK(api.Handle(good).status == 200);
}

TEST_CASE("client address keys: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64") {
  namespace ip = boost::asio::ip;
  CHECK(ClientAddressKey(ip::make_address("192.0.2.7")) == "192.0.2.7");
  CHECK(ClientAddressKey(ip::make_address("::ffff:192.0.2.7")) == "192.0.2.7");
  CHECK(ClientAddressKey(ip::make_address("2001:db8:1:2:aaaa:bbbb:cccc:dddd")) ==
        "2001:db8:1:2::/64");
  CHECK(ClientAddressKey(ip::make_address("2001:db8:1:2::1")) ==
        ClientAddressKey(ip::make_address("2001:db8:1:2:ffff::9")));
  CHECK(ClientAddressKey(ip::make_address("::1")) == "::/64");
}

}  // namespace
}  // namespace dozor::server::http
