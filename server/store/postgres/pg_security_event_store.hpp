// The PostgreSQL backend's security events area (store/security_event_store.hpp). The caller
// (ingest/security_audit.hpp) aggregates repeated refusals into one row with a count; the store
// keeps the rows as given.
#pragma once

#include "store/postgres/pg_context.hpp"
#include "store/security_event_store.hpp"

namespace dozor::server {

class PgSecurityEventStore final : public SecurityEventStore {
 public:
  explicit PgSecurityEventStore(PgContext& context) : context_(context) {}

  Status RecordSecurityEvents(const std::vector<SecurityEvent>& events) override;
  Result<std::vector<SecurityEvent>> ListSecurityEvents(const SecurityEventFilter& filter) override;
  Result<int64_t> PruneSecurityEvents(int64_t before_ms) override;

 private:
  PgContext& context_;
};

}  // namespace dozor::server
