import type { TargetedSubmitEvent } from 'preact';
import { useState } from 'preact/hooks';
import { api, must, type Me } from '../api/client';
import { errorText } from '../components/ui';
import { lang, setLang, t } from '../lib/i18n';

export function LoginPage(props: { expired: boolean; onLogin: (me: Me, csrf: string | undefined) => void }) {
  const [login, setLogin] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = (event: TargetedSubmitEvent<HTMLFormElement>) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    must(api.POST('/api/v1/auth/login', { body: { login, password, client: 'browser' } })).then(
      (answer) => props.onLogin(answer.user, answer.csrf_token),
      (failure: unknown) => {
        setBusy(false);
        setError(errorText(failure));
      },
    );
  };
  return (
    <div class="login-wrap">
      <form class="card login" onSubmit={submit} data-testid="login-form">
        <h1>
          <img src="/favicon.svg" alt="" width={28} height={28} /> {t('app.name')}
        </h1>
        <p class="muted">{t('login.subtitle')}</p>
        {props.expired && (
          <p class="notice" role="status" data-testid="session-expired">
            {t('login.expired')}
          </p>
        )}
        <label class="field">
          <span class="field-label">{t('login.login')}</span>
          <input name="login" autoComplete="username" required value={login} onInput={(e) => setLogin(e.currentTarget.value)} />
        </label>
        <label class="field">
          <span class="field-label">{t('login.password')}</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        {error && (
          <p class="error-text" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {t('login.submit')}
        </button>
        <button type="button" class="link" onClick={() => setLang(lang() === 'ru' ? 'en' : 'ru')} data-testid="lang-switch">
          {t('login.other_language')}
        </button>
      </form>
    </div>
  );
}
