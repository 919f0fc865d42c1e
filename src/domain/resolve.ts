// Model resolution (gateway.md §4): the request's `model` and `models[]` become an ordered, de-duplicated
// list of (provider, upstream model, surface) candidates. Pure: reads the catalog and the account snapshot.
import type { Catalog } from '../catalog/index.ts';
import type { ApiFormat, ApiSurface, CatalogModel, CatalogProvider, DeclaredSurface, SurfaceSpec } from '../catalog/types.ts';
import type { AccountSnapshot, CustomProviderState, VirtualModelState } from '../state/types.ts';
import { TollgateError, tollgateError, type ErrorName } from './errors.ts';
import { suggestName } from './suggest.ts';
import { AUTO_MODEL } from './auto-select.ts';
import { BEDROCK_RUNTIME_SURFACES } from '../catalog/models.ts';
import { streamsAnswer } from './request-shape.ts';

export interface ResolvedProvider {
  id: string;
  displayName: string;
  baseUrl: string;
  auth: 'bearer' | 'x-api-key';
  surfaces: readonly SurfaceSpec[];
  managed: boolean;
  custom: boolean;
  /** `aigp_…` of a user-defined provider. */
  resourceId?: string;
}

export interface Candidate {
  /** The string the client sent for this candidate. */
  requested: string;
  provider: ResolvedProvider;
  /** The model's id as clients and usage name it, and the id sent upstream unless `upstreamModelId` is set. */
  modelId: string;
  displayName: string;
  /** Absent for pass-through models (known provider, uncataloged model) and custom providers. */
  catalogModel?: CatalogModel;
  /** A custom provider's model declared with a providerModelId: the id the provider knows it by. */
  upstreamModelId?: string;
  /** A custom provider's model's unsupportedParams: removed from the request (Ngrok-AIG-Removed-Params). */
  unsupportedParams?: readonly string[];
  surface: SurfaceSpec;
  /** The virtual model whose target this is, by its name when the request was resolved (usage records it). */
  virtualModel?: string;
}

export interface ResolveInput {
  model: unknown;
  models: unknown;
  format: ApiFormat;
  surface: ApiSurface;
  /**
   * Why the request cannot be translated faithfully, if it cannot (asked only when a candidate needs translating):
   * a Responses request continuing stored state
   * (`previous_response_id`, an `item_reference` this gateway did not produce), a Messages request continuing a
   * thread Anthropic holds, means nothing to another model, so only models serving its surface are candidates.
   * `model`: the catalog's entry of the candidate, when what it can be held to matters (Converse's structured output).
   */
  untranslatable?: ((surface: ApiSurface, body: Record<string, unknown>, target: ApiSurface, model?: CatalogModel) => Untranslatable | undefined) | undefined;
  /** The request body `untranslatable` reads. */
  body?: Record<string, unknown>;
}

/**
 * Why a request cannot be translated: a reason 27226 (notTranslatable) states, or a refusal of its own when the
 * client's API answers the case with an error its SDK acts on (a thread Anthropic holds: 404 `thread_not_found`).
 */
export type Untranslatable = string | { error: ErrorName; details: Record<string, string> };

/** The surfaces a user-defined provider may declare: Gemini's native one is Google's alone. */
export type CustomSurface = Exclude<DeclaredSurface, 'generate-content'>;

/** The error a request refused by `untranslatable` gets, naming the model it was refused for. */
export function refusalError(model: Pick<Candidate, 'provider' | 'modelId'>, surface: ApiSurface, reason: Untranslatable): TollgateError {
  const named = { provider: model.provider.id, model: model.modelId, surface };
  return typeof reason === 'string' ? tollgateError('notTranslatable', { ...named, reason }) : tollgateError(reason.error, { ...named, ...reason.details });
}

/** Upstream path per surface for user-defined providers (appended to their baseUrl). */
export const CUSTOM_SURFACE_PATHS: Readonly<Record<CustomSurface, string>> = {
  'chat-completions': '/chat/completions',
  responses: '/responses',
  completions: '/completions',
  embeddings: '/embeddings',
  messages: '/messages',
};


/**
 * `skipped`, when given, receives the requested names dropped because they name no model this gateway knows or
 * do not serve this surface. Any one of them is skipped as long as another candidate is left (gateway.md §4: try
 * `model`, then `models[]` in order); with none left, the first one's error is the request's.
 */
export function resolveCandidates(input: ResolveInput, catalog: Catalog, account: AccountSnapshot, skipped?: string[]): Candidate[] {
  const names = expandVirtual(requestedNames(input.model, input.models, input.format, input.surface), account);
  const candidates: Candidate[] = [];
  // One name (the usual request) cannot repeat itself: no set, no key, for it.
  const seen = names.length > 1 ? new Set<string>() : undefined;
  let firstProblem: TollgateError | undefined;
  for (const entry of names) {
    const name = typeof entry === 'string' ? entry : entry.name;
    const virtualModel = typeof entry === 'string' ? undefined : entry.virtualModel;
    let resolved: Resolved;
    try {
      // Automatic selection is a virtual model's only target when it is one (the pipeline takes it as `model`).
      if (name.toLowerCase() === AUTO_MODEL) throw autoTargetRefusal(virtualModel ?? name, input.format, input.surface);
      resolved = resolveName(name, catalog, account);
      // A realtime session is relayed to a built-in provider's own WebSocket API, which no custom provider declares.
      if (input.surface === 'realtime' && resolved.provider.custom) throw tollgateError('realtimeCustomProviderUnsupported', { provider: resolved.provider.id });
      if (virtualModel !== undefined) resolved.virtualModel = virtualModel;
    } catch (error) {
      if (!(error instanceof TollgateError)) throw error;
      firstProblem ??= error;
      skipped?.push(name);
      continue;
    }
    if (seen) {
      const key = `${resolved.provider.id}\u0000${resolved.modelId.toLowerCase()}`;
      if (seen.has(key)) continue;
      seen.add(key);
    }
    const native = surfaceOf(resolved.provider, input.format, input.surface);
    const modelSurfaces = modelSurfacesFor(resolved);
    let servedNatively = nativeSurface(resolved.provider, modelSurfaces, input.format, input.surface);
    // A compatibility layer that would ignore what the request asks (Anthropic's OpenAI endpoint ignores
    // `response_format`) gives way to the provider's own API, through translation, when the request translates.
    if (servedNatively?.compatibility && input.body && asksWhatLayersIgnore(input.body)) {
      const own = translatedSurface(resolved.provider, modelSurfaces, input.format, input.surface, resolved.modelId);
      if (own && !own.compatibility && input.untranslatable?.(input.surface, input.body, own.surface, resolved.catalogModel) === undefined) servedNatively = undefined;
    }
    const translated = servedNatively ? undefined : streamingTwin(translatedSurface(resolved.provider, modelSurfaces, input.format, input.surface, resolved.modelId), resolved.provider, input.body, input.surface);
    const reason = translated && input.body ? input.untranslatable?.(input.surface, input.body, translated.surface, resolved.catalogModel) : undefined;
    if (reason !== undefined) {
      firstProblem ??= refusalError(resolved, input.surface, reason);
      skipped?.push(name);
      continue;
    }
    const served = servedNatively ?? translated;
    if (!served) {
      // Whether the provider serves the surface, only not with that model. Gemini's native API is reached by no
      // translation: ngrok answers a model that does not speak it with 3813, naming the format.
      firstProblem ??= input.format === 'gemini' ? tollgateError('noCompatibleModels', { format: input.format, provider: resolved.provider.id, model: resolved.modelId })
        : tollgateError(native !== undefined ? 'modelLacksSurface' : 'providerLacksSurface', { provider: resolved.provider.id, model: resolved.modelId, surface: input.surface });
      skipped?.push(name);
      continue;
    }
    candidates.push({ ...resolved, surface: served });
  }
  if (candidates.length === 0 && firstProblem) throw firstProblem;
  return candidates;
}

/**
 * Surfaces a request may be translated to when its model does not serve the client's (ngrok's "any model, any SDK"):
 * the gateway translates only when it has to, so a native surface always wins. See docs/decisions/translation.md.
 */
const TRANSLATED_TO: Partial<Record<ApiSurface, readonly { format: ApiFormat; surface: ApiSurface }[]>> = {
  // Claude on Bedrock takes Anthropic's Messages body on InvokeModel (ngrok's Bedrock page); Bedrock's models served
  // on Converse alone (Nova, Llama) are reached through Converse (translate/messages-via-converse.ts).
  messages: [{ format: 'openai', surface: 'chat-completions' }, { format: 'bedrock', surface: 'invoke' }, { format: 'bedrock', surface: 'converse' }],
  // Through chat completions when the provider serves them: Messages is reached through chat (two halves), and
  // Claude on Bedrock (and Bedrock's Converse-only models) through Messages, as Messages requests reach them.
  responses: [{ format: 'openai', surface: 'chat-completions' }, { format: 'anthropic', surface: 'messages' }, { format: 'bedrock', surface: 'invoke' }, { format: 'bedrock', surface: 'converse' }],
  'chat-completions': [{ format: 'anthropic', surface: 'messages' }, { format: 'bedrock', surface: 'invoke' }, { format: 'bedrock', surface: 'converse' }],
  // Gemini's GenerateContent reaches GPT models over chat completions and Claude over Messages (through chat).
  'generate-content': [{ format: 'openai', surface: 'chat-completions' }, { format: 'anthropic', surface: 'messages' }, { format: 'bedrock', surface: 'invoke' }, { format: 'bedrock', surface: 'converse' }],
  'stream-generate-content': [{ format: 'openai', surface: 'chat-completions' }, { format: 'anthropic', surface: 'messages' }, { format: 'bedrock', surface: 'invoke' }, { format: 'bedrock', surface: 'converse' }],
  // Bedrock's Converse reaches Claude over Messages and GPT models through Messages and chat (two halves).
  converse: [{ format: 'anthropic', surface: 'messages' }, { format: 'openai', surface: 'chat-completions' }],
  'converse-stream': [{ format: 'anthropic', surface: 'messages' }, { format: 'openai', surface: 'chat-completions' }],
};

/**
 * Gemini's `:countTokens` and Bedrock's CountTokens on Claude at Anthropic: Anthropic's own token counting (its
 * count_tokens), the request translated as GenerateContent (Converse) is to Messages. A model only chat completions
 * reach has no count of its own: the gateway counts for it (pipeline.ts). Anthropic's count_tokens is the client's own
 * surface, served natively, so it has no entry; Bedrock's models count on Bedrock's own CountTokens.
 */
const COUNT_TO: readonly { format: ApiFormat; surface: ApiSurface }[] = [{ format: 'anthropic', surface: 'count-tokens' }];

/**
 * Gemini's embeddings (`:batchEmbedContents`, `:embedContent`) on an OpenAI-format embedding model: its
 * `/v1/embeddings`. Keyed by format, as OpenAI's own `/v1/embeddings` is the same surface and is never translated.
 */
const GEMINI_EMBED_TO: readonly { format: ApiFormat; surface: ApiSurface }[] = [{ format: 'openai', surface: 'embeddings' }];

/** Where a request of `format` and `surface` may be translated to, in order of preference. */
function translationTargets(format: ApiFormat, surface: ApiSurface): readonly { format: ApiFormat; surface: ApiSurface }[] {
  // Gemini's `:countTokens` and Bedrock's CountTokens count on Anthropic's count_tokens (Anthropic's own is native).
  if (surface === 'count-tokens') return format !== 'anthropic' ? COUNT_TO : [];
  if (format === 'gemini' && (surface === 'embeddings' || surface === 'embed-content')) return GEMINI_EMBED_TO;
  return TRANSLATED_TO[surface] ?? [];
}

/**
 * Bedrock streams by operation, not by a body field: a translated request whose answer streams (`stream: true` where
 * the body says it, Gemini's streaming path) goes to InvokeModel's twin, `/invoke-with-response-stream`. A Gemini
 * generateContent body's `stream` says nothing (its path does): taken for a stream, the answer came as event-stream
 * frames where JSON was awaited, a 503.
 */
function streamingTwin(spec: SurfaceSpec | undefined, provider: ResolvedProvider, body: Record<string, unknown> | undefined, surface: ApiSurface): SurfaceSpec | undefined {
  if ((spec?.surface !== 'invoke' && spec?.surface !== 'converse') || spec.format !== 'bedrock' || !streamsAnswer(body, surface)) return spec;
  return surfaceOf(provider, 'bedrock', spec.surface === 'invoke' ? 'invoke-stream' : 'converse-stream') ?? spec;
}

/**
 * Structured output (`response_format` json_schema or json_object) and reasoning (`reasoning_effort` other than
 * `none`), which a provider's compatibility layer ignores: Anthropic's OpenAI endpoint neither thinks for
 * `reasoning_effort` nor returns Claude's thinking.
 */
function asksWhatLayersIgnore(body: Record<string, unknown>): boolean {
  if (typeof body.reasoning_effort === 'string' && body.reasoning_effort !== 'none') return true;
  const format = body.response_format;
  if (typeof format !== 'object' || format === null) return false;
  const type = (format as Record<string, unknown>).type;
  return type === 'json_schema' || type === 'json_object';
}

/** The provider's spec for the client's own surface, when the model serves that surface. */
function nativeSurface(provider: ResolvedProvider, modelSurfaces: readonly ApiSurface[] | undefined, format: ApiFormat, surface: ApiSurface): SurfaceSpec | undefined {
  const native = surfaceOf(provider, format, surface);
  return native && (!modelSurfaces || modelSurfaces.includes(hostSurface(format, surface))) ? native : undefined;
}

/** The surfaces a model serves: its catalog entry's, an uncatalogued Bedrock id's by its family, else any. */
function modelSurfacesFor(model: Pick<Candidate, 'provider' | 'catalogModel' | 'modelId'>): readonly ApiSurface[] | undefined {
  if (model.catalogModel) return modelSurfacesOf(model.catalogModel, model.provider);
  return model.provider.id === 'bedrock' && !model.provider.custom ? uncataloguedBedrockSurfaces(model.modelId) : undefined;
}

/**
 * Whether a request of `format` and `surface` naming the model reaches it, natively or by translation — whatever its
 * body asks (a body may still be refused: `untranslatable`). What the model lists say a model serves (models-wire.ts).
 */
export function servesSurface(model: Pick<Candidate, 'provider' | 'catalogModel' | 'modelId'>, format: ApiFormat, surface: ApiSurface): boolean {
  const modelSurfaces = modelSurfacesFor(model);
  return (nativeSurface(model.provider, modelSurfaces, format, surface) ?? translatedSurface(model.provider, modelSurfaces, format, surface, model.modelId)) !== undefined;
}

/**
 * Whether a Bedrock model takes Claude's Messages body on InvokeModel: Claude does (`anthropic.…`, a profile's
 * `us.anthropic.…`, an ARN whose id says nothing of its model: an application profile is Claude's as often as not, and
 * was sent there before Converse was a target); Bedrock's other models take bodies of their own there, and are
 * reached through Converse — a foundation model's or a system profile's ARN among them, its id read.
 */
function takesClaudeBody(modelId: string): boolean {
  const named = NAMED_ARN.exec(modelId)?.[1];
  return named !== undefined ? CLAUDE_ON_BEDROCK.test(named) : modelId.startsWith('arn:') || CLAUDE_ON_BEDROCK.test(modelId);
}

/** The ARN of a foundation model or of a system-defined inference profile, which ends in the model's (or profile's) id. */
const NAMED_ARN = /^arn:[^:]+:bedrock:[^:]*:[^:]*:(?:foundation-model|inference-profile)\/(.+)$/;

/** A geographic profile's prefix is any region group's, GovCloud's `us-gov.` included. */
const CLAUDE_ON_BEDROCK = /^(?:[a-z-]+\.)?anthropic\./i;

/** The surface a translated request goes to: the first target the model serves, a compatibility layer last. */
function translatedSurface(provider: ResolvedProvider, modelSurfaces: readonly ApiSurface[] | undefined, format: ApiFormat, surface: ApiSurface, modelId: string): SurfaceSpec | undefined {
  let layer: SurfaceSpec | undefined;
  for (const target of translationTargets(format, surface)) {
    if (modelSurfaces && !modelSurfaces.includes(hostSurface(target.format, target.surface))) continue;
    if (target.format === 'bedrock' && target.surface === 'invoke' && !takesClaudeBody(modelId)) continue;
    const spec = surfaceOf(provider, target.format, target.surface);
    if (spec && !spec.compatibility) return spec;
    layer ??= spec;
  }
  return layer;
}

/**
 * The surface a provider or model must declare to serve `surface`: token counting rides on Messages (on Gemini's
 * GenerateContent for Gemini's `:countTokens`, on Converse for Bedrock's CountTokens), Gemini's streaming and Interactions on its GenerateContent: a model
 * Google serves one with is served the others (an embedding model, serving none, gets 3813).
 */
function hostSurface(format: ApiFormat, surface: ApiSurface): ApiSurface {
  // Bedrock's CountTokens is served for whatever model Converse is (`/model/{id}/count-tokens` beside it).
  if (surface === 'count-tokens') return format === 'gemini' ? 'generate-content' : format === 'bedrock' ? 'converse' : 'messages';
  // Gemini's single `:embedContent` is served by whatever serves its `:batchEmbedContents`.
  if (surface === 'embed-content') return 'embeddings';
  return surface === 'stream-generate-content' || surface === 'interactions' ? 'generate-content' : surface;
}

/** The path of a surface riding on its host's, from the host's. */
function ridingPath(surface: ApiSurface, hostPath: string): string {
  // Gemini's methods sit beside `:generateContent`; it streams as SSE only with `alt=sse` (a JSON array otherwise),
  // which the gateway meters and relays.
  // Interactions name the model in the body, at the API version's `/interactions` (`…/v1beta/interactions`).
  if (surface === 'interactions') return hostPath.replace(/\/models\/\{model\}:generateContent$/, '/interactions');
  if (surface === 'embed-content') return hostPath.replace(/:batchEmbedContents$/, ':embedContent');
  if (hostPath.endsWith('/converse')) return `${hostPath.slice(0, -'/converse'.length)}/count-tokens`;
  if (hostPath.endsWith(':generateContent')) return hostPath.replace(/:generateContent$/, surface === 'count-tokens' ? ':countTokens' : ':streamGenerateContent?alt=sse');
  return `${hostPath}/count_tokens`;
}

/** Per host spec, the specs riding on it (Gemini's GenerateContent carries streaming, token counting and Interactions). */
const ridingSpecs = new WeakMap<SurfaceSpec, Map<ApiSurface, SurfaceSpec>>();

/**
 * The provider's spec for `surface`. Token counting is served by every provider (and model) serving Messages,
 * at that surface's path + `/count_tokens` — Anthropic's layout, which Anthropic-compatible servers copy — with
 * the same parameter allowlist, so a custom provider needs no declaration of its own. Gemini's streaming and token
 * counting are served wherever its GenerateContent is, at Google's `:streamGenerateContent` and `:countTokens` beside it;
 * its single `:embedContent` wherever its `:batchEmbedContents` is.
 */
function surfaceOf(provider: ResolvedProvider, format: ApiFormat, surface: ApiSurface): SurfaceSpec | undefined {
  const host = hostSurface(format, surface);
  const spec = provider.surfaces.find((s) => s.surface === host && s.format === format);
  if (!spec || host === surface) return spec;
  let byHost = ridingSpecs.get(spec);
  if (!byHost) {
    byHost = new Map();
    ridingSpecs.set(spec, byHost);
  }
  let riding = byHost.get(surface);
  if (!riding) {
    riding = Object.freeze({ ...spec, surface, path: ridingPath(surface, spec.path) });
    byHost.set(surface, riding);
  }
  return riding;
}

/** The account's virtual model `name` names (case-insensitively), if any. */
export function virtualModelNamed(account: Pick<AccountSnapshot, 'virtualModels'>, name: unknown): VirtualModelState | undefined {
  // An account without virtual models (most) pays no lower-casing of the name on each request.
  return typeof name === 'string' && account.virtualModels.size > 0 ? account.virtualModels.get(name.toLowerCase()) : undefined;
}

/**
 * Each virtual model's name replaced by its targets, in place and in order (gateway.md §4), each remembering the
 * name it came from; other names stay. Targets are never virtual models themselves (the control plane refuses
 * nesting), so one pass expands all.
 */
/** A virtual model's target, with the virtual model the request named. */
interface VirtualTarget { name: string; virtualModel: string }

/** The names as requested, each virtual model replaced by its targets; `names` itself for an account with none. */
function expandVirtual(names: readonly string[], account: AccountSnapshot): readonly (string | VirtualTarget)[] {
  if (account.virtualModels.size === 0) return names;
  return names.flatMap((name): (string | VirtualTarget)[] => {
    const virtual = virtualModelNamed(account, name);
    return virtual ? virtual.targets.map((target) => ({ name: target, virtualModel: virtual.name })) : [name];
  });
}

/**
 * Whether the request's model is its path's: Gemini's native calls (`/v1beta/models/{model}:generateContent`, its
 * stream, the embeddings), which have no `models` fallbacks and no automatic selection (gateway-behaviour.md, "Gemini
 * native API"); Interactions name theirs in the body, as the other APIs do. Token counting (`:countTokens`) is told
 * what any count is told: automatic selection counts for no model.
 */
function modelInPath(format: ApiFormat, surface: ApiSurface): boolean {
  return format === 'gemini' && surface !== 'interactions' && surface !== 'count-tokens';
}

/** Why automatic selection is not served where a Gemini call names its model in the path, naming a model that is. */
function noAutoInPath(surface: ApiSurface): string {
  const example = surface === 'embeddings' || surface === 'embed-content' ? 'gemini-embedding-001' : 'gemini-2.5-flash';
  return `is not served on Gemini's native API (/v1beta/models/{model}:…): its path names the one model that answers. Name a model, such as "${example}".`;
}

/**
 * A virtual model standing for `ngrok/auto` where automatic selection cannot serve it: token counting (which, like
 * `ngrok/auto` sent as it is, counts for a named model only), a fallback in `models`, a Gemini path or a Converse path.
 */
function autoTargetRefusal(virtualModel: string, format: ApiFormat, surface: ApiSurface): TollgateError {
  if (surface === 'realtime') return tollgateError('realtimeAutoModelUnsupported');
  const why = modelInPath(format, surface) ? `which ${noAutoInPath(surface)}`
    : format === 'bedrock' ? 'which a Converse path does not serve: it names the one model that answers. Name a model, such as "gpt-4o" or "anthropic.claude-sonnet-4-6".'
    : surface === 'count-tokens' ? 'which does not count tokens: name a model.' : 'which is taken as the request\'s "model" only, not as a fallback in "models".';
  return tollgateError('badRequestBody', { reason: `virtual model "${virtualModel}" stands for "ngrok/auto" (automatic model selection), ${why}` });
}

/** `model` first, then `models[]`; validates the JSON types (ERR_NGROK_3801). */
function requestedNames(model: unknown, models: unknown, format: ApiFormat, surface: ApiSurface): readonly string[] {
  if (model !== undefined && model !== null && typeof model !== 'string') {
    throw tollgateError('badRequestBody', { reason: '"model" must be a string.' });
  }
  const fallbacks = fallbackNames(models);
  // Built at its size: an empty array grown by a push reserves room for sixteen.
  const list = typeof model !== 'string' ? fallbacks : fallbacks.length === 0 ? [model] : [model, ...fallbacks];
  // Automatic selection (auto-select.ts) is the pipeline's, for `model` on the surfaces that have it; what reaches here
  // names no model, or names ngrok/auto where it cannot be.
  if (list.length === 0) {
    // Gemini's Interactions (the one Gemini route naming its model in the body) take Google's models only.
    const examples = format === 'gemini' ? '"gemini-2.5-flash" or "google:gemini-2.5-flash"' : '"gpt-4o", "claude-sonnet-4-6" or "openai:gpt-4o"';
    throw tollgateError('badRequestBody', { reason: `"model" is required on this endpoint: name a model such as ${examples}.` });
  }
  for (const name of list) {
    if (name.toLowerCase() === AUTO_MODEL) {
      if (surface === 'realtime') throw tollgateError('realtimeAutoModelUnsupported');
      if (modelInPath(format, surface)) throw tollgateError('badRequestBody', { reason: `"ngrok/auto" (automatic model selection) ${noAutoInPath(surface)}` });
      throw tollgateError('badRequestBody', { reason: '"ngrok/auto" (automatic model selection) is taken as the request\'s "model" only, not as a fallback in "models", and not for token counting: name a model.' });
    }
  }
  return list;
}

const NO_NAMES: readonly string[] = Object.freeze([]);

/** The request's `models` fallbacks, checked (ERR_NGROK_3801): an array of strings, none of them `ngrok/auto`. */
export function fallbackNames(models: unknown): readonly string[] {
  if (models === undefined || models === null) return NO_NAMES;
  if (!(Array.isArray(models) && models.every((m) => typeof m === 'string'))) {
    throw tollgateError('badRequestBody', { reason: '"models" must be an array of strings.' });
  }
  for (const name of models) {
    if (name.toLowerCase() === AUTO_MODEL) {
      throw tollgateError('badRequestBody', { reason: '"ngrok/auto" (automatic model selection) is taken as the request\'s "model" only, not as a fallback in "models", and not for token counting: name a model.' });
    }
  }
  return models as string[];
}

type Resolved = Omit<Candidate, 'surface'>;

/**
 * The model `address` names if it is one GET /v1/models lists — catalogued (a dated snapshot included) or declared
 * by one of the account's providers — as a candidate on its provider's first surface, as the list has it (scope
 * checks need one). Undefined for any other name: unknown, or a known provider's uncatalogued model, which
 * requests pass through but the list does not show.
 */
export function resolveListedModel(address: string, catalog: Catalog, account: AccountSnapshot): Candidate | undefined {
  let resolved: Resolved;
  try {
    resolved = resolveName(address, catalog, account);
  } catch (error) {
    if (error instanceof TollgateError) return undefined;
    throw error;
  }
  if (!resolved.catalogModel && !resolved.provider.custom) return undefined;
  return { ...resolved, surface: resolved.provider.surfaces[0]! };
}

/**
 * The model a Converse call's path names (`/model/{modelId}/converse`, its stream too). Bedrock's own first: an id
 * written `bedrock:…`, one Bedrock's catalog has, and any id that names no other model this account reaches (an
 * uncatalogued Bedrock model, an inference profile's ARN) stay Bedrock's and pass through to it, as before. An id
 * naming another model as a body's `model` would (`gpt-4o`, `claude-sonnet-4-5`, `openai:gpt-4o`, a custom
 * provider's model) is that model, reached by translation (ngrok's "any model, any SDK"). Bedrock's ids cannot be
 * mistaken for one: they carry their vendor (`anthropic.…`, `us.amazon.…`), and the part before their `:` names no
 * provider. The account's virtual model comes before all of these, as for a body's `model` (its name stays, and
 * resolveCandidates replaces it by its targets): a name that is one must not reach Bedrock as a model id, whatever
 * Bedrock's catalog gains later. InvokeModel's body is the model's own and is never translated: its path stays
 * Bedrock's (`bedrock:<id>`).
 */
export function converseAddress(modelId: string, catalog: Catalog, account: OwnProviders & Pick<AccountSnapshot, 'virtualModels'>): string {
  if (virtualModelNamed(account, modelId)) return modelId;
  if (modelId.startsWith('bedrock:')) return modelId;
  const bedrock = `bedrock:${modelId}`;
  if (catalog.model('bedrock', modelId)) return bedrock;
  try {
    return resolveName(modelId, catalog, account).provider.id === 'bedrock' ? bedrock : modelId;
  } catch (error) {
    if (error instanceof TollgateError) return bedrock;
    throw error;
  }
}

/**
 * Whether `address` names a model a request could use: what resolution accepts (a catalogued model, a built-in
 * provider's pass-through model, a model declared by one of `account`'s own providers). Virtual models are not
 * looked at. The control plane checks virtual-model targets with it.
 */
export function isModelAddress(address: string, catalog: Catalog, account: OwnProviders): boolean {
  try {
    resolveName(address, catalog, account);
    return true;
  } catch (error) {
    if (error instanceof TollgateError) return false;
    throw error;
  }
}

/** What resolving a name reads of the account: its own providers. */
type OwnProviders = Pick<AccountSnapshot, 'customProviders'>;

function resolveName(address: string, catalog: Catalog, account: OwnProviders): Resolved {
  if (address === '' || /[\s\u0000-\u001f\u007f]/.test(address)) throw tollgateError('invalidModelAddress', { address });
  const colon = address.indexOf(':');
  if (colon < 0) return resolveBare(address, catalog, account);
  const prefix = address.slice(0, colon);
  const rest = address.slice(colon + 1);
  if (prefix === '' || rest === '') throw tollgateError('invalidModelAddress', { address });
  const builtin = catalog.provider(prefix);
  if (builtin) {
    const model = catalog.model(prefix, rest);
    // A model id is a whole path segment of some providers' URLs (Bedrock's `/model/{id}/invoke`): `.` and `..` would
    // be dot segments there, which a server resolves to another path (`/model/../invoke` is `/invoke`). No model is named so.
    if (!model && (rest === '.' || rest === '..')) throw tollgateError('invalidModelAddress', { address });
    // Known provider, uncataloged model: passed through as-is; the provider decides whether it exists.
    return model ? fromCatalog(address, builtin, model) : { requested: address, provider: builtinProvider(builtin), modelId: rest, displayName: rest };
  }
  const custom = account.customProviders.get(prefix);
  if (custom) {
    const declared = findDeclared(custom, rest);
    if (declared === undefined) throw tollgateError('unknownModel', { model: address, suggestion: suggestion(rest, custom.models.map((m) => m.toLowerCase())) });
    return fromCustom(address, custom, declared);
  }
  // An id that itself contains `:` (none in the catalog today, but ids are data) still resolves as a bare name.
  const whole = catalog.findModel(address);
  if (whole) return fromCatalog(address, whole.provider, whole.model);
  const pinned = customAddressFor(address, account);
  if (pinned) throw tollgateError('unknownModel', { model: address, suggestion: pinned });
  if (catalog.findModel(rest) || findInCustom(rest, account)) throw tollgateError('unknownProvider', { provider: prefix, address });
  throw tollgateError('unknownModelOrProvider', { model: rest, provider: prefix, address });
}

function resolveBare(name: string, catalog: Catalog, account: OwnProviders): Resolved {
  const found = catalog.findModel(name);
  if (found) return fromCatalog(name, found.provider, found.model);
  // Convenience beyond the contract: a bare name declared by exactly one of the account's own providers.
  const custom = findInCustom(name, account);
  if (custom) return fromCustom(name, custom.provider, custom.modelId);
  if (catalog.provider(name) || account.customProviders.has(name)) throw tollgateError('invalidModelAddress', { address: name });
  const owners = [...account.customProviders.values()].filter((p) => findDeclared(p, name) !== undefined);
  if (owners.length > 1) {
    // Declared by several of the account's providers: "did you mean" the same name would not help; which one would.
    const addresses = owners.slice(0, 3).map((p) => `"${p.providerId}:${findDeclared(p, name)!}"`).join(' or ');
    throw tollgateError('unknownModel', { model: name, suggestion: ` Several of your providers declare it: name one, as ${addresses}.` });
  }
  const pinned = customAddressFor(name, account);
  if (pinned) throw tollgateError('unknownModel', { model: name, suggestion: pinned });
  const names = [...catalog.modelNames];
  for (const p of account.customProviders.values()) for (const m of p.models) names.push(m.toLowerCase());
  throw tollgateError('unknownModel', { model: name, suggestion: suggestion(name, names) || passThroughAddressFor(name, catalog) });
}

/**
 * Did-you-mean for a built-in provider's uncatalogued model written `openai/gpt-5-preview`: the slash form is a
 * catalog author id, which names no such model, while `openai:gpt-5-preview` passes it through to the provider
 * (gateway.md §4). Only when the part before the first `/` is exactly a built-in provider's id; a catalog model
 * close to the name is suggested instead (a typo of a known model is likelier than an unknown one).
 */
function passThroughAddressFor(name: string, catalog: Catalog): string {
  const slash = name.indexOf('/');
  const rest = name.slice(slash + 1);
  if (slash <= 0 || rest === '' || !catalog.provider(name.slice(0, slash))) return '';
  return ` Did you mean "${name.slice(0, slash)}:${rest}"?`;
}

/**
 * Did-you-mean for a custom provider's model written `my-ollama/llama3.2`, as the access guides write allow-list
 * entries: requests pin a provider with `:`, and an unprefixed slash id is a catalog author id (gateway.md §4), so
 * the name is not resolved, only corrected. Undefined unless the part before the first `/` is one of the
 * account's custom providers and the rest is (or is close to) a model it declares.
 */
function customAddressFor(name: string, account: OwnProviders): string | undefined {
  const slash = name.indexOf('/');
  const provider = slash > 0 ? account.customProviders.get(name.slice(0, slash)) : undefined;
  if (!provider) return undefined;
  const rest = name.slice(slash + 1);
  const model = findDeclared(provider, rest) ?? suggestName(rest.toLowerCase(), provider.models.map((m) => m.toLowerCase()));
  return model === undefined ? undefined : ` Did you mean "${provider.providerId}:${model}"?`;
}

function suggestion(name: string, names: readonly string[]): string {
  const best = suggestName(name.toLowerCase(), names);
  return best ? ` Did you mean "${best}"?` : '';
}

function findDeclared(provider: CustomProviderState, modelId: string): string | undefined {
  const lower = modelId.toLowerCase();
  return provider.models.find((m) => m.toLowerCase() === lower);
}

function findInCustom(name: string, account: OwnProviders): { provider: CustomProviderState; modelId: string } | undefined {
  let found: { provider: CustomProviderState; modelId: string } | undefined;
  for (const provider of account.customProviders.values()) {
    const modelId = findDeclared(provider, name);
    if (modelId === undefined) continue;
    if (found) return undefined; // ambiguous: the client must pin a provider
    found = { provider, modelId };
  }
  return found;
}

/**
 * An uncatalogued Bedrock model's surfaces, told by its id. Claude (`anthropic.…`, a geographic profile's
 * `us.anthropic.…`) and an ARN (an inference profile, a provisioned or imported model: Bedrock Runtime's own) are
 * Bedrock Runtime's alone, as before Bedrock's OpenAI-compatible endpoint was served: chat completions reach Claude
 * through InvokeModel, which the OpenAI-compatible endpoint does not serve. Any other id (`openai.gpt-oss-120b`,
 * `qwen.…`) may be that endpoint's too: passed through to it, its refusal relayed, as any uncatalogued model's.
 */
function uncataloguedBedrockSurfaces(modelId: string): readonly ApiSurface[] | undefined {
  return modelId.startsWith('arn:') || takesClaudeBody(modelId) || CONVERSE_ONLY.test(modelId) ? BEDROCK_RUNTIME_SURFACES : undefined;
}

/**
 * Amazon's (Nova, Titan), Meta's (Llama), Cohere's (Command R) and AI21's (Jamba) models: served on Bedrock Runtime
 * alone, not on its OpenAI-compatible endpoint (AWS's "Endpoint availability" table; that endpoint's chat completions
 * serve OpenAI's open-weight models, Mistral, NVIDIA, Qwen, Google, DeepSeek, MiniMax, Moonshot, Z.ai and Writer).
 */
const CONVERSE_ONLY = /^(?:[a-z-]+\.)?(?:amazon|meta|cohere|ai21)\./i;

/** The surfaces a catalog model is served on: its own list, else its provider's but embeddings and realtime (only realtime models speak it). */
export function modelSurfacesOf(model: CatalogModel, provider: Pick<ResolvedProvider, 'surfaces'>): readonly ApiSurface[] {
  return model.surfaces ?? provider.surfaces.map((s) => s.surface).filter((s) => s !== 'embeddings' && s !== 'realtime');
}

const builtinCache = new WeakMap<CatalogProvider, ResolvedProvider>();

export function builtinProvider(p: CatalogProvider): ResolvedProvider {
  let resolved = builtinCache.get(p);
  if (!resolved) {
    resolved = Object.freeze({ id: p.id, displayName: p.displayName, baseUrl: p.baseUrl, auth: p.auth, surfaces: p.surfaces, managed: p.managed, custom: false });
    builtinCache.set(p, resolved);
  }
  return resolved;
}

function fromCatalog(requested: string, provider: CatalogProvider, model: CatalogModel): Resolved {
  return { requested, provider: builtinProvider(provider), modelId: model.id, displayName: model.displayName, catalogModel: model };
}

const customCache = new WeakMap<CustomProviderState, ResolvedProvider>();

/** A user-defined provider as the pipeline sees it; cached per snapshot object (snapshots are immutable). */
/**
 * The URL a custom provider's surface paths go under. A bare origin (`https://my-ollama.internal`, as ngrok's own
 * guide sets up Ollama) means the API lives under `/v1`, where Ollama, vLLM, LM Studio and llama.cpp serve it; a
 * base URL with a path (`https://api.example.com/v1`, Azure's deployment path) is used as given.
 */
export function customBaseUrl(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  let url: URL;
  try { url = new URL(trimmed); } catch { return trimmed; }
  if (url.pathname !== '/' && url.pathname !== '') return trimmed;
  url.pathname = '/v1';
  return url.toString();
}

export function customProvider(p: CustomProviderState): ResolvedProvider {
  let resolved = customCache.get(p);
  if (resolved) return resolved;
  const surfaces: SurfaceSpec[] = [];
  for (const s of p.surfaces) {
    const surface = (s.surface ?? (s.format === 'anthropic' ? 'messages' : 'chat-completions')) as CustomSurface;
    if (!Object.hasOwn(CUSTOM_SURFACE_PATHS, surface)) continue;
    // The credential goes where the surface's API wants it: a provider serving Chat Completions and an
    // Anthropic-compatible Messages gets Bearer on the one and x-api-key on the other.
    const spec: SurfaceSpec = { format: s.format, surface, path: CUSTOM_SURFACE_PATHS[surface], auth: s.format === 'anthropic' ? 'x-api-key' : 'bearer' };
    if (s.supportedParams && s.supportedParams.length > 0) spec.supportedParams = s.supportedParams;
    if (s.baseUrl !== undefined) spec.baseUrl = customBaseUrl(s.baseUrl);
    surfaces.push(spec);
  }
  if (surfaces.length === 0) surfaces.push({ format: 'openai', surface: 'chat-completions', path: CUSTOM_SURFACE_PATHS['chat-completions'] });
  // The provider's own header (its declared format's, Bearer when it has both); each declared surface names its own.
  const auth = surfaces.every((s) => s.format === 'anthropic') ? 'x-api-key' : 'bearer';
  resolved = Object.freeze({
    id: p.providerId, displayName: p.name || p.providerId, baseUrl: customBaseUrl(p.baseUrl), auth, surfaces,
    managed: false, custom: true, resourceId: p.id,
  });
  customCache.set(p, resolved);
  return resolved;
}

function fromCustom(requested: string, provider: CustomProviderState, modelId: string): Resolved {
  const resolved: Resolved = { requested, provider: customProvider(provider), modelId, displayName: modelId };
  const options = provider.modelOptions?.get(modelId);
  if (options?.providerModelId !== undefined) resolved.upstreamModelId = options.providerModelId;
  if (options && options.unsupportedParams.length > 0) resolved.unsupportedParams = options.unsupportedParams;
  return resolved;
}
