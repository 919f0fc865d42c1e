// Matching a written model reference (access allow entries, routing-rule models) against a candidate.
// Model parts compare case-insensitively; provider parts exactly (built-in id, custom slug or `aigp_` id).
import type { Candidate } from './resolve.ts';

/** Every lower-case name the candidate's model answers to: upstream id, catalog id and `author/id`. */
export function candidateModelNames(c: Candidate): string[] {
  const names = [c.modelId.toLowerCase()];
  const model = c.catalogModel;
  if (model) {
    const id = model.id.toLowerCase();
    if (!names.includes(id)) names.push(id);
    if (!id.includes('/')) names.push(`${(model.authorId ?? c.provider.id).toLowerCase()}/${id}`);
  }
  return names;
}

export function isCandidateProvider(c: Candidate, ref: string): boolean {
  return ref === c.provider.id || (c.provider.resourceId !== undefined && ref === c.provider.resourceId);
}

/**
 * `provider:model` pins both parts; a bare reference (which may itself be `author/name`) matches the model on
 * any provider; when `withSlashProvider` is set, `provider/model` also pins the provider (access entries).
 * A model id may itself hold a `:` (Ollama's tags: `qwen3:8b`), so the colon qualifies a provider only when it
 * comes before any `/`: `my-ollama/qwen3:8b` is the guides' `provider/model` form, and an entry that is as a whole
 * a name the model answers to (`qwen3:8b`) names that model.
 */
export function matchesModelRef(c: Candidate, ref: string, withSlashProvider: boolean): boolean {
  const names = candidateModelNames(c);
  const colon = ref.indexOf(':');
  const slash = ref.indexOf('/');
  if (colon >= 0 && (slash < 0 || colon < slash)) {
    if (isCandidateProvider(c, ref.slice(0, colon)) && names.includes(ref.slice(colon + 1).toLowerCase())) return true;
  }
  if (names.includes(ref.toLowerCase())) return true;
  if (withSlashProvider && slash > 0 && isCandidateProvider(c, ref.slice(0, slash)) && names.includes(ref.slice(slash + 1).toLowerCase())) return true;
  return false;
}
