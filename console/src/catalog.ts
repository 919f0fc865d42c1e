// What the account can address, read from the public API: built-in models via GET /v1/models (grouped by
// owned_by, as the contract has no separate catalog endpoint), custom providers via GET /providers, and
// stored provider keys via GET /provider-keys. Screens use it for pickers.
import { api, listAll, type Model, type Provider, type ProviderKey, type Schemas } from './api.ts';

export interface Catalog {
  models: Model[];
  /** Provider ids that own at least one model, built-in and custom, sorted. */
  providerIds: string[];
  builtIn: Map<string, Model[]>;
  custom: Provider[];
  keys: ProviderKey[];
}

export function groupByOwner(models: Model[]): Map<string, Model[]> {
  const groups = new Map<string, Model[]>();
  for (const m of models) {
    const owner = m.owned_by ?? 'unknown';
    const list = groups.get(owner) ?? [];
    list.push(m);
    groups.set(owner, list);
  }
  return new Map([...groups.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

export async function loadCatalog(): Promise<Catalog> {
  const [modelList, custom, keys] = await Promise.all([
    api<Schemas['AIGatewayModelList']>('GET', '/v1/models'),
    listAll<Provider>('/providers', 'aiGatewayProviders'),
    listAll<ProviderKey>('/provider-keys', 'aiGatewayProviderKeys'),
  ]);
  const customIds = new Set(custom.map((p) => p.providerId));
  const builtIn = groupByOwner(modelList.data.filter((m) => !customIds.has(m.owned_by ?? '')));
  const providerIds = [...new Set([...builtIn.keys(), ...customIds])].sort();
  return { models: modelList.data, providerIds, builtIn, custom, keys };
}

/** The provider part of a model string (`openai:gpt-4o`, `openai/gpt-4o`), if it has one. */
export function providerOfModel(model: string): string | undefined {
  const m = /^([^:/]+)[:/]/.exec(model);
  return m?.[1];
}
