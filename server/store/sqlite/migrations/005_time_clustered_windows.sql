-- Health samples and the hourly fill trend clustered by time.
--
-- Migrations 001 and 003 keyed the per-report tables by host first ((agent, ...)), so each health
-- report inserted into its own host's leaf page: a batch of N hosts dirtied several pages per
-- host (one 4 KiB WAL frame each at COMMIT, copied again by the checkpoint) and split a page
-- every few inserts. health_samples alone was 541 of the 1,220 WAL frames of a 200-report batch
-- (100 hosts, ~940-byte rows, four per page). Keyed by time first, the rows of one batch land
-- next to each other at the right edge, many hosts per page; narrow host-first indexes keep a
-- host's rows one range seek away.
--
-- The rule-window tables (rule_health_host/fs/nic) stay keyed by host first: every health
-- report is followed by that host's rule evaluation, which reads its window as one contiguous
-- range; through a host-first index it would pay a primary-key seek per row (measured: per-host
-- evaluation 0.5 -> 1.0 ms, more than the commit saved).
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
