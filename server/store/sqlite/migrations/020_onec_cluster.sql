-- The 1C:Enterprise server cluster in depth (contract: Software.onec_server_agents,
-- onec_tech_logs, onec_licensing): the running server agents with their manager and working
-- processes (memory, restarts), what `rac` says of their clusters (a cluster without an
-- administrator can be administered by anyone who reaches it), the technological logs (switched
-- on, kept how long, how big now) and the licensing (software licence files bound to the
-- hardware, the HASP licence manager). Replaced with each inventory like the other host_* tables.

-- position: the agent's index in the inventory, which its processes and clusters refer to.
CREATE TABLE host_onec_agents (
  agent INTEGER NOT NULL REFERENCES agents(id),
  position INTEGER NOT NULL,
  pid INTEGER NOT NULL,
  version TEXT NOT NULL,
  user_name TEXT NOT NULL,
  start_time INTEGER NOT NULL,  -- Unix seconds, 0 unknown
  agent_port INTEGER NOT NULL,
  manager_port INTEGER NOT NULL,
  range_first INTEGER NOT NULL,
  range_last INTEGER NOT NULL,
  registry_path TEXT NOT NULL,
  restarted_workers INTEGER NOT NULL,
  rac_status TEXT NOT NULL
);
CREATE INDEX host_onec_agents_agent ON host_onec_agents(agent);

CREATE TABLE host_onec_processes (
  agent INTEGER NOT NULL REFERENCES agents(id),
  agent_position INTEGER NOT NULL,
  role TEXT NOT NULL,  -- 'rmngr', 'rphost'
  pid INTEGER NOT NULL,
  version TEXT NOT NULL,
  rss_bytes INTEGER NOT NULL,
  start_time INTEGER NOT NULL
);
CREATE INDEX host_onec_processes_agent ON host_onec_processes(agent);

CREATE TABLE host_onec_clusters (
  agent INTEGER NOT NULL REFERENCES agents(id),
  agent_position INTEGER NOT NULL,
  cluster_id TEXT NOT NULL,
  name TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  lifetime_limit INTEGER NOT NULL,   -- seconds, 0 none
  max_memory_size INTEGER NOT NULL,  -- bytes, 0 none
  security_level INTEGER NOT NULL,   -- -1 unknown
  admin_configured INTEGER NOT NULL, -- 1 yes, 0 none, -1 unknown
  admins TEXT NOT NULL,              -- names, ', '-separated
  infobase_count INTEGER NOT NULL    -- -1 unknown
);
CREATE INDEX host_onec_clusters_agent ON host_onec_clusters(agent);

CREATE TABLE host_onec_tech_logs (
  agent INTEGER NOT NULL REFERENCES agents(id),
  config_path TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  location TEXT NOT NULL,
  history_hours INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  size_complete INTEGER NOT NULL,
  events INTEGER NOT NULL
);
CREATE INDEX host_onec_tech_logs_agent ON host_onec_tech_logs(agent);

-- kind: 'licence_file' (name: its path) or 'hasp_manager' (name: the running process).
CREATE TABLE host_onec_licensing (
  agent INTEGER NOT NULL REFERENCES agents(id),
  kind TEXT NOT NULL,
  name TEXT NOT NULL
);
CREATE INDEX host_onec_licensing_agent ON host_onec_licensing(agent);
