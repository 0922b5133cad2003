-- The function library again (server/rules/portable/postgres_functions.sql, idempotent): its
-- version_compare gained a fast path for plain dotted numbers. As in 010, the include line is
-- replaced by the file's text when the migrations are embedded.
SELECT set_config('dozor.migration_search_path', current_setting('search_path'), true);
SET LOCAL search_path = dozor_rules, pg_catalog;
-- dozor:include ../../../rules/portable/postgres_functions.sql
SELECT set_config('search_path', current_setting('dozor.migration_search_path'), true);
