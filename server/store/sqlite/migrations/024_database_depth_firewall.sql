-- Databases of the PostgreSQL instances, their data directory's filesystem, and the Linux host
-- firewall (issue 14). Contract: DatabaseServer.databases / databases_listed / data_*,
-- Security.host_firewall. Replaced with each inventory like the other host_* tables.

-- databases_listed: 1 when psql listed the instance's databases (an empty list is then really
-- empty), 0 when they are unknown. data_fs_*: bytes of the filesystem holding data_directory,
-- 0 unknown (older agents, Windows).
ALTER TABLE host_database_servers ADD COLUMN databases_listed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_database_servers ADD COLUMN data_mount_point TEXT NOT NULL DEFAULT '';
ALTER TABLE host_database_servers ADD COLUMN data_fs_total_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_database_servers ADD COLUMN data_fs_available_bytes INTEGER NOT NULL DEFAULT 0;

-- server_position: the instance's index in the inventory (host_database_servers.position).
CREATE TABLE host_database_databases (
  agent INTEGER NOT NULL REFERENCES agents(id),
  server_position INTEGER NOT NULL,
  name TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,        -- -1 unknown
  newest_dump_time INTEGER NOT NULL,  -- Unix seconds of the newest dump file naming it, 0 none
  newest_dump_path TEXT NOT NULL,
  newest_dump_job TEXT NOT NULL,      -- the source of the backup job whose destination holds it
  -- The newest successful backup covering it, as the agent matched jobs and files to databases
  -- (DatabaseInfo): Unix seconds (0 none), which job or file, that job's interval (0 unknown),
  -- and whether a job of unknown freshness covers it too.
  last_backup_time INTEGER NOT NULL,
  last_backup_source TEXT NOT NULL,
  last_backup_interval_seconds INTEGER NOT NULL,
  covered_without_freshness INTEGER NOT NULL
);
CREATE INDEX host_database_databases_agent ON host_database_databases(agent);

-- One row per agent that read (or tried to read) the host firewall.
CREATE TABLE host_firewall (
  agent INTEGER NOT NULL REFERENCES agents(id),
  backend TEXT NOT NULL,       -- 'nftables', 'iptables', '' none readable
  input_policy TEXT NOT NULL,  -- 'accept', 'drop', '' unknown
  status TEXT NOT NULL,        -- 'ok', 'saved /etc/nftables.conf (...)', or why it is unknown
  rule_count INTEGER NOT NULL
);
CREATE INDEX host_firewall_agent ON host_firewall(agent);

CREATE TABLE host_firewall_ports (
  agent INTEGER NOT NULL REFERENCES agents(id),
  family INTEGER NOT NULL,  -- 4 or 6
  protocol TEXT NOT NULL,
  port INTEGER NOT NULL,
  verdict TEXT NOT NULL CONSTRAINT host_firewall_ports_verdict
    CHECK (verdict IN ('open', 'restricted', 'closed', 'unknown')),
  sources TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX host_firewall_ports_agent ON host_firewall_ports(agent);
