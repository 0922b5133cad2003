// A numbered schema migration, as each backend embeds them from its migrations/NNN_name.sql
// (deploy/cmake/EmbedMigrations.cmake). Applied in order at start; the applied versions are kept
// in the backend's schema_migrations table.
#pragma once

namespace dozor::server {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

}  // namespace dozor::server
