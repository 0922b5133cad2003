// Numbered schema migrations, embedded from server/store/migrations/NNN_name.sql at build time.
// Applied in order at start; the applied version is kept in the schema_migrations table.
#pragma once

#include <vector>

namespace dozor::server {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

const std::vector<Migration>& Migrations();

}  // namespace dozor::server
