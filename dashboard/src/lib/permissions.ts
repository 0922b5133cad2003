// What the caller may do, from GET /api/v1/me: the buttons a page shows. The server checks every
// call again (docs/management-api.md, access levels); this only hides what would be refused.
import type { Me } from '../api/client';

export interface Permissions {
  isAdmin: boolean;
  isStaff: boolean; // admins and engineers: notes, enrollment tokens, API tokens
  canWrite: boolean; // acknowledge, waive, move the contract, evaluate, tokens
  canClientAction: boolean; // comment, request verification, accept a waiver, own account
}

export function permissionsOf(me: Pick<Me, 'role' | 'token_role'>): Permissions {
  const tokenRole = me.token_role;
  const viewerToken = tokenRole === 'viewer';
  const isStaff = me.role === 'admin' || me.role === 'engineer';
  return {
    isAdmin: me.role === 'admin' && tokenRole === 'admin',
    isStaff,
    canWrite: isStaff && !viewerToken,
    canClientAction: !viewerToken,
  };
}
