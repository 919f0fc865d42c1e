// GET /v1/models (api.ngrok.ai): every model the account can address, as ngrok publishes the list — one entry per
// model with the providers that serve it, their limits, prices and API surfaces. Built-in models are grouped by
// their `author/name` id (OpenAI's gpt-4o and OpenRouter's openai/gpt-4o are one model); the account's own
// providers' models are one entry each, addressed `provider:model`. The list is built from the catalog once per
// process; only the custom part is read per call. Decisions: docs/decisions/credits-usage-settings.md, "Models".
import type { components } from './spec-types.ts';
import { createCatalog, modelNames, servesOwnModel } from '../catalog/index.ts';
import { GATEWAY_PATHS, isListedSurface, SURFACE_PARAMS } from '../catalog/surface-params.ts';
import type { CatalogModel, CatalogProvider, PriceMicro, SurfaceSpec } from '../catalog/types.ts';
import { formatUsdExact } from '../domain/money.ts';
import type { Call, ControlDeps, HandlerTable } from './app.ts';
import { customProviderState } from '../state/custom-provider.ts';
import { customProvider, modelSurfacesOf } from '../domain/resolve.ts';

type Schemas = components['schemas'];
type Model = Schemas['AIGatewayModel'];
type ModelProvider = Schemas['AIGatewayModelProvider'];
type Rate = Schemas['AIGatewayModelPricingRate'];
type ApiFormat = Schemas['AIGatewayModelSupportedAPIFormat'];

/**
 * Token rates of one price level, from the catalog's integer prices (micro-USD per million tokens is pico-USD per
 * token, so each price per token is exact); `conditions` bound them to a range of input (a long-context tier).
 */
function tokenRates(p: PriceMicro, twoLifetimes: boolean, conditions?: Rate['conditions']): Rate[] {
  const rate = (type: string, pico: bigint, extra?: Rate['conditions']): Rate => {
    const r: Rate = { type, unit: 'token', price: formatUsdExact(pico) };
    const c = { ...conditions, ...extra };
    if (Object.keys(c).length > 0) r.conditions = c;
    return r;
  };
  const rates = [rate('prompt', p.input), rate('completion', p.output)];
  if (p.cacheRead !== undefined) rates.push(rate('input_cache_read', p.cacheRead));
  // The 5-minute lifetime is named only where an hour-long one is priced apart (Anthropic).
  if (p.cacheWrite !== undefined) rates.push(rate('input_cache_write', p.cacheWrite, twoLifetimes ? { ttl: '5m' } : undefined));
  if (p.cacheWriteLong !== undefined) rates.push(rate('input_cache_write', p.cacheWriteLong, { ttl: '1h' }));
  return rates;
}

/**
 * The rates as the catalog bills them off-peak (the contract's conditions have no time of day, so DeepSeek's
 * peak-hour prices are not listed); a long-context tier bounds both levels by input size.
 */
function rates(price: PriceMicro | undefined): Rate[] {
  if (!price) return [];
  const twoLifetimes = price.cacheWriteLong !== undefined;
  const tier = price.longContext;
  const out = tier
    ? [...tokenRates(price, twoLifetimes, { max_input_tokens: tier.above }), ...tokenRates(tier.price, twoLifetimes, { min_input_tokens: tier.above + 1 })]
    : tokenRates(price, twoLifetimes);
  if (price.webSearchPico !== undefined) out.push({ type: 'web_search', unit: 'request', price: formatUsdExact(price.webSearchPico) });
  if (price.webSearchPreviewPico !== undefined) out.push({ type: 'web_search_preview', unit: 'request', price: formatUsdExact(price.webSearchPreviewPico) });
  return out;
}

/** The listed surfaces (chat completions, Responses, Messages) with their fields, less those the model refuses. */
function apiFormats(surfaces: readonly SurfaceSpec[], refused: readonly string[]): ApiFormat[] {
  const out: ApiFormat[] = [];
  for (const s of surfaces) {
    if (!isListedSurface(s.surface)) continue;
    const params = (s.supportedParams && s.supportedParams.length > 0 ? s.supportedParams : SURFACE_PARAMS[s.surface]).filter((p) => !refused.includes(p));
    out.push({ format: s.format, name: s.surface, path: GATEWAY_PATHS[s.surface], parameters: [...new Set(params)] });
  }
  return out;
}

function modality(input: readonly string[], output: readonly string[]): Model['architecture'] {
  return { modality: `${input.join('+')}->${output.join('+')}`, input_modalities: [...input], output_modalities: [...output] };
}

function catalogEntry(provider: CatalogProvider, model: CatalogModel): ModelProvider {
  const surfaces = modelSurfacesOf(model, provider)
    .map((surface) => provider.surfaces.find((s) => s.surface === surface))
    .filter((s) => s !== undefined);
  const entry: ModelProvider = {
    model_id: `${provider.id}:${model.id}`,
    id: provider.id,
    display_name: provider.displayName,
    website_url: provider.website,
    context_length: model.contextWindow,
    // Prompt caching that bills reads but no writes is the provider's own (OpenAI, Gemini, DeepSeek, xAI);
    // Anthropic's is asked for per request (cache_control) and bills the writes.
    supports_implicit_caching: model.priceMicro?.cacheRead !== undefined && model.priceMicro.cacheWrite === undefined,
    status: 'active',
    pricing: { currency: 'USD', rates: rates(model.priceMicro) },
    supported_api_formats: apiFormats(surfaces, model.unsupportedParams ?? []),
  };
  if (model.maxOutputTokens > 0) entry.max_completion_tokens = model.maxOutputTokens;
  return entry;
}

/** Unix seconds of a catalog date (`pricesAsOf`). */
const unixSeconds = (date: string): number => Math.floor(Date.parse(`${date}T00:00:00Z`) / 1000);

/** The built-in models, grouped by `author/name`; the model's own author's listing names it (else the first). */
function catalogModels(): Model[] {
  const byId = new Map<string, { model: Model; authored: boolean }>();
  for (const provider of createCatalog().providers) {
    for (const m of provider.models) {
      const id = modelNames(m, provider.id).at(-1)!;
      const authored = servesOwnModel(provider, m);
      const entry = catalogEntry(provider, m);
      const known = byId.get(id);
      if (known) {
        known.model.providers.push(entry);
        if (authored && !known.authored) {
          Object.assign(known.model, { name: m.displayName, architecture: modality(m.inputModalities, m.outputModalities), created: unixSeconds(provider.pricesAsOf) });
          known.model.providers.unshift(known.model.providers.pop()!);
          known.authored = true;
        }
        continue;
      }
      byId.set(id, {
        authored,
        model: {
          id, name: m.displayName, created: unixSeconds(provider.pricesAsOf),
          architecture: modality(m.inputModalities, m.outputModalities),
          slug: id.slice(id.indexOf('/') + 1), object: 'model', owned_by: 'ngrok', providers: [entry],
        },
      });
    }
  }
  return [...byId.values()].map((v) => v.model);
}

let builtIn: readonly Model[] | undefined;

export function modelHandlers(deps: ControlDeps): HandlerTable {
  const { db } = deps.store;
  return {
    async ListAIGatewayModels(call: Call) {
      builtIn ??= Object.freeze(catalogModels());
      const rows = await db.selectFrom('providers').select(['id', 'providerId', 'name', 'baseUrl', 'supportedApiSurfaces', 'models', 'createdAt'])
        .where('accountId', '=', call.principal.accountId).orderBy('providerId').execute();
      const custom: Model[] = [];
      for (const row of rows) {
        const created = Math.floor(Date.parse(row.createdAt) / 1000);
        // Read as the gateway reads it (state/custom-provider.ts, resolve.ts): the same models, on the same surfaces.
        const state = customProviderState(row);
        const served = customProvider(state);
        for (const modelId of state.models) {
          const id = `${state.providerId}:${modelId}`;
          custom.push({
            id, name: modelId, created,
            // What a custom model takes is not declared anywhere: text, as every OpenAI-compatible server takes.
            architecture: modality(['text'], ['text']),
            slug: modelId, object: 'model', owned_by: 'organization_owned',
            providers: [{
              model_id: id, id: state.providerId, display_name: served.displayName, context_length: 0,
              supports_implicit_caching: false, status: 'active', pricing: { currency: 'USD', rates: [] },
              supported_api_formats: apiFormats(served.surfaces, state.modelOptions?.get(modelId)?.unsupportedParams ?? []),
            }],
          });
        }
      }
      return { object: 'list', data: [...builtIn, ...custom] };
    },
  };
}
