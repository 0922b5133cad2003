import { describe, expect, it } from 'vitest';
import { endOfDayMs, formatBytes, formatDateTime, formatDuration, formatEffort, formatRelative, resolveTimeZone } from './format';

describe('format', () => {
  it('prints sizes in binary units of the language', () => {
    expect(formatBytes('1610612736', 'en')).toBe('1.5 GiB');
    expect(formatBytes(1610612736, 'ru')).toBe('1,5 ГиБ');
    expect(formatBytes(512, 'en')).toBe('512 B');
    expect(formatBytes('not a number', 'en')).toBe('—');
    expect(formatBytes(null, 'en')).toBe('—');
  });
  it('prints times in the user\'s zone', () => {
    const ms = Date.UTC(2026, 11, 3, 21, 30);
    expect(formatDateTime(ms, { lang: 'en', timeZone: 'UTC' })).toContain('21:30');
    expect(formatDateTime(ms, { lang: 'ru', timeZone: 'Europe/Moscow' })).toContain('4 дек. 2026');
    expect(formatDateTime(ms, { lang: 'ru', timeZone: 'Europe/Moscow' })).toContain('00:30');
    expect(formatDateTime(0, { lang: 'en', timeZone: 'UTC' })).toBe('—');
  });
  it('prints relative times', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(formatRelative(now - 5 * 60_000, now, 'en')).toBe('5 minutes ago');
    expect(formatRelative(now - 5 * 60_000, now, 'ru')).toBe('5 минут назад');
    expect(formatRelative(now - 2 * 86_400_000, now, 'en')).toBe('2 days ago');
  });
  it('prints durations', () => {
    expect(formatDuration(90_061, 'en')).toBe('1 day 1 hr');
    expect(formatDuration('300', 'en')).toMatch(/^5 min/);
    expect(formatEffort(2, 'en')).toBe('2 hours');
    expect(formatEffort(0.5, 'en')).toBe('0.5 hours');
    expect(formatEffort(8, 'ru')).toBe('8 часов');
    expect(formatEffort(0.25, 'ru')).toBe('0,25 часа');
    expect(formatEffort(undefined, 'ru')).toBe('—');
  });
  it('falls back to the browser zone for an unknown account zone', () => {
    expect(resolveTimeZone('Mars/Olympus', 'Europe/Moscow')).toBe('Europe/Moscow');
    expect(resolveTimeZone('Asia/Yekaterinburg', 'UTC')).toBe('Asia/Yekaterinburg');
    expect(resolveTimeZone('', '')).toBe('UTC');
  });
  it('turns a date input into the end of that day in the zone', () => {
    expect(endOfDayMs('2026-12-31', 'UTC')).toBe(Date.UTC(2026, 11, 31, 23, 59, 59));
    expect(endOfDayMs('2026-12-31', 'Europe/Moscow')).toBe(Date.UTC(2026, 11, 31, 20, 59, 59));
    expect(endOfDayMs('31.12.2026', 'UTC')).toBeNull();
  });
});
