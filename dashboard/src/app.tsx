import { useCallback, useEffect, useMemo, useState } from 'preact/hooks';
import { api, must, onUnauthenticated, setCsrfToken, type Me } from './api/client';
import { ErrorBox, Loading } from './components/ui';
import { SessionContext, useSession, type Session } from './lib/context';
import { resolveTimeZone } from './lib/format';
import { initialLang, isLang, lang, onLangChange, setLang, t, type Lang } from './lib/i18n';
import { permissionsOf } from './lib/permissions';
import { interceptLinkClick, navigate, safeNextPath, useRoute, type Route } from './lib/router';
import { applyTheme, storedTheme, type Theme } from './lib/theme';
import { AccountPage } from './pages/account';
import { AdminPage } from './pages/admin';
import { AlertsPage } from './pages/alerts';
import { FindingPage } from './pages/finding';
import { FindingsPage } from './pages/findings';
import { HostPage } from './pages/host';
import { LoginPage } from './pages/login';
import { OrgPage } from './pages/org';
import { OverviewPage } from './pages/overview';

const kLangKey = 'dozor.lang';

type Auth = { state: 'checking' } | { state: 'anonymous'; expired: boolean } | { state: 'in'; me: Me };

export function App() {
  const route = useRoute();
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const [, setLangTick] = useState(0);
  const [toasts, setToasts] = useState<{ id: number; text: string; kind: 'ok' | 'error' }[]>([]);

  useEffect(() => {
    setLang(initialLang(localStorage.getItem(kLangKey), navigator.languages));
    document.documentElement.lang = lang();
    const unsubscribe = onLangChange(() => {
      localStorage.setItem(kLangKey, lang());
      document.title = t('app.title');
      setLangTick((tick) => tick + 1);
    });
    document.title = t('app.title');
    return unsubscribe;
  }, []);

  // An expired or ended session anywhere sends the browser to the login, which returns here.
  useEffect(
    () =>
      onUnauthenticated(() => {
        setCsrfToken(undefined);
        setAuth((current) => (current.state === 'in' ? { state: 'anonymous', expired: true } : current));
      }),
    [],
  );

  useEffect(() => {
    must(api.GET('/api/v1/me')).then(
      (me) => {
        setCsrfToken(me.csrf_token);
        adoptLanguage(me);
        setAuth({ state: 'in', me });
      },
      () => setAuth({ state: 'anonymous', expired: false }),
    );
  }, []);

  useEffect(() => {
    if (auth.state === 'anonymous' && route.page !== 'login') {
      const back = location.pathname + location.search;
      navigate(`/login${back !== '/' ? `?next=${encodeURIComponent(back)}` : ''}`, { replace: true });
    }
    if (auth.state === 'in' && route.page === 'login') navigate(nextAfterLogin(), { replace: true });
  }, [auth, route]);

  const toast = useCallback((text: string, kind: 'ok' | 'error' = 'ok') => {
    const id = Date.now() + Math.random();
    setToasts((list) => [...list, { id, text, kind }]);
    setTimeout(() => setToasts((list) => list.filter((item) => item.id !== id)), kind === 'error' ? 8000 : 3000);
  }, []);

  const session = useMemo<Session | null>(() => {
    if (auth.state !== 'in') return null;
    const me = auth.me;
    return {
      me,
      can: permissionsOf(me),
      locale: { lang: lang(), timeZone: resolveTimeZone(me.time_zone, Intl.DateTimeFormat().resolvedOptions().timeZone) },
      setLanguage: (next: Lang) => {
        setLang(next);
        if (me.id !== null) {
          // Remembered per user: the next login in any browser opens in this language.
          must(api.PATCH('/api/v1/me', { body: { language: next } })).then(
            (updated) => setAuth({ state: 'in', me: { ...me, ...updated, csrf_token: me.csrf_token } }),
            () => toast(t('account.language_not_saved'), 'error'),
          );
        }
      },
      logout: () => {
        void must(api.POST('/api/v1/auth/logout', {})).finally(() => {
          setCsrfToken(undefined);
          setAuth({ state: 'anonymous', expired: false });
        });
      },
      toast,
    };
    // lang() is part of the value: the language tick re-renders and rebuilds it.
  }, [auth, toast, lang()]);

  if (auth.state === 'checking') return <Loading />;
  if (auth.state === 'anonymous' || !session) {
    return (
      <LoginPage
        expired={auth.state === 'anonymous' && auth.expired}
        onLogin={(me, csrf) => {
          setCsrfToken(csrf);
          adoptLanguage(me);
          setAuth({ state: 'in', me });
        }}
      />
    );
  }
  return (
    <SessionContext.Provider value={session}>
      <Shell route={route} />
      <div class="toasts" aria-live="polite">
        {toasts.map((item) => (
          <div key={item.id} class={`toast toast-${item.kind}`} role={item.kind === 'error' ? 'alert' : 'status'}>
            {item.text}
          </div>
        ))}
      </div>
    </SessionContext.Provider>
  );
}

function adoptLanguage(me: Me): void {
  if (isLang(me.language)) setLang(me.language);
}

function nextAfterLogin(): string {
  return safeNextPath(location.search);
}

function Shell({ route }: { route: Route }) {
  const { me, can, setLanguage, logout } = useSession();
  const [theme, setTheme] = useState<Theme>(storedTheme());
  const [menuOpen, setMenuOpen] = useState(false);
  useEffect(() => setMenuOpen(false), [route]);
  const section = route.page;
  const home = me.role === 'client' && me.organizations[0] ? `/orgs/${String(me.organizations[0].id)}` : '/';
  useEffect(() => {
    if (me.role === 'client' && route.page === 'overview' && home !== '/') navigate(home, { replace: true });
  }, [route, home, me.role]);
  const cycleTheme = () => {
    const next: Theme = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
    applyTheme(next);
    setTheme(next);
  };
  return (
    <div class="shell" onClick={interceptLinkClick}>
      <header class="topbar">
        <a class="brand" href={home}>
          <img src="/favicon.svg" alt="" width={22} height={22} />
          <span>{t('app.name')}</span>
        </a>
        <button type="button" class="icon menu-toggle" aria-label={t('nav.menu')} aria-expanded={menuOpen} onClick={() => setMenuOpen(!menuOpen)}>
          ☰
        </button>
        <nav class={menuOpen ? 'mainnav open' : 'mainnav'} aria-label={t('nav.main')}>
          {me.role !== 'client' && (
            <a href="/" class={section === 'overview' || section === 'org' || section === 'host' ? 'active' : ''} data-nav="overview">
              {t('nav.overview')}
            </a>
          )}
          {me.role === 'client' && (
            <a href={home} class={section === 'org' || section === 'host' ? 'active' : ''} data-nav="overview">
              {t('nav.my_org')}
            </a>
          )}
          <a href="/findings" class={section === 'findings' || section === 'finding' ? 'active' : ''} data-nav="findings">
            {t('nav.findings')}
          </a>
          {can.isStaff && (
            <a href="/alerts" class={section === 'alerts' ? 'active' : ''} data-nav="alerts">
              {t('nav.alerts')}
            </a>
          )}
          {can.isAdmin && (
            <a href="/admin" class={section === 'admin' ? 'active' : ''} data-nav="admin">
              {t('nav.admin')}
            </a>
          )}
        </nav>
        <div class="topbar-tools">
          <button
            type="button"
            class="icon lang-switch"
            data-testid="lang-switch"
            aria-label={t('nav.switch_language')}
            onClick={() => setLanguage(lang() === 'ru' ? 'en' : 'ru')}
          >
            {lang() === 'ru' ? 'EN' : 'RU'}
          </button>
          <button type="button" class="icon" data-testid="theme-switch" aria-label={t('nav.switch_theme')} title={t(theme === 'dark' ? 'nav.theme_dark' : 'nav.theme_light')} onClick={cycleTheme}>
            ◐
          </button>
          <a href="/account" class="who" data-nav="account" title={t('nav.account')}>
            {me.display_name || me.login}
          </a>
          <button type="button" class="secondary" data-testid="logout" onClick={logout}>
            {t('nav.logout')}
          </button>
        </div>
      </header>
      <main class="page">
        <Page route={route} />
      </main>
    </div>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <OverviewPage />;
    case 'org':
      return <OrgPage org={route.org} tab={route.tab} />;
    case 'host':
      return <HostPage agentId={route.agentId} tab={route.tab} />;
    case 'findings':
      return <FindingsPage params={route.params} />;
    case 'finding':
      return <FindingPage id={route.id} />;
    case 'admin':
      return <AdminPage tab={route.tab} />;
    case 'account':
      return <AccountPage />;
    case 'alerts':
      return <AlertsPage />;
    case 'login':
      return <Loading />;
    case 'notfound':
      return <ErrorBox error={new Error(t('error.page_not_found'))} />;
  }
}
