-- Per-report rows clustered by time: health samples and rule windows.
--
-- Migrations 001 and 003 keyed every per-report table by host first ((agent, ...)), so each
-- health report inserted into its own host's leaf page in five tables: a batch of N hosts
-- dirtied several pages per host (one 4 KiB WAL frame each at COMMIT, copied again by the
-- checkpoint) and split a page every few inserts. Keyed by time first, the rows of one batch
-- land next to each other at the right edge of each table, many hosts per page; narrow
-- host-first indexes keep a host's rows one range seek away.
--
-- Columns keep their names, order and uniqueness, so every statement and fact view that reads or
-- writes these tables works unchanged.

-- Health samples: a rowid table (rows are appended at the right edge, ~4 samples per page) and
-- the old primary key as a unique index (ListHealth, compaction and pruning go through it).
CREATE TABLE health_samples_by_time (
  agent INTEGER NOT NULL,
  collected_at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  sample BLOB NOT NULL,
  encoding INTEGER NOT NULL DEFAULT 0
);
INSERT INTO health_samples_by_time(agent, collected_at, seq, sample, encoding)
  SELECT agent, collected_at, seq, sample, encoding FROM health_samples ORDER BY collected_at;
DROP TABLE health_samples;
ALTER TABLE health_samples_by_time RENAME TO health_samples;
CREATE UNIQUE INDEX health_samples_agent ON health_samples(agent, collected_at, seq);

-- Rule windows: same columns, primary key led by time. The "latest sample" views seek the primary
-- key directly with (agents.last_health_at, agents.id).
CREATE TABLE rule_health_host_by_time (
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
  PRIMARY KEY (at, agent)
) WITHOUT ROWID;
INSERT INTO rule_health_host_by_time SELECT * FROM rule_health_host;
DROP TABLE rule_health_host;
ALTER TABLE rule_health_host_by_time RENAME TO rule_health_host;
CREATE INDEX rule_health_host_agent ON rule_health_host(agent, at);

CREATE TABLE rule_health_fs_by_time (
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
  PRIMARY KEY (at, agent, mount)
) WITHOUT ROWID;
INSERT INTO rule_health_fs_by_time SELECT * FROM rule_health_fs;
DROP TABLE rule_health_fs;
ALTER TABLE rule_health_fs_by_time RENAME TO rule_health_fs;
-- Holds (agent, at, mount): a host's window, and one filesystem's, without touching the rows.
CREATE INDEX rule_health_fs_agent ON rule_health_fs(agent, at);

CREATE TABLE rule_health_nic_by_time (
  agent INTEGER NOT NULL,
  interface TEXT NOT NULL,
  at INTEGER NOT NULL,
  rx_errors INTEGER NOT NULL,
  tx_errors INTEGER NOT NULL,
  rx_dropped INTEGER NOT NULL,
  tx_dropped INTEGER NOT NULL,
  PRIMARY KEY (at, agent, interface)
) WITHOUT ROWID;
INSERT INTO rule_health_nic_by_time SELECT * FROM rule_health_nic;
DROP TABLE rule_health_nic;
ALTER TABLE rule_health_nic_by_time RENAME TO rule_health_nic;
CREATE INDEX rule_health_nic_agent ON rule_health_nic(agent, at);

-- The current hour's points are upserted by every batch: keyed by hour first they sit together
-- at the right edge. The index is written once per (host, mount, hour), when the point is new.
CREATE TABLE rule_fs_trend_by_time (
  agent INTEGER NOT NULL,
  mount TEXT NOT NULL,
  hour INTEGER NOT NULL,  -- start of the hour, Unix ms
  at INTEGER NOT NULL,    -- collected_at of the sample kept
  total_bytes INTEGER NOT NULL,
  avail_bytes INTEGER NOT NULL,
  PRIMARY KEY (hour, agent, mount)
) WITHOUT ROWID;
INSERT INTO rule_fs_trend_by_time SELECT * FROM rule_fs_trend;
DROP TABLE rule_fs_trend;
ALTER TABLE rule_fs_trend_by_time RENAME TO rule_fs_trend;
CREATE INDEX rule_fs_trend_agent ON rule_fs_trend(agent, mount, hour);
