// `dozor-server store migrate`: moves an installation from its SQLite database to PostgreSQL
// (store/migrate/sqlite_to_postgres.hpp does the copy and the verification).
// `dozor-server store rotate-import-key`: a new import wrapping key (app/import_key_file.hpp).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "app/server_config.hpp"

namespace dozor::server {

// `from`: "sqlite:PATH" or a plain path; `to`: a libpq URI or key=value string. Prints one line
// per table (rows, checksum, verified) to `out`, errors to `err`. Exit code: 0 copied and
// verified, 1 refused or not verified (nothing committed), 2 could not run.
int RunStoreMigrate(const std::string& from, const std::string& to, int64_t batch_rows,
                    std::ostream& out, std::ostream& err);

// Rotates <state_dir>/import-wrap.key for the store `config` names (SQLite or PostgreSQL), the
// server being stopped. Prints what it did to `out`, errors to `err`. Exit code: 0 rotated,
// 1 refused (a server is running, no key yet, a concurrent change), 2 could not run.
int RunRotateImportKey(const ServerConfig& config, std::ostream& out, std::ostream& err);

}  // namespace dozor::server
