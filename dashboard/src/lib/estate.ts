// The overview's own logic, pure so the unit tests hold it: search, filters and sorting of the
// organisation summaries, and the severity weighting used to sort "most urgent first".
import type { ContractPhase, ContractType, OrgSummary, Severity } from '../api/client';
import type { Lang } from './i18n';

export type OrgSortKey = 'name' | 'phase' | 'score' | 'findings' | 'hosts' | 'offline' | 'last_change';

export interface OrgFilter {
  q: string;
  phase: ContractPhase | '';
  type: ContractType | '';
}

const kSeverityWeight: Record<Severity, number> = { critical: 1e9, high: 1e6, medium: 1e3, low: 1, info: 0 };
const kPhaseOrder: Record<ContractPhase, number> = { prospect: 0, remediation: 1, active: 2, ended: 3 };

// Critical first, then high... : one critical outweighs any number of highs below a million.
export function urgency(open: OrgSummary['open_findings']): number {
  return (Object.keys(kSeverityWeight) as Severity[]).reduce((sum, severity) => sum + open[severity] * kSeverityWeight[severity], 0);
}

export function openTotal(open: OrgSummary['open_findings']): number {
  return open.critical + open.high + open.medium + open.low + open.info;
}

// Case- and ё/е-insensitive match of the organisation's name or an engineer's name or login.
export function normalizeSearch(text: string): string {
  return text.toLocaleLowerCase('ru').replaceAll('ё', 'е').trim();
}

export function matchesOrg(org: OrgSummary, filter: OrgFilter): boolean {
  if (filter.phase && org.contract_status !== filter.phase) return false;
  if (filter.type && org.contract_type !== filter.type) return false;
  const q = normalizeSearch(filter.q);
  if (!q) return true;
  const haystack = [org.name, ...org.engineers.flatMap((e) => [e.display_name, e.login])].map(normalizeSearch);
  return q.split(/\s+/).every((word) => haystack.some((text) => text.includes(word)));
}

export function sortOrgs(orgs: readonly OrgSummary[], key: OrgSortKey, desc: boolean, language: Lang): OrgSummary[] {
  const collator = new Intl.Collator(language, { sensitivity: 'base', numeric: true });
  const value = (org: OrgSummary): number => {
    switch (key) {
      case 'phase':
        return kPhaseOrder[org.contract_status];
      case 'score':
        return org.readiness_score;
      case 'findings':
        return urgency(org.open_findings);
      case 'hosts':
        return org.hosts.total;
      case 'offline':
        return org.hosts.offline + org.hosts.overdue;
      case 'last_change':
        return org.last_change_at_ms ?? 0;
      case 'name':
        return 0;
    }
  };
  const sorted = [...orgs].sort((a, b) => {
    const primary = key === 'name' ? 0 : value(a) - value(b);
    return primary !== 0 ? primary : collator.compare(a.name, b.name);
  });
  return desc ? sorted.reverse() : sorted;
}
