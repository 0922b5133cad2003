import { useState } from 'preact/hooks';
import { api, must } from '../api/client';
import { ErrorBox, Field, KeyValues, Loading, Time, errorText } from '../components/ui';
import { useSession } from '../lib/context';
import { useAsync } from '../lib/hooks';
import { lang, t, tDynamic } from '../lib/i18n';

export function AccountPage() {
  const { me, locale, setLanguage, toast } = useSession();
  const sessions = useAsync(() => (me.id !== null ? must(api.GET('/api/v1/me/sessions')) : Promise.resolve({ sessions: [] })), [me.id]);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [zone, setZone] = useState(me.time_zone ?? '');
  const changePassword = () => {
    must(api.POST('/api/v1/me/password', { body: { current_password: current, new_password: next } })).then(
      () => {
        setCurrent('');
        setNext('');
        toast(t('account.password_changed'));
      },
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  const saveZone = () => {
    must(api.PATCH('/api/v1/me', { body: { time_zone: zone } })).then(
      () => toast(t('account.saved_reload')),
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  const end = (id: number) => {
    must(api.POST('/api/v1/me/sessions/{session}/end', { params: { path: { session: String(id) } } })).then(
      () => sessions.reload(),
      (failure: unknown) => toast(errorText(failure), 'error'),
    );
  };
  return (
    <div data-page="account">
      <div class="page-head">
        <h1>{t('account.title')}</h1>
      </div>
      <div class="grid-2">
        <section class="card">
          <KeyValues
            rows={[
              [t('admin.login'), me.login],
              [t('admin.name'), me.display_name],
              [t('admin.role'), tDynamic(`role.${me.role}`)],
              [t('admin.email'), me.email ?? ''],
              [t('account.time_zone'), locale.timeZone],
            ]}
          />
          <Field label={t('account.language')}>
            <select value={lang()} onChange={(e) => setLanguage(e.currentTarget.value === 'en' ? 'en' : 'ru')}>
              <option value="ru">Русский</option>
              <option value="en">English</option>
            </select>
          </Field>
          <Field label={t('account.time_zone')} hint={t('account.time_zone_hint')}>
            <input value={zone} onInput={(e) => setZone(e.currentTarget.value)} placeholder="Europe/Moscow" />
          </Field>
          <button type="button" class="secondary" onClick={saveZone}>
            {t('common.save')}
          </button>
        </section>
        {me.has_password !== undefined && (
          <section class="card">
            <h2>{t('account.password')}</h2>
            <form
              onSubmit={(e) => {
                e.preventDefault();
                changePassword();
              }}
            >
              <Field label={t('account.current_password')}>
                <input type="password" autoComplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
              </Field>
              <Field label={t('account.new_password')}>
                <input type="password" autoComplete="new-password" required value={next} onInput={(e) => setNext(e.currentTarget.value)} />
              </Field>
              <button type="submit">{t('account.change_password')}</button>
            </form>
          </section>
        )}
      </div>
      <section class="card">
        <h2>{t('account.sessions')}</h2>
        {!sessions.data ? (
          sessions.error ? <ErrorBox error={sessions.error} /> : <Loading />
        ) : (
          <table class="data">
            <thead>
              <tr>
                <th>{t('account.session_kind')}</th>
                <th>{t('admin.source')}</th>
                <th>{t('account.started')}</th>
                <th>{t('account.last_used')}</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {sessions.data.sessions.map((s) => (
                <tr key={s.id}>
                  <td>{tDynamic(`session_kind.${s.kind}`)}</td>
                  <td class="mono small">{s.source}</td>
                  <td>
                    <Time ms={s.created_at_ms} />
                  </td>
                  <td>
                    <Time ms={s.last_seen_at_ms} />
                  </td>
                  <td>
                    {s.current ? (
                      <span class="muted">{t('account.this_session')}</span>
                    ) : (
                      <button type="button" class="link" onClick={() => end(s.id)}>
                        {t('account.end_session')}
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
