// Alerts (staff): what alerting told whom and whether it arrived, acknowledging an alert so that it
// stops escalating, and each channel's outbox (a channel that keeps failing shows at the top).
import { useState } from 'preact/hooks';
import { api, must, type Schemas, type Severity } from '../api/client';
import { kSeverities } from '../api/enums';
import { Empty, ErrorBox, Loading, SeverityBadge, Time, errorText } from '../components/ui';
import { useSession } from '../lib/context';
import { useAsync } from '../lib/hooks';
import { t, tDynamic } from '../lib/i18n';
import { pathOf } from '../lib/router';

type Alert = Schemas['Alert'];

// An alert's severity as the badge knows it: finding alerts have one, host and site alerts none.
function severityOf(alert: Alert): Severity | undefined {
  return kSeverities.find((s) => s === alert.severity);
}

export function AlertsPage() {
  const { can, toast } = useSession();
  const [unacknowledged, setUnacknowledged] = useState(true);
  const [before, setBefore] = useState<number | undefined>(undefined);
  const alerts = useAsync(
    () => must(api.GET('/api/v1/alerts', { params: { query: { limit: 50, ...(unacknowledged ? { unacknowledged: 'true' } : {}), ...(before ? { before } : {}) } } })),
    [unacknowledged, before],
  );
  const channels = useAsync(() => must(api.GET('/api/v1/alert-channels')), []);
  if (!can.isStaff) return <ErrorBox error={new Error(t('error.forbidden'))} />;
  const ack = (alert: Alert) => {
    must(api.POST('/api/v1/alerts/{id}/ack', { params: { path: { id: alert.id } } })).then(
      () => {
        toast(t('alerts.acked'));
        alerts.reload();
      },
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  const troubled = (channels.data?.channels ?? []).filter((c) => c.failed > 0 || c.last_error !== '');
  return (
    <div data-page="alerts">
      <div class="page-head">
        <h1>{t('alerts.title')}</h1>
      </div>
      {troubled.length > 0 && (
        <section class="card notice" data-testid="channel-trouble">
          <h2>{t('alerts.channel_trouble')}</h2>
          <ul class="plain">
            {troubled.map((c) => (
              <li key={c.channel}>
                <strong>{tDynamic(`alerts.channel_${c.channel}`)}</strong>: {t('alerts.channel_counts', { pending: c.pending, failed: c.failed })}
                {c.last_error && (
                  <div class="error-text mono small" lang="en">
                    {c.last_error}
                  </div>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
      <section class="card">
        <div class="toolbar">
          <label class="inline">
            <input
              type="checkbox"
              data-testid="alerts-unacknowledged"
              checked={unacknowledged}
              onChange={(e) => {
                setBefore(undefined);
                setUnacknowledged(e.currentTarget.checked);
              }}
            />{' '}
            {t('alerts.unacknowledged_only')}
          </label>
        </div>
        {!alerts.data ? (
          alerts.error ? <ErrorBox error={alerts.error} retry={alerts.reload} /> : <Loading />
        ) : alerts.data.alerts.length === 0 ? (
          <Empty>{t('alerts.none')}</Empty>
        ) : (
          <div class="table-wrap">
            <table class="data" data-testid="alerts-table">
              <thead>
                <tr>
                  <th>{t('alerts.when')}</th>
                  <th>{t('alerts.what')}</th>
                  <th>{t('alerts.client')}</th>
                  <th>{t('alerts.delivery')}</th>
                  <th>{t('alerts.state')}</th>
                </tr>
              </thead>
              <tbody>
                {alerts.data.alerts.map((alert) => (
                  <tr key={alert.id} data-alert={alert.id}>
                    <td class="small">
                      <Time ms={alert.created_at_ms} />
                    </td>
                    <td>
                      {severityOf(alert) && <SeverityBadge severity={severityOf(alert) ?? 'info'} />} {tDynamic(`alerts.kind_${alert.kind}`)}
                      <div class="small">
                        {alert.finding_id !== null ? (
                          <a href={pathOf('findings', alert.finding_id)}>{alert.hostname || alert.agent_id || t('alerts.estate')}</a>
                        ) : alert.agent_id ? (
                          <a href={pathOf('hosts', alert.agent_id)}>{alert.hostname || alert.agent_id}</a>
                        ) : null}
                        {alert.stage > 0 && <span class="badge muted-badge">{t('alerts.escalated', { stage: alert.stage })}</span>}
                        {alert.suppressed && <span class="badge muted-badge">{tDynamic(`alerts.suppressed_${alert.suppressed}`)}</span>}
                      </div>
                    </td>
                    <td>
                      <a href={pathOf('orgs', alert.org_id)}>{alert.org}</a>
                    </td>
                    <td class="small">
                      <ul class="plain" data-testid="alert-deliveries">
                        {alert.deliveries.map((d) => (
                          <li key={d.id} class={d.state === 'failed' ? 'error-text' : d.state === 'pending' ? 'muted' : ''} title={d.last_error}>
                            {tDynamic(`alerts.channel_${d.channel}`)} → {d.recipient ?? t('alerts.helpdesk')}: {tDynamic(`alerts.delivery_${d.state}`)}
                            {d.attempts > 1 && ` (${t('alerts.attempts', { n: d.attempts })})`}
                            {d.state === 'pending' && d.held && ` (${tDynamic(`alerts.held_${d.held}`)})`}
                          </li>
                        ))}
                        {alert.deliveries.length === 0 && !alert.suppressed && <li class="muted">{t('alerts.nobody')}</li>}
                      </ul>
                    </td>
                    <td>
                      {alert.acked_at_ms !== null ? (
                        <span class="small">
                          {t('alerts.acked_by', { who: alert.acked_by })} <Time ms={alert.acked_at_ms} />
                        </span>
                      ) : can.canWrite ? (
                        <button type="button" data-action="ack-alert" onClick={() => ack(alert)}>
                          {t('alerts.ack')}
                        </button>
                      ) : (
                        <span class="muted small">{t('alerts.open')}</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {alerts.data && alerts.data.next_before !== null && (
          <button type="button" class="secondary" onClick={() => setBefore(alerts.data?.next_before ?? undefined)}>
            {t('admin.older')}
          </button>
        )}
      </section>
    </div>
  );
}
