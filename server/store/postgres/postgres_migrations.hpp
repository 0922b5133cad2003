// The PostgreSQL schema, embedded from server/store/postgres/migrations/NNN_name.sql at build time
// (deploy/cmake/EmbedMigrations.cmake). Numbered on their own: PostgreSQL's 001 is SQLite's
// state at its migration 025.
#pragma once

#include <vector>

#include "store/migration.hpp"

namespace dozor::server {

const std::vector<Migration>& PostgresMigrations();

}  // namespace dozor::server
