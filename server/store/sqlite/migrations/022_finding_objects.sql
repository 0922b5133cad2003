-- Findings per object (issue 14). A rule about an object (a mount, an interface, a disk, a
-- service) names the column of its rows that identifies it (`object = "mount"` in the rule file),
-- and each object gets its own finding with its own life: /var fixed while /boot is full resolves
-- the /var finding and keeps /boot's open. A finding about the whole target keeps object ''.
--
-- The identity of a finding becomes (rule_id, target, object), so the UNIQUE constraint changes,
-- which SQLite can only do by rebuilding the table (the procedure and the runner's part of it are
-- described in 015_enum_checks.sql): same columns in the same order plus `object`, every row
-- copied with its id (finding_events, alerts and events point at it), the indexes made again.
--
-- Existing findings keep object ''. When their rule names objects now, the first object it
-- reports for that host takes the finding over (PlanEvaluation, domain/finding_lifecycle.cpp), so
-- an upgrade keeps the history, acknowledgement and waiver instead of resolving and reopening.
CREATE TABLE findings_022 (
  id INTEGER PRIMARY KEY,
  rule_id TEXT NOT NULL,
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  agent INTEGER REFERENCES agents(id),
  target TEXT NOT NULL,
  severity TEXT NOT NULL CONSTRAINT findings_severity
    CHECK (severity IN ('critical', 'high', 'medium', 'low', 'info')),
  category TEXT NOT NULL,
  state TEXT NOT NULL CONSTRAINT findings_state
    CHECK (state IN ('open', 'acknowledged', 'resolved', 'regressed', 'waived')),
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  state_changed_at INTEGER NOT NULL,
  resolved_at INTEGER,
  evidence TEXT NOT NULL DEFAULT '[]',  -- JSON array of objects: the rows that made it fire
  ack_by TEXT NOT NULL DEFAULT '',
  ack_comment TEXT NOT NULL DEFAULT '',
  waived_by TEXT NOT NULL DEFAULT '',
  waive_reason TEXT NOT NULL DEFAULT '',
  waived_until INTEGER,
  regressions INTEGER NOT NULL DEFAULT 0,
  verify_requested_at INTEGER,
  verify_requested_by TEXT NOT NULL DEFAULT '',
  object TEXT NOT NULL DEFAULT '',  -- what within the target: '/var', 'eth0', 'sda'; '' the target
  UNIQUE (rule_id, target, object)
);
INSERT INTO findings_022(id, rule_id, org_id, agent, target, severity, category, state,
  first_seen, last_seen, state_changed_at, resolved_at, evidence, ack_by, ack_comment, waived_by,
  waive_reason, waived_until, regressions, verify_requested_at, verify_requested_by, object)
  SELECT id, rule_id, org_id, agent, target, severity, category, state, first_seen, last_seen,
    state_changed_at, resolved_at, evidence, ack_by, ack_comment, waived_by, waive_reason,
    waived_until, regressions, verify_requested_at, verify_requested_by, ''
  FROM findings;
DROP TABLE findings;
ALTER TABLE findings_022 RENAME TO findings;
-- The indexes of migration 015, as they were.
CREATE INDEX findings_org_state ON findings(org_id, state);
CREATE INDEX findings_agent ON findings(agent);
CREATE INDEX findings_waived_until ON findings(waived_until) WHERE state = 'waived';
CREATE INDEX findings_first_seen ON findings(first_seen);
CREATE INDEX findings_last_seen ON findings(last_seen);
CREATE INDEX findings_severity_rank ON findings(
  (CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2
   WHEN 'low' THEN 3 ELSE 4 END), first_seen);
CREATE INDEX findings_active ON findings(org_id, agent, rule_id, severity)
  WHERE state IN ('open', 'acknowledged', 'regressed');

-- A snapshot row names its object too, so the progress section tells /var fixed from /boot new.
ALTER TABLE audit_snapshot_findings ADD COLUMN object TEXT NOT NULL DEFAULT '';
