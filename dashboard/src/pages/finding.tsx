import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api, must, type Schemas } from '../api/client';
import { DateTime, Dialog, ErrorBox, Field, KeyValues, Loading, SeverityBadge, StateBadge, Time, errorText } from '../components/ui';
import { useSession } from '../lib/context';
import { endOfDayMs, formatEffort } from '../lib/format';
import { useAsync } from '../lib/hooks';
import { categoryLabel, lang, t, tDynamic } from '../lib/i18n';
import { pathOf } from '../lib/router';
import { askedBy, kSystemActor, systemNoteKey } from '../lib/system-notes';

type Action = 'ack' | 'waive' | 'comment' | 'verify' | null;

export function FindingPage({ id }: { id: number }) {
  const { can, locale, toast } = useSession();
  const detail = useAsync(() => must(api.GET('/api/v1/findings/{id}', { params: { path: { id }, query: { lang: locale.lang } } })), [id, locale.lang]);
  const [action, setAction] = useState<Action>(null);
  const [text, setText] = useState('');
  const [until, setUntil] = useState('');
  const [busy, setBusy] = useState(false);
  if (!detail.data) return detail.error ? <ErrorBox error={detail.error} retry={detail.reload} /> : <Loading />;
  const { finding, events, rule } = detail.data;
  const path = { id };
  const query = { lang: locale.lang };
  const active = finding.state === 'open' || finding.state === 'acknowledged' || finding.state === 'regressed';

  const run = (call: () => Promise<unknown>, done: string) => {
    setBusy(true);
    call().then(
      () => {
        setBusy(false);
        setAction(null);
        setText('');
        setUntil('');
        detail.reload();
        toast(done);
      },
      (failure: unknown) => {
        setBusy(false);
        toast(errorText(failure), 'error');
      },
    );
  };
  const submit = () => {
    if (action === 'ack') run(() => must(api.POST('/api/v1/findings/{id}/ack', { params: { path, query }, body: text ? { comment: text } : {} })), t('finding.acknowledged'));
    if (action === 'comment') run(() => must(api.POST('/api/v1/findings/{id}/comments', { params: { path, query }, body: { comment: text } })), t('finding.commented'));
    if (action === 'verify') run(() => must(api.POST('/api/v1/findings/{id}/verify', { params: { path, query }, body: text ? { comment: text } : {} })), t('finding.verify_requested'));
    if (action === 'waive') {
      const untilMs = until ? endOfDayMs(until, locale.timeZone) : null;
      run(() => must(api.POST('/api/v1/findings/{id}/waive', { params: { path, query }, body: { reason: text, until: untilMs } })), t('finding.waived'));
    }
  };
  const unwaive = () => run(() => must(api.POST('/api/v1/findings/{id}/unwaive', { params: { path, query } })), t('finding.unwaived'));
  const acceptWaiver = () => run(() => must(api.POST('/api/v1/findings/{id}/accept-waiver', { params: { path, query } })), t('finding.waiver_accepted'));
  const titles: Record<Exclude<Action, null>, string> = {
    ack: t('finding.ack'),
    waive: t('finding.waive'),
    comment: t('finding.comment'),
    verify: t('finding.verify'),
  };
  const evidence = Array.isArray(finding.evidence) ? finding.evidence : [];
  const waiverRows: [string, ComponentChildren][] =
    finding.state === 'waived'
      ? [
          [t('finding.waived_by'), `${finding.waived_by}: ${finding.waive_reason}`],
          [t('finding.waived_until'), <DateTime ms={finding.waived_until_ms} />],
        ]
      : [];
  return (
    <div data-page="finding">
      <div class="page-head">
        <div>
          <div class="crumbs">
            <a href="/findings">{t('nav.findings')}</a> / <a href={pathOf('orgs', finding.org_id)}>{finding.org}</a>
            {finding.host && (
              <>
                {' '}
                / <a href={pathOf('hosts', finding.host.agent_id)}>{finding.host.hostname}</a>
              </>
            )}
          </div>
          <h1>
            {finding.title || finding.rule_id}
            {finding.object ? (
              <>
                {' '}
                <code class="finding-object" data-testid="finding-object">{finding.object}</code>
              </>
            ) : null}
          </h1>
          <div>
            <SeverityBadge severity={finding.severity} /> <StateBadge state={finding.state} /> <span class="muted">{categoryLabel(finding.category)}</span>
            {finding.verify_requested_at_ms ? <span class="badge verify">{t('findings.verify_pending')}</span> : null}
          </div>
        </div>
        <div class="actions" data-testid="finding-actions">
          {can.canWrite && active && finding.state !== 'acknowledged' && (
            <button type="button" data-action="ack" onClick={() => setAction('ack')}>
              {t('finding.ack')}
            </button>
          )}
          {can.canWrite && active && (
            <button type="button" class="secondary" data-action="waive" onClick={() => setAction('waive')}>
              {t('finding.waive')}
            </button>
          )}
          {can.canWrite && finding.state === 'waived' && (
            <button type="button" class="secondary" data-action="unwaive" disabled={busy} onClick={unwaive}>
              {t('finding.unwaive')}
            </button>
          )}
          {can.canClientAction && active && !finding.verify_requested_at_ms && (
            <button type="button" class="secondary" data-action="verify" onClick={() => setAction('verify')}>
              {t('finding.verify')}
            </button>
          )}
          {can.canClientAction && !can.isStaff && finding.state === 'waived' && (
            <button type="button" class="secondary" data-action="accept-waiver" disabled={busy} onClick={acceptWaiver}>
              {t('finding.accept_waiver')}
            </button>
          )}
          {can.canClientAction && (
            <button type="button" class="secondary" data-action="comment" onClick={() => setAction('comment')}>
              {t('finding.comment')}
            </button>
          )}
        </div>
      </div>
      <div class="grid-2">
        <section class="card">
          <h2>{t('finding.evidence')}</h2>
          {evidence.length > 0 ? <EvidenceTable rows={evidence} /> : <pre class="mono small">{typeof finding.evidence === 'string' ? finding.evidence : '—'}</pre>}
          {rule && (
            <>
              <h2>{t('finding.why')}</h2>
              <p class="prose">{rule.why || '—'}</p>
              <h2>{t('finding.what_to_do')}</h2>
              <p class="prose">{rule.remediation || '—'}</p>
              {rule.effort_hours > 0 && (
                <p class="muted">
                  {t('finding.effort')}: {formatEffort(rule.effort_hours, lang())}
                </p>
              )}
            </>
          )}
          <KeyValues
            rows={[
              [t('finding.rule'), <span class="mono">{finding.rule_id}</span>],
              [t('finding.target'), <span class="mono small">{finding.target}</span>],
              [t('findings.col_first_seen'), <DateTime ms={finding.first_seen_ms} />],
              [t('findings.col_last_seen'), <DateTime ms={finding.last_seen_ms} />],
              [t('finding.regressions'), String(finding.regressions)],
              ...waiverRows,
            ]}
          />
        </section>
        <section class="card">
          <h2>{t('finding.history')}</h2>
          <ol class="timeline" data-testid="finding-history">
            {[...events].reverse().map((event) => (
              <HistoryLine key={event.id} event={event} />
            ))}
          </ol>
        </section>
      </div>
      <Dialog title={action ? titles[action] : ''} open={action !== null} onClose={() => setAction(null)}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            submit();
          }}
        >
          {action === 'waive' && (
            <Field label={t('finding.waive_until')} hint={t('finding.waive_until_hint')}>
              <input type="date" name="until" value={until} onInput={(e) => setUntil(e.currentTarget.value)} />
            </Field>
          )}
          <Field label={action === 'waive' ? t('finding.waive_reason') : t('finding.comment_text')}>
            <textarea name="text" rows={4} required={action === 'waive' || action === 'comment'} value={text} onInput={(e) => setText(e.currentTarget.value)} />
          </Field>
          <div class="actions">
            <button type="submit" disabled={busy} data-testid="dialog-submit">
              {action ? titles[action] : ''}
            </button>
            <button type="button" class="secondary" onClick={() => setAction(null)}>
              {t('common.cancel')}
            </button>
          </div>
        </form>
      </Dialog>
    </div>
  );
}

function HistoryLine({ event }: { event: Schemas['FindingEvent'] }) {
  const note = systemNoteKey(event.actor, event.kind, event.comment);
  return (
    <li data-kind={event.kind}>
      <Time ms={event.at_ms} /> — <strong>{tDynamic(`finding_event.${event.kind}`)}</strong>
      {event.actor && <span class="muted"> · {event.actor === kSystemActor ? t('finding.system_actor') : event.actor}</span>}
      {event.comment && <div class="comment">{note ? t(note, { who: askedBy(event.comment) }) : event.comment}</div>}
    </li>
  );
}

function EvidenceTable({ rows }: { rows: Record<string, unknown>[] }) {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))].filter((c) => c !== 'host_id' && c !== 'org_id').slice(0, 8);
  return (
    <div class="table-wrap">
      <table class="data compact" data-testid="evidence">
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.slice(0, 50).map((row, index) => (
            <tr key={index}>
              {columns.map((c) => (
                <td key={c} class="small">
                  {formatCell(row[c])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
