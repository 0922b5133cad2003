import type { ContractPhase } from '../api/client';

// The moves the server allows (docs/management-api.md, POST /orgs/{org}/contract); the page shows
// a button for each move from the current phase.
const kMoves: Record<ContractPhase, readonly ContractPhase[]> = {
  prospect: ['remediation', 'active'],
  remediation: ['active', 'prospect'],
  active: ['ended'],
  ended: ['prospect'],
};

export function allowedMoves(phase: ContractPhase): readonly ContractPhase[] {
  return kMoves[phase];
}
