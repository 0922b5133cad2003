// Numbered schema migrations, embedded from server/store/sqlite/migrations/NNN_name.sql at build
// time. Applied in order at start; the applied version is kept in the schema_migrations table.
#pragma once

#include <vector>

#include "store/migration.hpp"

namespace dozor::server {

const std::vector<Migration>& Migrations();

}  // namespace dozor::server
