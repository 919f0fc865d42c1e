// Shared pieces of every resource representation: `uri`s, principal refs, list envelopes, and the
// tri-state PATCH rule (absent = keep, null = clear, value = set).
import { Errors, TollgateError, type ErrorSpec } from '../domain/errors.ts';
import type { Page } from '../store/paging.ts';
import type { Call } from './app.ts';

const REF_PATHS: Record<string, string> = { aigak: '/api-keys' };

/** A `createdBy`/`lastUpdatedBy` reference to the principal that made the change. */
export function principalRef(base: string, principalId: string) {
  const prefix = principalId.slice(0, principalId.indexOf('_'));
  return { id: principalId, uri: `${base}${REF_PATHS[prefix] ?? '/api-keys'}/${principalId}` };
}

export function listEnvelope<T>(call: Call, key: string, page: Page<{ id: string }>, items: T[]) {
  const limit = call.query.limit as number | undefined;
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(call.query)) if (v !== undefined) search.set(k, String(v));
  const qs = search.toString();
  let nextPageUri: string | null = null;
  if (page.hasMore && page.items.length > 0) {
    const next = new URLSearchParams();
    next.set('beforeId', page.items[page.items.length - 1]!.id);
    if (limit !== undefined) next.set('limit', String(limit));
    for (const [k, v] of Object.entries(call.query)) if (k !== 'beforeId' && k !== 'limit' && v !== undefined) next.set(k, String(v));
    nextPageUri = `${call.base}${call.path}?${next.toString()}`;
  }
  return { [key]: items, uri: `${call.base}${call.path}${qs ? `?${qs}` : ''}`, nextPageUri };
}

/** Applies tri-state PATCH semantics for the listed nullable fields. */
export function patchFields<T extends Record<string, unknown>>(body: Record<string, unknown>, fields: readonly (keyof T & string)[]): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const f of fields) if (Object.hasOwn(body, f)) out[f] = body[f];
  return out as Partial<T>;
}

/**
 * A name every answer carries and every list is read by. The update schemas mark it nullable, and the create schemas
 * allow an empty string; either, or a name of spaces alone, is refused with the family's "required" code, as a
 * required field sent empty is missing (ngrok's 27507 says so of a provider key's value). `undefined` is a PATCH
 * leaving the name as it is.
 */
export function requireName(name: string | null | undefined, required: ErrorSpec): asserts name is string | undefined {
  if (name === null || (name !== undefined && name.trim() === '')) throw new TollgateError(required, { field: 'name' });
}

/** `field`: where a body names the id (`firewallPolicyId`); an id in the URL is the path's, and names no member. */
export function notFound(resource: string, id: string, field?: string): TollgateError {
  return new TollgateError(Errors.notFound, field === undefined ? { resource, id } : { resource, id, field });
}

/** Drops undefined and null optional fields so responses carry only what is set. */
export function compact<T extends Record<string, unknown>>(obj: T): T {
  for (const k of Object.keys(obj)) if (obj[k] === undefined) delete obj[k];
  return obj;
}
