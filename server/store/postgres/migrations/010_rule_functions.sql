-- The rule dialect's function library (docs/rule-language.md) in a schema of its own, so the
-- rule engine's sessions (store/postgres/pg_fact_source.cpp) call it unqualified with
-- search_path = pg_temp, dozor_rules: functions in pg_temp would need qualification, and rule
-- SQL must not be able to reach the store's own schema by name.
--
-- The definitions are those of server/rules/portable/postgres_functions.sql, the one source
-- (the portability test runs the same file): the include line below is replaced by that file's
-- text when the migrations are embedded (deploy/cmake/EmbedMigrations.cmake). The file is
-- idempotent (CREATE OR REPLACE); a later change to it needs a new migration with the same
-- include line.
CREATE SCHEMA dozor_rules;
-- Migrations run in one transaction: the search_path is set for the file and put back after.
SELECT set_config('dozor.migration_search_path', current_setting('search_path'), true);
SET LOCAL search_path = dozor_rules, pg_catalog;
-- dozor:include ../../../rules/portable/postgres_functions.sql
SELECT set_config('search_path', current_setting('dozor.migration_search_path'), true);
