import { useMemo, useState } from 'preact/hooks';
import { api, must } from '../api/client';
import { isOneC, matchesPackage, type BlockDevice, type Inventory, type StorageArray, type Ups } from '../api/inventory';
import { FindingsTable } from '../components/findings-table';
import { HealthCharts } from '../components/health-charts';
import { DateTime, Empty, ErrorBox, KeyValues, Loading, Presence, SearchBox, Tabs, Time } from '../components/ui';
import { useSession } from '../lib/context';
import { formatBytes, formatDuration } from '../lib/format';
import { useAsync } from '../lib/hooks';
import { t, tDynamic, tn } from '../lib/i18n';
import { pathOf } from '../lib/router';

export function HostPage({ agentId, tab }: { agentId: string; tab: string }) {
  const { locale } = useSession();
  const answer = useAsync(() => must(api.GET('/api/v1/hosts/{agent_id}/inventory', { params: { path: { agent_id: agentId } } })), [agentId]);
  if (!answer.data) return answer.error ? <ErrorBox error={answer.error} retry={answer.reload} /> : <Loading />;
  const { host, collectors } = answer.data;
  const inventory = answer.data.inventory as Inventory;
  const base = pathOf('hosts', agentId);
  const tabs = [
    { id: 'summary', label: t('host.tab_summary'), href: base },
    { id: 'health', label: t('host.tab_health'), href: `${base}/health` },
    { id: 'hardware', label: t('host.tab_hardware'), href: `${base}/hardware` },
    { id: 'os', label: t('host.tab_os'), href: `${base}/os` },
    { id: 'network', label: t('host.tab_network'), href: `${base}/network` },
    { id: 'software', label: t('host.tab_software'), href: `${base}/software` },
    { id: 'services', label: t('host.tab_services'), href: `${base}/services` },
    { id: 'users', label: t('host.tab_users'), href: `${base}/users` },
    { id: 'onec', label: t('host.tab_onec'), href: `${base}/onec` },
    { id: 'changes', label: t('host.tab_changes'), href: `${base}/changes` },
    { id: 'findings', label: t('host.tab_findings'), href: `${base}/findings` },
  ];
  const os = inventory.os ?? {};
  const hw = inventory.hardware ?? {};
  const failed = collectors.filter((c) => !c.ok);
  return (
    <div data-page="host">
      <div class="page-head">
        <div>
          <div class="crumbs">
            <a href={pathOf('orgs', host.org_id)}>{host.org}</a> /
          </div>
          <h1>{host.hostname || host.agent_id}</h1>
          <div class="muted">
            <Presence online={host.online} revoked={host.revoked} /> · {host.os_pretty_name || os.pretty_name || '—'} · {host.addresses.slice(0, 4).join(', ')}
          </div>
        </div>
      </div>
      <Tabs tabs={tabs} active={tab} />
      {tab === 'summary' && (
        <div class="grid-2">
          <section class="card" data-testid="host-summary">
            <h2>{t('host.summary')}</h2>
            <KeyValues
              rows={[
                [t('host.agent_id'), <span class="mono small">{host.agent_id}</span>],
                [t('host.source'), tDynamic(`host_source.${host.source}`)],
                [t('host.agent_version'), host.agent_version],
                [t('host.enrolled'), <DateTime ms={host.enrolled_at_ms} />],
                [t('host.last_seen'), <Time ms={host.last_seen_ms} />],
                [t('host.last_inventory'), <Time ms={host.last_inventory_ms} />],
                [t('host.cpu'), hw.cpu?.model ? `${hw.cpu.model} (${tn('host.cores', hw.cpu.cores ?? 0)}, ${tn('host.threads', hw.cpu.threads ?? 0)})` : ''],
                [t('host.memory'), formatBytes(hw.memory_total_bytes, locale.lang)],
                [t('host.machine'), [hw.dmi?.system_vendor, hw.dmi?.system_model].filter(Boolean).join(' ')],
                [t('host.virtual_machine'), virtualMachineText(hw)],
                [t('host.uptime'), formatDuration(os.uptime_seconds, locale.lang)],
                [t('host.updates'), pendingUpdates(os)],
                [t('host.reboot_required'), os.reboot_required ? t('common.yes') : t('common.no')],
              ]}
            />
            {host.dropped_health_samples > 0 && <p class="notice">{t('host.dropped_samples', { n: host.dropped_health_samples })}</p>}
          </section>
          <section class="card">
            <h2>{t('host.collectors')}</h2>
            {failed.length === 0 ? (
              <p class="muted">{t('host.collectors_ok', { n: collectors.length })}</p>
            ) : (
              <ul class="plain">
                {failed.map((c) => (
                  <li key={c.name}>
                    {/* The agent's own words, as its log has them (English): data, not page text. */}
                    <strong>{c.name}</strong>:{' '}
                    <span class="error-text mono small" lang="en" title={t('host.collector_error_as_reported')}>
                      {c.error}
                    </span>
                  </li>
                ))}
              </ul>
            )}
            <h2>{t('host.open_findings')}</h2>
            <FindingsTable query={{ host: agentId }} showOrg={false} showHost={false} pageSize={10} />
          </section>
        </div>
      )}
      {tab === 'health' && <HealthCharts agentId={agentId} />}
      {tab === 'hardware' && <HardwareTab inventory={inventory} />}
      {tab === 'os' && <OsTab inventory={inventory} />}
      {tab === 'network' && <NetworkTab inventory={inventory} />}
      {tab === 'software' && (
        <>
          <RepositoriesCard inventory={inventory} />
          <SoftwareTab inventory={inventory} />
        </>
      )}
      {tab === 'services' && (
        <>
          <BackupJobsCard inventory={inventory} />
          <DatabasesCard inventory={inventory} />
          <ServicesTab inventory={inventory} />
        </>
      )}
      {tab === 'users' && <UsersTab inventory={inventory} />}
      {tab === 'onec' && (
        <>
          <OneCTab inventory={inventory} />
          <OneCClusterCard inventory={inventory} />
        </>
      )}
      {tab === 'changes' && <ChangesTab agentId={agentId} />}
      {tab === 'findings' && <FindingsTable query={{ host: agentId, state: 'all' }} showOrg={false} showHost={false} />}
    </div>
  );
}

type Hardware = NonNullable<Inventory['hardware']>;

// "yes (kvm)", "yes (hypervisor not identified)", "no": the hypervisor named, never a bare
// "unknown" that reads as "whether it is a VM is not known".
function virtualMachineText(hw: Hardware): string {
  if (!hw.virtual_machine) return t('common.no');
  const name = hw.hypervisor && hw.hypervisor !== 'unknown' ? hw.hypervisor : t('hw.hypervisor_unknown');
  return `${t('common.yes')} (${name})`;
}

// "GenuineIntel · family 6 model 85 stepping 7 · microcode 0x5003604 · cache 14080 KiB".
function cpuIdentity(cpu: Hardware['cpu']): string {
  if (!cpu) return '';
  const parts: string[] = [];
  if (cpu.vendor) parts.push(cpu.vendor);
  if (cpu.family || cpu.model_number) {
    parts.push(t('hw.cpu_family_model', { family: cpu.family ?? 0, model: cpu.model_number ?? 0, stepping: cpu.stepping ?? 0 }));
  }
  if (cpu.microcode) parts.push(`${t('hw.microcode')} ${cpu.microcode}`);
  if (cpu.cache_kb) parts.push(`${t('hw.cache')} ${String(cpu.cache_kb)} KiB`);
  return parts.join(' · ');
}

// The vendor where it says more than the bus ("ATA") or a PCI id ("0x1af4").
function diskModel(disk: BlockDevice): string {
  const vendor = disk.vendor ?? '';
  const model = disk.model ?? '';
  if (!vendor || vendor === 'ATA' || vendor.startsWith('0x') || model.startsWith(vendor)) return model;
  return `${vendor} ${model}`.trim();
}

function HardwareTab({ inventory }: { inventory: Inventory }) {
  const { locale } = useSession();
  const hw = inventory.hardware ?? {};
  const dmi = hw.dmi ?? {};
  return (
    <div>
      <section class="card">
        <h2>{t('host.machine')}</h2>
        <KeyValues
          rows={[
            [t('hw.vendor'), dmi.system_vendor ?? ''],
            [t('hw.model'), dmi.system_model ?? ''],
            [t('hw.serial'), dmi.system_serial ?? ''],
            [t('hw.board'), [dmi.board_vendor, dmi.board_model].filter(Boolean).join(' ')],
            [t('hw.bios'), [dmi.bios_vendor, dmi.bios_version, dmi.bios_date].filter(Boolean).join(' · ')],
            [t('host.cpu'), hw.cpu?.model ?? ''],
            [t('hw.sockets_cores'), hw.cpu ? `${String(hw.cpu.sockets ?? 0)} / ${String(hw.cpu.cores ?? 0)} / ${String(hw.cpu.threads ?? 0)}` : ''],
            [t('hw.cpu_identity'), cpuIdentity(hw.cpu)],
            [t('host.memory'), formatBytes(hw.memory_total_bytes, locale.lang)],
            [t('hw.swap'), Number(hw.swap_total_bytes ?? 0) > 0 ? formatBytes(hw.swap_total_bytes, locale.lang) : t('hw.swap_none')],
            [t('host.virtual_machine'), virtualMachineText(hw)],
            [t('hw.container'), hw.container || t('hw.container_none')],
          ]}
        />
      </section>
      {(hw.volumes ?? []).length > 0 && (
        <section class="card" data-testid="volumes">
          <h2>{t('hw.volumes')}</h2>
          <div class="table-wrap">
            <table class="data">
              <thead>
                <tr>
                  <th>{t('hw.volume')}</th>
                  <th>{t('hw.file_system')}</th>
                  <th>{t('hw.size')}</th>
                  <th>{t('hw.free')}</th>
                  <th class="hide-narrow">{t('hw.kind')}</th>
                </tr>
              </thead>
              <tbody>
                {(hw.volumes ?? []).map((v) => (
                  <tr key={v.mount_point}>
                    <td class="mono">{v.mount_point}</td>
                    <td>{v.file_system}</td>
                    <td>{Number(v.size_bytes ?? 0) > 0 ? formatBytes(v.size_bytes, locale.lang) : '—'}</td>
                    <td>{Number(v.size_bytes ?? 0) > 0 ? formatBytes(v.free_bytes, locale.lang) : '—'}</td>
                    <td class="hide-narrow small">{[v.kind, v.remote_path].filter(Boolean).join(' · ')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
      <section class="card">
        <h2>{t('hw.disks')}</h2>
        {!hw.smartctl_available && <p class="muted small">{t('hw.no_smartctl')}</p>}
        {(hw.disks ?? []).length === 0 ? (
          <Empty>{t('hw.no_disks')}</Empty>
        ) : (
          <div class="table-wrap">
            <table class="data">
              <thead>
                <tr>
                  <th>{t('hw.disk')}</th>
                  <th>{t('hw.model')}</th>
                  <th>{t('hw.size')}</th>
                  <th>{t('hw.kind')}</th>
                  <th>{t('hw.smart')}</th>
                  <th>{t('hw.power_on')}</th>
                  <th>{t('hw.temperature')}</th>
                </tr>
              </thead>
              <tbody>
                {(hw.disks ?? []).map((disk) => (
                  <tr key={disk.name}>
                    <td class="mono">{disk.name}</td>
                    <td>
                      {diskModel(disk)} <div class="muted small mono">{disk.serial}</div>
                    </td>
                    <td>{formatBytes(disk.size_bytes, locale.lang)}</td>
                    <td>
                      {disk.rotational ? t('hw.hdd') : t('hw.ssd')}
                      {disk.transport ? ` · ${disk.transport}` : ''}
                    </td>
                    <td>
                      <span class={disk.smart_status === 'failed' ? 'error-text' : ''}>{disk.smart_status ?? '—'}</span>
                      {disk.smart_message && <div class="muted small">{disk.smart_message}</div>}
                      {(disk.smart_attributes ?? []).length > 0 && (
                        <details>
                          <summary>{t('hw.smart_attributes')}</summary>
                          <table class="data compact">
                            <tbody>
                              {(disk.smart_attributes ?? []).map((a) => (
                                <tr key={a.id}>
                                  <td>{a.id}</td>
                                  <td>{a.name}</td>
                                  <td>{a.value}</td>
                                  <td>{a.worst}</td>
                                  <td>{a.threshold}</td>
                                  <td class="mono">{a.raw}</td>
                                </tr>
                              ))}
                            </tbody>
                          </table>
                        </details>
                      )}
                    </td>
                    <td>{disk.power_on_hours !== undefined ? tn('hw.hours', Number(disk.power_on_hours)) : '—'}</td>
                    <td>{disk.temperature_c ? `${String(disk.temperature_c)} °C` : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <StorageArraysCard arrays={hw.storage_arrays ?? []} />
      <UpsCard power={hw.power} />
      {(hw.pci_devices ?? []).length > 0 && (
        <section class="card" data-testid="pci-devices">
          <h2>{t('hw.pci_devices')}</h2>
          <div class="table-wrap">
            <table class="data">
              <thead>
                <tr>
                  <th>{t('hw.pci_address')}</th>
                  <th>{t('hw.kind')}</th>
                  <th>{t('hw.pci_device')}</th>
                  <th>{t('hw.pci_driver')}</th>
                </tr>
              </thead>
              <tbody>
                {(hw.pci_devices ?? []).map((d) => (
                  <tr key={d.address}>
                    <td class="mono small">{d.address}</td>
                    <td>{d.class_name || d.class_code}</td>
                    <td>
                      {[d.vendor_name, d.device_name].filter(Boolean).join(' ') || '—'}{' '}
                      <span class="muted small mono">
                        {d.vendor_id}:{d.device_id}
                      </span>
                    </td>
                    <td class="mono small">{d.driver || <span class="muted">{t('hw.pci_no_driver')}</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      )}
    </div>
  );
}

// md arrays, ZFS pools and hardware RAID drives with their members: a failed disk is named here.
function StorageArraysCard({ arrays }: { arrays: StorageArray[] }) {
  const { locale } = useSession();
  if (arrays.length === 0) return null;
  return (
    <section class="card" data-testid="storage-arrays">
      <h2>{t('storage.title')}</h2>
      <div class="table-wrap">
        <table class="data">
          <thead>
            <tr>
              <th>{t('storage.array')}</th>
              <th>{t('storage.level')}</th>
              <th>{t('storage.state')}</th>
              <th>{t('storage.sync')}</th>
              <th>{t('storage.size')}</th>
              <th class="hide-narrow">{t('storage.members')}</th>
            </tr>
          </thead>
          <tbody>
            {arrays.map((array) => (
              <tr key={`${array.kind ?? ''} ${array.name ?? ''}`}>
                <td class="mono">
                  {array.name} <span class="muted small">{array.kind}</span>
                </td>
                <td>{array.level || '—'}</td>
                <td class={array.degraded ? 'error-text' : ''}>
                  {array.state}
                  {array.degraded && ` · ${t('storage.degraded')}`}
                  {array.errors && <div class="small">{array.errors}</div>}
                </td>
                <td>{array.sync_action ? `${array.sync_action} ${String(Math.floor(array.sync_percent ?? 0))}%` : '—'}</td>
                <td>
                  {Number(array.size_bytes ?? 0) > 0 ? formatBytes(array.size_bytes, locale.lang) : '—'}
                  {Number(array.free_bytes ?? 0) > 0 && ` / ${formatBytes(array.free_bytes, locale.lang)}`}
                </td>
                <td class="hide-narrow mono small">
                  {(array.members ?? []).map((member, i) => (
                    <span key={`${member.device ?? ''}-${String(i)}`} class={['faulty', 'UNAVAIL', 'FAULTED', 'REMOVED', 'OFFLINE'].includes(member.state ?? '') ? 'error-text' : ''}>
                      {i > 0 && ', '}
                      {member.device} {member.state}
                    </span>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

// The UPSes NUT or apcupsd watch; on a Linux host with none, say so (ups-absent explains why it matters).
function UpsCard({ power }: { power: { checked?: boolean; ups?: Ups[] } | undefined }) {
  const { locale } = useSession();
  const upses = power?.ups ?? [];
  if (upses.length === 0 && !power?.checked) return null;
  return (
    <section class="card" data-testid="ups">
      <h2>{t('ups.title')}</h2>
      {upses.length === 0 ? (
        <Empty>{t('ups.none')}</Empty>
      ) : (
        <div class="table-wrap">
          <table class="data">
            <thead>
              <tr>
                <th>{t('ups.name')}</th>
                <th>{t('ups.daemon')}</th>
                <th>{t('ups.status')}</th>
                <th>{t('ups.charge')}</th>
                <th>{t('ups.runtime')}</th>
                <th>{t('ups.monitored')}</th>
              </tr>
            </thead>
            <tbody>
              {upses.map((ups) => (
                <tr key={`${ups.daemon ?? ''} ${ups.name ?? ''}`}>
                  <td>
                    <span class="mono">{ups.name}</span> <div class="muted small">{ups.model}</div>
                  </td>
                  <td class="small">{ups.daemon}</td>
                  <td class={ups.on_battery || ups.low_battery ? 'error-text' : ''}>
                    <span class="mono">{ups.status || '—'}</span>
                    {ups.on_battery && ` · ${t('ups.on_battery')}`}
                  </td>
                  <td>{(ups.battery_charge_pct ?? 0) >= 0 ? `${String(Math.round(ups.battery_charge_pct ?? 0))}%` : '—'}</td>
                  <td>{formatDuration(ups.runtime_seconds ?? 0, locale.lang)}</td>
                  <td class={ups.monitored ? '' : 'error-text'}>{ups.monitored ? t('ups.yes') : t('ups.no')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function OsTab({ inventory }: { inventory: Inventory }) {
  const { locale } = useSession();
  const os = inventory.os ?? {};
  return (
    <section class="card">
      <KeyValues
        rows={[
          [t('os.name'), os.pretty_name ?? ''],
          [t('os.kernel'), os.kernel ?? ''],
          [t('os.architecture'), os.architecture ?? ''],
          [t('os.hostname'), os.fqdn || os.hostname || ''],
          [t('os.timezone'), os.timezone ?? ''],
          [t('os.clock'), os.clock_synchronized === 1 ? t('os.clock_synced') : os.clock_synchronized === 0 ? t('os.clock_not_synced') : t('common.unknown')],
          [t('host.uptime'), formatDuration(os.uptime_seconds, locale.lang)],
          [t('host.updates'), pendingUpdates(os)],
          [t('host.reboot_required'), os.reboot_required ? t('common.yes') : t('common.no')],
          [t('os.machine_id'), <span class="mono small">{os.machine_id}</span>],
        ]}
      />
    </section>
  );
}

function NetworkTab({ inventory }: { inventory: Inventory }) {
  const net = inventory.network ?? {};
  const firewall = inventory.security?.host_firewall;
  const verdictLabel: Record<string, string> = {
    open: t('firewall.open'),
    restricted: t('firewall.restricted'),
    closed: t('firewall.closed'),
    unknown: t('firewall.unknown'),
  };
  const verdictOf = (socket: { protocol?: string; family?: number; port?: number }) => {
    if (socket.protocol !== 'tcp') return '—';
    const verdict = (firewall?.ports ?? []).find((p) => p.port === socket.port && (p.family ?? 0) === (socket.family ?? 0));
    if (!verdict?.verdict) return '—';
    const label = verdictLabel[verdict.verdict] ?? verdict.verdict;
    return verdict.sources ? `${label}: ${verdict.sources}` : label;
  };
  return (
    <div>
      <section class="card">
        <h2>{t('net.interfaces')}</h2>
        <div class="table-wrap">
          <table class="data">
            <thead>
              <tr>
                <th>{t('net.name')}</th>
                <th>{t('net.state')}</th>
                <th>{t('net.addresses')}</th>
                <th>{t('net.mac')}</th>
                <th>{t('net.speed')}</th>
              </tr>
            </thead>
            <tbody>
              {(net.interfaces ?? []).map((i) => (
                <tr key={i.name}>
                  <td class="mono">{i.name}</td>
                  <td>{i.state}</td>
                  <td class="mono small">{(i.addresses ?? []).map((a) => `${a.address ?? ''}/${String(a.prefix ?? '')}`).join(', ')}</td>
                  <td class="mono small">{i.mac}</td>
                  <td>{i.speed_mbps && Number(i.speed_mbps) > 0 ? t('net.mbps', { n: String(i.speed_mbps) }) : '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <KeyValues
          rows={[
            [t('net.gateways'), (net.gateways ?? []).map((g) => `${g.address ?? ''} (${g.interface ?? ''})`).join(', ')],
            [t('net.dns'), (net.dns_servers ?? []).join(', ')],
            [t('net.search_domains'), (net.search_domains ?? []).join(', ')],
          ]}
        />
      </section>
      {firewall && (
        <section class="card" data-testid="host-firewall">
          <h2>{t('firewall.title')}</h2>
          <p>
            {firewall.backend
              ? t('firewall.summary', { backend: firewall.backend, policy: firewall.input_policy || '—', rules: firewall.rule_count ?? 0 })
              : t('firewall.not_read', { status: firewall.status ?? '' })}
          </p>
        </section>
      )}
      <section class="card">
        <h2>{t('net.ports')}</h2>
        {(net.listening ?? []).length === 0 ? (
          <Empty>{t('net.no_ports')}</Empty>
        ) : (
          <div class="table-wrap">
            <table class="data" data-testid="ports">
              <thead>
                <tr>
                  <th>{t('net.protocol')}</th>
                  <th>{t('net.address')}</th>
                  <th>{t('net.port')}</th>
                  <th>{t('net.process')}</th>
                  <th>{t('firewall.column')}</th>
                </tr>
              </thead>
              <tbody>
                {(net.listening ?? []).map((s, index) => (
                  <tr key={index}>
                    <td>{s.protocol}</td>
                    <td class="mono">{s.address}</td>
                    <td class="num">{s.port}</td>
                    <td>
                      {s.process} {s.pid ? <span class="muted small">({s.pid})</span> : null}
                    </td>
                    <td class="small">{verdictOf(s)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  );
}

function SoftwareTab({ inventory }: { inventory: Inventory }) {
  const [q, setQ] = useState('');
  const packages = inventory.software?.packages ?? [];
  const applications = inventory.software?.applications ?? [];
  const shown = useMemo(() => packages.filter((p) => matchesPackage(p, q)), [packages, q]);
  const shownApps = useMemo(() => applications.filter((p) => matchesPackage(p, q)), [applications, q]);
  const limit = 500;
  return (
    <section class="card">
      <div class="toolbar">
        <SearchBox value={q} onInput={setQ} placeholder={t('sw.search')} />
        <span class="muted">{t('sw.counts', { shown: shown.length + shownApps.length, total: packages.length + applications.length })}</span>
      </div>
      <div class="table-wrap">
        <table class="data" data-testid="packages">
          <thead>
            <tr>
              <th>{t('sw.name')}</th>
              <th>{t('sw.version')}</th>
              <th>{t('sw.source')}</th>
            </tr>
          </thead>
          <tbody>
            {shownApps.slice(0, limit).map((a, index) => (
              <tr key={`a${String(index)}`}>
                <td>{a.name}</td>
                <td class="mono small">{a.version}</td>
                <td>{a.kind || t('sw.application')}</td>
              </tr>
            ))}
            {shown.slice(0, limit).map((p, index) => (
              <tr key={`p${String(index)}`}>
                <td>
                  {p.name}
                  {p.held && (
                    <span class="badge small" title={t('sw.held_hint')}>
                      {' '}
                      {t('sw.held')}
                    </span>
                  )}
                </td>
                <td class="mono small">{p.version}</td>
                <td>{p.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {shown.length > limit && <p class="muted">{t('sw.refine', { n: limit })}</p>}
      </div>
    </section>
  );
}

// Where the packages come from: the distribution's own archive or a third party's.
function RepositoriesCard({ inventory }: { inventory: Inventory }) {
  const repositories = inventory.software?.repositories ?? [];
  if (repositories.length === 0) return null;
  return (
    <section class="card" data-testid="repositories">
      <h2>{t('repos.title')}</h2>
      <div class="table-wrap">
        <table class="data">
          <thead>
            <tr>
              <th>{t('repos.uri')}</th>
              <th>{t('repos.suite')}</th>
              <th>{t('repos.origin')}</th>
              <th class="hide-narrow">{t('repos.file')}</th>
            </tr>
          </thead>
          <tbody>
            {repositories.map((r, index) => (
              <tr key={String(index)}>
                <td class="mono small">
                  {r.name ? `${r.name} ` : ''}
                  {r.uri}
                </td>
                <td class="small">{[r.suite, r.components].filter(Boolean).join(' · ')}</td>
                <td>
                  {r.official ? t('repos.official') : t('repos.third_party')}
                  {!r.enabled && <span class="muted small"> ({t('repos.disabled')})</span>}
                </td>
                <td class="hide-narrow mono small">{r.file}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

// Backup jobs above the services: "is it backed up, and when did that last work".
function BackupJobsCard({ inventory }: { inventory: Inventory }) {
  const jobs = inventory.software?.backup_jobs ?? [];
  if (jobs.length === 0) return null;
  const seconds = (value: string | number | undefined) => Number(value ?? 0);
  const statusLabel: Record<string, string> = { ok: t('backups.status_ok'), failed: t('backups.status_failed'), running: t('backups.status_running') };
  return (
    <section class="card" data-testid="backup-jobs">
      <h2>{t('backups.title')}</h2>
      <div class="table-wrap">
        <table class="data">
          <thead>
            <tr>
              <th>{t('backups.tool')}</th>
              <th>{t('backups.what')}</th>
              <th>{t('backups.schedule')}</th>
              <th>{t('backups.last_success')}</th>
              <th>{t('backups.last_run')}</th>
              <th class="hide-narrow">{t('backups.source')}</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => (
              <tr key={`${job.source ?? ''} ${job.tool ?? ''} ${job.target ?? ''}`}>
                <td class="mono small">{job.tool}</td>
                <td class="mono small">
                  {job.target || job.destination}
                  {(job.instance_data_directory || (job.instance_port ?? 0) > 0) && (
                    <span class="muted" title={t('backups.instance')}>
                      {' '}
                      ({job.instance_data_directory || `:${job.instance_port}`})
                    </span>
                  )}
                </td>
                <td class="small">{job.schedule || '—'}</td>
                <td>{seconds(job.last_success_time) > 0 ? <DateTime ms={seconds(job.last_success_time) * 1000} /> : '—'}</td>
                <td class={job.last_status === 'failed' ? 'error-text' : ''} title={job.last_error || undefined}>
                  {seconds(job.last_run_time) > 0 ? <DateTime ms={seconds(job.last_run_time) * 1000} /> : '—'}{' '}
                  {job.last_status && <span class="small">({statusLabel[job.last_status] ?? job.last_status})</span>}
                </td>
                <td class="hide-narrow mono small">{job.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

// The PostgreSQL databases with their newest backup and the data directory's free space: "is
// every database backed up, and is there room for it".
function DatabasesCard({ inventory }: { inventory: Inventory }) {
  const { locale } = useSession();
  const servers = inventory.software?.database_servers ?? [];
  if (servers.length === 0) return null;
  return (
    <section class="card" data-testid="databases">
      <h2>{t('databases.title')}</h2>
      {servers.map((server) => {
        const total = Number(server.data_fs_total_bytes ?? 0);
        const free = Number(server.data_fs_available_bytes ?? 0);
        return (
          <div key={`${server.port ?? 0} ${server.data_directory ?? ''}`}>
            <p>
              <span class="mono">{`${server.kind ?? ''} ${server.version ?? ''} :${server.port ?? ''}`}</span>{' '}
              <span class="mono small">{server.data_directory}</span>
              {total > 0 && (
                <span class="small">
                  {' '}
                  {t('databases.free_space', {
                    mount: server.data_mount_point || '—',
                    free: formatBytes(free, locale.lang),
                    total: formatBytes(total, locale.lang),
                    pct: Math.round((100 * free) / total),
                  })}
                </span>
              )}
            </p>
            {!server.databases_listed ? (
              <Empty>{t('databases.unknown')}</Empty>
            ) : (
              <div class="table-wrap">
                <table class="data">
                  <thead>
                    <tr>
                      <th>{t('databases.name')}</th>
                      <th>{t('databases.size')}</th>
                      <th>{t('databases.last_backup')}</th>
                      <th class="hide-narrow">{t('databases.source')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {(server.databases ?? []).map((database) => {
                      const size = Number(database.size_bytes ?? -1);
                      const backup = Number(database.last_backup_time ?? 0);
                      return (
                        <tr key={database.name}>
                          <td class="mono">{database.name}</td>
                          <td class="num">{size >= 0 ? formatBytes(size, locale.lang) : '—'}</td>
                          <td class={backup > 0 ? '' : 'error-text'}>
                            {backup > 0 ? <DateTime ms={backup * 1000} /> : t('databases.no_backup')}
                            {database.covered_without_freshness && <span class="small"> ({t('databases.unknown_freshness')})</span>}
                          </td>
                          <td class="hide-narrow mono small">{database.last_backup_source || '—'}</td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            )}
          </div>
        );
      })}
    </section>
  );
}

function ServicesTab({ inventory }: { inventory: Inventory }) {
  const [q, setQ] = useState('');
  const services = (inventory.software?.services ?? []).filter((s) => !q || `${s.name ?? ''} ${s.description ?? ''}`.toLowerCase().includes(q.toLowerCase()));
  return (
    <section class="card">
      <div class="toolbar">
        <SearchBox value={q} onInput={setQ} placeholder={t('svc.search')} />
      </div>
      <div class="table-wrap">
        <table class="data">
          <thead>
            <tr>
              <th>{t('svc.name')}</th>
              <th>{t('svc.state')}</th>
              <th>{t('svc.enabled')}</th>
              <th class="hide-narrow">{t('svc.description')}</th>
            </tr>
          </thead>
          <tbody>
            {services.map((s) => (
              <tr key={s.name}>
                <td class="mono small">{s.name}</td>
                <td class={s.active_state === 'failed' ? 'error-text' : ''}>
                  {s.active_state} {s.sub_state && <span class="muted small">({s.sub_state})</span>}
                </td>
                <td>{s.enabled}</td>
                <td class="hide-narrow small">{s.description}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function UsersTab({ inventory }: { inventory: Inventory }) {
  const users = inventory.os?.users ?? [];
  const groups = (inventory.os?.groups ?? []).filter((g) => (g.members ?? []).length + (g.primary_members ?? []).length > 0);
  if (users.length === 0) return <Empty>{t('users.none')}</Empty>;
  const people = users.filter((u) => u.kind !== 'system');
  const system = users.filter((u) => u.kind === 'system');
  const rows = (list: typeof users) =>
    list.map((u) => (
      <tr key={u.name}>
        <td>
          {u.name}
          {u.disabled && <span class="muted small" title={t('users.disabled_hint')}> ({t('users.disabled')})</span>}
        </td>
        <td class="num">{u.uid}</td>
        <td>{u.administrator ? t('common.yes') : t('common.no')}</td>
        <td>
          {Number(u.last_login_time ?? 0) > 0 ? <Time ms={Number(u.last_login_time) * 1000} /> : <span class="muted">{t('users.never')}</span>}
          {u.last_login_from && <div class="muted small mono">{u.last_login_from}</div>}
        </td>
        <td class="mono small">{u.shell}</td>
        <td class="hide-narrow mono small">{u.home}</td>
      </tr>
    ));
  const head = (
    <thead>
      <tr>
        <th>{t('users.name')}</th>
        <th>{t('users.uid')}</th>
        <th>{t('users.admin')}</th>
        <th>{t('users.last_login')}</th>
        <th>{t('users.shell')}</th>
        <th class="hide-narrow">{t('users.home')}</th>
      </tr>
    </thead>
  );
  return (
    <div>
      <section class="card">
        <table class="data" data-testid="users">
          {head}
          <tbody>{rows(people)}</tbody>
        </table>
        {system.length > 0 && (
          <details>
            <summary>{tn('users.system_accounts', system.length)}</summary>
            <table class="data" data-testid="system-users">
              {head}
              <tbody>{rows(system)}</tbody>
            </table>
          </details>
        )}
      </section>
      {groups.length > 0 && (
        <section class="card" data-testid="groups">
          <h2>{t('users.groups')}</h2>
          <table class="data">
            <thead>
              <tr>
                <th>{t('users.group')}</th>
                <th>{t('users.gid')}</th>
                <th>{t('users.admin')}</th>
                <th>{t('users.members')}</th>
              </tr>
            </thead>
            <tbody>
              {groups.map((g) => (
                <tr key={g.name}>
                  <td>{g.name}</td>
                  <td class="num">{g.gid ?? 0}</td>
                  <td>{g.administrator ? t('common.yes') : t('common.no')}</td>
                  <td class="small">
                    {[...(g.members ?? []), ...(g.primary_members ?? []).filter((m) => !(g.members ?? []).includes(m)).map((m) => `${m} (${t('users.primary_group')})`)].join(', ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </div>
  );
}

function OneCTab({ inventory }: { inventory: Inventory }) {
  const packages = (inventory.software?.packages ?? []).filter((p) => isOneC(p.name));
  const applications = (inventory.software?.applications ?? []).filter((a) => isOneC(a.name) || isOneC(a.path));
  const services = (inventory.software?.services ?? []).filter((s) => isOneC(s.name) || /srv1cv8|ragent/i.test(s.name ?? ''));
  if (packages.length + applications.length + services.length === 0) return <Empty>{t('onec.none')}</Empty>;
  return (
    <section class="card" data-testid="onec">
      <h2>{t('onec.title')}</h2>
      <ul class="plain">
        {applications.map((a, index) => (
          <li key={`a${String(index)}`}>
            <strong>{a.name}</strong> {a.version} <span class="muted small mono">{a.path}</span>
            {a.kind === 'server' && a.state && (
              <span class={a.state === 'running' ? 'small' : 'small muted'}> — {a.state === 'running' ? t('onec.cluster_running') : t('onec.cluster_stopped')}</span>
            )}
          </li>
        ))}
        {packages.map((p, index) => (
          <li key={`p${String(index)}`}>
            <strong>{p.name}</strong> {p.version}
          </li>
        ))}
        {services.map((s) => (
          <li key={s.name}>
            {t('onec.service')}: <span class="mono">{s.name}</span> — {s.active_state}
          </li>
        ))}
      </ul>
    </section>
  );
}

// The running cluster: its processes (memory, start, ports they listen on), rac's view of the
// clusters (administrator configured or not), the technological logs and the licensing.
function OneCClusterCard({ inventory }: { inventory: Inventory }) {
  const { locale } = useSession();
  const agents = inventory.software?.onec_server_agents ?? [];
  const logs = inventory.software?.onec_tech_logs ?? [];
  const licensing = inventory.software?.onec_licensing;
  const licences = licensing?.licence_files ?? [];
  const managers = licensing?.hasp_manager_processes ?? [];
  if (agents.length + logs.length + licences.length + managers.length === 0) return null;
  const listening = inventory.network?.listening ?? [];
  const portsOf = (pid: number | undefined) =>
    [...new Set(listening.filter((l) => pid !== undefined && l.pid === pid).map((l) => l.port))].sort((a, b) => Number(a) - Number(b)).join(', ') || '—';
  const seconds = (value: string | number | undefined) => Number(value ?? 0);
  const adminLabel = (value: number | undefined) => (value === 1 ? t('onec.admin_configured') : value === 0 ? t('onec.admin_none') : t('onec.admin_unknown'));
  return (
    <section class="card" data-testid="onec-cluster">
      <h2>{t('onec.cluster_title')}</h2>
      {agents.map((agent) => (
        <div key={`agent${String(agent.pid)}`}>
          <KeyValues
            rows={[
              [t('onec.server_agent'), `${agent.version ?? ''} — ${String(agent.agent_port ?? '')}/${String(agent.manager_port ?? '')}/${String(agent.range_first ?? '')}:${String(agent.range_last ?? '')}`],
              [t('onec.registry'), agent.registry_path || '—'],
              [t('onec.restarted_workers'), String(agent.restarted_workers ?? 0)],
              ...(agent.clusters ?? []).map((c): [string, string] => [
                `${t('onec.cluster')} «${c.name ?? ''}»`,
                `${c.host ?? ''}:${String(c.port ?? '')} — ${t('onec.administrator')}: ${adminLabel(c.admin_configured)}${(c.infobase_count ?? -1) >= 0 ? `, ${t('onec.infobases')}: ${String(c.infobase_count)}` : ''}`,
              ]),
              ...(agent.rac_status && agent.rac_status !== 'ok' ? [[t('onec.rac'), agent.rac_status] as [string, string]] : []),
            ]}
          />
          <div class="table-wrap">
            <table class="data">
              <thead>
                <tr>
                  <th>{t('onec.role')}</th>
                  <th>PID</th>
                  <th>{t('onec.memory')}</th>
                  <th>{t('onec.started')}</th>
                  <th>{t('onec.ports')}</th>
                </tr>
              </thead>
              <tbody>
                {(agent.processes ?? []).map((p) => (
                  <tr key={String(p.pid)}>
                    <td class="mono small">{p.role}</td>
                    <td class="mono small">{p.pid}</td>
                    <td>{formatBytes(p.rss_bytes, locale.lang)}</td>
                    <td>{seconds(p.start_time) > 0 ? <DateTime ms={seconds(p.start_time) * 1000} /> : '—'}</td>
                    <td class="mono small">{portsOf(p.pid)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      ))}
      <KeyValues
        rows={[
          ...logs.map((log): [string, string] => [
            `${t('onec.tech_log')} ${log.config_path ?? ''}`,
            log.enabled
              ? `${log.location ?? ''} — ${String(log.history_hours ?? 24)} ${t('onec.hours')}, ${log.size_complete ? '' : '≥ '}${formatBytes(log.size_bytes, locale.lang)}`
              : t('onec.tech_log_off'),
          ]),
          [t('onec.licence_files'), licences.length > 0 ? licences.join(', ') : '—'],
          [t('onec.hasp_manager'), managers.length > 0 ? managers.join(', ') : '—'],
        ]}
      />
    </section>
  );
}

function ChangesTab({ agentId }: { agentId: string }) {
  const changes = useAsync(() => must(api.GET('/api/v1/hosts/{agent_id}/changes', { params: { path: { agent_id: agentId }, query: { limit: 500 } } })), [agentId]);
  if (!changes.data) return changes.error ? <ErrorBox error={changes.error} /> : <Loading />;
  if (changes.data.changes.length === 0) return <Empty>{t('changes.none')}</Empty>;
  return (
    <section class="card">
      <ol class="timeline" data-testid="changes">
        {changes.data.changes.map((c) => (
          <li key={c.id}>
            <Time ms={c.at_ms} /> — <strong>{tDynamic(`change.${c.action}`)}</strong> {tDynamic(`change_category.${c.category}`)}: <span class="mono">{c.subject}</span>
            {(c.old_value || c.new_value) && (
              <span class="muted small">
                {' '}
                {c.old_value || '∅'} → {c.new_value || '∅'}
              </span>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

// The agent reports -1 when it could not ask the package manager.
function pendingUpdates(os: NonNullable<Inventory['os']>): string {
  const all = os.pending_updates ?? 0;
  if (all < 0) return t('common.unknown');
  return t('host.updates_value', { all, security: Math.max(os.pending_security_updates ?? 0, 0) });
}
