// What the account can address, read from the public API: models via GET /v1/models (each with the providers
// serving it; the built-in ones grouped here by provider), custom providers via GET /providers, and
// stored provider keys via GET /provider-keys. Screens use it for pickers.
import { api, listAll, type Model, type Provider, type ProviderKey, type Schemas } from './api.ts';

export type Rate = Schemas['AIGatewayModelPricingRate'];

export interface Catalog {
  /** Every `provider:model` address the account can send, built-in and custom, in list order. */
  modelIds: string[];
  /** Provider ids that own at least one model, built-in and custom, sorted. */
  providerIds: string[];
  /** Built-in provider id → the `provider:model` addresses it serves. */
  builtIn: Map<string, string[]>;
  /** Built-in `provider:model` address → what that provider charges for it (GET /v1/models' `pricing.rates`). */
  prices: Map<string, Rate[]>;
  custom: Provider[];
  keys: ProviderKey[];
  /** GET /v1/models as listed: built-in models (with every provider serving each), then the custom providers' ones. */
  models: Model[];
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
  const prices = new Map(modelList.data.filter((m) => m.owned_by === 'ngrok').flatMap((m) => m.providers.map((p) => [p.model_id, p.pricing.rates] as const)));
  const providerIds = [...new Set([...builtIn.keys(), ...custom.map((p) => p.providerId)])].sort();
  const modelIds = [...new Set(modelList.data.flatMap((m) => m.providers.map((p) => p.model_id)))];
  return { modelIds, providerIds, builtIn, prices, custom, keys, models: modelList.data };
}

/**
 * A model's price per million tokens for `type` (prompt, completion, input_cache_read), from its per-token rate;
 * the base tier (no minimum input size) when a long-context tier is priced apart. Undefined when not priced.
 */
export function perMillion(rates: readonly Rate[] | undefined, type: string): string | undefined {
  const rate = rates?.find((r) => r.type === type && r.unit === 'token' && r.conditions?.min_input_tokens === undefined);
  if (!rate) return undefined;
  const n = Number(rate.price) * 1_000_000;
  if (!Number.isFinite(n)) return rate.price;
  // Whole cents where the price has no finer part ($2.50), else up to four decimals ($0.075, $0.0375).
  return Math.abs(n * 100 - Math.round(n * 100)) < 1e-6 ? `$${n.toFixed(2)}` : `$${Number(n.toFixed(4))}`;
}

/** The provider part of a model string (`openai:gpt-4o`, `openai/gpt-4o`), if it has one. */
export function providerOfModel(model: string): string | undefined {
  const m = /^([^:/]+)[:/]/.exec(model);
  return m?.[1];
}
