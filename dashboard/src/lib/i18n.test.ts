import { describe, expect, it } from 'vitest';
import en from '../i18n/en.json';
import ru from '../i18n/ru.json';
import { catalogFor, categoryLabel, initialLang, interpolate, kMissingMarker, pluralForm, setLang, translate } from './i18n';

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('catalogues', () => {
  it('have the same keys in both languages', () => {
    expect(Object.keys(ru).sort()).toEqual(Object.keys(en).sort());
  });
  it('use the same placeholders in both languages', () => {
    for (const [key, text] of Object.entries(en)) {
      const other = (ru as Record<string, string>)[key] ?? '';
      // plural forms repeat placeholders per form: compare the sets
      expect([...new Set(placeholders(other))], key).toEqual([...new Set(placeholders(text))]);
    }
  });
  it('give plural keys one form per plural category', () => {
    for (const [key, text] of Object.entries(en)) {
      if (!text.includes('|')) continue;
      expect(text.split('|').length, key).toBe(2);
      expect(catalogFor('ru')[key]?.split('|').length, key).toBe(4);
    }
  });
  it('never leave a Russian text in English or the reverse', () => {
    for (const [key, text] of Object.entries(en)) expect(/[а-яё]/i.test(text), `${key}: ${text}`).toBe(key === 'login.other_language');
    for (const [key, text] of Object.entries(ru)) {
      // Russian texts may name products and units (SMART, BIOS, DNS, MAC, API, dozorctl, UID, HDD...)
      // and the installer's properties (TOKEN, SERVER), the 1C licence key (HASP) and a UPS daemon (apcupsd) and the database (PostgreSQL)
      const latinWords = text.replace(/\{\w+\}/g, '').match(/[a-z]{4,}/gi) ?? [];
      const allowed = ['SMART', 'BIOS', 'smartctl', 'dozorctl', 'Linux', 'Windows', 'PowerShell', 'Europe', 'Moscow', 'English', 'root', 'IANA', 'Telegram', 'TOKEN', 'SERVER', 'HASP', 'apcupsd', 'PostgreSQL'];
      expect(latinWords.filter((word) => !allowed.includes(word)), `${key}: ${text}`).toEqual([]);
    }
  });
});

describe('translate', () => {
  it('fills placeholders and marks missing keys', () => {
    expect(interpolate('{a} of {b}', { a: 1, b: 'x' })).toBe('1 of x');
    expect(translate('en', 'no.such.key')).toContain(kMissingMarker);
  });
  it('picks Russian plural forms', () => {
    const forms = ['хост', 'хоста', 'хостов', 'хоста'];
    expect(pluralForm('ru', forms, 1)).toBe('хост');
    expect(pluralForm('ru', forms, 3)).toBe('хоста');
    expect(pluralForm('ru', forms, 5)).toBe('хостов');
    expect(pluralForm('ru', forms, 21)).toBe('хост');
    expect(pluralForm('ru', forms, 1.5)).toBe('хоста');
    expect(pluralForm('en', ['host', 'hosts'], 1)).toBe('host');
    expect(pluralForm('en', ['host', 'hosts'], 2)).toBe('hosts');
  });
  it('starts in the stored language, else the browser\'s, else Russian', () => {
    expect(initialLang('en', ['ru-RU'])).toBe('en');
    expect(initialLang(null, ['de-DE', 'en-US'])).toBe('en');
    expect(initialLang('fr', ['de'])).toBe('ru');
  });
});

describe('categories', () => {
  it('translates the rule pack\'s categories and keeps an engineer\'s own as written', () => {
    setLang('ru');
    expect(categoryLabel('backup')).toBe('резервное копирование');
    expect(categoryLabel('our-own')).toBe('our-own');
    setLang('en');
    expect(categoryLabel('backup')).toBe('backups');
  });
});

describe('the built-in rule pack', () => {
  it('has every category translated', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = new URL('../../../server/rules/pack/', import.meta.url);
    const categories = new Set<string>();
    for (const file of readdirSync(dir).filter((name) => name.endsWith('.toml'))) {
      const match = /^category\s*=\s*"([^"]+)"/m.exec(readFileSync(new URL(file, dir), 'utf8'));
      if (match?.[1]) categories.add(match[1]);
    }
    expect(categories.size).toBeGreaterThan(3);
    for (const category of categories) expect(catalogFor('ru')[`category.${category}`], category).toBeTruthy();
  });
});
