// `dozor.v1.Inventory` in protobuf's JSON mapping (proto/contract/dozor/v1/agent.proto, snake_case
// field names): the API passes it through untyped, so the fields the host page reads are declared
// here. Every field may be absent (protobuf omits zero values); 64-bit integers are strings.
export type Int64 = string | number;

export interface Inventory {
  hardware?: {
    cpu?: {
      model?: string;
      sockets?: number;
      cores?: number;
      threads?: number;
      mhz?: number;
      vendor?: string; // GenuineIntel, AuthenticAMD
      family?: number;
      model_number?: number;
      stepping?: number;
      cache_kb?: number;
      microcode?: string;
    };
    memory_total_bytes?: Int64;
    dmi?: Partial<Record<'system_vendor' | 'system_model' | 'system_serial' | 'board_vendor' | 'board_model' | 'bios_vendor' | 'bios_version' | 'bios_date' | 'chassis_type', string>>;
    disks?: BlockDevice[];
    smartctl_available?: boolean;
    virtual_machine?: boolean;
    hypervisor?: string; // kvm, vmware, ...; 'unknown' when virtual but not identified
    storage_arrays?: StorageArray[];
    power?: { checked?: boolean; ups?: Ups[] };
    swap_total_bytes?: Int64;
    container?: string; // docker, podman, lxc, systemd-nspawn; '' none
    volumes?: Volume[];
    pci_devices?: PciDevice[];
  };
  os?: {
    id?: string;
    name?: string;
    version?: string;
    pretty_name?: string;
    kernel?: string;
    architecture?: string;
    hostname?: string;
    fqdn?: string;
    boot_time?: Int64;
    uptime_seconds?: Int64;
    timezone?: string;
    clock_synchronized?: number;
    reboot_required?: boolean;
    pending_updates?: number;
    pending_security_updates?: number;
    users?: UserAccount[];
    groups?: LocalGroup[];
    machine_id?: string;
    family?: string;
  };
  network?: {
    interfaces?: NetworkInterface[];
    gateways?: { address?: string; interface?: string; family?: number }[];
    dns_servers?: string[];
    search_domains?: string[];
    listening?: ListeningSocket[];
  };
  software?: {
    packages?: Package[];
    applications?: Application[];
    services?: Service[];
    backup_jobs?: BackupJob[];
    onec_server_agents?: OneCServerAgent[];
    onec_tech_logs?: OneCTechLog[];
    onec_licensing?: { licence_files?: string[]; hasp_manager_processes?: string[] };
    repositories?: PackageRepository[];
    database_servers?: DatabaseServer[];
  };
  security?: {
    host_firewall?: HostFirewall;
  };
}

export interface BlockDevice {
  name?: string;
  model?: string;
  serial?: string;
  size_bytes?: Int64;
  rotational?: boolean;
  removable?: boolean;
  transport?: string;
  smart_status?: string;
  smart_message?: string;
  smart_attributes?: { id?: number; name?: string; value?: number; worst?: number; threshold?: number; raw?: Int64 }[];
  power_on_hours?: Int64;
  temperature_c?: number;
  vendor?: string; // sysfs device/vendor: ATA, QEMU, 0x1af4
}
// A mounted filesystem (Linux) or drive letter (Windows); size 0: a network share not measured.
export interface Volume {
  mount_point?: string;
  label?: string;
  file_system?: string;
  size_bytes?: Int64;
  free_bytes?: Int64;
  kind?: string; // local | network | removable | optical | ram
  remote_path?: string;
}
export interface UserAccount {
  name?: string;
  uid?: number;
  shell?: string;
  home?: string;
  administrator?: boolean;
  disabled?: boolean;
  kind?: string; // user | group (Windows domain group) | system (Linux: no login shell)
  last_login_time?: Int64; // Unix seconds; absent: never or not recorded
  last_login_from?: string; // remote host, else the terminal
}
// A local group (Linux /etc/group): members listed in it, and the accounts whose primary group it is.
export interface LocalGroup {
  name?: string;
  gid?: number;
  members?: string[];
  primary_members?: string[];
  administrator?: boolean; // sudo, wheel, admin
}
// A PCI function and the kernel driver bound to it ('' or absent: none).
export interface PciDevice {
  address?: string;
  vendor_id?: string;
  device_id?: string;
  class_code?: string;
  class_name?: string;
  subsystem_vendor_id?: string;
  subsystem_device_id?: string;
  driver?: string;
  vendor_name?: string;
  device_name?: string;
}
export interface NetworkInterface {
  name?: string;
  mac?: string;
  mtu?: number;
  state?: string;
  speed_mbps?: Int64;
  addresses?: { address?: string; prefix?: number; family?: number }[];
  loopback?: boolean;
  virtual?: boolean;
  duplex?: string;
}
export interface ListeningSocket {
  protocol?: string;
  family?: number;
  address?: string;
  port?: number;
  pid?: number;
  process?: string;
  uid?: number;
}
export interface Package {
  name?: string;
  version?: string;
  architecture?: string;
  source?: string;
  vendor?: string;
  install_time?: Int64;
  held?: boolean; // dpkg hold (apt-mark hold)
}
// An APT source or an enabled YUM repository; official: the distribution's own archive.
export interface PackageRepository {
  manager?: string; // apt | yum
  file?: string;
  name?: string;
  uri?: string;
  suite?: string;
  components?: string;
  enabled?: boolean;
  official?: boolean;
  kind?: string; // deb | deb-src | 'deb deb-src'
}
export interface Application {
  name?: string;
  version?: string;
  architecture?: string;
  path?: string;
  kind?: string;
  state?: string; // a 1C server: running | stopped | '' unknown
}
export interface Service {
  name?: string;
  description?: string;
  load_state?: string;
  active_state?: string;
  sub_state?: string;
  enabled?: string;
}

// A software RAID array (md), ZFS pool or hardware RAID virtual drive.
export interface StorageArray {
  kind?: string; // md | zfs | hwraid
  name?: string;
  level?: string;
  state?: string;
  degraded?: boolean;
  members?: { device?: string; state?: string }[];
  sync_action?: string; // '' idle | resync | recover | check | repair | reshape | scrub | resilver
  sync_percent?: number;
  size_bytes?: Int64;
  free_bytes?: Int64;
  errors?: string;
  last_scrub_time?: Int64; // Unix seconds
  controller?: string;
}

// A UPS watched through NUT or apcupsd.
export interface Ups {
  daemon?: string; // nut | apcupsd
  name?: string;
  model?: string;
  status?: string; // NUT words: OL, OB DISCHRG, OL CHRG LB
  on_battery?: boolean;
  low_battery?: boolean;
  battery_charge_pct?: number; // -1 unknown
  runtime_seconds?: Int64; // -1 unknown
  monitored?: boolean;
  source?: string;
}

// A PostgreSQL instance with its databases (their newest backup as the agent matched it) and
// the free space of the filesystem holding its data directory.
export interface DatabaseServer {
  kind?: string;
  version?: string;
  data_directory?: string;
  listen_addresses?: string;
  port?: number;
  running?: boolean;
  databases?: DatabaseInfo[];
  databases_listed?: boolean;
  data_mount_point?: string;
  data_fs_total_bytes?: Int64;
  data_fs_available_bytes?: Int64;
}
export interface DatabaseInfo {
  name?: string;
  size_bytes?: Int64; // -1 unknown
  last_backup_time?: Int64; // Unix seconds, 0 none
  last_backup_source?: string;
  covered_without_freshness?: boolean;
}

// The Linux host firewall and its verdict per listening TCP port.
export interface HostFirewall {
  backend?: string; // nftables | iptables | firewalld | ufw | ''
  input_policy?: string; // accept | drop | ''
  status?: string;
  rule_count?: number;
  ports?: { protocol?: string; family?: number; port?: number; verdict?: string; sources?: string; reason?: string }[];
}

// A backup job or catalogue the agent found, with the freshness of its newest backup.
export interface BackupJob {
  tool?: string;
  source?: string;
  schedule?: string;
  target?: string;
  destination?: string;
  last_success_time?: Int64; // Unix seconds
  last_run_time?: Int64;
  last_status?: string; // ok | failed | running | ''
  last_error?: string;
  freshness_source?: string; // catalog | service | artefact | ''
  interval_seconds?: Int64;
  // The PostgreSQL instance it backs up, where known: port (0 unknown), data directory.
  instance_port?: number;
  instance_data_directory?: string;
}

// A running 1C server agent (ragent) with its manager and working processes and what rac said of
// its clusters (admin_configured 1 yes, 0 none, -1 unknown).
export interface OneCServerAgent {
  pid?: number;
  version?: string;
  user?: string;
  start_time?: Int64; // Unix seconds
  agent_port?: number;
  manager_port?: number;
  range_first?: number;
  range_last?: number;
  registry_path?: string;
  processes?: { role?: string; pid?: number; version?: string; rss_bytes?: Int64; start_time?: Int64 }[];
  restarted_workers?: number;
  rac_status?: string;
  clusters?: {
    id?: string;
    name?: string;
    host?: string;
    port?: number;
    lifetime_limit?: Int64;
    max_memory_size?: Int64;
    security_level?: number;
    admin_configured?: number;
    admins?: string[];
    infobase_count?: number;
  }[];
}

// A technological log configuration's <log> element (logcfg.xml) and the size of its directory.
export interface OneCTechLog {
  config_path?: string;
  enabled?: boolean;
  location?: string;
  history_hours?: number;
  size_bytes?: Int64;
  size_complete?: boolean;
  events?: number;
}

// 1C:Enterprise: the platform's packages/applications by their names (1C, 1С with a Cyrillic С).
export function isOneC(name: string | undefined): boolean {
  if (!name) return false;
  return /(^|[^a-z0-9])1[cс]([^a-z0-9]|$)|1c-enterprise|1cv8|onec/i.test(name);
}

// Free-text search over a package list: every word must match the name, version or source.
export function matchesPackage(pkg: Package | Application, query: string): boolean {
  const words = query.toLocaleLowerCase().split(/\s+/).filter((word) => word !== '');
  const text = [pkg.name, pkg.version, 'source' in pkg ? pkg.source : undefined, 'vendor' in pkg ? pkg.vendor : undefined]
    .filter((part): part is string => typeof part === 'string')
    .join(' ')
    .toLocaleLowerCase();
  return words.every((word) => text.includes(word));
}
