// GET /v1/models on the gateway: the models this access key may use — the catalog plus the account's
// user-defined providers, filtered by the key's access scope — as an OpenAI list of `provider:model` ids
// (the same strings the gateway accepts as model addresses; the control plane's list uses the same form).
import type { Catalog } from '../catalog/index.ts';
import type { CatalogProvider } from '../catalog/types.ts';
import { customProvider, type Candidate, type ResolvedProvider } from '../domain/resolve.ts';
import { applyScope } from '../domain/scope.ts';
import type { AccessScope, AccountSnapshot } from '../state/types.ts';

const catalogCandidates = new WeakMap<Catalog, Candidate[]>();

function resolvedBuiltin(p: CatalogProvider): ResolvedProvider {
  return { id: p.id, displayName: p.displayName, baseUrl: p.baseUrl, auth: p.auth, surfaces: p.surfaces, managed: p.managed, custom: false };
}

/** Every catalog model as a scope-checkable candidate; built once per catalog. */
function candidatesOf(catalog: Catalog): Candidate[] {
  let list = catalogCandidates.get(catalog);
  if (!list) {
    list = [];
    for (const p of catalog.providers) {
      const provider = resolvedBuiltin(p);
      for (const m of p.models) {
        list.push({ requested: `${p.id}:${m.id}`, provider, modelId: m.id, displayName: m.displayName, catalogModel: m, surface: p.surfaces[0]! });
      }
    }
    catalogCandidates.set(catalog, list);
  }
  return list;
}

export function listModels(catalog: Catalog, account: AccountSnapshot, access: AccessScope | null): string {
  const all = candidatesOf(catalog).slice();
  for (const custom of account.customProviders.values()) {
    const provider = customProvider(custom);
    for (const modelId of custom.models) {
      all.push({ requested: `${provider.id}:${modelId}`, provider, modelId, displayName: modelId, surface: provider.surfaces[0]! });
    }
  }
  const { allowed } = applyScope(all, access);
  const data = allowed.map((c) => ({ id: `${c.provider.id}:${c.modelId}`, object: 'model', created: 0, owned_by: c.provider.id }));
  return JSON.stringify({ object: 'list', data });
}
