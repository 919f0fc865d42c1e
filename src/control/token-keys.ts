// What access keys and API keys share: a secret token shown once (stored as SHA-256 plus a masked form),
// the audited name/description/metadata fields, and their representation. Each resource adds its own bits.
import type { Selectable } from 'kysely';
import type { ApiKeysTable } from '../store/schema.ts';
import { redactSecret, sha256Hex } from '../domain/ids.ts';
import type { Principal } from './app.ts';
import { auditedView, createdStamp, updatedStamp } from './audit.ts';
import { compact, patchFields } from './resource.ts';

type TokenKeyRow = Omit<Selectable<ApiKeysTable>, 'accountId' | 'tokenHash'>;

interface Described { name?: string; description?: string; metadata?: string }
interface DescribedPatch { name?: string | null; description?: string | null; metadata?: string | null }

/** The common representation; `token` only on the create response. */
export function tokenKeyFields(base: string, collection: '/access-keys' | '/api-keys', row: TokenKeyRow, token?: string) {
  return compact({
    ...auditedView(base, collection, row),
    name: row.name ?? undefined,
    description: row.description ?? undefined,
    metadata: row.metadata ?? undefined,
    token,
    keyRedacted: row.keyRedacted,
    lastUsed: row.lastUsed,
  });
}

/** The common columns of a new key row for `token`, created by `principal`. */
export function newTokenKeyRow(principal: Principal, id: string, token: string, body: Described): Selectable<ApiKeysTable> {
  return {
    id, accountId: principal.accountId,
    name: body.name ?? null, description: body.description ?? null, metadata: body.metadata ?? null,
    tokenHash: sha256Hex(token), keyRedacted: redactSecret(token), lastUsed: null,
    ...createdStamp(principal.apiKeyId),
  };
}

/** Tri-state PATCH of the described fields plus the audit columns. */
export function tokenKeyPatch(principal: Principal, body: DescribedPatch) {
  return {
    ...patchFields<DescribedPatch & Record<string, unknown>>(body as Record<string, unknown>, ['name', 'description', 'metadata']),
    ...updatedStamp(principal.apiKeyId),
  };
}
