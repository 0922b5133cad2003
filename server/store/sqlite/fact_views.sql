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
       os.role, os.machine_id
FROM main.host_os os JOIN main.agents a ON a.id = os.agent
WHERE a.revoked_at IS NULL {SCOPE:os.agent};

CREATE TEMP VIEW hardware AS
SELECT h.agent AS host_id, h.cpu_model, h.cpu_sockets, h.cpu_cores, h.cpu_threads,
       h.memory_total_bytes, h.system_vendor, h.system_model, h.system_serial, h.bios_vendor,
       h.bios_version, h.bios_date, h.chassis_type, h.virtual_machine, h.hypervisor,
       h.smartctl_available
FROM main.host_hardware h JOIN main.agents a ON a.id = h.agent
WHERE a.revoked_at IS NULL {SCOPE:h.agent};

CREATE TEMP VIEW disks AS
SELECT d.agent AS host_id, d.name, d.model, d.serial, d.size_bytes, d.rotational, d.removable,
       d.transport, d.smart_status, d.smart_message, d.power_on_hours, d.temperature_c,
       d.reallocated_sectors, d.pending_sectors, d.offline_uncorrectable
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
       p.install_time AS install_time_s
FROM main.host_packages p JOIN main.agents a ON a.id = p.agent
WHERE a.revoked_at IS NULL {SCOPE:p.agent};

CREATE TEMP VIEW applications AS
SELECT x.agent AS host_id, x.name, x.version, x.architecture, x.path, x.kind
FROM main.host_applications x JOIN main.agents a ON a.id = x.agent
WHERE a.revoked_at IS NULL {SCOPE:x.agent};

CREATE TEMP VIEW services AS
SELECT s.agent AS host_id, s.name, s.description, s.load_state, s.active_state, s.sub_state,
       s.enabled
FROM main.host_services s JOIN main.agents a ON a.id = s.agent
WHERE a.revoked_at IS NULL {SCOPE:s.agent};

CREATE TEMP VIEW users AS
SELECT u.agent AS host_id, u.name, u.uid, u.shell, u.home, u.administrator
FROM main.host_users u JOIN main.agents a ON a.id = u.agent
WHERE a.revoked_at IS NULL {SCOPE:u.agent};

CREATE TEMP VIEW collectors AS
SELECT c.agent AS host_id, c.name, c.ok, c.error, c.duration_ms, c.at AS at_ms
FROM main.host_collectors c JOIN main.agents a ON a.id = c.agent
WHERE a.revoked_at IS NULL {SCOPE:c.agent};

-- Recent health (the rule window, by default the last 30 minutes). at_ms is the agent's
-- collected_at; compare with :now_ms.
CREATE TEMP VIEW health AS
SELECT h.agent AS host_id, h.at AS at_ms, h.cpu_pct, h.iowait_pct, h.load1, h.load5, h.load15,
       h.mem_total_bytes, h.mem_available_bytes, h.mem_used_pct, h.swap_total_bytes,
       h.swap_used_pct, h.process_count, h.clock_offset_ms
FROM main.rule_health_host h
WHERE 1 {SCOPE:h.agent};

CREATE TEMP VIEW health_fs AS
SELECT f.agent AS host_id, f.at AS at_ms, f.mount, f.device, f.fs_type, f.total_bytes,
       f.avail_bytes, f.used_pct, f.inodes_total, f.inodes_used_pct
FROM main.rule_health_fs f
WHERE 1 {SCOPE:f.agent};

-- Only samples in which the interface had errors or drops are kept (sums over a window are
-- exact; counting rows does not count samples: use the health view for that).
CREATE TEMP VIEW health_nic AS
SELECT n.agent AS host_id, n.at AS at_ms, n.interface, n.rx_errors, n.tx_errors, n.rx_dropped,
       n.tx_dropped
FROM main.rule_health_nic n
WHERE 1 {SCOPE:n.agent};

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
WHERE 1 {SCOPE:t.agent};
