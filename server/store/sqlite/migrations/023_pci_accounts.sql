-- What the peer inventories report and Dozor did not (issue 14), second part: the PCI devices
-- with the driver bound to each (Hardware.pci_devices), every local group with its members
-- (OperatingSystem.groups), and each account's last login and primary group (UserAccount
-- last_login_time, last_login_from, gid). Accounts without a login shell now arrive too, with
-- kind 'system'. Older agents leave the new columns at 0 / '': never or unknown.
CREATE TABLE host_pci_devices (
  agent INTEGER NOT NULL REFERENCES agents(id),
  address TEXT NOT NULL,      -- '0000:00:1f.2'
  vendor_id TEXT NOT NULL,    -- 4 lowercase hex digits
  device_id TEXT NOT NULL,
  class_code TEXT NOT NULL,   -- 6 hex digits: class, subclass, programming interface
  class_name TEXT NOT NULL,   -- 'SATA controller', 'Ethernet controller', ...
  subsystem_vendor_id TEXT NOT NULL,
  subsystem_device_id TEXT NOT NULL,
  driver TEXT NOT NULL,       -- '' when no driver is bound
  vendor_name TEXT NOT NULL,  -- per pci.ids, '' unknown
  device_name TEXT NOT NULL
);
CREATE INDEX host_pci_devices_agent ON host_pci_devices(agent);

CREATE TABLE host_groups (
  agent INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  gid INTEGER NOT NULL,
  administrator INTEGER NOT NULL  -- 1: membership grants administrative rights (sudo, wheel)
);
CREATE INDEX host_groups_agent ON host_groups(agent);

-- One row per (group, member); primary_group 1 when the group is the account's passwd gid
-- rather than (or as well as) a name in the group's member list.
CREATE TABLE host_group_members (
  agent INTEGER NOT NULL REFERENCES agents(id),
  group_name TEXT NOT NULL,
  member TEXT NOT NULL,
  primary_group INTEGER NOT NULL
);
CREATE INDEX host_group_members_agent ON host_group_members(agent);

ALTER TABLE host_users ADD COLUMN last_login INTEGER NOT NULL DEFAULT 0;  -- Unix seconds, 0 never
ALTER TABLE host_users ADD COLUMN last_login_from TEXT NOT NULL DEFAULT '';
ALTER TABLE host_users ADD COLUMN gid INTEGER NOT NULL DEFAULT 0;
