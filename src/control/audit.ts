// The identity and audit fields every owned resource carries, in the stored and in the contract form.
import type { components } from './spec-types.ts';
import { principalRef } from './resource.ts';
import { nowIso } from '../domain/clock.ts';

type Ref = components['schemas']['Ref'];

export interface AuditedRow { id: string; createdAt: string; updatedAt: string; createdBy: string; lastUpdatedBy: string }

export interface AuditedView { id: string; uri: string; createdAt: string; updatedAt: string; createdBy: Ref; lastUpdatedBy: Ref }

/** `collection` is the resource's path, e.g. `/providers`. */
export function auditedView(base: string, collection: string, row: AuditedRow): AuditedView {
  return {
    id: row.id,
    uri: `${base}${collection}/${row.id}`,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    createdBy: principalRef(base, row.createdBy),
    lastUpdatedBy: principalRef(base, row.lastUpdatedBy),
  };
}

export function createdStamp(principalId: string): Omit<AuditedRow, 'id'> {
  const now = nowIso();
  return { createdAt: now, updatedAt: now, createdBy: principalId, lastUpdatedBy: principalId };
}

export function updatedStamp(principalId: string): Pick<AuditedRow, 'updatedAt' | 'lastUpdatedBy'> {
  return { updatedAt: nowIso(), lastUpdatedBy: principalId };
}
