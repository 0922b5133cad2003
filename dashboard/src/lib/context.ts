import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Me } from '../api/client';
import type { LocaleSettings } from './format';
import type { Lang } from './i18n';
import type { Permissions } from './permissions';

export interface Session {
  me: Me;
  can: Permissions;
  locale: LocaleSettings;
  setLanguage: (lang: Lang) => void;
  logout: () => void;
  toast: (text: string, kind?: 'ok' | 'error') => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a logged-in page');
  return session;
}
