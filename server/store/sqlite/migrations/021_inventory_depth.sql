-- What the peer inventories (FusionInventory, OCS, lshw) report and Dozor did not (issue 14):
-- held packages (contract: Package.held), the package repositories configured
-- (Software.repositories: an auditor names third-party ones), a disk's vendor (BlockDevice.vendor),
-- the CPU's identity (Cpu.vendor, family, model_number, stepping, cache_kb, microcode), the swap
-- configured and the container the agent runs in (Hardware.swap_total_bytes, container).
-- Older agents leave the new columns at their defaults: 0 / '' meaning unknown.
ALTER TABLE host_packages ADD COLUMN held INTEGER NOT NULL DEFAULT 0;

CREATE TABLE host_repositories (
  agent INTEGER NOT NULL REFERENCES agents(id),
  manager TEXT NOT NULL,     -- 'apt', 'yum'
  file TEXT NOT NULL,
  name TEXT NOT NULL,        -- YUM repo id, '' for APT
  kind TEXT NOT NULL,        -- APT 'deb' / 'deb-src' / 'deb deb-src', '' for YUM
  uri TEXT NOT NULL,
  suite TEXT NOT NULL,
  components TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  official INTEGER NOT NULL  -- 1: the distribution's own archive or a mirror of it
);
CREATE INDEX host_repositories_agent ON host_repositories(agent);

ALTER TABLE host_disks ADD COLUMN vendor TEXT NOT NULL DEFAULT '';

ALTER TABLE host_hardware ADD COLUMN cpu_vendor TEXT NOT NULL DEFAULT '';
ALTER TABLE host_hardware ADD COLUMN cpu_family INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_hardware ADD COLUMN cpu_model_number INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_hardware ADD COLUMN cpu_stepping INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_hardware ADD COLUMN cpu_cache_kb INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_hardware ADD COLUMN cpu_microcode TEXT NOT NULL DEFAULT '';
ALTER TABLE host_hardware ADD COLUMN swap_total_bytes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE host_hardware ADD COLUMN container TEXT NOT NULL DEFAULT '';
