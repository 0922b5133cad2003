import { useMemo, useRef, useState } from 'preact/hooks';
import { api, kContractPhases, kContractTypes, kSeverities, must, type ContractPhase, type ContractType, type OrgSummary } from '../api/client';
import { Empty, ErrorBox, Loading, SearchBox, SortHeader, Time } from '../components/ui';
import { useSession } from '../lib/context';
import { matchesOrg, sortOrgs, type OrgFilter, type OrgSortKey } from '../lib/estate';
import { useFeed, type FeedEvent } from '../lib/feed';
import { useAsync } from '../lib/hooks';
import { t, tDynamic, tn } from '../lib/i18n';
import { pathOf } from '../lib/router';

export function OverviewPage() {
  const { me, locale } = useSession();
  const overview = useAsync(() => must(api.GET('/api/v1/overview')), []);
  const [filter, setFilter] = useState<OrgFilter>({ q: '', phase: '', type: '' });
  const [sort, setSort] = useState<{ key: OrgSortKey; desc: boolean }>({ key: 'findings', desc: true });
  const [recent, setRecent] = useState<FeedEvent[]>([]);
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  // Live: every feed event refreshes the numbers, at most once a second however many arrive.
  useFeed(overview.data?.events_after, (events) => {
    setRecent((list) => [...events.reverse(), ...list].slice(0, 12));
    if (refreshTimer.current === undefined) {
      refreshTimer.current = setTimeout(() => {
        refreshTimer.current = undefined;
        overview.reload();
      }, 1000);
    }
  });

  const orgs = useMemo(() => {
    const all = overview.data?.organizations ?? [];
    return sortOrgs(all.filter((org) => matchesOrg(org, filter)), sort.key, sort.desc, locale.lang);
  }, [overview.data, filter, sort, locale.lang]);

  if (!overview.data) return overview.error ? <ErrorBox error={overview.error} retry={overview.reload} /> : <Loading />;
  const totals = (overview.data.organizations).reduce(
    (sum, org) => ({
      hosts: sum.hosts + org.hosts.total,
      online: sum.online + org.hosts.online,
      critical: sum.critical + org.open_findings.critical,
      high: sum.high + org.open_findings.high,
    }),
    { hosts: 0, online: 0, critical: 0, high: 0 },
  );
  const header = (label: string, key: OrgSortKey, cls?: string) => (
    <SortHeader label={label} sortKey={key} sort={sort} onSort={setSort} class={cls} />
  );
  return (
    <div class="overview" data-page="overview">
      <div class="page-head">
        <h1>{me.role === 'admin' ? t('overview.title_all') : t('overview.title_mine')}</h1>
        <span class="muted live" title={t('overview.live_hint')}>
          ● {t('overview.live')} · <Time ms={overview.data.generated_at_ms} />
        </span>
      </div>
      <div class="stats">
        <div class="stat">
          <strong>{overview.data.organizations.length}</strong>
          <span>{tn('overview.clients_count', overview.data.organizations.length)}</span>
        </div>
        <div class="stat">
          <strong>
            {totals.online}/{totals.hosts}
          </strong>
          <span>{t('overview.hosts_online')}</span>
        </div>
        <div class="stat sev-critical-text">
          <strong>{totals.critical}</strong>
          <span>{t('overview.critical_open')}</span>
        </div>
        <div class="stat sev-high-text">
          <strong>{totals.high}</strong>
          <span>{t('overview.high_open')}</span>
        </div>
      </div>
      <div class="toolbar">
        <SearchBox value={filter.q} placeholder={t('overview.search')} onInput={(q) => setFilter({ ...filter, q })} />
        <select aria-label={t('org.phase')} value={filter.phase} onChange={(e) => setFilter({ ...filter, phase: e.currentTarget.value as ContractPhase | '' })}>
          <option value="">{t('overview.any_phase')}</option>
          {kContractPhases.map((phase) => (
            <option key={phase} value={phase}>
              {tDynamic(`phase.${phase}`)}
            </option>
          ))}
        </select>
        <select aria-label={t('org.type')} value={filter.type} onChange={(e) => setFilter({ ...filter, type: e.currentTarget.value as ContractType | '' })}>
          <option value="">{t('overview.any_type')}</option>
          {kContractTypes.map((type) => (
            <option key={type} value={type}>
              {tDynamic(`contract_type.${type}`)}
            </option>
          ))}
        </select>
        <span class="muted">{tn('overview.shown', orgs.length)}</span>
      </div>
      <div class="overview-grid">
        <div class="table-wrap">
          <table class="data orgs" data-testid="orgs-table">
            <thead>
              <tr>
                {header(t('overview.col_client'), 'name')}
                {header(t('overview.col_phase'), 'phase', 'hide-narrow')}
                <th class="hide-narrow">{t('overview.col_engineers')}</th>
                {header(t('overview.col_score'), 'score')}
                {header(t('overview.col_findings'), 'findings')}
                {header(t('overview.col_hosts'), 'hosts', 'hide-narrow')}
                {header(t('overview.col_offline'), 'offline', 'hide-narrow')}
                {header(t('overview.col_last_change'), 'last_change', 'hide-narrow')}
              </tr>
            </thead>
            <tbody>
              {orgs.map((org) => (
                <OrgRow key={org.id} org={org} />
              ))}
            </tbody>
          </table>
          {orgs.length === 0 && <Empty>{t('overview.none')}</Empty>}
        </div>
        <aside class="card feed" data-testid="live-feed">
          <h2>{t('overview.recent')}</h2>
          {recent.length === 0 ? <p class="muted">{t('overview.no_recent')}</p> : recent.map((event) => <FeedLine key={event.id} event={event} />)}
        </aside>
      </div>
    </div>
  );
}

function OrgRow({ org }: { org: OrgSummary }) {
  const primary = org.engineers.filter((e) => e.kind === 'primary');
  const backup = org.engineers.filter((e) => e.kind === 'backup');
  return (
    <tr>
      <td>
        <a href={pathOf('orgs', org.id)} class="strong">
          {org.name}
        </a>
        <div class="muted small">{tDynamic(`contract_type.${org.contract_type}`)}</div>
      </td>
      <td class="hide-narrow">
        <span class={`phase phase-${org.contract_status}`}>{tDynamic(`phase.${org.contract_status}`)}</span>
      </td>
      <td class="hide-narrow small">
        {primary.map((e) => e.display_name || e.login).join(', ') || <span class="muted">{t('overview.unassigned')}</span>}
        {backup.length > 0 && <div class="muted">{t('overview.backup')}: {backup.map((e) => e.display_name || e.login).join(', ')}</div>}
      </td>
      <td>
        <Score value={org.readiness_score} />
      </td>
      <td>
        <SeverityCounts counts={org.open_findings} />
      </td>
      <td class="hide-narrow num">{org.hosts.total}</td>
      <td class="hide-narrow small">
        {org.hosts.offline > 0 && <span class="dot dot-offline">{org.hosts.offline}</span>}{' '}
        {org.hosts.overdue > 0 && <span class="dot dot-overdue" title={t('presence.overdue')}>{org.hosts.overdue}</span>}
        {org.hosts.offline + org.hosts.overdue === 0 && <span class="muted">—</span>}
      </td>
      <td class="hide-narrow small">
        <Time ms={org.last_change_at_ms} />
      </td>
    </tr>
  );
}

export function Score({ value }: { value: number }) {
  const level = value >= 80 ? 'good' : value >= 50 ? 'fair' : 'poor';
  return (
    <span class={`score score-${level}`} title={t('overview.score_hint')}>
      {value}
    </span>
  );
}

export function SeverityCounts({ counts }: { counts: OrgSummary['open_findings'] }) {
  const shown = kSeverities.filter((severity) => severity !== 'info' && counts[severity] > 0);
  if (shown.length === 0) return <span class="muted">0</span>;
  return (
    <span class="sev-counts">
      {shown.map((severity) => (
        <span key={severity} class={`badge sev-${severity}`} title={tDynamic(`severity.${severity}`)}>
          {counts[severity]}
        </span>
      ))}
    </span>
  );
}

function FeedLine({ event }: { event: FeedEvent }) {
  const target = event.host ? event.host.hostname : event.org;
  const href = event.finding ? pathOf('findings', event.finding.id) : event.host ? pathOf('hosts', event.host.agent_id) : event.org_id ? pathOf('orgs', event.org_id) : '/';
  return (
    <div class="feed-line">
      <a href={href}>{tDynamic(`event.${event.kind}`)}</a>
      <div class="muted small">
        {event.org} · {target} · <Time ms={event.at_ms} />
      </div>
    </div>
  );
}
