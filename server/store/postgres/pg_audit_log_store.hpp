// The PostgreSQL backend's audit log (store/audit_log_store.hpp).
#pragma once

#include "store/audit_log_store.hpp"
#include "store/postgres/pg_context.hpp"

namespace dozor::server {

class PgAuditLogStore final : public AuditLogStore {
 public:
  explicit PgAuditLogStore(PgContext& context) : context_(context) {}

  Status AppendAudit(const AuditEntry& entry) override;
  Result<std::vector<AuditEntry>> ListAudit(const AuditFilter& filter) override;
  Result<int64_t> PruneAudit(int64_t before_ms) override;

 private:
  PgContext& context_;
};

}  // namespace dozor::server
