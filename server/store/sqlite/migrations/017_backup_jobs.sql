-- Backup jobs and catalogues (contract: Software.backup_jobs): what is scheduled to back the
-- host up and how fresh its newest backup is, so rules can tell "no backup" from "a backup
-- that stopped" and from "a well-run backup the old package list did not know". Replaced with
-- each inventory like the other host_* tables. Times are Unix seconds, 0 unknown.
CREATE TABLE host_backup_jobs (
  agent INTEGER NOT NULL REFERENCES agents(id),
  tool TEXT NOT NULL,
  source TEXT NOT NULL,
  schedule TEXT NOT NULL,
  target TEXT NOT NULL,
  destination TEXT NOT NULL,
  last_success_time INTEGER NOT NULL,
  last_run_time INTEGER NOT NULL,
  last_status TEXT NOT NULL,
  last_error TEXT NOT NULL,
  freshness_source TEXT NOT NULL,
  interval_seconds INTEGER NOT NULL  -- how often it is meant to run, 0 unknown
);
CREATE INDEX host_backup_jobs_agent ON host_backup_jobs(agent);
