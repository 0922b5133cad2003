import { api, must, type Finding } from '../api/client';
import type { paths } from '../api/schema.gen';
import { useSession } from '../lib/context';
import { usePagedList } from '../lib/paged';
import { categoryLabel, t, tn } from '../lib/i18n';
import { pathOf } from '../lib/router';
import { Empty, ErrorBox, Loading, SeverityBadge, StateBadge, Time } from './ui';

export type FindingsQuery = NonNullable<paths['/api/v1/findings']['get']['parameters']['query']>;

// A page of findings at a time (keyset cursor from the server), "show more" for the next.
export function FindingsTable(props: { query: FindingsQuery; showOrg?: boolean; showHost?: boolean; pageSize?: number }) {
  const { locale } = useSession();
  const { rows, next, error, loading, more, reload } = usePagedList<Finding>(
    (cursor) => {
      const query = { ...props.query, lang: locale.lang, limit: props.pageSize ?? 50, ...(cursor ? { cursor } : {}) };
      return must(api.GET('/api/v1/findings', { params: { query } })).then((page) => ({ rows: page.findings, next: page.next_cursor }));
    },
    // the query's JSON is its identity
    [JSON.stringify(props.query), locale.lang],
  );

  if (error && rows.length === 0) return <ErrorBox error={error} retry={reload} />;
  if (loading && rows.length === 0) return <Loading />;
  if (rows.length === 0) return <Empty>{t('findings.none')}</Empty>;
  return (
    <div class="table-wrap">
      <table class="data findings" data-testid="findings-table">
        <thead>
          <tr>
            <th>{t('findings.col_severity')}</th>
            <th>{t('findings.col_title')}</th>
            {props.showOrg !== false && <th class="hide-narrow">{t('findings.col_client')}</th>}
            {props.showHost !== false && <th>{t('findings.col_host')}</th>}
            <th>{t('findings.col_state')}</th>
            <th class="hide-narrow">{t('findings.col_first_seen')}</th>
            <th class="hide-narrow">{t('findings.col_last_seen')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((finding) => (
            <tr key={finding.id} data-finding-id={finding.id}>
              <td>
                <SeverityBadge severity={finding.severity} />
              </td>
              <td>
                <a href={pathOf('findings', finding.id)}>{finding.title || finding.rule_id}</a>
                {finding.object ? (
                  <>
                    {' '}
                    <code class="finding-object" data-testid="finding-object">{finding.object}</code>
                  </>
                ) : null}
                {finding.verify_requested_at_ms ? <span class="badge verify">{t('findings.verify_pending')}</span> : null}
                <div class="muted small">{categoryLabel(finding.category)}</div>
              </td>
              {props.showOrg !== false && (
                <td class="hide-narrow">
                  <a href={pathOf('orgs', finding.org_id)}>{finding.org}</a>
                </td>
              )}
              {props.showHost !== false && (
                <td>{finding.host ? <a href={pathOf('hosts', finding.host.agent_id)}>{finding.host.hostname}</a> : <span class="muted">{t('findings.estate_wide')}</span>}</td>
              )}
              <td>
                <StateBadge state={finding.state} />
              </td>
              <td class="hide-narrow small">
                <Time ms={finding.first_seen_ms} />
              </td>
              <td class="hide-narrow small">
                <Time ms={finding.last_seen_ms} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="table-foot">
        <span class="muted">{tn('findings.shown', rows.length)}</span>
        {next !== null && (
          <button type="button" class="secondary" disabled={loading} onClick={more}>
            {t('common.show_more')}
          </button>
        )}
        {error !== undefined && <ErrorBox error={error} />}
      </div>
    </div>
  );
}
