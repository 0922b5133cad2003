// PostgreSQL instances of a Linux host (database_linux.cpp), a part of the software collector:
// reads the process list and packages already in `out`, so it runs after them.
#pragma once

#include "collectors/collector.hpp"

namespace dozor::agent {

// Appends the configured PostgreSQL instances to out->database_servers. Best effort: an
// unreadable file leaves its facts empty (hba_path "" when pg_hba.conf could not be read).
Status CollectDatabaseServers(const CollectContext& ctx, dozor::v1::Software* out);

}  // namespace dozor::agent
