-- The process list at inventory time (contract: Software.processes), whether a 1C server's
-- cluster runs (Application.state: installed is not running, and rules about 1C servers must look
-- at hosts where a cluster runs), and the database server instances with their pg_hba.conf rules
-- (Software.database_servers: whether a listening PostgreSQL is exposed depends on who may
-- connect). Replaced with each inventory like the other host_* tables.
CREATE TABLE host_processes (
  agent INTEGER NOT NULL REFERENCES agents(id),
  pid INTEGER NOT NULL,
  name TEXT NOT NULL,
  user_name TEXT NOT NULL,
  rss_bytes INTEGER NOT NULL,
  start_time INTEGER NOT NULL,  -- Unix seconds, 0 unknown
  command TEXT NOT NULL
);
CREATE INDEX host_processes_agent ON host_processes(agent);

-- 'running', 'stopped', or '' unknown (agents before this field, applications that are not servers).
ALTER TABLE host_applications ADD COLUMN state TEXT NOT NULL DEFAULT '';

-- position: the instance's index in the inventory, which its hba rules refer to.
CREATE TABLE host_database_servers (
  agent INTEGER NOT NULL REFERENCES agents(id),
  position INTEGER NOT NULL,
  kind TEXT NOT NULL,
  version TEXT NOT NULL,
  config_path TEXT NOT NULL,
  data_directory TEXT NOT NULL,
  listen_addresses TEXT NOT NULL,
  port INTEGER NOT NULL,
  onec_build INTEGER NOT NULL,
  autovacuum INTEGER NOT NULL,
  running INTEGER NOT NULL,
  hba_path TEXT NOT NULL
);
CREATE INDEX host_database_servers_agent ON host_database_servers(agent);

CREATE TABLE host_database_hba (
  agent INTEGER NOT NULL REFERENCES agents(id),
  server_position INTEGER NOT NULL,
  line INTEGER NOT NULL,
  type TEXT NOT NULL,
  database_name TEXT NOT NULL,
  user_name TEXT NOT NULL,
  address TEXT NOT NULL,
  method TEXT NOT NULL
);
CREATE INDEX host_database_hba_agent ON host_database_hba(agent);
