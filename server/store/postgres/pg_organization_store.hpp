// The PostgreSQL backend's organisations area (store/organization_store.hpp): organisations,
// contract moves with their events and audit snapshots.
#pragma once

#include "store/organization_store.hpp"
#include "store/postgres/pg_context.hpp"

namespace dozor::server {

class PgOrganizationStore final : public OrganizationStore {
 public:
  explicit PgOrganizationStore(PgContext& context) : context_(context) {}

  Result<Organization> CreateOrganization(const Organization& org) override;
  Result<std::vector<Organization>> ListOrganizations() override;
  Result<Page<Organization>> QueryOrganizations(const OrgQuery& query) override;
  Result<Organization> FindOrganization(std::string_view key) override;
  Result<Organization> UpdateOrganization(int64_t id, const OrganizationPatch& patch) override;
  Result<std::vector<ContractEvent>> ListContractEvents(int64_t org_id) override;
  Result<AuditSnapshot> RecordAuditSnapshot(int64_t org_id, AuditSnapshotKind kind,
                                            std::string_view actor, int64_t now_ms) override;
  Result<std::optional<AuditSnapshot>> GetAuditSnapshot(int64_t org_id,
                                                        AuditSnapshotKind kind) override;

 private:
  Result<AuditSnapshot> ReadSnapshot(pg::Connection& db, int64_t org_id, AuditSnapshotKind kind,
                                     int64_t id, int64_t at_ms, std::string actor);

  PgContext& context_;
};

}  // namespace dozor::server
