-- The schema version a host's normalised inventory rows were last written under. A new inventory
-- rewrites only the parts that differ from the stored one (host_row_parts.hpp); rows written
-- under an older schema (0: before this migration) are all written again, since a migration
-- may have added a column or table that only a fresh write fills.
ALTER TABLE host_inventory_blob ADD COLUMN rows_schema INTEGER NOT NULL DEFAULT 0;
