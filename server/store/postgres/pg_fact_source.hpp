// The PostgreSQL fact source: rule sessions on the store's PostgreSQL database.
//
// Each session opens its own connection (not the store's pool: a session holds it for the
// engine's life), creates the fact views (fact_views.sql, compiled in) as TEMP views over the
// store's tables, then sets search_path = pg_temp, dozor_rules (the function library of
// migration 010; pg_catalog is implicitly first) and default_transaction_read_only. Rule SQL
// names its parameters :name (the rule dialect); they are sent as $n.
//
// The guard (PrepareRule): the text is one SELECT (WITH/VALUES), without row locks, that
// PostgreSQL prepares as one statement; then the statement is created once more as a TEMP view
// inside a transaction that is rolled back, and pg_depend of that view lists every object the
// parsed statement refers to, resolved by PostgreSQL itself (quoting, schema qualification,
// search_path and casts are already applied): every relation must be one of the session's fact
// views, every function one of RuleDialectFunctions() in pg_catalog or dozor_rules (or a cast
// function of pg_catalog), every operator one of pg_catalog's, and no reg* type (name lookups in
// the catalogs). statement_timeout is the per-statement deadline.
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
