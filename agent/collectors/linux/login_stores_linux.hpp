// The SQLite login stores of newer distributions, read for the os collector's last logins:
// util-linux's lastlog2 (/var/lib/lastlog/lastlog2.db, pam_lastlog2) and wtmpdb
// (/var/lib/wtmpdb/wtmp.db, pam_wtmpdb). The SQL lives here; the rows' values are judged by the
// pure NewestStoreLogins (parsers/account_parsers.hpp).
//
// Both files are opened read-only without the create flag (SQLITE_OPEN_READONLY, as the tools' own
// readers do), so a missing file is never created and nothing is written; neither tool switches
// its database to WAL, so a reader leaves no -wal or -shm file behind. Not `immutable=1`: PAM
// writes these files at every login, and an immutable reader would skip the locks that keep it
// from reading a half-written page. A writer holds its lock for milliseconds: a short busy timeout
// covers it. The work is bounded: at most kMaxLoginStoreRows rows, one per account (wtmpdb's
// sessions grouped by user in SQL), and a query that runs too long (a wtmp.db of millions of rows
// on a slow disk) is interrupted and reported, never waited for.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "collectors/parsers/account_parsers.hpp"
#include "dozor/common/result.hpp"

namespace dozor::agent {

inline constexpr size_t kMaxLoginStoreRows = 16384;

// The newest plausible login per account name in a lastlog2 database; an empty map when the file
// holds no Lastlog2 table yet (created, never written). An error when the file cannot be opened,
// is not a SQLite database or is damaged, is locked past the busy timeout, or the query ran too
// long.
[[nodiscard]] Result<std::map<std::string, LastLogin>> ReadLastlog2(
    const std::filesystem::path& database, int64_t now_seconds);

// The same from a wtmpdb database: the newest USER_PROCESS session per user.
[[nodiscard]] Result<std::map<std::string, LastLogin>> ReadWtmpdb(
    const std::filesystem::path& database, int64_t now_seconds);

}  // namespace dozor::agent
