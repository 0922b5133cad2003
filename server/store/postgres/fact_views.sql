-- The fact views on PostgreSQL: the same names, columns and values as the SQLite ones
-- (store/sqlite/fact_views.sql, the contract of docs/rule-language.md), created as TEMP views on
-- each rule session's own connection (store/postgres/pg_fact_source.cpp) over the store's tables,
-- which are resolved when the views are created (the session's search_path then leaves the
-- store's schema out). Differences in spelling only:
--   * revoked hosts are left out by `NOT EXISTS (... agents revoked WHERE revoked.id = x.agent AND
--     revoked.revoked_at IS NOT NULL)`, a probe of a partial index that is empty on most estates,
--     instead of a join with agents: the join made PostgreSQL multiply selectivities (with
--     org_id in it, it expected a few hundred rows where a window held 300,000) and rebuild
--     a hash per probe in rules' EXISTS subqueries. Views that read agents' columns still
--     join it, on the host alone (agents.id is unique across organisations, and each row's
--     org_id is its agent's by foreign key);
--   * booleans are CASE ... THEN 1 ELSE 0 (integers 0/1, as on SQLite);
--   * text columns are COLLATE "C": comparisons, ORDER BY, min/max read bytewise, as SQLite's
--     BINARY collation, whatever the database's locale;
--
-- {SCOPE:expr} is replaced by the source: with nothing on an estate session, and with
-- "AND expr IN (SELECT host_id FROM pg_temp.dozor_scope_hosts)" on a scoped session.
-- Revoked hosts are invisible to rules.

CREATE TEMP VIEW organizations AS
SELECT o.id AS org_id, o.name COLLATE "C" AS name, o.contract_type COLLATE "C" AS contract_type, o.contract_status COLLATE "C" AS contract_status, o.engineer COLLATE "C" AS engineer
FROM organizations o;

CREATE TEMP VIEW hosts AS
SELECT a.id AS host_id, a.org_id, a.agent_id COLLATE "C" AS agent_id, a.hostname COLLATE "C" AS hostname, a.agent_version COLLATE "C" AS agent_version,
       a.enrolled_at AS enrolled_at_ms, a.last_seen AS last_seen_ms,
       a.last_inventory_at AS last_inventory_ms, a.clock_offset_ms,
       (coalesce(os.role, 'unknown')) COLLATE "C" AS role,
       (coalesce(os.duties, '')) COLLATE "C" AS duties,
       CASE WHEN a.last_inventory_at > 0 THEN 1 ELSE 0 END AS has_inventory,
       -- source: 'agent' (a running agent) or 'import' (a one-shot snapshot file)
       a.source COLLATE "C" AS source
FROM agents a LEFT JOIN host_os os ON os.agent = a.id
WHERE a.revoked_at IS NULL {SCOPE:a.id};

CREATE TEMP VIEW os AS
SELECT os.agent AS host_id, os.os_id COLLATE "C" AS os_id, os.id_like COLLATE "C" AS id_like, os.family COLLATE "C" AS family, os.name COLLATE "C" AS name, os.version COLLATE "C" AS version, os.version_id COLLATE "C" AS version_id,
       os.pretty_name COLLATE "C" AS pretty_name, os.kernel COLLATE "C" AS kernel, os.architecture COLLATE "C" AS architecture, os.hostname COLLATE "C" AS hostname, os.fqdn COLLATE "C" AS fqdn, os.timezone COLLATE "C" AS timezone,
       os.boot_time AS boot_time_s, os.uptime_seconds AS uptime_s, os.clock_synchronized,
       os.clock_max_error_us, os.reboot_required, os.pending_updates,
       os.pending_security_updates, os.security_pending_since AS security_pending_since_ms,
       os.role COLLATE "C" AS role, os.machine_id COLLATE "C" AS machine_id, os.install_time AS install_time_s, os.edition COLLATE "C" AS edition, os.build COLLATE "C" AS build,
       os.activation COLLATE "C" AS activation, os.domain COLLATE "C" AS domain, os.workgroup COLLATE "C" AS workgroup, os.time_source COLLATE "C" AS time_source,
       os.last_update_install_time AS last_update_install_s, os.update_error COLLATE "C" AS update_error, os.product_type COLLATE "C" AS product_type,
       (coalesce(os.duties, '')) COLLATE "C" AS duties
FROM host_os os
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = os.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:os.agent};

CREATE TEMP VIEW hardware AS
SELECT h.agent AS host_id, h.cpu_model COLLATE "C" AS cpu_model, h.cpu_sockets, h.cpu_cores, h.cpu_threads,
       h.memory_total_bytes, h.system_vendor COLLATE "C" AS system_vendor, h.system_model COLLATE "C" AS system_model, h.system_serial COLLATE "C" AS system_serial, h.bios_vendor COLLATE "C" AS bios_vendor,
       h.bios_version COLLATE "C" AS bios_version, h.bios_date COLLATE "C" AS bios_date, h.chassis_type COLLATE "C" AS chassis_type, h.virtual_machine, h.hypervisor COLLATE "C" AS hypervisor,
       h.smartctl_available, h.cpu_vendor COLLATE "C" AS cpu_vendor, h.cpu_family, h.cpu_model_number, h.cpu_stepping,
       h.cpu_cache_kb, h.cpu_microcode COLLATE "C" AS cpu_microcode, h.swap_total_bytes, h.container COLLATE "C" AS container
FROM host_hardware h
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = h.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:h.agent};

CREATE TEMP VIEW disks AS
SELECT d.agent AS host_id, d.name COLLATE "C" AS name, d.model COLLATE "C" AS model, d.serial COLLATE "C" AS serial, d.size_bytes, d.rotational, d.removable,
       d.transport COLLATE "C" AS transport, d.smart_status COLLATE "C" AS smart_status, d.smart_message COLLATE "C" AS smart_message, d.power_on_hours, d.temperature_c,
       d.reallocated_sectors, d.pending_sectors, d.offline_uncorrectable, d.health COLLATE "C" AS health,
       d.wear_percent, d.media_type COLLATE "C" AS media_type, d.vendor COLLATE "C" AS vendor
FROM host_disks d
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = d.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:d.agent};

CREATE TEMP VIEW interfaces AS
SELECT i.agent AS host_id, i.name COLLATE "C" AS name, i.mac COLLATE "C" AS mac, i.mtu, i.state COLLATE "C" AS state, i.speed_mbps, i.duplex COLLATE "C" AS duplex, i.loopback,
       i.virtual
FROM host_interfaces i
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = i.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:i.agent};

CREATE TEMP VIEW addresses AS
SELECT x.agent AS host_id, x.interface COLLATE "C" AS interface, x.address COLLATE "C" AS address, x.prefix, x.family, x.loopback
FROM host_addresses x
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = x.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:x.agent};

CREATE TEMP VIEW gateways AS
SELECT g.agent AS host_id, g.address COLLATE "C" AS address, g.interface COLLATE "C" AS interface, g.family
FROM host_gateways g
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = g.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:g.agent};

CREATE TEMP VIEW dns_servers AS
SELECT d.agent AS host_id, d.position, d.server COLLATE "C" AS server
FROM host_dns d
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = d.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:d.agent};

-- all_addresses: bound to every address of the host (0.0.0.0, ::, *), i.e. reachable from the
-- network unless a firewall says otherwise; loopback_only: bound to 127.0.0.0/8 or ::1 only.
CREATE TEMP VIEW listeners AS
SELECT l.agent AS host_id, l.protocol COLLATE "C" AS protocol, l.family, l.address COLLATE "C" AS address, l.port, l.pid, l.process COLLATE "C" AS process, l.uid,
       CASE WHEN l.address IN ('0.0.0.0', '::', '*', '') THEN 1 ELSE 0 END AS all_addresses,
       CASE WHEN l.address LIKE '127.%' OR l.address = '::1' THEN 1 ELSE 0 END AS loopback_only
FROM host_listeners l
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = l.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:l.agent};

CREATE TEMP VIEW packages AS
SELECT p.agent AS host_id, p.name COLLATE "C" AS name, p.version COLLATE "C" AS version, p.architecture COLLATE "C" AS architecture, p.source COLLATE "C" AS source, p.vendor COLLATE "C" AS vendor,
       p.install_time AS install_time_s, p.held
FROM host_packages p
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = p.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:p.agent};

CREATE TEMP VIEW applications AS
SELECT x.agent AS host_id, x.name COLLATE "C" AS name, x.version COLLATE "C" AS version, x.architecture COLLATE "C" AS architecture, x.path COLLATE "C" AS path, x.kind COLLATE "C" AS kind, x.ports COLLATE "C" AS ports, x.state COLLATE "C" AS state
FROM host_applications x
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = x.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:x.agent};

CREATE TEMP VIEW services AS
SELECT s.agent AS host_id, s.name COLLATE "C" AS name, s.description COLLATE "C" AS description, s.load_state COLLATE "C" AS load_state, s.active_state COLLATE "C" AS active_state, s.sub_state COLLATE "C" AS sub_state,
       s.enabled COLLATE "C" AS enabled, s.account COLLATE "C" AS account, s.command COLLATE "C" AS command
FROM host_services s
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = s.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:s.agent};

-- Local accounts. kind 'user' (Linux: a login shell), 'group' (Windows: a domain group among the
-- Administrators), 'system' (Linux: no login shell, a service's or the system's account).
-- last_login_ms: the last login per lastlog and wtmp (Unix ms; 0 never, or not recorded), and
-- last_login_from the remote host or terminal; inventory_ms: when the inventory was collected.
CREATE TEMP VIEW users AS
SELECT u.agent AS host_id, u.name COLLATE "C" AS name, u.uid, u.shell COLLATE "C" AS shell, u.home COLLATE "C" AS home, u.administrator, u.disabled, u.kind COLLATE "C" AS kind,
       u.domain COLLATE "C" AS domain, u.gid, u.last_login * 1000 AS last_login_ms, u.last_login_from COLLATE "C" AS last_login_from,
       a.last_inventory_at AS inventory_ms
FROM host_users u JOIN agents a ON a.id = u.agent
WHERE a.revoked_at IS NULL {SCOPE:a.id};

-- How a host is protected: one row per host that reports it (Windows today). Tri-state
-- columns 1 yes, 0 no, -1 unknown; the password policy's numbers -1 when unknown.
CREATE TEMP VIEW security AS
SELECT s.agent AS host_id, s.remote_desktop, s.remote_desktop_nla, s.remote_desktop_port, s.smb1,
       s.password_min_length, s.password_max_age_days, s.lockout_threshold,
       s.password_complexity
FROM host_security s
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = s.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:s.agent};

CREATE TEMP VIEW antivirus AS
SELECT v.agent AS host_id, v.name COLLATE "C" AS name, v.enabled, v.up_to_date,
       v.signatures_updated AS signatures_updated_s, v.source COLLATE "C" AS source, v.version COLLATE "C" AS version
FROM host_antivirus v
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = v.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:v.agent};

CREATE TEMP VIEW firewall_profiles AS
SELECT f.agent AS host_id, f.name COLLATE "C" AS name, f.enabled
FROM host_firewall_profiles f
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = f.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:f.agent};

CREATE TEMP VIEW volumes AS
SELECT v.agent AS host_id, v.mount_point COLLATE "C" AS mount_point, v.label COLLATE "C" AS label, v.file_system COLLATE "C" AS file_system, v.size_bytes, v.free_bytes,
       v.kind COLLATE "C" AS kind, v.remote_path COLLATE "C" AS remote_path, v.encryption COLLATE "C" AS encryption
FROM host_volumes v
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = v.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:v.agent};

CREATE TEMP VIEW batteries AS
SELECT b.agent AS host_id, b.name COLLATE "C" AS name, b.design_capacity_mwh, b.full_charge_capacity_mwh,
       b.charge_percent, b.status COLLATE "C" AS status
FROM host_batteries b
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = b.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:b.agent};

CREATE TEMP VIEW memory_modules AS
SELECT m.agent AS host_id, m.slot COLLATE "C" AS slot, m.size_bytes, m.speed_mhz, m.manufacturer COLLATE "C" AS manufacturer, m.part_number COLLATE "C" AS part_number,
       m.serial COLLATE "C" AS serial
FROM host_memory_modules m
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = m.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:m.agent};

-- Entries of the users' 1C infobase lists; network_share: a file infobase in a folder on
-- another machine (a UNC path or a mapped network drive).
CREATE TEMP VIEW infobases AS
SELECT i.agent AS host_id, i.user_name COLLATE "C" AS user_name, i.name COLLATE "C" AS name, i.kind COLLATE "C" AS kind, i.location COLLATE "C" AS location, i.network_share, i.version COLLATE "C" AS version
FROM host_infobases i
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = i.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:i.agent};

CREATE TEMP VIEW license_clients AS
SELECT c.agent AS host_id, c.kind COLLATE "C" AS kind, c.config_path COLLATE "C" AS config_path, c.broadcast,
       (SELECT count(*) FROM host_license_servers s
        WHERE s.agent = c.agent AND s.client_position = c.position) AS server_count
FROM host_license_clients c
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = c.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:c.agent};

CREATE TEMP VIEW license_servers AS
SELECT c.agent AS host_id, c.kind COLLATE "C" AS kind, c.config_path COLLATE "C" AS config_path, s.server COLLATE "C" AS server
FROM host_license_servers s
  JOIN host_license_clients c ON c.agent = s.agent AND c.position = s.client_position
  JOIN agents a ON a.id = s.agent
WHERE a.revoked_at IS NULL {SCOPE:a.id};

-- The processes running when the inventory was collected (kernel threads left out).
CREATE TEMP VIEW processes AS
SELECT p.agent AS host_id, p.pid, p.name COLLATE "C" AS name, p.user_name COLLATE "C" AS user_name, p.rss_bytes, p.start_time * 1000 AS start_ms,
       p.command COLLATE "C" AS command
FROM host_processes p
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = p.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:p.agent};

-- Database server instances configured on the host (PostgreSQL today) and their pg_hba.conf
-- rules; listen_addresses as configured ('localhost' when not set), booleans 1/0.
-- databases_listed: 1 when psql listed the instance's databases (view databases), 0 unknown.
-- data_fs_*: the filesystem holding the data directory when the inventory was collected, bytes,
-- 0 unknown; largest_database_bytes: pg_database_size of its largest database, 0 unknown.
CREATE TEMP VIEW database_servers AS
SELECT d.agent AS host_id, d.kind COLLATE "C" AS kind, d.version COLLATE "C" AS version, d.config_path COLLATE "C" AS config_path, d.data_directory COLLATE "C" AS data_directory,
       d.listen_addresses COLLATE "C" AS listen_addresses, d.port, d.onec_build, d.autovacuum, d.running, d.hba_path COLLATE "C" AS hba_path,
       d.databases_listed, d.data_mount_point COLLATE "C" AS data_mount_point, d.data_fs_total_bytes, d.data_fs_available_bytes,
       coalesce((SELECT max(x.size_bytes) FROM host_database_databases x
                 WHERE x.agent = d.agent AND x.server_position = d.position), 0)
         AS largest_database_bytes
FROM host_database_servers d
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = d.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:d.agent};

CREATE TEMP VIEW database_hba AS
SELECT r.agent AS host_id, d.kind COLLATE "C" AS kind, d.port, d.hba_path COLLATE "C" AS hba_path, r.line, r.type COLLATE "C" AS type, r.database_name COLLATE "C" AS database_name,
       r.user_name COLLATE "C" AS user_name, r.address COLLATE "C" AS address, r.method COLLATE "C" AS method
FROM host_database_hba r
  JOIN host_database_servers d ON d.agent = r.agent AND d.position = r.server_position
  JOIN agents a ON a.id = r.agent
WHERE a.revoked_at IS NULL {SCOPE:a.id};

-- Backup jobs and catalogues the agent found (cron, systemd timers, pg_probackup / pgBackRest /
-- Barman catalogues) and how fresh each one's newest backup is. Times in Unix ms, 0 unknown;
-- last_status 'ok' | 'failed' | 'running' | '' (unknown); freshness_source 'catalog' |
-- 'service' | 'artefact' | ''. inventory_ms: when the inventory that reported it was
-- collected, the point in time the freshness was true.
CREATE TEMP VIEW backup_jobs AS
SELECT j.agent AS host_id, j.tool COLLATE "C" AS tool, j.source COLLATE "C" AS source, j.schedule COLLATE "C" AS schedule, j.target COLLATE "C" AS target, j.destination COLLATE "C" AS destination,
       j.last_success_time * 1000 AS last_success_ms, j.last_run_time * 1000 AS last_run_ms,
       j.last_status COLLATE "C" AS last_status, j.last_error COLLATE "C" AS last_error, j.freshness_source COLLATE "C" AS freshness_source, j.interval_seconds AS interval_s,
       a.last_inventory_at AS inventory_ms
FROM host_backup_jobs j JOIN agents a ON a.id = j.agent
WHERE a.revoked_at IS NULL {SCOPE:a.id};

-- The databases of the PostgreSQL instances as psql listed them (templates left out), and the
-- newest dump file the agent found whose name carries the database's name (in the destination
-- of the backup job newest_dump_job). size_bytes -1 unknown; newest_dump_ms 0 none.
CREATE TEMP VIEW databases AS
SELECT x.agent AS host_id, d.kind COLLATE "C" AS kind, d.port, x.name COLLATE "C" AS name, x.size_bytes,
       x.newest_dump_time * 1000 AS newest_dump_ms, x.newest_dump_path COLLATE "C" AS newest_dump_path, x.newest_dump_job COLLATE "C" AS newest_dump_job
FROM host_database_databases x
  JOIN host_database_servers d ON d.agent = x.agent AND d.position = x.server_position
  JOIN agents a ON a.id = x.agent
WHERE a.revoked_at IS NULL {SCOPE:a.id};

-- The newest successful backup of each database and what gave it, as the agent matched them
-- (it knows the dump files' names and the jobs' targets): an instance-level tool (pg_probackup,
-- pgBackRest, Barman, WAL-G, pg_basebackup, pg_dumpall) covers every database, a pg_dump job or
-- 1C upload the database it names, a dump file the database its name carries. last_backup_ms 0:
-- nothing with a known time covers it (source ''); interval_s: the giving job's interval, 0
-- unknown; covered_without_freshness 1: a job of unknown freshness (WAL-G to object storage)
-- covers it. inventory_ms: when the inventory was collected, the point the age is judged at.
CREATE TEMP VIEW database_backups AS
SELECT x.agent AS host_id, d.kind COLLATE "C" AS kind, d.port, x.name COLLATE "C" AS database, x.size_bytes,
       x.last_backup_time * 1000 AS last_backup_ms, x.last_backup_source COLLATE "C" AS source,
       x.last_backup_interval_seconds AS interval_s, x.covered_without_freshness,
       a.last_inventory_at AS inventory_ms
FROM host_database_databases x
  JOIN host_database_servers d ON d.agent = x.agent AND d.position = x.server_position
  JOIN agents a ON a.id = x.agent
WHERE a.revoked_at IS NULL {SCOPE:a.id};

-- The Linux host firewall (the kernel's netfilter ruleset, else what the enabled firewall service
-- loads at boot): one row per host whose agent read it or tried. backend 'nftables' | 'iptables'
-- | 'firewalld' | 'ufw' | '' (none readable, status says why);
-- input_policy 'accept' | 'drop' | '' unknown.
CREATE TEMP VIEW firewall_ruleset AS
SELECT f.agent AS host_id, f.backend COLLATE "C" AS backend, f.input_policy COLLATE "C" AS input_policy, f.status COLLATE "C" AS status, f.rule_count
FROM host_firewall f
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = f.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:f.agent};

-- Whether the host firewall admits new TCP connections to a listening port (and the usual
-- database ports), per address family 4/6: 'open' (from anywhere, or nothing filters),
-- 'restricted' (only from `sources`), 'closed', 'unknown' (the agent could not follow the
-- ruleset: treat as open). No row: not read (older agents, Windows, iptables or ufw and IPv6).
CREATE TEMP VIEW firewall_ports AS
SELECT p.agent AS host_id, p.family, p.protocol COLLATE "C" AS protocol, p.port, p.verdict COLLATE "C" AS verdict, p.sources COLLATE "C" AS sources, p.reason COLLATE "C" AS reason
FROM host_firewall_ports p
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = p.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:p.agent};

-- Storage arrays: md software RAID, ZFS pools, hardware RAID virtual drives. degraded is the
-- agent's verdict (a member missing or failed, a pool not ONLINE, a virtual drive not Optimal); a
-- check or scrub of a healthy array is not. sync_action '' idle | md 'resync' 'recover' 'check'
-- 'repair' 'reshape' | ZFS 'scrub' 'resilver'. members "sda1 in_sync, sdb1 faulty"; sizes in
-- bytes, 0 unknown; last_scrub_ms 0 unknown.
CREATE TEMP VIEW storage_arrays AS
SELECT s.agent AS host_id, s.kind COLLATE "C" AS kind, s.name COLLATE "C" AS name, s.level COLLATE "C" AS level, s.state COLLATE "C" AS state, s.degraded, s.sync_action COLLATE "C" AS sync_action,
       s.sync_percent, s.size_bytes, s.free_bytes, s.errors COLLATE "C" AS errors,
       s.last_scrub_time * 1000 AS last_scrub_ms, s.controller COLLATE "C" AS controller, s.devices_expected,
       s.devices_active, s.members COLLATE "C" AS members, s.failed_members
FROM host_storage_arrays s
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = s.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:s.agent};

-- UPSes the host watches through NUT or apcupsd. status in NUT's words ('OL', 'OB DISCHRG',
-- 'OL CHRG LB', '' unknown); battery_charge_pct and runtime_s -1 unknown; monitored: upsmon or
-- apcupsd would shut the host down cleanly.
CREATE TEMP VIEW ups AS
SELECT u.agent AS host_id, u.daemon COLLATE "C" AS daemon, u.name COLLATE "C" AS name, u.model COLLATE "C" AS model, u.status COLLATE "C" AS status, u.on_battery, u.low_battery,
       u.battery_charge_pct, u.runtime_seconds AS runtime_s, u.monitored, u.source COLLATE "C" AS source
FROM host_ups u
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = u.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:u.agent};

-- The hosts whose agent looked for UPS monitoring (Linux agents that know how): only there does
-- an empty ups view mean "no UPS monitoring" rather than "not known".
CREATE TEMP VIEW power_checked AS
SELECT p.agent AS host_id
FROM host_power p
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = p.agent AND revoked.revoked_at IS NOT NULL) AND p.checked = 1 {SCOPE:p.agent};

-- The running 1C:Enterprise server agents (ragent) and their ports, cluster registry and what
-- rac could say ('ok', 'no rac', 'no ras', 'failed: ...', '' not tried). Times in Unix ms.
CREATE TEMP VIEW onec_server_agents AS
SELECT x.agent AS host_id, x.pid, x.version COLLATE "C" AS version, x.user_name COLLATE "C" AS user_name, x.start_time * 1000 AS start_ms,
       x.agent_port, x.manager_port, x.range_first, x.range_last, x.registry_path COLLATE "C" AS registry_path,
       x.restarted_workers, x.rac_status COLLATE "C" AS rac_status, a.last_inventory_at AS inventory_ms
FROM host_onec_agents x JOIN agents a ON a.id = x.agent
WHERE a.revoked_at IS NULL {SCOPE:a.id};

-- The cluster's manager (rmngr) and working (rphost) processes, with their agent's start time (a
-- working process started well after it was restarted or added) and the host's memory.
CREATE TEMP VIEW onec_server_processes AS
SELECT p.agent AS host_id, p.role COLLATE "C" AS role, p.pid, p.version COLLATE "C" AS version, p.rss_bytes, p.start_time * 1000 AS start_ms,
       x.pid AS agent_pid, x.start_time * 1000 AS agent_start_ms,
       coalesce(h.memory_total_bytes, 0) AS memory_total_bytes,
       a.last_inventory_at AS inventory_ms
FROM host_onec_processes p
  JOIN host_onec_agents x ON x.agent = p.agent AND x.position = p.agent_position
  JOIN agents a ON a.id = p.agent
  LEFT JOIN host_hardware h ON h.agent = p.agent
WHERE a.revoked_at IS NULL {SCOPE:a.id};

-- The clusters rac listed: admin_configured 1 yes, 0 none (anyone who reaches the cluster can
-- administer it), -1 unknown; lifetime_limit seconds and max_memory_size bytes, 0 none;
-- infobase_count -1 unknown.
CREATE TEMP VIEW onec_clusters AS
SELECT c.agent AS host_id, x.version COLLATE "C" AS version, x.agent_port, c.cluster_id COLLATE "C" AS cluster_id, c.name COLLATE "C" AS name, c.host COLLATE "C" AS host, c.port,
       c.lifetime_limit, c.max_memory_size, c.security_level, c.admin_configured, c.admins COLLATE "C" AS admins,
       c.infobase_count
FROM host_onec_clusters c
  JOIN host_onec_agents x ON x.agent = c.agent AND x.position = c.agent_position
  JOIN agents a ON a.id = c.agent
WHERE a.revoked_at IS NULL {SCOPE:a.id};

-- Technological log configurations (logcfg.xml): one row per <log> element (enabled 1), or one
-- with enabled 0 for a file without one. history_hours as configured (1C's default 24);
-- size_bytes of the log directory now, size_complete 0 when that is only a lower bound.
CREATE TEMP VIEW onec_tech_logs AS
SELECT t.agent AS host_id, t.config_path COLLATE "C" AS config_path, t.enabled, t.location COLLATE "C" AS location, t.history_hours, t.size_bytes,
       t.size_complete, t.events
FROM host_onec_tech_logs t
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = t.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:t.agent};

-- 1C licensing: kind 'licence_file' (a software licence, bound to the machine's hardware; name
-- its path) or 'hasp_manager' (a running HASP licence manager process; name the process).
CREATE TEMP VIEW onec_licensing AS
SELECT l.agent AS host_id, l.kind COLLATE "C" AS kind, l.name COLLATE "C" AS name
FROM host_onec_licensing l
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = l.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:l.agent};

-- The change log (what `dozorctl host changes` shows): category 'hardware', 'network', 'os', ...,
-- action 'added' | 'removed' | 'changed' | ..., at_ms when the inventory that showed it arrived.
-- Rules judge a window of it against :now_ms.
CREATE TEMP VIEW change_log AS
SELECT c.agent AS host_id, c.at AS at_ms, c.category COLLATE "C" AS category, c.action COLLATE "C" AS action, c.subject COLLATE "C" AS subject, c.old_value COLLATE "C" AS old_value,
       c.new_value COLLATE "C" AS new_value
FROM inventory_changes c
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = c.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:c.agent};
-- Package repositories configured (APT sources, enabled YUM/DNF repositories). official: 1 for
-- the distribution's own archive or a mirror of it, 0 for a third party's (a vendor such as
-- apt.postgresql.org or 1C, a PPA, EPEL, a local repository). enabled: 0 for a deb822 source
-- with "Enabled: no".
CREATE TEMP VIEW repositories AS
SELECT r.agent AS host_id, r.manager COLLATE "C" AS manager, r.file COLLATE "C" AS file, r.name COLLATE "C" AS name, r.kind COLLATE "C" AS kind, r.uri COLLATE "C" AS uri, r.suite COLLATE "C" AS suite, r.components COLLATE "C" AS components,
       r.enabled, r.official
FROM host_repositories r
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = r.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:r.agent};
-- PCI functions and the driver bound to each ('' none): class_name 'SATA controller',
-- 'Ethernet controller', 'VGA compatible controller', 'USB controller', 'PCI bridge', ...;
-- vendor_name and device_name per the host's pci.ids ('' when it does not list them).
CREATE TEMP VIEW pci_devices AS
SELECT p.agent AS host_id, p.address COLLATE "C" AS address, p.vendor_id COLLATE "C" AS vendor_id, p.device_id COLLATE "C" AS device_id, p.class_code COLLATE "C" AS class_code, p.class_name COLLATE "C" AS class_name,
       p.subsystem_vendor_id COLLATE "C" AS subsystem_vendor_id, p.subsystem_device_id COLLATE "C" AS subsystem_device_id, p.driver COLLATE "C" AS driver, p.vendor_name COLLATE "C" AS vendor_name, p.device_name COLLATE "C" AS device_name
FROM host_pci_devices p
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = p.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:p.agent};

-- Local groups (Linux /etc/group); administrator 1 for sudo, wheel and admin.
CREATE TEMP VIEW local_groups AS
SELECT g.agent AS host_id, g.name COLLATE "C" AS name, g.gid, g.administrator
FROM host_groups g
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = g.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:g.agent};

-- Who is in each local group: one row per (group, member); primary_group 1 when it is the
-- account's primary group (passwd's gid) rather than only a name in the member list.
CREATE TEMP VIEW group_members AS
SELECT m.agent AS host_id, m.group_name COLLATE "C" AS group_name, m.member COLLATE "C" AS member, m.primary_group
FROM host_group_members m
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = m.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:m.agent};

-- What a part of the inventory ('hardware', 'os', 'network', 'software', 'security') could not
-- read, and why.
CREATE TEMP VIEW unavailable AS
SELECT u.agent AS host_id, u.part COLLATE "C" AS part, u.note COLLATE "C" AS note
FROM host_unavailable u
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = u.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:u.agent};

CREATE TEMP VIEW collectors AS
SELECT c.agent AS host_id, c.name COLLATE "C" AS name, c.ok, c.error COLLATE "C" AS error, c.duration_ms, c.at AS at_ms
FROM host_collectors c
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = c.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:c.agent};

-- Recent health (the rule window, by default the last 30 minutes). at_ms is the agent's
-- collected_at; compare with :now_ms.
CREATE TEMP VIEW health AS
SELECT h.agent AS host_id, h.at AS at_ms, h.cpu_pct, h.iowait_pct, h.load1, h.load5, h.load15,
       h.mem_total_bytes, h.mem_available_bytes, h.mem_used_pct, h.swap_total_bytes,
       h.swap_used_pct, h.process_count, h.clock_offset_ms
FROM rule_health_host h
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = h.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:h.agent};

CREATE TEMP VIEW health_fs AS
SELECT f.agent AS host_id, f.at AS at_ms, f.mount COLLATE "C" AS mount, f.device COLLATE "C" AS device, f.fs_type COLLATE "C" AS fs_type, f.total_bytes,
       f.avail_bytes, f.used_pct, f.inodes_total, f.inodes_used_pct
FROM rule_health_fs f
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = f.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:f.agent};

-- Only samples in which the interface had errors or drops are kept (sums over a window are
-- exact; counting rows does not count samples: use the health view for that).
CREATE TEMP VIEW health_nic AS
SELECT n.agent AS host_id, n.at AS at_ms, n.interface COLLATE "C" AS interface, n.rx_errors, n.tx_errors, n.rx_dropped,
       n.tx_dropped
FROM rule_health_nic n
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = n.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:n.agent};

-- The newest sample of each host (and of each of its filesystems): cheap "is it over the line
-- right now" prefilters for window rules over the whole estate (see disk-space-low.toml).
-- Joined from agents: one primary-key seek per host, never a scan of the
-- whole window table.
CREATE TEMP VIEW health_latest AS
SELECT h.agent AS host_id, h.at AS at_ms, h.cpu_pct, h.iowait_pct, h.load1, h.load5, h.load15,
       h.mem_total_bytes, h.mem_available_bytes, h.mem_used_pct, h.swap_total_bytes,
       h.swap_used_pct, h.process_count, h.clock_offset_ms
FROM agents a JOIN rule_health_host h ON h.agent = a.id AND h.at = a.last_health_at
WHERE a.revoked_at IS NULL {SCOPE:a.id};

CREATE TEMP VIEW health_fs_latest AS
SELECT f.agent AS host_id, f.at AS at_ms, f.mount COLLATE "C" AS mount, f.device COLLATE "C" AS device, f.fs_type COLLATE "C" AS fs_type, f.total_bytes,
       f.avail_bytes, f.used_pct, f.inodes_total, f.inodes_used_pct
FROM agents a JOIN rule_health_fs f ON f.agent = a.id AND f.at = a.last_health_at
WHERE a.revoked_at IS NULL {SCOPE:a.id};

-- Hourly filesystem points for the last two days (growth trends).
CREATE TEMP VIEW fs_trend AS
SELECT t.agent AS host_id, t.mount COLLATE "C" AS mount, t.hour AS hour_ms, t.at AS at_ms, t.total_bytes,
       t.avail_bytes, (t.total_bytes - t.avail_bytes) AS used_bytes
FROM rule_fs_trend t
WHERE NOT EXISTS (SELECT 1 FROM agents revoked WHERE revoked.id = t.agent AND revoked.revoked_at IS NOT NULL) {SCOPE:t.agent};
