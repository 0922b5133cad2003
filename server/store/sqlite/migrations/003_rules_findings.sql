-- Rules, findings and the audit (issue 3).
--
-- 1. Inventory columns the rule pack needs that migration 001 did not keep.
ALTER TABLE host_os ADD COLUMN uptime_seconds INTEGER NOT NULL DEFAULT 0;
-- 1 synchronised, 0 not, -1 unknown (as the agent reports it).
ALTER TABLE host_os ADD COLUMN clock_synchronized INTEGER NOT NULL DEFAULT -1;
ALTER TABLE host_os ADD COLUMN clock_max_error_us INTEGER NOT NULL DEFAULT -1;
-- When the host was first seen with pending security updates in the current unbroken run of
-- inventories that had some (0 = none pending). Kept by the store across inventories.
ALTER TABLE host_os ADD COLUMN security_pending_since INTEGER NOT NULL DEFAULT 0;
-- 'server' or 'workstation', classified by the store from the inventory (see host_role.cpp).
ALTER TABLE host_os ADD COLUMN role TEXT NOT NULL DEFAULT 'server';

ALTER TABLE host_hardware ADD COLUMN chassis_type TEXT NOT NULL DEFAULT '';
ALTER TABLE host_hardware ADD COLUMN smartctl_available INTEGER NOT NULL DEFAULT 0;

ALTER TABLE host_disks ADD COLUMN removable INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_disks ADD COLUMN smart_message TEXT NOT NULL DEFAULT '';
-- Raw values of SMART attributes 5, 197 and 198; -1 when the drive does not report them.
ALTER TABLE host_disks ADD COLUMN reallocated_sectors INTEGER NOT NULL DEFAULT -1;
ALTER TABLE host_disks ADD COLUMN pending_sectors INTEGER NOT NULL DEFAULT -1;
ALTER TABLE host_disks ADD COLUMN offline_uncorrectable INTEGER NOT NULL DEFAULT -1;

ALTER TABLE host_interfaces ADD COLUMN duplex TEXT NOT NULL DEFAULT '';
-- Rules look for failed units and enabled-but-inactive ones across the whole estate
-- (failed-services, backup-service-failed). Partial indexes: they hold only those few units, and
-- a query that does not ask for exactly that state cannot be misled into using them.
CREATE INDEX host_services_failed ON host_services(agent, name) WHERE active_state = 'failed';
CREATE INDEX host_services_enabled_inactive ON host_services(agent, name)
  WHERE active_state = 'inactive' AND enabled = 'enabled';

-- received_at - collected_at of the agent's newest report: a rough clock offset.
ALTER TABLE agents ADD COLUMN clock_offset_ms INTEGER NOT NULL DEFAULT 0;
-- collected_at of the newest health sample stored: the key of the rules' "latest sample" views
-- (rule_health_* rows with at = last_health_at).
ALTER TABLE agents ADD COLUMN last_health_at INTEGER NOT NULL DEFAULT 0;

-- 2. Rule windows: the recent health values rules look at, one narrow row per sample (host) or
-- per sample and object (filesystem, NIC). Written by ingest in the same transaction as the
-- health sample itself; pruned to the configured window (store option rule_window_s).
-- rule_health_nic keeps only samples with errors or drops (sums over a window stay exact).
CREATE TABLE rule_health_host (
  agent INTEGER NOT NULL,
  at INTEGER NOT NULL,
  cpu_pct REAL NOT NULL,
  iowait_pct REAL NOT NULL,
  load1 REAL NOT NULL,
  load5 REAL NOT NULL,
  load15 REAL NOT NULL,
  mem_total_bytes INTEGER NOT NULL,
  mem_available_bytes INTEGER NOT NULL,
  mem_used_pct REAL NOT NULL,
  swap_total_bytes INTEGER NOT NULL,
  swap_used_pct REAL NOT NULL,
  process_count INTEGER NOT NULL,
  clock_offset_ms INTEGER NOT NULL,
  PRIMARY KEY (agent, at)
) WITHOUT ROWID;

CREATE TABLE rule_health_fs (
  agent INTEGER NOT NULL,
  mount TEXT NOT NULL,
  at INTEGER NOT NULL,
  device TEXT NOT NULL,
  fs_type TEXT NOT NULL,
  total_bytes INTEGER NOT NULL,
  avail_bytes INTEGER NOT NULL,
  used_pct REAL NOT NULL,
  inodes_total INTEGER NOT NULL,
  inodes_used_pct REAL NOT NULL,
  -- agent, at first: the newest sample of a host is one seek (agents.last_health_at), and a
  -- host's window is one range.
  PRIMARY KEY (agent, at, mount)
) WITHOUT ROWID;

CREATE TABLE rule_health_nic (
  agent INTEGER NOT NULL,
  interface TEXT NOT NULL,
  at INTEGER NOT NULL,
  rx_errors INTEGER NOT NULL,
  tx_errors INTEGER NOT NULL,
  rx_dropped INTEGER NOT NULL,
  tx_dropped INTEGER NOT NULL,
  PRIMARY KEY (agent, at, interface)
) WITHOUT ROWID;

-- Filesystem usage, one point per host, mount and hour (the latest sample of that hour): the
-- growth trend behind "disk full within N days". Pruned after rule_trend_s (default 48 h).
CREATE TABLE rule_fs_trend (
  agent INTEGER NOT NULL,
  mount TEXT NOT NULL,
  hour INTEGER NOT NULL,  -- start of the hour, Unix ms
  at INTEGER NOT NULL,    -- collected_at of the sample kept
  total_bytes INTEGER NOT NULL,
  avail_bytes INTEGER NOT NULL,
  PRIMARY KEY (agent, mount, hour)
) WITHOUT ROWID;

-- 3. Findings: one row per (rule, target), never duplicated. target is 'host:<agents.id>' for a
-- per-host rule or 'org:<organizations.id>' for an estate-wide one.
-- state: open | acknowledged | resolved | regressed | waived
CREATE TABLE findings (
  id INTEGER PRIMARY KEY,
  rule_id TEXT NOT NULL,
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  agent INTEGER REFERENCES agents(id),
  target TEXT NOT NULL,
  severity TEXT NOT NULL,
  category TEXT NOT NULL,
  state TEXT NOT NULL,
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
  UNIQUE (rule_id, target)
);
CREATE INDEX findings_org_state ON findings(org_id, state);
CREATE INDEX findings_agent ON findings(agent);

-- Every transition and comment, with time and author ('system' for the rule engine).
-- kind: opened | acknowledged | resolved | regressed | waived | waive_expired | unwaived | comment
CREATE TABLE finding_events (
  id INTEGER PRIMARY KEY,
  finding_id INTEGER NOT NULL REFERENCES findings(id),
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  kind TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  comment TEXT NOT NULL DEFAULT ''
);
CREATE INDEX finding_events_finding ON finding_events(finding_id, at);

-- 4. Contract lifecycle and audit baselines.
CREATE TABLE contract_events (
  id INTEGER PRIMARY KEY,
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  from_status TEXT NOT NULL,
  to_status TEXT NOT NULL
);
CREATE INDEX contract_events_org ON contract_events(org_id, at);

-- A frozen copy of an organisation's active findings. kind: first-audit (recorded when the
-- contract moves to remediation, or by hand) | signing (recorded when it becomes active).
CREATE TABLE audit_snapshots (
  id INTEGER PRIMARY KEY,
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  kind TEXT NOT NULL,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL
);
CREATE INDEX audit_snapshots_org ON audit_snapshots(org_id, kind, at);

CREATE TABLE audit_snapshot_findings (
  snapshot_id INTEGER NOT NULL REFERENCES audit_snapshots(id),
  rule_id TEXT NOT NULL,
  target TEXT NOT NULL,
  agent_id TEXT NOT NULL,  -- public id, '' for estate-wide findings
  hostname TEXT NOT NULL,
  severity TEXT NOT NULL,
  state TEXT NOT NULL
);
CREATE INDEX audit_snapshot_findings_snapshot ON audit_snapshot_findings(snapshot_id);

-- Waiver expiry runs with every evaluation: find the few waived findings without a scan.
CREATE INDEX findings_waived_until ON findings(waived_until) WHERE state = 'waived';
