// The findings board's filters live in the URL (?severity=critical,high&state=open&org=3...), so a
// filtered board can be bookmarked or sent to a colleague. Pure: parsed and written here, tested.
import type { FindingState, Severity } from '../api/client';
import { kFindingStates, kSeverities } from '../api/enums';

export interface BoardFilter {
  severities: Severity[];
  states: FindingState[] | 'active' | 'all';
  categories: string[];
  org: string;
  engineer: string;
  sort: string;
}

const kSorts = ['severity', '-severity', 'opened', '-opened', 'last_seen', '-last_seen', 'host', '-host'] as const;
export type BoardSort = (typeof kSorts)[number];

function list(value: string | null): string[] {
  return (value ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '');
}

export function parseBoardFilter(params: URLSearchParams): BoardFilter {
  const severities = list(params.get('severity')).filter((s): s is Severity => (kSeverities as readonly string[]).includes(s));
  const stateParam = params.get('state');
  const states: BoardFilter['states'] =
    stateParam === 'all' ? 'all' : !stateParam ? 'active' : list(stateParam).filter((s): s is FindingState => (kFindingStates as readonly string[]).includes(s));
  const sort = params.get('sort') ?? 'severity';
  return {
    severities,
    states: Array.isArray(states) && states.length === 0 ? 'active' : states,
    categories: list(params.get('category')).slice(0, 32),
    org: params.get('org') ?? '',
    engineer: params.get('engineer') ?? '',
    sort: (kSorts as readonly string[]).includes(sort) ? sort : 'severity',
  };
}

export function boardSearch(filter: BoardFilter): string {
  const params = new URLSearchParams();
  if (filter.severities.length > 0) params.set('severity', filter.severities.join(','));
  if (filter.states !== 'active') params.set('state', filter.states === 'all' ? 'all' : filter.states.join(','));
  if (filter.categories.length > 0) params.set('category', filter.categories.join(','));
  if (filter.org) params.set('org', filter.org);
  if (filter.engineer) params.set('engineer', filter.engineer);
  if (filter.sort !== 'severity') params.set('sort', filter.sort);
  const text = params.toString();
  return text ? `?${text}` : '';
}

// The API's query for the filter (the API's default state set is the active one).
export function boardQuery(filter: BoardFilter): Record<string, string> {
  const query: Record<string, string> = { sort: filter.sort };
  if (filter.severities.length > 0) query.severity = filter.severities.join(',');
  if (filter.states !== 'active') query.state = filter.states === 'all' ? 'all' : filter.states.join(',');
  if (filter.categories.length > 0) query.category = filter.categories.join(',');
  if (filter.org) query.org = filter.org;
  if (filter.engineer) query.engineer = filter.engineer;
  return query;
}

export function toggle<T>(values: readonly T[], value: T): T[] {
  return values.includes(value) ? values.filter((v) => v !== value) : [...values, value];
}
