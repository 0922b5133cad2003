#include "rules/dialect.hpp"

#include <doctest/doctest.h>

#include <string>

namespace dozor::server::rules {
namespace {

// The message of the first violation, or "" when `sql` is portable.
std::string Refusal(const std::string& sql) {
  auto violation = CheckRuleDialect(sql);
  return violation ? violation->message : "";
}

TEST_CASE("dialect accepts portable rule SQL") {
  CHECK(Refusal(R"(
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5),
eol(os_id, eol_date) AS MATERIALIZED (VALUES ('debian', '2028-06-30'))
SELECT h.host_id, round(avg(x.used_pct), 1) AS used, text_list(DISTINCT h.hostname) AS names,
       greatest(d.pending_sectors, 0) AS pending, strpos(h.hostname, '-') AS dash,
       CAST(x.used_pct AS BIGINT) AS whole, CAST(h.host_id AS TEXT) AS id_text,
       count(*) FILTER (WHERE x.used_pct > :limit) AS over_limit,
       row_number() OVER (PARTITION BY h.org_id ORDER BY h.host_id) AS rank_in_org
FROM hosts h JOIN health_fs x ON x.host_id = h.host_id -- a comment with "quotes" and max(a, b)
LEFT JOIN disks d USING (host_id)
WHERE h.hostname LIKE 'web%' AND x.mount NOT IN ('/boot') AND d.model IS NOT NULL
  AND date_to_ms('2020-01-01') < :now_ms AND ms_to_date(:now_ms) > '2020'
  AND version_compare(h.agent_version, :min) < 0 AND h.role IS NOT DISTINCT FROM 'server'
GROUP BY h.host_id, h.org_id, h.hostname, d.pending_sectors
HAVING max(x.used_pct) > 90
ORDER BY 1 LIMIT 10 OFFSET 2
)") == "");
}

TEST_CASE("dialect refuses SQLite-only functions and says what to use instead") {
  CHECK(
      Refusal("SELECT host_id, group_concat(name) FROM users GROUP BY host_id").find("text_list") !=
      std::string::npos);
  CHECK(Refusal("SELECT host_id FROM hosts WHERE instr(hostname, 'x') > 0").find("strpos") !=
        std::string::npos);
  CHECK(Refusal("SELECT host_id, max(load1, load5) FROM health").find("greatest") !=
        std::string::npos);
  CHECK(Refusal("SELECT host_id, min(load1, load5, 0) FROM health").find("least") !=
        std::string::npos);
  CHECK(Refusal("SELECT host_id FROM hardware WHERE julianday(bios_date) > 0").find("date_to_ms") !=
        std::string::npos);
  CHECK(Refusal("SELECT host_id, ifnull(name, '') FROM os").find("coalesce") != std::string::npos);
  CHECK(Refusal("SELECT host_id, iif(1, 2, 3) FROM os").find("CASE") != std::string::npos);
  CHECK(Refusal("SELECT host_id, typeof(name) FROM os").find("typeof") != std::string::npos);
  CHECK(Refusal("SELECT host_id, printf('%d', 1) FROM os").find("printf") != std::string::npos);
  CHECK(Refusal("SELECT host_id, load_extension('x') FROM os").find("load_extension") !=
        std::string::npos);
  // A call followed by an alias is still a call (only name(cols) AS (...) is a CTE).
  CHECK(Refusal("SELECT host_id, group_concat(name) AS names FROM users GROUP BY host_id")
            .find("text_list") != std::string::npos);
  CHECK(Refusal("WITH t(x) AS NOT MATERIALIZED (SELECT 1) SELECT x AS host_id FROM t") == "");
}

TEST_CASE("dialect refuses SQLite-only and PostgreSQL-only syntax") {
  CHECK(Refusal("SELECT host_id FROM os WHERE name == 'x'").find("==") != std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os WHERE name = \"debian\"").find("double quotes") !=
        std::string::npos);
  CHECK(Refusal("SELECT [host_id] FROM os").find("SQLite-only") != std::string::npos);
  CHECK(Refusal("SELECT `host_id` FROM os").find("SQLite-only") != std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os LIMIT 2, 5").find("OFFSET") != std::string::npos);
  CHECK(Refusal("SELECT host_id FROM hardware WHERE bios_date GLOB '2*'").find("glob") !=
        std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os WHERE name IS 'x'").find("NULL") != std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os WHERE name IS NOT 'x'").find("NULL") != std::string::npos);
  CHECK(Refusal("SELECT rowid AS host_id FROM os").find("row identifiers") != std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os WHERE name ILIKE 'x'").find("ilike") != std::string::npos);
  CHECK(Refusal("SELECT host_id::text FROM os").find("::") != std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os WHERE uptime_s > ?").find("named") != std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os WHERE uptime_s > $1").find("named") != std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os WHERE reboot_required = TRUE").find("0 and 1") !=
        std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os WHERE name IN ()").find("empty") != std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os WHERE boot_time_s < current_timestamp").find(":now_ms") !=
        std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os WHERE name LIKE 'a\\_b'").find("ESCAPE") !=
        std::string::npos);
  CHECK(Refusal("SELECT host_id FROM os WHERE name LIKE 'a\\_b' ESCAPE '\\'") == "");
  CHECK(Refusal("SELECT host_id FROM os ORDER BY name COLLATE nocase").find("COLLATE") !=
        std::string::npos);
}

TEST_CASE("dialect allows casts to BIGINT, DOUBLE PRECISION and TEXT only") {
  CHECK(Refusal("SELECT host_id, CAST(uptime_s AS DOUBLE PRECISION) FROM os") == "");
  CHECK(Refusal("SELECT host_id, CAST(uptime_s AS INTEGER) FROM os").find("BIGINT") !=
        std::string::npos);
  CHECK(Refusal("SELECT host_id, CAST(uptime_s AS REAL) FROM os").find("'real'") !=
        std::string::npos);
}

TEST_CASE("dialect violations point at the offending token") {
  std::string sql = "SELECT host_id\nFROM os WHERE instr(name, 'x') > 0";
  auto violation = CheckRuleDialect(sql);
  REQUIRE(violation.has_value());
  CHECK(violation->offset == sql.find("instr"));
}

TEST_CASE("text in string literals and comments is never taken for SQL") {
  CHECK(Refusal("SELECT host_id FROM os WHERE name = 'max(a, b) == group_concat(x)'") == "");
  CHECK(Refusal("SELECT host_id FROM os /* GLOB \"x\" */ WHERE name = 'it''s'") == "");
}

}  // namespace
}  // namespace dozor::server::rules
