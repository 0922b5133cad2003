import { useState } from 'preact/hooks';
import { api, must, type Schemas } from '../api/client';
import { DateTime, Dialog, Empty, ErrorBox, Field, Loading, Tabs, Time, errorText } from '../components/ui';
import { useSession } from '../lib/context';
import { useAsync } from '../lib/hooks';
import { categoryLabel, t, tDynamic } from '../lib/i18n';

export function AdminPage({ tab }: { tab: string }) {
  const { can } = useSession();
  if (!can.isAdmin) return <ErrorBox error={new Error(t('error.forbidden'))} />;
  const tabs = [
    { id: 'users', label: t('admin.tab_users'), href: '/admin' },
    { id: 'tokens', label: t('admin.tab_tokens'), href: '/admin/tokens' },
    { id: 'audit', label: t('admin.tab_audit'), href: '/admin/audit' },
    { id: 'security', label: t('admin.tab_security'), href: '/admin/security' },
    { id: 'rules', label: t('admin.tab_rules'), href: '/admin/rules' },
  ];
  return (
    <div data-page="admin">
      <div class="page-head">
        <h1>{t('admin.title')}</h1>
      </div>
      <Tabs tabs={tabs} active={tab} />
      {tab === 'users' && <UsersAdmin />}
      {tab === 'tokens' && <TokensAdmin />}
      {tab === 'audit' && <AuditLog />}
      {tab === 'security' && <SecurityEvents />}
      {tab === 'rules' && <RulesAdmin />}
    </div>
  );
}

type NewUser = Schemas['NewUser'];

function UsersAdmin() {
  const { me, toast } = useSession();
  const users = useAsync(() => must(api.GET('/api/v1/users')), []);
  const [creating, setCreating] = useState(false);
  const [draft, setDraft] = useState<NewUser>({ login: '', role: 'engineer', display_name: '', email: '', password: '' });
  const [resetFor, setResetFor] = useState<Schemas['User'] | null>(null);
  const [password, setPassword] = useState('');
  if (!users.data) return users.error ? <ErrorBox error={users.error} retry={users.reload} /> : <Loading />;
  const create = () => {
    const body: NewUser = { ...draft };
    if (!body.password) delete body.password;
    if (body.role !== 'client') delete body.org;
    must(api.POST('/api/v1/users', { body })).then(
      () => {
        setCreating(false);
        setDraft({ login: '', role: 'engineer', display_name: '', email: '', password: '' });
        users.reload();
        toast(t('admin.user_created'));
      },
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  const setEnabled = (user: Schemas['User'], enabled: boolean) => {
    must(api.PATCH('/api/v1/users/{user}', { params: { path: { user: String(user.id) } }, body: { enabled } })).then(
      () => users.reload(),
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  // Between admin and engineer only; a client account stays a client (the server refuses too).
  const setRole = (user: Schemas['User'], role: 'admin' | 'engineer') => {
    must(api.PATCH('/api/v1/users/{user}', { params: { path: { user: String(user.id) } }, body: { role } })).then(
      () => {
        users.reload();
        toast(t('admin.role_changed', { login: user.login, role: tDynamic(`role.${role}`) }));
      },
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  const reset = () => {
    if (!resetFor) return;
    must(api.POST('/api/v1/users/{user}/password', { params: { path: { user: String(resetFor.id) } }, body: { password } })).then(
      (answer) => {
        setResetFor(null);
        setPassword('');
        toast(t('admin.password_reset', { n: answer.api_tokens_revoked }));
      },
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  return (
    <section class="card">
      <div class="toolbar">
        <button type="button" onClick={() => setCreating(true)}>
          {t('admin.new_user')}
        </button>
      </div>
      <div class="table-wrap">
        <table class="data" data-testid="users-table">
          <thead>
            <tr>
              <th>{t('admin.login')}</th>
              <th>{t('admin.name')}</th>
              <th>{t('admin.role')}</th>
              <th>{t('admin.client_org')}</th>
              <th>{t('admin.state')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {users.data.users.map((user) => (
              <tr key={user.id}>
                <td class="mono">{user.login}</td>
                <td>
                  {user.display_name}
                  <div class="muted small">{user.email}</div>
                </td>
                <td>
                  {user.role === 'client' || user.id === me.id ? (
                    tDynamic(`role.${user.role}`)
                  ) : (
                    <select
                      aria-label={t('admin.role_of', { login: user.login })}
                      data-testid="user-role"
                      value={user.role}
                      onChange={(e) => setRole(user, e.currentTarget.value === 'admin' ? 'admin' : 'engineer')}
                    >
                      {(['engineer', 'admin'] as const).map((role) => (
                        <option key={role} value={role}>
                          {tDynamic(`role.${role}`)}
                        </option>
                      ))}
                    </select>
                  )}
                </td>
                <td class="small">{user.org_id !== null ? (me.organizations.find((org) => org.id === user.org_id)?.name ?? String(user.org_id)) : '—'}</td>
                <td>{user.enabled ? t('admin.enabled') : t('admin.disabled')}</td>
                <td class="actions">
                  {user.id !== me.id && (
                    <button type="button" class="link" onClick={() => setEnabled(user, !user.enabled)}>
                      {user.enabled ? t('admin.disable') : t('admin.enable')}
                    </button>
                  )}
                  <button type="button" class="link" onClick={() => setResetFor(user)}>
                    {t('admin.reset_password')}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Dialog title={t('admin.new_user')} open={creating} onClose={() => setCreating(false)}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            create();
          }}
        >
          <Field label={t('admin.login')}>
            <input required value={draft.login} onInput={(e) => setDraft({ ...draft, login: e.currentTarget.value })} />
          </Field>
          <Field label={t('admin.name')}>
            <input value={draft.display_name} onInput={(e) => setDraft({ ...draft, display_name: e.currentTarget.value })} />
          </Field>
          <Field label={t('admin.email')}>
            <input type="email" value={draft.email} onInput={(e) => setDraft({ ...draft, email: e.currentTarget.value })} />
          </Field>
          <Field label={t('admin.role')}>
            <select value={draft.role} onChange={(e) => setDraft({ ...draft, role: e.currentTarget.value as NewUser['role'] })}>
              {(['engineer', 'admin', 'client'] as const).map((role) => (
                <option key={role} value={role}>
                  {tDynamic(`role.${role}`)}
                </option>
              ))}
            </select>
          </Field>
          {draft.role === 'client' && (
            <Field label={t('admin.client_org')}>
              <select required value={draft.org ?? ''} onChange={(e) => setDraft({ ...draft, org: e.currentTarget.value })}>
                <option value="" />
                {me.organizations.map((org) => (
                  <option key={org.id} value={String(org.id)}>
                    {org.name}
                  </option>
                ))}
              </select>
            </Field>
          )}
          <Field label={t('admin.password')} hint={t('admin.password_hint')}>
            <input type="password" autoComplete="new-password" value={draft.password} onInput={(e) => setDraft({ ...draft, password: e.currentTarget.value })} />
          </Field>
          <div class="actions">
            <button type="submit">{t('common.create')}</button>
          </div>
        </form>
      </Dialog>
      <Dialog title={t('admin.reset_password')} open={resetFor !== null} onClose={() => setResetFor(null)}>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            reset();
          }}
        >
          <p>{resetFor?.login}</p>
          <Field label={t('admin.new_password')} hint={t('admin.reset_hint')}>
            <input type="password" autoComplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          </Field>
          <div class="actions">
            <button type="submit">{t('common.save')}</button>
          </div>
        </form>
      </Dialog>
    </section>
  );
}

function TokensAdmin() {
  const { toast } = useSession();
  const tokens = useAsync(() => must(api.GET('/api/v1/api-tokens')), []);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Schemas['ApiRole']>('viewer');
  const [ttl, setTtl] = useState(90);
  const [created, setCreated] = useState('');
  const create = () => {
    must(api.POST('/api/v1/api-tokens', { body: { name, role, ttl_days: ttl } })).then(
      (answer) => {
        setCreated(answer.token);
        setName('');
        tokens.reload();
      },
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  const revoke = (id: number) => {
    if (!confirm(t('admin.confirm_revoke'))) return;
    must(api.POST('/api/v1/api-tokens/{id}/revoke', { params: { path: { id } } })).then(
      () => tokens.reload(),
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  return (
    <section class="card">
      <form
        class="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          create();
        }}
      >
        <input required placeholder={t('admin.token_name')} aria-label={t('admin.token_name')} value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <select aria-label={t('admin.role')} value={role} onChange={(e) => setRole(e.currentTarget.value as Schemas['ApiRole'])}>
          {(['viewer', 'operator', 'admin'] as const).map((r) => (
            <option key={r} value={r}>
              {tDynamic(`api_role.${r}`)}
            </option>
          ))}
        </select>
        <input type="number" min={1} aria-label={t('admin.ttl_days')} title={t('admin.ttl_days')} value={ttl} onInput={(e) => setTtl(Number(e.currentTarget.value))} />
        <button type="submit">{t('admin.new_token')}</button>
      </form>
      {created && (
        <div class="notice">
          <p>{t('admin.token_shown_once')}</p>
          <pre class="mono command">{created}</pre>
        </div>
      )}
      {!tokens.data ? (
        tokens.error ? <ErrorBox error={tokens.error} /> : <Loading />
      ) : tokens.data.api_tokens.length === 0 ? (
        <Empty>{t('admin.no_tokens')}</Empty>
      ) : (
        <table class="data">
          <thead>
            <tr>
              <th>{t('admin.token_name')}</th>
              <th>{t('admin.role')}</th>
              <th>{t('admin.state')}</th>
              <th>{t('admin.created')}</th>
              <th>{t('enroll.expires')}</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.data.api_tokens.map((token) => (
              <tr key={token.id}>
                <td>
                  {token.name} <span class="muted mono small">{token.hint}</span>
                </td>
                <td>{tDynamic(`api_role.${token.role}`)}</td>
                <td>{tDynamic(`credential.${token.state}`)}</td>
                <td>
                  <DateTime ms={token.created_at_ms} />
                </td>
                <td>
                  <DateTime ms={token.expires_at_ms} />
                </td>
                <td>
                  {token.state === 'active' && (
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
  );
}

function AuditLog() {
  const [before, setBefore] = useState<number | undefined>(undefined);
  const [actor, setActor] = useState('');
  const log = useAsync(
    () => must(api.GET('/api/v1/audit-log', { params: { query: { limit: 100, ...(before ? { before } : {}), ...(actor ? { actor } : {}) } } })),
    [before, actor],
  );
  return (
    <section class="card">
      <div class="toolbar">
        <input type="search" placeholder={t('admin.actor')} aria-label={t('admin.actor')} value={actor} onChange={(e) => setActor(e.currentTarget.value)} />
        {before !== undefined && (
          <button type="button" class="secondary" onClick={() => setBefore(undefined)}>
            {t('admin.newest')}
          </button>
        )}
      </div>
      {!log.data ? (
        log.error ? <ErrorBox error={log.error} /> : <Loading />
      ) : (
        <>
          <table class="data compact" data-testid="audit-log">
            <thead>
              <tr>
                <th>{t('admin.when')}</th>
                <th>{t('admin.actor')}</th>
                <th>{t('admin.action')}</th>
                <th>{t('admin.object')}</th>
                <th>{t('admin.status')}</th>
                <th class="hide-narrow">{t('admin.source')}</th>
              </tr>
            </thead>
            <tbody>
              {log.data.entries.map((entry) => (
                <tr key={entry.id}>
                  <td class="small">
                    <Time ms={entry.at_ms} />
                  </td>
                  <td>
                    {entry.actor} <span class="muted small">{tDynamic(`via.${entry.via}`)}</span>
                  </td>
                  <td class="mono small">{entry.action}</td>
                  <td class="small">{entry.object}</td>
                  <td class={entry.status >= 400 ? 'error-text' : ''}>{entry.status}</td>
                  <td class="hide-narrow mono small">{entry.source}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {log.data.next_before !== null && (
            <button type="button" class="secondary" onClick={() => setBefore(log.data?.next_before ?? undefined)}>
              {t('admin.older')}
            </button>
          )}
        </>
      )}
    </section>
  );
}

// What the server refused to callers it did not know or believe: a burst from one caller is one
// row with its count. The caller chose the address, hint and host name; the server stored them
// escaped, and they are shown as text.
function SecurityEvents() {
  const [before, setBefore] = useState<number | undefined>(undefined);
  const [kind, setKind] = useState('');
  const events = useAsync(
    () => must(api.GET('/api/v1/security-events', { params: { query: { limit: 100, ...(before ? { before } : {}), ...(kind ? { kind } : {}) } } })),
    [before, kind],
  );
  const kinds = ['enroll_refused', 'agent_auth_failed', 'api_auth_failed', 'import_refused', 'throttled'];
  return (
    <section class="card">
      <p class="muted small">{t('admin.security_help')}</p>
      <div class="toolbar">
        <select aria-label={t('admin.security_kind')} value={kind} onChange={(e) => { setBefore(undefined); setKind(e.currentTarget.value); }}>
          <option value="">{t('admin.security_all')}</option>
          {kinds.map((k) => (
            <option key={k} value={k}>
              {tDynamic(`security.${k}`)}
            </option>
          ))}
        </select>
        {before !== undefined && (
          <button type="button" class="secondary" onClick={() => setBefore(undefined)}>
            {t('admin.newest')}
          </button>
        )}
      </div>
      {!events.data ? (
        events.error ? <ErrorBox error={events.error} retry={events.reload} /> : <Loading />
      ) : events.data.events.length === 0 ? (
        <Empty>{t('admin.security_none')}</Empty>
      ) : (
        <>
          <table class="data compact" data-testid="security-events">
            <thead>
              <tr>
                <th>{t('admin.when')}</th>
                <th>{t('admin.security_kind')}</th>
                <th class="num">{t('admin.security_count')}</th>
                <th>{t('admin.source')}</th>
                <th>{t('admin.security_subject')}</th>
                <th class="hide-narrow">{t('admin.security_detail')}</th>
              </tr>
            </thead>
            <tbody>
              {events.data.events.map((event) => (
                <tr key={event.id} data-kind={event.kind}>
                  <td class="small">
                    <Time ms={event.at_ms} />
                  </td>
                  <td>{tDynamic(`security.${event.kind}`)}</td>
                  <td class="num">{event.count}</td>
                  <td class="mono small">{event.source}</td>
                  <td class="mono small">{event.subject || '—'}</td>
                  <td class="hide-narrow small">{event.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {events.data.next_before !== null && (
            <button type="button" class="secondary" onClick={() => setBefore(events.data?.next_before ?? undefined)}>
              {t('admin.older')}
            </button>
          )}
        </>
      )}
    </section>
  );
}

function RulesAdmin() {
  const { locale } = useSession();
  const rules = useAsync(() => must(api.GET('/api/v1/rules', { params: { query: { lang: locale.lang } } })), [locale.lang]);
  if (!rules.data) return rules.error ? <ErrorBox error={rules.error} /> : <Loading />;
  return (
    <div>
      {rules.data.errors.length > 0 && (
        <section class="card error-card" data-testid="rule-errors">
          <h2>{t('admin.rule_errors')}</h2>
          <ul class="plain">
            {rules.data.errors.map((error, index) => (
              <li key={index}>
                <span class="mono">
                  {error.source}:{error.line}:{error.column}
                </span>{' '}
                — {error.message}
              </li>
            ))}
          </ul>
        </section>
      )}
      <section class="card">
        <h2>{t('admin.rules_loaded', { n: rules.data.rules.length })}</h2>
        <table class="data compact" data-testid="rules-table">
          <thead>
            <tr>
              <th>{t('admin.rule_id')}</th>
              <th>{t('findings.col_title')}</th>
              <th>{t('findings.col_severity')}</th>
              <th>{t('findings.category')}</th>
              <th class="hide-narrow">{t('admin.rule_source')}</th>
              <th>{t('admin.state')}</th>
            </tr>
          </thead>
          <tbody>
            {rules.data.rules.map((rule) => (
              <tr key={rule.id}>
                <td class="mono small">{rule.id}</td>
                <td>{rule.title}</td>
                <td>{tDynamic(`severity.${rule.severity}`)}</td>
                <td>{categoryLabel(rule.category)}</td>
                <td class="hide-narrow small">{rule.builtin ? t('admin.builtin') : rule.source}</td>
                <td>{rule.enabled ? t('admin.enabled') : t('admin.disabled')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
