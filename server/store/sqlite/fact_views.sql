-- The fact views rule conditions query: the stable, documented contract between the rule pack
-- and the store (docs/rule-language.md). Column names here are the rule language; the store's
-- own tables may change underneath. Created as TEMP views on the rule engine's read-only
-- connections, so they never touch the database file.
--
-- {SCOPE:expr} is replaced by the engine: with nothing on the estate-wide connection, and with
-- "AND expr IN (SELECT host_id FROM temp.scope_hosts)" on the scoped connection, which evaluates
-- one host (per-host rules) or one organisation's hosts (estate-wide rules).
-- Revoked hosts are invisible to rules.

CREATE TEMP VIEW organizations AS
SELECT o.id AS org_id, o.name, o.contract_type, o.contract_status, o.engineer
FROM main.organizations o;

CREATE TEMP VIEW hosts AS
SELECT a.id AS host_id, a.org_id, a.agent_id, a.hostname, a.agent_version,
       a.enrolled_at AS enrolled_at_ms, a.last_seen AS last_seen_ms,
       a.last_inventory_at AS last_inventory_ms, a.clock_offset_ms,
       coalesce(os.role, 'unknown') AS role,
       coalesce(os.duties, '') AS duties,
       (a.last_inventory_at > 0) AS has_inventory,
       a.source  -- 'agent' (a running agent) or 'import' (a one-shot snapshot file)
FROM main.agents a LEFT JOIN main.host_os os ON os.agent = a.id
WHERE a.revoked_at IS NULL {SCOPE:a.id};

CREATE TEMP VIEW os AS
SELECT os.agent AS host_id, os.os_id, os.id_like, os.family, os.name, os.version, os.version_id,
       os.pretty_name, os.kernel, os.architecture, os.hostname, os.fqdn, os.timezone,
       os.boot_time AS boot_time_s, os.uptime_seconds AS uptime_s, os.clock_synchronized,
       os.clock_max_error_us, os.reboot_required, os.pending_updates,
       os.pending_security_updates, os.security_pending_since AS security_pending_since_ms,
       os.role, os.machine_id, os.install_time AS install_time_s, os.edition, os.build,
       os.activation, os.domain, os.workgroup, os.time_source,
       os.last_update_install_time AS last_update_install_s, os.update_error, os.product_type,
       coalesce(os.duties, '') AS duties
FROM main.host_os os JOIN main.agents a ON a.id = os.agent
WHERE a.revoked_at IS NULL {SCOPE:os.agent};

CREATE TEMP VIEW hardware AS
SELECT h.agent AS host_id, h.cpu_model, h.cpu_sockets, h.cpu_cores, h.cpu_threads,
       h.memory_total_bytes, h.system_vendor, h.system_model, h.system_serial, h.bios_vendor,
       h.bios_version, h.bios_date, h.chassis_type, h.virtual_machine, h.hypervisor,
       h.smartctl_available, h.cpu_vendor, h.cpu_family, h.cpu_model_number, h.cpu_stepping,
       h.cpu_cache_kb, h.cpu_microcode, h.swap_total_bytes, h.container
FROM main.host_hardware h JOIN main.agents a ON a.id = h.agent
WHERE a.revoked_at IS NULL {SCOPE:h.agent};

CREATE TEMP VIEW disks AS
SELECT d.agent AS host_id, d.name, d.model, d.serial, d.size_bytes, d.rotational, d.removable,
       d.transport, d.smart_status, d.smart_message, d.power_on_hours, d.temperature_c,
       d.reallocated_sectors, d.pending_sectors, d.offline_uncorrectable, d.health,
       d.wear_percent, d.media_type, d.vendor
FROM main.host_disks d JOIN main.agents a ON a.id = d.agent
WHERE a.revoked_at IS NULL {SCOPE:d.agent};

CREATE TEMP VIEW interfaces AS
SELECT i.agent AS host_id, i.name, i.mac, i.mtu, i.state, i.speed_mbps, i.duplex, i.loopback,
       i.virtual
FROM main.host_interfaces i JOIN main.agents a ON a.id = i.agent
WHERE a.revoked_at IS NULL {SCOPE:i.agent};

CREATE TEMP VIEW addresses AS
SELECT x.agent AS host_id, x.interface, x.address, x.prefix, x.family, x.loopback
FROM main.host_addresses x JOIN main.agents a ON a.id = x.agent
WHERE a.revoked_at IS NULL {SCOPE:x.agent};

CREATE TEMP VIEW gateways AS
SELECT g.agent AS host_id, g.address, g.interface, g.family
FROM main.host_gateways g JOIN main.agents a ON a.id = g.agent
WHERE a.revoked_at IS NULL {SCOPE:g.agent};

CREATE TEMP VIEW dns_servers AS
SELECT d.agent AS host_id, d.position, d.server
FROM main.host_dns d JOIN main.agents a ON a.id = d.agent
WHERE a.revoked_at IS NULL {SCOPE:d.agent};

-- all_addresses: bound to every address of the host (0.0.0.0, ::, *), i.e. reachable from the
-- network unless a firewall says otherwise; loopback_only: bound to 127.0.0.0/8 or ::1 only.
CREATE TEMP VIEW listeners AS
SELECT l.agent AS host_id, l.protocol, l.family, l.address, l.port, l.pid, l.process, l.uid,
       (l.address IN ('0.0.0.0', '::', '*', '')) AS all_addresses,
       (l.address LIKE '127.%' OR l.address = '::1') AS loopback_only
FROM main.host_listeners l JOIN main.agents a ON a.id = l.agent
WHERE a.revoked_at IS NULL {SCOPE:l.agent};

CREATE TEMP VIEW packages AS
SELECT p.agent AS host_id, p.name, p.version, p.architecture, p.source, p.vendor,
       p.install_time AS install_time_s, p.held
FROM main.host_packages p JOIN main.agents a ON a.id = p.agent
WHERE a.revoked_at IS NULL {SCOPE:p.agent};

CREATE TEMP VIEW applications AS
SELECT x.agent AS host_id, x.name, x.version, x.architecture, x.path, x.kind, x.ports, x.state
FROM main.host_applications x JOIN main.agents a ON a.id = x.agent
WHERE a.revoked_at IS NULL {SCOPE:x.agent};

CREATE TEMP VIEW services AS
SELECT s.agent AS host_id, s.name, s.description, s.load_state, s.active_state, s.sub_state,
       s.enabled, s.account, s.command
FROM main.host_services s JOIN main.agents a ON a.id = s.agent
WHERE a.revoked_at IS NULL {SCOPE:s.agent};

-- Local accounts. kind 'user' (Linux: a login shell), 'group' (Windows: a domain group among the
-- Administrators), 'system' (Linux: no login shell, a service's or the system's account).
-- last_login_ms: the last login per lastlog and wtmp (Unix ms; 0 never, or not recorded), and
-- last_login_from the remote host or terminal; inventory_ms: when the inventory was collected.
CREATE TEMP VIEW users AS
SELECT u.agent AS host_id, u.name, u.uid, u.shell, u.home, u.administrator, u.disabled, u.kind,
       u.domain, u.gid, u.last_login * 1000 AS last_login_ms, u.last_login_from,
       a.last_inventory_at AS inventory_ms
FROM main.host_users u JOIN main.agents a ON a.id = u.agent
WHERE a.revoked_at IS NULL {SCOPE:u.agent};

-- How a host is protected: one row per host that reports it (Windows today). Tri-state
-- columns 1 yes, 0 no, -1 unknown; the password policy's numbers -1 when unknown.
CREATE TEMP VIEW security AS
SELECT s.agent AS host_id, s.remote_desktop, s.remote_desktop_nla, s.remote_desktop_port, s.smb1,
       s.password_min_length, s.password_max_age_days, s.lockout_threshold,
       s.password_complexity
FROM main.host_security s JOIN main.agents a ON a.id = s.agent
WHERE a.revoked_at IS NULL {SCOPE:s.agent};

CREATE TEMP VIEW antivirus AS
SELECT v.agent AS host_id, v.name, v.enabled, v.up_to_date,
       v.signatures_updated AS signatures_updated_s, v.source, v.version
FROM main.host_antivirus v JOIN main.agents a ON a.id = v.agent
WHERE a.revoked_at IS NULL {SCOPE:v.agent};

CREATE TEMP VIEW firewall_profiles AS
SELECT f.agent AS host_id, f.name, f.enabled
FROM main.host_firewall_profiles f JOIN main.agents a ON a.id = f.agent
WHERE a.revoked_at IS NULL {SCOPE:f.agent};

CREATE TEMP VIEW volumes AS
SELECT v.agent AS host_id, v.mount_point, v.label, v.file_system, v.size_bytes, v.free_bytes,
       v.kind, v.remote_path, v.encryption
FROM main.host_volumes v JOIN main.agents a ON a.id = v.agent
WHERE a.revoked_at IS NULL {SCOPE:v.agent};

CREATE TEMP VIEW batteries AS
SELECT b.agent AS host_id, b.name, b.design_capacity_mwh, b.full_charge_capacity_mwh,
       b.charge_percent, b.status
FROM main.host_batteries b JOIN main.agents a ON a.id = b.agent
WHERE a.revoked_at IS NULL {SCOPE:b.agent};

CREATE TEMP VIEW memory_modules AS
SELECT m.agent AS host_id, m.slot, m.size_bytes, m.speed_mhz, m.manufacturer, m.part_number,
       m.serial
FROM main.host_memory_modules m JOIN main.agents a ON a.id = m.agent
WHERE a.revoked_at IS NULL {SCOPE:m.agent};

-- Entries of the users' 1C infobase lists; network_share: a file infobase in a folder on
-- another machine (a UNC path or a mapped network drive).
CREATE TEMP VIEW infobases AS
SELECT i.agent AS host_id, i.user_name, i.name, i.kind, i.location, i.network_share, i.version
FROM main.host_infobases i JOIN main.agents a ON a.id = i.agent
WHERE a.revoked_at IS NULL {SCOPE:i.agent};

CREATE TEMP VIEW license_clients AS
SELECT c.agent AS host_id, c.kind, c.config_path, c.broadcast,
       (SELECT count(*) FROM main.host_license_servers s
        WHERE s.agent = c.agent AND s.client_position = c.position) AS server_count
FROM main.host_license_clients c JOIN main.agents a ON a.id = c.agent
WHERE a.revoked_at IS NULL {SCOPE:c.agent};

CREATE TEMP VIEW license_servers AS
SELECT c.agent AS host_id, c.kind, c.config_path, s.server
FROM main.host_license_servers s
  JOIN main.host_license_clients c ON c.agent = s.agent AND c.position = s.client_position
  JOIN main.agents a ON a.id = s.agent
WHERE a.revoked_at IS NULL {SCOPE:s.agent};

-- The processes running when the inventory was collected (kernel threads left out).
CREATE TEMP VIEW processes AS
SELECT p.agent AS host_id, p.pid, p.name, p.user_name, p.rss_bytes, p.start_time * 1000 AS start_ms,
       p.command
FROM main.host_processes p JOIN main.agents a ON a.id = p.agent
WHERE a.revoked_at IS NULL {SCOPE:p.agent};

-- Database server instances configured on the host (PostgreSQL today) and their pg_hba.conf
-- rules; listen_addresses as configured ('localhost' when not set), booleans 1/0.
-- databases_listed: 1 when psql listed the instance's databases (view databases), 0 unknown.
-- data_fs_*: the filesystem holding the data directory when the inventory was collected, bytes,
-- 0 unknown; largest_database_bytes: pg_database_size of its largest database, 0 unknown.
CREATE TEMP VIEW database_servers AS
SELECT d.agent AS host_id, d.kind, d.version, d.config_path, d.data_directory,
       d.listen_addresses, d.port, d.onec_build, d.autovacuum, d.running, d.hba_path,
       d.databases_listed, d.data_mount_point, d.data_fs_total_bytes, d.data_fs_available_bytes,
       coalesce((SELECT max(x.size_bytes) FROM main.host_database_databases x
                 WHERE x.agent = d.agent AND x.server_position = d.position), 0)
         AS largest_database_bytes
FROM main.host_database_servers d JOIN main.agents a ON a.id = d.agent
WHERE a.revoked_at IS NULL {SCOPE:d.agent};

CREATE TEMP VIEW database_hba AS
SELECT r.agent AS host_id, d.kind, d.port, d.hba_path, r.line, r.type, r.database_name,
       r.user_name, r.address, r.method
FROM main.host_database_hba r
  JOIN main.host_database_servers d ON d.agent = r.agent AND d.position = r.server_position
  JOIN main.agents a ON a.id = r.agent
WHERE a.revoked_at IS NULL {SCOPE:r.agent};

-- Backup jobs and catalogues the agent found (cron, systemd timers, pg_probackup / pgBackRest /
-- Barman catalogues) and how fresh each one's newest backup is. Times in Unix ms, 0 unknown;
-- last_status 'ok' | 'failed' | 'running' | '' (unknown); freshness_source 'catalog' |
-- 'service' | 'artefact' | ''. inventory_ms: when the inventory that reported it was
-- collected, the point in time the freshness was true.
CREATE TEMP VIEW backup_jobs AS
SELECT j.agent AS host_id, j.tool, j.source, j.schedule, j.target, j.destination,
       j.last_success_time * 1000 AS last_success_ms, j.last_run_time * 1000 AS last_run_ms,
       j.last_status, j.last_error, j.freshness_source, j.interval_seconds AS interval_s,
       a.last_inventory_at AS inventory_ms
FROM main.host_backup_jobs j JOIN main.agents a ON a.id = j.agent
WHERE a.revoked_at IS NULL {SCOPE:j.agent};

-- The databases of the PostgreSQL instances as psql listed them (templates left out), and the
-- newest dump file the agent found whose name carries the database's name (in the destination
-- of the backup job newest_dump_job). size_bytes -1 unknown; newest_dump_ms 0 none.
CREATE TEMP VIEW databases AS
SELECT x.agent AS host_id, d.kind, d.port, x.name, x.size_bytes,
       x.newest_dump_time * 1000 AS newest_dump_ms, x.newest_dump_path, x.newest_dump_job
FROM main.host_database_databases x
  JOIN main.host_database_servers d ON d.agent = x.agent AND d.position = x.server_position
  JOIN main.agents a ON a.id = x.agent
WHERE a.revoked_at IS NULL {SCOPE:x.agent};

-- The newest successful backup of each database and what gave it, as the agent matched them
-- (it knows the dump files' names and the jobs' targets): an instance-level tool (pg_probackup,
-- pgBackRest, Barman, WAL-G, pg_basebackup, pg_dumpall) covers every database, a pg_dump job or
-- 1C upload the database it names, a dump file the database its name carries. last_backup_ms 0:
-- nothing with a known time covers it (source ''); interval_s: the giving job's interval, 0
-- unknown; covered_without_freshness 1: a job of unknown freshness (WAL-G to object storage)
-- covers it. inventory_ms: when the inventory was collected, the point the age is judged at.
CREATE TEMP VIEW database_backups AS
SELECT x.agent AS host_id, d.kind, d.port, x.name AS database, x.size_bytes,
       x.last_backup_time * 1000 AS last_backup_ms, x.last_backup_source AS source,
       x.last_backup_interval_seconds AS interval_s, x.covered_without_freshness,
       a.last_inventory_at AS inventory_ms
FROM main.host_database_databases x
  JOIN main.host_database_servers d ON d.agent = x.agent AND d.position = x.server_position
  JOIN main.agents a ON a.id = x.agent
WHERE a.revoked_at IS NULL {SCOPE:x.agent};

-- The Linux host firewall (the kernel's netfilter ruleset, else what the enabled firewall service
-- loads at boot): one row per host whose agent read it or tried. backend 'nftables' | 'iptables'
-- | 'firewalld' | 'ufw' | '' (none readable, status says why);
-- input_policy 'accept' | 'drop' | '' unknown.
CREATE TEMP VIEW firewall_ruleset AS
SELECT f.agent AS host_id, f.backend, f.input_policy, f.status, f.rule_count
FROM main.host_firewall f JOIN main.agents a ON a.id = f.agent
WHERE a.revoked_at IS NULL {SCOPE:f.agent};

-- Whether the host firewall admits new TCP connections to a listening port (and the usual
-- database ports), per address family 4/6: 'open' (from anywhere, or nothing filters),
-- 'restricted' (only from `sources`), 'closed', 'unknown' (the agent could not follow the
-- ruleset: treat as open). No row: not read (older agents, Windows, iptables or ufw and IPv6).
CREATE TEMP VIEW firewall_ports AS
SELECT p.agent AS host_id, p.family, p.protocol, p.port, p.verdict, p.sources, p.reason
FROM main.host_firewall_ports p JOIN main.agents a ON a.id = p.agent
WHERE a.revoked_at IS NULL {SCOPE:p.agent};

-- Storage arrays: md software RAID, ZFS pools, hardware RAID virtual drives. degraded is the
-- agent's verdict (a member missing or failed, a pool not ONLINE, a virtual drive not Optimal); a
-- check or scrub of a healthy array is not. sync_action '' idle | md 'resync' 'recover' 'check'
-- 'repair' 'reshape' | ZFS 'scrub' 'resilver'. members "sda1 in_sync, sdb1 faulty"; sizes in
-- bytes, 0 unknown; last_scrub_ms 0 unknown.
CREATE TEMP VIEW storage_arrays AS
SELECT s.agent AS host_id, s.kind, s.name, s.level, s.state, s.degraded, s.sync_action,
       s.sync_percent, s.size_bytes, s.free_bytes, s.errors,
       s.last_scrub_time * 1000 AS last_scrub_ms, s.controller, s.devices_expected,
       s.devices_active, s.members, s.failed_members
FROM main.host_storage_arrays s JOIN main.agents a ON a.id = s.agent
WHERE a.revoked_at IS NULL {SCOPE:s.agent};

-- UPSes the host watches through NUT or apcupsd. status in NUT's words ('OL', 'OB DISCHRG',
-- 'OL CHRG LB', '' unknown); battery_charge_pct and runtime_s -1 unknown; monitored: upsmon or
-- apcupsd would shut the host down cleanly.
CREATE TEMP VIEW ups AS
SELECT u.agent AS host_id, u.daemon, u.name, u.model, u.status, u.on_battery, u.low_battery,
       u.battery_charge_pct, u.runtime_seconds AS runtime_s, u.monitored, u.source
FROM main.host_ups u JOIN main.agents a ON a.id = u.agent
WHERE a.revoked_at IS NULL {SCOPE:u.agent};

-- The hosts whose agent looked for UPS monitoring (Linux agents that know how): only there does
-- an empty ups view mean "no UPS monitoring" rather than "not known".
CREATE TEMP VIEW power_checked AS
SELECT p.agent AS host_id
FROM main.host_power p JOIN main.agents a ON a.id = p.agent
WHERE a.revoked_at IS NULL AND p.checked = 1 {SCOPE:p.agent};

-- The running 1C:Enterprise server agents (ragent) and their ports, cluster registry and what
-- rac could say ('ok', 'no rac', 'no ras', 'failed: ...', '' not tried). Times in Unix ms.
CREATE TEMP VIEW onec_server_agents AS
SELECT x.agent AS host_id, x.pid, x.version, x.user_name, x.start_time * 1000 AS start_ms,
       x.agent_port, x.manager_port, x.range_first, x.range_last, x.registry_path,
       x.restarted_workers, x.rac_status, a.last_inventory_at AS inventory_ms
FROM main.host_onec_agents x JOIN main.agents a ON a.id = x.agent
WHERE a.revoked_at IS NULL {SCOPE:x.agent};

-- The cluster's manager (rmngr) and working (rphost) processes, with their agent's start time (a
-- working process started well after it was restarted or added) and the host's memory.
CREATE TEMP VIEW onec_server_processes AS
SELECT p.agent AS host_id, p.role, p.pid, p.version, p.rss_bytes, p.start_time * 1000 AS start_ms,
       x.pid AS agent_pid, x.start_time * 1000 AS agent_start_ms,
       coalesce(h.memory_total_bytes, 0) AS memory_total_bytes,
       a.last_inventory_at AS inventory_ms
FROM main.host_onec_processes p
  JOIN main.host_onec_agents x ON x.agent = p.agent AND x.position = p.agent_position
  JOIN main.agents a ON a.id = p.agent
  LEFT JOIN main.host_hardware h ON h.agent = p.agent
WHERE a.revoked_at IS NULL {SCOPE:p.agent};

-- The clusters rac listed: admin_configured 1 yes, 0 none (anyone who reaches the cluster can
-- administer it), -1 unknown; lifetime_limit seconds and max_memory_size bytes, 0 none;
-- infobase_count -1 unknown.
CREATE TEMP VIEW onec_clusters AS
SELECT c.agent AS host_id, x.version, x.agent_port, c.cluster_id, c.name, c.host, c.port,
       c.lifetime_limit, c.max_memory_size, c.security_level, c.admin_configured, c.admins,
       c.infobase_count
FROM main.host_onec_clusters c
  JOIN main.host_onec_agents x ON x.agent = c.agent AND x.position = c.agent_position
  JOIN main.agents a ON a.id = c.agent
WHERE a.revoked_at IS NULL {SCOPE:c.agent};

-- Technological log configurations (logcfg.xml): one row per <log> element (enabled 1), or one
-- with enabled 0 for a file without one. history_hours as configured (1C's default 24);
-- size_bytes of the log directory now, size_complete 0 when that is only a lower bound.
CREATE TEMP VIEW onec_tech_logs AS
SELECT t.agent AS host_id, t.config_path, t.enabled, t.location, t.history_hours, t.size_bytes,
       t.size_complete, t.events
FROM main.host_onec_tech_logs t JOIN main.agents a ON a.id = t.agent
WHERE a.revoked_at IS NULL {SCOPE:t.agent};

-- 1C licensing: kind 'licence_file' (a software licence, bound to the machine's hardware; name
-- its path) or 'hasp_manager' (a running HASP licence manager process; name the process).
CREATE TEMP VIEW onec_licensing AS
SELECT l.agent AS host_id, l.kind, l.name
FROM main.host_onec_licensing l JOIN main.agents a ON a.id = l.agent
WHERE a.revoked_at IS NULL {SCOPE:l.agent};

-- The change log (what `dozorctl host changes` shows): category 'hardware', 'network', 'os', ...,
-- action 'added' | 'removed' | 'changed' | ..., at_ms when the inventory that showed it arrived.
-- Rules judge a window of it against :now_ms.
CREATE TEMP VIEW change_log AS
SELECT c.agent AS host_id, c.at AS at_ms, c.category, c.action, c.subject, c.old_value,
       c.new_value
FROM main.inventory_changes c JOIN main.agents a ON a.id = c.agent
WHERE a.revoked_at IS NULL {SCOPE:c.agent};
-- Package repositories configured (APT sources, enabled YUM/DNF repositories). official: 1 for
-- the distribution's own archive or a mirror of it, 0 for a third party's (a vendor such as
-- apt.postgresql.org or 1C, a PPA, EPEL, a local repository). enabled: 0 for a deb822 source
-- with "Enabled: no".
CREATE TEMP VIEW repositories AS
SELECT r.agent AS host_id, r.manager, r.file, r.name, r.kind, r.uri, r.suite, r.components,
       r.enabled, r.official
FROM main.host_repositories r JOIN main.agents a ON a.id = r.agent
WHERE a.revoked_at IS NULL {SCOPE:r.agent};
-- PCI functions and the driver bound to each ('' none): class_name 'SATA controller',
-- 'Ethernet controller', 'VGA compatible controller', 'USB controller', 'PCI bridge', ...;
-- vendor_name and device_name per the host's pci.ids ('' when it does not list them).
CREATE TEMP VIEW pci_devices AS
SELECT p.agent AS host_id, p.address, p.vendor_id, p.device_id, p.class_code, p.class_name,
       p.subsystem_vendor_id, p.subsystem_device_id, p.driver, p.vendor_name, p.device_name
FROM main.host_pci_devices p JOIN main.agents a ON a.id = p.agent
WHERE a.revoked_at IS NULL {SCOPE:p.agent};

-- Local groups (Linux /etc/group); administrator 1 for sudo, wheel and admin.
CREATE TEMP VIEW local_groups AS
SELECT g.agent AS host_id, g.name, g.gid, g.administrator
FROM main.host_groups g JOIN main.agents a ON a.id = g.agent
WHERE a.revoked_at IS NULL {SCOPE:g.agent};

-- Who is in each local group: one row per (group, member); primary_group 1 when it is the
-- account's primary group (passwd's gid) rather than only a name in the member list.
CREATE TEMP VIEW group_members AS
SELECT m.agent AS host_id, m.group_name, m.member, m.primary_group
FROM main.host_group_members m JOIN main.agents a ON a.id = m.agent
WHERE a.revoked_at IS NULL {SCOPE:m.agent};

-- What a part of the inventory ('hardware', 'os', 'network', 'software', 'security') could not
-- read, and why.
CREATE TEMP VIEW unavailable AS
SELECT u.agent AS host_id, u.part, u.note
FROM main.host_unavailable u JOIN main.agents a ON a.id = u.agent
WHERE a.revoked_at IS NULL {SCOPE:u.agent};

CREATE TEMP VIEW collectors AS
SELECT c.agent AS host_id, c.name, c.ok, c.error, c.duration_ms, c.at AS at_ms
FROM main.host_collectors c JOIN main.agents a ON a.id = c.agent
WHERE a.revoked_at IS NULL {SCOPE:c.agent};

-- Recent health (the rule window, by default the last 30 minutes). at_ms is the agent's
-- collected_at; compare with :now_ms. The windows leave revoked hosts out with NOT IN over the
-- (few) revoked agents, computed once per statement, rather than a join per sample.
CREATE TEMP VIEW health AS
SELECT h.agent AS host_id, h.at AS at_ms, h.cpu_pct, h.iowait_pct, h.load1, h.load5, h.load15,
       h.mem_total_bytes, h.mem_available_bytes, h.mem_used_pct, h.swap_total_bytes,
       h.swap_used_pct, h.process_count, h.clock_offset_ms
FROM main.rule_health_host h
WHERE h.agent NOT IN (SELECT id FROM main.agents WHERE revoked_at IS NOT NULL) {SCOPE:h.agent};

CREATE TEMP VIEW health_fs AS
SELECT f.agent AS host_id, f.at AS at_ms, f.mount, f.device, f.fs_type, f.total_bytes,
       f.avail_bytes, f.used_pct, f.inodes_total, f.inodes_used_pct
FROM main.rule_health_fs f
WHERE f.agent NOT IN (SELECT id FROM main.agents WHERE revoked_at IS NOT NULL) {SCOPE:f.agent};

-- Only samples in which the interface had errors or drops are kept (sums over a window are
-- exact; counting rows does not count samples: use the health view for that).
CREATE TEMP VIEW health_nic AS
SELECT n.agent AS host_id, n.at AS at_ms, n.interface, n.rx_errors, n.tx_errors, n.rx_dropped,
       n.tx_dropped
FROM main.rule_health_nic n
WHERE n.agent NOT IN (SELECT id FROM main.agents WHERE revoked_at IS NOT NULL) {SCOPE:n.agent};

-- The newest sample of each host (and of each of its filesystems): cheap "is it over the line
-- right now" prefilters for window rules over the whole estate (see disk-space-low.toml).
-- CROSS JOIN keeps agents as the outer loop: one primary-key seek per host, never a scan of the
-- whole window table.
CREATE TEMP VIEW health_latest AS
SELECT h.agent AS host_id, h.at AS at_ms, h.cpu_pct, h.iowait_pct, h.load1, h.load5, h.load15,
       h.mem_total_bytes, h.mem_available_bytes, h.mem_used_pct, h.swap_total_bytes,
       h.swap_used_pct, h.process_count, h.clock_offset_ms
FROM main.agents a CROSS JOIN main.rule_health_host h ON h.agent = a.id AND h.at = a.last_health_at
WHERE a.revoked_at IS NULL {SCOPE:a.id};

CREATE TEMP VIEW health_fs_latest AS
SELECT f.agent AS host_id, f.at AS at_ms, f.mount, f.device, f.fs_type, f.total_bytes,
       f.avail_bytes, f.used_pct, f.inodes_total, f.inodes_used_pct
FROM main.agents a CROSS JOIN main.rule_health_fs f ON f.agent = a.id AND f.at = a.last_health_at
WHERE a.revoked_at IS NULL {SCOPE:a.id};

-- Hourly filesystem points for the last two days (growth trends).
CREATE TEMP VIEW fs_trend AS
SELECT t.agent AS host_id, t.mount, t.hour AS hour_ms, t.at AS at_ms, t.total_bytes,
       t.avail_bytes, (t.total_bytes - t.avail_bytes) AS used_bytes
FROM main.rule_fs_trend t
WHERE t.agent NOT IN (SELECT id FROM main.agents WHERE revoked_at IS NOT NULL) {SCOPE:t.agent};
