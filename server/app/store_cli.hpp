// `dozor-server store migrate`: moves an installation from its SQLite database to PostgreSQL
// (store/migrate/sqlite_to_postgres.hpp does the copy and the verification).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace dozor::server {

// `from`: "sqlite:PATH" or a plain path; `to`: a libpq URI or key=value string. Prints one line
// per table (rows, checksum, verified) to `out`, errors to `err`. Exit code: 0 copied and
// verified, 1 refused or not verified (nothing committed), 2 could not run.
int RunStoreMigrate(const std::string& from, const std::string& to, int64_t batch_rows,
                    std::ostream& out, std::ostream& err);

}  // namespace dozor::server
