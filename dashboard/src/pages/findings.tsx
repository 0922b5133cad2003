import { api, kFindingStates, kSeverities, must } from '../api/client';
import { FindingsTable } from '../components/findings-table';
import { useSession } from '../lib/context';
import { boardQuery, boardSearch, parseBoardFilter, toggle, type BoardFilter } from '../lib/board';
import { useAsync } from '../lib/hooks';
import { categoryLabel, t, tDynamic } from '../lib/i18n';
import { navigate } from '../lib/router';

export function FindingsPage({ params }: { params: URLSearchParams }) {
  const { me, can, locale } = useSession();
  const filter = parseBoardFilter(params);
  const set = (next: Partial<BoardFilter>) => navigate(`/findings${boardSearch({ ...filter, ...next })}`, { replace: true });
  const rules = useAsync(() => must(api.GET('/api/v1/rules', { params: { query: { lang: locale.lang } } })), [locale.lang]);
  const engineers = useAsync(
    () => (can.isAdmin ? must(api.GET('/api/v1/users')).then((answer) => answer.users.filter((u) => u.role !== 'client')) : Promise.resolve([])),
    [can.isAdmin],
  );
  const categories = [...new Set((rules.data?.rules ?? []).map((rule) => rule.category))].sort();
  const stateValue = filter.states === 'all' ? 'all' : filter.states === 'active' ? '' : filter.states.join(',');
  return (
    <div data-page="findings">
      <div class="page-head">
        <h1>{t('findings.title')}</h1>
      </div>
      <div class="filters card" data-testid="board-filters">
        <fieldset class="chips">
          <legend>{t('findings.col_severity')}</legend>
          {kSeverities.map((severity) => (
            <label key={severity} class={`chip sev-${severity}${filter.severities.includes(severity) ? ' on' : ''}`}>
              <input type="checkbox" checked={filter.severities.includes(severity)} onChange={() => set({ severities: toggle(filter.severities, severity) })} />
              {tDynamic(`severity.${severity}`)}
            </label>
          ))}
        </fieldset>
        <label class="field inline">
          <span class="field-label">{t('findings.col_state')}</span>
          <select
            value={stateValue}
            onChange={(e) => {
              const value = e.currentTarget.value;
              const state = kFindingStates.find((known) => known === value);
              set({ states: value === '' ? 'active' : state ? [state] : 'all' });
            }}
          >
            <option value="">{t('findings.state_active')}</option>
            <option value="all">{t('findings.state_all')}</option>
            {kFindingStates.map((state) => (
              <option key={state} value={state}>
                {tDynamic(`state.${state}`)}
              </option>
            ))}
          </select>
        </label>
        <label class="field inline">
          <span class="field-label">{t('findings.category')}</span>
          <select value={filter.categories[0] ?? ''} onChange={(e) => set({ categories: e.currentTarget.value ? [e.currentTarget.value] : [] })}>
            <option value="">{t('findings.any')}</option>
            {categories.map((category) => (
              <option key={category} value={category}>
                {categoryLabel(category)}
              </option>
            ))}
          </select>
        </label>
        {me.organizations.length > 1 && (
          <label class="field inline">
            <span class="field-label">{t('findings.col_client')}</span>
            <select value={filter.org} onChange={(e) => set({ org: e.currentTarget.value })}>
              <option value="">{t('findings.any')}</option>
              {me.organizations.map((org) => (
                <option key={org.id} value={String(org.id)}>
                  {org.name}
                </option>
              ))}
            </select>
          </label>
        )}
        {can.isAdmin && (
          <label class="field inline">
            <span class="field-label">{t('findings.engineer')}</span>
            <select value={filter.engineer} onChange={(e) => set({ engineer: e.currentTarget.value })}>
              <option value="">{t('findings.any')}</option>
              {(engineers.data ?? []).map((user) => (
                <option key={user.id} value={user.login}>
                  {user.display_name || user.login}
                </option>
              ))}
            </select>
          </label>
        )}
        <label class="field inline">
          <span class="field-label">{t('findings.sort')}</span>
          <select value={filter.sort} onChange={(e) => set({ sort: e.currentTarget.value })}>
            {(['severity', 'opened', '-opened', '-last_seen', 'host'] as const).map((sort) => (
              <option key={sort} value={sort}>
                {tDynamic(`sort.${sort}`)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <FindingsTable query={boardQuery(filter)} />
    </div>
  );
}
