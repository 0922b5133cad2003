-- Access paths for the rules (measured with rules_bench --per-rule --postgres, 10,500 hosts).
--
-- 1. Per-host tables are keyed by the host first and org_id last. Rules correlate on host_id
--    alone (the fact views' host_id is the agents row id, unique across organisations), and a
--    key leading with org_id cannot be searched by the host without its organisation:
--    PostgreSQL 15 then read the whole key per host (12 ms per probe of host_services). Nor can
--    org_id sit between the host and the key's other columns: "the host's sample at its latest
--    time" (health_latest) read the host's whole window. Every key still holds org_id, the
--    distribution column a sharded PostgreSQL needs (docs/architecture.md), and ON CONFLICT
--    targets name the same columns in any order. health_samples keeps its key: only the store
--    reads it, always with both columns.
-- 2. The text columns of the inventory and the rule windows compare bytewise (COLLATE "C"), as
--    SQLite's BINARY does and as the fact views read them: an index in the database's own locale
--    is not used by a view's `name COLLATE "C" IN (...)`, so "which hosts have package X" read
--    every package row of the estate.
DO $$
DECLARE
  t record;
  c record;
  key_columns text;
BEGIN
  FOR t IN
    SELECT cl.oid, cl.relname, con.conname, con.conkey
    FROM pg_class cl
      JOIN pg_constraint con ON con.conrelid = cl.oid AND con.contype = 'p'
    WHERE cl.relnamespace = current_schema()::regnamespace
      AND cl.relkind = 'r'
      AND (cl.relname LIKE 'host\_%' OR cl.relname LIKE 'rule\_%')
    ORDER BY cl.relname
  LOOP
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) INTO key_columns
    FROM unnest(t.conkey) WITH ORDINALITY AS k(attnum, ord)
      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum;
    IF key_columns LIKE 'org\_id, agent%' THEN
      EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t.relname, t.conname);
      EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I PRIMARY KEY (%s)', t.relname, t.conname,
                     'agent' || substr(key_columns, length('org_id, agent') + 1) || ', org_id');
    END IF;
  END LOOP;

  FOR c IN
    SELECT cl.relname, a.attname
    FROM pg_class cl
      JOIN pg_attribute a ON a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE cl.relnamespace = current_schema()::regnamespace
      AND cl.relkind = 'r'
      AND (cl.relname LIKE 'host\_%' OR cl.relname LIKE 'rule\_%' OR cl.relname = 'inventory_changes')
      AND a.atttypid = 'text'::regtype
    ORDER BY cl.relname, a.attnum
  LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE text COLLATE "C"', c.relname, c.attname);
  END LOOP;
END
$$;

-- The units rules look for by state, by host first as the keys above; and units by name
-- (firewall-absent: "hosts running none of these" read all 1.2 million unit rows without it).
DROP INDEX host_services_enabled_inactive;
DROP INDEX host_services_failed;
CREATE INDEX host_services_enabled_inactive ON host_services(agent, name)
  WHERE active_state = 'inactive' AND enabled = 'enabled';
CREATE INDEX host_services_failed ON host_services(agent, name) WHERE active_state = 'failed';
CREATE INDEX host_services_name ON host_services(name, agent);

-- The fact views leave revoked hosts out by probing this (empty on most estates) index.
CREATE INDEX agents_revoked ON agents(id) WHERE revoked_at IS NOT NULL;

-- "Hosts with one of these packages" (the backup rules) answered from the index alone, without
-- a visit to the heap page of every matching row.
DROP INDEX host_packages_name;
CREATE INDEX host_packages_name ON host_packages(name, agent, org_id);

-- Statistics on the expressions the health rules filter by: without them PostgreSQL takes a third
-- of the window for `abs(clock_offset_ms) > 120000` (usually no row at all) and plans
-- clock-offset by probing every sample of the estate (390 ms over 10,500 hosts; 21 ms with them).
CREATE STATISTICS rule_health_host_abs_offset ON (abs(clock_offset_ms)) FROM rule_health_host;
CREATE STATISTICS rule_health_host_server_time ON ((at + clock_offset_ms)) FROM rule_health_host;

-- A column whose type changes loses its planner statistics, and autovacuum would not gather them
-- again before a tenth of each table changed: plan the next rule pass on fresh ones.
ANALYZE;
