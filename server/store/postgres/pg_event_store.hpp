// The PostgreSQL backend's event feed (store/event_store.hpp).
//
// Followers read "id > cursor", so ids must become visible in increasing order. Migration 004
// makes the id's default take a transaction-level advisory lock (kEventFeedLockKey) before
// drawing from the sequence: the transaction holding the newest id commits or rolls back before
// another can draw a larger one. That covers every writer of events, including finding and
// contract changes that insert their event in their own transaction, without their cooperation;
// they should insert it late in the transaction, since other event writers wait from there to
// its end.
#pragma once

#include <cstdint>

#include "store/event_store.hpp"
#include "store/postgres/pg_context.hpp"
#include "store/postgres/pg_locks.hpp"

namespace dozor::server {

// "dz" (0x647a), migration 004, lock 1; taken by dozor_next_event_id() (004_event_feed_order.sql).
inline constexpr int64_t kEventFeedLockKey = pg_locks::kEventFeed;

class PgEventStore final : public EventStore {
 public:
  explicit PgEventStore(PgContext& context) : context_(context) {}

  Status AppendEvent(const FeedEvent& event) override;
  Result<std::vector<FeedEvent>> ListEvents(const FeedFilter& filter) override;
  Result<int64_t> LatestEventId() override;
  Result<std::vector<std::pair<std::string, std::string>>> LastPresence() override;
  Result<int64_t> PruneEvents(int64_t before_ms) override;

 private:
  PgContext& context_;
};

}  // namespace dozor::server
