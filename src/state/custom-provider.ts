// A user-defined provider as stored (its row's JSON columns) → as the gateway serves it. Lenient on purpose: a
// stored entry that is not one the API writes (an older shape, plain strings, hand-edited rows) is read where it
// can be and skipped where it cannot, never failing the account. The control plane's model list reads providers
// the same way, so it lists exactly what the gateway serves.
import type { ApiFormat } from '../catalog/types.ts';
import type { ProvidersTable } from '../store/schema.ts';
import type { CustomModelOptions, CustomProviderState, CustomSurfaceState } from './types.ts';

type ProviderRow = Pick<ProvidersTable, 'id' | 'providerId' | 'name' | 'baseUrl' | 'supportedApiSurfaces' | 'models'>;

export function customProviderState(row: ProviderRow): CustomProviderState {
  return {
    id: row.id, providerId: row.providerId, name: row.name, baseUrl: row.baseUrl,
    surfaces: parseSurfaces(row.supportedApiSurfaces), ...parseModels(row.models),
  };
}

/** A stored JSON column; NULL or empty is null. */
export function parseJson(text: string | null): unknown {
  return text === null || text === '' ? null : JSON.parse(text);
}

function parseSurfaces(text: string | null): CustomSurfaceState[] {
  const raw = parseJson(text);
  if (!Array.isArray(raw)) return [];
  const out: CustomSurfaceState[] = [];
  for (const item of raw as unknown[]) {
    if (typeof item !== 'object' || item === null) continue;
    const s = item as { format?: unknown; surface?: unknown; supportedParams?: unknown; baseUrl?: unknown };
    if (s.format !== 'openai' && s.format !== 'anthropic') continue;
    const surface: CustomSurfaceState = { format: s.format as ApiFormat };
    if (typeof s.surface === 'string') surface.surface = s.surface;
    if (typeof s.baseUrl === 'string' && s.baseUrl !== '') surface.baseUrl = s.baseUrl;
    if (Array.isArray(s.supportedParams)) {
      // Stored as the contract's [{name}]; plain strings are accepted too.
      surface.supportedParams = (s.supportedParams as unknown[])
        .map((p) => (typeof p === 'string' ? p : typeof p === 'object' && p !== null ? (p as { name?: unknown }).name : undefined))
        .filter((p): p is string => typeof p === 'string');
    }
    out.push(surface);
  }
  return out;
}

/** A custom provider's declared model ids (plain strings are accepted too) and, for those that have them, their options. */
function parseModels(text: string): Pick<CustomProviderState, 'models' | 'modelOptions'> {
  const raw = parseJson(text);
  const models: string[] = [];
  let options: Map<string, CustomModelOptions> | undefined;
  if (!Array.isArray(raw)) return { models };
  for (const m of raw as unknown[]) {
    if (typeof m === 'string') { models.push(m); continue; }
    if (typeof m !== 'object' || m === null) continue;
    const { modelId, providerModelId, unsupportedParams } = m as { modelId?: unknown; providerModelId?: unknown; unsupportedParams?: unknown };
    if (typeof modelId !== 'string') continue;
    models.push(modelId);
    const params = Array.isArray(unsupportedParams) ? unsupportedParams.filter((p): p is string => typeof p === 'string') : [];
    const upstream = typeof providerModelId === 'string' && providerModelId !== '' ? providerModelId : undefined;
    if (upstream === undefined && params.length === 0) continue;
    (options ??= new Map()).set(modelId, upstream === undefined ? { unsupportedParams: params } : { providerModelId: upstream, unsupportedParams: params });
  }
  return options ? { models, modelOptions: options } : { models };
}
