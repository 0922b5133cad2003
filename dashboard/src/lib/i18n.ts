// One catalogue per language (src/i18n/<lang>.json, flat keys). `ru` must carry every key of
// `en` (the type below fails the build otherwise; a unit test also checks placeholders), so a
// page never mixes languages. A key with plural forms holds them separated by "|", in the order
// of Intl.PluralRules' categories for that language (en: one|other; ru: one|few|many|other).
import en from '../i18n/en.json';
import ru from '../i18n/ru.json';

export type Lang = 'ru' | 'en';
export type MessageKey = keyof typeof en;
export type Params = Record<string, string | number>;

type Catalog = Record<MessageKey, string>;
const catalogs: Record<Lang, Catalog> = { en, ru };

// The marker a missing key renders as: the browser tests fail on any page showing it.
export const kMissingMarker = '⟦';

let current: Lang = 'ru';
const listeners = new Set<() => void>();

export function isLang(value: unknown): value is Lang {
  return value === 'ru' || value === 'en';
}

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  if (next === current) return;
  current = next;
  if (typeof document !== 'undefined') document.documentElement.lang = next;
  for (const listener of listeners) listener();
}

export function onLangChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// The language to show before anyone is logged in: the last one used in this browser, else the
// browser's preference, else Russian (the product's first language).
export function initialLang(stored: string | null, browserLanguages: readonly string[]): Lang {
  if (isLang(stored)) return stored;
  for (const language of browserLanguages) {
    const primary = language.toLowerCase().split('-')[0];
    if (isLang(primary)) return primary;
  }
  return 'ru';
}

export function interpolate(text: string, params?: Params): string {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : String(value);
  });
}

export function translate(language: Lang, key: string, params?: Params): string {
  const catalog = catalogs[language] as Record<string, string | undefined>;
  const text = catalog[key];
  if (text === undefined) {
    console.error(`untranslated key ${key} (${language})`);
    return `${kMissingMarker}${key}⟧`;
  }
  return interpolate(text, params);
}

const pluralRules: Record<Lang, Intl.PluralRules> = {
  en: new Intl.PluralRules('en'),
  ru: new Intl.PluralRules('ru'),
};

const kCategoryOrder: Intl.LDMLPluralRule[] = ['zero', 'one', 'two', 'few', 'many', 'other'];

export function pluralForm(language: Lang, forms: readonly string[], count: number): string {
  // resolvedOptions() lists the categories in no promised order: use CLDR's own order.
  const present = new Set(pluralRules[language].resolvedOptions().pluralCategories);
  const categories = kCategoryOrder.filter((category) => present.has(category));
  const wanted = pluralRules[language].select(count);
  const index = categories.indexOf(wanted);
  return forms[index] ?? forms[forms.length - 1] ?? '';
}

export function t(key: MessageKey, params?: Params): string {
  return translate(current, key, params);
}

// A dynamic key (an enum value from the API): typed as string, checked at run time.
export function tDynamic(key: string, params?: Params): string {
  return translate(current, key, params);
}

export function tn(key: MessageKey, count: number, params?: Params): string {
  const raw = translate(current, key);
  if (raw.startsWith(kMissingMarker)) return raw;
  const form = pluralForm(current, raw.split('|'), count);
  return interpolate(form, { n: formatCount(count), ...params });
}

function formatCount(count: number): string {
  return new Intl.NumberFormat(current === 'ru' ? 'ru-RU' : 'en-GB').format(count);
}

export function catalogFor(language: Lang): Readonly<Record<string, string>> {
  return catalogs[language];
}

// A finding's category: the rule pack's own categories are translated; a category of an engineer's
// own rule is shown as its author wrote it.
export function categoryLabel(category: string): string {
  const catalog = catalogs[current] as Record<string, string | undefined>;
  return catalog[`category.${category}`] ?? category;
}
