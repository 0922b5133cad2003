import { useState } from 'preact/hooks';
import { api, must, type Host } from '../api/client';
import type { paths } from '../api/schema.gen';
import { t, tDynamic, tn } from '../lib/i18n';
import { usePagedList } from '../lib/paged';
import { pathOf } from '../lib/router';
import { Empty, ErrorBox, Loading, Presence, SearchBox, SortHeader, Time } from './ui';

type HostsQuery = NonNullable<paths['/api/v1/hosts']['get']['parameters']['query']>;
type HostSortKey = 'hostname' | 'last_seen';
// The presence filter's choices, each a value of the API's `status` list ('' = every host).
const kPresence = ['', 'online', 'offline', 'overdue', 'revoked'] as const;
type Presence = (typeof kPresence)[number];

export function HostsTable({ org }: { org: string }) {
  const [q, setQ] = useState('');
  const [presence, setPresence] = useState<Presence>('');
  // Sorted by the server (the list is paged): host name, or the longest silent first.
  const [sort, setSort] = useState<{ key: HostSortKey; desc: boolean }>({ key: 'hostname', desc: false });
  // Typing in the search waits for a pause before asking the server.
  const { rows, next, error, loading, more, reload } = usePagedList<Host>(
    (cursor) => {
      const query: HostsQuery = {
        org,
        sort: sort.desc ? `-${sort.key}` : sort.key,
        limit: 100,
        ...(q ? { q } : {}),
        ...(presence ? { status: presence } : {}),
        ...(cursor ? { cursor } : {}),
      };
      return must(api.GET('/api/v1/hosts', { params: { query } })).then((page) => ({ rows: page.hosts, next: page.next_cursor }));
    },
    [org, q, presence, sort.key, sort.desc],
    q ? 250 : 0,
  );
  const header = (label: string, key: HostSortKey) => <SortHeader label={label} sortKey={key} sort={sort} onSort={setSort} />;
  return (
    <div>
      <div class="toolbar">
        <SearchBox value={q} onInput={setQ} placeholder={t('hosts.search')} />
        <select
          aria-label={t('hosts.presence')}
          data-testid="hosts-presence"
          value={presence}
          onChange={(e) => {
            const value = e.currentTarget.value;
            setPresence(kPresence.find((choice) => choice === value) ?? '');
          }}
        >
          {kPresence.map((choice) => (
            <option key={choice} value={choice}>
              {choice === '' ? t('hosts.presence_all') : tDynamic(`hosts.presence_${choice}`)}
            </option>
          ))}
        </select>
      </div>
      {error !== undefined && rows.length === 0 ? (
        <ErrorBox error={error} retry={reload} />
      ) : loading && rows.length === 0 ? (
        <Loading />
      ) : rows.length === 0 ? (
        <Empty>{t('hosts.none')}</Empty>
      ) : (
        <div class="table-wrap">
          <table class="data hosts" data-testid="hosts-table">
            <thead>
              <tr>
                {header(t('hosts.col_host'), 'hostname')}
                <th>{t('hosts.col_state')}</th>
                <th class="hide-narrow">{t('hosts.col_os')}</th>
                <th class="hide-narrow">{t('hosts.col_addresses')}</th>
                {header(t('hosts.col_last_seen'), 'last_seen')}
                <th class="hide-narrow">{t('hosts.col_agent')}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((host) => (
                <tr key={host.agent_id}>
                  <td>
                    <a href={pathOf('hosts', host.agent_id)} class="strong">
                      {host.hostname || host.agent_id}
                    </a>
                    {host.source === 'import' && <span class="badge muted-badge">{t('hosts.imported')}</span>}
                  </td>
                  <td>
                    <Presence online={host.online} revoked={host.revoked} />
                  </td>
                  <td class="hide-narrow">{host.os_pretty_name}</td>
                  <td class="hide-narrow small mono">{host.addresses.slice(0, 3).join(', ')}</td>
                  <td class="small">
                    <Time ms={host.last_seen_ms} />
                  </td>
                  <td class="hide-narrow small">{host.agent_version}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <div class="table-foot">
            <span class="muted">{tn('hosts.shown', rows.length)}</span>
            {next !== null && (
              <button type="button" class="secondary" disabled={loading} onClick={more}>
                {t('common.show_more')}
              </button>
            )}
          </div>
        </div>
      )}
    </div>
  );
}
