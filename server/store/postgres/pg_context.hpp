// What every PostgreSQL store area holds: the connection pool and the clock. Owned by
// PostgresStore (postgres_store.hpp), which outlives its areas.
#pragma once

#include "dozor/common/clock.hpp"
#include "store/postgres/pg_client.hpp"

namespace dozor::server {

struct PgContext {
  pg::Pool& pool;
  const Clock& clock;
};

}  // namespace dozor::server
