// The catalog the gateway resolves against: built-in providers (with operator base-URL overrides applied)
// and their models, indexed once so every lookup per request is a Map get. Prices become integers here.
import type { CatalogModel, CatalogPricing, CatalogProvider, PriceMicro, SurfaceSpec } from './types.ts';
import { builtinProviders } from './providers.ts';
import { usdPerMillionToMicro } from '../domain/money.ts';

export interface Catalog {
  readonly providers: readonly CatalogProvider[];
  provider(id: string): CatalogProvider | undefined;
  /** A provider's model by id or `author/id`, case-insensitive. */
  model(providerId: string, modelId: string): CatalogModel | undefined;
  /** A bare model name (or `author/name` id) → the provider that serves it by default, case-insensitive. */
  findModel(name: string): { provider: CatalogProvider; model: CatalogModel } | undefined;
  /** Every name findModel accepts (lower-case), for "did you mean" suggestions. */
  readonly modelNames: readonly string[];
}

/** The lower-cased names a model answers to: its id and, when the id has no slash, `author/id`. */
export function modelNames(model: CatalogModel, providerId: string): string[] {
  const id = model.id.toLowerCase();
  if (id.includes('/')) return [id];
  return [id, `${(model.authorId ?? providerId).toLowerCase()}/${id}`];
}

/**
 * The provider's own OpenAI-style chat completions API, one that honours what it is asked (not a compatibility layer
 * over another API, which may ignore `response_format`): what the Firewall's decision model is called on.
 */
export function ownChatSurface(provider: Pick<CatalogProvider, 'surfaces'>): SurfaceSpec | undefined {
  return provider.surfaces.find((s) => s.format === 'openai' && s.surface === 'chat-completions' && !s.compatibility);
}

/** Whether the provider made the model (OpenAI's gpt-4o) rather than resells it (OpenRouter's `openai/gpt-4o`). */
export function servesOwnModel(provider: CatalogProvider, model: CatalogModel): boolean {
  return (model.authorId ?? provider.id) === provider.id;
}

function tokenPrices(p: Omit<CatalogPricing, 'longContext' | 'webSearchPerThousand' | 'webSearchPreviewPerThousand' | 'peak' | 'audio' | 'image' | 'audioPerMinute'>): PriceMicro {
  const out: PriceMicro = { input: usdPerMillionToMicro(p.input), output: usdPerMillionToMicro(p.output) };
  if (p.cacheRead !== undefined) out.cacheRead = usdPerMillionToMicro(p.cacheRead);
  if (p.cacheWrite !== undefined) out.cacheWrite = usdPerMillionToMicro(p.cacheWrite);
  if (p.cacheWriteLong !== undefined) out.cacheWriteLong = usdPerMillionToMicro(p.cacheWriteLong);
  return out;
}

/** Per-search prices, which no tier changes: the same in a long-context or peak-hour price. */
function searchPrices(from: PriceMicro, to: PriceMicro): PriceMicro {
  if (from.webSearchPico !== undefined) to.webSearchPico = from.webSearchPico;
  if (from.webSearchPreviewPico !== undefined) to.webSearchPreviewPico = from.webSearchPreviewPico;
  return to;
}

function priceMicro(model: CatalogModel): PriceMicro | undefined {
  const p = model.pricing;
  if (!p) return undefined;
  const out = tokenPrices(p);
  // USD per 1,000 → pico-USD per search: micro-USD per million (the token conversion) × 1,000.
  if (p.webSearchPerThousand !== undefined) out.webSearchPico = usdPerMillionToMicro(p.webSearchPerThousand) * 1000n;
  if (p.webSearchPreviewPerThousand !== undefined) out.webSearchPreviewPico = usdPerMillionToMicro(p.webSearchPreviewPerThousand) * 1000n;
  if (p.audio) out.audio = tokenPrices(p.audio);
  // USD per minute → pico-USD per minute: micro-USD (the token conversion) × 1,000,000.
  if (p.audioPerMinute !== undefined) out.audioMinutePico = usdPerMillionToMicro(p.audioPerMinute) * 1_000_000n;
  // Image tokens are input only: an output price of 0 is never applied.
  if (p.image) out.image = tokenPrices({ ...p.image, output: '0' });
  if (p.longContext) out.longContext = { above: p.longContext.above, price: searchPrices(out, tokenPrices(p.longContext)) };
  if (p.peak) {
    const hours = Array.from({ length: 24 }, (_, h) => p.peak!.hoursUtc.some(([from, to]) => h >= from && h < to));
    out.peak = { hours, price: searchPrices(out, tokenPrices(p.peak)) };
  }
  return out;
}

function withPrices(provider: CatalogProvider, baseUrl: string | undefined): CatalogProvider {
  const models = provider.models.map((model) => {
    const micro = priceMicro(model);
    return Object.freeze(micro ? { ...model, priceMicro: micro } : { ...model });
  });
  // An operator's base URL (a proxy, a test's loopback) stands for every endpoint of the provider: a surface on an
  // endpoint of its own (Bedrock's OpenAI-compatible one) goes under it too, at its own path.
  const surfaces = baseUrl === undefined ? provider.surfaces : provider.surfaces.map(({ baseUrl: _own, ...spec }) => spec);
  return Object.freeze({ ...provider, baseUrl: (baseUrl ?? provider.baseUrl).replace(/\/+$/, ''), surfaces, models });
}

/** `baseUrlOverrides` maps provider ids to base URLs (TOLLGATE_PROVIDER_<ID>_BASE_URL, see config.ts). */
export function createCatalog(baseUrlOverrides: Record<string, string> = {}): Catalog {
  const providers = builtinProviders.map((p) => withPrices(p, baseUrlOverrides[p.id]));
  const byId = new Map(providers.map((p) => [p.id, p]));
  const perProvider = new Map<string, Map<string, CatalogModel>>();
  const global = new Map<string, { provider: CatalogProvider; model: CatalogModel }>();
  // A name served by several providers defaults to the model's own author when that is a provider
  // (an `openai/…` id on Groq stays Groq's only if OpenAI does not list it), else to the first listing.
  const authorRank = (provider: CatalogProvider, model: CatalogModel) => (servesOwnModel(provider, model) ? 0 : 1);
  for (const provider of providers) {
    const names = new Map<string, CatalogModel>();
    const add = (name: string, model: CatalogModel) => {
      if (!names.has(name)) names.set(name, model);
      const existing = global.get(name);
      if (!existing || authorRank(provider, model) < authorRank(existing.provider, existing.model)) global.set(name, { provider, model });
    };
    for (const model of provider.models) {
      for (const name of modelNames(model, provider.id)) add(name, model);
      // A snapshot is the model under its dated id: same price and rules, that id sent upstream.
      for (const id of model.snapshots ?? []) {
        const snapshot: CatalogModel = Object.freeze({ ...model, id, snapshots: [] });
        for (const name of modelNames(snapshot, provider.id)) add(name, snapshot);
      }
    }
    perProvider.set(provider.id, names);
  }
  return {
    providers,
    modelNames: [...global.keys()],
    provider: (id) => byId.get(id),
    model: (providerId, modelId) => perProvider.get(providerId)?.get(modelId.toLowerCase()),
    findModel: (name) => global.get(name.toLowerCase()),
  };
}
