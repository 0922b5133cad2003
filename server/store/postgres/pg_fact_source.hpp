// The PostgreSQL fact source: rule sessions on the store's PostgreSQL database.
//
// Each session opens its own connection (not the store's pool: a session holds it for the
// engine's life), creates the fact views (fact_views.sql, compiled in) as TEMP views over the
// store's tables, then sets search_path = pg_temp, dozor_rules, pg_catalog (the function library
// of migration 010 before pg_catalog, so its round() gives doubles as SQLite's does; the store's
// own schema is not on it) and default_transaction_read_only. Rule SQL names its parameters
// :name (the rule dialect); they are sent as $n, typed as the bound values are.
//
// The guard (PrepareRule): the text is one SELECT (WITH/VALUES), without row locks, that
// PostgreSQL prepares as one statement; then the statement is created once more as a TEMP view
// inside a transaction that is rolled back, and the query tree PostgreSQL stored for that view
// (pg_rewrite.ev_action) lists every object the parsed statement refers to by OID, resolved by
// PostgreSQL itself (quoting, schema qualification, search_path and casts already applied):
// every relation must be one of the session's fact views, every function one of
// RuleDialectFunctions() in pg_catalog or dozor_rules (or a cast function of pg_catalog), every
// operator one of pg_catalog's; no reg* type (name lookups in the catalogs), no CURRENT_USER and
// the like. A view cannot hold a data-modifying WITH or SELECT INTO, so those are refused too.
// statement_timeout is the per-statement deadline.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/fact_source.hpp"

namespace dozor::server {

// `conninfo`: libpq connection string of the store's database (migrated to 010 or later).
std::unique_ptr<FactSource> MakePostgresFactSource(std::string conninfo);

// The fact view definitions compiled into the binary: (file name, SQL text).
const std::vector<std::pair<std::string_view, std::string_view>>& PostgresFactViewFiles();

}  // namespace dozor::server
