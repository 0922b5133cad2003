-- Windows facts (contract: Inventory.security and the Windows fields of hardware, os, software):
-- how the machine is protected (antivirus, firewall profiles, remote desktop, SMBv1, password
-- policy), volumes with their encryption, batteries, memory modules, the OS's own disk verdict,
-- edition/build/activation/domain/update state, account kinds, service accounts, 1C infobase
-- lists and licence clients, and what each part could not read. Like the other host_* tables
-- they are replaced with each inventory.

ALTER TABLE host_os ADD COLUMN install_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_os ADD COLUMN edition TEXT NOT NULL DEFAULT '';
ALTER TABLE host_os ADD COLUMN build TEXT NOT NULL DEFAULT '';
ALTER TABLE host_os ADD COLUMN activation TEXT NOT NULL DEFAULT '';
ALTER TABLE host_os ADD COLUMN domain TEXT NOT NULL DEFAULT '';
ALTER TABLE host_os ADD COLUMN workgroup TEXT NOT NULL DEFAULT '';
ALTER TABLE host_os ADD COLUMN time_source TEXT NOT NULL DEFAULT '';
ALTER TABLE host_os ADD COLUMN last_update_install_time INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_os ADD COLUMN update_error TEXT NOT NULL DEFAULT '';
ALTER TABLE host_os ADD COLUMN product_type TEXT NOT NULL DEFAULT '';

ALTER TABLE host_disks ADD COLUMN health TEXT NOT NULL DEFAULT '';
ALTER TABLE host_disks ADD COLUMN wear_percent INTEGER NOT NULL DEFAULT -1;
ALTER TABLE host_disks ADD COLUMN media_type TEXT NOT NULL DEFAULT '';

ALTER TABLE host_users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_users ADD COLUMN kind TEXT NOT NULL DEFAULT 'user';
ALTER TABLE host_users ADD COLUMN domain TEXT NOT NULL DEFAULT '';

ALTER TABLE host_services ADD COLUMN account TEXT NOT NULL DEFAULT '';
ALTER TABLE host_services ADD COLUMN command TEXT NOT NULL DEFAULT '';

-- The ports an application is configured to listen on, comma-separated in the agent's order.
ALTER TABLE host_applications ADD COLUMN ports TEXT NOT NULL DEFAULT '';

-- One row per host that reported a security part (none for agents that do not). Tri-state
-- columns: 1 yes, 0 no, -1 unknown; password policy numbers -1 when unknown.
CREATE TABLE host_security (
  agent INTEGER PRIMARY KEY REFERENCES agents(id),
  remote_desktop INTEGER NOT NULL,
  remote_desktop_nla INTEGER NOT NULL,
  remote_desktop_port INTEGER NOT NULL,
  smb1 INTEGER NOT NULL,
  password_min_length INTEGER NOT NULL,
  password_max_age_days INTEGER NOT NULL,
  lockout_threshold INTEGER NOT NULL,
  password_complexity INTEGER NOT NULL
);

CREATE TABLE host_antivirus (
  agent INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  up_to_date INTEGER NOT NULL,
  signatures_updated INTEGER NOT NULL,  -- Unix seconds, 0 unknown
  source TEXT NOT NULL,
  version TEXT NOT NULL
);
CREATE INDEX host_antivirus_agent ON host_antivirus(agent);

CREATE TABLE host_firewall_profiles (
  agent INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  enabled INTEGER NOT NULL
);
CREATE INDEX host_firewall_profiles_agent ON host_firewall_profiles(agent);

CREATE TABLE host_volumes (
  agent INTEGER NOT NULL REFERENCES agents(id),
  mount_point TEXT NOT NULL,
  label TEXT NOT NULL,
  file_system TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  free_bytes INTEGER NOT NULL,
  kind TEXT NOT NULL,
  remote_path TEXT NOT NULL,
  encryption TEXT NOT NULL
);
CREATE INDEX host_volumes_agent ON host_volumes(agent);

CREATE TABLE host_batteries (
  agent INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  design_capacity_mwh INTEGER NOT NULL,
  full_charge_capacity_mwh INTEGER NOT NULL,
  charge_percent INTEGER NOT NULL,
  status TEXT NOT NULL
);
CREATE INDEX host_batteries_agent ON host_batteries(agent);

CREATE TABLE host_memory_modules (
  agent INTEGER NOT NULL REFERENCES agents(id),
  slot TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  speed_mhz INTEGER NOT NULL,
  manufacturer TEXT NOT NULL,
  part_number TEXT NOT NULL,
  serial TEXT NOT NULL
);
CREATE INDEX host_memory_modules_agent ON host_memory_modules(agent);

-- Entries of the users' 1C infobase lists (ibases.v8i).
CREATE TABLE host_infobases (
  agent INTEGER NOT NULL REFERENCES agents(id),
  user_name TEXT NOT NULL,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  location TEXT NOT NULL,
  network_share INTEGER NOT NULL,
  version TEXT NOT NULL
);
CREATE INDEX host_infobases_agent ON host_infobases(agent);

-- Licence clients (nethasp.ini) and the servers each is pointed at (position: the client's index
-- in the inventory).
CREATE TABLE host_license_clients (
  agent INTEGER NOT NULL REFERENCES agents(id),
  position INTEGER NOT NULL,
  kind TEXT NOT NULL,
  config_path TEXT NOT NULL,
  broadcast INTEGER NOT NULL
);
CREATE INDEX host_license_clients_agent ON host_license_clients(agent);

CREATE TABLE host_license_servers (
  agent INTEGER NOT NULL REFERENCES agents(id),
  client_position INTEGER NOT NULL,
  server TEXT NOT NULL
);
CREATE INDEX host_license_servers_agent ON host_license_servers(agent);

-- What a part of the inventory could not read and why ("hardware", "os", "network", "software",
-- "security").
CREATE TABLE host_unavailable (
  agent INTEGER NOT NULL REFERENCES agents(id),
  part TEXT NOT NULL,
  note TEXT NOT NULL
);
CREATE INDEX host_unavailable_agent ON host_unavailable(agent);
