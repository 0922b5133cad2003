-- Initial schema. Times are Unix milliseconds unless a column name says otherwise.

CREATE TABLE organizations (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  contract_status TEXT NOT NULL DEFAULT 'prospect',
  contract_type TEXT NOT NULL DEFAULT 'complex',
  engineer TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);

-- Only the SHA-256 of a token is stored; hint is its first characters for recognising it.
CREATE TABLE enrollment_tokens (
  id INTEGER PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  hint TEXT NOT NULL DEFAULT '',
  label TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  uses INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX enrollment_tokens_org ON enrollment_tokens(org_id);

-- id is the compact key every per-host table refers to; agent_id is the public identifier.
CREATE TABLE agents (
  id INTEGER PRIMARY KEY,
  agent_id TEXT NOT NULL UNIQUE,
  org_id INTEGER NOT NULL REFERENCES organizations(id),
  secret_hash TEXT NOT NULL,
  hostname TEXT NOT NULL DEFAULT '',
  machine_id TEXT NOT NULL DEFAULT '',
  agent_version TEXT NOT NULL DEFAULT '',
  os TEXT NOT NULL DEFAULT '',
  enrolled_at INTEGER NOT NULL,
  revoked_at INTEGER,
  last_seen INTEGER NOT NULL DEFAULT 0,
  last_seq INTEGER NOT NULL DEFAULT 0,
  last_inventory_at INTEGER NOT NULL DEFAULT 0,
  dropped_health_total INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX agents_org ON agents(org_id);

CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  hint TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
);

-- Current inventory, normalised per host so the API and rules can query across hosts. Replaced
-- wholesale by every inventory report.
CREATE TABLE host_os (
  agent INTEGER PRIMARY KEY REFERENCES agents(id),
  os_id TEXT NOT NULL,
  id_like TEXT NOT NULL,
  family TEXT NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  version_id TEXT NOT NULL,
  pretty_name TEXT NOT NULL,
  kernel TEXT NOT NULL,
  architecture TEXT NOT NULL,
  hostname TEXT NOT NULL,
  fqdn TEXT NOT NULL,
  timezone TEXT NOT NULL,
  boot_time INTEGER NOT NULL,
  reboot_required INTEGER NOT NULL,
  pending_updates INTEGER NOT NULL,
  pending_security_updates INTEGER NOT NULL,
  machine_id TEXT NOT NULL
);

CREATE TABLE host_hardware (
  agent INTEGER PRIMARY KEY REFERENCES agents(id),
  cpu_model TEXT NOT NULL,
  cpu_sockets INTEGER NOT NULL,
  cpu_cores INTEGER NOT NULL,
  cpu_threads INTEGER NOT NULL,
  memory_total_bytes INTEGER NOT NULL,
  system_vendor TEXT NOT NULL,
  system_model TEXT NOT NULL,
  system_serial TEXT NOT NULL,
  bios_vendor TEXT NOT NULL,
  bios_version TEXT NOT NULL,
  bios_date TEXT NOT NULL,
  virtual_machine INTEGER NOT NULL,
  hypervisor TEXT NOT NULL
);

CREATE TABLE host_disks (
  agent INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  model TEXT NOT NULL,
  serial TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  rotational INTEGER NOT NULL,
  transport TEXT NOT NULL,
  smart_status TEXT NOT NULL,
  power_on_hours INTEGER NOT NULL,
  temperature_c INTEGER NOT NULL
);
CREATE INDEX host_disks_agent ON host_disks(agent);

CREATE TABLE host_interfaces (
  agent INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  mac TEXT NOT NULL,
  mtu INTEGER NOT NULL,
  state TEXT NOT NULL,
  speed_mbps INTEGER NOT NULL,
  loopback INTEGER NOT NULL,
  virtual INTEGER NOT NULL
);
CREATE INDEX host_interfaces_agent ON host_interfaces(agent);

CREATE TABLE host_addresses (
  agent INTEGER NOT NULL REFERENCES agents(id),
  interface TEXT NOT NULL,
  address TEXT NOT NULL,
  prefix INTEGER NOT NULL,
  family INTEGER NOT NULL,
  loopback INTEGER NOT NULL
);
CREATE INDEX host_addresses_agent ON host_addresses(agent);
CREATE INDEX host_addresses_address ON host_addresses(address);

CREATE TABLE host_gateways (
  agent INTEGER NOT NULL REFERENCES agents(id),
  address TEXT NOT NULL,
  interface TEXT NOT NULL,
  family INTEGER NOT NULL
);
CREATE INDEX host_gateways_agent ON host_gateways(agent);

CREATE TABLE host_dns (
  agent INTEGER NOT NULL REFERENCES agents(id),
  position INTEGER NOT NULL,
  server TEXT NOT NULL
);
CREATE INDEX host_dns_agent ON host_dns(agent);

CREATE TABLE host_listeners (
  agent INTEGER NOT NULL REFERENCES agents(id),
  protocol TEXT NOT NULL,
  family INTEGER NOT NULL,
  address TEXT NOT NULL,
  port INTEGER NOT NULL,
  pid INTEGER NOT NULL,
  process TEXT NOT NULL,
  uid INTEGER NOT NULL
);
CREATE INDEX host_listeners_agent ON host_listeners(agent);

CREATE TABLE host_packages (
  agent INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  architecture TEXT NOT NULL,
  source TEXT NOT NULL,
  vendor TEXT NOT NULL,
  install_time INTEGER NOT NULL
);
CREATE INDEX host_packages_agent ON host_packages(agent);
-- "Which hosts have package X" across the estate.
CREATE INDEX host_packages_name ON host_packages(name);

CREATE TABLE host_applications (
  agent INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  architecture TEXT NOT NULL,
  path TEXT NOT NULL,
  kind TEXT NOT NULL
);
CREATE INDEX host_applications_agent ON host_applications(agent);

CREATE TABLE host_services (
  agent INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  load_state TEXT NOT NULL,
  active_state TEXT NOT NULL,
  sub_state TEXT NOT NULL,
  enabled TEXT NOT NULL
);
CREATE INDEX host_services_agent ON host_services(agent);

CREATE TABLE host_users (
  agent INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  uid INTEGER NOT NULL,
  shell TEXT NOT NULL,
  home TEXT NOT NULL,
  administrator INTEGER NOT NULL
);
CREATE INDEX host_users_agent ON host_users(agent);

-- Latest status per collector, from the latest report that carried it.
CREATE TABLE host_collectors (
  agent INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  ok INTEGER NOT NULL,
  error TEXT NOT NULL,
  duration_ms INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (agent, name)
) WITHOUT ROWID;

-- The latest snapshot, EncodeCompressed(Inventory): the base for the next diff and GetInventory.
CREATE TABLE host_inventory_blob (
  agent INTEGER PRIMARY KEY REFERENCES agents(id),
  collected_at INTEGER NOT NULL,
  inventory BLOB NOT NULL
);

CREATE TABLE inventory_changes (
  id INTEGER PRIMARY KEY,
  agent INTEGER NOT NULL REFERENCES agents(id),
  at INTEGER NOT NULL,
  category TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  old_value TEXT NOT NULL,
  new_value TEXT NOT NULL
);
CREATE INDEX inventory_changes_agent_at ON inventory_changes(agent, at);

-- One lean row per sample: EncodeCompressed(HealthSample), clustered by host and time.
CREATE TABLE health_samples (
  agent INTEGER NOT NULL,
  collected_at INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  sample BLOB NOT NULL,
  PRIMARY KEY (agent, collected_at, seq)
) WITHOUT ROWID;
