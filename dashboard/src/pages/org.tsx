import { useState } from 'preact/hooks';
import { api, must, type ContractPhase } from '../api/client';
import { FindingsTable } from '../components/findings-table';
import { HostsTable } from '../components/hosts-table';
import { CopyButton, DateTime, Empty, ErrorBox, Field, Loading, Tabs, Time, errorText } from '../components/ui';
import { allowedMoves } from '../lib/contract';
import { useSession } from '../lib/context';
import { useAsync } from '../lib/hooks';
import { t, tDynamic } from '../lib/i18n';
import { pathOf } from '../lib/router';
import { Score, SeverityCounts } from './overview';
import { ReadinessTrend } from '../components/readiness-trend';

export function OrgPage({ org, tab }: { org: string; tab: string }) {
  const { can } = useSession();
  const summary = useAsync(() => must(api.GET('/api/v1/orgs/{org}/summary', { params: { path: { org } } })), [org]);
  if (!summary.data) return summary.error ? <ErrorBox error={summary.error} retry={summary.reload} /> : <Loading />;
  const s = summary.data;
  const base = pathOf('orgs', s.id);
  const tabs = [
    { id: 'hosts', label: t('org.tab_hosts'), href: base },
    { id: 'findings', label: t('org.tab_findings'), href: `${base}/findings` },
    { id: 'report', label: t('org.tab_report'), href: `${base}/report` },
    { id: 'contract', label: t('org.tab_contract'), href: `${base}/contract` },
    { id: 'people', label: t('org.tab_people'), href: `${base}/people` },
    { id: 'enroll', label: t('org.tab_enroll'), href: `${base}/enroll`, hidden: !can.isStaff },
  ];
  const orgKey = String(s.id);
  return (
    <div data-page="org">
      <div class="page-head">
        <div>
          <h1>{s.name}</h1>
          <div class="muted">
            <span class={`phase phase-${s.contract_status}`}>{tDynamic(`phase.${s.contract_status}`)}</span> · {tDynamic(`contract_type.${s.contract_type}`)} ·{' '}
            {s.engineers.map((e) => `${e.display_name || e.login} (${tDynamic(`assignment.${e.kind}`)})`).join(', ') || t('overview.unassigned')}
          </div>
        </div>
        <div class="head-figures">
          <div class="figure">
            <span class="muted small">{t('org.readiness')}</span>
            <Score value={s.readiness_score} />
          </div>
          <div class="figure">
            <span class="muted small">{t('org.open_findings')}</span>
            <SeverityCounts counts={s.open_findings} />
          </div>
          <div class="figure">
            <span class="muted small">{t('org.hosts_state')}</span>
            <span>
              {t('org.hosts_breakdown', { online: s.hosts.online, total: s.hosts.total, offline: s.hosts.offline, overdue: s.hosts.overdue })}
            </span>
          </div>
        </div>
      </div>
      <ReadinessTrend org={orgKey} />
      <Tabs tabs={tabs} active={tab} />
      {tab === 'hosts' && <HostsTable org={orgKey} />}
      {tab === 'findings' && <FindingsTable query={{ org: orgKey, state: 'all' }} showOrg={false} />}
      {tab === 'report' && <ReportTab org={orgKey} />}
      {tab === 'contract' && <ContractTab org={orgKey} onMoved={summary.reload} />}
      {tab === 'people' && <PeopleTab org={orgKey} />}
      {tab === 'enroll' && can.isStaff && <EnrollTab org={orgKey} />}
    </div>
  );
}

function ReportTab({ org }: { org: string }) {
  const { locale, can, toast } = useSession();
  const [version, setVersion] = useState(0);
  const [busy, setBusy] = useState(false);
  const url = (format: string, inline = false) =>
    `/api/v1/orgs/${encodeURIComponent(org)}/report?format=${format}&lang=${locale.lang}${inline ? '&disposition=inline' : ''}`;
  const evaluate = () => {
    setBusy(true);
    must(api.POST('/api/v1/orgs/{org}/evaluate', { params: { path: { org } } })).then(
      () => {
        setBusy(false);
        setVersion(version + 1);
        toast(t('report.evaluated'));
      },
      (failure: unknown) => {
        setBusy(false);
        toast(errorText(failure), 'error');
      },
    );
  };
  return (
    <div class="report-tab">
      <div class="toolbar">
        <span>{t('report.download')}:</span>
        {(['pdf', 'html', 'csv', 'json'] as const).map((format) => (
          <a key={format} class="button secondary" href={url(format)} download data-download={format}>
            {format.toUpperCase()}
          </a>
        ))}
        {can.canWrite && (
          <button type="button" onClick={evaluate} disabled={busy}>
            {t('report.evaluate_now')}
          </button>
        )}
      </div>
      <iframe key={version} class="report-frame" title={t('report.title')} src={url('html', true)} data-testid="report-frame" />
    </div>
  );
}

// How many machines the client says it has: the audit report's coverage compares it with the
// machines running an agent and calls its verdict limited while some were never audited.
function DeclaredHostsCard({ org }: { org: string }) {
  const { can, toast } = useSession();
  const info = useAsync(() => must(api.GET('/api/v1/orgs/{org}', { params: { path: { org } } })), [org]);
  const [draft, setDraft] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!info.data) return info.error ? <ErrorBox error={info.error} retry={info.reload} /> : <Loading />;
  const o = info.data;
  const value = draft ?? (o.declared_hosts == null ? '' : String(o.declared_hosts));
  const trimmed = value.trim();
  const valid = trimmed === '' || (/^\d{1,7}$/.test(trimmed) && Number(trimmed) <= 1_000_000);
  const save = (event: Event) => {
    event.preventDefault();
    if (!valid) return;
    setBusy(true);
    const declared_hosts = trimmed === '' ? null : Number(trimmed);
    must(api.PATCH('/api/v1/orgs/{org}', { params: { path: { org } }, body: { declared_hosts } })).then(
      () => {
        setBusy(false);
        setDraft(null);
        info.reload();
        toast(t('contract.declared_saved'));
      },
      (failure: unknown) => {
        setBusy(false);
        toast(errorText(failure), 'error');
      },
    );
  };
  return (
    <section class="card" data-testid="declared-hosts">
      <h2>{t('contract.declared_title')}</h2>
      <p data-testid="declared-hosts-summary">
        {o.declared_hosts == null
          ? t('contract.declared_none', { seen: o.host_count })
          : t('contract.declared_value', { seen: o.host_count, declared: o.declared_hosts })}
      </p>
      {o.declared_hosts != null && o.declared_hosts > o.host_count && (
        <p class="notice">{t('contract.declared_gap', { n: o.declared_hosts - o.host_count })}</p>
      )}
      {can.canWrite && (
        <form onSubmit={save}>
          <Field label={t('contract.declared_label')} hint={valid ? t('contract.declared_hint') : t('contract.declared_invalid')}>
            <input type="text" inputMode="numeric" value={value} aria-invalid={!valid} onInput={(e) => setDraft(e.currentTarget.value)} data-testid="declared-hosts-input" />
          </Field>
          <button type="submit" disabled={busy || !valid} data-testid="declared-hosts-save">
            {t('common.save')}
          </button>
        </form>
      )}
    </section>
  );
}

function ContractTab({ org, onMoved }: { org: string; onMoved: () => void }) {
  const { can, toast } = useSession();
  const contract = useAsync(() => must(api.GET('/api/v1/orgs/{org}/contract', { params: { path: { org } } })), [org]);
  const [busy, setBusy] = useState(false);
  if (!contract.data) return contract.error ? <ErrorBox error={contract.error} retry={contract.reload} /> : <Loading />;
  const c = contract.data;
  const move = (status: ContractPhase) => {
    if (!confirm(t('contract.confirm_move', { phase: tDynamic(`phase.${status}`) }))) return;
    setBusy(true);
    must(api.POST('/api/v1/orgs/{org}/contract', { params: { path: { org } }, body: { status } })).then(
      () => {
        setBusy(false);
        contract.reload();
        onMoved();
        toast(t('contract.moved'));
      },
      (failure: unknown) => {
        setBusy(false);
        toast(errorText(failure), 'error');
      },
    );
  };
  return (
    <div class="grid-2">
      <section class="card">
        <h2>{t('contract.phase')}</h2>
        <p>
          <span class={`phase phase-${c.status}`}>{tDynamic(`phase.${c.status}`)}</span> · {tDynamic(`contract_type.${c.type}`)}
        </p>
        {can.canWrite && (
          <div class="actions" data-testid="contract-moves">
            {allowedMoves(c.status).map((phase) => (
              <button key={phase} type="button" class="secondary" disabled={busy} onClick={() => move(phase)}>
                {t('contract.move_to', { phase: tDynamic(`phase.${phase}`) })}
              </button>
            ))}
          </div>
        )}
        <h3>{t('contract.baselines')}</h3>
        {[c.first_audit, c.signing].map((snapshot, index) =>
          snapshot ? (
            <p key={index}>
              <strong>{tDynamic(`baseline.${snapshot.kind}`)}</strong>: <DateTime ms={snapshot.at_ms} /> · {snapshot.actor} · {t('contract.baseline_findings', { n: snapshot.finding_count })}
            </p>
          ) : (
            <p key={index} class="muted">
              {tDynamic(index === 0 ? 'baseline.none_first' : 'baseline.none_signing')}
            </p>
          ),
        )}
      </section>
      <DeclaredHostsCard org={org} />
      <section class="card">
        <h2>{t('contract.history')}</h2>
        {c.events.length === 0 ? (
          <Empty>{t('contract.no_history')}</Empty>
        ) : (
          <ol class="timeline">
            {[...c.events].reverse().map((event, index) => (
              <li key={index}>
                <DateTime ms={event.at_ms} /> — {event.actor}: {tDynamic(`phase.${event.from_status}`)} → {tDynamic(`phase.${event.to_status}`)}
              </li>
            ))}
          </ol>
        )}
      </section>
    </div>
  );
}

function PeopleTab({ org }: { org: string }) {
  const { can, toast } = useSession();
  const engineers = useAsync(() => must(api.GET('/api/v1/orgs/{org}/engineers', { params: { path: { org } } })), [org]);
  const users = useAsync(
    () => (can.isAdmin ? must(api.GET('/api/v1/users')).then((answer) => answer.users) : Promise.resolve([])),
    [can.isAdmin],
  );
  const [pick, setPick] = useState('');
  const [kind, setKind] = useState<'primary' | 'backup'>('primary');
  const assign = () => {
    if (!pick) return;
    must(api.PUT('/api/v1/orgs/{org}/engineers/{user}', { params: { path: { org, user: pick } }, body: { kind } })).then(
      () => {
        engineers.reload();
        toast(t('people.assigned'));
      },
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  const unassign = (user: number) => {
    must(api.DELETE('/api/v1/orgs/{org}/engineers/{user}', { params: { path: { org, user: String(user) } } })).then(
      () => engineers.reload(),
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  return (
    <div class="grid-2">
      <section class="card">
        <h2>{t('people.engineers')}</h2>
        {engineers.data ? (
          engineers.data.engineers.length === 0 ? (
            <Empty>{t('overview.unassigned')}</Empty>
          ) : (
            <ul class="plain" data-testid="engineers">
              {engineers.data.engineers.map((a) => (
                <li key={a.user_id}>
                  <strong>{a.display_name || a.login}</strong> · {tDynamic(`assignment.${a.kind}`)}
                  {a.specialty && ` · ${a.specialty}`}
                  {a.email && (
                    <>
                      {' '}
                      · <a href={`mailto:${a.email}`}>{a.email}</a>
                    </>
                  )}
                  {can.isAdmin && (
                    <button type="button" class="link" onClick={() => unassign(a.user_id)}>
                      {t('people.unassign')}
                    </button>
                  )}
                </li>
              ))}
            </ul>
          )
        ) : engineers.error ? (
          <ErrorBox error={engineers.error} />
        ) : (
          <Loading />
        )}
        {can.isAdmin && users.data && (
          <div class="toolbar">
            <select aria-label={t('people.engineer')} value={pick} onChange={(e) => setPick(e.currentTarget.value)}>
              <option value="">{t('people.choose_engineer')}</option>
              {users.data
                .filter((u) => u.role !== 'client' && u.enabled)
                .map((u) => (
                  <option key={u.id} value={String(u.id)}>
                    {u.display_name || u.login}
                  </option>
                ))}
            </select>
            <select aria-label={t('people.kind')} value={kind} onChange={(e) => setKind(e.currentTarget.value === 'backup' ? 'backup' : 'primary')}>
              <option value="primary">{t('assignment.primary')}</option>
              <option value="backup">{t('assignment.backup')}</option>
            </select>
            <button type="button" onClick={assign} disabled={!pick}>
              {t('people.assign')}
            </button>
          </div>
        )}
      </section>
      {can.isStaff && <NotesCard org={org} />}
    </div>
  );
}

function NotesCard({ org }: { org: string }) {
  const { can, toast } = useSession();
  const notes = useAsync(() => must(api.GET('/api/v1/orgs/{org}/notes', { params: { path: { org }, query: { history: 20 } } })), [org]);
  const [draft, setDraft] = useState<string | null>(null);
  if (!notes.data) return notes.error ? <ErrorBox error={notes.error} /> : <Loading />;
  const current = notes.data.current?.text ?? '';
  const save = () => {
    must(api.PUT('/api/v1/orgs/{org}/notes', { params: { path: { org } }, body: { text: draft ?? '' } })).then(
      () => {
        setDraft(null);
        notes.reload();
        toast(t('notes.saved'));
      },
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  return (
    <section class="card">
      <h2>{t('notes.title')}</h2>
      {draft === null ? (
        <>
          <pre class="notes" data-testid="notes-current">{current || t('notes.empty')}</pre>
          {can.canWrite && (
            <button type="button" class="secondary" onClick={() => setDraft(current)}>
              {t('notes.edit')}
            </button>
          )}
        </>
      ) : (
        <>
          <Field label={t('notes.text')}>
            <textarea rows={8} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
          </Field>
          <div class="actions">
            <button type="button" onClick={save}>
              {t('common.save')}
            </button>
            <button type="button" class="secondary" onClick={() => setDraft(null)}>
              {t('common.cancel')}
            </button>
          </div>
        </>
      )}
      {notes.data.history.length > 0 && (
        <details>
          <summary>{t('notes.history')}</summary>
          <ol class="timeline">
            {notes.data.history.map((version) => (
              <li key={version.id}>
                <Time ms={version.at_ms} /> — {version.author}
                <pre class="notes small">{version.text}</pre>
              </li>
            ))}
          </ol>
        </details>
      )}
    </section>
  );
}

function EnrollTab({ org }: { org: string }) {
  const { can, toast } = useSession();
  const tokens = useAsync(() => must(api.GET('/api/v1/tokens', { params: { query: { org } } })), [org]);
  const [label, setLabel] = useState('');
  const [ttl, setTtl] = useState(72);
  const [maxUses, setMaxUses] = useState(50);
  const [created, setCreated] = useState<{ token: string; install?: string; windows?: string; enroll: string } | null>(null);
  const create = () => {
    must(api.POST('/api/v1/orgs/{org}/tokens', { params: { path: { org } }, body: { label, ttl_hours: ttl, max_uses: maxUses } })).then(
      (answer) => {
        setCreated({
          token: answer.token,
          enroll: answer.enroll_command,
          ...(answer.install_command ? { install: answer.install_command } : {}),
          ...(answer.install_command_windows ? { windows: answer.install_command_windows } : {}),
        });
        tokens.reload();
      },
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  const revoke = (id: number) => {
    if (!confirm(t('enroll.confirm_revoke'))) return;
    must(api.POST('/api/v1/tokens/{id}/revoke', { params: { path: { id } } })).then(
      () => tokens.reload(),
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  return (
    <div class="grid-2">
      {can.canWrite && (
        <section class="card">
          <h2>{t('enroll.new')}</h2>
          <Field label={t('enroll.label')}>
            <input value={label} onInput={(e) => setLabel(e.currentTarget.value)} placeholder={t('enroll.label_hint')} />
          </Field>
          <Field label={t('enroll.ttl_hours')}>
            <input type="number" min={1} value={ttl} onInput={(e) => setTtl(Number(e.currentTarget.value))} />
          </Field>
          <Field label={t('enroll.max_uses')}>
            <input type="number" min={1} value={maxUses} onInput={(e) => setMaxUses(Number(e.currentTarget.value))} />
          </Field>
          <button type="button" onClick={create} data-testid="create-enroll-token">
            {t('enroll.create')}
          </button>
          {created && (
            <div class="notice" data-testid="install-command">
              <p>{t('enroll.shown_once')}</p>
              <h3>{t('enroll.linux')}</h3>
              <pre class="mono command">{created.install ?? created.enroll}</pre>
              <CopyButton text={created.install ?? created.enroll} />
              {created.install && (
                <>
                  <h3>{t('enroll.manual')}</h3>
                  <pre class="mono command">{created.enroll}</pre>
                </>
              )}
              <h3>{t('enroll.windows')}</h3>
              {created.windows ? (
                <div data-testid="install-command-windows">
                  <pre class="mono command">{created.windows}</pre>
                  <CopyButton text={created.windows} />
                  <p class="muted small">{t('enroll.windows_hint')}</p>
                </div>
              ) : (
                <p class="muted small">{t('enroll.windows_unavailable')}</p>
              )}
            </div>
          )}
        </section>
      )}
      <section class="card">
        <h2>{t('enroll.tokens')}</h2>
        {!tokens.data ? (
          tokens.error ? <ErrorBox error={tokens.error} /> : <Loading />
        ) : tokens.data.tokens.length === 0 ? (
          <Empty>{t('enroll.none')}</Empty>
        ) : (
          <table class="data">
            <thead>
              <tr>
                <th>{t('enroll.label')}</th>
                <th>{t('enroll.state')}</th>
                <th>{t('enroll.uses')}</th>
                <th>{t('enroll.expires')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {tokens.data.tokens.map((token) => (
                <tr key={token.id}>
                  <td>
                    {token.label || '—'} <span class="muted mono small">{token.hint}</span>
                  </td>
                  <td>{tDynamic(`credential.${token.state}`)}</td>
                  <td>
                    {token.uses}
                    {token.max_uses !== null && ` / ${String(token.max_uses)}`}
                  </td>
                  <td>
                    <DateTime ms={token.expires_at_ms} />
                  </td>
                  <td>
                    {can.canWrite && token.state === 'active' && (
                      <button type="button" class="link" onClick={() => revoke(token.id)}>
                        {t('enroll.revoke')}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
