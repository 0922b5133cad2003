// Dates, numbers and sizes in the user's language and time zone. Pure functions of their inputs
// (language, zone, "now") so the unit tests pin them down.
import type { Lang } from './i18n';

export interface LocaleSettings {
  lang: Lang;
  timeZone: string; // IANA zone
}

export function localeOf(language: Lang): string {
  return language === 'ru' ? 'ru-RU' : 'en-GB';
}

// The user's zone from their account when the browser knows it, else the browser's own.
export function resolveTimeZone(accountZone: string | null | undefined, browserZone: string): string {
  if (accountZone) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: accountZone });
      return accountZone;
    } catch {
      // an unknown zone name from the account: fall back below
    }
  }
  return browserZone || 'UTC';
}

const dateTimeCache = new Map<string, Intl.DateTimeFormat>();
function dateTimeFormat(settings: LocaleSettings, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${settings.lang}|${settings.timeZone}|${JSON.stringify(options)}`;
  let format = dateTimeCache.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(localeOf(settings.lang), { ...options, timeZone: settings.timeZone });
    dateTimeCache.set(key, format);
  }
  return format;
}

export function formatDateTime(ms: number | null | undefined, settings: LocaleSettings): string {
  if (ms === null || ms === undefined || ms <= 0) return '—';
  return dateTimeFormat(settings, { dateStyle: 'medium', timeStyle: 'short' }).format(ms);
}

export function formatDate(ms: number | null | undefined, settings: LocaleSettings): string {
  if (ms === null || ms === undefined || ms <= 0) return '—';
  return dateTimeFormat(settings, { dateStyle: 'medium' }).format(ms);
}

export function formatShortTime(ms: number, settings: LocaleSettings, withDate: boolean): string {
  return dateTimeFormat(
    settings,
    withDate ? { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' } : { hour: '2-digit', minute: '2-digit' },
  ).format(ms);
}

// "5 minutes ago" / "5 минут назад"; "—" for no time.
export function formatRelative(ms: number | null | undefined, nowMs: number, language: Lang): string {
  if (ms === null || ms === undefined || ms <= 0) return '—';
  const seconds = Math.round((ms - nowMs) / 1000);
  const format = new Intl.RelativeTimeFormat(localeOf(language), { numeric: 'auto' });
  const abs = Math.abs(seconds);
  if (abs < 60) return format.format(seconds, 'second');
  if (abs < 3600) return format.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return format.format(Math.round(seconds / 3600), 'hour');
  if (abs < 86400 * 45) return format.format(Math.round(seconds / 86400), 'day');
  return format.format(Math.round(seconds / (86400 * 30)), 'month');
}

export function formatNumber(value: number, language: Lang, fractionDigits = 0): string {
  return new Intl.NumberFormat(localeOf(language), {
    maximumFractionDigits: fractionDigits,
    minimumFractionDigits: 0,
  }).format(value);
}

export function formatPercent(value: number | null | undefined, language: Lang): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return `${formatNumber(value, language, 1)} %`;
}

const byteUnits: Record<Lang, readonly string[]> = {
  en: ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'],
  ru: ['Б', 'КиБ', 'МиБ', 'ГиБ', 'ТиБ', 'ПиБ'],
};

// Binary units like the audit report ("1.5 GiB"); 64-bit counters arrive as strings from the
// protobuf JSON mapping, so strings are accepted.
export function formatBytes(value: number | string | null | undefined, language: Lang): string {
  if (value === null || value === undefined || value === '') return '—';
  let bytes = typeof value === 'string' ? Number(value) : value;
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  const units = byteUnits[language];
  let unit = 0;
  while (bytes >= 1024 && unit < units.length - 1) {
    bytes /= 1024;
    unit += 1;
  }
  return `${formatNumber(bytes, language, unit === 0 ? 0 : 1)} ${units[unit] ?? ''}`;
}

export function formatRate(bytesPerSecond: number | null | undefined, language: Lang, perSecond: string): string {
  if (bytesPerSecond === null || bytesPerSecond === undefined) return '—';
  return `${formatBytes(bytesPerSecond, language)}/${perSecond}`;
}

export function formatDuration(seconds: number | string | null | undefined, language: Lang): string {
  const total = typeof seconds === 'string' ? Number(seconds) : seconds;
  if (total === null || total === undefined || !Number.isFinite(total) || total < 0) return '—';
  const days = Math.floor(total / 86400);
  const hours = Math.floor((total % 86400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const unit = (value: number, name: 'day' | 'hour' | 'minute') =>
    new Intl.NumberFormat(localeOf(language), { style: 'unit', unit: name, unitDisplay: 'short' }).format(value);
  if (days > 0) return `${unit(days, 'day')} ${unit(hours, 'hour')}`;
  if (hours > 0) return `${unit(hours, 'hour')} ${unit(minutes, 'minute')}`;
  return unit(minutes, 'minute');
}

// A rule's effort estimate (working hours to fix one occurrence: 2, 0.5) in words of the user's
// language: "2 hours", "0,5 часа".
export function formatEffort(hours: number | null | undefined, language: Lang): string {
  if (hours === null || hours === undefined || !Number.isFinite(hours) || hours <= 0) return '—';
  return new Intl.NumberFormat(localeOf(language), {
    style: 'unit',
    unit: 'hour',
    unitDisplay: 'long',
    maximumFractionDigits: 2,
  }).format(hours);
}

// A date input's value (YYYY-MM-DD, in the user's zone) to the end of that day in Unix ms.
export function endOfDayMs(dateInput: string, timeZone: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(dateInput);
  if (!match) return null;
  const [, y, m, d] = match;
  const utcGuess = Date.UTC(Number(y), Number(m) - 1, Number(d), 23, 59, 59);
  // Shift by the zone's offset at that moment (two passes settle DST edges).
  let ms = utcGuess;
  for (let i = 0; i < 2; i += 1) ms = utcGuess - zoneOffsetMs(ms, timeZone);
  return ms;
}

export function zoneOffsetMs(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(ms);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? '0');
  const asUtc = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return asUtc - Math.floor(ms / 1000) * 1000;
}
