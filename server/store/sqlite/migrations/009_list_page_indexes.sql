-- Keyset pages of findings (GET /api/v1/findings?sort=...): with these the newest/oldest first
-- pages walk an index and stop after the page instead of sorting every finding. The severity
-- expression is the one the store orders by (sqlite_store_findings.cpp, kSeverityRankSql).
CREATE INDEX findings_first_seen ON findings(first_seen);
CREATE INDEX findings_last_seen ON findings(last_seen);
CREATE INDEX findings_severity_rank ON findings(
  (CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2
   WHEN 'low' THEN 3 ELSE 4 END), first_seen);

-- The host search compares serial numbers without regard to case.
CREATE INDEX host_hardware_serial ON host_hardware(system_serial COLLATE NOCASE);
CREATE INDEX host_disks_serial ON host_disks(serial COLLATE NOCASE);
