// Access scope (gateway.md §5, control-plane.md §7): candidates outside the configuration's allow lists
// are dropped before routing. Omitted dimension = unrestricted; `allow: []` = nothing; both must pass.
import type { AccessScope } from '../state/types.ts';
import { tollgateError, type TollgateError } from './errors.ts';
import type { Candidate } from './resolve.ts';
import { isCandidateProvider, matchesModelRef } from './model-match.ts';

export function providerAllowed(c: Candidate, access: AccessScope | null): boolean {
  const allow = access?.providers?.allow;
  return allow === undefined || allow.some((entry) => isCandidateProvider(c, entry));
}

export function modelAllowed(c: Candidate, access: AccessScope | null): boolean {
  const allow = access?.models?.allow;
  return allow === undefined || allow.some((entry) => matchesModelRef(c, entry, true));
}

export function applyScope(candidates: Candidate[], access: AccessScope | null): { allowed: Candidate[]; rejected: Candidate[] } {
  if (!access || (access.providers?.allow === undefined && access.models?.allow === undefined)) return { allowed: candidates, rejected: [] };
  const allowed: Candidate[] = [];
  const rejected: Candidate[] = [];
  for (const c of candidates) (providerAllowed(c, access) && modelAllowed(c, access) ? allowed : rejected).push(c);
  return { allowed, rejected };
}

/**
 * The error when nothing is left: 27231 if the provider dimension refused the first rejected candidate, else 27232.
 * ngrok's sentence, then where the policy lives (`configurationId`, the access key's configuration) and the entry
 * that would allow the candidate: a key's configuration is set apart from the code that sends the request, and
 * "the access policy" alone left the team reading the refusal to guess which of their configurations said no.
 */
export function scopeError(rejected: Candidate[], access: AccessScope | null, configurationId?: string): TollgateError {
  const first = rejected[0];
  if (!first) return tollgateError('modelNotAllowed', { model: '' });
  const where = configurationId === undefined ? 'the access key\'s configuration' : `access key configuration "${configurationId}"`;
  if (!providerAllowed(first, access)) {
    return tollgateError('providerNotAllowed', { provider: first.provider.id, model: first.requested, hint: ` It is set by ${where}: add "${first.provider.id}" to its providers allow list, or name another model.` });
  }
  const entry = `${first.provider.id}/${first.modelId}`;
  return tollgateError('modelNotAllowed', { model: first.requested, provider: first.provider.id, hint: ` It is set by ${where}: add "${entry}" to its models allow list, or name another model.` });
}
