-- Host duties (issue 14): what a host does for the business beyond its role, read from its
-- inventory by the store (ClassifyHostDuties, server/domain/host_role.cpp): it runs the
-- 1C:Enterprise server ('onec') or a database server ('database'). The contract scope depends on
-- it: hardware and backup findings on such a host count under an application contract too
-- (server/rules/contract_scope.cpp, docs/audit-report.md).
--
-- The text is what FormatHostDuties writes: the names in alphabetical order joined by ',', ''
-- for none. NULL means "not classified yet": the rows this migration finds. The store classifies
-- them from each host's stored inventory when it opens (SqliteStore::ClassifyHostsWithoutDuties),
-- so hosts that will not report again soon (imported snapshots, agents offline) get their duties
-- at once; every inventory stored from then on writes the column.
ALTER TABLE host_os ADD COLUMN duties TEXT DEFAULT NULL
  CONSTRAINT host_os_duties CHECK (duties IN ('', 'database', 'onec', 'database,onec'));
