import { describe, expect, it } from 'vitest';
import type { OrgSummary } from '../api/client';
import { isOneC, matchesPackage } from '../api/inventory';
import { boardQuery, boardSearch, parseBoardFilter, toggle } from './board';
import { allowedMoves } from './contract';
import { matchesOrg, sortOrgs, urgency } from './estate';
import { nextBackoffMs } from './backoff';
import { permissionsOf } from './permissions';
import { parseRoute, safeNextPath } from './router';
import { askedBy, systemNoteKey } from './system-notes';

function org(id: number, name: string, extra: Partial<OrgSummary> = {}): OrgSummary {
  return {
    id,
    name,
    contract_status: 'prospect',
    contract_type: 'technical',
    engineers: [],
    open_findings: { critical: 0, high: 0, medium: 0, low: 0, info: 0 },
    hosts: { total: 0, online: 0, offline: 0, overdue: 0, imported: 0 },
    readiness_score: 100,
    last_change_at: null,
    last_change_at_ms: null,
    ...extra,
  };
}

describe('estate overview', () => {
  const romashka = org(1, 'ООО Ромашка', { open_findings: { critical: 0, high: 30, medium: 0, low: 0, info: 0 }, readiness_score: 40 });
  const acme = org(2, 'Acme Ltd', { open_findings: { critical: 1, high: 0, medium: 0, low: 0, info: 0 }, contract_status: 'active' });
  const elka = org(3, 'Ёлка', { engineers: [{ user_id: 1, login: 'anna', display_name: 'Анна Смирнова', kind: 'primary', specialty: '' }] });
  const orgs = [romashka, acme, elka];
  it('ranks one critical above many highs', () => {
    expect(urgency(acme.open_findings)).toBeGreaterThan(urgency(romashka.open_findings));
    expect(sortOrgs(orgs, 'findings', true, 'ru').map((o) => o.id)).toEqual([2, 1, 3]);
  });
  it('sorts names by the language\'s collation', () => {
    // Russian puts Cyrillic first (Ё sorts with Е), English puts Latin first.
    expect(sortOrgs(orgs, 'name', false, 'ru').map((o) => o.id)).toEqual([3, 1, 2]);
    expect(sortOrgs(orgs, 'name', false, 'en').map((o) => o.id)).toEqual([2, 3, 1]);
    expect(sortOrgs(orgs, 'score', false, 'ru')[0]?.id).toBe(1);
  });
  it('searches names and engineers, ignoring case and ё', () => {
    expect(orgs.filter((o) => matchesOrg(o, { q: 'елка', phase: '', type: '' })).map((o) => o.id)).toEqual([3]);
    expect(orgs.filter((o) => matchesOrg(o, { q: 'смирнова', phase: '', type: '' })).map((o) => o.id)).toEqual([3]);
    expect(orgs.filter((o) => matchesOrg(o, { q: '', phase: 'active', type: '' })).map((o) => o.id)).toEqual([2]);
  });
});

describe('findings board filter', () => {
  it('round-trips through the URL', () => {
    const filter = parseBoardFilter(new URLSearchParams('severity=critical,high,bogus&state=open&org=3&sort=-opened'));
    expect(filter.severities).toEqual(['critical', 'high']);
    expect(filter.states).toEqual(['open']);
    expect(parseBoardFilter(new URLSearchParams(boardSearch(filter).slice(1)))).toEqual(filter);
    expect(boardQuery(filter)).toEqual({ sort: '-opened', severity: 'critical,high', state: 'open', org: '3' });
  });
  it('defaults to the active findings and a known sort', () => {
    const filter = parseBoardFilter(new URLSearchParams('sort=drop table'));
    expect(filter.states).toBe('active');
    expect(filter.sort).toBe('severity');
    expect(boardSearch(filter)).toBe('');
    expect(toggle(['a', 'b'], 'a')).toEqual(['b']);
  });
});

describe('routes', () => {
  it('parse every page', () => {
    expect(parseRoute('/', '')).toEqual({ page: 'overview' });
    expect(parseRoute('/orgs/12/report', '')).toEqual({ page: 'org', org: '12', tab: 'report' });
    expect(parseRoute('/hosts/abc', '')).toEqual({ page: 'host', agentId: 'abc', tab: 'summary' });
    expect(parseRoute('/findings/77', '')).toEqual({ page: 'finding', id: 77 });
    expect(parseRoute('/findings/x', '')).toEqual({ page: 'notfound' });
    expect(parseRoute('/admin/audit', '')).toEqual({ page: 'admin', tab: 'audit' });
    expect(parseRoute('/orgs/%E0%A4%A', '')).toMatchObject({ page: 'org' });
  });
  it('return after login only to a path of this site', () => {
    expect(safeNextPath('?next=%2Forgs%2F3')).toBe('/orgs/3');
    expect(safeNextPath('?next=%2F%2Fevil.example')).toBe('/');
    expect(safeNextPath('?next=%2F%5Cevil.example')).toBe('/');
    expect(safeNextPath('?next=https%3A%2F%2Fevil.example')).toBe('/');
    expect(safeNextPath('')).toBe('/');
  });
});

describe('permissions', () => {
  it('follow the role and the token', () => {
    expect(permissionsOf({ role: 'admin', token_role: 'admin' })).toEqual({ isAdmin: true, isStaff: true, canWrite: true, canClientAction: true });
    expect(permissionsOf({ role: 'engineer', token_role: 'admin' }).isAdmin).toBe(false);
    expect(permissionsOf({ role: 'client', token_role: 'admin' })).toEqual({ isAdmin: false, isStaff: false, canWrite: false, canClientAction: true });
    expect(permissionsOf({ role: 'admin', token_role: 'viewer' }).canWrite).toBe(false);
  });
});

describe('misc', () => {
  it('contract moves match the server', () => {
    expect(allowedMoves('prospect')).toEqual(['remediation', 'active']);
    expect(allowedMoves('active')).toEqual(['ended']);
  });
  it('feed backoff honours Retry-After and caps', () => {
    expect(nextBackoffMs(0, null)).toBe(1000);
    expect(nextBackoffMs(1000, null)).toBe(2000);
    expect(nextBackoffMs(20_000, null)).toBe(30_000);
    expect(nextBackoffMs(0, 5)).toBe(5000);
  });
  it('recognises 1C:Enterprise by name (Latin or Cyrillic С)', () => {
    expect(isOneC('1C:Enterprise 8.3 (8.3.24.1467)')).toBe(true);
    expect(isOneC('1С:Предприятие 8')).toBe(true);
    expect(isOneC('1c-enterprise-8.3.24-server')).toBe(true);
    expect(isOneC('libc6')).toBe(false);
    expect(matchesPackage({ name: 'openssl', version: '3.0.15-1~deb12u1' }, 'openssl 3.0')).toBe(true);
    expect(matchesPackage({ name: 'openssl', version: '3.0.15' }, 'nginx')).toBe(false);
  });
});

describe('system notes on finding events', () => {
  it('map the server\'s own English notes to catalogue keys, never a person\'s text', () => {
    const failed = 'still present after a fresh collection (verification asked by anna); the evidence is updated';
    expect(systemNoteKey('system', 'verify_failed', failed)).toBe('finding_note.verify_failed');
    expect(askedBy(failed)).toBe('anna');
    expect(systemNoteKey('system', 'resolved', 'rule removed or disabled')).toBe('finding_note.rule_removed');
    expect(systemNoteKey('anna', 'verify_failed', failed)).toBeNull();
    expect(systemNoteKey('system', 'comment', 'hello')).toBeNull();
  });
});
