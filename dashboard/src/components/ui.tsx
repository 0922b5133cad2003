import type { ComponentChildren, TargetedEvent } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { ApiError, type FindingState, type Severity } from '../api/client';
import { formatDateTime, formatRelative } from '../lib/format';
import { useSession } from '../lib/context';
import { t, tDynamic } from '../lib/i18n';

export function SeverityBadge({ severity }: { severity: Severity }) {
  return <span class={`badge sev-${severity}`}>{tDynamic(`severity.${severity}`)}</span>;
}

export function StateBadge({ state }: { state: FindingState }) {
  return <span class={`badge state-${state}`}>{tDynamic(`state.${state}`)}</span>;
}

export function Presence({ online, revoked }: { online: boolean; revoked?: boolean }) {
  const kind = revoked ? 'revoked' : online ? 'online' : 'offline';
  return <span class={`dot dot-${kind}`}>{tDynamic(`presence.${kind}`)}</span>;
}

export function Time({ ms }: { ms: number | null | undefined }) {
  const { locale } = useSession();
  if (!ms) return <span>—</span>;
  return (
    <time dateTime={new Date(ms).toISOString()} title={formatDateTime(ms, locale)}>
      {formatRelative(ms, Date.now(), locale.lang)}
    </time>
  );
}

export function DateTime({ ms }: { ms: number | null | undefined }) {
  const { locale } = useSession();
  return <span>{formatDateTime(ms, locale)}</span>;
}

export function Loading() {
  return (
    <div class="loading" role="status">
      {t('common.loading')}
    </div>
  );
}

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 0) return t('error.network');
    if (error.status === 404) return t('error.not_found');
    if (error.status === 403) return error.code === 'csrf_failed' ? t('error.csrf') : t('error.forbidden');
    if (error.status === 429) return t('error.throttled');
    if (error.status >= 500) return t('error.server', { message: error.message });
    return error.message;
  }
  return error instanceof Error ? error.message : String(error);
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  return (
    <div class="error-box" role="alert">
      <span>{errorText(error)}</span>
      {retry && (
        <button type="button" class="link" onClick={retry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export interface TabSpec {
  id: string;
  label: string;
  href: string;
  hidden?: boolean;
}

export function Tabs({ tabs, active }: { tabs: TabSpec[]; active: string }) {
  return (
    <nav class="tabs" aria-label={t('common.sections')}>
      {tabs
        .filter((tab) => !tab.hidden)
        .map((tab) => (
          <a key={tab.id} href={tab.href} class={tab.id === active ? 'tab active' : 'tab'} aria-current={tab.id === active ? 'page' : undefined} data-tab={tab.id}>
            {tab.label}
          </a>
        ))}
    </nav>
  );
}

export function SortHeader<K extends string>(props: {
  label: string;
  sortKey: K;
  sort: { key: K; desc: boolean };
  onSort: (sort: { key: K; desc: boolean }) => void;
  class?: string;
}) {
  const active = props.sort.key === props.sortKey;
  const arrow = active ? (props.sort.desc ? ' ▼' : ' ▲') : '';
  return (
    <th class={props.class} aria-sort={active ? (props.sort.desc ? 'descending' : 'ascending') : 'none'}>
      <button
        type="button"
        class="sort"
        onClick={() => props.onSort({ key: props.sortKey, desc: active ? !props.sort.desc : false })}
      >
        {props.label}
        {arrow}
      </button>
    </th>
  );
}

// A modal on the native <dialog> element (focus trap and Escape come with it).
export function Dialog(props: { title: string; open: boolean; onClose: () => void; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  return (
    <dialog ref={ref} onClose={props.onClose} aria-label={props.title}>
      <header class="dialog-head">
        <h2>{props.title}</h2>
        <button type="button" class="icon" aria-label={t('common.close')} onClick={props.onClose}>
          ×
        </button>
      </header>
      {props.open && props.children}
    </dialog>
  );
}

export function Field(props: { label: string; children: ComponentChildren; hint?: string }) {
  return (
    <label class="field">
      <span class="field-label">{props.label}</span>
      {props.children}
      {props.hint && <span class="hint">{props.hint}</span>}
    </label>
  );
}

export function KeyValues({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="kv">
      {rows.map(([key, value]) => (
        <div key={key}>
          <dt>{key}</dt>
          <dd>{value === '' || value === undefined || value === null ? '—' : value}</dd>
        </div>
      ))}
    </dl>
  );
}

export function SearchBox(props: { value: string; onInput: (value: string) => void; placeholder: string }) {
  return (
    <input
      type="search"
      class="search"
      value={props.value}
      placeholder={props.placeholder}
      aria-label={props.placeholder}
      onInput={(event: TargetedEvent<HTMLInputElement>) => props.onInput(event.currentTarget.value)}
    />
  );
}

export function CopyButton({ text }: { text: string }) {
  const { toast } = useSession();
  return (
    <button
      type="button"
      class="secondary"
      onClick={() => {
        navigator.clipboard.writeText(text).then(
          () => toast(t('common.copied')),
          () => toast(t('common.copy_failed'), 'error'),
        );
      }}
    >
      {t('common.copy')}
    </button>
  );
}
