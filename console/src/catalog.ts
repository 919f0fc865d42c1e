// What the account can address, read from the public API: models via GET /v1/models (each with the providers
// serving it; the built-in ones grouped here by provider), custom providers via GET /providers, and
// stored provider keys via GET /provider-keys. Screens use it for pickers.
import { api, listAll, type Model, type Provider, type ProviderKey, type Schemas } from './api.ts';

export interface Catalog {
  /** Every `provider:model` address the account can send, built-in and custom, in list order. */
  modelIds: string[];
  /** Provider ids that own at least one model, built-in and custom, sorted. */
  providerIds: string[];
  /** Built-in provider id → the `provider:model` addresses it serves. */
  builtIn: Map<string, string[]>;
  custom: Provider[];
  keys: ProviderKey[];
}

/** The built-in models' addresses by provider (a model served by several providers is under each). */
export function groupByProvider(models: Model[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const m of models) {
    if (m.owned_by !== 'ngrok') continue;
    for (const p of m.providers) {
      const list = groups.get(p.id) ?? [];
      list.push(p.model_id);
      groups.set(p.id, list);
    }
  }
  return new Map([...groups.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

export async function loadCatalog(): Promise<Catalog> {
  const [modelList, custom, keys] = await Promise.all([
    api<Schemas['AIGatewayModelList']>('GET', '/v1/models'),
    listAll<Provider>('/providers', 'aiGatewayProviders'),
    listAll<ProviderKey>('/provider-keys', 'aiGatewayProviderKeys'),
  ]);
  const builtIn = groupByProvider(modelList.data);
  const providerIds = [...new Set([...builtIn.keys(), ...custom.map((p) => p.providerId)])].sort();
  const modelIds = [...new Set(modelList.data.flatMap((m) => m.providers.map((p) => p.model_id)))];
  return { modelIds, providerIds, builtIn, custom, keys };
}

/** The provider part of a model string (`openai:gpt-4o`, `openai/gpt-4o`), if it has one. */
export function providerOfModel(model: string): string | undefined {
  const m = /^([^:/]+)[:/]/.exec(model);
  return m?.[1];
}
