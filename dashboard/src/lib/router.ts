// History-API routing: every page has its own URL (bookmarkable, shareable with a colleague).
// The server answers any such path with index.html.
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'login' }
  | { page: 'overview' }
  | { page: 'org'; org: string; tab: string }
  | { page: 'host'; agentId: string; tab: string }
  | { page: 'findings'; params: URLSearchParams }
  | { page: 'finding'; id: number }
  | { page: 'admin'; tab: string }
  | { page: 'account' }
  | { page: 'alerts' }
  | { page: 'notfound' };

export function parseRoute(pathname: string, search: string): Route {
  const parts = pathname.split('/').filter((part) => part !== '').map(safeDecode);
  const [first, second, third] = parts;
  if (parts.length === 0) return { page: 'overview' };
  if (first === 'login' && parts.length === 1) return { page: 'login' };
  if (first === 'orgs' && second !== undefined && parts.length <= 3) return { page: 'org', org: second, tab: third ?? 'hosts' };
  if (first === 'hosts' && second !== undefined && parts.length <= 3) {
    return { page: 'host', agentId: second, tab: third ?? 'summary' };
  }
  if (first === 'findings' && parts.length === 1) return { page: 'findings', params: new URLSearchParams(search) };
  if (first === 'findings' && second !== undefined && parts.length === 2 && /^\d+$/.test(second)) {
    return { page: 'finding', id: Number(second) };
  }
  if (first === 'admin' && parts.length <= 2) return { page: 'admin', tab: second ?? 'users' };
  if (first === 'account' && parts.length === 1) return { page: 'account' };
  if (first === 'alerts' && parts.length === 1) return { page: 'alerts' };
  return { page: 'notfound' };
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export function pathOf(...segments: (string | number)[]): string {
  return '/' + segments.map((segment) => encodeURIComponent(String(segment))).join('/');
}

const kNavigateEvent = 'dozor:navigate';

export function navigate(href: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  window.dispatchEvent(new Event(kNavigateEvent));
}

export function currentRoute(): Route {
  return parseRoute(location.pathname, location.search);
}

export function useRoute(): Route {
  const [route, setRoute] = useState<Route>(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    window.addEventListener('popstate', update);
    window.addEventListener(kNavigateEvent, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(kNavigateEvent, update);
    };
  }, []);
  return route;
}

// Same-origin links go through the router; modified clicks (new tab, etc.) stay with the browser.
export function interceptLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as Element | null)?.closest('a');
  if (!anchor || anchor.target || anchor.hasAttribute('download')) return;
  const url = new URL(anchor.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}

// Where the login returns to (?next=): only a path of this site, never another origin ("//host",
// "/\\host" are other origins to a browser).
export function safeNextPath(search: string): string {
  const next = new URLSearchParams(search).get('next');
  return next && /^\/(?![/\\])/.test(next) ? next : '/';
}
