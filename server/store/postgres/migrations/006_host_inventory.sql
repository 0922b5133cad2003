-- The hosts area's normalised inventory: one table per part of an agent's inventory, replaced
-- whole with each committed inventory (pg_inventory_rows.cpp, like SQLite's ReplaceHostRows) and
-- read by the rule engine's fact views and the host lists. Column names and meanings are
-- SQLite's (its migrations 001-025); the raw inventory itself (host_inventory_blob), the change
-- log and health live elsewhere.
--
-- Types: SQLite INTEGER -> bigint, REAL -> double precision, TEXT -> text. Flags stay 0/1
-- bigints, not booleans, so rule SQL comparing them to 0 and 1 reads the same on both backends.
-- A table with several rows per host numbers them in `ordinal` (insertion order from 1, what
-- SQLite's rowid order gives); a table with at most one row per host is keyed by the host.
-- Primary keys lead with (org_id, agent), so a read of one host or one organisation is an index
-- range: fact views and per-host reads should join and filter on both columns
-- (t.org_id = a.org_id AND t.agent = a.id); a filter on agent alone cannot use the key.

CREATE TABLE host_os (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  os_id text NOT NULL,
  id_like text NOT NULL,
  family text NOT NULL,
  name text NOT NULL,
  version text NOT NULL,
  version_id text NOT NULL,
  pretty_name text NOT NULL,
  kernel text NOT NULL,
  architecture text NOT NULL,
  hostname text NOT NULL,
  fqdn text NOT NULL,
  timezone text NOT NULL,
  boot_time bigint NOT NULL,
  reboot_required bigint NOT NULL,
  pending_updates bigint NOT NULL,
  pending_security_updates bigint NOT NULL,
  machine_id text NOT NULL,
  uptime_seconds bigint NOT NULL DEFAULT 0,
  -- 1 synchronised, 0 not, -1 unknown (as the agent reports it).
  clock_synchronized bigint NOT NULL DEFAULT -1,
  clock_max_error_us bigint NOT NULL DEFAULT -1,
  security_pending_since bigint NOT NULL DEFAULT 0,
  -- Classified by the store from the inventory (domain/host_role.cpp).
  role text NOT NULL DEFAULT 'server'
    CONSTRAINT host_os_role CHECK (role IN ('server', 'workstation')),
  install_time bigint NOT NULL DEFAULT 0,
  edition text NOT NULL DEFAULT '',
  build text NOT NULL DEFAULT '',
  activation text NOT NULL DEFAULT '',
  domain text NOT NULL DEFAULT '',
  workgroup text NOT NULL DEFAULT '',
  time_source text NOT NULL DEFAULT '',
  last_update_install_time bigint NOT NULL DEFAULT 0,
  update_error text NOT NULL DEFAULT '',
  product_type text NOT NULL DEFAULT '',
  -- Always written with the row here (SQLite's NULL only marked rows from before migration 024).
  duties text NOT NULL DEFAULT ''
    CONSTRAINT host_os_duties CHECK (duties IN ('', 'database', 'onec', 'database,onec')),
  PRIMARY KEY (org_id, agent),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_hardware (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  cpu_model text NOT NULL,
  cpu_sockets bigint NOT NULL,
  cpu_cores bigint NOT NULL,
  cpu_threads bigint NOT NULL,
  memory_total_bytes bigint NOT NULL,
  system_vendor text NOT NULL,
  system_model text NOT NULL,
  system_serial text NOT NULL,
  bios_vendor text NOT NULL,
  bios_version text NOT NULL,
  bios_date text NOT NULL,
  virtual_machine bigint NOT NULL,
  hypervisor text NOT NULL,
  chassis_type text NOT NULL DEFAULT '',
  smartctl_available bigint NOT NULL DEFAULT 0,
  cpu_vendor text NOT NULL DEFAULT '',
  cpu_family bigint NOT NULL DEFAULT 0,
  cpu_model_number bigint NOT NULL DEFAULT 0,
  cpu_stepping bigint NOT NULL DEFAULT 0,
  cpu_cache_kb bigint NOT NULL DEFAULT 0,
  cpu_microcode text NOT NULL DEFAULT '',
  swap_total_bytes bigint NOT NULL DEFAULT 0,
  container text NOT NULL DEFAULT '',
  PRIMARY KEY (org_id, agent),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_disks (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  name text NOT NULL,
  model text NOT NULL,
  serial text NOT NULL,
  size_bytes bigint NOT NULL,
  rotational bigint NOT NULL,
  transport text NOT NULL,
  smart_status text NOT NULL,
  power_on_hours bigint NOT NULL,
  temperature_c bigint NOT NULL,
  removable bigint NOT NULL DEFAULT 0,
  smart_message text NOT NULL DEFAULT '',
  reallocated_sectors bigint NOT NULL DEFAULT -1,
  pending_sectors bigint NOT NULL DEFAULT -1,
  offline_uncorrectable bigint NOT NULL DEFAULT -1,
  health text NOT NULL DEFAULT '',
  wear_percent bigint NOT NULL DEFAULT -1,
  media_type text NOT NULL DEFAULT '',
  vendor text NOT NULL DEFAULT '',
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_interfaces (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  name text NOT NULL,
  mac text NOT NULL,
  mtu bigint NOT NULL,
  state text NOT NULL,
  speed_mbps bigint NOT NULL,
  loopback bigint NOT NULL,
  virtual bigint NOT NULL,
  duplex text NOT NULL DEFAULT '',
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_addresses (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  interface text NOT NULL,
  address text NOT NULL,
  prefix bigint NOT NULL,
  family bigint NOT NULL,
  loopback bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_gateways (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  address text NOT NULL,
  interface text NOT NULL,
  family bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_dns (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  position bigint NOT NULL,
  server text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_listeners (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  protocol text NOT NULL,
  family bigint NOT NULL,
  address text NOT NULL,
  port bigint NOT NULL,
  pid bigint NOT NULL,
  process text NOT NULL,
  uid bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_packages (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  name text NOT NULL,
  version text NOT NULL,
  architecture text NOT NULL,
  source text NOT NULL,
  vendor text NOT NULL,
  install_time bigint NOT NULL,
  held bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_applications (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  name text NOT NULL,
  version text NOT NULL,
  architecture text NOT NULL,
  path text NOT NULL,
  kind text NOT NULL,
  ports text NOT NULL DEFAULT '',
  state text NOT NULL DEFAULT '',
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_services (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  name text NOT NULL,
  description text NOT NULL,
  load_state text NOT NULL,
  active_state text NOT NULL,
  sub_state text NOT NULL,
  enabled text NOT NULL,
  account text NOT NULL DEFAULT '',
  command text NOT NULL DEFAULT '',
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_users (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  name text NOT NULL,
  uid bigint NOT NULL,
  shell text NOT NULL,
  home text NOT NULL,
  administrator bigint NOT NULL,
  disabled bigint NOT NULL DEFAULT 0,
  kind text NOT NULL DEFAULT 'user',
  domain text NOT NULL DEFAULT '',
  last_login bigint NOT NULL DEFAULT 0,
  last_login_from text NOT NULL DEFAULT '',
  gid bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_security (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  remote_desktop bigint NOT NULL,
  remote_desktop_nla bigint NOT NULL,
  remote_desktop_port bigint NOT NULL,
  smb1 bigint NOT NULL,
  password_min_length bigint NOT NULL,
  password_max_age_days bigint NOT NULL,
  lockout_threshold bigint NOT NULL,
  password_complexity bigint NOT NULL,
  PRIMARY KEY (org_id, agent),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_antivirus (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  name text NOT NULL,
  enabled bigint NOT NULL,
  up_to_date bigint NOT NULL,
  signatures_updated bigint NOT NULL,
  source text NOT NULL,
  version text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_firewall_profiles (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  name text NOT NULL,
  enabled bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_volumes (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  mount_point text NOT NULL,
  label text NOT NULL,
  file_system text NOT NULL,
  size_bytes bigint NOT NULL,
  free_bytes bigint NOT NULL,
  kind text NOT NULL,
  remote_path text NOT NULL,
  encryption text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_batteries (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  name text NOT NULL,
  design_capacity_mwh bigint NOT NULL,
  full_charge_capacity_mwh bigint NOT NULL,
  charge_percent bigint NOT NULL,
  status text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_memory_modules (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  slot text NOT NULL,
  size_bytes bigint NOT NULL,
  speed_mhz bigint NOT NULL,
  manufacturer text NOT NULL,
  part_number text NOT NULL,
  serial text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_infobases (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  user_name text NOT NULL,
  name text NOT NULL,
  kind text NOT NULL,
  location text NOT NULL,
  network_share bigint NOT NULL,
  version text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_license_clients (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  position bigint NOT NULL,
  kind text NOT NULL,
  config_path text NOT NULL,
  broadcast bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_license_servers (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  client_position bigint NOT NULL,
  server text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_unavailable (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  part text NOT NULL,
  note text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_backup_jobs (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  tool text NOT NULL,
  source text NOT NULL,
  schedule text NOT NULL,
  target text NOT NULL,
  destination text NOT NULL,
  last_success_time bigint NOT NULL,
  last_run_time bigint NOT NULL,
  last_status text NOT NULL,
  last_error text NOT NULL,
  freshness_source text NOT NULL,
  interval_seconds bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_processes (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  pid bigint NOT NULL,
  name text NOT NULL,
  user_name text NOT NULL,
  rss_bytes bigint NOT NULL,
  start_time bigint NOT NULL,
  command text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_database_servers (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  position bigint NOT NULL,
  kind text NOT NULL,
  version text NOT NULL,
  config_path text NOT NULL,
  data_directory text NOT NULL,
  listen_addresses text NOT NULL,
  port bigint NOT NULL,
  onec_build bigint NOT NULL,
  autovacuum bigint NOT NULL,
  running bigint NOT NULL,
  hba_path text NOT NULL,
  databases_listed bigint NOT NULL DEFAULT 0,
  data_mount_point text NOT NULL DEFAULT '',
  data_fs_total_bytes bigint NOT NULL DEFAULT 0,
  data_fs_available_bytes bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_database_hba (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  server_position bigint NOT NULL,
  line bigint NOT NULL,
  type text NOT NULL,
  database_name text NOT NULL,
  user_name text NOT NULL,
  address text NOT NULL,
  method text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_storage_arrays (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  kind text NOT NULL,
  name text NOT NULL,
  level text NOT NULL,
  state text NOT NULL,
  degraded bigint NOT NULL,
  sync_action text NOT NULL,
  sync_percent double precision NOT NULL,
  size_bytes bigint NOT NULL,
  free_bytes bigint NOT NULL,
  errors text NOT NULL,
  last_scrub_time bigint NOT NULL,
  controller text NOT NULL,
  devices_expected bigint NOT NULL,
  devices_active bigint NOT NULL,
  members text NOT NULL,
  failed_members bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_ups (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  daemon text NOT NULL,
  name text NOT NULL,
  model text NOT NULL,
  status text NOT NULL,
  on_battery bigint NOT NULL,
  low_battery bigint NOT NULL,
  battery_charge_pct double precision NOT NULL,
  runtime_seconds bigint NOT NULL,
  monitored bigint NOT NULL,
  source text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_power (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  checked bigint NOT NULL,
  PRIMARY KEY (org_id, agent),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_onec_agents (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  position bigint NOT NULL,
  pid bigint NOT NULL,
  version text NOT NULL,
  user_name text NOT NULL,
  start_time bigint NOT NULL,
  agent_port bigint NOT NULL,
  manager_port bigint NOT NULL,
  range_first bigint NOT NULL,
  range_last bigint NOT NULL,
  registry_path text NOT NULL,
  restarted_workers bigint NOT NULL,
  rac_status text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_onec_processes (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  agent_position bigint NOT NULL,
  role text NOT NULL,
  pid bigint NOT NULL,
  version text NOT NULL,
  rss_bytes bigint NOT NULL,
  start_time bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_onec_clusters (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  agent_position bigint NOT NULL,
  cluster_id text NOT NULL,
  name text NOT NULL,
  host text NOT NULL,
  port bigint NOT NULL,
  lifetime_limit bigint NOT NULL,
  max_memory_size bigint NOT NULL,
  security_level bigint NOT NULL,
  admin_configured bigint NOT NULL,
  admins text NOT NULL,
  infobase_count bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_onec_tech_logs (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  config_path text NOT NULL,
  enabled bigint NOT NULL,
  location text NOT NULL,
  history_hours bigint NOT NULL,
  size_bytes bigint NOT NULL,
  size_complete bigint NOT NULL,
  events bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_onec_licensing (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  kind text NOT NULL,
  name text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_repositories (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  manager text NOT NULL,
  file text NOT NULL,
  name text NOT NULL,
  kind text NOT NULL,
  uri text NOT NULL,
  suite text NOT NULL,
  components text NOT NULL,
  enabled bigint NOT NULL,
  official bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_pci_devices (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  address text NOT NULL,
  vendor_id text NOT NULL,
  device_id text NOT NULL,
  class_code text NOT NULL,
  class_name text NOT NULL,
  subsystem_vendor_id text NOT NULL,
  subsystem_device_id text NOT NULL,
  driver text NOT NULL,
  vendor_name text NOT NULL,
  device_name text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_groups (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  name text NOT NULL,
  gid bigint NOT NULL,
  administrator bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_group_members (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  group_name text NOT NULL,
  member text NOT NULL,
  primary_group bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_database_databases (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  server_position bigint NOT NULL,
  name text NOT NULL,
  size_bytes bigint NOT NULL,
  newest_dump_time bigint NOT NULL,
  newest_dump_path text NOT NULL,
  newest_dump_job text NOT NULL,
  last_backup_time bigint NOT NULL,
  last_backup_source text NOT NULL,
  last_backup_interval_seconds bigint NOT NULL,
  covered_without_freshness bigint NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_firewall (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  backend text NOT NULL,
  input_policy text NOT NULL,
  status text NOT NULL,
  rule_count bigint NOT NULL,
  PRIMARY KEY (org_id, agent),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

CREATE TABLE host_firewall_ports (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  ordinal integer NOT NULL,
  family bigint NOT NULL,
  protocol text NOT NULL,
  port bigint NOT NULL,
  verdict text NOT NULL CONSTRAINT host_firewall_ports_verdict
    CHECK (verdict IN ('open', 'restricted', 'closed', 'unknown')),
  sources text NOT NULL,
  reason text NOT NULL,
  PRIMARY KEY (org_id, agent, ordinal),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

-- The latest status of each collector per host (not part of the inventory's replace: every
-- report, health or inventory, upserts it).
CREATE TABLE host_collectors (
  org_id bigint NOT NULL,
  agent bigint NOT NULL,
  name text NOT NULL,
  ok bigint NOT NULL,
  error text NOT NULL,
  duration_ms bigint NOT NULL,
  at bigint NOT NULL,
  PRIMARY KEY (org_id, agent, name),
  FOREIGN KEY (org_id, agent) REFERENCES agents(org_id, id)
);

-- Lookups across hosts (search, "hosts with package X", duplicate serials); the per-host ones
-- use the primary keys.
CREATE INDEX host_addresses_address ON host_addresses(address text_pattern_ops);
CREATE INDEX host_packages_name ON host_packages(name);
-- SQLite compares serials COLLATE NOCASE: queries here compare lower(serial) = lower($n).
CREATE INDEX host_hardware_serial ON host_hardware(lower(system_serial));
CREATE INDEX host_disks_serial ON host_disks(lower(serial));
CREATE INDEX host_services_enabled_inactive ON host_services(org_id, agent, name)
  WHERE active_state = 'inactive' AND enabled = 'enabled';
CREATE INDEX host_services_failed ON host_services(org_id, agent, name)
  WHERE active_state = 'failed';
