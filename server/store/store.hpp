// The server's storage, one interface per area, in headers that name no backend:
//   organization_store.hpp  organisations, contracts, contract events, audit snapshots
//   agent_store.hpp         enrollment tokens, enrolling agents, credentials, revocation
//   host_store.hpp          committing reports; hosts, inventory, changes, health, estate summary
//   finding_store.hpp       findings and their lifecycle (decided by domain/finding_lifecycle.hpp)
//   import_store.hpp        one-shot snapshot files imported into an organisation
//   api_token_store.hpp     management-API tokens
//   security_event_store.hpp refusals of anonymous and agent callers (enrollments, secrets)
//   user_store.hpp          people: accounts, engineers' assignments, client notes, sessions
//   audit_log_store.hpp     who changed what, when, from where
//   event_store.hpp         the event feed the dashboard and alerts follow
// Consumers take the area(s) they need; `Store` is what the composition root holds and hands
// out. Backends live beside this folder's headers (store/sqlite/, later store/postgres/); a
// backend's own header declares its Open function.
//
// Thread-safety: every method of every area may be called from any thread. Implementations
// serialise writes and serve reads from their own connection(s), so management reads never wait
// behind an ingest batch for longer than the backend allows.
//
// Time: areas take now_ms where a caller's clock matters (expiry, lifecycle times); where they
// stamp a row themselves (created_at, contract events) a backend reads the dozor::Clock it was
// opened with, never the wall clock directly.
#pragma once

#include "store/agent_store.hpp"
#include "store/alert_store.hpp"
#include "store/api_token_store.hpp"
#include "store/audit_log_store.hpp"
#include "store/event_store.hpp"
#include "store/finding_store.hpp"
#include "store/host_store.hpp"
#include "store/import_store.hpp"
#include "store/organization_store.hpp"
#include "store/security_event_store.hpp"
#include "store/user_store.hpp"

namespace dozor::server {

// The aggregate of all areas.
class Store {
 public:
  virtual ~Store() = default;

  virtual OrganizationStore& Organizations() = 0;
  virtual AgentStore& Agents() = 0;
  virtual HostStore& Hosts() = 0;
  virtual FindingStore& Findings() = 0;
  virtual ImportStore& Imports() = 0;
  virtual ApiTokenStore& ApiTokens() = 0;
  virtual SecurityEventStore& SecurityEvents() = 0;
  virtual UserStore& Users() = 0;
  virtual AuditLogStore& AuditLog() = 0;
  virtual EventStore& Events() = 0;
  virtual AlertStore& Alerts() = 0;
};

}  // namespace dozor::server
