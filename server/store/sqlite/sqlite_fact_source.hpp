// The SQLite fact source: rule sessions on the store's SQLite file.
//
// Each session opens the file read-only on its own connection and creates the fact views
// (fact_views.sql, compiled in) as TEMP views over the store's tables, so nothing is written to
// the file. Rule SQL runs under an authorizer that allows only SELECT, reads of the fact views
// (the store's tables only through them) and whitelisted functions; a progress handler enforces
// the per-statement deadline. LIKE is made case-sensitive, and the Dozor function library
// (docs/rule-language.md: greatest, least, strpos, text_list, date_to_ms, ms_to_date,
// version_compare) is registered, so rules behave as they do on PostgreSQL.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/fact_source.hpp"

namespace dozor::server {

// `db_path`: the store's SQLite file (it must exist; it is never written).
std::unique_ptr<FactSource> MakeSqliteFactSource(std::string db_path);

// The fact view definitions compiled into the binary: (file name, SQL text).
const std::vector<std::pair<std::string_view, std::string_view>>& SqliteFactViewFiles();

}  // namespace dozor::server
