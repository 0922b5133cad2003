// The API's enumerations as values (client.ts has the types); no side effects, so pure modules
// and their unit tests can import them.
import type { ContractPhase, ContractType, FindingState, Severity } from './client';

export const kSeverities: readonly Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
export const kFindingStates: readonly FindingState[] = ['open', 'acknowledged', 'regressed', 'waived', 'resolved'];
export const kContractPhases: readonly ContractPhase[] = ['prospect', 'remediation', 'active', 'ended'];
export const kContractTypes: readonly ContractType[] = ['technical', 'application', 'complex'];
