// Light or dark, remembered in this browser; "auto" follows the system setting.
export type Theme = 'light' | 'dark' | 'auto';
const kKey = 'dozor.theme';

export function storedTheme(): Theme {
  const value = localStorage.getItem(kKey);
  return value === 'light' || value === 'dark' ? value : 'auto';
}

export function applyTheme(theme: Theme): void {
  const dark = theme === 'dark' || (theme === 'auto' && matchMedia('(prefers-color-scheme: dark)').matches);
  document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  if (theme === 'auto') localStorage.removeItem(kKey);
  else localStorage.setItem(kKey, theme);
}
