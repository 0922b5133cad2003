// The hosts area on PostgreSQL: a host's normalised inventory rows (migration 006, the host_*
// tables the rule engine's fact views read), written as SQLite's ReplaceHostRows writes them.
//
// A replace costs three round trips however large the inventory: one to lock the host's agents
// row, one statement that deletes every host_* row of the host (and reads the previous host_os
// row on the way), and one statement that inserts every table's rows, each table's columns bound
// as PostgreSQL arrays and unnested. Values are always bound, never spliced into the SQL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dozor/common/result.hpp"
#include "dozor/v1/agent.pb.h"
#include "store/postgres/pg_client.hpp"

namespace dozor::server {

// Within the caller's transaction: locks the host's agents row (so two replicas replacing one
// host's rows take turns instead of colliding on the primary keys), deletes the host's rows in
// every host_* table of migration 006 except host_collectors, and writes the rows `inv` makes,
// the same rows with the same values SQLite's ReplaceHostRows writes. `at_ms` is the
// inventory's collection time: it starts the host's run of pending security updates
// (host_os.security_pending_since) when the previous inventory had none.
//
// Text that PostgreSQL cannot hold is stored in a visible form instead of failing the commit
// (SQLite stores such bytes as they came): a text holding NUL or bytes that are not UTF-8 is
// stored as EscapeInvalidUtf8 writes it ("\x00", "\xNN", and "\\" for its backslashes).
// Agents send valid UTF-8 without NULs, so this is for hostile or broken input only.
//
// kNotFound when no agents row (org_id, agent_pk) exists; database errors as pg::Connection.
[[nodiscard]] Status ReplacePgHostRows(pg::Connection& db, int64_t org_id, int64_t agent_pk,
                                       const dozor::v1::Inventory& inv, int64_t at_ms);

// Deletes the host's rows from every table ReplacePgHostRows writes (for removing a host), in
// one statement, within the caller's transaction. Does not lock and does not check the agent.
[[nodiscard]] Status DeletePgHostRows(pg::Connection& db, int64_t org_id, int64_t agent_pk);

}  // namespace dozor::server
