-- Storage arrays and UPS monitoring (contract: Hardware.storage_arrays, Hardware.power): md
-- software RAID, ZFS pools and hardware RAID virtual drives with their state, and the UPSes NUT
-- or apcupsd watch, so rules can tell a degraded mirror and a server on battery, and a physical
-- server that nothing would shut down cleanly when the power fails. Replaced with each inventory
-- like the other host_* tables.
CREATE TABLE host_storage_arrays (
  agent INTEGER NOT NULL REFERENCES agents(id),
  kind TEXT NOT NULL,  -- 'md', 'zfs', 'hwraid'
  name TEXT NOT NULL,
  level TEXT NOT NULL,
  state TEXT NOT NULL,
  degraded INTEGER NOT NULL,
  sync_action TEXT NOT NULL,  -- '' idle or unknown
  sync_percent REAL NOT NULL,
  size_bytes INTEGER NOT NULL,  -- 0 unknown
  free_bytes INTEGER NOT NULL,  -- 0 unknown
  errors TEXT NOT NULL,
  last_scrub_time INTEGER NOT NULL,  -- Unix seconds, 0 unknown
  controller TEXT NOT NULL,
  devices_expected INTEGER NOT NULL,  -- md [n/m], 0 unknown
  devices_active INTEGER NOT NULL,
  -- "sda1 in_sync, sdb1 faulty": the members as an engineer reads them; failed_members counts
  -- the faulty, UNAVAIL, FAULTED, REMOVED, OFFLINE and failed-drive ones.
  members TEXT NOT NULL,
  failed_members INTEGER NOT NULL
);
CREATE INDEX host_storage_arrays_agent ON host_storage_arrays(agent);

CREATE TABLE host_ups (
  agent INTEGER NOT NULL REFERENCES agents(id),
  daemon TEXT NOT NULL,  -- 'nut', 'apcupsd'
  name TEXT NOT NULL,
  model TEXT NOT NULL,
  status TEXT NOT NULL,  -- NUT's words: 'OL', 'OB DISCHRG', 'OL CHRG LB'; '' unknown
  on_battery INTEGER NOT NULL,
  low_battery INTEGER NOT NULL,
  battery_charge_pct REAL NOT NULL,  -- -1 unknown
  runtime_seconds INTEGER NOT NULL,  -- -1 unknown
  monitored INTEGER NOT NULL,  -- upsmon / apcupsd would shut the host down
  source TEXT NOT NULL
);
CREATE INDEX host_ups_agent ON host_ups(agent);

-- One row per host whose agent looked for UPS monitoring (Linux agents from this version): an
-- empty host_ups means "none configured" only where power_checked says the agent looked.
CREATE TABLE host_power (
  agent INTEGER NOT NULL REFERENCES agents(id),
  checked INTEGER NOT NULL
);
CREATE INDEX host_power_agent ON host_power(agent);
