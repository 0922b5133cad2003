// Pure parsers for database server configuration: PostgreSQL's postgresql.conf (settings,
// include directives) and pg_hba.conf (who may connect from where, and how). No I/O here. The
// files are written by administrators, but any text must give an answer, never a crash.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace dozor::agent {

// The settings of one postgresql.conf-style file, keys lower-cased, values unquoted ('…' with
// '' and \' inside), in order; `include`, `include_if_exists` and `include_dir` come back as
// settings too, for the caller to follow. Later entries override earlier ones when applied.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> ParsePostgresConf(
    std::string_view text, size_t max_settings = 2000);

// One rule of pg_hba.conf.
struct HbaEntry {
  int line = 0;
  std::string type;      // local, host, hostssl, hostnossl, hostgssenc, hostnogssenc
  std::string database;  // as written ("all", "buh,zup", "@file")
  std::string user;
  std::string address;  // "" for local; "10.0.0.0/24", "0.0.0.0/0", "all", "samenet", a name;
                        // an address with a separate mask is written as CIDR
  std::string method;   // trust, reject, md5, scram-sha-256, peer, ident, ...
};

// The rules of pg_hba.conf in order; malformed lines are skipped, quoted fields unquoted,
// continuation lines joined. `include*` directives are not followed.
[[nodiscard]] std::vector<HbaEntry> ParsePgHba(std::string_view text, size_t max_rules = 2000);

// One line of `psql -XAt` listing the databases: "name|size".
struct PsqlDatabase {
  std::string name;
  int64_t size_bytes = -1;  // -1 when the size column is missing or not a number
};

// The lines of `psql -XAtq -c "select datname, pg_database_size(oid) from pg_database ..."`:
// "name|size" each, the name up to the last '|' (a name may hold one). Empty and malformed
// lines are skipped; names are kept byte for byte (invalid UTF-8 is escaped by the caller's
// proto sanitiser), at most max_databases.
[[nodiscard]] std::vector<PsqlDatabase> ParsePsqlDatabases(std::string_view text,
                                                           size_t max_databases = 1000);

// Whether a file name carries a database's name as a word: "buh_2026-11-01.dump.gz" and
// "pg-buh.sql" carry "buh", "buhgalteria.sql" and "old_buh2.sql" do not. Case-insensitive for
// ASCII.
[[nodiscard]] bool FileNameCarriesDatabase(std::string_view file_name, std::string_view database);

// "255.255.255.0" -> 24; -1 for a mask that is not contiguous or not an IPv4 mask.
[[nodiscard]] int Ipv4MaskPrefix(std::string_view mask);

}  // namespace dozor::agent
